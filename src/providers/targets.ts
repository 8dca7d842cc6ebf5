import type { BreakerConfig, RetryConfig, Strategy, TargetConfig } from '../config/schema.js';
import { PROVIDER_NAMES, providerProfile, type ProviderName, type WireFormat } from './catalog.js';
import { BREAKER_DEFAULTS, type BreakerPolicy } from './breaker.js';
import { RETRY_DEFAULTS, type RetryPolicy } from './backoff.js';
import { canTranslate } from '../protocol/translate/index.js';

/** The API families a client can call; each is served by targets of a matching wire format. */
export type Family = 'chat' | 'responses' | 'messages' | 'count_tokens';

const FAMILIES_BY_FORMAT: Record<WireFormat, readonly Family[]> = {
  openai: ['chat', 'responses'],
  chat: ['chat'],
  responses: ['responses'],
  anthropic: ['messages', 'count_tokens'],
};

export function formatServes(format: WireFormat, family: Family): boolean {
  return FAMILIES_BY_FORMAT[format].includes(family);
}

/** A target with every default filled in. Secrets are not here: see credentials.ts. */
export interface Target {
  id: string;
  provider: ProviderName;
  format: WireFormat;
  /** Origin for the connection pool, e.g. `https://api.openai.com`. */
  origin: string;
  /** Path prefix from base_url, without a trailing slash, e.g. `/v1` or `/openai/deployments/gpt4o`. */
  basePath: string;
  /** Query parameters from base_url (Azure's `api-version`), added to every upstream call. */
  baseQuery: URLSearchParams;
  model?: string;
  /** Other models served, each sent upstream as named. */
  models: ReadonlySet<string>;
  /** Explicit renames: the name a client asks for → the model sent upstream. */
  aliases: ReadonlyMap<string, string>;
  apiKeyHeader: string;
  apiKeyPrefix: string;
  secretEnv?: string;
  weight: number;
  /** Response timeout: for the headers, and for each gap between body chunks. */
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Streams: from the request to the first content frame (src/providers/first-token.ts). */
  firstTokenTimeoutMs?: number;
  retry: RetryPolicy;
  breaker: BreakerPolicy;
  headers: Readonly<Record<string, string>>;
}

/** What `providers` says for every target; each target's own blocks override it key by key. */
export interface TargetDefaults {
  retry?: RetryConfig | undefined;
  circuit_breaker?: BreakerConfig | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function resolveTarget(cfg: TargetConfig, defaults: TargetDefaults = {}): Target {
  const profile = providerProfile(cfg.provider);
  const format = cfg.format ?? profile.format;
  // A target that declares the Anthropic format talks with Anthropic's key header even behind another provider.
  const anthropicAuth = format === 'anthropic' && cfg.provider !== 'anthropic';
  const base = new URL(cfg.base_url ?? profile.baseUrl ?? 'http://invalid.invalid');
  return {
    id: cfg.id,
    provider: cfg.provider,
    format,
    origin: base.origin,
    basePath: base.pathname.replace(/\/+$/, ''),
    baseQuery: base.searchParams,
    ...(cfg.model !== undefined ? { model: cfg.model } : {}),
    models: new Set(cfg.models ?? []),
    aliases: new Map(Object.entries(cfg.aliases ?? {})),
    apiKeyHeader: (cfg.api_key_header ?? (anthropicAuth ? 'x-api-key' : profile.apiKeyHeader)).toLowerCase(),
    apiKeyPrefix: cfg.api_key_prefix ?? (anthropicAuth ? '' : profile.apiKeyPrefix),
    ...(cfg.secret_key_ref ? { secretEnv: cfg.secret_key_ref.env } : {}),
    weight: cfg.weight,
    timeoutMs: cfg.timeout_ms,
    connectTimeoutMs: cfg.connect_timeout_ms ?? DEFAULT_CONNECT_TIMEOUT_MS,
    ...(cfg.first_token_timeout_ms !== undefined ? { firstTokenTimeoutMs: cfg.first_token_timeout_ms } : {}),
    retry: {
      maxRetries: cfg.retry?.max_retries ?? defaults.retry?.max_retries ?? RETRY_DEFAULTS.maxRetries,
      initialBackoffMs: cfg.retry?.initial_backoff_ms ?? defaults.retry?.initial_backoff_ms ?? RETRY_DEFAULTS.initialBackoffMs,
      maxBackoffMs: cfg.retry?.max_backoff_ms ?? defaults.retry?.max_backoff_ms ?? RETRY_DEFAULTS.maxBackoffMs,
      maxRetryAfterMs: cfg.retry?.max_retry_after_ms ?? defaults.retry?.max_retry_after_ms ?? RETRY_DEFAULTS.maxRetryAfterMs,
    },
    breaker: {
      enabled: cfg.circuit_breaker?.enabled ?? defaults.circuit_breaker?.enabled ?? BREAKER_DEFAULTS.enabled,
      failures: cfg.circuit_breaker?.failures ?? defaults.circuit_breaker?.failures ?? BREAKER_DEFAULTS.failures,
      windowMs: cfg.circuit_breaker?.window_ms ?? defaults.circuit_breaker?.window_ms ?? BREAKER_DEFAULTS.windowMs,
      cooldownMs: cfg.circuit_breaker?.cooldown_ms ?? defaults.circuit_breaker?.cooldown_ms ?? BREAKER_DEFAULTS.cooldownMs,
    },
    headers: Object.fromEntries(Object.entries(cfg.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

/**
 * The path to call upstream for a family. OpenAI-style base URLs already end in `/v1` (or an Azure
 * deployment path); Anthropic's do not, but one that does is accepted too.
 */
export function upstreamPath(target: Target, family: Family | 'models'): string {
  const suffix: Record<Family | 'models', string> = {
    chat: '/chat/completions',
    responses: '/responses',
    messages: '/messages',
    count_tokens: '/messages/count_tokens',
    models: '/models',
  };
  if (target.format === 'anthropic' && !/\/v1$/.test(target.basePath)) return `${target.basePath}/v1${suffix[family]}`;
  return `${target.basePath}${suffix[family]}`;
}

export interface RouteCandidate {
  target: Target;
  /** Model name to send upstream. */
  model: string;
}

export type RouteResult =
  | { ok: true; candidates: RouteCandidate[] }
  | { ok: false; reason: 'no_target_for_family' | 'model_not_found'; known: string[] };

const PROVIDER_SET = new Set<string>(PROVIDER_NAMES);

/**
 * Pick the targets that may serve a request: those whose `model`, `models` or aliases name the requested model (a
 * provider prefix such as `openai/gpt-4o` matches too), ordered by the strategy. A model is sent upstream as the
 * client named it; only an explicit alias renames it, so a weak model listed next to a dear one is billed as itself. When nothing matches, a
 * single-strategy config forwards to its first serving target, and other strategies fall back to targets
 * that name no model at all.
 *
 * A target serves a client's family natively (its format speaks it) or through a translator
 * (src/protocol/translate/). A model name picks targets of either kind, in config order: naming a model is
 * how a client is pointed at a target of another format. Where no name matches, targets that speak the
 * client's format natively are preferred, so adding a target of another format never takes over a config's
 * unmatched requests; translated ones serve them only when no native target could.
 */
export class Router {
  constructor(
    readonly targets: readonly Target[],
    readonly strategy: Strategy,
    private readonly random: () => number = Math.random,
  ) {}

  route(family: Family, requested: string | undefined): RouteResult {
    const reachable = this.targets.filter((t) => formatServes(t.format, family) || canTranslate(family, t.format));
    if (reachable.length === 0) return { ok: false, reason: 'no_target_for_family', known: [] };
    const matches = requested ? matchByName(reachable, requested) : [];
    let candidates: RouteCandidate[];
    if (matches.length > 0) {
      candidates = matches;
    } else {
      const nativePool = this.unmatchedPool(reachable.filter((t) => formatServes(t.format, family)));
      const pool = nativePool ?? this.unmatchedPool(reachable.filter((t) => !formatServes(t.format, family)));
      if (!pool) return { ok: false, reason: 'model_not_found', known: modelNames(reachable) };
      // A model name of the client's API means nothing to a target of another: its own model goes, when it has one.
      candidates = pool.map((target) => ({ target, model: (nativePool ? undefined : target.model) ?? passThroughModel(target, requested) ?? target.model ?? '' }));
    }
    return { ok: true, candidates: this.order(candidates) };
  }

  /** The targets that take a model no target names: under single any, otherwise those that name no model. */
  private unmatchedPool(serving: readonly Target[]): Target[] | undefined {
    const pool = this.strategy === 'single' ? [...serving] : serving.filter((t) => servedNames(t).length === 0);
    return pool.length > 0 ? pool : undefined;
  }

  private order(candidates: RouteCandidate[]): RouteCandidate[] {
    if (this.strategy === 'single') return candidates.slice(0, 1);
    if (this.strategy === 'fallback') return candidates;
    return weightedOrder(candidates, this.random);
  }
}

function matchByName(serving: readonly Target[], requested: string): RouteCandidate[] {
  for (const name of nameVariants(requested)) {
    const found: RouteCandidate[] = [];
    for (const t of serving) {
      if (t.model === name || t.models.has(name)) found.push({ target: t, model: name });
      else if (t.aliases.has(name)) found.push({ target: t, model: t.aliases.get(name)! });
    }
    if (found.length > 0) return found;
  }
  return [];
}

/** `openai/gpt-4o` is tried as written first (OpenRouter ids contain slashes), then without the prefix. */
function nameVariants(requested: string): string[] {
  const slash = requested.indexOf('/');
  if (slash > 0 && PROVIDER_SET.has(requested.slice(0, slash))) return [requested, requested.slice(slash + 1)];
  return [requested];
}

function passThroughModel(target: Target, requested: string | undefined): string | undefined {
  if (!requested) return undefined;
  const slash = requested.indexOf('/');
  if (slash > 0 && requested.slice(0, slash) === target.provider) return requested.slice(slash + 1);
  return requested;
}

function weightedOrder(candidates: RouteCandidate[], random: () => number): RouteCandidate[] {
  const pool = candidates.filter((c) => c.target.weight > 0);
  const out: RouteCandidate[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, c) => s + c.target.weight, 0);
    let r = random() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      r -= pool[i]!.target.weight;
      if (r < 0) break;
    }
    out.push(pool.splice(i, 1)[0]!);
  }
  return out;
}

/** Every name a client may ask this target for: its model, its other models, its aliases. */
export function servedNames(t: Target): string[] {
  return [...(t.model ? [t.model] : []), ...t.models, ...t.aliases.keys()];
}

export function modelNames(targets: readonly Target[]): string[] {
  return [...new Set(targets.flatMap(servedNames))];
}

/** The model names a config itself gives (what clients may ask for and what aliases resolve to): metric labels come only from these. */
export function configuredModelNames(targets: readonly Target[]): ReadonlySet<string> {
  return new Set([...modelNames(targets), ...targets.flatMap((t) => [...t.aliases.values()])]);
}

/**
 * Targets that no request can ever reach with this strategy: weight 0 under loadbalance, or, under single,
 * a target whose every model name (or whose wildcard role) an earlier target of the same format already takes.
 */
export function unreachableTargets(targets: readonly Target[], strategy: Strategy): { target: Target; why: string }[] {
  const out: { target: Target; why: string }[] = [];
  targets.forEach((t, i) => {
    if (strategy === 'loadbalance' && t.weight === 0) {
      out.push({ target: t, why: 'its weight is 0 under strategy loadbalance' });
      return;
    }
    if (strategy !== 'single') return;
    const earlier = targets.slice(0, i).filter((e) => e.format === t.format);
    if (earlier.length === 0) return;
    const names = servedNames(t);
    const taken = (n: string) => earlier.some((e) => servedNames(e).includes(n));
    if (names.length === 0) {
      out.push({ target: t, why: `it names no model and strategy single sends unmatched models to "${earlier[0]!.id}"` });
    } else if (names.every(taken)) {
      out.push({ target: t, why: `every model it serves is taken by an earlier target under strategy single` });
    }
  });
  return out;
}
