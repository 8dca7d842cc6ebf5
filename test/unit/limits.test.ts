import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { budgetsSchema, rateLimitsSchema } from '../../src/config/schema.js';
import {
  MemoryLimitEngine,
  RedisLimitEngine,
  createLimitEngine,
  limitError,
  periodBounds,
  scopeValuesFromAttribution,
  type Admission,
  type BudgetAlert,
  type Lease,
  type LimitEngine,
  type LimitEngineOptions,
  type LimitScopeValues,
} from '../../src/usage/limits/index.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from '../helpers/services.js';

const redisUp = await redisAvailable();
const RUN = `test-${randomBytes(4).toString('hex')}`;
let seq = 0;

/** Wednesday 2025-01-15 12:00:00 UTC. */
const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
const SEC0 = T0 / 1000;

const who = (developer: string | null, extra: Partial<LimitScopeValues> = {}): LimitScopeValues => ({ developer, repository: null, team: null, key: null, ...extra });
const alice = who('alice');
const bob = who('bob');

function rules(budgets: unknown[] = [], rateLimits: unknown[] = []) {
  return { budgets: budgetsSchema.parse(budgets), rate_limits: rateLimitsSchema.parse(rateLimits) };
}

function leaseOf(a: Admission): Lease {
  if (!a.ok) throw new Error(`expected admission, got ${a.code} (${a.message})`);
  return a.lease;
}

function denied(a: Admission) {
  if (a.ok) throw new Error('expected a denial');
  return a;
}

type Factory = (config: ReturnType<typeof rules>, opts?: LimitEngineOptions) => LimitEngine;
/** Two engines over the same state: the same instance for memory, two connections with one prefix for Redis. */
type SharedFactory = (config: ReturnType<typeof rules>) => [LimitEngine, LimitEngine];

const open: LimitEngine[] = [];
const track = <T extends LimitEngine>(e: T): T => (open.push(e), e);

const allBackends: Array<{ name: string; make: Factory; shared: SharedFactory }> = [
  {
    name: 'memory',
    make: (config, opts) => track(new MemoryLimitEngine(config, opts)),
    shared: (config) => {
      const e = track(new MemoryLimitEngine(config));
      return [e, e];
    },
  },
  {
    name: 'redis',
    make: (config, opts) => track(new RedisLimitEngine(config, { ...opts, url: REDIS_URL, keyPrefix: `${RUN}-${++seq}:` })),
    shared: (config) => {
      const keyPrefix = `${RUN}-${++seq}:`;
      return [track(new RedisLimitEngine(config, { url: REDIS_URL, keyPrefix })), track(new RedisLimitEngine(config, { url: REDIS_URL, keyPrefix }))];
    },
  },
];

const backends = allBackends.filter((b) => b.name !== 'redis' || redisUp);

afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  if (redisUp) await deleteRedisKeys(`${RUN}-`);
});

describe.each(backends)('limits ($name)', ({ name, make, shared }) => {
  it('rpm: admits rpm requests per window, denies the next with Retry-After until the oldest bucket leaves', async () => {
    const e = make(rules([], [{ scope: 'global', rpm: 3 }]));
    for (const dt of [0, 100, 200]) leaseOf(await e.admit(alice, 10, T0 + dt));
    const d = denied(await e.admit(bob, 10, T0 + 300));
    expect(d).toMatchObject({ status: 429, code: 'rate_limited', limit: 'rpm', scope: 'global', value: null });
    expect(d.retryAfterSec).toBe(61); // bucket SEC0 leaves the window at SEC0 + 61 s; 60.7 s from now
    expect(d.message).toBe('all traffic is over its limit of 3 requests per minute');
    expect(denied(await e.admit(alice, 10, T0 + 60_999)).limit).toBe('rpm');
    leaseOf(await e.admit(alice, 10, T0 + 61_000));
  });

  it('rpm: no 60 s span ever holds more than rpm admissions (3 virtual minutes, one attempt every 250 ms)', async () => {
    const e = make(rules([], [{ scope: 'developer', rpm: 10 }]));
    const admitted: number[] = [];
    for (let t = T0 + 123; t < T0 + 180_000; t += 250) if ((await e.admit(alice, 0, t)).ok) admitted.push(t);
    for (const [i, t] of admitted.entries()) {
      const inSpan = admitted.slice(i).filter((u) => u < t + 60_000).length;
      expect(inSpan).toBeLessThanOrEqual(10);
    }
    expect(admitted.length).toBeGreaterThanOrEqual(29); // 10 per 61 s: the window costs at most 1 s of throughput
  });

  it('tpm: counts the estimate, corrects it to the actual tokens at settle, admits an oversized request only into an empty window', async () => {
    const e = make(rules([], [{ scope: 'developer', tpm: 1000 }]));
    const first = leaseOf(await e.admit(alice, 600, T0));
    const d = denied(await e.admit(alice, 600, T0 + 1000));
    expect(d).toMatchObject({ code: 'rate_limited', limit: 'tpm', scope: 'developer', value: 'alice', retryAfterSec: 60 });
    expect(d.message).toBe('developer "alice" is over its limit of 1000 tokens per minute');
    await e.settle(first, { costUsd: 0, tokens: 300 }, T0 + 1500);
    leaseOf(await e.admit(alice, 600, T0 + 2000)); // 300 + 600 <= 1000
    expect(denied(await e.admit(alice, 5000, T0 + 3000)).limit).toBe('tpm');
    leaseOf(await e.admit(alice, 5000, T0 + 63_000)); // the window is empty again
    leaseOf(await e.admit(bob, 900, T0 + 3000)); // bob has his own window
  });

  it('max_parallel: holds a slot per lease until settle', async () => {
    const e = make(rules([], [{ scope: 'team', max_parallel: 2 }]));
    const core = who('alice', { team: 'core' });
    const a = leaseOf(await e.admit(core, 1, T0));
    leaseOf(await e.admit({ ...core, developer: 'bob' }, 1, T0));
    const d = denied(await e.admit(core, 1, T0 + 10));
    expect(d).toMatchObject({ code: 'rate_limited', limit: 'max_parallel', scope: 'team', value: 'core', retryAfterSec: 1 });
    leaseOf(await e.admit(who('carol', { team: 'infra' }), 1, T0 + 10));
    leaseOf(await e.admit(who('dave'), 1, T0 + 10)); // no team: the rule does not apply
    await e.settle(a, { costUsd: 0, tokens: 1 }, T0 + 20);
    leaseOf(await e.admit(core, 1, T0 + 30));
  });

  it('a lease that is never settled frees its slot after leaseTtlMs', async () => {
    const e = make(rules([], [{ scope: 'global', max_parallel: 1 }]), { leaseTtlMs: 5000 });
    const crashed = leaseOf(await e.admit(alice, 1, T0));
    expect(denied(await e.admit(bob, 1, T0 + 4999)).limit).toBe('max_parallel');
    const next = leaseOf(await e.admit(bob, 1, T0 + 5000));
    await e.settle(crashed, { costUsd: 0, tokens: 1 }, T0 + 6000); // late settle of the expired lease frees nothing else
    expect(denied(await e.admit(alice, 1, T0 + 6001)).limit).toBe('max_parallel');
    await e.settle(next, { costUsd: 0, tokens: 1 }, T0 + 7000);
    leaseOf(await e.admit(alice, 1, T0 + 7001));
  });

  it('hard budget: denies once spent reaches the limit, with Retry-After until the UTC period resets', async () => {
    const e = make(rules([{ scope: 'developer', limit_usd: 1, period: 'day', mode: 'hard' }]));
    for (let i = 0; i < 3; i++) {
      const lease = leaseOf(await e.admit(alice, 100, T0 + i));
      await e.settle(lease, { costUsd: 0.4, tokens: 100 }, T0 + i);
    }
    const d = denied(await e.admit(alice, 100, T0 + 1500));
    expect(d).toMatchObject({ status: 429, code: 'budget_exceeded', limit: 'budget', scope: 'developer', value: 'alice' });
    expect(d.retryAfterSec).toBe(12 * 3600 - 1); // 11:59:58.5 until 2025-01-16T00:00Z, rounded up
    expect(d.message).toBe('developer "alice" has used its daily budget of $1.00; it resets at 2025-01-16T00:00:00Z');
    // Twelve hours is past any client's retry patience: a final refusal, no Retry-After for a client to sleep on.
    const err = limitError(d, { eventId: 'evt_TEST', requestId: 'req_1' });
    expect([err.status, err.type, err.extra.code, err.extra.retryAfter, err.final]).toEqual([400, 'invalid_request_error', 'budget_exceeded', undefined, true]);
    expect(err.message).toContain('daily budget of $1.00; it resets at 2025-01-16T00:00:00Z (in 11 h 59 min)');
    expect(err.message).toContain('event evt_TEST');
    expect(err.extra.details).toEqual({ limit: 'budget', scope: 'developer', event_id: 'evt_TEST' });
  });

  it('hard budget resetting within the retry patience: 429 with Retry-After until the reset, retried by clients', async () => {
    const e = make(rules([{ scope: 'developer', limit_usd: 0.001, period: 'day', mode: 'hard' }]));
    const endOfDay = Date.UTC(2025, 0, 16) - 30_000;
    await e.settle(leaseOf(await e.admit(alice, 1, endOfDay)), { costUsd: 0.002, tokens: 1 }, endOfDay);
    const d = denied(await e.admit(alice, 1, endOfDay + 500));
    expect(d.message).toBe('developer "alice" has used its daily budget of $0.001; it resets at 2025-01-16T00:00:00Z');
    const err = limitError(d, { eventId: undefined, requestId: 'req_1' });
    expect([err.status, err.type, err.extra.code, err.extra.retryAfter, err.final]).toEqual([429, 'rate_limit_error', 'budget_exceeded', '30', false]);
  });

  it('hard budget: exactly at the limit is exhausted; below it admits', async () => {
    const e = make(rules([{ scope: 'global', limit_usd: 0.5, period: 'week', mode: 'hard' }]));
    await e.settle(leaseOf(await e.admit(alice, 0, T0)), { costUsd: 0.49, tokens: 0 }, T0);
    await e.settle(leaseOf(await e.admit(alice, 0, T0)), { costUsd: null, tokens: 0 }, T0); // unpriced: adds nothing
    await e.settle(leaseOf(await e.admit(alice, 0, T0)), { costUsd: 0.01, tokens: 0 }, T0);
    const d = denied(await e.admit(bob, 0, T0));
    expect(d.retryAfterSec).toBe((Date.UTC(2025, 0, 20) - T0) / 1000); // next Monday 00:00 UTC
    expect(d.message).toMatch(/^all traffic has used its weekly budget of \$0\.50/);
  });

  it('soft budget: admits with a flag once over, and reports each threshold exactly once per period', async () => {
    const e = make(rules([{ scope: 'developer', limit_usd: 1, period: 'month', mode: 'soft' }]));
    const costs = [0.3, 0.3, 0.1, 0.2, 0.2, 0.1, 0.5];
    const seen: Array<{ step: number; alert: BudgetAlert }> = [];
    const flags: string[][] = [];
    for (const [step, costUsd] of costs.entries()) {
      const a = await e.admit(alice, 10, T0 + step);
      flags.push(a.ok ? a.flags : ['denied']);
      const { alerts } = await e.settle(leaseOf(a), { costUsd, tokens: 10 }, T0 + step);
      for (const alert of alerts) seen.push({ step, alert });
    }
    expect(seen.map((s) => [s.step, s.alert.threshold])).toEqual([
      [1, 0.5],
      [3, 0.8],
      [4, 1],
    ]);
    expect(seen[2]!.alert).toEqual({
      scope: 'developer',
      value: 'alice',
      match: null,
      period: 'month',
      mode: 'soft',
      limitUsd: 1,
      threshold: 1,
      spentUsd: 1.1,
      periodStart: '2025-01-01T00:00:00.000Z',
      periodEnd: '2025-02-01T00:00:00.000Z',
    });
    expect(flags.slice(0, 5)).toEqual([[], [], [], [], []]);
    expect(flags.slice(5)).toEqual([['budget_soft_exceeded:developer/month'], ['budget_soft_exceeded:developer/month']]);
  });

  it('one request crossing several thresholds reports all of them', async () => {
    const e = make(rules([{ scope: 'global', limit_usd: 2, period: 'day', mode: 'hard', alert_at: [0.25, 0.5] }]));
    const { alerts } = await e.settle(leaseOf(await e.admit(alice, 0, T0)), { costUsd: 2.5, tokens: 0 }, T0);
    expect(alerts.map((a) => [a.threshold, a.spentUsd])).toEqual([
      [0.25, 2.5],
      [0.5, 2.5],
      [1, 2.5],
    ]);
  });

  it('alerts are reported once even when two engines settle concurrently over the same state', async () => {
    const [a, b] = shared(rules([{ scope: 'global', limit_usd: 1, period: 'day', mode: 'soft', alert_at: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] }]));
    const leases = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).admit(alice, 0, T0)));
    const results = await Promise.all(leases.map((l, i) => (i % 2 ? a : b).settle(leaseOf(l), { costUsd: 0.05, tokens: 0 }, T0)));
    const thresholds = results.flatMap((r) => r.alerts.map((x) => x.threshold)).sort((x, y) => x - y);
    expect(thresholds).toEqual([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    const [status] = await a.status(T0);
    expect(status?.spentUsd).toBeCloseTo(1.5, 9);
  });

  it('per-scope separation: each developer has their own budget; match restricts a rule to one id', async () => {
    const e = make(
      rules([{ scope: 'developer', limit_usd: 1, period: 'day', mode: 'hard' }], [{ scope: 'developer', match: 'alice', rpm: 2 }, { scope: 'repository', match: 'acme/api', max_parallel: 1 }]),
    );
    await e.settle(leaseOf(await e.admit(alice, 0, T0)), { costUsd: 1.2, tokens: 0 }, T0);
    expect(denied(await e.admit(alice, 0, T0 + 1)).code).toBe('budget_exceeded');
    for (let i = 0; i < 5; i++) await e.settle(leaseOf(await e.admit(bob, 0, T0 + i)), { costUsd: 0.1, tokens: 0 }, T0 + i); // no rpm for bob
    leaseOf(await e.admit(who(null), 0, T0)); // unattributed: the developer rules do not apply
    const e2 = make(rules([], [{ scope: 'developer', match: 'alice', rpm: 2 }]));
    leaseOf(await e2.admit(alice, 0, T0));
    leaseOf(await e2.admit(alice, 0, T0));
    expect(denied(await e2.admit(alice, 0, T0)).limit).toBe('rpm');
    leaseOf(await e2.admit(bob, 0, T0));
    const repo = who('carol', { repository: 'acme/api' });
    const held = leaseOf(await e.admit(repo, 0, T0));
    expect(denied(await e.admit({ ...repo, developer: 'dave' }, 0, T0)).value).toBe('acme/api');
    leaseOf(await e.admit(who('carol', { repository: 'acme/web' }), 0, T0));
    await e.settle(held, { costUsd: 0, tokens: 0 }, T0);
  });

  it('a budget rule with match and one without share the spend of that id', async () => {
    const e = make(
      rules([
        { scope: 'developer', limit_usd: 10, period: 'day', mode: 'hard' },
        { scope: 'developer', match: 'alice', limit_usd: 1, period: 'day', mode: 'soft' },
      ]),
    );
    const { alerts } = await e.settle(leaseOf(await e.admit(alice, 0, T0)), { costUsd: 1, tokens: 0 }, T0);
    expect(alerts.map((a) => `${a.mode}:${a.threshold}`)).toEqual(['soft:0.5', 'soft:0.8', 'soft:1']);
    const a = await e.admit(alice, 0, T0);
    expect(a.ok && a.flags).toEqual(['budget_soft_exceeded:developer/day']);
    const status = await e.status(T0);
    expect(status.map((s) => [s.mode, s.value, s.spentUsd]).sort()).toEqual([
      ['hard', 'alice', 1],
      ['soft', 'alice', 1],
    ]);
  });

  it('period rollover: a new UTC day starts from zero spend and reports thresholds again', async () => {
    const e = make(rules([{ scope: 'key', limit_usd: 1, period: 'day', mode: 'hard', alert_at: [0.5] }]));
    const k = who('alice', { key: 'key_1' });
    const day1 = await e.settle(leaseOf(await e.admit(k, 0, T0)), { costUsd: 1, tokens: 0 }, T0);
    expect(day1.alerts.map((a) => a.threshold)).toEqual([0.5, 1]);
    const lastMs = Date.UTC(2025, 0, 16) - 1;
    const d = denied(await e.admit(k, 0, lastMs));
    expect([d.code, d.scope, d.value, d.retryAfterSec]).toEqual(['budget_exceeded', 'key', 'key_1', 1]);
    const day2 = leaseOf(await e.admit(k, 0, lastMs + 1));
    const settled = await e.settle(day2, { costUsd: 0.6, tokens: 0 }, lastMs + 2);
    expect(settled.alerts.map((a) => [a.threshold, a.periodStart])).toEqual([[0.5, '2025-01-16T00:00:00.000Z']]);
  });

  it('status lists each budget rule × value seen, global and match rules always', async () => {
    const e = make(
      rules([
        { scope: 'developer', limit_usd: 5, period: 'day', mode: 'hard' },
        { scope: 'team', match: 'core', limit_usd: 50, period: 'month', mode: 'soft' },
        { scope: 'global', limit_usd: 500, period: 'week', mode: 'hard' },
      ]),
    );
    for (const [w, cost] of [
      [alice, 1.25],
      [bob, 0.5],
      [alice, 0.25],
    ] as const) {
      await e.settle(leaseOf(await e.admit(w, 0, T0)), { costUsd: cost, tokens: 0 }, T0);
    }
    const status = await e.status(T0);
    const rows = status.map((s) => `${s.scope}:${s.value}:${s.period}:${s.mode}:${s.spentUsd}/${s.limitUsd}:${s.periodStart.slice(0, 10)}..${s.periodEnd.slice(0, 10)}`).sort();
    expect(rows).toEqual([
      'developer:alice:day:hard:1.5/5:2025-01-15..2025-01-16',
      'developer:bob:day:hard:0.5/5:2025-01-15..2025-01-16',
      'global:null:week:hard:2/500:2025-01-13..2025-01-20',
      'team:core:month:soft:0/50:2025-01-01..2025-02-01',
    ]);
    expect((await e.status(Date.UTC(2025, 0, 16))).filter((s) => s.scope === 'developer')).toEqual([]);
  });

  it('a request no rule applies to is admitted without touching anything', async () => {
    const e = make(rules([{ scope: 'team', match: 'core', limit_usd: 1, period: 'day', mode: 'hard' }]));
    const a = leaseOf(await e.admit(alice, 5, T0));
    expect(await e.settle(a, { costUsd: 3, tokens: 5 }, T0)).toEqual({ alerts: [] });
    expect((await e.status(T0))[0]?.spentUsd).toBe(0);
  });

  if (name === 'redis') {
    it('two connections share one budget, one window and one set of slots', async () => {
      const [a, b] = shared(rules([{ scope: 'global', limit_usd: 1, period: 'day', mode: 'hard' }], [{ scope: 'global', rpm: 5, max_parallel: 2 }]));
      const l1 = leaseOf(await a.admit(alice, 0, T0));
      leaseOf(await b.admit(bob, 0, T0));
      expect(denied(await a.admit(alice, 0, T0)).limit).toBe('max_parallel');
      await b.settle(l1, { costUsd: 1, tokens: 0 }, T0); // settled through the other gateway
      expect(denied(await a.admit(alice, 0, T0)).code).toBe('budget_exceeded');
    });

    it('Redis down: onBackendError block denies with 503 limits_unavailable, allow admits with a flag', async () => {
      const config = rules([{ scope: 'global', limit_usd: 1, period: 'day', mode: 'hard' }]);
      const errors: string[] = [];
      const blocking = track(new RedisLimitEngine(config, { url: 'redis://127.0.0.1:1', onBackendError: 'block', onError: (_e, op) => errors.push(op) }));
      const d = denied(await blocking.admit(alice, 0, T0));
      expect(d).toMatchObject({ status: 503, code: 'limits_unavailable', limit: 'backend' });
      const err = limitError(d, { eventId: undefined, requestId: 'req_1' });
      expect([err.status, err.type, err.extra.code]).toEqual([503, 'overloaded_error', 'limits_unavailable']);
      const allowing = track(new RedisLimitEngine(config, { url: 'redis://127.0.0.1:1', onBackendError: 'allow' }));
      const a = await allowing.admit(alice, 0, T0);
      expect(a.ok && a.flags).toEqual(['limits_unavailable']);
      const settled = await allowing.settle(leaseOf(a), { costUsd: 1, tokens: 0 }, T0);
      expect(settled.alerts).toEqual([]);
      expect(settled.error).toMatch(/limits backend unavailable/);
      expect(errors).toEqual(['admit']);
    });
  }
});

describe('createLimitEngine and helpers', () => {
  it('returns undefined without budgets and rate limits, memory without a Redis URL, Redis with one', async () => {
    expect(createLimitEngine({ budgets: [], rate_limits: [] })).toBeUndefined();
    expect(createLimitEngine({})).toBeUndefined();
    const config = rules([], [{ scope: 'global', rpm: 1 }]);
    const memory = createLimitEngine(config)!;
    expect(memory).toBeInstanceOf(MemoryLimitEngine);
    const redis = createLimitEngine(config, { redisUrl: REDIS_URL, keyPrefix: `${RUN}-${++seq}:` })!;
    expect(redis).toBeInstanceOf(RedisLimitEngine);
    await Promise.all([memory.close(), redis.close()]);
  });

  it('periods are UTC calendar periods: day from 00:00, week from Monday, month from the 1st', () => {
    const iso = (p: { start: number; end: number }) => [new Date(p.start).toISOString(), new Date(p.end).toISOString()];
    const sundayLate = Date.UTC(2025, 0, 19, 23, 59, 59, 999);
    expect(iso(periodBounds('day', sundayLate))).toEqual(['2025-01-19T00:00:00.000Z', '2025-01-20T00:00:00.000Z']);
    expect(iso(periodBounds('week', sundayLate))).toEqual(['2025-01-13T00:00:00.000Z', '2025-01-20T00:00:00.000Z']);
    expect(iso(periodBounds('week', Date.UTC(2025, 0, 20)))).toEqual(['2025-01-20T00:00:00.000Z', '2025-01-27T00:00:00.000Z']);
    expect(iso(periodBounds('week', Date.UTC(2024, 11, 31, 8)))).toEqual(['2024-12-30T00:00:00.000Z', '2025-01-06T00:00:00.000Z']);
    expect(iso(periodBounds('month', Date.UTC(2024, 11, 31, 23)))).toEqual(['2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z']);
    expect(iso(periodBounds('month', Date.UTC(2024, 1, 29)))).toEqual(['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z']);
  });

  it('maps an attribution to scope values (key is the virtual key id)', () => {
    expect(
      scopeValuesFromAttribution({ developer: 'alice', repository: 'acme/api', team: null, key_id: 'k1' }),
    ).toEqual({ developer: 'alice', repository: 'acme/api', team: null, key: 'k1' });
  });

  it('alert_at is sorted and deduplicated, defaulting to [0.5, 0.8]', () => {
    const [a, b] = budgetsSchema.parse([
      { scope: 'global', limit_usd: 1, period: 'day', mode: 'soft' },
      { scope: 'developer', limit_usd: 1, period: 'day', mode: 'soft', alert_at: [0.9, 0.5, 0.9] },
    ]);
    expect([a!.alert_at, b!.alert_at]).toEqual([
      [0.5, 0.8],
      [0.5, 0.9],
    ]);
  });
});
