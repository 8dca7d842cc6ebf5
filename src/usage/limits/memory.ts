import { randomUUID } from 'node:crypto';
import {
  BUDGET_KEY_GRACE_MS,
  WINDOW_BUCKETS,
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
  windowRetryMs,
} from './plan.js';
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

interface BudgetCell {
  spent: number;
  expiresAt: number;
  alerts: Set<string>;
}

type Bucket = { r: number; t: number };

/**
 * Limits for one gateway process. Every method runs synchronously to completion before it resolves, so each
 * admit and settle is atomic with respect to the others, exactly as the Redis scripts are across gateways.
 */
export class MemoryLimitEngine implements LimitEngine {
  private readonly budgets = new Map<string, BudgetCell>();
  private readonly windows = new Map<string, Map<number, Bucket>>();
  private readonly slots = new Map<string, Map<string, number>>();
  private readonly leaseTtlMs: number;
  private ops = 0;

  constructor(
    private readonly config: LimitsConfig,
    opts: LimitEngineOptions = {},
  ) {
    this.leaseTtlMs = opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  async admit(who: LimitScopeValues, estimatedTokens: number, nowMs = Date.now()): Promise<Admission> {
    if (++this.ops % 1024 === 0) this.sweep(nowMs);
    const estimate = cleanTokens(estimatedTokens);
    const plan = planAdmit(this.config, who, nowMs);
    const flags: AdmitFlag[] = [];
    for (const b of plan.budgets) {
      if (this.spent(b.key, nowMs) < b.limitMicros) continue;
      if (b.rule.mode === 'hard') return budgetDenial(b, nowMs);
      const flag = softFlag(b);
      if (!flags.includes(flag)) flags.push(flag);
    }
    const sec = Math.floor(nowMs / 1000);
    const totals = new Map<string, { buckets: Array<[number, Bucket]>; r: number; t: number }>();
    for (const key of plan.windowKeys) totals.set(key, this.window(key, sec));
    for (const c of plan.windows) {
      const w = totals.get(c.key)!;
      if (c.kind === 'rpm' && w.r >= c.limit) {
        return rateDenial(c, windowRetryMs(w.buckets.map(([s, b]) => [s, b.r]), w.r, (left) => left < c.limit, nowMs));
      }
      if (c.kind === 'tpm' && w.t > 0 && w.t + estimate > c.limit) {
        return rateDenial(c, windowRetryMs(w.buckets.map(([s, b]) => [s, b.t]), w.t, (left) => left <= 0 || left + estimate <= c.limit, nowMs));
      }
    }
    for (const key of plan.slotKeys) this.liveSlots(key, nowMs);
    for (const c of plan.slots) {
      if ((this.slots.get(c.key)?.size ?? 0) >= c.limit) return rateDenial(c, 1000);
    }
    const id = randomUUID();
    for (const key of plan.windowKeys) {
      let buckets = this.windows.get(key);
      if (!buckets) this.windows.set(key, (buckets = new Map()));
      const b = buckets.get(sec) ?? { r: 0, t: 0 };
      b.r += 1;
      b.t += estimate;
      buckets.set(sec, b);
    }
    for (const key of plan.slotKeys) {
      let live = this.slots.get(key);
      if (!live) this.slots.set(key, (live = new Map()));
      live.set(id, nowMs + this.leaseTtlMs);
    }
    return { ok: true, lease: { id, who: { ...who }, estimatedTokens: estimate, admittedAtMs: nowMs }, flags };
  }

  async settle(lease: Lease, actual: SettleActual, nowMs = Date.now()): Promise<SettleResult> {
    const plan = planAdmit(this.config, lease.who, nowMs);
    const cost = actual.costUsd !== null && Number.isFinite(actual.costUsd) && actual.costUsd > 0 ? toMicros(actual.costUsd) : 0;
    const alerts: BudgetAlert[] = [];
    for (const entry of planSettle(plan)) {
      let cell = this.budgets.get(entry.key);
      if (!cell || cell.expiresAt <= nowMs) {
        cell = { spent: 0, expiresAt: 0, alerts: new Set() };
        this.budgets.set(entry.key, cell);
      }
      cell.spent += cost;
      cell.expiresAt = entry.bounds.end + BUDGET_KEY_GRACE_MS;
      for (const a of entry.alerts) {
        if (cell.spent >= a.atMicros && !cell.alerts.has(a.field)) {
          cell.alerts.add(a.field);
          alerts.push(budgetAlert(a.check, a.threshold, cell.spent));
        }
      }
    }
    const sec = Math.floor(lease.admittedAtMs / 1000);
    const delta = cleanTokens(actual.tokens) - lease.estimatedTokens;
    for (const key of plan.windowKeys) {
      const b = this.windows.get(key)?.get(sec);
      if (b && delta !== 0) b.t += delta;
    }
    for (const key of plan.slotKeys) this.slots.get(key)?.delete(lease.id);
    return { alerts };
  }

  async status(nowMs = Date.now()): Promise<BudgetStatus[]> {
    const out: BudgetStatus[] = [];
    for (const rule of this.config.budgets) {
      const bounds = periodBounds(rule.period, nowMs);
      if (rule.scope === 'global' || rule.match !== undefined) {
        const value = rule.scope === 'global' ? null : rule.match!;
        out.push(budgetStatus(rule, value, bounds, this.spent(budgetKey(rule.period, bounds.label, rule.scope, value), nowMs)));
        continue;
      }
      const prefix = budgetKey(rule.period, bounds.label, rule.scope, '');
      for (const [key, cell] of this.budgets) {
        if (key.startsWith(prefix) && cell.expiresAt > nowMs) out.push(budgetStatus(rule, key.slice(prefix.length), bounds, cell.spent));
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.budgets.clear();
    this.windows.clear();
    this.slots.clear();
  }

  private spent(key: string, nowMs: number): number {
    const cell = this.budgets.get(key);
    return cell && cell.expiresAt > nowMs ? cell.spent : 0;
  }

  /** The window's buckets, oldest first, after dropping those that have left it. */
  private window(key: string, sec: number): { buckets: Array<[number, Bucket]>; r: number; t: number } {
    const map = this.windows.get(key);
    const buckets: Array<[number, Bucket]> = [];
    let r = 0;
    let t = 0;
    if (map) {
      for (const [s, b] of map) {
        if (s <= sec - WINDOW_BUCKETS) map.delete(s);
        else {
          buckets.push([s, b]);
          r += b.r;
          t += b.t;
        }
      }
      if (map.size === 0) this.windows.delete(key);
    }
    buckets.sort((a, b) => a[0] - b[0]);
    return { buckets, r, t };
  }

  private liveSlots(key: string, nowMs: number): void {
    const live = this.slots.get(key);
    if (!live) return;
    for (const [id, expiresAt] of live) if (expiresAt <= nowMs) live.delete(id);
    if (live.size === 0) this.slots.delete(key);
  }

  /** Forget expired periods, empty windows and expired leases, so scope values seen once do not pile up. */
  private sweep(nowMs: number): void {
    for (const [key, cell] of this.budgets) if (cell.expiresAt <= nowMs) this.budgets.delete(key);
    const sec = Math.floor(nowMs / 1000);
    for (const key of [...this.windows.keys()]) this.window(key, sec);
    for (const key of [...this.slots.keys()]) this.liveSlots(key, nowMs);
  }
}
