import { z } from 'zod';
import { PROVIDER_NAMES } from '../providers/catalog.js';
import { registeredKinds } from '../policy/registry.js';
import { auditSchema, telemetrySchema } from './integrations-schema.js';

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

/**
 * Retries of one target, as written at `providers.retry` (defaults for every target) and at a target's own
 * `retry` (overrides, key by key). Defaults are applied when targets are resolved (src/providers/targets.ts),
 * so a target's partial block and the providers' block layer the same way.
 */
function retryShape() {
  return z.strictObject({
    max_retries: z
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('Retries of the same target after a retriable failure (connection refused or reset, 408, 429, 5xx), before the next target is tried. Default 1.'),
    initial_backoff_ms: z.int().min(0).optional().describe('Wait before the first retry; doubled for each later one, with jitter. Default 200.'),
    max_backoff_ms: z.int().min(0).optional().describe('Longest wait between two tries of a target. Default 2000.'),
    max_retry_after_ms: z
      .int()
      .min(0)
      .optional()
      .describe("Longest Retry-After / retry-after-ms the gateway waits out; a longer one moves on to the next target (or, on the last, goes to the client). Default 5000."),
  });
}

function breakerShape() {
  return z.strictObject({
    enabled: z.boolean().optional().describe('Default true.'),
    failures: z.int().positive().optional().describe('Failures (connection errors, timeouts, 5xx) within window_ms that open the circuit. Default 5.'),
    window_ms: z.int().positive().optional().describe('Window the failures are counted in. Default 30000.'),
    cooldown_ms: z
      .int()
      .positive()
      .optional()
      .describe('How long an open circuit skips the target before one request probes it (half-open). Default 30000.'),
  });
}

export const retrySchema = retryShape().describe('Retries with jittered exponential backoff; Retry-After is honoured up to max_retry_after_ms.');
export const breakerSchema = breakerShape().describe('Circuit breaker per target: open after `failures` in `window_ms`, one probe after `cooldown_ms`.');

export const targetSchema = z.strictObject({
  id: z.string().regex(TARGET_ID, 'must start with a letter or digit and use only letters, digits, _ . : -'),
  provider: z.enum(PROVIDER_NAMES),
  model: z
    .string()
    .min(1)
    .optional()
    .describe('Upstream model this target serves.'),
  models: z
    .array(z.string().min(1))
    .optional()
    .describe('Other models this target serves; each is sent upstream under the name the client asked for.'),
  aliases: z
    .record(z.string().min(1), z.string().min(1))
    .optional()
    .describe('Explicit renames: a name clients may ask for → the upstream model the request is sent as.'),
  base_url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe('Upstream base URL as the provider SDK takes it (OpenAI-style: with /v1; Anthropic: without).'),
  secret_key_ref: secretKeyRefSchema
    .optional()
    .describe("The gateway's own provider key. When set, a client's key is never forwarded."),
  format: z
    .enum(['openai', 'chat', 'anthropic', 'responses'])
    .optional()
    .describe('Wire format the upstream speaks; defaults from the provider.'),
  api_key_header: z.string().min(1).optional(),
  api_key_prefix: z.string().optional(),
  weight: z.number().min(0).default(1).describe('Share of traffic under strategy loadbalance.'),
  timeout_ms: z
    .int()
    .positive()
    .default(600_000)
    .describe('Response timeout: longest wait for the upstream response headers, and for each gap between body chunks.'),
  connect_timeout_ms: z.int().positive().optional().describe('Longest wait to open a connection to the upstream. Default 10000.'),
  first_token_timeout_ms: z
    .int()
    .positive()
    .optional()
    .describe('Streams only: longest wait from sending the request to the first content frame; past it the next try or target takes the request. Absent: timeout_ms alone.'),
  retry: retrySchema.optional().describe('Overrides providers.retry for this target, key by key.'),
  circuit_breaker: breakerSchema.optional().describe('Overrides providers.circuit_breaker for this target, key by key.'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('Extra headers sent upstream on every request to this target.'),
});

export const providersSchema = z.strictObject({
  strategy: z.enum(['single', 'fallback', 'loadbalance']).default('single'),
  retry: retrySchema.optional().describe('Retry settings for every target (each may override them).'),
  circuit_breaker: breakerSchema.optional().describe('Circuit breaker settings for every target (each may override them).'),
  targets: z.array(targetSchema).min(1, 'needs at least one target'),
});

export const LIMIT_SCOPES = ['developer', 'repository', 'team', 'key', 'global'] as const;

const limitScopeSchema = z
  .enum(LIMIT_SCOPES)
  .describe('Who the rule counts: each developer, repository, team or virtual key separately, or all traffic together (global).');
const limitMatchSchema = z
  .string()
  .min(1)
  .optional()
  .describe('Only this developer / repository / team / key id (exact match). Absent: every value of the scope gets its own counter.');
const globalHasNoMatch = { message: 'must not be set when scope is global', path: ['match'] };

export const budgetSchema = z
  .strictObject({
    scope: limitScopeSchema,
    match: limitMatchSchema,
    limit_usd: z.number().positive().describe('Spend allowed per period, in USD.'),
    period: z
      .enum(['day', 'week', 'month'])
      .describe('Calendar period in UTC: day from 00:00, week from Monday 00:00, month from the 1st.'),
    mode: z
      .enum(['soft', 'hard'])
      .describe('hard: once spent reaches the limit, requests get 429 budget_exceeded until the period resets. soft: requests go on, flagged, with alerts.'),
    alert_at: z
      .array(z.number().gt(0).lte(1))
      .transform((xs) => [...new Set(xs)].sort((a, b) => a - b))
      .default([0.5, 0.8])
      .describe('Fractions of limit_usd at which an alert event is emitted, once per period (1.0, exceeded, is always added).'),
  })
  .refine((b) => b.scope !== 'global' || b.match === undefined, globalHasNoMatch)
  .describe('A spending limit per calendar period.');

export const rateLimitSchema = z
  .strictObject({
    scope: limitScopeSchema,
    match: limitMatchSchema,
    rpm: z.int().positive().optional().describe('Requests per minute (sliding 60 s window).'),
    tpm: z.int().positive().optional().describe('Tokens per minute (sliding 60 s window; estimated at admission, corrected when the response ends).'),
    max_parallel: z.int().positive().optional().describe('Requests with an upstream at the same time.'),
  })
  .refine((r) => r.scope !== 'global' || r.match === undefined, globalHasNoMatch)
  .refine((r) => r.rpm !== undefined || r.tpm !== undefined || r.max_parallel !== undefined, {
    message: 'needs at least one of rpm, tpm or max_parallel',
  })
  .describe('Request, token and concurrency limits.');

/** Report the second of two rules with the same identity: they would share counters and only confuse. */
function uniqueRules<T extends { scope: string; match?: string | undefined }>(identity: (r: T) => string, what: string) {
  return (rules: T[], ctx: z.core.$RefinementCtx<T[]>) => {
    const seen = new Map<string, number>();
    rules.forEach((r, i) => {
      const id = identity(r);
      const first = seen.get(id);
      if (first === undefined) return void seen.set(id, i);
      ctx.addIssue({ code: 'custom', path: [i], message: `repeats entry [${first}] (same ${what})`, input: r });
    });
  };
}

export const budgetsSchema = z
  .array(budgetSchema)
  .superRefine(uniqueRules((b) => JSON.stringify([b.scope, b.match ?? null, b.period, b.mode]), 'scope, match, period and mode'))
  .default([])
  .describe('Spending limits; hard ones answer 429 budget_exceeded before any upstream call. See docs/limits.md.');

export const rateLimitsSchema = z
  .array(rateLimitSchema)
  .superRefine(uniqueRules((r) => JSON.stringify([r.scope, r.match ?? null]), 'scope and match; put rpm, tpm and max_parallel in one entry'))
  .default([])
  .describe('Rate limits; they answer 429 rate_limited with Retry-After before any upstream call. See docs/limits.md.');

const usdPerMillion = (what: string, fallback?: string) =>
  z
    .number()
    .min(0)
    .describe(`USD per one million ${what}.${fallback ? ` Absent: billed at ${fallback}.` : ''}`);

export const modelPriceSchema = z
  .strictObject({
    input: usdPerMillion('prompt tokens not read from or written to the cache'),
    output: usdPerMillion('generated tokens, reasoning included unless `reasoning` is set'),
    cached_input: usdPerMillion('prompt tokens read from the cache', 'input').optional(),
    cache_write: usdPerMillion('prompt tokens written to the cache (5-minute TTL)', 'input').optional(),
    cache_write_1h: usdPerMillion('prompt tokens written to the cache with the 1-hour TTL', 'cache_write').optional(),
    reasoning: usdPerMillion('reasoning tokens, when billed apart from output', 'output').optional(),
  })
  .describe('Prices of one model, USD per 1M tokens.');

export const pricingSchema = z
  .strictObject({
    models: z
      .record(z.string().min(1), modelPriceSchema)
      .default({})
      .describe(
        'Model id → price. Adds models the built-in catalogue lacks, or replaces a catalogue entry entirely (negotiated rates, Azure, a proxy). ' +
          'Ids match exactly first, then after normalisation (no provider prefix, date or -latest suffix), then by longest prefix.',
      ),
  })
  .describe('Price overrides for cost in events and budgets. See docs/usage.md.');

export const escalationSchema = z
  .strictObject({
    hold_seconds: z
      .int()
      .min(1)
      .max(3600)
      .default(300)
      .describe('How long a request a policy escalated waits for a reviewer (kt escalations approve|deny, or the console queue); then it is answered as a block carrying the escalation id.'),
    max_held: z
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe('Requests held at once by one gateway; one more is answered at once as a block (escalation_queue_full).'),
    poll_ms: z.int().min(50).max(10_000).default(1000).describe('How often a held request looks for its decision in the store or on the control plane.'),
  })
  .describe('Escalations: requests held for a reviewer when a policy decides `escalate`. See docs/configuration.md.');

export const WEBHOOK_EVENTS = ['block', 'escalation', 'budget_threshold'] as const;

export const webhookSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/@]+(?:\/\S*)?$/, 'must be an http:// or https:// URL without credentials')
      .describe('Where deliveries are POSTed (JSON).'),
    secret_env: z
      .string()
      .regex(ENV_NAME, 'must be an environment variable name (letters, digits, _ . -)')
      .describe('Environment variable holding the signing secret (HMAC-SHA256); the gateway does not start without it.'),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).describe('What is delivered: block, escalation, budget_threshold.'),
    max_attempts: z.int().min(1).max(20).default(8).describe('Tries of one delivery before it is given up (recorded as failed).'),
    initial_backoff_ms: z.int().min(10).max(600_000).default(1000).describe('Wait before the second try; doubled for each later one, with full jitter.'),
    max_backoff_ms: z.int().min(10).max(3_600_000).default(300_000).describe('Longest wait between two tries.'),
    timeout_ms: z.int().min(100).max(60_000).default(10_000).describe('How long one try may take.'),
  })
  .describe('One webhook receiver.');

export const webhooksSchema = z.array(webhookSchema).max(20).default([]).describe('Signed HTTP notifications of blocks, escalations and budget thresholds. See docs/configuration.md.');

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
    budgets: budgetsSchema,
    rate_limits: rateLimitsSchema,
    pricing: pricingSchema.optional(),
    audit: auditSchema.optional(),
    telemetry: telemetrySchema.optional(),
    escalation: escalationSchema.default({ hold_seconds: 300, max_held: 100, poll_ms: 1000 }),
    webhooks: webhooksSchema,
  });
}

export type PolicyConfig = z.output<ReturnType<typeof documentSchema>>;
export type TargetConfig = z.output<typeof targetSchema>;
export type RetryConfig = z.output<typeof retrySchema>;
export type BreakerConfig = z.output<typeof breakerSchema>;
export type PricingConfig = z.output<typeof pricingSchema>;
export type EscalationConfig = z.output<typeof escalationSchema>;
export type WebhookConfig = z.output<typeof webhookSchema>;
export type Strategy = PolicyConfig['providers']['strategy'];
export type BudgetRule = z.output<typeof budgetSchema>;
export type RateLimitRule = z.output<typeof rateLimitSchema>;
export type LimitScope = (typeof LIMIT_SCOPES)[number];
