import { atOrPast, type JournalPosition } from './journal.js';

/** What `/health` shows as `audit.ingest`, and the metrics read. */
export interface IngestStatus {
  /** `stalled`: journaled events have waited longer than the threshold while the read position did not move. */
  state: 'ok' | 'stalled';
  lag: {
    /** Events this process journaled that are not in the chain yet. */
    records: number;
    /** Journal bytes beyond the read position (as of the ingest thread's last round). */
    bytes: number;
    /** Age of the oldest journaled event not in the chain yet. */
    seconds: number;
  };
  /** The ingest thread's last failure while it has not caught up since; null otherwise. */
  last_error: string | null;
  /** Journal lines set aside since start because they cannot be events (see journal/rejected/). */
  rejected: number;
  /** Events found behind the read position that were missing from the chain, added since start. */
  recovered: number;
}

/** Events journaled in one write: until the read position passes `end`, they are lag. */
interface Written {
  end: JournalPosition;
  records: number;
  at: number;
}

/** Writes remembered one by one; beyond this, new writes are merged into the last entry (only its end moves). */
const MAX_TRACKED_WRITES = 1024;

/**
 * Tells a working ingest thread from a stalled one. The recorder reports every journal write (where it ended)
 * and every ingest round (where the read position is); the ingestion is stalled when events wait and the
 * position has not moved for `stallAfterMs`. That covers a record the reader cannot get past, a store that
 * refuses writes, and a thread that died or hangs (no rounds are reported at all).
 */
export class IngestMonitor {
  private readonly writes: Written[] = [];
  private position: JournalPosition | undefined;
  private movedAt: number;
  private pendingBytes = 0;
  private lastError: string | null = null;
  private rejected = 0;
  private recovered = 0;
  private stalled = false;

  constructor(
    private readonly stallAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.movedAt = now();
  }

  journaled(end: JournalPosition, records: number): void {
    const last = this.writes[this.writes.length - 1];
    if (last && this.writes.length >= MAX_TRACKED_WRITES) {
      last.end = end;
      last.records += records;
      return;
    }
    this.writes.push({ end, records, at: this.now() });
  }

  /** An ingest round ended at `position` with `pendingBytes` beyond it. */
  progressed(r: { position: JournalPosition; pendingBytes: number; rejected: number; recovered: number }): void {
    this.moved(r.position, r.pendingBytes);
    this.rejected += r.rejected;
    this.recovered += r.recovered;
    if (this.writes.length === 0) this.lastError = null;
  }

  /** A round failed; `lag`: the position and bytes behind it as read after the failure. */
  failed(message: string, lag?: { position: JournalPosition; pendingBytes: number }): void {
    this.lastError = message;
    if (lag) this.moved(lag.position, lag.pendingBytes);
  }

  private moved(position: JournalPosition, pendingBytes: number): void {
    const p = this.position;
    if (!p || p.segment !== position.segment || p.offset !== position.offset) this.movedAt = this.now();
    this.position = position;
    this.pendingBytes = pendingBytes;
    while (this.writes.length > 0 && atOrPast(position, this.writes[0]!.end)) this.writes.shift();
  }

  status(): IngestStatus {
    const now = this.now();
    let records = 0;
    for (const w of this.writes) records += w.records;
    const oldest = this.writes[0]?.at;
    // Events journaled by an earlier run have no write time here: they wait at least since the position last moved.
    const waitingSince = oldest ?? (this.pendingBytes > 0 ? this.movedAt : now);
    const waiting = records > 0 || this.pendingBytes > 0;
    const stalled = waiting && now - this.movedAt >= this.stallAfterMs && now - waitingSince >= this.stallAfterMs;
    return {
      state: stalled ? 'stalled' : 'ok',
      lag: { records, bytes: this.pendingBytes, seconds: Math.round((now - waitingSince) / 100) / 10 },
      last_error: this.lastError,
      rejected: this.rejected,
      recovered: this.recovered,
    };
  }

  /** Called periodically: 'stalled' or 'resumed' when the state changed since the last call (log it once). */
  transition(): 'stalled' | 'resumed' | undefined {
    const stalled = this.status().state === 'stalled';
    if (stalled === this.stalled) return undefined;
    this.stalled = stalled;
    return stalled ? 'stalled' : 'resumed';
  }
}
