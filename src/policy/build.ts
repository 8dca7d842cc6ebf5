import { randomBytes } from 'node:crypto';
import type { PolicyConfig } from '../config/schema.js';
import { PolicyChain } from './engine.js';
import { placeholderKey } from './placeholders.js';
import { lookupKind } from './registry.js';
import type { PolicyEnvironment, PolicyInstance } from './types.js';

/**
 * Instantiate `policies.chain` from a validated config: each kind's block (or `{}` for defaults) goes to its
 * factory, which compiles its patterns once here rather than per request. A disabled pack gives an empty chain.
 */
export function buildChain(config: PolicyConfig, failMode: 'block' | 'allow', env: PolicyEnvironment = { markerSalt: randomBytes(16).toString('hex') }): PolicyChain {
  if (!config.pack.enabled) return new PolicyChain([], failMode);
  const blocks = config.policy as Record<string, unknown>;
  const instances: PolicyInstance[] = config.policies.chain.map((name) => {
    const def = lookupKind(name);
    if (!def) throw new Error(`unknown policy kind "${name}"`); // validated earlier; kept as a guard
    // Blocks in the config were already parsed by the kind's schema; an absent one gets its defaults.
    const parsed = [def.kind, ...(def.aliases ?? [])].map((k) => blocks[k]).find((b) => b !== undefined) ?? def.schema.parse({});
    return def.create(parsed, env);
  });
  return new PolicyChain(instances, failMode, placeholderKey(env.markerSalt));
}
