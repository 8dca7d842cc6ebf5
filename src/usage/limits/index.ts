import { GatewayError } from '../../gateway/errors.js';
import { budgetNotice, finalRefusal, type RefusalRef } from '../../gateway/refusal.js';
import { MemoryLimitEngine } from './memory.js';
import { RedisLimitEngine, type RedisLimitEngineOptions } from './redis.js';
import type { Denied, LimitEngine, LimitEngineOptions, LimitsConfig } from './types.js';

export type * from './types.js';
export { DEFAULT_LEASE_TTL_MS } from './types.js';
export { MemoryLimitEngine } from './memory.js';
export { RedisLimitEngine, type RedisLimitEngineOptions } from './redis.js';
export { periodBounds, scopeValuesFromAttribution } from './plan.js';

export interface CreateLimitEngineOptions extends LimitEngineOptions {
  /** --redis-url / KEEPTRUSTS_REDIS_URL: shared limits across gateways. Absent: limits of this process only. */
  redisUrl?: string | undefined;
  keyPrefix?: string;
}

/** The engine for a config, or undefined when it has no budgets and no rate limits (nothing to check). */
export function createLimitEngine(config: Partial<LimitsConfig>, opts: CreateLimitEngineOptions = {}): LimitEngine | undefined {
  const limits: LimitsConfig = { budgets: config.budgets ?? [], rate_limits: config.rate_limits ?? [] };
  if (limits.budgets.length === 0 && limits.rate_limits.length === 0) return undefined;
  const { redisUrl, ...rest } = opts;
  if (redisUrl) return new RedisLimitEngine(limits, { ...rest, url: redisUrl } satisfies RedisLimitEngineOptions);
  return new MemoryLimitEngine(limits, rest);
}

/**
 * The longest wait a client's retries sit out. The SDKs sleep whatever Retry-After says (the openai Node SDK
 * slept 79,106 s for a daily budget) and Aider gives up once its back-off passes 60 s; a limit that frees up
 * sooner is worth a retry, one that does not is a final answer.
 */
export const RETRY_PATIENCE_SEC = 60;

/**
 * The error the gateway answers a denied admission with. Rate limits and a budget resetting within the retry
 * patience: 429 with an honest Retry-After (seconds until a slot frees or the period resets), which clients
 * retry. A hard budget resetting later: a final refusal (400, `x-should-retry: false`, no Retry-After), since
 * 429 is retried by Codex and Aider whatever its headers say. Backend down: 503.
 */
export function limitError(denied: Denied, ref: RefusalRef): GatewayError {
  if (denied.status === 503) {
    return new GatewayError(503, 'overloaded_error', denied.message, { code: denied.code, retryAfter: String(denied.retryAfterSec) });
  }
  if (denied.code === 'budget_exceeded' && denied.retryAfterSec > RETRY_PATIENCE_SEC) return finalRefusal(budgetNotice(denied, ref), 'block');
  return new GatewayError(429, 'rate_limit_error', denied.message, { code: denied.code, retryAfter: String(denied.retryAfterSec) });
}
