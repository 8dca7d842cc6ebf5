import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { listSegments, readJournal, readWholeSegment, REJECTED_DIR, removeSegments, segmentName, type JournalPosition, type JournalRecord, type RejectedLine } from './journal.js';
import type { SqliteEventStore } from './sqlite-store.js';

/** The meta key under which a chain's ingester keeps its read position in the journal. */
export const POSITION_PREFIX = 'journal:';

/** Every read position stored in this store (one per chain that ingested a journal), by chain. */
export function storedPositions(store: SqliteEventStore): Map<string, JournalPosition> {
  const out = new Map<string, JournalPosition>();
  for (const { key, value } of store.metaWithPrefix(POSITION_PREFIX)) {
    try {
      const p = JSON.parse(value) as JournalPosition;
      if (Number.isSafeInteger(p.segment) && Number.isSafeInteger(p.offset)) out.set(key.slice(POSITION_PREFIX.length), p);
    } catch {
      // not a position: nothing to honour
    }
  }
  return out;
}

export interface DrainResult {
  ingested: number;
  torn: number;
  head: { seq: number; hash: string } | null;
  /** Lines set aside in journal/rejected/ because they cannot be records. */
  rejected: number;
  /** Events found in segments behind the read position that were missing from the chain, added now. */
  recovered: number;
  /** Where reading stopped, and how many journal bytes lie beyond it (a line being written counts too). */
  position: JournalPosition;
  pendingBytes: number;
}

/**
 * Moves journaled events into the hash chain. The read position is stored with each batch in the same
 * transaction, and an event whose id the store already holds is not added again, so after any crash every
 * journaled event is in the chain exactly once.
 *
 * A segment file is removed only once everything in it is known to be in the chain: read through the stored
 * position, or (a segment found behind the position: a crash between a commit and the removal) checked event
 * by event against the store, missing ones added. So no segment numbering, however it came about, can make
 * a journaled event disappear unrecorded.
 */
export class JournalIngester {
  private readonly metaKey: string;

  constructor(
    private readonly store: SqliteEventStore,
    private readonly dir: string,
    private readonly chain: string,
  ) {
    this.metaKey = `${POSITION_PREFIX}${chain}`;
  }

  private position(): JournalPosition {
    const raw = this.store.getMetaSync(this.metaKey);
    return raw ? (JSON.parse(raw) as JournalPosition) : { segment: 0, offset: 0 };
  }

  /** Ingest everything complete in the journal; `active` is the segment still being written (-1: none). */
  drain(active: number): DrainResult {
    const result: DrainResult = { ingested: 0, torn: 0, head: null, rejected: 0, recovered: 0, position: this.position(), pendingBytes: 0 };
    for (const seg of listSegments(this.dir)) {
      // The writer's own segment is never touched here, wherever it is numbered.
      if (seg < result.position.segment && seg !== active) this.settleBehind(seg, result);
    }
    for (;;) {
      const pos = this.position();
      const r = readJournal(this.dir, pos, active);
      result.torn += r.torn;
      const moved = r.next.segment !== pos.segment || r.next.offset !== pos.offset;
      if (r.records.length === 0 && !moved) break;
      this.setAside(r.rejected);
      result.rejected += r.rejected.length;
      const linked = this.store.appendRecordsSync(this.chain, r.records, { key: this.metaKey, value: JSON.stringify(r.next) }, blobsOf(r.records), { onlyNew: true });
      this.linked(linked, result);
      removeSegments(this.dir, r.finished);
    }
    Object.assign(result, this.lag());
    return result;
  }

  /** Where the stored read position is and how many journal bytes lie beyond it (also after a failed round). */
  lag(): { position: JournalPosition; pendingBytes: number } {
    const position = this.position();
    return { position, pendingBytes: this.pendingBytes(position) };
  }

  /** A segment behind the read position: whatever in it the chain lacks goes in now; then it is removed. */
  private settleBehind(seg: number, result: DrainResult): void {
    let batch: JournalRecord[] = [];
    let bytes = 0;
    const rejected: RejectedLine[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      const linked = this.store.appendRecordsSync(this.chain, batch, undefined, blobsOf(batch), { onlyNew: true });
      result.recovered += linked.length;
      this.linked(linked, result);
      batch = [];
      bytes = 0;
    };
    const read = readWholeSegment(
      this.dir,
      seg,
      (record) => {
        batch.push(record);
        bytes += record.body.length;
        if (bytes >= 4 * 1024 * 1024) flush();
      },
      (line) => rejected.push(line),
    );
    flush();
    if (read === undefined) return;
    this.setAside(rejected);
    result.rejected += rejected.length;
    removeSegments(this.dir, [seg]);
  }

  private linked(linked: ReadonlyArray<{ seq: number; hash: string }>, result: DrainResult): void {
    if (linked.length === 0) return;
    result.head = { seq: linked[linked.length - 1]!.seq, hash: linked[linked.length - 1]!.hash };
    result.ingested += linked.length;
  }

  /**
   * Copies each rejected line into journal/rejected/ before the read position moves past it, so its bytes
   * outlive the segment for an operator to look at, and `kt events verify` reports it.
   */
  private setAside(lines: readonly RejectedLine[]): void {
    if (lines.length === 0) return;
    const dir = join(this.dir, REJECTED_DIR);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const line of lines) {
      const from = openSync(join(this.dir, segmentName(line.segment)), 'r');
      const to = openSync(join(dir, rejectedName(line)), 'w', 0o600);
      try {
        const chunk = Buffer.allocUnsafe(Math.min(line.length, 1024 * 1024));
        for (let done = 0; done < line.length; ) {
          const n = readSync(from, chunk, 0, Math.min(chunk.length, line.length - done), line.offset + done);
          if (n === 0) break;
          for (let w = 0; w < n; ) w += writeSync(to, chunk, w, n - w);
          done += n;
        }
      } finally {
        closeSync(from);
        closeSync(to);
      }
    }
  }

  /** Journal bytes beyond `pos`: in its segment and every later one. */
  private pendingBytes(pos: JournalPosition): number {
    let bytes = 0;
    for (const seg of listSegments(this.dir)) {
      if (seg < pos.segment) continue;
      try {
        bytes += Math.max(0, statSync(join(this.dir, segmentName(seg))).size - (seg === pos.segment ? pos.offset : 0));
      } catch {
        // removed meanwhile
      }
    }
    return bytes;
  }
}

/** `seg-000000007@1234.unreadable.rejected`: the segment and offset the line was at, and why it was set aside. */
export function rejectedName(line: Pick<RejectedLine, 'segment' | 'offset' | 'reason'>): string {
  return `${segmentName(line.segment).replace(/\.ndjson$/, '')}@${line.offset}.${line.reason}.rejected`;
}

/** The lines set aside so far (file names in journal/rejected/). */
export function rejectedLines(journalDir: string): string[] {
  const dir = join(journalDir, REJECTED_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.rejected'))
    .sort();
}

function blobsOf(records: readonly JournalRecord[]): Map<string, string> {
  const blobs = new Map<string, string>();
  for (const e of records) if (e.blobs) for (const [h, text] of e.blobs) blobs.set(h, text);
  return blobs;
}
