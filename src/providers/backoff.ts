/**
 * How long to wait before trying a target again: exponential backoff with jitter, or what the provider asked
 * for (`retry-after-ms`, `Retry-After`) when it asked, within a cap. Pure: the random source and the clock are
 * parameters, so the property tests can pin both.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface RetryPolicy {
  /** Retries of the same target after the first try (0: none). */
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A provider asking for a longer wait than this is not waited for: the request moves on. */
  maxRetryAfterMs: number;
}

/**
 * One retry by default: OpenAI's and Anthropic's SDKs retry twice and Claude Code up to ten times on their own,
 * so every retry here multiplies what a struggling provider receives. One covers the blip (a reset keep-alive
 * connection, a single 502) without making a client's retry loop ten times heavier.
 */
export const RETRY_DEFAULTS: RetryPolicy = { maxRetries: 1, initialBackoffMs: 200, maxBackoffMs: 2_000, maxRetryAfterMs: 5_000 };

/**
 * The wait before retry number `retry` (1 for the first retry): "equal jitter", half of the exponential step
 * fixed and half random, so retries from many gateways spread out but none comes back at once.
 */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  return equalJitterMs(retry, policy.initialBackoffMs, policy.maxBackoffMs, random);
}

/**
 * Equal jitter for any retry loop (targets, the shipper, SIEM sinks, webhooks): the doubled step from `initialMs`,
 * capped at `maxMs`, half of it fixed and half random.
 */
export function equalJitterMs(retry: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(retry - 1, 0), 30));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * What the provider asked for, in milliseconds, or undefined when it did not ask (or asked in a form we cannot
 * read). `retry-after-ms` (OpenAI, Azure) is more precise and wins; `Retry-After` is seconds or an HTTP date.
 */
export function retryAfterMs(headers: IncomingHttpHeaders, now: number = Date.now()): number | undefined {
  const ms = single(headers['retry-after-ms']);
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const after = single(headers['retry-after']);
  if (after === undefined) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(after)) return Math.ceil(Number(after) * 1000);
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The wait before the next try of a target that asked for `asked` (undefined: it did not ask), or undefined when
 * the ask is over the cap and the request should move on instead.
 */
export function retryWaitMs(retry: number, policy: RetryPolicy, asked: number | undefined, random: () => number = Math.random): number | undefined {
  const backoff = backoffMs(retry, policy, random);
  if (asked === undefined) return backoff;
  if (asked > policy.maxRetryAfterMs) return undefined;
  return Math.max(backoff, asked);
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
