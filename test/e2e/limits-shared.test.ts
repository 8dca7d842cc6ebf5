import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { WorkerLine, WorkerSpec } from '../helpers/limits-worker.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from '../helpers/services.js';

/**
 * Two separate processes, each a RedisLimitEngine over the same Redis prefix, sharing one hard budget and one
 * rate limit — the "two gateways sharing Redis" case, without HTTP in the way.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const redisUp = await redisAvailable();
const RUN = `test-e2e-${randomBytes(4).toString('hex')}`;
/** Virtual start: Wednesday 2025-01-15 12:00 UTC, so the day never rolls over mid-test and Retry-After is known. */
const BASE = Date.UTC(2025, 0, 15, 12);
const COST = 0.07;

function runWorker(spec: WorkerSpec): Promise<WorkerLine[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/limits-worker.ts', JSON.stringify(spec)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker ${spec.name} exited ${code}: ${err}`));
      resolve(out.trim().split('\n').map((l) => JSON.parse(l) as WorkerLine));
    });
  });
}

/** Both gateways, started together; every line of both. */
async function runPair(spec: Omit<WorkerSpec, 'name' | 'startAt' | 'baseMs' | 'redisUrl' | 'keyPrefix'>, keyPrefix: string) {
  // Both processes are up (tsx compiles) before either starts: 2.5 s was too short on a loaded machine.
  const startAt = Date.now() + 6000;
  const common = { ...spec, startAt, baseMs: BASE, redisUrl: REDIS_URL, keyPrefix };
  const [a, b] = await Promise.all([runWorker({ ...common, name: 'gw-a' }), runWorker({ ...common, name: 'gw-b' })]);
  const lines = [...a, ...b];
  expect(lines.filter((l) => l.t === 'done')).toHaveLength(2);
  return {
    lines,
    admits: lines.filter((l): l is Extract<WorkerLine, { t: 'admit' }> => l.t === 'admit'),
    denies: lines.filter((l): l is Extract<WorkerLine, { t: 'deny' }> => l.t === 'deny'),
    settles: lines.filter((l): l is Extract<WorkerLine, { t: 'settle' }> => l.t === 'settle'),
  };
}

/** Most intervals open at once; an interval ending at the same ms another starts does not overlap it. */
function maxOverlap(intervals: Array<{ start: number; end: number }>): number {
  const edges = intervals.flatMap((i) => [
    [i.start, 1],
    [i.end, -1],
  ]);
  edges.sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
  let open = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (open += d!));
  return max;
}

/** Most admissions within any 60 s span [t, t + 60 s). */
function maxPerMinute(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + 60_000) j++;
    max = Math.max(max, j - i);
  }
  return max;
}

const sum = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) * 1e6) / 1e6;

afterAll(async () => {
  if (redisUp) await deleteRedisKeys(`${RUN}-`);
});

describe.skipIf(!redisUp)('two gateway processes sharing limits through Redis', () => {
  it('one request at a time each: a $1.00 hard budget at $0.07 a request is overspent by at most one in-flight request per gateway', async () => {
    const { admits, denies, settles } = await runPair(
      {
        budgets: [{ scope: 'global', limit_usd: 1, period: 'day', mode: 'hard', alert_at: [0.5, 0.8] }],
        rate_limits: [{ scope: 'global', rpm: 40, max_parallel: 3 }],
        workers: 1,
        durationMs: 2000,
        holdMs: 30,
        costUsd: COST,
        tokens: 100,
        developers: ['alice'],
        denyPauseMs: 20,
      },
      `${RUN}-a:`,
    );
    const total = sum(settles.map((s) => s.cost));
    expect(settles).toHaveLength(admits.length);
    expect(total).toBeGreaterThanOrEqual(1);
    expect(total).toBeLessThanOrEqual(1 + 2 * COST);
    expect(new Set(admits.map((a) => a.p))).toEqual(new Set(['gw-a', 'gw-b']));
    // After the budget is spent, every attempt of both gateways is refused until 00:00 UTC.
    expect(denies.length).toBeGreaterThan(0);
    for (const d of denies) {
      expect(d.code).toBe('budget_exceeded');
      expect(d.retryAfterSec).toBe(Math.ceil((Date.UTC(2025, 0, 16) - d.now) / 1000));
    }
    if (process.env.KT_LIMITS_DEBUG) console.log({ admits: admits.length, total, denies: denies.length });
    // Each threshold is reported once, by whichever gateway's request crossed it.
    expect(settles.flatMap((s) => s.alerts).sort()).toEqual([0.5, 0.8, 1]);
  }, 30_000);

  it('three workers each: max_parallel 3 and rpm 40 hold across both, and the budget bound is max_parallel requests', async () => {
    const { admits, denies, settles } = await runPair(
      {
        budgets: [{ scope: 'developer', match: 'alice', limit_usd: 1, period: 'day', mode: 'hard' }],
        rate_limits: [{ scope: 'global', rpm: 40, max_parallel: 3 }],
        workers: 3,
        durationMs: 2500,
        holdMs: 40,
        costUsd: COST,
        tokens: 100,
        developers: ['alice', 'alice', 'bob'],
        denyPauseMs: 15,
      },
      `${RUN}-b:`,
    );
    const concurrent = maxOverlap(settles);
    expect(concurrent).toBeLessThanOrEqual(3);
    expect(concurrent).toBeGreaterThanOrEqual(2);
    expect(denies.some((d) => d.limit === 'max_parallel')).toBe(true);
    // rpm: never more than 40 admissions in any 60 s span; the run is shorter than a minute, so exactly 40.
    expect(maxPerMinute(admits.map((a) => a.now))).toBeLessThanOrEqual(40);
    expect(admits).toHaveLength(40);
    expect(denies.some((d) => d.limit === 'rpm' && d.retryAfterSec > 55 && d.retryAfterSec <= 61)).toBe(true);
    // alice's budget: once crossed, only the requests already in flight (at most max_parallel) can add to it.
    const alice = sum(settles.filter((s) => s.dev === 'alice').map((s) => s.cost));
    expect(alice).toBeGreaterThanOrEqual(1);
    expect(alice).toBeLessThanOrEqual(1 + 3 * COST);
    expect(denies.some((d) => d.dev === 'alice' && d.code === 'budget_exceeded')).toBe(true);
    expect(denies.some((d) => d.dev === 'bob' && d.code === 'budget_exceeded')).toBe(false);
    expect(new Set(admits.map((a) => a.p))).toEqual(new Set(['gw-a', 'gw-b']));
    if (process.env.KT_LIMITS_DEBUG) console.log({ admits: admits.length, concurrent, alice, denies: denies.length });
  }, 30_000);
});
