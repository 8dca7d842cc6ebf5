import type { DecisionContext } from '../audit/context.js';
import type { ChainOutcome, PolicyChain } from '../policy/engine.js';
import type { Finding, PolicyPhase } from '../policy/types.js';
import type { Segment } from '../protocol/content.js';
import { describeFinding, describeSource } from '../protocol/locate.js';
import { REFUSAL_TYPE, type RefusalNotice } from '../protocol/refusal.js';
import type { Denied } from '../usage/limits/types.js';
import { GatewayError } from './errors.js';

/**
 * Refusals: a policy's block or escalation, and a spent budget, are decisions, not failures. Each is answered
 * once, in a shape every client shows as a refusal and none retries (see docs/policies.md, "Verdicts and what the
 * client sees"), with a message that says which policy and rule, where in the conversation, and which event to
 * ask about.
 */

/** How a refusal points at its record: the decision event when one is kept, else the request id. */
export interface RefusalRef {
  eventId: string | undefined;
  requestId: string;
}

export function refOf(ctx: DecisionContext): RefusalRef {
  return { eventId: ctx.recordsEvent ? ctx.id : undefined, requestId: ctx.requestId };
}

/**
 * The HTTP answer to a refusal: 400 with the family's standard `invalid_request_error` (the SDKs raise
 * BadRequestError, litellm a BadRequestError that Aider does not retry, Claude Code and Codex show the message
 * once) and `x-should-retry: false`. 409 was retried by every one of them; 403 is retried by Codex and shown by
 * Claude Code as "Failed to authenticate"; 429 is retried by Codex and Aider whatever the headers say.
 */
export function finalRefusal(notice: RefusalNotice, verdict: 'block' | 'escalate'): GatewayError {
  return new GatewayError(400, REFUSAL_TYPE, notice.message, { code: notice.code, details: notice.details, verdict, final: true });
}

type Stop = NonNullable<ChainOutcome['stoppedBy']>;

/** A policy stopped a request (input) or a reply read whole (output): its notice, with where the finding is. */
export function policyNotice(args: {
  phase: PolicyPhase;
  stop: Stop;
  chain: PolicyChain;
  body: unknown;
  segments: readonly Segment[];
  findings: readonly Finding[];
  ref: RefusalRef;
}): RefusalNotice {
  const { stop } = args;
  const where = stop.finding ? describeFinding({ body: args.body, segments: args.segments, findings: args.findings, quotable: quotableFor(args.chain) }, stop.finding) : undefined;
  return notice(args.phase, stop.kind, stop.verdict, stop.finding, where, stop.configured, args.ref);
}

/** A policy stopped a streamed reply: where is the part of the reply (the stream has no segments to point at). */
export function streamNotice(block: { policy: string; verdict: 'block' | 'escalate'; finding?: Pick<Finding, 'type' | 'rule' | 'source'> }, ref: RefusalRef): RefusalNotice {
  const where = block.finding ? describeSource(block.finding.source) : undefined;
  return notice('output', block.policy, block.verdict, block.finding, where, undefined, ref);
}

function notice(
  phase: PolicyPhase,
  policy: string,
  verdict: 'block' | 'escalate',
  finding: Pick<Finding, 'type' | 'rule'> | undefined,
  where: string | undefined,
  configured: string | undefined,
  ref: RefusalRef,
): RefusalNotice {
  const code = verdict === 'escalate' ? 'escalation_required' : phase === 'input' ? 'input_blocked' : 'output_blocked';
  const opening =
    phase === 'input'
      ? verdict === 'block'
        ? 'keeptrusts blocked this request; it was not sent to the model.'
        : 'keeptrusts held this request for review; it was not sent to the model.'
      : verdict === 'block'
        ? "keeptrusts withheld the model's reply."
        : "keeptrusts held the model's reply for review.";
  const what = finding ? `${policy} found ${finding.type} (rule ${finding.rule})` : `${policy} stopped it`;
  const advice =
    verdict === 'escalate'
      ? `Ask your keeptrusts admin about ${refText(ref)}.`
      : phase === 'input'
        ? `Remove that from the conversation and try again, or ask your keeptrusts admin about ${refText(ref)}.`
        : `Ask again in other words, or ask your keeptrusts admin about ${refText(ref)}.`;
  const own = configured ? ` ${configured.trim()}` : '';
  return {
    code,
    message: `${opening} ${what}${where ? ` in ${where}` : ''}.${own} ${advice}`,
    details: { policy, ...(finding ? { rule: finding.rule } : {}), ...(where ? { location: where } : {}), ...refDetails(ref) },
  };
}

/** A hard budget that is spent and will not reset within a client's retry patience. */
export function budgetNotice(denied: Denied, ref: RefusalRef): RefusalNotice {
  return {
    code: 'budget_exceeded',
    message: `keeptrusts stopped this request; it was not sent to the model. ${denied.message} (in ${duration(denied.retryAfterSec)}). Ask your keeptrusts admin to raise the budget, or try again after the reset; ${refText(ref)}.`,
    details: { limit: 'budget', ...(denied.scope ? { scope: denied.scope } : {}), ...refDetails(ref) },
  };
}

const refText = (ref: RefusalRef) => (ref.eventId ? `event ${ref.eventId}` : `request ${ref.requestId}`);
const refDetails = (ref: RefusalRef): Record<string, string> => (ref.eventId ? { event_id: ref.eventId } : { request_id: ref.requestId });

/** `21 h 58 min`, `5 min`, `42 s`, `3 d 4 h`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  return h % 24 ? `${Math.floor(h / 24)} d ${h % 24} h` : `${Math.floor(h / 24)} d`;
}

/** Names a refusal may quote: short, plain characters, no line breaks or quotes. */
const QUOTABLE = /^[A-Za-z0-9._\-/@+~ ]{1,160}$/;
/**
 * Words litellm (Aider) reads anywhere in an error's text as "retry later": a quoted name must not turn a final
 * refusal into one (litellm 1.81 `ExceptionCheckers`, `_map_anthropic_exception`).
 */
const RETRY_WORDS = /\b429\b|rate[\s_-]*limit|overloaded|context (?:length|limit|window)|content filtering|too long/i;

/** Tool-call ids in the providers' own formats: quoted although they look random. */
const PROVIDER_ID = /^(?:toolu|srvtoolu|call|fc)_[A-Za-z0-9]{1,64}$/;
/** A run of token characters long enough to be a key. */
const TOKEN_RUN = /[A-Za-z0-9+=_-]{16,}/g;

/**
 * Whether a name from the body may appear in a refusal: plain characters, nothing any rule of the chain detects,
 * and nothing that looks like a key. Detectors need context for some secrets (an AWS secret key alone on a line
 * is just 40 characters), so a long run mixing upper case, lower case and digits is refused too, unless the whole
 * name is a provider's tool-call id.
 */
export function quotableFor(chain: PolicyChain): (text: string) => boolean {
  const rules = [...chain.rulesFor('input'), ...chain.rulesFor('output')];
  return (text) =>
    QUOTABLE.test(text) &&
    !RETRY_WORDS.test(text) &&
    (PROVIDER_ID.test(text) || !looksLikeKey(text)) &&
    rules.every(({ rule }) => rule.detector.scan(text).length === 0);
}

/** Random-looking: 20+ characters mixing cases and digits, or 16+ hex digits (UUIDs, hex keys). */
function looksLikeKey(text: string): boolean {
  for (const [run] of text.matchAll(TOKEN_RUN)) {
    if (run.length >= 20 && /[a-z]/.test(run) && /[A-Z]/.test(run) && /[0-9]/.test(run)) return true;
    if (/^[0-9a-f-]+$/i.test(run) && /[0-9]/.test(run) && /[a-f]/i.test(run) && run.replaceAll('-', '').length >= 16) return true;
  }
  return false;
}

/**
 * A held request that will not go to the model: denied by a reviewer, expired (the hold ended, or the client
 * left), not held because too many were (`full`), or the escalation could not be opened. A block in the
 * client's shape, final, naming the escalation so the developer can ask about it.
 */
export function escalationRefusal(
  state: 'denied' | 'expired' | 'full' | 'unavailable',
  stop: { kind: string; finding?: Pick<Finding, 'type' | 'rule'> | undefined },
  escalationId: string | undefined,
  ref: RefusalRef,
): GatewayError {
  const what = stop.finding ? `${stop.kind} found ${stop.finding.type} (rule ${stop.finding.rule})` : `${stop.kind} escalated it`;
  const how = {
    denied: `a reviewer denied escalation ${escalationId}`,
    expired: `escalation ${escalationId} was not decided in time`,
    full: 'the review queue of this gateway is full',
    unavailable: 'the escalation could not be opened',
  }[state];
  const code = { denied: 'escalation_denied', expired: 'escalation_expired', full: 'escalation_queue_full', unavailable: 'escalation_unavailable' }[state];
  const ask = escalationId ? `escalation ${escalationId}` : refText(ref);
  return new GatewayError(
    400,
    REFUSAL_TYPE,
    `keeptrusts held this request for review and it was not sent to the model: ${what}, and ${how}. Ask your keeptrusts admin about ${ask}.`,
    {
      code,
      details: { policy: stop.kind, ...(stop.finding ? { rule: stop.finding.rule } : {}), ...(escalationId ? { escalation_id: escalationId } : {}), ...refDetails(ref) },
      verdict: 'block',
      final: true,
    },
  );
}
