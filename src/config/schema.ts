import { z } from 'zod';
import { PROVIDER_NAMES } from '../providers/catalog.js';
import { registeredKinds } from '../policy/registry.js';

/**
 * The strict shape of `policy-config.yaml`. Unknown keys are errors everywhere: a misspelt key that is
 * silently ignored is how a policy ends up not applied. Cross-field rules (unique ids, kinds in the
 * chain, reachability) live in `validate.ts`, where they can produce precise messages.
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const TARGET_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

export const packSchema = z.strictObject({
  name: z.string().min(1).describe('Name of this policy pack; shown in /health and on every event.'),
  version: z
    .string({ error: 'must be a string; quote numbers such as "1.0"' })
    .min(1)
    .describe('Version of this pack, for example "1.0.0".'),
  enabled: z
    .boolean()
    .default(true)
    .describe('When false the gateway forwards traffic without running the policy chain.'),
  description: z.string().optional(),
});

export const policiesSchema = z.strictObject({
  chain: z
    .array(z.string().min(1))
    .default([])
    .describe('Policy kinds in the order they run. Each kind may be configured under policy.<kind>.'),
});

export const secretKeyRefSchema = z.strictObject({
  env: z
    .string()
    .regex(ENV_NAME, 'must be an environment variable name (letters, digits, _ . -)')
    .describe('Environment variable holding the provider API key, read once at start.'),
});

export const targetSchema = z.strictObject({
  id: z.string().regex(TARGET_ID, 'must start with a letter or digit and use only letters, digits, _ . : -'),
  provider: z.enum(PROVIDER_NAMES),
  model: z
    .string()
    .min(1)
    .optional()
    .describe('Upstream model this target serves; also the model that its aliases are sent as.'),
  models: z
    .array(z.string().min(1))
    .optional()
    .describe('Aliases: other model names clients may ask for; they are sent upstream as `model`.'),
  base_url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe('Upstream base URL as the provider SDK takes it (OpenAI-style: with /v1; Anthropic: without).'),
  secret_key_ref: secretKeyRefSchema
    .optional()
    .describe("The gateway's own provider key. When set, a client's key is never forwarded."),
  format: z
    .enum(['openai', 'anthropic', 'responses'])
    .optional()
    .describe('Wire format the upstream speaks; defaults from the provider.'),
  api_key_header: z.string().min(1).optional(),
  api_key_prefix: z.string().optional(),
  weight: z.number().min(0).default(1).describe('Share of traffic under strategy loadbalance.'),
  timeout_ms: z
    .int()
    .positive()
    .default(600_000)
    .describe('Longest wait for the upstream response headers, and for each gap between body chunks.'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('Extra headers sent upstream on every request to this target.'),
});

export const providersSchema = z.strictObject({
  strategy: z.enum(['single', 'fallback', 'loadbalance']).default('single'),
  targets: z.array(targetSchema).min(1, 'needs at least one target'),
});

function policyBlocksSchema() {
  const shape: Record<string, z.ZodType> = {};
  for (const def of registeredKinds()) {
    shape[def.kind] = def.schema.optional().describe(def.summary);
    for (const alias of def.aliases ?? []) shape[alias] = def.schema.optional().describe(`Alias of ${def.kind}.`);
  }
  return z.strictObject(shape);
}

export function documentSchema() {
  return z.strictObject({
    pack: packSchema,
    policies: policiesSchema.default({ chain: [] }),
    policy: policyBlocksSchema().default({}),
    providers: providersSchema,
  });
}

export type PolicyConfig = z.output<ReturnType<typeof documentSchema>>;
export type TargetConfig = z.output<typeof targetSchema>;
export type Strategy = PolicyConfig['providers']['strategy'];
