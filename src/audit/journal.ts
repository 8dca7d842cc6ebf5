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
/** Where the ingester keeps a line it could not take (see readJournal), for an operator and `kt events verify`. */
export const REJECTED_DIR = 'rejected';
const SEGMENT_BYTES = 16 * 1024 * 1024;
/**
 * The longest record this writer produces: the recorder bounds each event with its captured texts below it
 * (event-bound.ts) and the writer refuses anything longer. 8 MiB keeps one record shippable to a control plane
 * even when JSON-escaping doubles it (its POST limit is 32 MiB).
 */
export const MAX_RECORD_BYTES = 8 * 1024 * 1024;
/**
 * The longest line the reader takes as a record. Above MAX_RECORD_BYTES because journals written before that
 * bound existed may hold longer records (a 30,000-address request made one of 5 MB); a line longer than this
 * cannot be a record at all and is set aside as rejected rather than read into memory.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** How much one ingest round reads from a segment; a longer record grows the read (up to MAX_LINE_BYTES). */
export const READ_WINDOW_BYTES = 4 * 1024 * 1024;
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

export class JournalRecordTooLargeError extends Error {
  override name = 'JournalRecordTooLargeError';
}

export class JournalWriter {
  private fd: number;
  private segment: number;
  private size = 0;
  private buffer = Buffer.allocUnsafe(RETAINED_BUFFER_BYTES);
  private lastEnd: JournalPosition;

  /**
   * `readFrom`: the stored read positions (one per chain that ingested this journal). A new writer starts after
   * the highest segment on disk AND after every segment a read position names: the ingester removes finished
   * segments, so an empty directory says nothing about which numbers it has already read past, and a segment
   * numbered at or below a read position would be skipped as finished.
   */
  constructor(
    readonly dir: string,
    readFrom: readonly JournalPosition[] = [],
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.segment = Math.max(listSegments(dir).at(-1) ?? 0, ...readFrom.map((p) => p.segment)) + 1;
    this.fd = openSync(join(dir, segmentName(this.segment)), 'a', 0o600);
    this.lastEnd = { segment: this.segment, offset: 0 };
  }

  /** The segment being written; the ingester never treats it as finished. */
  get current(): number {
    return this.segment;
  }

  /** Where the last complete write ended: once the read position reaches it, everything written is ingested. */
  get end(): JournalPosition {
    return this.lastEnd;
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
    let length: number;
    try {
      length = this.encodeAll(records);
    } catch (err) {
      // Nothing was written: the segment stays as it is.
      setImmediate(() => done(err as Error));
      return;
    }
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
    for (const r of records) {
      const start = length;
      length = this.encode(journalHeaderJson(r.id, r.columns, r.blobs), r.body, length);
      // The recorder bounds every record (event-bound.ts); this is the guarantee the reader relies on.
      if (length - start > MAX_RECORD_BYTES) throw new JournalRecordTooLargeError(`journal record ${r.id} is ${length - start} bytes, above ${MAX_RECORD_BYTES}`);
    }
    return length;
  }

  private written(length: number): void {
    this.size += length;
    this.lastEnd = { segment: this.segment, offset: this.size };
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

/**
 * The record of an event the gateway built (DecisionContext.build), serialized by the schema's writer; `body`
 * when the caller has serialized it already (the recorder does, to bound its size).
 */
export function journalRecord(event: DecisionEvent, blobs?: ReadonlyMap<string, string>, body = eventJson(event)): JournalRecord {
  return { id: event.id, body, columns: indexedColumns(event), ...(blobs ? { blobs } : {}) };
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
  // What the store's NOT NULL columns need: a header without them would fail every insert of its batch.
  const c = typeof header === 'object' && header !== null ? header.c : undefined;
  if (typeof header.id !== 'string' || typeof c !== 'object' || c === null || typeof c.ts_ms !== 'number' || typeof c.verdict !== 'string' || typeof c.gateway !== 'string' || typeof c.policies !== 'string') {
    throw new Error('journal header without an id or the required columns');
  }
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

/** Whether `a` is at or past `b`. */
export function atOrPast(a: JournalPosition, b: JournalPosition): boolean {
  return a.segment > b.segment || (a.segment === b.segment && a.offset >= b.offset);
}

/** A line the reader could not take as a record: corrupt, or longer than any record can be. */
export interface RejectedLine {
  segment: number;
  offset: number;
  /** Up to its newline; to the end of the segment when it has none. */
  length: number;
  reason: 'unreadable' | 'too_long';
}

export interface JournalRead {
  records: JournalRecord[];
  next: JournalPosition;
  /** Segments at or after the read position that were read to their end and that nobody writes any more. */
  finished: number[];
  /** Finished segments that ended in a line torn by a crash. */
  torn: number;
  /** Lines skipped because they cannot be records; the read position moves past them. */
  rejected: RejectedLine[];
}

/** The read buffer, kept between reads: allocating (and zeroing) megabytes per ingest round showed as GC work. */
let readBuffer = Buffer.allocUnsafe(0);

/**
 * Read complete journal records from `pos` on: the rest of that segment, then later segments. Segments below
 * `pos.segment` are not read (the ingester checks them itself, see JournalIngester). A finished segment that
 * ends without a newline ends with a line torn by a crash (its request never completed): it is skipped.
 * Records are cut straight out of the bytes read, without making one string of the whole read.
 *
 * About `maxBytes` is read per call; a record longer than that is read whole (the window grows to its
 * newline), so no record the writer can produce is ever too long to move past.
 */
export function readJournal(
  dir: string,
  pos: JournalPosition,
  /** The segment a writer still appends to; -1 when none does. */
  active: number,
  maxBytes = READ_WINDOW_BYTES,
): JournalRead {
  const out: JournalRead = { records: [], next: { ...pos }, finished: [], torn: 0, rejected: [] };
  for (const seg of listSegments(dir)) {
    if (seg < out.next.segment) continue;
    const fd = openSegment(dir, seg);
    if (fd === undefined) continue; // removed meanwhile (by an ingester, while `kt events verify` reads)
    let r: SegmentRead;
    try {
      r = readSegment(fd, seg, seg === out.next.segment ? out.next.offset : 0, maxBytes, seg !== active, (record) => out.records.push(record), (line) => out.rejected.push(line));
    } finally {
      closeSync(fd);
    }
    out.next = { segment: seg, offset: r.consumed };
    if (!r.reachedEnd || seg === active) break;
    // A segment nobody writes any more: done. Bytes after its last newline are a line torn by a crash.
    if (r.torn) out.torn += 1;
    out.finished.push(seg);
    out.next = { segment: seg + 1, offset: 0 };
  }
  return out;
}

/**
 * Every complete record of one segment from `offset` on, with where each starts (`kt events verify`, and the
 * ingester's check of segments left behind its read position).
 */
export function readWholeSegment(
  dir: string,
  seg: number,
  visit: (record: JournalRecord, offset: number) => void,
  reject: (line: RejectedLine) => void = () => {},
  finished = true,
): { consumed: number; torn: boolean } | undefined {
  const fd = openSegment(dir, seg);
  if (fd === undefined) return undefined;
  try {
    let at = 0;
    for (;;) {
      const r = readSegment(fd, seg, at, READ_WINDOW_BYTES, finished, visit, reject);
      if (r.reachedEnd || r.consumed === at) return { consumed: r.consumed, torn: r.torn };
      at = r.consumed;
    }
  } finally {
    closeSync(fd);
  }
}

function openSegment(dir: string, seg: number): number | undefined {
  try {
    return openSync(join(dir, segmentName(seg)), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

interface SegmentRead {
  /** Offset after the last line taken (a record or a rejected line). */
  consumed: number;
  /** Everything up to the segment's size at the time of reading was looked at. */
  reachedEnd: boolean;
  /** A finished segment ends in bytes without a newline (a line torn by a crash). */
  torn: boolean;
}

/**
 * Reads about `maxBytes` of lines from `start`. When the window holds no newline while the segment goes on,
 * the line is longer than the window: it is read whole if it ends within MAX_LINE_BYTES, and set aside as
 * rejected otherwise (up to its newline, or to the end of the segment: nothing longer than MAX_RECORD_BYTES
 * without a newline can be a write still in progress).
 */
function readSegment(
  fd: number,
  seg: number,
  start: number,
  maxBytes: number,
  finished: boolean,
  visit: (record: JournalRecord, offset: number) => void,
  reject: (line: RejectedLine) => void,
): SegmentRead {
  const size = fstatSync(fd).size;
  const length = Math.max(0, Math.min(size - start, maxBytes));
  if (readBuffer.length < length) readBuffer = Buffer.allocUnsafe(Math.max(length, Math.min(readBuffer.length * 2, READ_WINDOW_BYTES)));
  const read = readFully(fd, readBuffer, length, start);
  let lineStart = 0;
  for (let nl = readBuffer.indexOf(0x0a, 0); nl >= 0 && nl < read; nl = readBuffer.indexOf(0x0a, lineStart)) {
    if (nl > lineStart) takeLine(readBuffer, lineStart, nl, seg, start, visit, reject);
    lineStart = nl + 1;
  }
  if (readBuffer.length > READ_WINDOW_BYTES) readBuffer = Buffer.allocUnsafe(READ_WINDOW_BYTES);
  let consumed = start + lineStart;
  let reachedEnd = start + read >= size;
  if (lineStart === 0 && !reachedEnd) ({ consumed, reachedEnd } = longLine(fd, seg, start, size, visit, reject));
  if (reachedEnd && consumed < size && finished) {
    // The rest of a finished segment without a newline: torn by a crash while being written.
    return { consumed: size, reachedEnd: true, torn: true };
  }
  return { consumed, reachedEnd, torn: false };
}

/**
 * A line that starts at `start` and is longer than the read window. Returns the offset after it, and whether
 * the segment was looked at to its end (the line runs to the end without a newline: in progress, or torn).
 */
function longLine(
  fd: number,
  seg: number,
  start: number,
  size: number,
  visit: (record: JournalRecord, offset: number) => void,
  reject: (line: RejectedLine) => void,
): { consumed: number; reachedEnd: boolean } {
  const end = findNewline(fd, start, Math.min(size, start + MAX_LINE_BYTES + 1));
  if (end >= 0) {
    const line = Buffer.allocUnsafe(end - start);
    readFully(fd, line, line.length, start);
    takeLine(line, 0, line.length, seg, start, visit, reject);
    return { consumed: end + 1, reachedEnd: end + 1 >= size };
  }
  if (size - start <= MAX_LINE_BYTES) return { consumed: start, reachedEnd: true };
  // No record is this long, so these bytes are no write in progress either: set the line aside up to its
  // newline, or all of what is there.
  const after = findNewline(fd, start + MAX_LINE_BYTES + 1, size);
  reject({ segment: seg, offset: start, length: (after >= 0 ? after : size) - start, reason: 'too_long' });
  const consumed = after >= 0 ? after + 1 : size;
  return { consumed, reachedEnd: consumed >= size };
}

/** The offset of the first newline in [from, to), or -1; reads in window-sized chunks. */
function findNewline(fd: number, from: number, to: number): number {
  const chunk = Buffer.allocUnsafe(Math.min(READ_WINDOW_BYTES, Math.max(0, to - from)));
  for (let at = from; at < to; ) {
    const n = readFully(fd, chunk, Math.min(chunk.length, to - at), at);
    if (n === 0) return -1;
    const i = chunk.indexOf(0x0a);
    if (i >= 0 && i < n) return at + i;
    at += n;
  }
  return -1;
}

function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let read = 0;
  while (read < length) {
    const n = readSync(fd, buf, read, length - read, position + read);
    if (n === 0) break;
    read += n;
  }
  return read;
}

/** One line (without its newline) of `buf` from `from` to `to`; `base` is where `buf` starts in the segment. */
function takeLine(
  buf: Buffer,
  from: number,
  to: number,
  seg: number,
  base: number,
  visit: (record: JournalRecord, offset: number) => void,
  reject: (line: RejectedLine) => void,
): void {
  let record: JournalRecord;
  try {
    record = parseJournalBytes(buf, from, to);
  } catch {
    reject({ segment: seg, offset: base + from, length: to - from, reason: 'unreadable' });
    return;
  }
  visit(record, base + from);
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
