/**
 * A circuit breaker per target. Closed: requests go through and failures are counted in a sliding window. Open
 * (`failures` within `windowMs`): the target is skipped, so requests go straight to the next one instead of
 * waiting out a timeout each. After `cooldownMs` one request probes it (half-open); its success closes the
 * circuit, its failure opens it again for another cool-down. The clock is a parameter for the tests.
 */
export interface BreakerPolicy {
  enabled: boolean;
  failures: number;
  windowMs: number;
  cooldownMs: number;
}

export const BREAKER_DEFAULTS: BreakerPolicy = { enabled: true, failures: 5, windowMs: 30_000, cooldownMs: 30_000 };

export type BreakerState = 'closed' | 'open' | 'half_open';

/** What a request may do with a target: try it, try it as the one probe, or skip it. */
export type Admission = 'closed' | 'probe' | 'skip';

export class CircuitBreaker {
  /** Times of recent failures, oldest first; never longer than `failures`. */
  private readonly recent: number[] = [];
  private openedAt: number | undefined;
  private probing = false;
  private opens = 0;

  constructor(readonly policy: BreakerPolicy) {}

  state(now: number): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return now - this.openedAt >= this.policy.cooldownMs ? 'half_open' : 'open';
  }

  admit(now: number): Admission {
    if (!this.policy.enabled) return 'closed';
    const state = this.state(now);
    if (state === 'closed') return 'closed';
    if (state === 'open' || this.probing) return 'skip';
    this.probing = true;
    return 'probe';
  }

  /** The target answered (whatever the status, bar a failure one): a probe's success closes the circuit. */
  succeeded(): void {
    this.probing = false;
    this.openedAt = undefined;
    this.recent.length = 0;
  }

  failed(now: number): void {
    if (!this.policy.enabled) return;
    if (this.openedAt !== undefined) {
      // Only the probe reports while open: it failed, so the cool-down starts again.
      this.probing = false;
      this.openedAt = now;
      return;
    }
    this.recent.push(now);
    while (this.recent.length > 0 && now - this.recent[0]! > this.policy.windowMs) this.recent.shift();
    if (this.recent.length > this.policy.failures) this.recent.shift();
    if (this.recent.length >= this.policy.failures) {
      this.openedAt = now;
      this.opens++;
      this.recent.length = 0;
    }
  }

  /** A probe that ended without a verdict (the client left): another request may probe. */
  released(): void {
    this.probing = false;
  }

  /** Milliseconds until an open circuit lets a probe through (0 when it would now). */
  retryInMs(now: number): number {
    return this.openedAt === undefined ? 0 : Math.max(0, this.openedAt + this.policy.cooldownMs - now);
  }

  snapshot(now: number): { state: BreakerState; recent_failures: number; opened: number; retry_in_ms: number | null } {
    const state = this.state(now);
    const recent = this.recent.filter((t) => now - t <= this.policy.windowMs).length;
    return { state, recent_failures: recent, opened: this.opens, retry_in_ms: state === 'open' ? this.retryInMs(now) : null };
  }
}

/**
 * The breakers of a gateway, by target id. Kept across config reloads: a target that keeps its id keeps its
 * state (it is the same upstream), one whose settings changed gets a fresh breaker with them.
 */
export class BreakerBoard {
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(targets: ReadonlyArray<{ id: string; breaker: BreakerPolicy }> = []) {
    this.update(targets);
  }

  update(targets: ReadonlyArray<{ id: string; breaker: BreakerPolicy }>): void {
    const keep = new Set<string>();
    for (const t of targets) {
      keep.add(t.id);
      const old = this.breakers.get(t.id);
      if (!old || !samePolicy(old.policy, t.breaker)) this.breakers.set(t.id, new CircuitBreaker(t.breaker));
    }
    for (const id of [...this.breakers.keys()]) if (!keep.has(id)) this.breakers.delete(id);
  }

  get(id: string): CircuitBreaker | undefined {
    return this.breakers.get(id);
  }

  entries(): IterableIterator<[string, CircuitBreaker]> {
    return this.breakers.entries();
  }
}

function samePolicy(a: BreakerPolicy, b: BreakerPolicy): boolean {
  return a.enabled === b.enabled && a.failures === b.failures && a.windowMs === b.windowMs && a.cooldownMs === b.cooldownMs;
}
