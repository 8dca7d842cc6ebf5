import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, readdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { JOURNAL_DIR } from './journal.js';

/**
 * A data dir holds the signing key, the salt behind every value hash, the console token and every decision
 * event with its captured text: its owner's alone. New files are created 0600 in 0700 folders; a data dir
 * made before that (or by hand, or restored from a backup) is tightened when a gateway or control plane starts.
 */

/** What keeptrusts keeps at the top of a data dir. Only these are touched: a data dir may be any folder. */
const PRIVATE_FILES = [
  'events.db',
  'events.db-wal',
  'events.db-shm',
  'events.db-journal',
  'signing-key.pem',
  'audit-salt',
  'gateway-id',
  'console-token',
  'spool.ndjson',
  'spool.ndjson.draining',
];
/** Folders of ours whose every file is ours. */
const PRIVATE_DIRS = [JOURNAL_DIR];

export interface Tightened {
  /** The data dir's mode before, as octal text, when it was wider than 0700. */
  dir?: string;
  /** Files and folders inside made private, each with its mode before. */
  entries: Array<{ path: string; mode: string }>;
  /** Wider than owner-only, but owned by someone else: left as it is. */
  notOwned: string[];
}

/**
 * Make an existing data dir and what keeptrusts keeps in it owner-only. Does nothing when the dir does not
 * exist (whatever creates it creates it private) or on Windows, where modes do not mean this.
 */
export function tightenDataDir(dataDir: string): Tightened {
  const out: Tightened = { entries: [], notOwned: [] };
  if (process.platform === 'win32') return out;
  let dirStat: Stats;
  try {
    // The data dir itself may be a symlink to where the data lives; what is inside is never followed.
    dirStat = statSync(dataDir);
  } catch {
    return out;
  }
  if (!dirStat.isDirectory()) return out;
  const before = tighten(dataDir, dirStat, 0o700, out);
  if (before !== undefined) out.dir = before;
  for (const name of PRIVATE_FILES) {
    const file = join(dataDir, name);
    const st = statOrNull(file);
    if (!st?.isFile()) continue;
    const was = tighten(file, st, 0o600, out);
    if (was !== undefined) out.entries.push({ path: name, mode: was });
  }
  for (const name of PRIVATE_DIRS) {
    const dir = join(dataDir, name);
    const st = statOrNull(dir);
    if (!st?.isDirectory()) continue;
    const was = tighten(dir, st, 0o700, out);
    if (was !== undefined) out.entries.push({ path: `${name}/`, mode: was });
    for (const entry of readdirSync(dir)) {
      const file = join(dir, entry);
      const fst = statOrNull(file);
      if (!fst?.isFile()) continue;
      const fwas = tighten(file, fst, 0o600, out);
      if (fwas !== undefined) out.entries.push({ path: `${name}/${entry}`, mode: fwas });
    }
  }
  return out;
}

/** tightenDataDir, with one warning naming what was wider than it should have been. */
export function secureDataDir(dataDir: string, warn: (fields: Record<string, unknown>, message: string) => void): void {
  let t: Tightened;
  try {
    t = tightenDataDir(dataDir);
  } catch (err) {
    // Whatever cannot be read here fails again, with its own message, where it is used.
    warn({ data_dir: dataDir, err: (err as NodeJS.ErrnoException).code ?? 'error' }, 'could not check the data dir\'s permissions');
    return;
  }
  if (t.dir !== undefined) warn({ data_dir: dataDir, mode: t.dir }, `the data dir was mode ${t.dir}, readable by others; it is now 0700`);
  if (t.entries.length > 0) {
    warn({ data_dir: dataDir, files: t.entries.map((e) => `${e.path} (${e.mode})`) }, 'files in the data dir were readable by others; they are now owner-only');
  }
  if (t.notOwned.length > 0) warn({ data_dir: dataDir, paths: t.notOwned }, 'readable by others and owned by another user: left as they are; make them owner-only');
}

/**
 * Create `file` as an empty owner-only file unless it exists (SQLite gives its -wal and -shm files the mode
 * of the database file, so they follow). Its folder is created owner-only too.
 */
export function createPrivateFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** chmod to `mode` when wider and ours; returns the mode before when it changed it. */
function tighten(path: string, st: Stats, mode: number, out: Tightened): string | undefined {
  const current = st.mode & 0o777;
  if ((current & ~mode) === 0) return undefined;
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    out.notOwned.push(path);
    return undefined;
  }
  chmodSync(path, current & mode);
  return `0${current.toString(8).padStart(3, '0')}`;
}

/** lstat, so a symlink planted in the data dir is never followed to chmod something else. */
function statOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
