import { formatUsd } from '../money.js';
import type { Attribution } from '../types.js';
import type { BudgetAlert, BudgetRule, BudgetStatus, Denied, LimitScope, LimitScopeValues, LimitsConfig, RateLimitRule } from './types.js';

/**
 * What both engines share: which rules apply to a request, the counters (keys) they use, periods, and the words
 * of a denial. Counters are facts about traffic, keyed by scope value, not by rule: two rules on developer "alice"
 * (one with match, one without) read the same spend and the same request window, and a request is counted once.
 */

export const WINDOW_SECONDS = 60;
/** Seconds of buckets a window reads: the current one and the 60 before it, so no 60 s span ever exceeds a limit. */
export const WINDOW_BUCKETS = WINDOW_SECONDS + 1;
/** Window keys live a little longer than the oldest bucket they can hold. */
export const WINDOW_KEY_TTL_MS = (WINDOW_BUCKETS + 1) * 1000;
/** Budget keys outlive their period by this much, for a gateway whose clock is slightly behind. */
export const BUDGET_KEY_GRACE_MS = 3_600_000;
export const MICROS_PER_USD = 1_000_000;

export function scopeValuesFromAttribution(a: Pick<Attribution, 'developer' | 'repository' | 'team' | 'key_id'>): LimitScopeValues {
  return { developer: a.developer, repository: a.repository, team: a.team, key: a.key_id };
}

/** Token counts from callers: non-negative integers, anything else counts as 0. */
export function cleanTokens(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

export const toMicros = (usd: number): number => Math.round(usd * MICROS_PER_USD);
export const fromMicros = (micros: number): number => micros / MICROS_PER_USD;

export interface PeriodBounds {
  start: number;
  end: number;
  /** The start day, YYYY-MM-DD (UTC), used in keys. */
  label: string;
}

/** Calendar periods in UTC: day from 00:00, week from Monday 00:00, month from the 1st. */
export function periodBounds(period: BudgetRule['period'], nowMs: number): PeriodBounds {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const day = d.getUTCDate();
  let start: number;
  let end: number;
  if (period === 'day') {
    start = Date.UTC(y, m, day);
    end = Date.UTC(y, m, day + 1);
  } else if (period === 'week') {
    const sinceMonday = (d.getUTCDay() + 6) % 7;
    start = Date.UTC(y, m, day - sinceMonday);
    end = Date.UTC(y, m, day - sinceMonday + 7);
  } else {
    start = Date.UTC(y, m, 1);
    end = Date.UTC(y, m + 1, 1);
  }
  return { start, end, label: new Date(start).toISOString().slice(0, 10) };
}

/** The value a rule counts for this request: a string, 'global' for global, or undefined when it does not apply. */
function ruleValue(rule: { scope: LimitScope; match?: string | undefined }, who: LimitScopeValues): string | null | undefined {
  if (rule.scope === 'global') return null;
  const v = who[rule.scope];
  if (v === null || v === undefined || v === '') return undefined;
  if (rule.match !== undefined && rule.match !== v) return undefined;
  return v;
}

const scopePart = (scope: LimitScope, value: string | null) => (value === null ? scope : `${scope}:${value}`);

export const budgetKey = (period: BudgetRule['period'], label: string, scope: LimitScope, value: string | null) =>
  `budget:${period}:${label}:${scopePart(scope, value)}`;
export const windowKey = (scope: LimitScope, value: string | null) => `rate:${scopePart(scope, value)}`;
export const slotsKey = (scope: LimitScope, value: string | null) => `slots:${scopePart(scope, value)}`;
/** Field of a budget hash marking that a rule's threshold has been reported in this period. */
export const alertField = (rule: BudgetRule, threshold: number) => `alert:${rule.mode}:${toMicros(rule.limit_usd)}:${threshold}`;

/** The thresholds a budget reports: its alert_at fractions and 1 (exhausted / exceeded). */
export function thresholds(rule: BudgetRule): number[] {
  return [...new Set([...rule.alert_at, 1])].sort((a, b) => a - b);
}

export interface BudgetCheck {
  kind: 'budget';
  rule: BudgetRule;
  index: number;
  value: string | null;
  key: string;
  bounds: PeriodBounds;
  limitMicros: number;
}

export interface RateCheck {
  kind: 'rpm' | 'tpm' | 'max_parallel';
  rule: RateLimitRule;
  value: string | null;
  key: string;
  limit: number;
}

export interface AdmitPlan {
  /** Hard budgets (deny) and soft ones (flag), in config order. */
  budgets: BudgetCheck[];
  /** rpm and tpm checks, then max_parallel checks, in config order. */
  windows: RateCheck[];
  slots: RateCheck[];
  /** Distinct window and slot keys: each is counted once however many rules read it. */
  windowKeys: string[];
  slotKeys: string[];
}

export function planAdmit(config: LimitsConfig, who: LimitScopeValues, nowMs: number): AdmitPlan {
  const plan: AdmitPlan = { budgets: [], windows: [], slots: [], windowKeys: [], slotKeys: [] };
  config.budgets.forEach((rule, index) => {
    const value = ruleValue(rule, who);
    if (value === undefined) return;
    const bounds = periodBounds(rule.period, nowMs);
    plan.budgets.push({ kind: 'budget', rule, index, value, bounds, key: budgetKey(rule.period, bounds.label, rule.scope, value), limitMicros: toMicros(rule.limit_usd) });
  });
  for (const rule of config.rate_limits) {
    const value = ruleValue(rule, who);
    if (value === undefined) continue;
    if (rule.rpm !== undefined) plan.windows.push({ kind: 'rpm', rule, value, key: windowKey(rule.scope, value), limit: rule.rpm });
    if (rule.tpm !== undefined) plan.windows.push({ kind: 'tpm', rule, value, key: windowKey(rule.scope, value), limit: rule.tpm });
    if (rule.max_parallel !== undefined) plan.slots.push({ kind: 'max_parallel', rule, value, key: slotsKey(rule.scope, value), limit: rule.max_parallel });
  }
  plan.windowKeys = [...new Set(plan.windows.map((c) => c.key))];
  plan.slotKeys = [...new Set(plan.slots.map((c) => c.key))];
  return plan;
}

export interface SettleBudget {
  key: string;
  bounds: PeriodBounds;
  /** Every (rule, threshold) reading this key, with the spend (micros) that crosses it. */
  alerts: Array<{ check: BudgetCheck; threshold: number; atMicros: number; field: string }>;
}

/** Budgets grouped by key (spend is added once per key), with the thresholds each may cross. */
export function planSettle(plan: AdmitPlan): SettleBudget[] {
  const byKey = new Map<string, SettleBudget>();
  for (const check of plan.budgets) {
    let entry = byKey.get(check.key);
    if (!entry) byKey.set(check.key, (entry = { key: check.key, bounds: check.bounds, alerts: [] }));
    for (const threshold of thresholds(check.rule)) {
      entry.alerts.push({ check, threshold, atMicros: Math.round(threshold * check.limitMicros), field: alertField(check.rule, threshold) });
    }
  }
  return [...byKey.values()];
}

export function budgetAlert(check: BudgetCheck, threshold: number, spentMicros: number): BudgetAlert {
  return {
    scope: check.rule.scope,
    value: check.value,
    match: check.rule.match ?? null,
    period: check.rule.period,
    mode: check.rule.mode,
    limitUsd: check.rule.limit_usd,
    threshold,
    spentUsd: fromMicros(spentMicros),
    periodStart: new Date(check.bounds.start).toISOString(),
    periodEnd: new Date(check.bounds.end).toISOString(),
  };
}

export function budgetStatus(rule: BudgetRule, value: string | null, bounds: PeriodBounds, spentMicros: number): BudgetStatus {
  return {
    scope: rule.scope,
    match: rule.match ?? null,
    value,
    period: rule.period,
    mode: rule.mode,
    limitUsd: rule.limit_usd,
    spentUsd: fromMicros(spentMicros),
    periodStart: new Date(bounds.start).toISOString(),
    periodEnd: new Date(bounds.end).toISOString(),
  };
}

export function softFlag(check: BudgetCheck): `budget_soft_exceeded:${string}` {
  return `budget_soft_exceeded:${check.rule.scope}/${check.rule.period}`;
}

const subject = (scope: LimitScope, value: string | null) => (value === null ? 'all traffic' : `${scope} "${value}"`);
const PERIOD_WORD = { day: 'daily', week: 'weekly', month: 'monthly' } as const;

const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function budgetDenial(check: BudgetCheck, nowMs: number): Denied {
  const resets = new Date(check.bounds.end).toISOString().replace('.000Z', 'Z');
  return {
    ok: false,
    status: 429,
    code: 'budget_exceeded',
    limit: 'budget',
    scope: check.rule.scope,
    value: check.value,
    retryAfterSec: retrySeconds(check.bounds.end - nowMs),
    message: `${subject(check.rule.scope, check.value)} has used its ${PERIOD_WORD[check.rule.period]} budget of ${formatUsd(check.rule.limit_usd)}; it resets at ${resets}`,
  };
}

export function rateDenial(check: RateCheck, retryMs: number): Denied {
  const what =
    check.kind === 'rpm' ? `${check.limit} requests per minute` : check.kind === 'tpm' ? `${check.limit} tokens per minute` : `${check.limit} requests in parallel`;
  return {
    ok: false,
    status: 429,
    code: 'rate_limited',
    limit: check.kind,
    scope: check.rule.scope,
    value: check.value,
    retryAfterSec: retrySeconds(retryMs),
    message: `${subject(check.rule.scope, check.value)} is over its limit of ${what}`,
  };
}

export function backendDenial(): Denied {
  return {
    ok: false,
    status: 503,
    code: 'limits_unavailable',
    limit: 'backend',
    scope: null,
    value: null,
    retryAfterSec: 1,
    message: 'budgets and rate limits cannot be checked (limits backend unavailable) and --fail-mode is block',
  };
}

/**
 * The retry time of a sliding window over per-second buckets: the moment enough of the oldest buckets have left
 * (bucket s leaves the window at (s + WINDOW_BUCKETS) s) for `fits(remaining)` to hold. Mirrors the Lua script.
 */
export function windowRetryMs(buckets: Array<[sec: number, amount: number]>, total: number, fits: (remaining: number) => boolean, nowMs: number): number {
  let removed = 0;
  for (const [sec, amount] of buckets) {
    removed += amount;
    if (fits(total - removed)) return (sec + WINDOW_BUCKETS) * 1000 - nowMs;
  }
  return 1000;
}
