import { z } from 'zod';
import { createSafetyScanner } from '../../detect/safety.js';
import type { PolicyKindDefinition } from '../types.js';
import { applyToSchema, phasesOf } from './common.js';

const schema = z.strictObject({
  mode: z
    .enum(['software', 'critical_infrastructure', 'automotive', 'education', 'law_enforcement'])
    .default('software')
    .describe('software: malware and credential stealers, destructive commands against production, disabling security controls.'),
  block_if: z.array(z.string().min(1)).default([]).describe("Terms or phrases to stop on; when given, they replace the mode's list."),
  fuzzy_matching: z.boolean().default(false),
  max_distance: z.int().min(0).max(8).default(1),
  action: z.enum(['block', 'escalate']).default('block'),
  apply_to: applyToSchema.default('input'),
});

export const safetyFilter: PolicyKindDefinition<z.output<typeof schema>> = {
  kind: 'safety-filter',
  summary: 'Unsafe requests by domain; for coding agents, malware, destructive production commands and disabled security controls.',
  phases: ['input', 'output'],
  schema,
  create(cfg) {
    return {
      kind: 'safety-filter',
      rules: [
        {
          name: 'safety',
          detector: createSafetyScanner({ mode: cfg.mode, blockIf: cfg.block_if, fuzzyMatching: cfg.fuzzy_matching, maxDistance: cfg.max_distance }),
          action: cfg.action,
          phases: phasesOf(cfg.apply_to),
          marker: () => '',
        },
      ],
    };
  },
};
