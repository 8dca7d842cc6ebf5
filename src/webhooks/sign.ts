import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures. Each try of a delivery is signed afresh:
 *
 *   keeptrusts-webhook-id:        dlv_…   (the same on every try: receivers drop repeats by it)
 *   keeptrusts-webhook-timestamp: 1765000000   (Unix seconds when this try was sent)
 *   keeptrusts-webhook-signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
 *
 * A receiver recomputes the HMAC over the raw bytes it received, compares in constant time, and refuses a
 * timestamp further than its replay window (5 minutes here) from its own clock.
 */
export const SIGNATURE_HEADER = 'keeptrusts-webhook-signature';
export const TIMESTAMP_HEADER = 'keeptrusts-webhook-timestamp';
export const ID_HEADER = 'keeptrusts-webhook-id';
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signature(secret: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function signedHeaders(secret: string, id: string, body: string, nowMs = Date.now()): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return { [ID_HEADER]: id, [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: signature(secret, ts, body) };
}

/** What a receiver does: true only for a signature of this body by this secret, sent within the window. */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  opts: { toleranceSeconds?: number; nowMs?: number } = {},
): boolean {
  const ts = Number(one(headers[TIMESTAMP_HEADER]));
  const sig = one(headers[SIGNATURE_HEADER]);
  if (!Number.isSafeInteger(ts) || sig === undefined) return false;
  const now = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  if (Math.abs(now - ts) > (opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = Buffer.from(signature(secret, ts, body));
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? undefined : v;
}
