import type { DecisionEvent } from '../audit/event.js';
import type { WEBHOOK_EVENTS } from '../config/schema.js';

export type WebhookType = (typeof WEBHOOK_EVENTS)[number];

/**
 * What a webhook says about a decision event: who, which policy, which finding types and rule ids, the
 * escalation's step or the budget crossed. Never the request's or reply's text, a finding's value, a key, or
 * the error message (which may quote a model name the client sent).
 */
export interface WebhookPayload {
  id: string;
  type: WebhookType;
  created_at: string;
  gateway_id: string;
  data: Record<string, unknown>;
}

/** The payloads (without id and time) a decision event gives, one per type it is about. */
export function payloadsOf(e: DecisionEvent): Array<{ type: WebhookType; data: Record<string, unknown> }> {
  const who = { developer: e.identity.developer, repository: e.identity.repository, team: e.identity.team };
  const base = { event_id: e.id, request_id: e.request_id, ...who };
  const out: Array<{ type: WebhookType; data: Record<string, unknown> }> = [];
  const lifecycle = e.escalation !== undefined && e.reason_code?.startsWith('escalation_') && e.policies.length === 0;
  if (lifecycle && e.escalation) {
    const x = e.escalation;
    out.push({
      type: 'escalation',
      data: { ...base, escalation_id: x.id, state: x.state, policy: x.policy, rule: x.rule, reviewer: x.reviewer, reason: x.reason, exception_id: x.exception_id, expires_at: x.expires_at, ...(x.client_gone ? { client_gone: true } : {}) },
    });
  } else if (e.verdict === 'block') {
    const findings: Array<{ policy: string; type: string; rule: string }> = [];
    for (const p of e.policies) for (const f of p.findings) if (findings.length < 50) findings.push({ policy: p.kind, type: f.type, rule: f.rule });
    out.push({
      type: 'block',
      data: { ...base, verdict: e.verdict, reason_code: e.reason_code, status: e.status, route: e.route, model: e.target?.model ?? e.model_requested, findings, ...(e.escalation ? { escalation_id: e.escalation.id } : {}) },
    });
  }
  if (e.budget_alerts && e.budget_alerts.length > 0) out.push({ type: 'budget_threshold', data: { ...base, alerts: e.budget_alerts } });
  return out;
}
