/**
 * Resilient routing: the tries that get one request an answer. Each candidate target (in the strategy's order)
 * is tried up to 1 + max_retries times, with jittered exponential backoff or the wait the provider asked for;
 * an open circuit skips a target; a stream is committed only at its first content frame, so a target that
 * stalls or breaks before it is left like any other failure. Nothing that reached the client is ever retried:
 * the output path starts after this returns. Every try is recorded (target, status, latency, why it moved on).
 *
 *   candidate ──▶ circuit open? ──yes──▶ next candidate
 *       │ no
 *       ▼
 *     call ──▶ answer (2xx with its first token, or a final status) ──▶ relay
 *       │ retriable status, refused/reset connection, timeout, no first token
 *       ▼
 *     retries left, not a timeout, and the wait within max_retry_after_ms? ──yes──▶ wait, call again
 *       │ no
 *       ▼
 *     next candidate; after the last: its retriable answer as it is, or the last failure as an error
 */
import type { IncomingHttpHeaders } from 'node:http';
import { errors as undiciErrors, type Dispatcher } from 'undici';
import type { EventAttempt } from '../../audit/event.js';
import { requestBytes, type Exchange } from '../../protocol/exchange.js';
import { retryAfterMs, retryWaitMs } from '../../providers/backoff.js';
import type { BreakerBoard } from '../../providers/breaker.js';
import type { CredentialStore } from '../../providers/credentials.js';
import { awaitFirstToken } from '../../providers/first-token.js';
import type { RouteCandidate, Target } from '../../providers/targets.js';
import { forwardHeaders, type UpstreamClient } from '../../providers/upstream.js';
import type { RequestTrace } from '../../telemetry/tracing.js';
import { translatorFor, type Translator } from '../../protocol/translate/index.js';
import type { ClientGone } from '../client-gone.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { replyKind } from '../reply/media.js';

/** Statuses that say "not now" rather than "not this request". */
export const RETRIABLE_STATUS = new Set([408, 429, 500, 502, 503, 504, 529]);

export interface RoutingDeps {
  upstream: UpstreamClient;
  credentials: CredentialStore;
  breakers: BreakerBoard;
  logger: Logger;
  random?: () => number;
}

export interface RoutedRequest {
  headers: IncomingHttpHeaders;
  query: string;
  ex: Exchange;
  signal: ClientGone;
  virtualKey: boolean;
  /** Gets the time the first call goes out (the request's upstream start). */
  timing: { upstreamStart?: number | undefined };
  /** Every try is pushed here, as the decision event records it. */
  attempts: EventAttempt[];
  /** The request's trace (telemetry.traces): each try gets a span, and its traceparent goes upstream. */
  trace?: RequestTrace | undefined;
}

/** The answer to relay (absent: the client left), from which candidate, and the translator of its format if any. */
export interface Routed {
  response?: Dispatcher.ResponseData;
  candidate: RouteCandidate;
  translator?: Translator | undefined;
}

type Outcome = EventAttempt['outcome'];
type Try =
  | { kind: 'answer'; response: Dispatcher.ResponseData }
  | { kind: 'status'; response: Dispatcher.ResponseData }
  | { kind: 'failure'; outcome: Exclude<Outcome, 'answered' | 'status' | 'circuit_open' | 'no_credentials'>; detail: string }
  | { kind: 'aborted' };

export async function routeRequest(deps: RoutingDeps, r: RoutedRequest, candidates: readonly RouteCandidate[]): Promise<Routed> {
  const { attempts } = r;
  let held: { response: Dispatcher.ResponseData; candidate: RouteCandidate; translator: Translator | undefined; attempt: EventAttempt } | undefined;
  let lastError: GatewayError | undefined;
  let soonestProbeMs: number | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    const target = candidate.target;
    const last = i === candidates.length - 1;
    const auth = deps.credentials.upstreamAuth(target, r.headers, r.virtualKey);
    if (!auth) {
      attempts.push(attempt(target.id, 'no_credentials', null, 0));
      lastError = missingKey(target, r.virtualKey);
      continue;
    }
    // A target of another format gets the request as the input policies left it, in its own format (a 400
    // naming the member when something cannot be said there).
    const translator = translatorFor(r.ex.family, target.format, target.provider);
    const body = translator ? Buffer.from(JSON.stringify(translator.request(r.ex.body, candidate.model || r.ex.model || ''))) : requestBytes(r.ex, candidate.model || undefined);
    const breaker = deps.breakers.get(target.id);
    for (let retry = 0; ; retry++) {
      const admission = breaker ? breaker.admit(Date.now()) : 'closed';
      if (admission === 'skip') {
        attempts.push(attempt(target.id, 'circuit_open', null, 0));
        const wait = breaker!.retryInMs(Date.now());
        soonestProbeMs = Math.min(soonestProbeMs ?? wait, wait);
        break;
      }
      if (held) {
        // Read to its end rather than destroyed: the connection goes back to the pool.
        await held.response.body.dump().catch(() => undefined);
        held = undefined;
      }
      r.timing.upstreamStart ??= performance.now();
      const t0 = performance.now();
      // With no other try left and no first-token deadline there is nothing to gain by holding a stream's opening.
      const mayMoveOn = !last || retry < target.retry.maxRetries || target.firstTokenTimeoutMs !== undefined;
      const span = r.trace?.attempt(target, retry + 1);
      const result = await tryOnce(deps, r, target, auth, body, mayMoveOn, translator, span?.headers);
      const latency = performance.now() - t0;
      if (result.kind === 'aborted' || r.signal.aborted) {
        span?.end(undefined);
        if (admission === 'probe') breaker!.released();
        if (result.kind === 'answer' || result.kind === 'status') discardResponse(result.response);
        return { candidate, translator };
      }
      if (result.kind === 'answer') {
        breaker?.succeeded();
        attempts.push(attempt(target.id, 'answered', result.response.statusCode, latency));
        span?.end(attempts[attempts.length - 1]);
        return { response: result.response, candidate, translator };
      }
      let asked: number | undefined;
      let entry: EventAttempt;
      if (result.kind === 'status') {
        const status = result.response.statusCode;
        // A rate limit says the target is up; 5xx and 408 count against it.
        if (status >= 500 || status === 408) breaker?.failed(Date.now());
        else breaker?.succeeded();
        entry = attempt(target.id, 'status', status, latency);
        held = { response: result.response, candidate, translator, attempt: entry };
        lastError = undefined;
        asked = retryAfterMs(result.response.headers);
        deps.logger.warn({ target: target.id, status }, 'upstream answered with a retriable status');
      } else {
        breaker?.failed(Date.now());
        entry = attempt(target.id, result.outcome, null, latency);
        lastError = failureError(target, result.outcome, result.detail);
        deps.logger.warn({ target: target.id, outcome: result.outcome, failure: result.detail }, 'upstream call failed');
      }
      attempts.push(entry);
      span?.end(entry);
      if (retry >= target.retry.maxRetries) break;
      // A target that timed out is not waited on again: that would spend the client's time twice (600 s by default).
      if (result.kind === 'failure' && (result.outcome === 'timeout' || result.outcome === 'first_token_timeout')) break;
      const wait = retryWaitMs(retry + 1, target.retry, asked, deps.random);
      if (wait === undefined) break;
      entry.wait_ms = wait;
      if (!(await sleep(wait, r.signal))) {
        if (held) discardResponse(held.response);
        return { candidate, translator };
      }
    }
  }
  if (held) {
    // Nothing better came: the last retriable answer goes to the client as it is (its Retry-After with it).
    held.attempt.outcome = 'answered';
    return { response: held.response, candidate: held.candidate, translator: held.translator };
  }
  if (lastError) throw lastError;
  if (soonestProbeMs !== undefined) {
    throw new GatewayError(503, 'overloaded_error', 'every target for this request is failing (circuit open); retry shortly', {
      code: 'upstream_unavailable',
      retryAfter: String(Math.max(1, Math.ceil(soonestProbeMs / 1000))),
    });
  }
  throw new GatewayError(502, 'upstream_error', 'no target could serve the request', { code: 'upstream_unreachable' });
}

async function tryOnce(
  deps: RoutingDeps,
  r: RoutedRequest,
  target: Target,
  auth: { name: string; value: string },
  body: Buffer,
  mayMoveOn: boolean,
  translator: Translator | undefined,
  traceHeaders: Record<string, string> | undefined,
): Promise<Try> {
  const firstToken = r.ex.stream ? target.firstTokenTimeoutMs : undefined;
  const family = translator?.upstreamFamily ?? r.ex.family;
  const headers = forwardHeaders(r.headers, target, auth, body.length);
  translator?.headers(headers);
  // This try's span replaces the client's traceparent (same trace, one level down).
  if (traceHeaders) Object.assign(headers, traceHeaders);
  const t0 = performance.now();
  let response: Dispatcher.ResponseData;
  try {
    response = await deps.upstream.call({
      target,
      family,
      method: 'POST',
      // The client's query names its own API's options (the Anthropic SDK's ?beta=true); another API has none of them.
      query: translator ? '' : r.query,
      headers,
      body,
      signal: r.signal,
      ...(firstToken !== undefined ? { headersTimeoutMs: firstToken } : {}),
    });
  } catch (err) {
    return classify(err, firstToken !== undefined && firstToken < target.timeoutMs);
  }
  const status = response.statusCode;
  if (RETRIABLE_STATUS.has(status)) return { kind: 'status', response };
  if (!mayMoveOn || !r.ex.stream || status < 200 || status >= 300 || !committable(response)) return { kind: 'answer', response };
  const left = firstToken === undefined ? undefined : firstToken - (performance.now() - t0);
  // The upstream's frames, in the target's format: translation comes after the commit point.
  const first = await awaitFirstToken(response.body, family, left, r.signal);
  if (first.ok) return { kind: 'answer', response };
  if (first.outcome === 'aborted') return { kind: 'aborted' };
  if (first.outcome === 'first_token_timeout') return { kind: 'failure', outcome: 'first_token_timeout', detail: 'no first token in time' };
  if (first.outcome === 'stream_error') return { kind: 'failure', outcome: 'stream_error', detail: 'the stream opened with an error (overloaded or similar) before its first token' };
  return { kind: 'failure', outcome: 'reset', detail: 'the stream ended before its first token' };
}

/** Only a plain SSE body is read for its first token; a compressed one is committed at its headers. */
function committable(response: Dispatcher.ResponseData): boolean {
  const encoding = String(response.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  return (encoding === 'identity' || encoding === '') && replyKind(response.headers['content-type']) === 'sse';
}

function classify(err: unknown, firstTokenBound: boolean): Try {
  if (err instanceof undiciErrors.RequestAbortedError || (err as Error)?.name === 'AbortError') return { kind: 'aborted' };
  if (err instanceof undiciErrors.ConnectTimeoutError) return { kind: 'failure', outcome: 'connect_timeout', detail: 'connecting to upstream timed out' };
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return firstTokenBound
      ? { kind: 'failure', outcome: 'first_token_timeout', detail: 'no first token in time' }
      : { kind: 'failure', outcome: 'timeout', detail: 'upstream did not answer in time' };
  }
  // Only the error code: a message may quote the request.
  const code = (err as NodeJS.ErrnoException)?.code;
  return { kind: 'failure', outcome: 'unreachable', detail: code ? `upstream unreachable (${code})` : 'upstream unreachable' };
}

function failureError(target: Target, outcome: Outcome, detail: string): GatewayError {
  if (outcome === 'timeout' || outcome === 'connect_timeout' || outcome === 'first_token_timeout') {
    return new GatewayError(504, 'timeout_error', `target "${target.id}": ${detail}`, { code: 'upstream_timeout' });
  }
  if (outcome === 'reset') return new GatewayError(502, 'upstream_error', `target "${target.id}": ${detail}`, { code: 'upstream_cut' });
  if (outcome === 'stream_error') return new GatewayError(503, 'overloaded_error', `target "${target.id}": ${detail}`, { code: 'upstream_overloaded' });
  return new GatewayError(502, 'upstream_error', `target "${target.id}": ${detail}`, { code: 'upstream_unreachable' });
}

function missingKey(target: Target, virtualKey: boolean): GatewayError {
  return virtualKey
    ? new GatewayError(401, 'authentication_error', `target "${target.id}" has no secret_key_ref, so a gateway key cannot be used with it`, { code: 'missing_api_key' })
    : new GatewayError(
        401,
        'authentication_error',
        `no API key for target "${target.id}": send your provider key (Authorization: Bearer or x-api-key), or set secret_key_ref on the target`,
        { code: 'missing_api_key' },
      );
}

/** Members in canonical (sorted) order, as the event is serialized. */
function attempt(target: string, outcome: Outcome, status: number | null, latencyMs: number): EventAttempt {
  return { latency_ms: Math.round(latencyMs * 100) / 100, outcome, status, target };
}

function discardResponse(response: Dispatcher.ResponseData): void {
  response.body.on('error', () => undefined);
  response.body.destroy();
}

/** Resolves true after `ms`, or false as soon as the client leaves. */
function sleep(ms: number, signal: ClientGone): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.off('abort', onAbort);
      resolve(true);
    }, ms);
    signal.once('abort', onAbort);
  });
}
