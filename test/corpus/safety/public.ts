/**
 * Benign coding material that is not ours to copy, read where it lies when the test runs: the documentation,
 * scripts and source of the packages in node_modules (installed from the lockfile, so the same files on every
 * machine), this repository's own docs, source and tests, and, when `../shared/corpora` is beside the
 * repository, the benign side of its injection training set (coding requests, security discussion, agent rules,
 * commit messages, code windows). README.md beside this file lists the sources and their licences.
 *
 * A unit is what an agent would send as one piece: a file, or a piece of at most UNIT_CHARS of a longer file cut
 * at a blank line (a whole 200 KB bundle is not one decision).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export interface Unit {
  id: string;
  text: string;
}

export interface Group {
  name: string;
  units: Unit[];
}

const UNIT_CHARS = 8_000;
/** Larger files are generated bundles or data tables, not what an agent edits. */
const MAX_FILE = 512 * 1024;

/** Cuts a file into pieces of at most UNIT_CHARS, at blank lines where it can. */
export function cut(id: string, text: string): Unit[] {
  if (text.length <= UNIT_CHARS) return text.trim() === '' ? [] : [{ id, text }];
  const out: Unit[] = [];
  let from = 0;
  while (from < text.length) {
    let to = Math.min(text.length, from + UNIT_CHARS);
    if (to < text.length) {
      const blank = text.lastIndexOf('\n\n', to);
      if (blank > from + UNIT_CHARS / 2) to = blank + 1;
    }
    const piece = text.slice(from, to);
    if (piece.trim() !== '') out.push({ id: `${id}#${out.length}`, text: piece });
    from = to;
  }
  return out;
}

/** Files under `dir` (following no symlinks below it), sorted, whose name passes `keep`. */
function walk(dir: string, keep: (name: string) => boolean, skipDir: (name: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const visit = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) {
        if (!skipDir(n)) visit(p);
      } else if (st.isFile() && st.size <= MAX_FILE && keep(n)) out.push(p);
    }
  };
  visit(dir);
  return out;
}

function filesAsUnits(root: string, files: string[]): Unit[] {
  return files.flatMap((f) => cut(relative(root, f).split(sep).join('/'), readFileSync(f, 'utf8')));
}

const isDoc = (n: string): boolean => /\.(?:md|markdown|txt)$/i.test(n) && !/^licen[cs]e/i.test(n);
const isScript = (n: string): boolean => /\.(?:sh|bash|ya?ml|sql|dockerfile)$/i.test(n) || n === 'Dockerfile' || n === 'Makefile';
const isCode = (n: string): boolean => /\.(?:[cm]?js|[cm]?ts|tsx|jsx)$/.test(n) && !/\.min\.js$/.test(n);

/** Groups from node_modules: docs, scripts and config, and source (every Nth source file, for time). */
export function nodeModulesGroups(repo: string, codeStride = 4): Group[] {
  const nm = join(repo, 'node_modules');
  if (!existsSync(nm)) return [];
  const skip = (n: string): boolean => n === '.bin' || n === '.cache' || n === '.vite-temp' || n === '.vite';
  const code = walk(nm, isCode, skip).filter((_, i) => i % codeStride === 0);
  return [
    { name: 'node_modules docs (READMEs, guides, changelogs)', units: filesAsUnits(nm, walk(nm, isDoc, skip)) },
    { name: 'node_modules scripts and config (sh, yml, sql)', units: filesAsUnits(nm, walk(nm, isScript, skip)) },
    { name: `node_modules source (every ${codeStride}th js/ts file)`, units: filesAsUnits(nm, code) },
  ];
}

/**
 * This repository's README, docs, examples, source and tests. The corpora under test/corpus are left out:
 * they are collections of unsafe requests by design, not code an agent edits.
 */
export function projectGroup(repo: string): Group {
  const top = ['README.md'].map((f) => join(repo, f)).filter((f) => existsSync(f));
  const dirs = ['docs', 'examples', 'src', 'test', 'bench', 'scripts'];
  const skip = (n: string): boolean => n === 'node_modules' || n === 'corpus' || n === 'dist';
  const files = [...top, ...dirs.flatMap((d) => walk(join(repo, d), (n) => isDoc(n) || isScript(n) || isCode(n), skip))];
  return { name: 'this repository (README, docs, examples, src, test)', units: filesAsUnits(repo, files) };
}

interface TrainCase {
  text: string;
  label: string;
  kind: string;
  source: string;
}

/** The benign side of `../shared/corpora/injection-train`, or nothing when that folder is not there. */
export function sharedCorporaGroups(repo: string): Group[] {
  const dir = join(repo, '..', 'shared', 'corpora', 'injection-train');
  if (!existsSync(dir)) return [];
  const rows: TrainCase[] = [];
  for (const f of ['train.jsonl', 'dev.jsonl']) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, 'utf8').split('\n')) if (line.trim() !== '') rows.push(JSON.parse(line) as TrainCase);
  }
  const benign = rows.filter((r) => r.label === 'benign');
  const requests = new Set(['user_request', 'borderline_request', 'trigger_word_query', 'roleplay_request']);
  const unit = (r: TrainCase, i: number): Unit => ({ id: `${r.source}#${i}`, text: r.text });
  return [
    { name: 'shared corpora: requests (coding, security tooling, trigger words)', units: benign.filter((r) => requests.has(r.kind)).map(unit) },
    { name: 'shared corpora: code, docs, security discussion, agent rules, commits', units: benign.filter((r) => !requests.has(r.kind)).map(unit) },
  ];
}
