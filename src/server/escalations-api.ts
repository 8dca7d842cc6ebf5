import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ESCALATION_STATES, EscalationInputError, EscalationStateError, type EscalationStore } from '../escalation/types.js';
import type { TokenRecord } from './tokens.js';
import type { Session } from './sessions.js';

/** An API failure as the control plane renders it (ApiError in app.ts). */
export interface ApiFailure {
  status: number;
  type: 'invalid_request' | 'permission_error' | 'not_found' | 'conflict';
  message: string;
}

export interface EscalationCall {
  method: 'GET' | 'POST';
  /** The path after `/v1/`, split on `/`. */
  parts: string[];
  params: URLSearchParams;
  /** The bearer token's record; absent when the caller signed in to the console (then `session`). */
  principal?: TokenRecord;
  session?: Session;
  req: IncomingMessage;
}

const OpenBody = z.strictObject({
  request_id: z.string().min(1).max(128),
  event_id: z.string().max(128).nullable(),
  developer: z.string().max(200).nullable(),
  repository: z.string().max(200).nullable(),
  team: z.string().max(200).nullable(),
  model: z.string().max(200).nullable(),
  policy: z.string().min(1).max(100),
  finding_type: z.string().max(100).nullable(),
  rule: z.string().max(200).nullable(),
  gateway: z.string().max(256).optional(),
  hold_seconds: z.int().min(1).max(3600),
});

const DecisionBody = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  reviewer: z.string().max(200).optional(),
  reason: z.string().max(2000),
  exception: z.strictObject({ scope: z.array(z.enum(['developer', 'repository', 'rule'])).max(3), ttl_seconds: z.int() }).optional(),
});

/**
 * The escalation queue over HTTP (`/v1/escalations`, `/v1/exceptions`), for gateways that report to this
 * control plane and for the console and `kt escalations`. A gateway token opens and expires its own gateway's
 * escalations; any other token lists them, and a reviewer or admin token (`kt server token create --role reviewer`)
 * decides them: a reader token (a dashboard's) only reads.
 * A gateway never decides: it would approve what it escalated.
 */
export async function escalationApi(store: EscalationStore, call: EscalationCall, readJson: () => Promise<unknown>): Promise<unknown> {
  const { method, parts, principal, session } = call;
  const fail = (status: number, type: ApiFailure['type'], message: string): never => {
    throw { status, type, message } satisfies ApiFailure;
  };
  // Signed in to the console, only admins decide, under the name the provider vouched for; a reviewer or admin
  // token (kt escalations, a console opened with a token) decides under the name it gives, else its token id.
  const reviewerOnly = (): string | undefined => {
    if (session) {
      if (session.role !== 'admin') fail(403, 'permission_error', `deciding escalations needs the admin role; ${session.email ?? session.subject} signed in as ${session.role}`);
      return session.email ?? session.name ?? session.subject;
    }
    if (principal?.role !== 'reviewer' && principal?.role !== 'admin') {
      fail(403, 'permission_error', `a ${principal?.role ?? 'missing'} token cannot decide escalations; use a reviewer token (kt server token create --role reviewer)`);
    }
    return undefined;
  };
  const gatewayOnly = (): string => (principal?.role === 'gateway' ? principal.gateway : fail(403, 'permission_error', 'only a gateway token opens or expires escalations'));
  const body = async <T>(schema: z.ZodType<T>): Promise<T> => {
    const parsed = schema.safeParse(await readJson());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(400, 'invalid_request', `body: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  };
  try {
    if (parts[0] === 'escalations') {
      const id = parts[1];
      if (id === undefined) {
        if (method === 'GET') {
          const state = call.params.get('state') ?? undefined;
          if (state !== undefined && !(ESCALATION_STATES as readonly string[]).includes(state)) fail(400, 'invalid_request', `state must be one of ${ESCALATION_STATES.join(', ')}`);
          const limit = Number(call.params.get('limit') ?? 100);
          if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000) fail(400, 'invalid_request', 'limit must be from 1 to 1000');
          return { data: await store.list({ state: state as (typeof ESCALATION_STATES)[number] | undefined, limit }) };
        }
        const gateway = gatewayOnly();
        const b = await body(OpenBody);
        const { hold_seconds, gateway: _ignored, ...facts } = b;
        // A gateway opens escalations under its own name, whatever it says.
        return await store.open({ ...facts, gateway, holdSeconds: hold_seconds });
      }
      const action = parts[2];
      if (action === undefined && method === 'GET') {
        const record = await store.get(id);
        return record ?? fail(404, 'not_found', `no escalation ${id.slice(0, 80)}`);
      }
      if (action === 'decision' && method === 'POST') {
        const signedIn = reviewerOnly();
        const b = await body(DecisionBody);
        return await store.decide(id, {
          decision: b.decision,
          reviewer: signedIn ?? b.reviewer ?? principal!.id,
          reason: b.reason,
          ...(b.exception ? { exception: { scope: b.exception.scope, ttlSeconds: b.exception.ttl_seconds } } : {}),
        });
      }
      if (action === 'expire' && method === 'POST') {
        const gateway = gatewayOnly();
        const record = await store.get(id);
        if (!record || record.gateway !== gateway) return fail(404, 'not_found', `no escalation ${id.slice(0, 80)} of this gateway`);
        return await store.expire(id);
      }
    }
    if (parts[0] === 'exceptions') {
      if (parts[1] === undefined && method === 'GET') return { data: await store.exceptions({ active: call.params.get('active') === 'true' }) };
      if (parts[1] !== undefined && parts[2] === 'revoke' && method === 'POST') {
        reviewerOnly();
        return (await store.revokeException(parts[1])) ? { revoked: parts[1] } : fail(404, 'not_found', `no exception ${parts[1].slice(0, 80)}`);
      }
    }
    return fail(404, 'not_found', `no route ${method} /v1/${parts.join('/').slice(0, 200)}`);
  } catch (err) {
    if (err instanceof EscalationStateError) return fail(err.status, err.status === 409 ? 'conflict' : 'not_found', err.message);
    if (err instanceof EscalationInputError) return fail(400, 'invalid_request', err.message);
    throw err;
  }
}

export function isApiFailure(err: unknown): err is ApiFailure {
  return typeof err === 'object' && err !== null && 'status' in err && 'type' in err && 'message' in err && !(err instanceof Error);
}
