/*
 * The Redis client of a RedisLimitEngine, in its own thread (started by redis-thread.ts). ioredis's RESP decoder
 * declares a subclass of String, and once an isolate has one, V8 reads every string in it more slowly: here it
 * costs only this thread, never the gateway's detectors (docs/benchmarks.md).
 *
 * Protocol: the main thread posts batches of {id, op, args}; each gets one {id, value} or {id, error: {name,
 * message}}, in batches as well. Commands run in the order they arrive; `close` waits for the commands before
 * it, quits the connection, answers, and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Redis, type RedisOptions } from 'ioredis';
import { redactSecret, type RedisRequest, type RedisResponse, type RedisWorkerData } from './redis-protocol.js';

const data = workerData as RedisWorkerData;
const port = parentPort!;

type Script = (numKeys: number, ...args: Array<string | number>) => Promise<string>;
const redis = new Redis(data.url, data.options as RedisOptions) as Redis & Record<string, Script>;
// ioredis reports connection errors as events; the commands fail on their own and carry the error back.
redis.on('error', () => {});
for (const [name, lua] of Object.entries(data.scripts)) redis.defineCommand(name, { lua });

/** The calls not answered yet; close waits for them. */
const inflight = new Set<Promise<unknown>>();

/** Every value under a key prefix with its hash field (SCAN, then one pipeline of HGETs). */
async function scanField(pattern: string, field: string): Promise<Array<[string, string | null]>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const k of keys) pipeline.hget(k, field);
  const results = (await pipeline.exec()) ?? [];
  // A key whose HGET failed (another type under our prefix) reads as no spend, as before the thread.
  return keys.map((k, i) => [k, (results[i]?.[1] as string | null | undefined) ?? null]);
}

async function run(req: RedisRequest): Promise<unknown> {
  switch (req.op) {
    case 'script': {
      const [name, keys, args] = req.args;
      const fn = redis[name];
      if (typeof fn !== 'function') throw new Error(`no script ${name}`);
      return fn.call(redis, keys.length, ...keys, ...args);
    }
    case 'hget':
      return redis.hget(req.args[0], req.args[1]);
    case 'scanField':
      return scanField(req.args[0], req.args[1]);
    case 'ping':
      return redis.ping();
    case 'crash':
      // Tests only: an uncaught error, as a bug in this thread would give.
      setTimeout(() => {
        throw new Error('redis thread crash (test)');
      }, req.args[0]);
      return new Promise(() => {});
    case 'close':
      // The calls before it first: QUIT right behind an EVALSHA would close the connection before ioredis
      // retries a script Redis did not know yet (NOSCRIPT, then EVAL).
      await Promise.allSettled([...inflight]);
      try {
        await redis.quit();
      } catch {
        redis.disconnect();
      }
      return null;
  }
}

/*
 * Answers go out in batches, once per turn of the event loop: one reply from Redis often resolves several
 * commands, and each message costs both threads a wake-up and a copy.
 */
let outbox: RedisResponse[] = [];
function flush(): void {
  const batch = outbox;
  outbox = [];
  if (batch.length > 0) port.postMessage(batch);
}
function answer(response: RedisResponse): void {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(response);
}

function handle(req: RedisRequest): void {
  const running = run(req);
  if (req.op !== 'close' && req.op !== 'crash') {
    inflight.add(running);
    const forget = () => inflight.delete(running);
    running.then(forget, forget);
  }
  running.then(
    (value) => {
      answer({ id: req.id, value });
      if (req.op === 'close') {
        flush();
        port.close();
      }
    },
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      // Never the URL's password, should a message ever carry it.
      answer({ id: req.id, error: { name: e.name, message: redactSecret(e.message, data.url) } });
    },
  );
}

port.on('message', (batch: RedisRequest[]) => {
  for (const req of batch) handle(req);
});
