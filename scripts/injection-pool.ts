/**
 * Benign windows of ordinary repository files for the injection classifier: the READMEs, changelogs and source
 * files of the npm packages this repository installs (node_modules, pinned by package-lock.json). A coding agent
 * sends exactly this kind of text, whole files of it, and the public corpora hold little of it: before it was
 * trained on, the classifier flagged about 6 % of these files (a README's `s.update(...)` example scored 0.95).
 *
 * Packages are split by a hash of their name: one in five is held out and only measured (`pool_heldout` in
 * model-metrics.json), so the figure says how the model does on packages it never saw. Windows are the runtime's
 * own 2,048 characters, cut without overlap and capped per file and per package so that no big package dominates.
 * Deterministic for a given lockfile: files are listed in sorted order and nothing depends on time.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface PoolWindow {
  package: string;
  /** Absolute path. */
  file: string;
  text: string;
}

export interface PoolOptions {
  window: number;
  /** Windows taken from one file at most (spread evenly over it). */
  perFile: number;
  /** Windows taken from one package at most. */
  perPackage: number;
  /**
   * A Python standard library to add (e.g. /usr/lib/python3.11), whose modules count as packages. npm packages hold
   * almost no Python, and before it was added the classifier flagged 3.5 % of the standard library's files.
   */
  pythonDir?: string;
}

const DOC = /\.(md|markdown|txt|rst)$/i;
const CODE = /\.(js|mjs|cjs|ts|mts|cts|py)$/i;
/** Bundled, minified or generated files: one line of thousands of characters says nothing about how people write. */
const MAX_MEAN_LINE = 200;
const MAX_FILE_BYTES = 512 * 1024;

/** An npm package (the innermost node_modules entry), or a Python library's top-level module. */
function packageOf(path: string, pythonDir: string | undefined): string {
  if (pythonDir !== undefined && path.startsWith(pythonDir + sep)) return `python:${relative(pythonDir, path).split(sep)[0]!.replace(/\.py$/, '')}`;
  const parts = path.split(sep);
  const at = parts.lastIndexOf('node_modules');
  const name = parts[at + 1] ?? '';
  return name.startsWith('@') ? `${name}/${parts[at + 2] ?? ''}` : name;
}

function listFiles(dir: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const name of names) {
    if (name === '.bin' || name === '.cache' || name === '.vite' || name === '.package-lock.json' || name === '__pycache__' || name === 'site-packages' || name === 'dist-packages') continue;
    const path = join(dir, name);
    let st;
    try {
      st = statSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory()) listFiles(path, out);
    else if (st.isFile() && st.size >= 512 && st.size <= MAX_FILE_BYTES && (DOC.test(name) || CODE.test(name))) out.push(path);
  }
}

/** Whether a package is held out (measured, never trained on): one in five, by a hash of its name. */
export function isHeldOutPackage(name: string): boolean {
  return createHash('sha256').update(name).digest()[0]! % 5 === 0;
}

/** The pool's windows, in a stable order, with their package. */
export function poolWindows(root: string, options: PoolOptions): PoolWindow[] {
  const files: string[] = [];
  listFiles(join(root, 'node_modules'), files);
  if (options.pythonDir !== undefined) listFiles(options.pythonDir, files);
  const perPackage = new Map<string, number>();
  const out: PoolWindow[] = [];
  for (const path of files) {
    const pkg = packageOf(path, options.pythonDir);
    const taken = perPackage.get(pkg) ?? 0;
    if (taken >= options.perPackage) continue;
    const text = readFileSync(path, 'utf8');
    const lines = text.split('\n').length;
    if (text.length / lines > MAX_MEAN_LINE || text.includes('\u0000')) continue;
    const count = Math.min(options.perFile, options.perPackage - taken, Math.max(1, Math.floor(text.length / options.window)));
    const step = Math.max(options.window, Math.floor(text.length / count));
    for (let k = 0; k < count; k++) {
      const slice = text.slice(k * step, k * step + options.window);
      if (slice.trim().length < 200) continue;
      out.push({ package: pkg, file: path, text: slice });
    }
    perPackage.set(pkg, taken + count);
  }
  return out;
}
