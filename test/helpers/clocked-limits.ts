import type { LimitEngine } from '../../src/usage/limits/types.js';

/**
 * A limit engine read through a clock the test sets: budgets and rate-limit windows see `now()` instead of the
 * wall clock, so a test never depends on the time of day it runs at (a daily budget near midnight resets within a
 * client's retry patience and is answered differently) and can let a window pass without waiting for it.
 */
export function clockedLimits(engine: LimitEngine, now: () => number): LimitEngine {
  return {
    admit: (who, estimatedTokens) => engine.admit(who, estimatedTokens, now()),
    settle: (lease, actual) => engine.settle(lease, actual, now()),
    status: () => engine.status(now()),
    close: () => engine.close(),
  };
}
