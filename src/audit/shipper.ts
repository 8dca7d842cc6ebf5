import { promisify } from 'node:util';
import { equalJitterMs } from '../providers/backoff.js';
import { gzip as gzipCallback } from 'node:zlib';
import { Agent, request } from 'undici';
import type { Logger } from '../gateway/logger.js';
import { Alarm } from './alarm.js';
import { blobRefs } from './blobs.js';
import type { ChainedEvent, ChainRecord, Checkpoint } from './chain.js';
import type { EventStore, PublicKeyRecord } from './store.js';

const gzip = promisify(gzipCallback);

export interface ShipperOptions {
  /** The gateway's own store: it is the spool, so nothing is kept anywhere else. */
  store: EventStore;
  /** The gateway's chain (its gateway id); the control plane only accepts this chain from its token. */
  chain: string;
  apiUrl: string;
  token: string;
  logger: Logger;
  publicKey: PublicKeyRecord;
  /** Events per request, at most 500. */
  batchSize?: number;
  /** Stop adding events to a request past this many bytes of bodies (the control plane takes 32 MiB). */
  maxBatchBytes?: number;
  /** Look for new events this often even without `notify()`. */
  pollMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  requestTimeoutMs?: number;
  /** How long `stop()` keeps shipping what is left before giving up (the rest ships on the next start). */
  stopDeadlineMs?: number;
}

export type ShipperState = 'stopped' | 'starting' | 'idle' | 'shipping' | 'backoff' | 'failed';

export interface ShipperStats {
  state: ShipperState;
  /** The highest seq the control plane has acknowledged. */
  shippedSeq: number;
  /** Events in the local chain not yet acknowledged, as of the last look at the head. */
  pending?: number;
  lastError?: string;
  /** Events the control plane stored, and events it already had, since this shipper started. */
  sent: number;
  duplicates: number;
  lastShippedAt?: string;
}

type Outcome = { kind: 'shipped' } | { kind: 'idle' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'fatal'; error: string };

export const MAX_SHIP_BATCH = 500;

/**
 * Ships a gateway's chain to the control plane in chain order. The cursor (`shipped:<chain>` in the local
 * store's meta) moves only after the control plane answered 2xx, so a crash or an outage re-sends at most the
 * batch in flight, and the control plane drops what it already has. Checkpoints are signed after the events
 * they cover, so they have a cursor of their own (`shipped-checkpoint:<chain>`).
 */
export class EventShipper {
  private readonly endpoint: string;
  private readonly safeUrl: string;
  private readonly cursorKey: string;
  private readonly checkpointKey: string;
  private readonly recordsKey: string;
  private batchSize: number;
  private agent: Agent | undefined;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private deadline = Infinity;
  private notified = false;
  private readonly alarm = new Alarm();
  private shippedSeq = 0;
  private shippedCheckpoint = 0;
  /** Records are append-only and read in the order they were stored: the count shipped is the cursor. */
  private shippedRecords = 0;
  private current: ShipperStats = { state: 'stopped', shippedSeq: 0, sent: 0, duplicates: 0 };
  private failures = 0;

  constructor(private readonly opts: ShipperOptions) {
    const base = apiBase(opts.apiUrl);
    this.endpoint = `${base}/v1/events`;
    this.safeUrl = base;
    this.cursorKey = `shipped:${opts.chain}`;
    this.checkpointKey = `shipped-checkpoint:${opts.chain}`;
    this.recordsKey = `shipped-records:${opts.chain}`;
    this.batchSize = Math.min(Math.max(opts.batchSize ?? MAX_SHIP_BATCH, 1), MAX_SHIP_BATCH);
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.deadline = Infinity;
    this.abort = new AbortController();
    this.agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });
    this.current.state = 'starting';
    this.loop = this.run().catch((err: unknown) => {
      this.current.state = 'failed';
      this.current.lastError = errorText(err);
      this.opts.logger.error({ err: this.current.lastError, chain: this.opts.chain }, 'event shipping stopped on an unexpected error; events stay in the local store');
    });
  }

  /** New events were committed: ship them now rather than at the next poll (not while backing off). */
  notify(): void {
    this.notified = true;
    if (this.current.state === 'idle') this.alarm.ring();
  }

  /** Ship what is left within the stop deadline, then stop. What did not make it ships on the next start. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping = true;
    const deadlineMs = this.opts.stopDeadlineMs ?? 3_000;
    this.deadline = Date.now() + deadlineMs;
    this.alarm.ring();
    const timer = setTimeout(() => this.abort.abort(), deadlineMs);
    try {
      await this.loop;
    } finally {
      clearTimeout(timer);
      this.loop = undefined;
      await this.agent?.destroy().catch(() => {});
      this.agent = undefined;
      if (this.current.state !== 'failed') this.current.state = 'stopped';
    }
  }

  stats(): ShipperStats {
    return { ...this.current, shippedSeq: this.shippedSeq };
  }

  private async run(): Promise<void> {
    const { store, logger, chain } = this.opts;
    this.shippedSeq = Number(await store.getMeta(this.cursorKey)) || 0;
    this.shippedCheckpoint = Number(await store.getMeta(this.checkpointKey)) || 0;
    this.shippedRecords = Number(await store.getMeta(this.recordsKey)) || 0;
    logger.info({ chain, api_url: this.safeUrl, shipped_seq: this.shippedSeq }, 'shipping decision events to the control plane');
    while (!this.stopping || Date.now() < this.deadline) {
      let outcome: Outcome;
      try {
        this.current.state = 'shipping';
        outcome = await this.shipOnce();
      } catch (err) {
        outcome = { kind: 'retry', error: errorText(err) };
      }
      if (outcome.kind === 'shipped') {
        if (this.failures > 0) logger.info({ chain, attempts: this.failures, shipped_seq: this.shippedSeq }, 'control plane reachable again; shipping resumed');
        this.failures = 0;
        continue;
      }
      if (outcome.kind === 'fatal') {
        this.current.state = 'failed';
        this.current.lastError = outcome.error;
        logger.error({ chain, api_url: this.safeUrl, shipped_seq: this.shippedSeq }, `event shipping stopped: ${outcome.error}; events stay in the local store and ship after a restart`);
        return;
      }
      if (this.stopping) {
        // Events committed while the last read ran (notify() since) still go out before stopping.
        if (outcome.kind === 'idle' && this.notified) continue;
        return;
      }
      if (outcome.kind === 'idle') {
        this.current.state = 'idle';
        await this.wait(this.opts.pollMs ?? 3_000, true);
        continue;
      }
      this.failures++;
      this.current.lastError = outcome.error;
      this.current.state = 'backoff';
      const delay = Math.max(this.backoff(this.failures), Math.min(outcome.retryAfterMs ?? 0, this.opts.maxBackoffMs ?? 30_000));
      // The first failure, then every tenth: an outage of minutes should not fill the log.
      if (this.failures === 1 || this.failures % 10 === 0) {
        logger.warn({ chain, api_url: this.safeUrl, err: outcome.error, attempt: this.failures, retry_in_ms: delay, pending: this.current.pending }, 'shipping events failed; retrying');
      }
      await this.wait(delay, false);
    }
  }

  /** One request: the next events after the cursor and the checkpoints not yet sent up to them. */
  private async shipOnce(): Promise<Outcome> {
    const { store, chain } = this.opts;
    // Cleared before reading: a notify() from here on means events this read may have missed.
    this.notified = false;
    const events: ChainedEvent[] = [];
    const refs: string[] = [];
    const maxBytes = this.opts.maxBatchBytes ?? 8 * 1024 * 1024;
    let bytes = 0;
    for await (const e of store.scan(chain, this.shippedSeq + 1, this.batchSize)) {
      if (events.length > 0 && bytes + e.body.length > maxBytes) break;
      events.push({ chain: e.chain, seq: e.seq, id: e.id, body: e.body, prev_hash: e.prev_hash, hash: e.hash });
      refs.push(...blobRefs(e.event));
      bytes += e.body.length + 300;
      if (events.length >= this.batchSize) break;
    }
    const upTo = events.length ? events[events.length - 1]!.seq : this.shippedSeq;
    const checkpoints = (await store.checkpoints(chain)).filter((cp) => cp.seq > this.shippedCheckpoint && cp.seq <= upTo).slice(0, 5_000);
    // In stored order, up to the first one about events not shipped yet.
    const records: ChainRecord[] = [];
    for (const r of (await store.records(chain)).slice(this.shippedRecords, this.shippedRecords + 5_000)) {
      if (r.seq > upTo) break;
      records.push(r);
    }
    if (events.length === 0 && checkpoints.length === 0 && records.length === 0) {
      this.current.pending = 0;
      return { kind: 'idle' };
    }
    if (events[0] && events[0].seq > this.shippedSeq + 1) {
      this.opts.logger.warn({ chain, from_seq: this.shippedSeq + 1, to_seq: events[0].seq - 1 }, 'events were pruned locally before they were shipped');
    }
    // The captured texts these events refer to travel with them (the control plane ignores ones it has).
    const blobs = refs.length > 0 ? Object.fromEntries(await store.getBlobs(refs)) : undefined;
    return this.post(events, checkpoints, records, blobs);
  }

  private async post(events: ChainedEvent[], checkpoints: Checkpoint[], records: ChainRecord[], blobs?: Record<string, string>): Promise<Outcome> {
    const body = await gzip(JSON.stringify({ events, checkpoints, keys: [this.opts.publicKey], ...(records.length ? { records } : {}), ...(blobs ? { blobs } : {}) }));
    const timeout = this.opts.requestTimeoutMs ?? 30_000;
    const res = await request(this.endpoint, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.opts.token}`,
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'user-agent': 'keeptrusts-gateway',
      },
      body,
      dispatcher: this.agent!,
      signal: this.abort.signal,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    const text = await res.body.text();
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      const ack = safeJson(text) as { inserted?: number; duplicates?: number } | undefined;
      if (events.length) {
        this.shippedSeq = events[events.length - 1]!.seq;
        await this.opts.store.setMeta(this.cursorKey, String(this.shippedSeq));
      }
      if (checkpoints.length) {
        this.shippedCheckpoint = Math.max(this.shippedCheckpoint, ...checkpoints.map((cp) => cp.seq));
        await this.opts.store.setMeta(this.checkpointKey, String(this.shippedCheckpoint));
      }
      if (records.length) {
        this.shippedRecords += records.length;
        await this.opts.store.setMeta(this.recordsKey, String(this.shippedRecords));
      }
      this.current.sent += ack?.inserted ?? 0;
      this.current.duplicates += ack?.duplicates ?? 0;
      this.current.lastShippedAt = new Date().toISOString();
      const head = await this.opts.store.head(this.opts.chain);
      this.current.pending = Math.max(0, (head?.seq ?? 0) - this.shippedSeq);
      return { kind: 'shipped' };
    }
    const detail = errorDetail(text, status);
    if (status === 401 || status === 403) {
      return { kind: 'fatal', error: `the control plane refused this gateway's token (${detail}); check KEEPTRUSTS_GATEWAY_TOKEN and that the token was created for gateway ${this.opts.chain}` };
    }
    if (status === 409) {
      return { kind: 'fatal', error: `the control plane's copy of chain ${this.opts.chain} disagrees with this gateway's (${detail}); an operator must look at both` };
    }
    if (status === 413 && events.length > 1) {
      this.batchSize = Math.max(1, Math.floor(events.length / 2));
      return { kind: 'retry', error: `${detail}; sending ${this.batchSize} events per request from now on`, retryAfterMs: 0 };
    }
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfter = Number(res.headers['retry-after']);
      return { kind: 'retry', error: detail, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
    }
    return { kind: 'fatal', error: `the control plane rejected a batch (${detail})` };
  }

  /** Capped exponential backoff with jitter: half fixed, half random, so restarted gateways spread out. */
  private backoff(attempt: number): number {
    return equalJitterMs(attempt, this.opts.minBackoffMs ?? 250, this.opts.maxBackoffMs ?? 30_000);
  }

  /** Sleep until the delay passes or stop(); also on notify() when `wakeOnNotify` (idle, not backing off). */
  private wait(ms: number, wakeOnNotify: boolean): Promise<void> {
    if (this.stopping || (wakeOnNotify && this.notified)) return Promise.resolve();
    return this.alarm.sleep(ms);
  }
}

/** The control plane's base URL: without a trailing slash or a trailing /v1, which users often paste. */
export function apiBase(apiUrl: string, label = 'KEEPTRUSTS_API_URL'): string {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new Error(`${label} is not a URL: expected e.g. http://127.0.0.1:41003`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${label} must be an http:// or https:// URL`);
  // A URL with user:password@ would be logged; the token has its own variable.
  if (url.username || url.password) throw new Error(`${label} must not hold credentials; pass the token separately`);
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return `${url.origin}${path}`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `409 chain_conflict: message` from the control plane's error body; it never holds the token. */
function errorDetail(text: string, status: number): string {
  const err = (safeJson(text) as { error?: { type?: string; message?: string } } | undefined)?.error;
  return err ? `${status} ${err.type ?? 'error'}: ${String(err.message ?? '').slice(0, 300)}` : `HTTP ${status}`;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return `${code ?? err.name}: ${err.message}`.slice(0, 300);
}
