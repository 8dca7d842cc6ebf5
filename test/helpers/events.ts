import type { AuditSettings } from '../../src/audit/context.js';
import { newEventId, timestampMicros, type DecisionEvent, type EventIdentity, type EventPolicyResult } from '../../src/audit/event.js';
import type { Verdict } from '../../src/policy/types.js';

/** Top-level fields replace the defaults; `identity` is merged field by field, since tests mostly vary one. */
export type EventOverrides = Partial<Omit<DecisionEvent, 'identity'>> & { identity?: Partial<EventIdentity> };

/**
 * A complete, valid DecisionEvent: an allowed chat request through an OpenAI target. `atMs` sets the clock
 * the id and timestamp are taken from, for events that must look old (retention) or fall in a time window.
 */
export function makeEvent(overrides: EventOverrides = {}, atMs = Date.now()): DecisionEvent {
  const { identity, ...rest } = overrides;
  return {
    id: newEventId(atMs),
    ts: timestampMicros(atMs),
    request_id: `req_${Math.random().toString(36).slice(2, 12)}`,
    gateway_id: 'gw-test',
    config: { name: 'test', version: '1.0.0', sha256: '0'.repeat(64) },
    route: 'chat',
    stream: false,
    identity: { developer: 'alice', repository: 'acme/api', team: 'platform', key_id: null, client: 'curl', ...identity },
    model_requested: 'gpt-4o-mini',
    target: { id: 'openai', provider: 'openai', model: 'gpt-4o-mini' },
    verdict: 'allow',
    reason_code: null,
    policies: [],
    redactions: [],
    usage: { input_tokens: 12, output_tokens: 34, cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: false },
    cost: null,
    latency: { total_ms: 120, upstream_ms: 110, ttft_ms: null, overhead_ms: 10 },
    status: 200,
    error: null,
    capture: null,
    proposed_edits: [],
    ...rest,
  };
}

/** One policy's part in a decision, with no findings unless given. */
export function makePolicyResult(kind: string, verdict: Verdict = 'allow', overrides: Partial<EventPolicyResult> = {}): EventPolicyResult {
  return { kind, phase: 'input', verdict, duration_us: 50, findings: [], ...overrides };
}

/** Audit settings for building decision events in unit tests (capture `redacted`, a fixed salt). */
export function auditSettings(overrides: Partial<AuditSettings> = {}): AuditSettings {
  return {
    gatewayId: 'gw-test',
    config: { name: 'pack', sha256: 'ab'.repeat(32), version: '1' },
    capture: 'redacted',
    captureMaxBytes: 65_536,
    logAllAccess: true,
    hipaa: false,
    salt: 'salt',
    defaults: {},
    git: null,
    ...overrides,
  };
}
