import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, unlinkSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from './canonical.js';
import { eventJson, journalHeaderJson } from './event-json.js';
import type { DecisionEvent } from './event.js';
import { indexedColumns, type IndexedColumns } from './store.js';

/**
 * The audit journal: decision events appended as JSON lines to segment files in `<data dir>/journal`, one
 * write per group of events. A request waits only for this write (the kernel has the bytes: they survive the
 * process being killed, like SQLite's WAL without fsync), and the ingester moves them into the hash chain
 * off the request path. Each start opens a new segment, so a line torn by a crash is always at the end of a
 * segment that nobody writes any more.
 */
export const JOURNAL_DIR = 'journal';
const SEGMENT_BYTES = 16 * 1024 * 1024;
/** The write buffer kept between appends; a bigger one (a batch with long captured texts) is let go after use. */
const RETAINED_BUFFER_BYTES = 256 * 1024;

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
  private buffer = Buffer.allocUnsafe(RETAINED_BUFFER_BYTES);

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.segment = (listSegments(dir).at(-1) ?? 0) + 1;
    this.fd = openSync(join(dir, segmentName(this.segment)), 'a', 0o600);
  }

  /** The segment being written; the ingester never treats it as finished. */
  get current(): number {
    return this.segment;
  }

  append(records: readonly JournalRecord[]): void {
    const length = this.encodeAll(records);
    let off = 0;
    try {
      while (off < length) off += writeSync(this.fd, this.buffer, off, length - off);
    } catch (err) {
      this.abandonSegment();
      throw err;
    }
    this.written(length);
  }

  /**
   * The same write made on libuv's thread pool: `done` runs once the kernel holds every byte (or with the
   * error). The serving thread then spends a few µs handing the write over instead of the whole system call
   * (10–20 µs for an agent turn's event under load). Nothing may be appended before `done`: the buffer and
   * the order of lines depend on it.
   */
  appendAsync(records: readonly JournalRecord[], done: (err: Error | null) => void): void {
    const length = this.encodeAll(records);
    const fd = this.fd;
    const from = (off: number): void =>
      write(fd, this.buffer, off, length - off, null, (err, n) => {
        if (err) {
          this.abandonSegment();
          return done(err);
        }
        if (off + n < length) return from(off + n);
        this.written(length);
        done(null);
      });
    from(0);
  }

  /**
   * Encodes the records piece by piece into the reused buffer and returns the length. Joining each line into
   * one string and Buffer.from-ing it flattened the string, measured its UTF-8 length and allocated a buffer
   * per write (2–4 µs an event against 0.4–0.9, measured on 2,000 real events).
   */
  private encodeAll(records: readonly JournalRecord[]): number {
    let length = 0;
    for (const r of records) length = this.encode(journalHeaderJson(r.id, r.columns, r.blobs), r.body, length);
    return length;
  }

  private written(length: number): void {
    this.size += length;
    if (this.buffer.length > RETAINED_BUFFER_BYTES) this.buffer = Buffer.allocUnsafe(RETAINED_BUFFER_BYTES);
    if (this.size >= SEGMENT_BYTES) this.rotate();
  }

  /**
   * Writes the line `<header JSON>\t<canonical event JSON>\n` at `at`, growing the buffer when it may not fit;
   * returns its end. JSON text never holds a raw tab or newline (both are escaped inside strings), so the
   * first tab ends the small header and the reader finds the body without parsing it.
   */
  private encode(header: string, body: string, at: number): number {
    // UTF-8 takes at most 3 bytes per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
    const worst = at + 3 * (header.length + body.length) + 2;
    if (worst > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(worst, this.buffer.length * 2));
      this.buffer.copy(grown, 0, 0, at);
      this.buffer = grown;
    }
    let n = at + this.buffer.write(header, at);
    this.buffer[n++] = 0x09;
    n += this.buffer.write(body, n);
    this.buffer[n++] = 0x0a;
    return n;
  }

  /**
   * After a failed write the segment may end in part of a line: later lines go to a new segment, so that
   * part stays a torn last line (skipped by the reader) instead of running into the next record.
   */
  private abandonSegment(): void {
    try {
      this.rotate();
    } catch {
      // The next append fails the same way and tries again.
    }
  }

  private rotate(): void {
    // Opened before the old one is closed: if that fails, this writer still has a segment to write to.
    const next = openSync(join(this.dir, segmentName(this.segment + 1)), 'a', 0o600);
    closeSync(this.fd);
    this.fd = next;
    this.segment += 1;
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * One journaled event, already in the form the chain stores: its canonical JSON (the hashed bytes) and the
 * filter columns derived from it, plus the captured texts it refers to that this process had not journaled
 * yet. The request's own thread serializes the event once; the ingest thread hashes and inserts the text as
 * it is, without parsing it again.
 */
export interface JournalRecord {
  id: string;
  body: string;
  columns: IndexedColumns;
  /** Captured texts by SHA-256 (hex), in the order they were captured. */
  blobs?: ReadonlyMap<string, string> | undefined;
}

/** The record of an event the gateway built (DecisionContext.build), serialized by the schema's writer. */
export function journalRecord(event: DecisionEvent, blobs?: ReadonlyMap<string, string>): JournalRecord {
  return { id: event.id, body: eventJson(event), columns: indexedColumns(event), ...(blobs ? { blobs } : {}) };
}

/** The record of an event read back from elsewhere (an older journal line), serialized by the generic path. */
function recordOf(event: DecisionEvent, blobs?: Record<string, string>): JournalRecord {
  return { id: event.id, body: canonicalJson(event), columns: indexedColumns(event), ...(blobs ? { blobs: new Map(Object.entries(blobs)) } : {}) };
}

export function parseJournalLine(line: string): JournalRecord {
  const tab = line.indexOf('\t');
  if (tab < 0) {
    // A journal left by a version that wrote `{"event": …, "blobs": …}` lines.
    const { event, blobs } = parseEventLine(line);
    return recordOf(event, blobs);
  }
  return fromHeader(line.slice(0, tab), line.slice(tab + 1));
}

function fromHeader(headerJson: string, body: string): JournalRecord {
  const header = JSON.parse(headerJson) as { id: string; c: IndexedColumns; b?: Record<string, string> };
  return { id: header.id, body, columns: header.c, ...(header.b ? { blobs: new Map(Object.entries(header.b)) } : {}) };
}

/** An event with its captured texts as one JSON line (the fail-mode allow spool). */
export function eventLine(event: DecisionEvent, blobs?: ReadonlyMap<string, string>): string {
  return `${JSON.stringify({ event, blobs: blobs ? Object.fromEntries(blobs) : undefined })}\n`;
}

export function parseEventLine(line: string): { event: DecisionEvent; blobs?: Record<string, string> } {
  const parsed = JSON.parse(line) as { event: DecisionEvent; blobs?: Record<string, string> };
  return { event: parsed.event, ...(parsed.blobs ? { blobs: parsed.blobs } : {}) };
}

export interface JournalPosition {
  segment: number;
  offset: number;
}

/** The read buffer, kept between reads: allocating (and zeroing) megabytes per ingest round showed as GC work. */
let readBuffer = Buffer.allocUnsafe(0);

/**
 * Read complete journal records from `pos` on: the rest of that segment, then later segments. A finished
 * segment that ends without a newline ends with a line torn by a crash (its request never completed): it is
 * skipped. Records are cut straight out of the bytes read, without making one string of the whole read.
 */
export function readJournal(
  dir: string,
  pos: JournalPosition,
  /** The segment a writer still appends to; -1 when none does. */
  active: number,
  maxBytes = 4 * 1024 * 1024,
): { records: JournalRecord[]; next: JournalPosition; finished: number[]; torn: number } {
  const records: JournalRecord[] = [];
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
      if (readBuffer.length < length) readBuffer = Buffer.allocUnsafe(Math.max(length, readBuffer.length * 2));
      let read = 0;
      while (read < length) {
        const n = readSync(fd, readBuffer, read, length - read, start + read);
        if (n === 0) break;
        read += n;
      }
      let lineStart = 0;
      for (let nl = readBuffer.indexOf(0x0a, 0); nl >= 0 && nl < read; nl = readBuffer.indexOf(0x0a, lineStart)) {
        if (nl > lineStart) records.push(parseJournalBytes(readBuffer, lineStart, nl));
        lineStart = nl + 1;
      }
      consumed = start + lineStart;
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
  return { records, next, finished, torn };
}

/** One line (without its newline) of `buf` from `start` to `end`. */
function parseJournalBytes(buf: Buffer, start: number, end: number): JournalRecord {
  const tab = buf.indexOf(0x09, start);
  if (tab < 0 || tab >= end) return parseJournalLine(buf.toString('utf8', start, end));
  return fromHeader(buf.toString('utf8', start, tab), buf.toString('utf8', tab + 1, end));
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
