import type { Logger } from '../../gateway/logger.js';
import { equalJitterMs } from '../../providers/backoff.js';
import { Alarm } from '../alarm.js';
import type { EventStore } from '../store.js';
import { exportRecord, type ExportRecord } from './record.js';

/** What a sink says about one batch. `fatal` stops this sink until the next start (the cursor stays put). */
export type SendOutcome = { kind: 'ok' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'fatal'; error: string } | { kind: 'smaller'; error: string };

/** One destination. `send` resolves once the destination has the whole batch (as far as its protocol can say). */
export interface ExportSink {
  readonly type: 'https' | 'syslog' | 'otlp';
  /** Where it sends, without credentials, for logs and /health. */
  readonly target: string;
  send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome>;
  close(): Promise<void>;
}

export interface ExporterOptions {
  name: string;
  store: EventStore;
  chain: string;
  sink: ExportSink;
  logger: Logger;
  batchSize?: number;
  pollMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long `stop()` keeps exporting what is left (the rest goes after the next start). */
  stopDeadlineMs?: number;
}

export type ExportState = 'stopped' | 'starting' | 'idle' | 'sending' | 'backoff' | 'failed';

export interface ExportStats {
  name: string;
  type: ExportSink['type'];
  target: string;
  state: ExportState;
  /** The highest seq of this gateway's chain the sink has taken. */
  exported_seq: number;
  /** Events in the chain not yet taken, as of the last look at the head. */
  lag_events: number;
  /** Age of the oldest event not yet taken (0 when caught up). */
  lag_seconds: number;
  /** Events taken and failed deliveries since start. */
  sent: number;
  errors: number;
  last_error?: string;
  last_sent_at?: string;
}

/** The store meta key of a sink's read position: per sink and per chain, so sinks never share progress. */
export function cursorKey(name: string, chain: string): string {
  return `exported:${name}:${chain}`;
}

/**
 * Delivers one gateway's chain to one sink, in chain order, at least once. The store is the spool (events are
 * durable there before a client is answered), so nothing is buffered beyond one batch in memory; the read
 * position (`exported:<sink>:<chain>` in the store's meta) moves only after the sink took a batch, so a
 * crash or an outage re-sends at most the batch in flight, and receivers deduplicate on `event_id`.
 * Requests never wait for it: the recorder only calls `notify()`.
 */
export class EventExporter {
  private readonly key: string;
  private batchSize: number;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private deadline = Infinity;
  private notified = false;
  private readonly alarm = new Alarm();
  private failures = 0;
  private current: ExportStats;

  constructor(private readonly opts: ExporterOptions) {
    this.key = cursorKey(opts.name, opts.chain);
    this.batchSize = Math.min(Math.max(opts.batchSize ?? 200, 1), 1000);
    this.current = { name: opts.name, type: opts.sink.type, target: opts.sink.target, state: 'stopped', exported_seq: 0, lag_events: 0, lag_seconds: 0, sent: 0, errors: 0 };
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.deadline = Infinity;
    this.abort = new AbortController();
    this.current.state = 'starting';
    this.loop = this.run().catch((err: unknown) => {
      this.current.state = 'failed';
      this.current.last_error = errorText(err);
      this.opts.logger.error({ sink: this.opts.name, err: this.current.last_error }, 'event export stopped on an unexpected error; events stay in the store');
    });
  }

  notify(): void {
    this.notified = true;
    if (this.current.state === 'idle') this.alarm.ring();
  }

  async stop(): Promise<void> {
    if (this.loop) {
      this.stopping = true;
      const deadlineMs = this.opts.stopDeadlineMs ?? 2_000;
      this.deadline = Date.now() + deadlineMs;
      this.alarm.ring();
      const timer = setTimeout(() => this.abort.abort(), deadlineMs);
      try {
        await this.loop;
      } finally {
        clearTimeout(timer);
        this.loop = undefined;
      }
    }
    await this.opts.sink.close().catch(() => {});
    if (this.current.state !== 'failed') this.current.state = 'stopped';
  }

  stats(): ExportStats {
    return { ...this.current };
  }

  private async run(): Promise<void> {
    const { logger, name, sink } = this.opts;
    this.current.exported_seq = Number(await this.opts.store.getMeta(this.key)) || 0;
    logger.info({ sink: name, type: sink.type, target: sink.target, exported_seq: this.current.exported_seq }, 'exporting decision events');
    while (!this.stopping || Date.now() < this.deadline) {
      let outcome: SendOutcome | { kind: 'idle' };
      try {
        this.current.state = 'sending';
        outcome = await this.sendOnce();
      } catch (err) {
        outcome = { kind: 'retry', error: errorText(err) };
      }
      if (outcome.kind === 'ok') {
        if (this.failures > 0) logger.info({ sink: name, attempts: this.failures, exported_seq: this.current.exported_seq }, 'export sink reachable again');
        this.failures = 0;
        continue;
      }
      if (outcome.kind === 'smaller' && this.batchSize > 1) {
        this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
        logger.warn({ sink: name, batch_size: this.batchSize }, `export sink refused a batch as too large (${outcome.error}); sending smaller batches`);
        continue;
      }
      if (outcome.kind === 'fatal' || outcome.kind === 'smaller') {
        this.current.state = 'failed';
        this.current.errors++;
        this.current.last_error = outcome.error;
        logger.error({ sink: name, target: sink.target, exported_seq: this.current.exported_seq }, `event export stopped: ${outcome.error}; events stay in the store and export after a restart`);
        return;
      }
      if (this.stopping) {
        if (outcome.kind === 'idle' && this.notified) continue;
        return;
      }
      if (outcome.kind === 'idle') {
        this.current.state = 'idle';
        await this.wait(this.opts.pollMs ?? 2_000, true);
        continue;
      }
      this.failures++;
      this.current.errors++;
      this.current.last_error = outcome.error;
      this.current.state = 'backoff';
      const max = this.opts.maxBackoffMs ?? 30_000;
      const delay = Math.max(this.backoff(this.failures), Math.min(outcome.retryAfterMs ?? 0, max));
      if (this.failures === 1 || this.failures % 10 === 0) {
        logger.warn({ sink: name, target: sink.target, err: outcome.error, attempt: this.failures, retry_in_ms: delay, lag_events: this.current.lag_events }, 'exporting events failed; retrying');
      }
      await this.wait(delay, false);
    }
  }

  private async sendOnce(): Promise<SendOutcome | { kind: 'idle' }> {
    const { store, chain } = this.opts;
    this.notified = false;
    const from = this.current.exported_seq;
    const records: ExportRecord[] = [];
    for await (const e of store.scan(chain, from + 1, this.batchSize)) {
      records.push(exportRecord(e));
      if (records.length >= this.batchSize) break;
    }
    if (records.length === 0) {
      this.current.lag_events = 0;
      this.current.lag_seconds = 0;
      return { kind: 'idle' };
    }
    if (records[0]!.seq > from + 1) {
      this.opts.logger.warn({ sink: this.opts.name, from_seq: from + 1, to_seq: records[0]!.seq - 1 }, 'events were pruned from the store before they were exported');
    }
    const head = await store.head(chain);
    this.current.lag_events = Math.max(0, (head?.seq ?? 0) - from);
    this.current.lag_seconds = Math.max(0, Math.round((Date.now() - Date.parse(records[0]!.event.ts)) / 1000));
    const outcome = await this.opts.sink.send(records, this.abort.signal);
    if (outcome.kind !== 'ok') return outcome;
    const upTo = records[records.length - 1]!.seq;
    await store.setMeta(this.key, String(upTo));
    this.current.exported_seq = upTo;
    this.current.sent += records.length;
    this.current.last_sent_at = new Date().toISOString();
    this.current.lag_events = Math.max(0, (head?.seq ?? upTo) - upTo);
    if (this.current.lag_events === 0) this.current.lag_seconds = 0;
    return outcome;
  }

  private backoff(attempt: number): number {
    return equalJitterMs(attempt, this.opts.minBackoffMs ?? 500, this.opts.maxBackoffMs ?? 30_000);
  }

  private wait(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (this.stopping || (wakeOnNotify && this.notified)) return Promise.resolve();
    return this.alarm.sleep(ms);
  }
}

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err).slice(0, 300);
  const code = (err as NodeJS.ErrnoException).code;
  return `${code ?? err.name}: ${err.message}`.slice(0, 300);
}
