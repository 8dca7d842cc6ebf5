/**
 * Who may read what a gateway says about itself beyond "alive". `/health`'s details (config files, targets,
 * gateway id, audit counters) and `/metrics` (targets, tokens and spend per model) describe the deployment and
 * its costs; they are for the operator, who holds the console token or the `--metrics-token`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from './errors.js';

/** Shorter tokens are refused at start: a metrics token guards spend figures on a network listener. */
export const MIN_METRICS_TOKEN_LENGTH = 16;

export class OperatorAuth {
  private readonly digests: Buffer[];

  /**
   * @param tokens the tokens that unlock the details (the console token, the metrics token), absent ones skipped
   * @param metricsOpen /metrics needs no token (a loopback listener with no metrics token configured)
   */
  constructor(
    tokens: ReadonlyArray<string | undefined>,
    private readonly metricsOpen: boolean,
  ) {
    this.digests = tokens.filter((t): t is string => typeof t === 'string' && t !== '').map(digest);
  }

  /** True with a known bearer token, false without an Authorization header; a wrong token is an error, not a quiet downgrade. */
  granted(authorization: string | undefined): boolean {
    if (authorization === undefined || authorization === '') return false;
    const token = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)?.[1];
    const candidate = digest(token ?? '');
    let known = false;
    for (const d of this.digests) known = timingSafeEqual(d, candidate) || known;
    if (!known) {
      throw new GatewayError(401, 'authentication_error', "that token is neither this gateway's metrics token (--metrics-token) nor its console token (kt console url)", {
        code: 'invalid_operator_token',
      });
    }
    return true;
  }

  /** Throws unless /metrics may be read with this Authorization header. */
  requireForMetrics(authorization: string | undefined): void {
    if (this.granted(authorization) || this.metricsOpen) return;
    if (this.digests.length === 0) {
      throw new GatewayError(
        403,
        'permission_error',
        '/metrics is served beyond loopback only with a token: start the gateway with --metrics-token (or KEEPTRUSTS_METRICS_TOKEN) and have Prometheus send it as a bearer token',
        { code: 'metrics_token_required' },
      );
    }
    throw new GatewayError(401, 'authentication_error', '/metrics needs Authorization: Bearer <token>, with the metrics token (--metrics-token) or the console token (kt console url)', {
      code: 'missing_operator_token',
    });
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
