import { request } from 'undici';
import { apiBase } from './shipper.js';

/** A start that cannot go on: the control plane and this gateway disagree about who it is. */
export class GatewayIdentityError extends Error {
  override readonly name = 'GatewayIdentityError';
}

/** How long start-up waits for the control plane's answer. */
const WHOAMI_TIMEOUT_MS = 10_000;

/**
 * The gateway id to record and ship under, when events are shipped: the one the control plane says the token
 * was created for (`GET /v1/whoami`). A gateway id given as well must be the same, or the start stops: it would
 * record its chain under one name and be refused at its first shipment for another. When the control plane
 * cannot be asked, an explicit id lets the gateway start (shipping waits for the control plane, as it would
 * anyway); without one there is no id to start with.
 */
export async function shippingIdentity(opts: { apiUrl: string; token: string; explicit: string | undefined; timeoutMs?: number }): Promise<{ gatewayId: string; asked: boolean; warning?: string }> {
  const base = apiBase(opts.apiUrl);
  const where = `the control plane at ${base}`;
  let status: number;
  let text: string;
  try {
    const res = await request(`${base}/v1/whoami`, {
      method: 'GET',
      headers: { authorization: `Bearer ${opts.token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(opts.timeoutMs ?? WHOAMI_TIMEOUT_MS),
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    if (opts.explicit) return { gatewayId: opts.explicit, asked: false, warning: `could not ask ${where} who KEEPTRUSTS_GATEWAY_TOKEN belongs to (${why}); shipping as gateway ${opts.explicit}` };
    throw new GatewayIdentityError(
      `could not ask ${where} who KEEPTRUSTS_GATEWAY_TOKEN belongs to (${why}): start the control plane (kt server), or set KEEPTRUSTS_GATEWAY_ID to the gateway the token was created for`,
    );
  }
  if (status === 401) throw new GatewayIdentityError(`${where} does not know KEEPTRUSTS_GATEWAY_TOKEN (unknown or revoked): create one with kt server token create --gateway NAME`);
  if (status === 404 && opts.explicit) {
    return { gatewayId: opts.explicit, asked: false, warning: `${where} cannot say who a token belongs to (no /v1/whoami: an older version); shipping as gateway ${opts.explicit}` };
  }
  if (status !== 200) {
    throw new GatewayIdentityError(`${where} answered ${status} when asked who KEEPTRUSTS_GATEWAY_TOKEN belongs to${opts.explicit ? '' : '; set KEEPTRUSTS_GATEWAY_ID to start without asking'}`);
  }
  const who = parseWho(text);
  if (!who) throw new GatewayIdentityError(`${where} answered /v1/whoami with something that is not a token's owner`);
  if (who.role !== 'gateway') {
    throw new GatewayIdentityError(`KEEPTRUSTS_GATEWAY_TOKEN is a ${who.role} token, which cannot ship events: create a gateway token with kt server token create --gateway NAME`);
  }
  if (opts.explicit !== undefined && opts.explicit !== who.gateway) {
    throw new GatewayIdentityError(
      `the gateway id is "${opts.explicit}" (--gateway-id / KEEPTRUSTS_GATEWAY_ID) but KEEPTRUSTS_GATEWAY_TOKEN belongs to gateway "${who.gateway}" on ${where}: ` +
        `leave the gateway id unset (the token decides), or use a token created with kt server token create --gateway ${opts.explicit}`,
    );
  }
  return { gatewayId: who.gateway, asked: true };
}

function parseWho(text: string): { gateway: string; role: string } | undefined {
  try {
    const body = JSON.parse(text) as { gateway?: unknown; role?: unknown };
    if (typeof body.gateway === 'string' && body.gateway !== '' && typeof body.role === 'string') return { gateway: body.gateway, role: body.role };
  } catch {
    // not JSON: answered below
  }
  return undefined;
}
