import { z } from 'zod';
import { scoreCompletion, type QualityCheck } from '../../detect/code-edits/index.js';
import type { Segment, SegmentSource } from '../../protocol/content.js';
import type { PolicyKindDefinition, Verdict } from '../types.js';

const CHECKS = ['well_formed', 'search_present', 'no_lazy_placeholders', 'not_truncated', 'syntax_valid', 'min_output_chars', 'min_sentences'] as const satisfies readonly QualityCheck[];

const schema = z.strictObject({
  thresholds: z
    .strictObject({ min_aggregate: z.number().min(0).max(1).default(0.7).describe('Score a reply needs to pass.') })
    .default({ min_aggregate: 0.7 }),
  weights: z.partialRecord(z.enum(CHECKS), z.number().min(0)).default({}).describe('Relative weight of each check.'),
  pass_policy: z
    .strictObject({
      strategy: z.enum(['weighted_average']).default('weighted_average'),
      threshold: z.number().min(0).max(1).optional().describe('Overrides thresholds.min_aggregate.'),
    })
    .default({ strategy: 'weighted_average' }),
  failure_action: z
    .strictObject({ action: z.enum(['flag', 'block', 'escalate']).default('flag') })
    .default({ action: 'flag' })
    .describe('What a reply below the threshold gets. Blocking applies to non-streamed replies.'),
  min_output_chars: z.int().min(0).optional(),
  min_sentences: z.int().min(0).optional(),
});

/**
 * The files an edit is checked against are the ones the client sent. The model's own earlier turns are not: when
 * an edit fails to apply, Aider resends the conversation with the failed reply in it, and that reply's fenced
 * SEARCH block (under the file's path, like a file) would otherwise pass as a copy of the file it failed to match.
 */
const MODEL_WROTE: ReadonlySet<SegmentSource> = new Set(['assistant', 'tool_call']);

function clientSent(request: readonly Segment[]): string {
  return request
    .filter((s) => !MODEL_WROTE.has(s.source))
    .map((s) => s.text)
    .join('\n');
}

export const qualityScorer: PolicyKindDefinition<z.output<typeof schema>> = {
  kind: 'quality-scorer',
  summary: "Scores AI-written code edits (Aider's formats, Claude Code and Codex edit tools): well-formed, applicable, complete, valid syntax.",
  phases: ['output'],
  schema,
  create(cfg) {
    const minAggregate = cfg.pass_policy.threshold ?? cfg.thresholds.min_aggregate;
    return {
      kind: 'quality-scorer',
      rules: [],
      assessReply(reply, request) {
        const q = scoreCompletion(
          { text: reply.text, toolCalls: reply.toolCalls, ...(reply.finishReason ? { finishReason: reply.finishReason } : {}), context: () => clientSent(request) },
          {
            minAggregate,
            weights: cfg.weights,
            ...(cfg.min_output_chars !== undefined ? { minOutputChars: cfg.min_output_chars } : {}),
            ...(cfg.min_sentences !== undefined ? { minSentences: cfg.min_sentences } : {}),
          },
        );
        const verdict: Verdict = q.passed ? 'allow' : cfg.failure_action.action;
        const reasons = [...new Set(q.reasons.map((r) => r.check))];
        return {
          verdict,
          score: q.score,
          reasons,
          findings: q.passed ? [] : reasons.map((check) => ({ type: 'QUALITY', rule: check, source: 'output_text' as const, segment: -1, start: 0, end: 0, score: q.score })),
        };
      },
    };
  },
};
