/**
 * One "gateway" for test/e2e/limits-shared.test.ts: a RedisLimitEngine over a shared prefix, running `workers`
 * loops of admit → hold → settle(fixed cost) until `durationMs` has passed, printing one JSON line per event.
 * Its clock is virtual (`baseMs` + time since `startAt`) so periods and Retry-After are deterministic.
 *
 *   node --import tsx test/helpers/limits-worker.ts '<json WorkerSpec>'
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { budgetsSchema, rateLimitsSchema } from '../../src/config/schema.js';
import { RedisLimitEngine } from '../../src/usage/limits/index.js';

export interface WorkerSpec {
  name: string;
  redisUrl: string;
  keyPrefix: string;
  budgets: unknown[];
  rate_limits: unknown[];
  workers: number;
  /** Wall-clock ms at which every process starts its loops. */
  startAt: number;
  /** Virtual time at startAt. */
  baseMs: number;
  durationMs: number;
  holdMs: number;
  costUsd: number;
  tokens: number;
  /** Developer of each attempt, in turn. */
  developers: string[];
  denyPauseMs: number;
}

export type WorkerLine =
  | { t: 'admit'; p: string; id: string; dev: string; now: number }
  | { t: 'deny'; p: string; dev: string; now: number; code: string; limit: string; retryAfterSec: number }
  | { t: 'settle'; p: string; id: string; dev: string; cost: number; start: number; end: number; alerts: number[] }
  | { t: 'done'; p: string };

const spec = JSON.parse(process.argv[2]!) as WorkerSpec;
const engine = new RedisLimitEngine(
  { budgets: budgetsSchema.parse(spec.budgets), rate_limits: rateLimitsSchema.parse(spec.rate_limits) },
  { url: spec.redisUrl, keyPrefix: spec.keyPrefix, onBackendError: 'block' },
);
const print = (line: WorkerLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
const clock = () => spec.baseMs + (Date.now() - spec.startAt);

let turn = 0;
async function loop(): Promise<void> {
  const end = spec.startAt + spec.durationMs;
  while (Date.now() < end) {
    const dev = spec.developers[turn++ % spec.developers.length]!;
    const who = { developer: dev, repository: null, team: null, key: null };
    const now = clock();
    const a = await engine.admit(who, spec.tokens, now);
    if (!a.ok) {
      if (a.code === 'limits_unavailable') throw new Error(a.message);
      print({ t: 'deny', p: spec.name, dev, now, code: a.code, limit: a.limit, retryAfterSec: a.retryAfterSec });
      await sleep(spec.denyPauseMs);
      continue;
    }
    print({ t: 'admit', p: spec.name, id: a.lease.id, dev, now });
    // The observed interval lies inside the time the slot is held: it starts after admit, ends before settle.
    const start = Date.now();
    await sleep(spec.holdMs);
    const stop = Date.now();
    const { alerts, error } = await engine.settle(a.lease, { costUsd: spec.costUsd, tokens: spec.tokens }, clock());
    if (error) throw new Error(error);
    print({ t: 'settle', p: spec.name, id: a.lease.id, dev, cost: spec.costUsd, start, end: stop, alerts: alerts.map((x) => x.threshold) });
  }
}

await sleep(Math.max(0, spec.startAt - Date.now()));
await Promise.all(Array.from({ length: spec.workers }, () => loop()));
await engine.close();
print({ t: 'done', p: spec.name });
