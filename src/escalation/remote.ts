import { Agent, request } from 'undici';
import { apiBase } from '../audit/shipper.js';
import {
  EscalationInputError,
  EscalationStateError,
  type Decision,
  type EscalationRecord,
  type EscalationState,
  type EscalationStore,
  type ExceptionRecord,
  type OpenEscalation,
} from './types.js';

/**
 * Escalations on a control plane (`kt server`), through its API with a token: a gateway's token opens and
 * expires them, a console (reader) token lists and decides them. Errors carry the control plane's message,
 * never the token.
 */
export class RemoteEscalationStore implements EscalationStore {
  readonly kind = 'remote' as const;
  private readonly base: string;
  private readonly agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });

  constructor(
    apiUrl: string,
    private readonly token: string,
  ) {
    this.base = apiBase(apiUrl, 'the control plane URL');
  }

  async open(input: OpenEscalation): Promise<EscalationRecord> {
    const { holdSeconds, gateway: _own, ...facts } = input; // the control plane names the gateway by its token
    return (await this.call('POST', '/v1/escalations', { ...facts, hold_seconds: holdSeconds })) as EscalationRecord;
  }

  async get(id: string): Promise<EscalationRecord | null> {
    return (await this.call('GET', `/v1/escalations/${encodeURIComponent(id)}`, undefined, true)) as EscalationRecord | null;
  }

  async list(filter: { state?: EscalationState | undefined; limit?: number | undefined }): Promise<EscalationRecord[]> {
    const q = new URLSearchParams();
    if (filter.state) q.set('state', filter.state);
    if (filter.limit) q.set('limit', String(filter.limit));
    return ((await this.call('GET', `/v1/escalations?${q}`)) as { data: EscalationRecord[] }).data;
  }

  async decide(id: string, d: Decision): Promise<EscalationRecord> {
    const body = {
      decision: d.decision,
      reviewer: d.reviewer,
      reason: d.reason,
      ...(d.exception ? { exception: { scope: d.exception.scope, ttl_seconds: d.exception.ttlSeconds } } : {}),
    };
    return (await this.call('POST', `/v1/escalations/${encodeURIComponent(id)}/decision`, body)) as EscalationRecord;
  }

  async expire(id: string): Promise<EscalationRecord | null> {
    return (await this.call('POST', `/v1/escalations/${encodeURIComponent(id)}/expire`, {}, true)) as EscalationRecord | null;
  }

  async exceptions(opts: { active?: boolean } = {}): Promise<ExceptionRecord[]> {
    return ((await this.call('GET', `/v1/exceptions${opts.active ? '?active=true' : ''}`)) as { data: ExceptionRecord[] }).data;
  }

  async revokeException(id: string): Promise<boolean> {
    return (await this.call('POST', `/v1/exceptions/${encodeURIComponent(id)}/revoke`, {}, true)) !== null;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown, nullOn404 = false): Promise<unknown> {
    const res = await request(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      dispatcher: this.agent,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    const text = await res.body.text();
    if (res.statusCode === 404 && nullOn404) return null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return json;
    const message = (json as { error?: { message?: string } } | undefined)?.error?.message ?? `the control plane answered ${res.statusCode}`;
    if (res.statusCode === 404 || res.statusCode === 409) throw new EscalationStateError(message, res.statusCode);
    if (res.statusCode === 400) throw new EscalationInputError(message);
    throw new Error(`control plane: ${message}`);
  }
}
