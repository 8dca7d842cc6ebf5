import { GatewayError } from '../../gateway/errors.js';
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

/** The error the gateway answers a denied admission with: 429 with Retry-After, or 503 when the backend is down. */
export function limitError(denied: Denied): GatewayError {
  if (denied.status === 503) {
    return new GatewayError(503, 'overloaded_error', denied.message, { code: denied.code, retryAfter: String(denied.retryAfterSec) });
  }
  return new GatewayError(429, 'rate_limit_error', denied.message, { code: denied.code, retryAfter: String(denied.retryAfterSec) });
}
