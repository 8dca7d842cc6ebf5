import { readJournal, removeSegments, type JournalPosition } from './journal.js';
import type { SqliteEventStore } from './sqlite-store.js';

/**
 * Moves journaled events into the hash chain. The read position is stored with each batch in the same
 * transaction, so after any crash every journaled event is in the chain exactly once.
 */
export class JournalIngester {
  private readonly metaKey: string;

  constructor(
    private readonly store: SqliteEventStore,
    private readonly dir: string,
    private readonly chain: string,
  ) {
    this.metaKey = `journal:${chain}`;
  }

  private position(): JournalPosition {
    const raw = this.store.getMetaSync(this.metaKey);
    return raw ? (JSON.parse(raw) as JournalPosition) : { segment: 0, offset: 0 };
  }

  /** Ingest everything complete in the journal; `active` is the segment still being written (-1: none). */
  drain(active: number): { ingested: number; torn: number; head: { seq: number; hash: string } | null } {
    let ingested = 0;
    let torn = 0;
    let head: { seq: number; hash: string } | null = null;
    for (;;) {
      const pos = this.position();
      const r = readJournal(this.dir, pos, active);
      torn += r.torn;
      const moved = r.next.segment !== pos.segment || r.next.offset !== pos.offset;
      if (r.records.length === 0 && !moved) break;
      const records = r.records;
      const blobs = new Map<string, string>();
      for (const e of records) if (e.blobs) for (const [h, text] of e.blobs) blobs.set(h, text);
      const linked = this.store.appendRecordsSync(this.chain, records, { key: this.metaKey, value: JSON.stringify(r.next) }, blobs);
      if (linked.length > 0) head = { seq: linked[linked.length - 1]!.seq, hash: linked[linked.length - 1]!.hash };
      ingested += linked.length;
      removeSegments(this.dir, r.finished);
    }
    return { ingested, torn, head };
  }
}
