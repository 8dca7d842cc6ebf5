import type { EventEmitter } from 'node:events';
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
  for (const [name, value] of Object.entries(client)) {
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
}

export type UpstreamFailure = { kind: 'timeout' | 'unreachable' | 'aborted'; detail: string };

/** Connection pools, one per upstream origin, kept alive across requests. */
export class UpstreamClient {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly connectionsPerOrigin: number) {}

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.connectionsPerOrigin,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 120_000,
        connect: { timeout: 10_000 },
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async call(c: UpstreamCall): Promise<Dispatcher.ResponseData> {
    const qs = c.query ? mergeQuery(c.target.baseQuery, c.query) : c.target.baseQuery.toString();
    return this.pool(c.target.origin).request({
      method: c.method,
      path: upstreamPath(c.target, c.family) + (qs ? `?${qs}` : ''),
      headers: c.headers,
      ...(c.body ? { body: c.body } : {}),
      signal: c.signal,
      headersTimeout: c.target.timeoutMs,
      bodyTimeout: c.target.timeoutMs,
    });
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
