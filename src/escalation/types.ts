/**
 * Escalations: a request a policy decided to `escalate` waits for a reviewer. What is kept about it is who,
 * which policy and rule, and the decision; never the request's text, a finding's value or a key.
 */
export const ESCALATION_STATES = ['open', 'approved', 'denied', 'expired'] as const;
export type EscalationState = (typeof ESCALATION_STATES)[number];

export interface EscalationRecord {
  /** `esc_` + a ULID. */
  id: string;
  state: EscalationState;
  created_at: string;
  /** The end of the hold: after it the escalation expires and can no longer be decided. */
  expires_at: string;
  gateway: string;
  request_id: string;
  /** The held request's decision event (when the gateway records events). */
  event_id: string | null;
  developer: string | null;
  repository: string | null;
  team: string | null;
  model: string | null;
  /** The escalating policy kind, and the first escalating finding's type and rule id. */
  policy: string;
  finding_type: string | null;
  rule: string | null;
  decided_at: string | null;
  reviewer: string | null;
  reason: string | null;
  /** The exception the approval created, if it asked for one. */
  exception_id: string | null;
}

export type OpenEscalation = Pick<EscalationRecord, 'gateway' | 'request_id' | 'event_id' | 'developer' | 'repository' | 'team' | 'model' | 'policy' | 'finding_type' | 'rule'> & {
  holdSeconds: number;
};

/**
 * An exception an approval created: requests matching it pass the escalating rule (recorded as a flag on their
 * event) until it expires or is revoked. A null scope field matches any value; `policy` is always set.
 */
export interface ExceptionRecord {
  /** `exc_` + a ULID. */
  id: string;
  escalation_id: string | null;
  developer: string | null;
  repository: string | null;
  policy: string;
  rule: string | null;
  created_at: string;
  expires_at: string;
  created_by: string;
  revoked_at: string | null;
}

/** What a reviewer asks for with an approval: an exception for this scope, for `ttlSeconds`. */
export interface ExceptionRequest {
  /** Which of the escalation's facts scope the exception; policy is always part of it. */
  scope: Array<'developer' | 'repository' | 'rule'>;
  ttlSeconds: number;
}

export interface Decision {
  decision: 'approve' | 'deny';
  reviewer: string;
  reason: string;
  exception?: ExceptionRequest | undefined;
}

export interface EscalationStore {
  readonly kind: 'sqlite' | 'postgres' | 'remote';
  open(input: OpenEscalation): Promise<EscalationRecord>;
  get(id: string): Promise<EscalationRecord | null>;
  /** Newest first. */
  list(filter: { state?: EscalationState | undefined; limit?: number | undefined }): Promise<EscalationRecord[]>;
  /** Approve or deny an open escalation before it expires; EscalationStateError otherwise. */
  decide(id: string, decision: Decision): Promise<EscalationRecord>;
  /** Close an open escalation whose hold ended; the record as it now is (a decision may have come first). */
  expire(id: string): Promise<EscalationRecord | null>;
  exceptions(opts?: { active?: boolean }): Promise<ExceptionRecord[]>;
  /** False when no exception has this id. Revoking twice keeps the first time. */
  revokeException(id: string): Promise<boolean>;
  close(): Promise<void>;
}

export class EscalationStateError extends Error {
  override name = 'EscalationStateError';
  constructor(
    message: string,
    readonly status: 404 | 409,
  ) {
    super(message);
  }
}

export class EscalationInputError extends Error {
  override name = 'EscalationInputError';
}

export const MAX_REASON = 500;
export const MAX_REVIEWER = 200;
/** The longest exception: a year. Longer-lived allowances belong in the policy config, reviewed as code. */
export const MAX_EXCEPTION_SECONDS = 366 * 86_400;

/** A reviewer's name or reason: required, trimmed, bounded, printable (it lands in events, logs and webhooks). */
export function checkText(label: string, value: unknown, max: number): string {
  const v = typeof value === 'string' ? value.trim() : '';
  if (v === '') throw new EscalationInputError(`${label} is required`);
  if (v.length > max) throw new EscalationInputError(`${label} must be at most ${max} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new EscalationInputError(`${label} must not contain control characters`);
  return v;
}

export function checkDecision(d: Decision): Decision {
  if (d.decision !== 'approve' && d.decision !== 'deny') throw new EscalationInputError('decision must be approve or deny');
  const out: Decision = { decision: d.decision, reviewer: checkText('reviewer', d.reviewer, MAX_REVIEWER), reason: checkText('reason', d.reason, MAX_REASON) };
  if (d.exception) {
    if (d.decision !== 'approve') throw new EscalationInputError('only an approval can create an exception');
    const { ttlSeconds, scope } = d.exception;
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 60 || ttlSeconds > MAX_EXCEPTION_SECONDS) {
      throw new EscalationInputError(`an exception lasts from 60 seconds to ${MAX_EXCEPTION_SECONDS} seconds`);
    }
    const known = ['developer', 'repository', 'rule'];
    if (!Array.isArray(scope) || scope.some((s) => !known.includes(s))) throw new EscalationInputError(`exception scope is a list of ${known.join(', ')}`);
    out.exception = { ttlSeconds, scope: [...new Set(scope)] };
  }
  return out;
}

/** Whether an exception covers a request's escalating finding now. */
export function exceptionMatches(
  e: ExceptionRecord,
  at: { developer: string | null; repository: string | null; policy: string; rule: string },
  nowMs = Date.now(),
): boolean {
  if (e.revoked_at !== null || Date.parse(e.expires_at) <= nowMs) return false;
  if (e.policy !== at.policy) return false;
  if (e.rule !== null && e.rule !== at.rule) return false;
  if (e.developer !== null && e.developer !== at.developer) return false;
  if (e.repository !== null && e.repository !== at.repository) return false;
  return true;
}
