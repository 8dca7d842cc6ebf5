import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../runtime/module-worker.js';
import { redactSecret, type RedisRequest, type RedisResponse, type RedisWorkerData } from './redis-protocol.js';

/**
 * Throws where ioredis's constructor would throw on the URL (its parseURL: redis:// and rediss:// URLs, `//host`,
 * a socket path, a port, or `host:port`), so a bad --redis-url still stops the gateway at start rather than
 * failing every request in the thread. A fresh error: Node's own carries the input, password included.
 */
export function checkRedisUrl(url: string): void {
  if (/^\d+$/.test(url) || (url.startsWith('/') && !url.startsWith('//'))) return;
  const full = /^rediss?:\/\//i.test(url) ? url : url.startsWith('//') ? `redis:${url}` : `redis://${url}`;
  if (!URL.canParse(full)) throw new TypeError('Invalid URL');
}

/** After an unexpected exit, calls fail at once for this long, then the next call starts the thread again. */
const RESTART_DELAY_MS = 1000;
/** close() waits this long for the calls before it and QUIT, then ends the thread all the same. */
const CLOSE_WAIT_MS = 3000;
/** A scan of every key of a budget may take many round trips; it is bounded by this instead. */
const SCAN_TIMEOUT_MS = 60_000;

type Op = RedisRequest['op'];
type ArgsOf<O extends Op> = Extract<RedisRequest, { op: O }>['args'];

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  deadline: number;
}

export interface RedisThreadOptions extends RedisWorkerData {
  /** Calls waiting for an answer at most; more fail at once (default 10,000). */
  maxInFlight?: number;
  /**
   * The longest a single-command call waits for the thread, should the thread stop answering (ioredis's own
   * commandTimeout answers first while the thread is healthy).
   */
  callTimeoutMs: number;
}

/**
 * The gateway thread's handle on a Redis client living in redis-worker.ts: each call is a message, answered
 * with the command's result or its error (same message as ioredis gives). The thread keeps the process alive
 * only while calls are waiting. If it exits (a crash, out of memory), the waiting calls fail with an error that
 * says so, calls fail for a second, and the next call starts a new thread.
 */
export class RedisThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private downSince = 0;
  private downReason = '';
  private readonly sweep: NodeJS.Timeout;
  private readonly maxInFlight: number;
  /** Calls of this turn of the event loop, posted together (one message, one wake-up of the thread). */
  private outbox: RedisRequest[] = [];

  constructor(private readonly opts: RedisThreadOptions) {
    checkRedisUrl(opts.url);
    this.maxInFlight = opts.maxInFlight ?? 10_000;
    this.worker = this.spawn();
    // One timer for every call's deadline rather than one per call.
    this.sweep = setInterval(() => this.expire(Date.now()), 250);
    this.sweep.unref();
  }

  /** Runs a script registered by name; KEYS and ARGV as EVALSHA takes them. */
  script(name: string, keys: string[], args: Array<string | number>): Promise<string> {
    return this.call('script', [name, keys, args]) as Promise<string>;
  }

  hget(key: string, field: string): Promise<string | null> {
    return this.call('hget', [key, field]) as Promise<string | null>;
  }

  /** [key, value of the hash field] for every key matching a SCAN pattern. */
  scanField(pattern: string, field: string): Promise<Array<[string, string | null]>> {
    return this.call('scanField', [pattern, field]) as Promise<Array<[string, string | null]>>;
  }

  async ping(): Promise<void> {
    await this.call('ping', []);
  }

  /** Tests: make the thread throw an uncaught error after `afterMs`, as a bug in it would. */
  crashForTests(afterMs = 0): void {
    void this.call('crash', [afterMs]).catch(() => {});
  }

  /** Waits for the calls made before it, quits the connection and ends the thread. Later calls fail. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const worker = this.worker;
      if (worker) {
        const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
        // The thread answers once QUIT is done; a thread that does not answer is ended all the same.
        const answered = this.post(worker, 'close', [], Date.now() + Math.min(CLOSE_WAIT_MS, this.opts.callTimeoutMs)).catch(() => {});
        await Promise.race([answered, exited]);
        await worker.terminate();
      }
      clearInterval(this.sweep);
      this.failAll(new Error('limits backend closed'));
    })();
    return this.closing;
  }

  private call<O extends Op>(op: O, args: ArgsOf<O>): Promise<unknown> {
    if (this.closing) return Promise.reject(new Error('limits backend closed'));
    if (this.pending.size >= this.maxInFlight) return Promise.reject(new Error(`too many Redis calls waiting (${this.maxInFlight})`));
    if (!this.worker) {
      if (Date.now() - this.downSince < RESTART_DELAY_MS) return Promise.reject(new Error(this.downReason));
      this.worker = this.spawn();
    }
    const timeout = op === 'scanField' ? SCAN_TIMEOUT_MS : this.opts.callTimeoutMs;
    return this.post(this.worker, op, args, Date.now() + timeout);
  }

  private post<O extends Op>(worker: Worker, op: O, args: ArgsOf<O>, deadline: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline });
      if (this.pending.size === 1) worker.ref();
      if (this.outbox.length === 0) setImmediate(() => this.flush());
      this.outbox.push({ id, op, args } as RedisRequest);
    });
  }

  /** The outbox holds only calls to the current thread: an exit empties it (and fails those calls). */
  private flush(): void {
    const batch = this.outbox;
    this.outbox = [];
    if (batch.length > 0) this.worker?.postMessage(batch);
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    return p;
  }

  private spawn(): Worker {
    const { url, options, scripts } = this.opts;
    const data: RedisWorkerData = { url, options, scripts };
    const worker = startModuleWorker(import.meta.url, 'redis-worker', data);
    worker.unref();
    let failure = '';
    worker.on('message', (batch: RedisResponse[]) => {
      for (const m of batch) {
        const p = this.settle(m.id);
        if (!p) continue;
        if (m.error) p.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
        else p.resolve(m.value);
      }
    });
    // An uncaught error in the thread; 'exit' follows.
    worker.on('error', (err) => (failure = `: ${redactSecret(err.message, url)}`.slice(0, 300)));
    worker.on('exit', (code) => {
      if (worker !== this.worker) return;
      this.worker = undefined;
      this.downSince = Date.now();
      this.downReason = `the Redis thread exited (code ${code}${failure})`;
      this.outbox = [];
      this.failAll(new Error(this.downReason));
    });
    return worker;
  }

  private failAll(err: Error): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const p of calls) p.reject(err);
  }

  private expire(now: number): void {
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.settle(id);
        p.reject(new Error('the Redis thread did not answer in time'));
      }
    }
  }
}
