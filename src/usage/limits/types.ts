import type { BudgetRule, LimitScope, RateLimitRule } from '../../config/schema.js';

export type { BudgetRule, LimitScope, RateLimitRule };

/** The two config sections the engines enforce (as parsed: defaults applied, alert_at sorted and unique). */
export interface LimitsConfig {
  budgets: readonly BudgetRule[];
  rate_limits: readonly RateLimitRule[];
}

/** The id a request has in each scope; a rule whose scope has no value (null) does not apply to the request. */
export interface LimitScopeValues {
  developer: string | null;
  repository: string | null;
  team: string | null;
  /** The virtual key id (Attribution.key_id). */
  key: string | null;
}

/**
 * Proof of admission, handed back to `settle`. A plain serialisable object: settle recomputes the counters it
 * touches from `who` and `admittedAtMs`, so the engine keeps no per-request state.
 */
export interface Lease {
  readonly id: string;
  readonly who: LimitScopeValues;
  readonly estimatedTokens: number;
  readonly admittedAtMs: number;
}

export type AdmitFlag =
  /** A soft budget matching this request is already spent (one flag per rule × value, see `flagFor`). */
  | `budget_soft_exceeded:${string}`
  /** The backend (Redis) failed and onBackendError is allow: the request was admitted unchecked. */
  | 'limits_unavailable';

export interface Admitted {
  ok: true;
  lease: Lease;
  flags: AdmitFlag[];
}

export interface Denied {
  ok: false;
  /** 429 for budget_exceeded / rate_limited; 503 for limits_unavailable (backend down, onBackendError block). */
  status: 429 | 503;
  code: 'budget_exceeded' | 'rate_limited' | 'limits_unavailable';
  /** Which limit said no. */
  limit: 'budget' | 'rpm' | 'tpm' | 'max_parallel' | 'backend';
  /** The rule's scope and the request's value in it (null for global and for backend errors). */
  scope: LimitScope | null;
  value: string | null;
  /** Whole seconds, at least 1: until the budget period resets, or until the window has room again. */
  retryAfterSec: number;
  /** Safe to show the client: names the scope value and the limit, never anything else. */
  message: string;
}

export type Admission = Admitted | Denied;

export interface SettleActual {
  /** Metered cost in USD; null when the model has no price (nothing is added to budgets). */
  costUsd: number | null;
  /** Tokens actually used (input + output); replaces the admission estimate in the tpm window. */
  tokens: number;
}

export interface BudgetAlert {
  scope: LimitScope;
  /** The scope value whose spend crossed the threshold (null for global). */
  value: string | null;
  match: string | null;
  period: BudgetRule['period'];
  mode: BudgetRule['mode'];
  limitUsd: number;
  /** The alert_at fraction crossed; 1 means the budget is exhausted (hard) or exceeded (soft). */
  threshold: number;
  spentUsd: number;
  periodStart: string;
  periodEnd: string;
}

export interface SettleResult {
  /** Thresholds crossed by this request's cost; each (rule, value, threshold) is reported once per period. */
  alerts: BudgetAlert[];
  /** Set when the backend failed: the cost was not recorded (the caller should log it). */
  error?: string;
}

export interface BudgetStatus {
  scope: LimitScope;
  match: string | null;
  value: string | null;
  period: BudgetRule['period'];
  mode: BudgetRule['mode'];
  limitUsd: number;
  spentUsd: number;
  periodStart: string;
  periodEnd: string;
}

export interface LimitEngine {
  /**
   * Atomically: check every matching hard budget (spent < limit in the current period), rpm (requests in the
   * window < rpm), tpm (tokens in the window + estimate ≤ tpm, unless the window is empty) and max_parallel (live
   * leases < max); if all pass, take a parallel slot in each matching scope and count the request and its
   * estimated tokens. Never throws: a backend failure answers according to onBackendError.
   */
  admit(who: LimitScopeValues, estimatedTokens: number, nowMs?: number): Promise<Admission>;
  /**
   * Add the real cost to each matching budget's current period, replace the token estimate with the actual
   * count, release the parallel slots, and return the alerts this request crossed. Never throws.
   */
  settle(lease: Lease, actual: SettleActual, nowMs?: number): Promise<SettleResult>;
  /** Each budget rule × scope value with spend in the current period (rules with match or global: always). */
  status(nowMs?: number): Promise<BudgetStatus[]>;
  close(): Promise<void>;
}

export interface LimitEngineOptions {
  /** What admit does when the backend fails: block → Denied 503 limits_unavailable; allow → admitted, flagged. */
  onBackendError?: 'block' | 'allow';
  /** How long an unsettled lease holds its parallel slot (a crashed gateway's leases free themselves). */
  leaseTtlMs?: number;
  /** Called on backend errors (admit and settle), for the gateway's logger. */
  onError?: (err: unknown, op: 'admit' | 'settle' | 'status') => void;
}

export const DEFAULT_LEASE_TTL_MS = 10 * 60_000;
