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
  | 'policy_violation'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'timeout_error'
  | 'overloaded_error'
  | 'api_error';

/**
 * An error the gateway itself answers with. The message goes to the client as written, so it must
 * never contain a request body, a provider key or a detected secret.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly type: GatewayErrorType,
    message: string,
    readonly extra: { code?: string; param?: string; policy?: string; retryAfter?: string } = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string, param?: string) =>
  new GatewayError(400, 'invalid_request_error', message, { code: 'invalid_request', ...(param ? { param } : {}) });
export const notFound = (message: string, code = 'not_found') => new GatewayError(404, 'not_found_error', message, { code });
/** A request guard's refusal (foreign Host or Origin, a POST that is not JSON) in the client's API shape. */
export const refusalError = (r: Refusal) => new GatewayError(r.status, r.status === 403 ? 'permission_error' : 'invalid_request_error', r.message, { code: r.code });

/** Anthropic's own names for the error types, so its SDK maps them to the right exception classes. */
const ANTHROPIC_TYPES: Partial<Record<GatewayErrorType, string>> = {
  upstream_error: 'api_error',
  timeout_error: 'api_error',
};

export function errorBody(shape: ErrorShape, err: GatewayError, requestId: string): Record<string, unknown> {
  const { code, param, policy } = err.extra;
  if (shape === 'anthropic') {
    return {
      type: 'error',
      error: {
        type: ANTHROPIC_TYPES[err.type] ?? err.type,
        message: err.message,
        ...(code ? { code } : {}),
        ...(policy ? { policy } : {}),
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
      ...(policy ? { policy } : {}),
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
  if (err.type === 'policy_violation') headers['x-keeptrusts-verdict'] = 'block';
  res.writeHead(err.status, headers);
  res.end(body);
}
