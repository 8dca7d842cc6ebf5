import { z } from 'zod';
import { createDangerousCodeDetector, DANGEROUS_CODE_RULES } from '../../detect/dangerous-code.js';
import { createSecretScanner } from '../../detect/secrets/index.js';
import { markerFor, redactionSchema } from '../markers.js';
import type { DetectionRule, PolicyKindDefinition } from '../types.js';
import { applyToSchema, namedPatternsSchema, phasesOf } from './common.js';

const OUTPUT_SOURCES = new Set(['output_text', 'output_tool_call'] as const);

const schema = z.strictObject({
  enabled: z.boolean().default(true),
  block_on_match: z.boolean().default(false).describe('false: redact secrets as [REDACTED:SECRET]; true: block the request or response.'),
  additional_patterns: namedPatternsSchema.describe('Extra secret patterns, each with a name used as the rule id.'),
  allowlist: z.array(z.string().min(1)).default([]).describe('Substrings that mark a value as a placeholder, never a secret.'),
  redaction: redactionSchema,
  apply_to: applyToSchema,
  dangerous_code: z
    .strictObject({
      enabled: z.boolean().default(true),
      action: z.enum(['flag', 'block', 'escalate']).default('flag'),
      disabled_rules: z.array(z.enum(DANGEROUS_CODE_RULES.map((r) => r.id) as [string, ...string[]])).default([]),
    })
    .default({ enabled: true, action: 'flag', disabled_rules: [] })
    .describe('In model output: curl | sh, rm -rf /, disabled TLS verification, eval of fetched code, …'),
});

export const codeSanitizer: PolicyKindDefinition<z.output<typeof schema>> = {
  kind: 'code-sanitizer',
  aliases: ['code-sanitation'],
  summary: 'Secrets and credentials in outgoing code and in replies; dangerous commands in generated code.',
  phases: ['input', 'output'],
  schema,
  create(cfg, env) {
    const rules: DetectionRule[] = [];
    if (cfg.enabled) {
      rules.push({
        name: 'secrets',
        detector: createSecretScanner({ additionalPatterns: cfg.additional_patterns, allowlist: cfg.allowlist }),
        action: cfg.block_on_match ? 'block' : 'redact',
        phases: phasesOf(cfg.apply_to),
        marker: markerFor(cfg.redaction, env.markerSalt),
        reversible: cfg.redaction.mode === 'reversible',
      });
      if (cfg.dangerous_code.enabled) {
        rules.push({
          name: 'dangerous-code',
          detector: createDangerousCodeDetector(cfg.dangerous_code.disabled_rules),
          action: cfg.dangerous_code.action,
          phases: ['output'],
          sources: OUTPUT_SOURCES,
          marker: () => '',
        });
      }
    }
    return { kind: 'code-sanitizer', rules };
  },
};
