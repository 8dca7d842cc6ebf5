import type { DecisionContext } from '../audit/context.js';
import type { EventPolicyResult } from '../audit/event.js';

/** What a request span ends with, read from the request's decision context. */
export interface RequestOutcome {
  eventId: string;
  status: number;
  verdict: string;
  reasonCode: string | null;
  stream: boolean;
  model: string | null;
  target: { id: string; provider: string; model: string | null } | null;
  usage: { input_tokens: number | null; output_tokens: number | null } | null;
  policies: readonly EventPolicyResult[];
}

/** The request span's closing attributes, from the request's decision context. */
export function outcomeOf(ctx: DecisionContext): RequestOutcome {
  return { eventId: ctx.id, status: ctx.status, verdict: ctx.verdict, reasonCode: ctx.reasonCode, stream: ctx.stream, model: ctx.modelRequested, target: ctx.target, usage: ctx.usage, policies: ctx.policyResults };
}

