import type { z } from 'zod';
import { acceptedKindNames, lookupKind, registeredKinds } from '../policy/registry.js';
import { providerProfile, type WireFormat } from '../providers/catalog.js';
import { resolveTarget, unreachableTargets } from '../providers/targets.js';
import { formatUsd } from '../usage/money.js';
import { priceFor, type PriceOverrides } from '../usage/pricing.js';
import { didYouMean, formatPath, type Diagnostic } from './diagnostics.js';
import { exportRules } from './integrations-schema.js';
import { documentSchema, policiesSchema, pricingSchema, providersSchema, targetSchema, type PolicyConfig, type Strategy, type TargetConfig } from './schema.js';

type Path = (string | number)[];

/**
 * Validate a merged document in one pass: schema errors, the rules that span several fields and the warnings
 * are all reported together. The cross-field rules read every part that is valid on its own, so one bad value
 * (a base_url that is not a URL) does not hide the problems of the other targets.
 */
export function validateDocument(value: unknown): { config?: PolicyConfig; diagnostics: Diagnostic[] } {
  const input = normaliseEmptyPolicyBlocks(value);
  const schema = documentSchema();
  const result = schema.safeParse(input);
  const diagnostics: Diagnostic[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) diagnostics.push(...describeIssue(issue, input, schema));
  }
  diagnostics.push(...chainRules(input), ...duplicateTargetIds(input), ...exportRules(input));
  const parts = result.success ? partsOf(result.data) : lenientParts(input);
  diagnostics.push(...targetRules(parts), ...warnings(parts));
  const all = dedupe(diagnostics);
  if (!result.success || all.some((d) => d.severity === 'error')) return { diagnostics: all };
  return { config: result.data, diagnostics: all };
}

/** A target as far as it could be read: `cfg` holds the fields that are valid on their own. */
interface TargetPart {
  index: number;
  cfg: Partial<TargetConfig>;
  /** Every field is valid, so the target can be resolved as the gateway would. */
  complete: boolean;
  /** A base_url was written, valid or not (a missing one and a malformed one are different errors). */
  baseUrlGiven: boolean;
}

/** What the cross-field rules and warnings read: each part of the document that is valid on its own. */
interface DocumentParts {
  packEnabled: boolean | undefined;
  chain: string[] | undefined;
  policyBlocks: string[];
  strategy: Strategy | undefined;
  targets: TargetPart[];
  /** `pricing.models`, when valid: the lint's price comparisons use the prices the gateway will bill at. */
  pricing: PriceOverrides | undefined;
}

function partsOf(config: PolicyConfig): DocumentParts {
  return {
    packEnabled: config.pack.enabled,
    chain: config.policies.chain,
    policyBlocks: Object.keys(config.policy),
    strategy: config.providers.strategy,
    targets: config.providers.targets.map((cfg, index) => ({ index, cfg, complete: true, baseUrlGiven: cfg.base_url !== undefined })),
    pricing: config.pricing?.models,
  };
}

function lenientParts(input: unknown): DocumentParts {
  const doc = isRecord(input) ? input : {};
  const pack = isRecord(doc.pack) ? doc.pack : {};
  const policies = doc.policies === undefined ? {} : doc.policies;
  const chain = policiesSchema.safeParse(policies);
  const providers = isRecord(doc.providers) ? doc.providers : {};
  const strategy = providersSchema.shape.strategy.safeParse(providers.strategy);
  const targets = Array.isArray(providers.targets) ? providers.targets : [];
  return {
    packEnabled: typeof pack.enabled === 'boolean' ? pack.enabled : pack.enabled === undefined ? true : undefined,
    chain: chain.success ? chain.data.chain : undefined,
    policyBlocks: isRecord(doc.policy) ? Object.keys(doc.policy) : [],
    strategy: strategy.success ? strategy.data : undefined,
    targets: targets.map((raw, index) => lenientTarget(raw, index)),
    pricing: (() => {
      const pricing = pricingSchema.safeParse(doc.pricing);
      return pricing.success ? pricing.data?.models : undefined;
    })(),
  };
}

function lenientTarget(raw: unknown, index: number): TargetPart {
  const whole = targetSchema.safeParse(raw);
  if (whole.success) return { index, cfg: whole.data, complete: true, baseUrlGiven: whole.data.base_url !== undefined };
  const cfg: Record<string, unknown> = {};
  const fields = isRecord(raw) ? raw : {};
  for (const [key, field] of Object.entries(targetSchema.shape)) {
    const parsed = (field as z.ZodType).safeParse(fields[key]);
    if (parsed.success && parsed.data !== undefined) cfg[key] = parsed.data;
  }
  return { index, cfg: cfg as Partial<TargetConfig>, complete: false, baseUrlGiven: fields.base_url !== undefined };
}

/** `policy:\n  pii-detector:` (no value) means "this kind with its defaults", as a user would expect. */
function normaliseEmptyPolicyBlocks(value: unknown): unknown {
  if (!isRecord(value) || !isRecord(value.policy)) return value;
  const policy = Object.fromEntries(Object.entries(value.policy).map(([k, v]) => [k, v === null ? {} : v]));
  return { ...value, policy };
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, schema: z.ZodType): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const where = formatPath(path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      if (path.length === 1 && path[0] === 'policy') return []; // reported by chainRules with the list of kinds
      const known = knownKeysAt(schema, path);
      return issue.keys.map((key) => {
        const guess = didYouMean(key, known);
        return {
          severity: 'error' as const,
          code: 'unknown-key',
          message: `unknown key "${key}" in ${where}`,
          path: [...path, key],
          hint: guess ? `did you mean "${guess}"?` : `allowed keys: ${known.join(', ')}`,
        };
      });
    }
    case 'invalid_type': {
      const actual = valueAt(input, path);
      if (actual === undefined) {
        return [{ severity: 'error', code: 'missing-key', message: `missing required key ${where}`, path }];
      }
      return [
        {
          severity: 'error',
          code: 'invalid-type',
          message: `${where} must be ${article(issue.expected)}, not ${describeValue(actual)}`,
          path,
          ...(issue.message.includes('quote') ? { hint: issue.message } : {}),
        },
      ];
    }
    case 'invalid_value': {
      const actual = valueAt(input, path);
      // zod reports a missing value of a fixed set of choices as a wrong value; say it is missing.
      if (actual === undefined) return [{ severity: 'error', code: 'missing-key', message: `missing required key ${where}; expected one of ${issue.values.map(String).join(', ')}`, path }];
      const allowed = issue.values.map(String);
      const guess = typeof actual === 'string' ? didYouMean(actual, allowed) : undefined;
      return [
        {
          severity: 'error',
          code: 'invalid-value',
          message: `${where} is ${JSON.stringify(actual)}; expected one of ${allowed.join(', ')}`,
          path,
          ...(guess ? { hint: `did you mean "${guess}"?` } : {}),
        },
      ];
    }
    case 'too_small':
    case 'too_big': {
      const bound = Number(issue.code === 'too_small' ? issue.minimum : issue.maximum);
      const inclusive = issue.inclusive !== false;
      const rel = issue.code === 'too_small' ? (inclusive ? 'at least' : 'greater than') : inclusive ? 'at most' : 'less than';
      const what =
        issue.origin === 'array' ? `${rel} ${bound} item${bound === 1 ? '' : 's'}` : issue.origin === 'string' ? `${rel} ${bound} character${bound === 1 ? '' : 's'}` : `${rel} ${bound}`;
      const custom = issue.message.startsWith('Too ') ? '' : ` (${issue.message})`;
      return [{ severity: 'error', code: 'invalid-value', message: `${where} must have ${what}${custom}`.replace('must have at', 'must be at').replace(/must have (greater|less)/, 'must be $1'), path }];
    }
    default:
      return [{ severity: 'error', code: 'invalid-value', message: `${where} ${lowerFirst(issue.message)}`, path }];
  }
}

function chainRules(input: unknown): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!isRecord(input)) return out;
  const known = acceptedKindNames();
  const knownList = known.length > 0 ? registeredKinds().map((d) => d.kind).join(', ') : 'none in this build';
  const unknownKind = (name: string, path: Path): Diagnostic => {
    const guess = didYouMean(name, known);
    return {
      severity: 'error',
      code: 'unknown-policy-kind',
      message: `unknown policy kind "${name}"`,
      path,
      hint: guess ? `did you mean "${guess}"?` : `known kinds: ${knownList}`,
    };
  };
  const chain = isRecord(input.policies) ? input.policies.chain : undefined;
  if (Array.isArray(chain)) {
    const seen = new Map<string, number>();
    chain.forEach((name, i) => {
      if (typeof name !== 'string') return;
      const def = lookupKind(name);
      if (!def) return void out.push(unknownKind(name, ['policies', 'chain', i]));
      const first = seen.get(def.kind);
      if (first !== undefined) {
        out.push({
          severity: 'error',
          code: 'duplicate-policy',
          message: `policy kind "${name}" appears twice in policies.chain (first at index ${first})`,
          path: ['policies', 'chain', i],
        });
      } else seen.set(def.kind, i);
    });
  }
  if (isRecord(input.policy)) {
    for (const name of Object.keys(input.policy)) if (!lookupKind(name)) out.push(unknownKind(name, ['policy', name]));
  }
  return out;
}

function duplicateTargetIds(input: unknown): Diagnostic[] {
  const targets = isRecord(input) && isRecord(input.providers) ? input.providers.targets : undefined;
  if (!Array.isArray(targets)) return [];
  const out: Diagnostic[] = [];
  const ids = new Map<string, number>();
  targets.forEach((t, i) => {
    const id = isRecord(t) ? t.id : undefined;
    if (typeof id !== 'string') return;
    const first = ids.get(id);
    if (first === undefined) return void ids.set(id, i);
    out.push({
      severity: 'error',
      code: 'duplicate-target-id',
      message: `target id "${id}" is already used by providers.targets[${first}]`,
      path: ['providers', 'targets', i, 'id'],
    });
  });
  return out;
}

function targetRules(parts: DocumentParts): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const { index: i, cfg: t, baseUrlGiven } of parts.targets) {
    const id = t.id ?? `#${i}`;
    if (t.provider === undefined) continue;
    const format = t.format ?? providerProfile(t.provider).format;
    if (!baseUrlGiven && providerProfile(t.provider).needsBaseUrl) {
      out.push({
        severity: 'error',
        code: 'missing-base-url',
        message: `target "${id}" (provider ${t.provider}) needs base_url`,
        path: ['providers', 'targets', i, 'provider'],
        hint:
          t.provider === 'azure-openai'
            ? 'for example https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT?api-version=2024-10-21'
            : 'the OpenAI-compatible endpoint, for example http://127.0.0.1:8080/v1',
      });
    }
    if (t.format === 'anthropic' && t.provider !== 'anthropic' && !baseUrlGiven) {
      out.push({
        severity: 'error',
        code: 'missing-base-url',
        message: `target "${id}" speaks the Anthropic format through provider ${t.provider} and needs base_url`,
        path: ['providers', 'targets', i, 'format'],
      });
    }
    if (t.provider === 'anthropic' && t.format && t.format !== 'anthropic') {
      out.push({
        severity: 'error',
        code: 'format-mismatch',
        message: `target "${id}": provider anthropic speaks format anthropic, not ${t.format}`,
        path: ['providers', 'targets', i, 'format'],
        hint: 'leave format out: OpenAI clients reach an Anthropic target through translation',
      });
    }
    if (t.base_url) {
      const form = baseUrlForm(t.base_url, format);
      if (form) out.push({ severity: 'warning', code: 'base-url-form', message: `target "${id}": ${form.message}`, path: ['providers', 'targets', i, 'base_url'], hint: form.hint });
    }
  }
  // Whether several single-strategy targets can be told apart needs every target's format.
  const known = parts.targets.every((t) => t.cfg.provider !== undefined);
  if (parts.strategy === 'single' && known && parts.targets.length > 1) {
    const formats = new Set(parts.targets.map(({ cfg }) => cfg.format ?? providerProfile(cfg.provider!).format));
    if (formats.size === 1 && parts.targets.every(({ cfg }) => !cfg.model && !cfg.models)) {
      out.push({
        severity: 'error',
        code: 'ambiguous-targets',
        message: 'strategy single with several targets needs model or models on them to tell them apart',
        path: ['providers', 'strategy'],
        hint: 'use strategy fallback or loadbalance to spread traffic over interchangeable targets',
      });
    }
  }
  return out;
}

/**
 * A base_url written in the other family's form. Anthropic's SDK form has no /v1 (the gateway adds /v1/messages
 * and tolerates one, but the same URL in ANTHROPIC_BASE_URL makes clients call /v1/v1/messages); an OpenAI-style
 * URL carries its version path, and one with no path at all sends /chat/completions to the server's root.
 */
function baseUrlForm(baseUrl: string, format: WireFormat): { message: string; hint: string } | undefined {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return undefined;
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (format === 'anthropic' && /\/v1$/.test(path)) {
    return {
      message: 'base_url ends in /v1, but Anthropic base URLs are written without it',
      hint: `write ${url.origin}${path.slice(0, -3)}; the gateway adds /v1/messages itself`,
    };
  }
  if (format !== 'anthropic' && path === '' && !url.search) {
    return {
      message: 'base_url has no path, but OpenAI-style base URLs include the API version (/v1)',
      hint: `write ${url.origin}/v1 if the server answers at /v1/chat/completions; requests go to base_url + /chat/completions`,
    };
  }
  return undefined;
}

function warnings(parts: DocumentParts): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (parts.packEnabled === false) {
    out.push({
      severity: 'warning',
      code: 'pack-disabled',
      message: 'pack.enabled is false: the gateway forwards traffic without applying any policy',
      path: ['pack', 'enabled'],
    });
  }
  if (parts.chain?.length === 0) {
    out.push({
      severity: 'warning',
      code: 'empty-chain',
      message: 'policies.chain is empty: no policy is applied to requests or responses',
      path: ['policies', 'chain'],
      hint: 'list policy kinds under policies.chain, e.g. [pii-detector, code-sanitizer]',
    });
  }
  if (parts.chain) {
    const inChain = new Set(parts.chain.map((k) => lookupKind(k)?.kind));
    for (const name of parts.policyBlocks) {
      const kind = lookupKind(name)?.kind;
      // An unknown kind is already an error (chainRules).
      if (kind === undefined || inChain.has(kind)) continue;
      out.push({
        severity: 'warning',
        code: 'policy-not-in-chain',
        message: `policy.${name} is configured but "${name}" is not in policies.chain, so it never runs`,
        path: ['policy', name],
      });
    }
  }
  for (const t of parts.targets) out.push(...dearerAliases(t, parts.pricing));
  // Reachability is a question about the whole set of targets: only asked when every one of them is valid.
  if (parts.strategy !== undefined && parts.targets.length > 0 && parts.targets.every((t) => t.complete)) {
    const targets = parts.targets.map((t) => resolveTarget(t.cfg as TargetConfig));
    for (const { target, why } of unreachableTargets(targets, parts.strategy)) {
      const i = targets.indexOf(target);
      out.push({
        severity: 'warning',
        code: 'unreachable-target',
        message: `target "${target.id}" can never be reached: ${why}`,
        path: ['providers', 'targets', i],
      });
    }
  }
  return out;
}

/**
 * An alias that sends a cheaper model's calls to a dearer one: Aider's weak model listed as an alias of the main
 * model billed every commit message at the main model's price. Compared on input plus output price per million
 * tokens; a model the price list does not know is not compared (unknown is not cheaper).
 */
function dearerAliases(t: TargetPart, pricing: PriceOverrides | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [asked, sent] of Object.entries(t.cfg.aliases ?? {})) {
    const from = priceFor(asked, pricing);
    const to = priceFor(sent, pricing);
    if (!from || !to) continue;
    const fromRate = from.input + from.output;
    const toRate = to.input + to.output;
    if (!(toRate > fromRate)) continue;
    const times = fromRate > 0 ? `${(toRate / fromRate).toFixed(1)}× as much` : 'more';
    out.push({
      severity: 'warning',
      code: 'alias-costs-more',
      message:
        `alias "${asked}" sends ${asked}'s calls upstream as ${sent}, which costs ${times} ` +
        `(${formatUsd(to.input)}/${formatUsd(to.output)} against ${formatUsd(from.input)}/${formatUsd(from.output)} per million input/output tokens)`,
      path: ['providers', 'targets', t.index, 'aliases', asked],
      hint: `to send ${asked} as itself, list it under models instead; keep the alias only if the dearer model is what you want`,
    });
  }
  return out;
}

/** The keys a strict object accepts at `path`, found by walking the schema (used for did-you-mean). */
function knownKeysAt(schema: z.ZodType, path: Path): string[] {
  let node: unknown = schema;
  for (const seg of path) {
    node = unwrap(node);
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (def.type === 'object') node = (def.shape as Record<string, unknown>)[String(seg)];
    else if (def.type === 'array') node = def.element;
    else if (def.type === 'record') node = def.valueType;
    else return [];
  }
  const def = (unwrap(node) as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape as Record<string, unknown>) : [];
}

function unwrap(node: unknown): unknown {
  for (let i = 0; i < 10; i++) {
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return node;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') node = def.innerType;
    else if (def.type === 'pipe') node = def.in;
    else return node;
  }
  return node;
}

function valueAt(input: unknown, path: Path): unknown {
  let v = input;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function article(expected: string): string {
  const names: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' };
  return names[expected] ?? expected;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const key = `${d.code}|${formatPath(d.path)}|${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
