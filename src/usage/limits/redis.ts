import { randomUUID } from 'node:crypto';
import {
  WINDOW_BUCKETS,
  WINDOW_KEY_TTL_MS,
  BUDGET_KEY_GRACE_MS,
  backendDenial,
  budgetAlert,
  budgetDenial,
  budgetKey,
  budgetStatus,
  cleanTokens,
  periodBounds,
  planAdmit,
  planSettle,
  rateDenial,
  softFlag,
  toMicros,
} from './plan.js';
import { RedisThread } from './redis-thread.js';
import {
  DEFAULT_LEASE_TTL_MS,
  type Admission,
  type AdmitFlag,
  type BudgetAlert,
  type BudgetStatus,
  type Lease,
  type LimitEngine,
  type LimitEngineOptions,
  type LimitScopeValues,
  type LimitsConfig,
  type SettleActual,
  type SettleResult,
} from './types.js';

/*
 * Redis data layout (every key starts with "kt:" + keyPrefix):
 *   budget:<period>:<YYYY-MM-DD period start>:<scope>[:<value>]  hash
 *       spent                          integer micro-USD spent in the period
 *       alert:<mode>:<limit µ$>:<frac> set (to the ms time) when that rule's threshold was reported
 *     expires BUDGET_KEY_GRACE_MS after the period ends
 *   rate:<scope>[:<value>]  hash of per-second buckets: r:<unix s> requests, t:<unix s> tokens
 *     buckets older than 61 s are deleted by admit; the key expires 62 s after the last admit
 *   slots:<scope>[:<value>]  sorted set: member lease id, score = time (ms) the lease stops holding its slot
 *     expired members are removed by admit; the key expires leaseTtlMs after the last admit
 * Times come from the gateway's clock (nowMs), so gateways sharing a Redis should run NTP.
 */

/** KEYS: the keys the plan names. ARGV: now ms, lease id, plan JSON. Returns JSON {s: soft budget ids} or {d, i, r}. */
const ADMIT_LUA = `
local now = tonumber(ARGV[1])
local lease = ARGV[2]
local plan = cjson.decode(ARGV[3])
local sec = math.floor(now / 1000)
local oldest = sec - ${WINDOW_BUCKETS - 1}
local soft = {}
for _, b in ipairs(plan.b) do
  local spent = tonumber(redis.call('HGET', KEYS[b.k], 'spent') or '0')
  if spent >= b.l then
    if b.h == 1 then return cjson.encode({d = 'b', i = b.i}) end
    soft[#soft + 1] = b.i
  end
end
local windows = {}
for _, k in ipairs(plan.wk) do
  local flat = redis.call('HGETALL', KEYS[k])
  local buckets, secs, stale = {}, {}, {}
  local r, t = 0, 0
  for j = 1, #flat, 2 do
    local f = flat[j]
    local s = tonumber(string.sub(f, 3))
    local v = tonumber(flat[j + 1])
    if s < oldest then
      stale[#stale + 1] = f
    else
      local bk = buckets[s]
      if not bk then
        bk = {r = 0, t = 0}
        buckets[s] = bk
        secs[#secs + 1] = s
      end
      if string.sub(f, 1, 1) == 'r' then bk.r = bk.r + v; r = r + v else bk.t = bk.t + v; t = t + v end
    end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[k], unpack(stale)) end
  table.sort(secs)
  windows[k] = {buckets = buckets, secs = secs, r = r, t = t}
end
for _, c in ipairs(plan.w) do
  local w = windows[c.k]
  if c.m == 'r' and w.r >= c.l then
    local removed = 0
    for _, s in ipairs(w.secs) do
      removed = removed + w.buckets[s].r
      if w.r - removed < c.l then return cjson.encode({d = 'w', i = c.i, r = (s + ${WINDOW_BUCKETS}) * 1000 - now}) end
    end
    return cjson.encode({d = 'w', i = c.i, r = 1000})
  end
  if c.m == 't' and w.t > 0 and w.t + plan.e > c.l then
    local removed = 0
    for _, s in ipairs(w.secs) do
      removed = removed + w.buckets[s].t
      local left = w.t - removed
      if left <= 0 or left + plan.e <= c.l then return cjson.encode({d = 'w', i = c.i, r = (s + ${WINDOW_BUCKETS}) * 1000 - now}) end
    end
    return cjson.encode({d = 'w', i = c.i, r = 1000})
  end
end
for _, k in ipairs(plan.pk) do redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now) end
for _, c in ipairs(plan.p) do
  if redis.call('ZCARD', KEYS[c.k]) >= c.l then return cjson.encode({d = 'p', i = c.i, r = 1000}) end
end
local rf, tf = 'r:' .. sec, 't:' .. sec
for _, k in ipairs(plan.wk) do
  redis.call('HINCRBY', KEYS[k], rf, 1)
  redis.call('HINCRBY', KEYS[k], tf, plan.e)
  redis.call('PEXPIRE', KEYS[k], ${WINDOW_KEY_TTL_MS})
end
for _, k in ipairs(plan.pk) do
  redis.call('ZADD', KEYS[k], now + plan.ttl, lease)
  redis.call('PEXPIRE', KEYS[k], plan.ttl)
end
return cjson.encode({s = soft})
`;

/** KEYS: the keys the plan names. ARGV: now ms, lease id, plan JSON. Returns JSON [[alert id, spent µ$], ...]. */
const SETTLE_LUA = `
local now = tonumber(ARGV[1])
local lease = ARGV[2]
local plan = cjson.decode(ARGV[3])
local fired = {}
for _, b in ipairs(plan.b) do
  local spent = redis.call('HINCRBY', KEYS[b.k], 'spent', plan.c)
  redis.call('PEXPIRE', KEYS[b.k], b.ttl)
  for _, a in ipairs(b.a) do
    if spent >= a.th and redis.call('HSETNX', KEYS[b.k], a.f, now) == 1 then fired[#fired + 1] = {a.i, spent} end
  end
end
for _, w in ipairs(plan.w) do
  if redis.call('HEXISTS', KEYS[w.k], w.f) == 1 then redis.call('HINCRBY', KEYS[w.k], w.f, w.d) end
end
for _, k in ipairs(plan.p) do redis.call('ZREM', KEYS[k], lease) end
if #fired == 0 then return '[]' end
return cjson.encode(fired)
`;

export interface RedisLimitEngineOptions extends LimitEngineOptions {
  /** redis://[user:pass@]host:port[/db] (rediss:// for TLS). */
  url: string;
  /** Added after "kt:" to every key, e.g. a deployment name, or a random prefix in tests. */
  keyPrefix?: string;
  /** Longest wait for one Redis command before it counts as a backend error (default 1000 ms). */
  commandTimeoutMs?: number;
}

/** Numbers keys for KEYS[] as a plan names them. */
class KeyList {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly prefix: string) {}
  add(logical: string): number {
    let i = this.index.get(logical);
    if (i === undefined) {
      this.keys.push(this.prefix + logical);
      this.index.set(logical, (i = this.keys.length));
    }
    return i;
  }
}

/**
 * Limits shared by every gateway using the same Redis and prefix; admit and settle are each one Lua script.
 *
 * The Redis client (ioredis) runs in a worker thread (redis-worker.ts), never in the thread that builds the
 * engine. ioredis's RESP decoder defines `VerbatimString` as a subclass of String, and once an isolate has
 * defined any subclass of String, V8's optimised code reads every string in it more slowly: the detectors' scans
 * of a 200 KB context took 2.5-4x as long in a gateway process that had loaded ioredis (docs/benchmarks.md).
 */
export class RedisLimitEngine implements LimitEngine {
  private readonly redis: RedisThread;
  private readonly prefix: string;
  private readonly leaseTtlMs: number;
  private readonly onBackendError: 'block' | 'allow';
  private readonly onError: NonNullable<LimitEngineOptions['onError']>;

  constructor(
    private readonly config: LimitsConfig,
    opts: RedisLimitEngineOptions,
  ) {
    this.prefix = `kt:${opts.keyPrefix ?? ''}`;
    this.leaseTtlMs = opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
    this.onBackendError = opts.onBackendError ?? 'block';
    this.onError = opts.onError ?? (() => {});
    const commandTimeout = opts.commandTimeoutMs ?? 1000;
    if (!opts.url) throw new Error('RedisLimitEngine needs a url');
    this.redis = new RedisThread({
      url: opts.url,
      options: {
        commandTimeout,
        // Fail a command after one reconnection attempt rather than queueing it for ever: a request must not
        // hang on a dead Redis; fail-mode decides what happens instead.
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        connectionName: 'keeptrusts-limits',
      },
      scripts: { ktLimitsAdmit: ADMIT_LUA, ktLimitsSettle: SETTLE_LUA },
      // Only if the thread itself stops answering: ioredis fails a command after commandTimeout.
      callTimeoutMs: 2 * commandTimeout + 2000,
    });
  }

  async admit(who: LimitScopeValues, estimatedTokens: number, nowMs = Date.now()): Promise<Admission> {
    const estimate = cleanTokens(estimatedTokens);
    const plan = planAdmit(this.config, who, nowMs);
    const id = randomUUID();
    const lease: Lease = { id, who: { ...who }, estimatedTokens: estimate, admittedAtMs: nowMs };
    if (plan.budgets.length === 0 && plan.windows.length === 0 && plan.slots.length === 0) return { ok: true, lease, flags: [] };
    const keys = new KeyList(this.prefix);
    const body = {
      b: plan.budgets.map((c, i) => ({ k: keys.add(c.key), l: c.limitMicros, h: c.rule.mode === 'hard' ? 1 : 0, i })),
      wk: plan.windowKeys.map((k) => keys.add(k)),
      w: plan.windows.map((c, i) => ({ k: keys.add(c.key), m: c.kind === 'rpm' ? 'r' : 't', l: c.limit, i })),
      pk: plan.slotKeys.map((k) => keys.add(k)),
      p: plan.slots.map((c, i) => ({ k: keys.add(c.key), l: c.limit, i })),
      e: estimate,
      ttl: this.leaseTtlMs,
    };
    let reply: { s?: number[] | Record<string, never>; d?: 'b' | 'w' | 'p'; i?: number; r?: number };
    try {
      reply = JSON.parse(await this.redis.script('ktLimitsAdmit', keys.keys, [nowMs, id, JSON.stringify(body)]));
    } catch (err) {
      this.onError(err, 'admit');
      return this.onBackendError === 'block' ? backendDenial() : { ok: true, lease, flags: ['limits_unavailable'] };
    }
    if (reply.d === 'b') return budgetDenial(plan.budgets[reply.i!]!, nowMs);
    if (reply.d === 'w') return rateDenial(plan.windows[reply.i!]!, reply.r!);
    if (reply.d === 'p') return rateDenial(plan.slots[reply.i!]!, reply.r!);
    const flags: AdmitFlag[] = [];
    for (const i of Array.isArray(reply.s) ? reply.s : []) {
      const flag = softFlag(plan.budgets[i]!);
      if (!flags.includes(flag)) flags.push(flag);
    }
    return { ok: true, lease, flags };
  }

  async settle(lease: Lease, actual: SettleActual, nowMs = Date.now()): Promise<SettleResult> {
    const plan = planAdmit(this.config, lease.who, nowMs);
    const budgets = planSettle(plan);
    if (budgets.length === 0 && plan.windowKeys.length === 0 && plan.slotKeys.length === 0) return { alerts: [] };
    const cost = actual.costUsd !== null && Number.isFinite(actual.costUsd) && actual.costUsd > 0 ? toMicros(actual.costUsd) : 0;
    const keys = new KeyList(this.prefix);
    const alertRefs = budgets.flatMap((b) => b.alerts);
    let n = 0;
    const delta = cleanTokens(actual.tokens) - lease.estimatedTokens;
    const field = `t:${Math.floor(lease.admittedAtMs / 1000)}`;
    const body = {
      c: cost,
      b: budgets.map((b) => ({
        k: keys.add(b.key),
        ttl: Math.max(1000, b.bounds.end + BUDGET_KEY_GRACE_MS - nowMs),
        a: b.alerts.map((a) => ({ f: a.field, th: a.atMicros, i: n++ })),
      })),
      w: delta === 0 ? [] : plan.windowKeys.map((k) => ({ k: keys.add(k), f: field, d: delta })),
      p: plan.slotKeys.map((k) => keys.add(k)),
    };
    let fired: Array<[number, number]>;
    try {
      fired = JSON.parse(await this.redis.script('ktLimitsSettle', keys.keys, [nowMs, lease.id, JSON.stringify(body)]));
    } catch (err) {
      this.onError(err, 'settle');
      return { alerts: [], error: `limits backend unavailable: ${(err as Error).message}` };
    }
    const alerts: BudgetAlert[] = fired.map(([i, spent]) => {
      const ref = alertRefs[i]!;
      return budgetAlert(ref.check, ref.threshold, spent);
    });
    return { alerts };
  }

  async status(nowMs = Date.now()): Promise<BudgetStatus[]> {
    const out: BudgetStatus[] = [];
    const scanned = new Map<string, Array<[string, number]>>();
    try {
      for (const rule of this.config.budgets) {
        const bounds = periodBounds(rule.period, nowMs);
        if (rule.scope === 'global' || rule.match !== undefined) {
          const value = rule.scope === 'global' ? null : rule.match!;
          const spent = await this.redis.hget(this.prefix + budgetKey(rule.period, bounds.label, rule.scope, value), 'spent');
          out.push(budgetStatus(rule, value, bounds, Number(spent ?? 0)));
          continue;
        }
        const logical = budgetKey(rule.period, bounds.label, rule.scope, '');
        let values = scanned.get(logical);
        if (!values) scanned.set(logical, (values = await this.scanSpent(this.prefix + logical)));
        for (const [value, spent] of values) out.push(budgetStatus(rule, value, bounds, spent));
      }
    } catch (err) {
      this.onError(err, 'status');
      throw err;
    }
    return out;
  }

  /** Rejects when Redis cannot be reached, for a start-up check (`kt gateway run --redis-url`). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Ends the Redis thread once the calls already made are answered (QUIT, then the thread exits). */
  close(): Promise<void> {
    return this.redis.close();
  }

  /** Every value under a budget key prefix, with its spend (µ$). */
  private async scanSpent(keyPrefix: string): Promise<Array<[string, number]>> {
    const pattern = keyPrefix.replace(/[*?[\]\\]/g, '\\$&') + '*';
    const rows = await this.redis.scanField(pattern, 'spent');
    return rows.map(([k, spent]) => [k.slice(keyPrefix.length), Number(spent ?? 0)]);
  }
}
