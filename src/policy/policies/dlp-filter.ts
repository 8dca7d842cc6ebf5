import { z } from 'zod';
import { createDlpScanner } from '../../detect/dlp.js';
import { redactionSchema } from '../markers.js';
import type { PolicyKindDefinition } from '../types.js';
import { applyToSchema, namedPatternsSchema, singleDetectorPolicy } from './common.js';

const schema = z.strictObject({
  detect_patterns: namedPatternsSchema.describe('Named regular expressions for data that must not leave.'),
  blocked_terms: z.array(z.string().min(1)).default([]).describe('Words or phrases, matched case-insensitively on word boundaries.'),
  action: z.enum(['redact', 'block', 'flag']).default('redact'),
  fuzzy_matching: z.boolean().default(false).describe('Also match blocked terms within max_distance edits (typos, obfuscation).'),
  max_distance: z.int().min(0).max(8).default(1),
  sensitivity_level: z
    .enum(['standard', 'high', 'restricted'])
    .default('standard')
    .describe('high adds CONFIDENTIAL-style markers; restricted also INTERNAL ONLY, DO NOT DISTRIBUTE, …'),
  redaction: redactionSchema,
  apply_to: applyToSchema,
});

export const dlpFilter: PolicyKindDefinition<z.output<typeof schema>> = {
  kind: 'dlp-filter',
  summary: 'Custom patterns, blocked terms and classification markers that must not leave the organisation.',
  phases: ['input', 'output'],
  schema,
  create(cfg, env) {
    const detector = createDlpScanner({
      detectPatterns: cfg.detect_patterns,
      blockedTerms: cfg.blocked_terms,
      fuzzyMatching: cfg.fuzzy_matching,
      maxDistance: cfg.max_distance,
      sensitivityLevel: cfg.sensitivity_level,
    });
    return singleDetectorPolicy('dlp-filter', detector, cfg, env);
  },
};
