import type { z } from 'zod';
import type { Detector, DetectorMatch } from '../detect/types.js';
import type { Segment, SegmentSource } from '../protocol/content.js';

/** Where a policy runs: before the upstream call, on the response, or both. */
export type PolicyPhase = 'input' | 'output';

export type Verdict = 'allow' | 'flag' | 'redact' | 'block' | 'escalate';

const SEVERITY: Record<Verdict, number> = { allow: 0, flag: 1, redact: 2, escalate: 3, block: 4 };

export function worstVerdict(a: Verdict, b: Verdict): Verdict {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

/** What a policy found. Never the matched value: type, rule and location only. */
export interface Finding {
  type: string;
  rule: string;
  source: SegmentSource;
  segment: number;
  start: number;
  end: number;
  score?: number;
  signals?: string[];
}

/** The reply as a whole, for policies that judge it rather than scan it (quality of code edits). */
export interface ReplyView {
  text: string;
  toolCalls: Array<{ name: string; input: unknown }>;
  /** Normalised: `stop`, `length` (cut by a token limit), `tool_calls`, or the provider's own value. */
  finishReason?: string;
}

export interface Assessment {
  verdict: Verdict;
  findings: Finding[];
  score?: number;
  /** Short machine-readable reasons (check ids), safe for headers and logs: never content. */
  reasons?: string[];
}

/**
 * One thing a policy looks for and what to do when it is found. Policies built from detection rules get
 * non-streamed and streamed enforcement from the same code, which is what keeps the two equal.
 */
export interface DetectionRule {
  name: string;
  detector: Detector;
  action: 'redact' | 'block' | 'flag' | 'escalate';
  phases: readonly PolicyPhase[];
  /** Segment sources this rule looks at; all when absent. */
  sources?: ReadonlySet<SegmentSource>;
  /** Replacement text for a redacted match. */
  marker: (match: DetectorMatch, value: string) => string;
  /**
   * `redaction.mode: reversible`: on the input, a redacted value becomes a placeholder the reply can be given
   * back (policy/placeholders.ts); `marker` is still used for values the model itself produced.
   */
  reversible?: boolean;
}

export interface PolicyInstance {
  kind: string;
  rules: readonly DetectionRule[];
  /** Judges a whole non-streamed reply, with the request's text segments as context. */
  assessReply?: (reply: ReplyView, request: readonly Segment[]) => Assessment;
  /** Message sent to the client when this policy blocks; must not contain matched values. */
  blockMessage?: string;
}

/**
 * A policy kind as registered in the catalogue. The registry is a plain map from kind name to this
 * description; the config layer needs the name, aliases and schema, the engine the factory.
 */
export interface PolicyKindDefinition<TConfig = unknown> {
  kind: string;
  /** Other names accepted in `policies.chain` and `policy.<kind>` (for example the product brief's `code-sanitation`). */
  aliases?: readonly string[];
  summary: string;
  phases: readonly PolicyPhase[];
  /** Strict schema for `policy.<kind>`; an absent block is parsed from `{}` so defaults apply. */
  schema: z.ZodType<TConfig>;
  create(config: TConfig, env: PolicyEnvironment): PolicyInstance;
}

/** What a policy factory may use besides its own config. */
export interface PolicyEnvironment {
  /** Per-gateway secret for hash markers, so equal values get equal markers without being reversible. */
  markerSalt: string;
}
