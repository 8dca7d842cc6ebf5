import { z } from 'zod';
import { createPiiScanner } from '../../detect/pii/index.js';
import { redactionSchema } from '../markers.js';
import type { Detector } from '../../detect/types.js';
import type { PolicyKindDefinition } from '../types.js';
import { applyToSchema, namedPatternsSchema, singleDetectorPolicy } from './common.js';

const schema = z.strictObject({
  action: z.enum(['redact', 'block', 'flag']).default('redact'),
  pci_mode: z.boolean().default(true).describe('Detect payment card numbers (Luhn and brand checked).'),
  healthcare_mode: z.boolean().default(false).describe('Also detect NPI, medical record and insurance member numbers.'),
  phone_regions: z
    .array(z.string().regex(/^[A-Za-z]{2}$/))
    .optional()
    .describe(
      'Regions (ISO 3166 alpha-2) whose national phone formats are recognised without a country code, the first the default; regions the text itself names (+CC numbers, country domains) are added. Default: 55 common regions.',
    ),
  detect_patterns: namedPatternsSchema.describe('Extra named regular expressions, redacted as [REDACTED:<NAME>].'),
  ignore_rules: z
    .array(z.string().min(1))
    .default(['ipv4-loopback', 'ipv6-loopback'])
    .describe('Rule ids never reported. Loopback addresses identify nobody and are everywhere in code, so they are skipped by default.'),
  redaction: redactionSchema,
  apply_to: applyToSchema,
});

export const piiDetector: PolicyKindDefinition<z.output<typeof schema>> = {
  kind: 'pii-detector',
  summary: 'Emails, phone numbers, SSNs, payment cards, IBANs and IP addresses, in every turn, tool result and reply.',
  phases: ['input', 'output'],
  schema,
  create(cfg, env) {
    const scanner = createPiiScanner({
      pciMode: cfg.pci_mode,
      healthcareMode: cfg.healthcare_mode,
      detectPatterns: cfg.detect_patterns,
      ...(cfg.phone_regions !== undefined ? { phoneRegions: cfg.phone_regions } : {}),
    });
    return singleDetectorPolicy('pii-detector', withoutRules(scanner, cfg.ignore_rules), cfg, env);
  },
};

function withoutRules(detector: Detector, ignored: readonly string[]): Detector {
  if (ignored.length === 0) return detector;
  const skip = new Set(ignored);
  return {
    maxMatchLength: detector.maxMatchLength,
    ...(detector.maxSpacedMatchLength !== undefined ? { maxSpacedMatchLength: detector.maxSpacedMatchLength } : {}),
    // Fewer rules start no match the full detector would not: its frontier still bounds them.
    ...(detector.openFrom ? { openFrom: detector.openFrom } : {}),
    scan: (text) => detector.scan(text).filter((m) => !skip.has(m.rule)),
  };
}
