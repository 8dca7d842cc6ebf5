import type { z } from 'zod';

/** Where a policy runs: before the upstream call, on the response, or both. */
export type PolicyPhase = 'input' | 'output';

export type Verdict = 'allow' | 'flag' | 'redact' | 'block' | 'escalate';

/**
 * A policy kind as registered in the catalogue. The registry is a plain map from kind name to this
 * description; the config layer only needs the name, aliases and schema, the engine needs the rest.
 */
export interface PolicyKindDefinition<TConfig = unknown> {
  kind: string;
  /** Other names accepted in `policies.chain` and `policy.<kind>` (for example the product brief's `code-sanitation`). */
  aliases?: readonly string[];
  summary: string;
  phases: readonly PolicyPhase[];
  /** Strict schema for `policy.<kind>`; an absent block is parsed from `{}` so defaults apply. */
  schema: z.ZodType<TConfig>;
}
