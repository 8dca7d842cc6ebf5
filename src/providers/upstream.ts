import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Family, Target } from './targets.js';
import { upstreamPath } from './targets.js';

/** Headers that describe one hop and must not be forwarded (RFC 9110 §7.6.1), plus ones we set ourselves. */
const DROP_REQUEST_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'accept-encoding',
  // the body is sent decoded, whatever encoding the client used
  'content-encoding',
  // credentials: re-added by CredentialStore in the form the target needs
  'authorization',
  'x-api-key',
  'api-key',
]);

export const DROP_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'content-encoding',
  // CORS is the gateway's to grant (src/gateway/request-guard.ts): a provider's `*` must not let any page read replies
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-headers',
  'access-control-allow-methods',
  'access-control-expose-headers',
  'access-control-max-age',
]);

/** Encodings we can decode when reading an upstream body (Node 20's zlib has no zstd). */
const ACCEPT_ENCODING = 'gzip, deflate, br';

export function forwardHeaders(
  client: IncomingHttpHeaders,
  target: Target,
  auth: { name: string; value: string } | undefined,
  bodyLength: number,
): Record<string, string> {
  const out: Record<string, string> = {};
  const connectionTokens = typeof client.connection === 'string' ? client.connection.toLowerCase().split(/\s*,\s*/) : [];
  // Names rather than entries: a pair array per header showed on every request.
  for (const name of Object.keys(client)) {
    const value = client[name];
    if (value === undefined || DROP_REQUEST_HEADERS.has(name) || name.startsWith('x-keeptrusts-')) continue;
    if (connectionTokens.includes(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  Object.assign(out, target.headers);
  if (auth) out[auth.name] = auth.value;
  out['accept-encoding'] = ACCEPT_ENCODING;
  out['content-length'] = String(bodyLength);
  return out;
}

export interface UpstreamCall {
  target: Target;
  family: Family | 'models';
  method: 'GET' | 'POST';
  query: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Aborts the call when it emits 'abort' (an EventEmitter or AbortSignal). */
  signal: EventEmitter | AbortSignal;
  /** The wait for the response headers when shorter than the target's timeout_ms (a stream's first-token deadline). */
  headersTimeoutMs?: number;
}

export type UpstreamFailure = { kind: 'timeout' | 'unreachable' | 'aborted'; detail: string };

/**
 * The request signal undici sees: the client's going away, passed on for the whole call, and the target's
 * `timeout_ms` for the response headers, on a timer of its own. An EventEmitter, like ClientGone: undici takes
 * either, and reads `reason` to reject with (a HeadersTimeoutError, classified as a timeout like undici's own).
 */
export class HeadersDeadline extends EventEmitter {
  aborted = false;
  reason: Error | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(client: EventEmitter | AbortSignal, timeoutMs: number) {
    super();
    const onClientGone = () => this.abort(undefined);
    if ('aborted' in client && client.aborted) this.aborted = true;
    else if (client instanceof EventEmitter) client.once('abort', onClientGone);
    else client.addEventListener('abort', onClientGone, { once: true });
    if (!this.aborted) this.timer = setTimeout(() => this.abort(new undiciErrors.HeadersTimeoutError()), timeoutMs);
  }

  /** Headers came (or the call failed): only the client's going away can end the call from now on. */
  headersArrived(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private abort(reason: Error | undefined): void {
    if (this.aborted) return;
    this.headersArrived();
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}

/** Connection pools, one per upstream origin, kept alive across requests. */
export class UpstreamClient {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connectionsPerOrigin: number) {}

  /** One pool per origin and connect timeout (the timeout is the pool's: targets that share an origin may differ). */
  private pool(origin: string, connectTimeoutMs: number): Pool {
    const key = `${connectTimeoutMs} ${origin}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connectionsPerOrigin,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        connect: { timeout: connectTimeoutMs },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async call(c: UpstreamCall): Promise<Dispatcher.ResponseData> {
    const qs = c.query ? mergeQuery(c.target.baseQuery, c.query) : c.target.baseQuery.toString();
    const deadline = new HeadersDeadline(c.signal, Math.min(c.target.timeoutMs, c.headersTimeoutMs ?? Infinity));
    try {
      return await this.pool(c.target.origin, c.target.connectTimeoutMs).request({
        method: c.method,
        path: upstreamPath(c.target, c.family) + (qs ? `?${qs}` : ''),
        headers: c.headers,
        ...(c.body ? { body: c.body } : {}),
        signal: deadline,
        // The wait for headers is HeadersDeadline's: undici's own timer ticks every half second and fired a
        // `timeout_ms: 1000` at about 1.5 s.
        headersTimeout: 0,
        bodyTimeout: c.target.timeoutMs,
      });
    } finally {
      deadline.headersArrived();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => p.destroy())));
    this.pools.clear();
  }
}

/** The target's own query parameters (Azure's api-version) win over the client's of the same name. */
function mergeQuery(base: URLSearchParams, clientQuery: string): string {
  const params = new URLSearchParams(base);
  for (const [k, v] of new URLSearchParams(clientQuery)) if (!params.has(k)) params.append(k, v);
  return params.toString();
}

/** Classify a thrown upstream error without echoing anything that might carry request data. */
export function classifyUpstreamError(err: unknown): UpstreamFailure {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return { kind: 'timeout', detail: 'upstream did not answer in time' };
  }
  if (err instanceof undiciErrors.ConnectTimeoutError) return { kind: 'timeout', detail: 'connecting to upstream timed out' };
  if (err instanceof undiciErrors.RequestAbortedError || (err as Error)?.name === 'AbortError') {
    return { kind: 'aborted', detail: 'request aborted' };
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  return { kind: 'unreachable', detail: code ? `upstream unreachable (${code})` : 'upstream unreachable' };
}
