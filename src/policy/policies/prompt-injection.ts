import { z } from 'zod';
import { createInjectionScanner } from '../../detect/injection/index.js';
import type { SegmentSource } from '../../protocol/content.js';
import type { DetectionRule, PolicyKindDefinition } from '../types.js';
import { namedPatternsSchema } from './common.js';

/** Direct: what the user typed. Indirect: text the agent pulled in (tool output, files, documents, tool arguments). */
const DIRECT: ReadonlySet<SegmentSource> = new Set(['user']);
const INDIRECT: ReadonlySet<SegmentSource> = new Set(['tool_result', 'document', 'tool_call']);

const action = z.enum(['block', 'flag', 'escalate']);
const scopeSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    action: action.optional().describe('Overrides response.action for this scope.'),
    threshold: z.number().min(0).max(1).optional().describe('Overrides the top-level threshold for this scope.'),
  })
  .default({ enabled: true });

const schema = z.strictObject({
  threshold: z.number().min(0).max(1).default(0.5).describe('Score from which a region counts as an injection (0..1).'),
  encoding: z
    .strictObject({
      decode_base64: z.boolean().default(true).describe('Decode base64, hex and URL-encoded runs and scan them too.'),
      normalize_unicode: z.boolean().default(true).describe('NFKC-normalise before matching.'),
      detect_homoglyphs: z.boolean().default(true).describe('Fold Cyrillic, Greek and full-width look-alikes to ASCII.'),
    })
    .default({ decode_base64: true, normalize_unicode: true, detect_homoglyphs: true }),
  detection: z
    .strictObject({ attack_patterns: namedPatternsSchema.describe('Extra regular expressions, each a strong signal.') })
    .default({ attack_patterns: [] }),
  response: z
    .strictObject({
      action: action.default('block'),
      message: z.string().min(1).optional().describe('Message returned to the client on a block.'),
    })
    .default({ action: 'block' }),
  scope: z
    .strictObject({
      direct: scopeSchema.describe('User turns.'),
      indirect: scopeSchema.describe('Tool results, documents and tool-call arguments: where agents meet injected text.'),
    })
    .default({ direct: { enabled: true }, indirect: { enabled: true } }),
});

export const promptInjection: PolicyKindDefinition<z.output<typeof schema>> = {
  kind: 'prompt-injection',
  summary: 'Instruction overrides, jailbreaks, fake chat tokens, exfiltration and agent-directed commands, in user turns and in tool output.',
  phases: ['input'],
  schema,
  create(cfg) {
    const rules: DetectionRule[] = [];
    for (const [name, sources, scope] of [
      ['direct', DIRECT, cfg.scope.direct],
      ['indirect', INDIRECT, cfg.scope.indirect],
    ] as const) {
      if (!scope.enabled) continue;
      rules.push({
        name,
        detector: createInjectionScanner({
          threshold: scope.threshold ?? cfg.threshold,
          decodeBase64: cfg.encoding.decode_base64,
          normalizeUnicode: cfg.encoding.normalize_unicode,
          detectHomoglyphs: cfg.encoding.detect_homoglyphs,
          attackPatterns: cfg.detection.attack_patterns,
          source: name,
        }),
        action: scope.action ?? cfg.response.action,
        phases: ['input'],
        sources,
        marker: () => '',
      });
    }
    return { kind: 'prompt-injection', rules, ...(cfg.response.message ? { blockMessage: cfg.response.message } : {}) };
  },
};
