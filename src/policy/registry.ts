import { auditLogger } from './policies/audit-logger.js';
import { codeSanitizer } from './policies/code-sanitizer.js';
import { dlpFilter } from './policies/dlp-filter.js';
import { piiDetector } from './policies/pii-detector.js';
import { promptInjection } from './policies/prompt-injection.js';
import { qualityScorer } from './policies/quality-scorer.js';
import { safetyFilter } from './policies/safety-filter.js';
import type { PolicyKindDefinition } from './types.js';

/**
 * The catalogue of policy kinds this build knows. Each kind lives in `policies/<kind>.ts` and is
 * listed here; the config schema, lint, the JSON Schema export and the chain engine all read this map.
 */
const definitions = [piiDetector, codeSanitizer, promptInjection, qualityScorer, dlpFilter, safetyFilter, auditLogger] as unknown as PolicyKindDefinition[];

const byName = new Map<string, PolicyKindDefinition>();
for (const def of definitions) {
  byName.set(def.kind, def);
  for (const alias of def.aliases ?? []) byName.set(alias, def);
}

export function registeredKinds(): readonly PolicyKindDefinition[] {
  return definitions;
}

/** Every name accepted in a config: canonical kinds and their aliases. */
export function acceptedKindNames(): string[] {
  return [...byName.keys()];
}

export function lookupKind(name: string): PolicyKindDefinition | undefined {
  return byName.get(name);
}
