import type { ServerResponse } from 'node:http';
import type { Refusal } from './request-guard.js';

/** Which API's error envelope a client understands. */
export type ErrorShape = 'openai' | 'anthropic';

export type GatewayErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'overloaded_error'
  | 'api_error';

export interface GatewayErrorExtra {
  code?: string;
  param?: string;
  retryAfter?: string;
  /** Facts for programs beside `code` (policy, rule, location, event_id), added to the error object as members. */
  details?: Readonly<Record<string, string>>;
  /** The verdict behind the error, sent as `x-keeptrusts-verdict` (refusals). */
  verdict?: 'block' | 'escalate';
  /** Overrides whether the answer is final (see `isFinal`). */
  final?: boolean;
}

/**
 * An error the gateway itself answers with. The message goes to the client as written, so it must
 * never contain a request body, a provider key or a detected secret.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: GatewayErrorType,
    message: string,
    readonly extra: GatewayErrorExtra = {},
  ) {
    super(message);
  }

  /**
   * A final answer carries `x-should-retry: false`, which the openai and Anthropic SDKs (Node and Python), Claude
   * Code and Codex all obey before looking at the status. By default every 4xx but 408 and 429 is final: the same
   * request gets the same answer, and a client that retries only multiplies it (and its events).
   */
  get final(): boolean {
    return this.extra.final ?? (this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429);
  }
}

export const badRequest = (message: string, param?: string) =>
  new GatewayError(400, 'invalid_request_error', message, { code: 'invalid_request', ...(param ? { param } : {}) });
export const notFound = (message: string, code = 'not_found') => new GatewayError(404, 'not_found_error', message, { code });
/** A request guard's refusal (foreign Host or Origin, a POST that is not JSON) in the client's API shape. */
export const refusalError = (r: Refusal) => new GatewayError(r.status, r.status === 403 ? 'permission_error' : 'invalid_request_error', r.message, { code: r.code });

/**
 * Every type in Anthropic's own words: a type its clients do not know is no error to them (Aider's litellm shows
 * one as a connection error and retries it). Total, so a new gateway type cannot be sent unmapped.
 */
const ANTHROPIC_TYPES: Record<GatewayErrorType, string> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  permission_error: 'permission_error',
  not_found_error: 'not_found_error',
  request_too_large: 'request_too_large',
  rate_limit_error: 'rate_limit_error',
  overloaded_error: 'overloaded_error',
  api_error: 'api_error',
  upstream_error: 'api_error',
  timeout_error: 'api_error',
};

/** Members an error object already has: details never replace them. */
const RESERVED = new Set(['message', 'type', 'code', 'param']);

function detailsOf(err: GatewayError): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(err.extra.details ?? {})) if (!RESERVED.has(k)) out[k] = v;
  return out;
}

export function errorBody(shape: ErrorShape, err: GatewayError, requestId: string): Record<string, unknown> {
  const { code, param } = err.extra;
  if (shape === 'anthropic') {
    return {
      type: 'error',
      error: {
        type: ANTHROPIC_TYPES[err.type],
        message: err.message,
        ...(code ? { code } : {}),
        ...detailsOf(err),
      },
      request_id: requestId,
    };
  }
  return {
    error: {
      message: err.message,
      type: err.type,
      code: code ?? null,
      param: param ?? null,
      ...detailsOf(err),
    },
  };
}

export function sendError(res: ServerResponse, shape: ErrorShape, err: GatewayError, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(shape, err, requestId));
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-keeptrusts-request-id': requestId,
  };
  if (err.extra.retryAfter) headers['retry-after'] = err.extra.retryAfter;
  if (err.final) headers['x-should-retry'] = 'false';
  if (err.extra.verdict) headers['x-keeptrusts-verdict'] = err.extra.verdict;
  res.writeHead(err.status, headers);
  res.end(body);
}
