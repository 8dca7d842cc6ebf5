import { randomFillSync } from 'node:crypto';
import type { PolicyPhase, Verdict } from '../policy/types.js';
import type { SegmentSource } from '../protocol/content.js';

/** The client program that sent a request, as far as its user agent tells. */
export type ClientName =
  | 'aider'
  | 'claude-code'
  | 'codex'
  | 'cursor'
  | 'continue'
  | 'openai-sdk'
  | 'anthropic-sdk'
  | 'litellm'
  | 'vercel-ai-sdk'
  | 'langchain'
  | 'curl'
  | 'other';

export interface EventIdentity {
  developer: string | null;
  repository: string | null;
  team: string | null;
  key_id: string | null;
  client: ClientName;
  /** Where each of developer, repository and team came from: key, header, default (gateway flag) or git. */
  source?: { developer: 'key' | 'header' | 'default' | 'git' | null; repository: 'key' | 'header' | 'default' | 'git' | null; team: 'key' | 'header' | 'default' | 'git' | null };
}

export interface EventFindingSummary {
  type: string;
  rule: string;
  source: SegmentSource;
  count: number;
}

export interface EventPolicyResult {
  kind: string;
  phase: PolicyPhase;
  verdict: Verdict;
  duration_us: number;
  findings: EventFindingSummary[];
  /** Quality score of a reply (quality-scorer) and the ids of the checks that failed. */
  score?: number;
  reasons?: string[];
  /** The policy itself failed: an error class name, never request data. */
  error?: string;
  /** Recorded while the reply streamed (output enforcement by StreamGuard, or scoring at the end). */
  streamed?: boolean;
}

/**
 * The values one policy phase redacted, per type, rule and source: how many, and where the first of them were.
 * One group however many values matched (a request with 30,000 e-mail addresses made one entry per value, 5 MB
 * in one event, before groups), so an event stays small whatever the input holds.
 */
export interface EventRedaction {
  /** How many values of this type, rule and source the phase redacted. */
  count: number;
  /**
   * The first of them (at most REDACTION_LOCATIONS_PER_GROUP, and REDACTION_LOCATIONS_PER_EVENT over all
   * groups), in the order they were found; `count` larger than this list means the rest are counted only.
   */
  locations: EventRedactionLocation[];
  phase: PolicyPhase;
  rule: string;
  source: SegmentSource;
  type: string;
}

export interface EventRedactionLocation {
  /** The JSON path of the value's text in the body (null for a streamed reply), and the span in that text. */
  path: string | null;
  start: number;
  end: number;
  /** Salted, truncated HMAC-SHA256 of the value: equal values give equal hashes in one installation, never the value. */
  value_hash: string | null;
}

export const REDACTION_LOCATIONS_PER_GROUP = 100;
export const REDACTION_LOCATIONS_PER_EVENT = 500;

/**
 * What events recorded before redactions were grouped hold: one entry per value. Readers meet both shapes in
 * a store (the chain keeps bodies as they were hashed); `redactionGroups` reads either.
 */
export interface LegacyEventRedaction {
  type: string;
  rule: string;
  source: SegmentSource;
  location: { phase: PolicyPhase; path: string | null; start: number; end: number };
  value_hash: string | null;
}

/** An event's redactions as groups, whichever shape it was recorded in. */
export function redactionGroups(event: Pick<DecisionEvent, 'redactions'>): EventRedaction[] {
  const list = (event.redactions ?? []) as Array<EventRedaction | LegacyEventRedaction>;
  const groups: EventRedaction[] = [];
  const legacy = new Map<string, EventRedaction>();
  for (const r of list) {
    if ('count' in r && Array.isArray(r.locations)) {
      groups.push(r);
      continue;
    }
    const old = r as LegacyEventRedaction;
    const phase = old.location?.phase ?? 'input';
    const key = `${phase}\u0000${old.type}\u0000${old.rule}\u0000${old.source}`;
    let g = legacy.get(key);
    if (!g) {
      g = { count: 0, locations: [], phase, rule: old.rule, source: old.source, type: old.type };
      legacy.set(key, g);
      groups.push(g);
    }
    g.count += 1;
    g.locations.push({ end: old.location?.end ?? 0, path: old.location?.path ?? null, start: old.location?.start ?? 0, value_hash: old.value_hash ?? null });
  }
  return groups;
}

/** How many values an event's redactions cover, whichever shape they were recorded in. */
export function redactedValues(event: Pick<DecisionEvent, 'redactions'>): number {
  let n = 0;
  for (const g of redactionGroups(event)) n += g.count;
  return n;
}

export interface EventUsage {
  input_tokens: number | null;
  output_tokens: number | null;
  cached_input_tokens: number | null;
  cache_write_tokens: number | null;
  /** Of cache_write_tokens, those written with the 1-hour TTL (Anthropic bills them at 2× input, not 1.25×). Absent when none. */
  cache_write_1h_tokens?: number;
  reasoning_tokens: number | null;
  /** True when the counts were estimated (a stream that ended before the provider reported usage). */
  estimated: boolean;
}

export interface EventCost {
  currency: 'USD';
  input: number | null;
  output: number | null;
  total: number | null;
  priced: boolean;
}

export interface ProposedEdit {
  file: string | null;
  format: string;
  added: number;
  removed: number;
  /** Unified diff after redaction; empty with `capture: metadata`. */
  diff: string;
}

/**
 * Reversible redaction (`redaction.mode: reversible`) in one request: how many of its values became
 * placeholders, and what happened to the placeholders in the reply. Counts and kinds only: never a value, a
 * placeholder, or which placeholder stands for which value.
 */
export interface EventRestores {
  /** Distinct values of the request that became placeholders, per kind. */
  issued: Array<{ count: number; type: string }>;
  /** Placeholders given back their value, per kind and where (`text_edit`: an edit in the reply text; `tool_edit`: a file-writing tool call). */
  restored: Array<{ count: number; type: string; where: string }>;
  /** Placeholder-shaped strings in the reply this request never issued (invented or copied from elsewhere): left as they are. */
  unknown: number;
  /**
   * Placeholders left in the reply because restoring there could send the value somewhere or publish it:
   * `command_tool`, `fetch_tool`, `mcp_tool`, `unknown_tool`, `tool_field` (a path or option of an edit tool),
   * `shell_block`, `prose`, `markup`, `patch_header`.
   */
  withheld: Array<{ count: number; type: string; where: string }>;
}

/**
 * One try of one target for a request (src/gateway/routing/attempts.ts). `outcome` is why the request moved on
 * (`status`: a retriable status such as 429 or 503; `unreachable`: refused or reset before an answer;
 * `connect_timeout`, `timeout`, `first_token_timeout`; `reset`: a stream that broke before its first token;
 * `stream_error`: a stream that opened with a transient error frame (Anthropic's overloaded_error) instead;
 * `circuit_open`: skipped; `no_credentials`: no key for it), or `answered` for the one the client got.
 */
export interface EventAttempt {
  latency_ms: number;
  outcome: 'answered' | 'status' | 'unreachable' | 'connect_timeout' | 'timeout' | 'first_token_timeout' | 'reset' | 'stream_error' | 'circuit_open' | 'no_credentials';
  status: number | null;
  target: string;
  /** The wait before the next try of the same target (backoff, or the provider's Retry-After). */
  wait_ms?: number;
}

export interface EventCapture {
  mode: 'redacted';
  /**
   * The request's text segments in order (system, user, tool results, …), every finding masked as [TYPE].
   * A long segment is stored once by content: `sha256` (hex) and `chars` instead of `text`; readers resolve it
   * from the store (`resolveCapture`). Coding agents resend the whole conversation every turn, so this keeps
   * captured history linear in its length instead of quadratic.
   */
  request: Array<{ source: string; turn: number; text?: string; sha256?: string; chars?: number }> | null;
  /** The reply as the client received it, after output redaction. */
  completion: { text: string; tool_calls: Array<{ name: string; input: unknown }>; finish_reason: string | null } | null;
  truncated: boolean;
}

/**
 * One decision about one request. Built by the gateway, hashed into the chain as canonical JSON, and never
 * changed afterwards. Holds types, rules, locations and salted hashes of what was found, never the values.
 */
export interface DecisionEvent {
  /**
   * Every try of a target, in order, when there was more than one or the only one did not answer; absent on a
   * request its first try answered (then `target` and `latency` say it all).
   */
  attempts?: EventAttempt[];
  id: string;
  /** RFC 3339 UTC with microseconds. */
  ts: string;
  request_id: string;
  gateway_id: string;
  config: { name: string; version: string; sha256: string };
  route: 'chat' | 'responses' | 'messages' | 'count_tokens' | 'models' | 'other';
  stream: boolean;
  identity: EventIdentity;
  model_requested: string | null;
  /** `translation`: the client's API and the target's, when they differ (`responses->messages`). */
  target: { id: string; provider: string; model: string | null; translation?: string } | null;
  verdict: Verdict;
  /** Why the request ended as it did when not a plain success: `input_blocked`, `output_blocked`, `upstream_error`, … */
  reason_code: string | null;
  policies: EventPolicyResult[];
  redactions: EventRedaction[];
  usage: EventUsage | null;
  cost: EventCost | null;
  latency: { total_ms: number; upstream_ms: number | null; ttft_ms: number | null; overhead_ms: number | null };
  status: number;
  error: { type: string; code: string | null; message: string } | null;
  capture: EventCapture | null;
  proposed_edits: ProposedEdit[];
  /**
   * An escalation: on the held request's own event, how its hold ended; on an escalation's lifecycle events
   * (reason_code `escalation_opened`, `escalation_approved`, `escalation_denied`, `escalation_expired`), the step.
   */
  escalation?: EventEscalation;
  /** Data categories touched (finding types), when `hipaa_audit_controls` is on. */
  data_categories?: string[];
  /** Reasons for a flag that no policy gave: `budget_soft_exceeded:<scope>/<period>`, `limits_unavailable`. */
  flags?: string[];
  /** Present when a redacting policy runs with `redaction.mode: reversible` and the request had a value it redacted. */
  restores?: EventRestores;
  /** Budget thresholds this request's cost crossed (each reported once per period). */
  budget_alerts?: Array<{ scope: string; value: string | null; period: string; mode: string; threshold: number; spent_usd: number; limit_usd: number }>;
  /**
   * Present when the event was cut to fit MAX_RECORD_BYTES (event-bound.ts): its size before, in bytes of its
   * journal record, and what was dropped, in order: `capture`, `lists`, `strings`, `detail`.
   */
  truncated?: EventTruncation;
}

/** Who decided and why, never what the request said. */
export interface EventEscalation {
  id: string;
  state: 'open' | 'approved' | 'denied' | 'expired';
  policy: string;
  rule: string | null;
  reviewer: string | null;
  reason: string | null;
  exception_id: string | null;
  expires_at: string;
  /** The hold ended because the client closed its connection. */
  client_gone?: boolean;
}

export interface EventTruncation {
  bytes: number;
  dropped: string[];
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Random bytes fetched in bulk: one call per 512 ids instead of one per id (it showed in profiles). */
const pool = Buffer.alloc(5120);
let poolAt = pool.length;

/**
 * `evt_` + a ULID: 48 bits of milliseconds and 80 random bits in Crockford base32, so ids sort by time.
 * Order within one millisecond is not needed: the chain's seq is the order.
 *
 * Every request makes one, so the id is written as character codes into one array and read out as one string
 * (built a character at a time, and split and joined to count up, it made about 0.7 KB of garbage per request).
 */
let lastMs = -1;
/** The characters of the last id: `evt_`, 10 of time, 16 random. */
const ID_CODES: number[] = [...'evt_'].map((c) => c.charCodeAt(0)).concat(new Array<number>(26).fill(0x30));
/** The last id's random part as base32 digits (0–31), counted up within one millisecond. */
const randDigits = new Uint8Array(16);
const CROCKFORD_CODES = Uint8Array.from([...CROCKFORD].map((c) => c.charCodeAt(0)));

export function newEventId(now = Date.now()): string {
  // Within one millisecond the random part counts up (as ULID's monotonic mode does), so ids stay sorted.
  if (now === lastMs) {
    // 2^80 ids in one millisecond would wrap to all zeros: never reached.
    for (let i = 15; i >= 0; i--) {
      if (randDigits[i]! < 31) {
        randDigits[i]!++;
        break;
      }
      randDigits[i] = 0;
    }
  } else {
    if (poolAt + 10 > pool.length) {
      randomFillSync(pool);
      poolAt = 0;
    }
    // 80 bits = 16 base32 digits, 5 bits each, from 10 bytes.
    let acc = 0;
    let bits = 0;
    let d = 0;
    for (let i = 0; i < 10; i++) {
      acc = (acc << 8) | pool[poolAt++]!;
      bits += 8;
      while (bits >= 5) {
        bits -= 5;
        randDigits[d++] = (acc >> bits) & 31;
      }
      acc &= (1 << bits) - 1;
    }
    lastMs = now;
    let t = now;
    for (let i = 13; i >= 4; i--) {
      ID_CODES[i] = CROCKFORD_CODES[t % 32]!;
      t = Math.floor(t / 32);
    }
  }
  for (let i = 0; i < 16; i++) ID_CODES[14 + i] = CROCKFORD_CODES[randDigits[i]!]!;
  return String.fromCharCode.apply(null, ID_CODES);
}

/** RFC 3339 with microseconds, from wall-clock milliseconds plus the sub-millisecond part of a monotonic clock. */
export function timestampMicros(ms = Date.now(), micros = Math.floor((performance.now() % 1) * 1000)): string {
  // Formatting a Date showed in profiles (one per request); the part up to the second is shared by every event
  // of that second.
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20); // 2026-11-27T05:06:47.
  }
  return `${cachedPrefix}${String(ms - second * 1000).padStart(3, '0')}${String(micros).padStart(3, '0')}Z`;
}
let cachedSecond = Number.NaN;
let cachedPrefix = '';
