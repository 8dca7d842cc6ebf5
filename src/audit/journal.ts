import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { DecisionEvent } from './event.js';

/**
 * The audit journal: decision events appended as JSON lines to segment files in `<data dir>/journal`, one
 * write per group of events. A request waits only for this write (the kernel has the bytes: they survive the
 * process being killed, like SQLite's WAL without fsync), and the ingester moves them into the hash chain
 * off the request path. Each start opens a new segment, so a line torn by a crash is always at the end of a
 * segment that nobody writes any more.
 */
export const JOURNAL_DIR = 'journal';
const SEGMENT_BYTES = 16 * 1024 * 1024;

export function segmentName(n: number): string {
  return `seg-${String(n).padStart(9, '0')}.ndjson`;
}

export function listSegments(dir: string): number[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^seg-(\d{9})\.ndjson$/.exec(f)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export class JournalWriter {
  private fd: number;
  private segment: number;
  private size = 0;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.segment = (listSegments(dir).at(-1) ?? 0) + 1;
    this.fd = openSync(join(dir, segmentName(this.segment)), 'a', 0o600);
  }

  /** The segment being written; the ingester never treats it as finished. */
  get current(): number {
    return this.segment;
  }

  append(entries: readonly JournalEntry[]): void {
    let text = '';
    for (const e of entries) text += `${JSON.stringify(e.blobs ? e : { event: e.event })}\n`;
    const buf = Buffer.from(text);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.size += buf.length;
    if (this.size >= SEGMENT_BYTES) this.rotate();
  }

  private rotate(): void {
    closeSync(this.fd);
    this.segment += 1;
    this.fd = openSync(join(this.dir, segmentName(this.segment)), 'a', 0o600);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** One journal line: an event, and the captured texts it refers to that this process had not written yet. */
export interface JournalEntry {
  event: DecisionEvent;
  blobs?: Record<string, string> | undefined;
}

export function parseJournalLine(line: string): JournalEntry {
  const parsed = JSON.parse(line) as JournalEntry;
  return { event: parsed.event, ...(parsed.blobs ? { blobs: parsed.blobs } : {}) };
}

export interface JournalPosition {
  segment: number;
  offset: number;
}

/**
 * Read complete lines from `pos` on: the rest of that segment, then later segments. A finished segment that
 * ends without a newline ends with a line torn by a crash (its request never completed): it is skipped.
 */
export function readJournal(
  dir: string,
  pos: JournalPosition,
  /** The segment a writer still appends to; -1 when none does. */
  active: number,
  maxBytes = 4 * 1024 * 1024,
): { lines: string[]; next: JournalPosition; finished: number[]; torn: number } {
  const lines: string[] = [];
  const finished: number[] = [];
  let torn = 0;
  let next = { ...pos };
  for (const seg of listSegments(dir)) {
    if (seg < next.segment) {
      finished.push(seg);
      continue;
    }
    const fd = openSync(join(dir, segmentName(seg)), 'r');
    let reachedEnd: boolean;
    let consumed: number;
    let size: number;
    try {
      size = fstatSync(fd).size;
      const start = seg === next.segment ? next.offset : 0;
      const length = Math.max(0, Math.min(size - start, maxBytes));
      const buf = Buffer.alloc(length);
      let read = 0;
      while (read < length) {
        const n = readSync(fd, buf, read, length - read, start + read);
        if (n === 0) break;
        read += n;
      }
      const lastNewline = read > 0 ? buf.lastIndexOf(0x0a, read - 1) : -1;
      if (lastNewline >= 0) for (const line of buf.subarray(0, lastNewline).toString('utf8').split('\n')) if (line) lines.push(line);
      consumed = start + lastNewline + 1;
      reachedEnd = start + read >= size;
    } finally {
      closeSync(fd);
    }
    next = { segment: seg, offset: consumed };
    if (!reachedEnd || seg === active) break;
    // A segment nobody writes any more: done. Bytes after its last newline are a line torn by a crash.
    if (consumed < size) torn += 1;
    finished.push(seg);
    next = { segment: seg + 1, offset: 0 };
  }
  return { lines, next, finished, torn };
}

export function removeSegments(dir: string, segments: readonly number[]): void {
  for (const s of segments) {
    try {
      unlinkSync(join(dir, segmentName(s)));
    } catch {
      // already gone
    }
  }
}

/**
 * One process owns a journal directory: its writer picks segment numbers and its ingest thread moves lines
 * into the chain. A second gateway on the same data dir writes to the store directly instead. The lock file
 * holds the owner's pid; a lock whose process is gone is taken over.
 */
export function acquireJournalLock(dir: string): (() => void) | undefined {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'LOCK');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (ownerAlive(file)) return undefined;
      try {
        unlinkSync(file);
      } catch {
        // another process took it over first; the next attempt tells
      }
    }
  }
  return undefined;
}

function ownerAlive(file: string): boolean {
  let pid: number;
  try {
    const fd = openSync(file, 'r');
    const buf = Buffer.alloc(32);
    const n = readSync(fd, buf, 0, 32, 0);
    closeSync(fd);
    pid = Number(buf.subarray(0, n).toString().trim());
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  // Our own pid in a lock we have not taken yet: a previous process that had the same pid (containers reuse them).
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
