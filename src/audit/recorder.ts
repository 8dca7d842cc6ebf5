import { appendFileSync, existsSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../gateway/logger.js';
import { RecentMap } from '../policy/recent-map.js';
import { newestAnchor } from './anchor.js';
import { GENESIS_HASH, type Checkpoint } from './chain.js';
import { IngestMonitor, type IngestStatus } from './ingest-monitor.js';
import { IngestThread } from './ingest-thread.js';
import { storedPositions, type DrainResult } from './ingester.js';
import { checkBeforeSigning, stillHolds, type Break, type Signed } from './integrity.js';
import { acquireJournalLock, eventLine, JOURNAL_DIR, journalRecord, JournalWriter, parseEventLine, type JournalPosition, type JournalRecord } from './journal.js';
import { boundEvent } from './event-bound.js';
import { SqliteEventStore } from './sqlite-store.js';
import type { DecisionEvent } from './event.js';
import { signCheckpoint, signRecord, type SigningKey } from './keys.js';
import { PruneRefusedError, type EventStore } from './store.js';

export interface RecorderOptions {
  store: EventStore;
  /** This gateway's chain (its gateway id). */
  chain: string;
  key: SigningKey;
  logger: Logger;
  /** block: a store failure fails the request; allow: the event is spooled to a file and retried. */
  failMode: 'block' | 'allow';
  dataDir: string;
  retentionDays: number;
  /** Sign a checkpoint after this many events, or after `checkpointMs` with new events, whichever comes first. */
  checkpointEvery?: number;
  checkpointMs?: number;
  /** Called after each commit (the shipper wakes up). */
  onCommit?: () => void;
  /**
   * SQLite only: journal events and ingest them into the chain on a worker thread (the store's file). A
   * request then waits for one journal write instead of a SQLite transaction.
   */
  journal?: { file: string };
  /** An anchor file outside the data dir: at start the chain must still hold its newest anchor before anything is signed. */
  anchorFile?: string;
  /** Journaled events waiting this long while the ingester makes no progress: stalled (health, log, metric). */
  stallAfterMs?: number;
}

/** The default for RecorderOptions.stallAfterMs: a hundred ingest rounds. */
export const DEFAULT_STALL_AFTER_MS = 10_000;

interface Pending {
  event: DecisionEvent;
  /** The event's canonical JSON. */
  body: string;
  blobs: ReadonlyMap<string, string> | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
}

function mergeBlobs(batch: readonly Pending[]): Map<string, string> | undefined {
  let out: Map<string, string> | undefined;
  for (const p of batch) if (p.blobs) for (const [h, t] of p.blobs) (out ??= new Map()).set(h, t);
  return out;
}

export class AuditStoreError extends Error {
  override name = 'AuditStoreError';
}

/**
 * Writes decision events with group commit: events arriving while a batch is being written go into the next
 * batch, so under load one transaction carries many events and each request still waits only until its own
 * event is durable. Batches are written one at a time, which keeps the chain in commit order.
 */
export class AuditRecorder {
  private queue: Pending[] = [];
  private writing = false;
  private scheduled = false;
  private sinceCheckpoint = 0;
  /** The newest (seq, hash) this gateway's key signed; the next checkpoint first checks it still holds. */
  private lastSigned: Signed | null = null;
  /** Set once the chain is found not to match what was signed or anchored: nothing is signed or pruned after. */
  private broken: Break | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly spoolFile: string;
  private spooled = 0;
  committed = 0;

  private journal: JournalWriter | undefined;
  private ingest: IngestThread | undefined;
  private ingestWaiters: Array<() => void> = [];
  private wakePending = false;
  private tickBusy = false;
  /** Hashes of the captured texts journaled lately (true: present). */
  private readonly journaledBlobs = new RecentMap<string, true>(20_000);
  private releaseJournal: (() => void) | undefined;
  private journaledSinceWake = false;
  private monitor: IngestMonitor | undefined;
  private lastIngestError: string | undefined;

  constructor(private readonly opts: RecorderOptions) {
    this.spoolFile = join(opts.dataDir, 'spool.ndjson');
  }

  async start(): Promise<void> {
    const { store, key } = this.opts;
    await store.registerKey({ key_id: key.keyId, public_key: key.publicKeyPem, created_at: new Date().toISOString() });
    const dir = join(this.opts.dataDir, JOURNAL_DIR);
    this.releaseJournal = this.opts.journal ? acquireJournalLock(dir) : undefined;
    if (this.opts.journal && !this.releaseJournal) {
      this.opts.logger.info('another gateway owns the journal in this data dir: writing events to the store directly');
    }
    if (this.opts.journal && this.releaseJournal) {
      // The writer starts after every segment a stored read position names (see JournalWriter).
      const readFrom = store instanceof SqliteEventStore ? [...storedPositions(store).values()] : [];
      this.journal = new JournalWriter(dir, readFrom);
      this.monitor = new IngestMonitor(this.opts.stallAfterMs ?? DEFAULT_STALL_AFTER_MS);
      this.ingest = new IngestThread(
        { file: this.opts.journal.file, dir, chain: this.opts.chain, active: this.journal.current },
        { ingested: (r) => this.ingested(r), error: (message, lag) => this.ingestFailed(message, lag) },
      );
      this.timers.push(setInterval(() => this.watchIngest(), Math.min(1000, this.opts.stallAfterMs ?? DEFAULT_STALL_AFTER_MS)).unref());
      // Whatever a previous run journaled but did not ingest goes in first.
      await this.caughtUp();
    }
    await this.drainSpool();
    // Events written by a previous run after its last checkpoint get signed now rather than waiting, if they check out.
    await this.signAtStart();
    await this.prune();
    const every = this.opts.checkpointMs ?? 10_000;
    this.timers.push(setInterval(() => void this.checkpoint().catch((err) => this.warn('checkpoint failed', err)), every).unref());
    this.timers.push(setInterval(() => void this.prune(), 3_600_000).unref());
    this.timers.push(setInterval(() => void this.drainSpool(), 2_000).unref());
  }

  /** An ingest round ended (also when nothing moved). */
  private ingested(r: DrainResult): void {
    this.monitor!.progressed(r);
    this.watchIngest();
    this.lastIngestError = undefined;
    this.wakePending = false;
    if (this.journaledSinceWake) {
      // Lines written while the worker was reading may not have been seen: go again.
      this.journaledSinceWake = false;
      this.wakePending = true;
      this.ingest?.wake(this.journal!.current);
    }
    for (const w of this.ingestWaiters.splice(0)) w();
    if (r.torn > 0) this.opts.logger.warn({ lines: r.torn }, 'skipped journal lines torn by a crash (their requests never completed)');
    if (r.rejected > 0) {
      this.opts.logger.error({ lines: r.rejected, kept_in: join(JOURNAL_DIR, 'rejected') }, 'journal lines that are not decision events were set aside; kt events verify reports them');
    }
    if (r.recovered > 0) {
      this.opts.logger.warn({ events: r.recovered }, 'journaled events behind the read position were missing from the chain: added now');
    }
    if (r.ingested === 0) return;
    this.committed += r.ingested;
    this.sinceCheckpoint += r.ingested;
    this.opts.onCommit?.();
    if (this.sinceCheckpoint >= (this.opts.checkpointEvery ?? 1000)) void this.checkpoint().catch((err) => this.warn('checkpoint failed', err));
  }

  /** The ingest thread failed a round: the events stay in the journal and the next round tries again. */
  private ingestFailed(message: string, lag?: { position: JournalPosition; pendingBytes: number }): void {
    this.monitor!.failed(message, lag);
    // Once per distinct failure, not once per retry (every second while the store refuses).
    if (message === this.lastIngestError) return;
    this.lastIngestError = message;
    this.opts.logger.warn({ err: message }, 'moving journaled events into the chain failed; retrying');
  }

  /** Logs a stall once when it starts and once when it ends. */
  private watchIngest(): void {
    const change = this.monitor?.transition();
    if (!change) return;
    const s = this.monitor!.status();
    const facts = { lag_records: s.lag.records, lag_bytes: s.lag.bytes, lag_seconds: s.lag.seconds, last_error: s.last_error };
    if (change === 'stalled') this.opts.logger.warn(facts, 'audit ingestion stalled: journaled events are not reaching the chain (they are kept in the journal)');
    else this.opts.logger.info(facts, 'audit ingestion resumed');
  }

  /** The ingest thread's progress, with the embedded store's journal; undefined otherwise. */
  ingestStatus(): IngestStatus | undefined {
    return this.monitor?.status();
  }

  /**
   * Resolves once the event is committed (or, with fail-mode allow, spooled); rejects with fail-mode block.
   * `alone`: no other request is being served, so nothing else could use this thread while a journal write
   * is handed to the thread pool.
   */
  record(built: DecisionEvent, captured?: ReadonlyMap<string, string>, alone = true): Promise<void> {
    if (this.closed) return Promise.reject(new AuditStoreError('the audit recorder is closed'));
    // Serialized once, here: the journal line carries these bytes, and the bound needs them measured.
    const { event, body, blobs } = boundEvent(built, captured && captured.size > 0 ? captured : undefined);
    if (event.truncated) {
      this.opts.logger.warn({ event_id: event.id, bytes: event.truncated.bytes, dropped: event.truncated.dropped }, 'a decision event was over the size bound and was cut to fit');
    }
    const texts = blobs;
    if (this.journal && alone && !this.tickBusy && !this.writing) {
      // A request that comes alone is written at once, on this thread: handing the write to the pool and
      // back would only add to its latency. Events finishing later in the same turn of the event loop
      // share the next write (group commit).
      this.tickBusy = true;
      setImmediate(() => (this.tickBusy = false));
      return new Promise((resolve, reject) => this.journalBatch([...this.queue.splice(0), { event, body, blobs: texts, resolve, reject }]));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ event, body, blobs: texts, resolve, reject });
      if (!this.writing && !this.scheduled) {
        this.scheduled = true;
        // setImmediate lets every request finishing in this turn of the event loop join the batch.
        setImmediate(() => {
          this.scheduled = false;
          void this.flush();
        });
      }
    });
  }

  private async flush(): Promise<void> {
    if (this.writing) return;
    if (this.journal) return this.journalQueued();
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const linked = await this.opts.store.append(
            this.opts.chain,
            batch.map((p) => p.event),
            mergeBlobs(batch),
          );
          this.committed += linked.length;
          this.sinceCheckpoint += linked.length;
          for (const p of batch) p.resolve();
          this.opts.onCommit?.();
          if (this.sinceCheckpoint >= (this.opts.checkpointEvery ?? 1000)) await this.checkpoint().catch((err) => this.warn('checkpoint failed', err));
        } catch (err) {
          this.failBatch(batch, err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Journals a batch with one write on this thread. */
  private journalBatch(batch: Pending[]): void {
    try {
      this.journal!.append(batch.map((p) => this.journalRecord(p)));
    } catch (err) {
      return this.journalFailed(batch, err);
    }
    this.journaled(batch);
  }

  /**
   * Journals everything queued with one write on the thread pool, while this thread serves other requests;
   * events queued meanwhile go in the next write, as soon as this one is done (one write at a time keeps
   * the journal in commit order).
   */
  private journalQueued(): void {
    if (this.writing || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.writing = true;
    let records;
    try {
      records = batch.map((p) => this.journalRecord(p));
    } catch (err) {
      this.writing = false;
      return this.journalFailed(batch, err);
    }
    this.journal!.appendAsync(records, (err) => {
      this.writing = false;
      if (err) this.journalFailed(batch, err);
      else this.journaled(batch);
      this.journalQueued();
    });
  }

  /** Fail-mode block fails the batch's requests; allow spools their events, as when the store fails. */
  private journalFailed(batch: Pending[], err: unknown): void {
    // Those texts did not reach the journal: the next event that captures them must carry them.
    for (const p of batch) for (const h of p.blobs?.keys() ?? []) this.journaledBlobs.delete(h);
    this.failBatch(batch, err);
  }

  private journaled(batch: Pending[]): void {
    this.monitor!.journaled(this.journal!.end, batch.length);
    for (const p of batch) p.resolve();
    // One wake-up per ingest round is enough: the worker reads everything journaled when it runs.
    if (!this.wakePending) {
      this.wakePending = true;
      this.ingest!.wake(this.journal!.current);
    } else {
      this.journaledSinceWake = true;
    }
  }

  private journalRecord(p: Pending): JournalRecord {
    return journalRecord(p.event, this.unseenBlobs(p.blobs), p.body);
  }

  /**
   * Blobs this process has not journaled lately: a conversation's history is captured every turn, and its
   * text needs to reach the store only once (the store ignores duplicates anyway).
   */
  private unseenBlobs(blobs: ReadonlyMap<string, string> | undefined): Map<string, string> | undefined {
    if (!blobs) return undefined;
    let out: Map<string, string> | undefined;
    for (const [h, text] of blobs) {
      if (this.journaledBlobs.has(h)) continue;
      this.journaledBlobs.set(h, true);
      (out ??= new Map()).set(h, text);
    }
    return out;
  }

  /** Resolves once the ingest thread has gone through what is journaled (or after a short wait). */
  caughtUp(timeoutMs = 2000): Promise<void> {
    if (!this.ingest) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.ingestWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.ingest!.wake(this.journal!.current, true);
    });
  }

  private failBatch(batch: Pending[], err: unknown): void {
    this.warn('writing decision events failed', err);
    if (this.opts.failMode === 'block') {
      for (const p of batch) p.reject(new AuditStoreError('the decision event could not be stored'));
      return;
    }
    try {
      appendFileSync(this.spoolFile, batch.map((p) => eventLine(p.event, p.blobs)).join(''), { mode: 0o600 });
      this.spooled += batch.length;
      for (const p of batch) p.resolve();
    } catch (spoolErr) {
      this.warn('spooling decision events failed', spoolErr);
      // Nothing more can be done to keep them; the request still goes through, as fail-mode allow asks.
      for (const p of batch) p.resolve();
    }
  }

  /** Move spooled events (written while the store failed) into the chain, oldest first. */
  private async drainSpool(): Promise<void> {
    // Direct to the store, batches and the spool take turns; the journal's writes never touch the store.
    if (!existsSync(this.spoolFile) || (this.writing && !this.journal)) return;
    const draining = `${this.spoolFile}.draining`;
    try {
      if (!existsSync(draining)) renameSync(this.spoolFile, draining);
      const entries = readFileSync(draining, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => parseEventLine(l));
      const events = entries.map((e) => e.event);
      const blobs = new Map<string, string>();
      for (const e of entries) for (const [h, t] of Object.entries(e.blobs ?? {})) blobs.set(h, t);
      const written = events.length > 0 ? await this.appendSpooled(events, blobs) : 0;
      unlinkSync(draining);
      if (written > 0) {
        this.opts.logger.info({ events: written }, 'spooled decision events written to the store');
        this.sinceCheckpoint += written;
        this.opts.onCommit?.();
      }
    } catch (err) {
      this.warn('spooled decision events could not be written yet', err);
    }
  }

  /**
   * Sign what a previous run left unsigned (it ended without its final checkpoint: a crash, kill -9), once it
   * checks out (checkBeforeSigning), and record that those seqs were adopted at a start rather than signed by
   * the run that wrote them: events added to the store or the journal while no gateway ran would look the same.
   * A chain that does not check out is not signed at all.
   */
  private async signAtStart(): Promise<void> {
    const { store, chain, key } = this.opts;
    const anchor = this.opts.anchorFile ? newestAnchor(this.opts.anchorFile, chain) : null;
    const found = await checkBeforeSigning(store, chain, key, anchor);
    this.lastSigned = found.lastSigned;
    if (found.problem) return this.markBroken(found.problem);
    const cp = await this.checkpoint();
    if (!cp || found.unsignedFrom === null || found.unsignedFrom > cp.seq) return;
    await store.addRecord(signRecord(key, { chain, kind: 'adopt', seq: cp.seq, hash: cp.hash, ts: cp.ts, detail: { from_seq: found.unsignedFrom } }));
    this.opts.logger.warn({ chain, from_seq: found.unsignedFrom, to_seq: cp.seq }, 'signed events a previous run left unsigned; kt events verify reports them as adopted at this start');
  }

  /**
   * Append spooled events, leaving out those the store already has: a connection lost while COMMIT was on its
   * way leaves the writer unsure whether the batch landed, and it was spooled all the same. Appended again,
   * such an event would fail on its id at every try and hold up everything spooled after it. Returns how many
   * events were appended.
   */
  private async appendSpooled(events: DecisionEvent[], blobs: ReadonlyMap<string, string>): Promise<number> {
    try {
      await this.opts.store.append(this.opts.chain, events, blobs);
      return events.length;
    } catch (err) {
      const missing: DecisionEvent[] = [];
      // In slices, so a long outage's spool does not queue thousands of lookups at once.
      for (let i = 0; i < events.length; i += 256) {
        const slice = events.slice(i, i + 256);
        const found = await Promise.all(slice.map((e) => this.opts.store.get(e.id)));
        slice.forEach((e, j) => {
          if (!found[j]) missing.push(e);
        });
      }
      if (missing.length === events.length) throw err;
      if (missing.length > 0) await this.opts.store.append(this.opts.chain, missing, blobs);
      return missing.length;
    }
  }

  /** Sign the chain's head if it moved since the last checkpoint, once what was signed last still holds. */
  async checkpoint(): Promise<Checkpoint | null> {
    if (this.broken) return null;
    const { store, chain, key } = this.opts;
    const head = await store.head(chain);
    const last = this.lastSigned;
    if (last && (head?.seq !== last.seq || head.hash !== last.hash)) {
      // Catches, while running, what no later check of the store can: the signed tail removed together with its
      // checkpoints and the seqs filled again by new events.
      const problem = await stillHolds(store, chain, last, head, 'this gateway signed');
      if (problem) {
        await this.markBroken(problem);
        return null;
      }
    }
    if (!head || head.seq <= (last?.seq ?? 0)) return null;
    const cp = signCheckpoint(key, { chain, seq: head.seq, hash: head.hash, ts: new Date().toISOString() });
    await store.addCheckpoint(cp);
    this.lastSigned = { seq: head.seq, hash: head.hash };
    this.sinceCheckpoint = 0;
    return cp;
  }

  /**
   * The chain no longer matches what this gateway signed or anchored. Signing on would bless the change, so it
   * stops (events are still recorded: requests keep their audit trail, and the break stays visible), says so
   * loudly, marks itself degraded in /health, and stores a signed break record for kt events verify and the
   * control plane.
   */
  private async markBroken(problem: Break): Promise<void> {
    if (this.broken) return;
    this.broken = problem;
    const { store, chain, key, logger } = this.opts;
    logger.error(
      { chain, seq: problem.seq, reason: problem.reason, detail: problem.message },
      'the audit chain no longer matches what this gateway signed or anchored: checkpoints are no longer signed and nothing is pruned; run kt events verify',
    );
    try {
      const head = await store.head(chain);
      const detail = { at_seq: problem.seq, reason: problem.reason, message: problem.message.slice(0, 1000) };
      await store.addRecord(signRecord(key, { chain, kind: 'break', seq: head?.seq ?? 0, hash: head?.hash ?? GENESIS_HASH, ts: new Date().toISOString(), detail }));
    } catch (err) {
      this.warn('storing the break record failed', err);
    }
  }

  private async prune(): Promise<void> {
    // A chain that does not match its signatures is evidence: nothing is deleted from it.
    if (this.broken) return;
    try {
      const { store, chain, key, retentionDays } = this.opts;
      // A bounded step at a time (PRUNE_BATCH), letting other writers in between, until nothing is past retention.
      for (let step = 0; step < 1000 && !this.closed; step++) {
        const { removed, record } = await store.prune(chain, { days: retentionDays }, (statement) => signRecord(key, statement));
        if (removed === 0) break;
        this.opts.logger.info({ removed, through_seq: record?.seq, retention_days: retentionDays }, 'pruned decision events past retention');
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      if (err instanceof PruneRefusedError) this.opts.logger.error({ err: err.message }, 'retention pruning refused');
      else this.warn('retention pruning failed', err);
    }
  }

  stats(): { committed: number; spooled: number; queued: number; integrity: { status: 'ok' } | ({ status: 'broken' } & Break) } {
    return { committed: this.committed, spooled: this.spooled, queued: this.queue.length, integrity: this.broken ? { status: 'broken', ...this.broken } : { status: 'ok' } };
  }

  /** Write what is queued, sign the head, stop timers. The store is closed by its owner. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    while (this.writing || this.queue.length > 0) {
      await this.flush();
      await new Promise((r) => setImmediate(r));
    }
    if (this.ingest) {
      this.journal!.close();
      await this.ingest.stop();
      this.ingest = undefined;
    }
    this.releaseJournal?.();
    await this.checkpoint().catch((err) => this.warn('final checkpoint failed', err));
  }

  private warn(message: string, err: unknown): void {
    // Error classes and messages from the store name tables and constraints, never event content.
    this.opts.logger.warn({ err: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'error' }, message);
  }
}
