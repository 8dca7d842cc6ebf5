import { Agent, request } from 'undici';
import { equalJitterMs } from '../providers/backoff.js';
import type { DecisionEvent } from '../audit/event.js';
import { newEventId } from '../audit/event.js';
import type { WebhookConfig } from '../config/schema.js';
import type { Logger } from '../gateway/logger.js';
import { VERSION } from '../version.js';
import type { DeliveryLog, DeliveryRecord } from './log.js';
import { payloadsOf, type WebhookPayload } from './payloads.js';
import { signedHeaders } from './sign.js';

/** A receiver with its secret read from the environment. */
export interface Receiver extends WebhookConfig {
  secret: string;
  /** The URL without its query string: what logs and the delivery log show. */
  shown: string;
}

interface Job {
  receiver: Receiver;
  body: string;
  record: DeliveryRecord;
}

export class WebhookConfigError extends Error {
  override name = 'WebhookConfigError';
}

/** Deliveries waiting (queued or between tries) at most; past it new ones are dropped and counted. */
export const DEFAULT_MAX_PENDING = 1_000;
const CONCURRENCY = 4;

/** The receivers of a config, secrets read from `env`; a missing secret is an error (never an unsigned delivery). */
export function receiversOf(hooks: readonly WebhookConfig[], env: NodeJS.ProcessEnv): Receiver[] {
  return hooks.map((h) => {
    const secret = env[h.secret_env];
    if (!secret) throw new WebhookConfigError(`webhook ${shownUrl(h.url)}: the environment variable ${h.secret_env} (its signing secret) is not set`);
    return { ...h, secret, shown: shownUrl(h.url) };
  });
}

function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/**
 * Webhook deliveries, off the request path: `notify` only builds small payloads and queues them (bounded), a
 * few deliveries run at once, and a failed try is retried after a jittered, doubling wait. Nothing here is
 * awaited by a request, and a full queue drops the newest delivery (logged, counted) rather than grow.
 */
export class WebhookDispatcher {
  private receivers: Receiver[] = [];
  private readonly queue: Job[] = [];
  private readonly waiting = new Set<NodeJS.Timeout>();
  private running = 0;
  private closed = false;
  private readonly agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });
  private readonly idle = new Set<() => void>();
  readonly counts = { queued: 0, delivered: 0, failed: 0, dropped: 0, retries: 0 };
  private warnedFull = false;

  constructor(
    private readonly opts: { logger: Logger; log?: DeliveryLog | undefined; maxPending?: number; onLogError?: (err: unknown) => void },
  ) {}

  configure(receivers: Receiver[]): void {
    this.receivers = receivers;
  }

  get active(): boolean {
    return this.receivers.length > 0;
  }

  get pending(): number {
    return this.queue.length + this.waiting.size + this.running;
  }

  /** Queue the deliveries a decision event calls for. Never throws, never waits. */
  notify(event: DecisionEvent): void {
    if (this.closed || this.receivers.length === 0) return;
    let payloads: ReturnType<typeof payloadsOf>;
    try {
      payloads = payloadsOf(event);
    } catch {
      return;
    }
    for (const p of payloads) {
      for (const receiver of this.receivers) {
        if (!receiver.events.includes(p.type)) continue;
        const id = newEventId().replace('evt_', 'dlv_');
        const now = new Date().toISOString();
        const payload: WebhookPayload = { id, type: p.type, created_at: now, gateway_id: event.gateway_id, data: p.data };
        const record: DeliveryRecord = {
          id,
          receiver: receiver.shown,
          type: p.type,
          event_id: event.id,
          state: 'pending',
          attempts: 0,
          last_status: null,
          last_error: null,
          created_at: now,
          updated_at: now,
          next_attempt_at: now,
        };
        if (this.pending >= (this.opts.maxPending ?? DEFAULT_MAX_PENDING)) {
          this.counts.dropped++;
          this.writeLog({ ...record, state: 'dropped', last_error: 'queue full' });
          this.opts.logger[this.warnedFull ? 'debug' : 'warn']({ receiver: receiver.shown, pending: this.pending }, 'webhook queue full: delivery dropped (recorded in the delivery log)');
          this.warnedFull = true;
          continue;
        }
        this.counts.queued++;
        this.queue.push({ receiver, body: JSON.stringify(payload), record });
        this.writeLog(record);
      }
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running < CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      void this.attempt(job).finally(() => {
        this.running--;
        this.pump();
        if (this.pending === 0) for (const f of this.idle) f();
      });
    }
  }

  private async attempt(job: Job): Promise<void> {
    const { receiver, record } = job;
    record.attempts++;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const res = await request(receiver.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': `keeptrusts-webhooks/${VERSION}`, ...signedHeaders(receiver.secret, record.id, job.body) },
        body: job.body,
        dispatcher: this.agent,
        headersTimeout: receiver.timeout_ms,
        bodyTimeout: receiver.timeout_ms,
        signal: AbortSignal.timeout(receiver.timeout_ms),
      });
      status = res.statusCode;
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (status < 200 || status >= 300) error = `status ${status}`;
    } catch (err) {
      error = failureClass(err);
    }
    const now = new Date();
    record.last_status = status;
    record.last_error = error;
    record.updated_at = now.toISOString();
    if (error === null) {
      record.state = 'delivered';
      record.next_attempt_at = null;
      this.counts.delivered++;
      this.writeLog(record);
      return;
    }
    if (record.attempts >= receiver.max_attempts || this.closed) {
      record.state = 'failed';
      record.next_attempt_at = null;
      this.counts.failed++;
      this.writeLog(record);
      this.opts.logger.warn({ receiver: receiver.shown, delivery: record.id, attempts: record.attempts, error }, 'webhook delivery failed');
      return;
    }
    const wait = backoff(receiver, record.attempts);
    record.next_attempt_at = new Date(now.getTime() + wait).toISOString();
    this.writeLog(record);
    this.counts.retries++;
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      if (this.closed) return;
      this.queue.push(job);
      this.pump();
    }, wait);
    timer.unref();
    this.waiting.add(timer);
  }

  private writeLog(record: DeliveryRecord): void {
    const log = this.opts.log;
    if (!log) return;
    log.write({ ...record }).catch((err: unknown) => this.opts.onLogError?.(err));
  }

  /** Resolves when nothing is queued, in flight or waiting for a retry, or after `ms`. */
  drained(ms: number): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.idle.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.idle.add(done);
    });
  }

  /** Deliveries in flight get `graceMs` to finish; those waiting for a retry are recorded as failed. */
  async close(graceMs = 2_000): Promise<void> {
    if (this.queue.length > 0 || this.running > 0) await this.drained(graceMs);
    this.closed = true;
    for (const t of this.waiting) clearTimeout(t);
    this.waiting.clear();
    // Past the grace period nothing is worth waiting for: tries still in flight are cut.
    await this.agent.destroy().catch(() => undefined);
  }
}

/** Equal jitter: between half and all of the doubled backoff, capped (so receivers coming back are not stampeded). */
export function backoff(r: Pick<WebhookConfig, 'initial_backoff_ms' | 'max_backoff_ms'>, attempts: number): number {
  return equalJitterMs(attempts, r.initial_backoff_ms, r.max_backoff_ms);
}

function failureClass(err: unknown): string {
  const e = err as { code?: string; name?: string };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  return (e?.code ?? e?.name ?? 'error').slice(0, 60);
}
