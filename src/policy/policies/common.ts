import { z } from 'zod';
import type { NamedPattern } from '../../detect/types.js';
import type { Detector } from '../../detect/types.js';
import { markerFor, type RedactionConfig } from '../markers.js';
import type { PolicyEnvironment, PolicyInstance, PolicyPhase } from '../types.js';

export const applyToSchema = z
  .enum(['input', 'output', 'both'])
  .default('both')
  .describe('input: requests before they leave; output: responses before the client sees them; both.');

export function phasesOf(applyTo: 'input' | 'output' | 'both'): PolicyPhase[] {
  return applyTo === 'both' ? ['input', 'output'] : [applyTo];
}

function validRegex(pattern: string): boolean {
  try {
    new RegExp(pattern, 'gu');
    return true;
  } catch {
    try {
      new RegExp(pattern, 'g');
      return true;
    } catch {
      return false;
    }
  }
}

const patternText = z.string().min(1).refine(validRegex, { message: 'is not a valid JavaScript regular expression' });

/** `detect_patterns` / `additional_patterns`: `{name, pattern}` entries, or bare patterns named CUSTOM_1, CUSTOM_2… */
export const namedPatternsSchema = z
  .array(
    z.union([
      patternText,
      z.strictObject({
        name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'must start with a letter and use letters, digits, _ and -'),
        pattern: patternText,
      }),
    ]),
  )
  .default([])
  .transform((items): NamedPattern[] => items.map((p, i) => (typeof p === 'string' ? { name: `CUSTOM_${i + 1}`, pattern: p } : p)));

/** A policy that is one detector with one action, redacting with the configured markers. */
export function singleDetectorPolicy(
  kind: string,
  detector: Detector,
  cfg: { action: 'redact' | 'block' | 'flag'; apply_to: 'input' | 'output' | 'both'; redaction: RedactionConfig },
  env: PolicyEnvironment,
): PolicyInstance {
  return {
    kind,
    rules: [{ name: kind, detector, action: cfg.action, phases: phasesOf(cfg.apply_to), marker: markerFor(cfg.redaction, env.markerSalt), reversible: cfg.redaction.mode === 'reversible' }],
  };
}
