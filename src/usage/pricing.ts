import type { Cost, ModelPrice, Usage } from './types.js';

/**
 * List prices of the models coding agents use, in USD per one million tokens, and the cost of one request.
 *
 * Usage semantics (the same in every family once `usageFromBody` / `StreamMeter` have normalised it):
 * - `input_tokens`: every prompt token, INCLUDING the ones read from and written to the prompt cache;
 * - `cached_input_tokens`: of those, read from the cache;
 * - `cache_write_tokens`: of those, written to the cache (`cache_write_1h_tokens`: of those, with the 1-hour TTL);
 * - `output_tokens`: every generated token, INCLUDING reasoning/thinking;
 * - `reasoning_tokens`: of those, reasoning.
 * So fresh input = input − cached − cache writes, and visible output = output − reasoning. Anthropic reports
 * `input_tokens` without the cache tokens; OpenAI includes them. Normalising to one meaning is what stops a
 * cached prompt from being billed as fresh input (or a cache write at the read price).
 *
 * Cost = fresh × input + cached × (cached_input ?? input) + 5-minute writes × (cache_write ?? input)
 *      + 1-hour writes × (cache_write_1h ?? cache_write ?? input)
 *      + (output − reasoning) × output + reasoning × (reasoning ?? output)
 * A missing rate falls back to the one a provider would charge instead, never to 0.
 */

/** The date the catalogue below was last checked against the providers' published list prices. */
export const PRICING_AS_OF = '2026-11-27';

/** A model's prices; `ModelPrice` plus what only some providers charge. */
export interface Price extends ModelPrice {
  /** Writing to the prompt cache with the 1-hour TTL (Anthropic `ephemeral_1h_input_tokens`). */
  cache_write_1h?: number;
  /**
   * Long-context pricing: once a request's prompt (input_tokens, cache included) exceeds `above_input_tokens`,
   * the provider bills the whole request at `price` (Gemini Pro, GPT-5.4/5.5, Sonnet 4/4.5 with 1M context, Grok 4).
   */
  long_context?: { above_input_tokens: number; price: Omit<Price, 'long_context'> };
}

export type Provider = 'openai' | 'anthropic' | 'google' | 'mistral' | 'deepseek' | 'xai';

/** Config `pricing.models`: model id → price. These replace a catalogue entry of the same id entirely. */
export type PriceOverrides = Readonly<Record<string, Price>>;

// ---- The catalogue ----------------------------------------------------------------------------------------------
// Keys are normalised ids (see normaliseModelId): lower case, no provider prefix, no date or `-latest` suffix.
// Sources: each provider's pricing page as published on or before PRICING_AS_OF (OpenAI developers pricing,
// platform.claude.com pricing and model pages, ai.google.dev pricing, api-docs.deepseek.com, docs.x.ai, Mistral).
// Batch, flex/priority tiers, Anthropic fast mode, Gemini cache storage per hour and per-call tool fees are not
// modelled: the gateway sees interactive requests, and those are the prices that apply to them.

const LONG_272K = 272_000;
const LONG_200K = 200_000;

const OPENAI: Record<string, Price> = {
  'gpt-4o': { input: 2.5, cached_input: 1.25, output: 10 },
  'gpt-4o-2024-05-13': { input: 5, output: 15 },
  'chatgpt-4o': { input: 5, output: 15 },
  'gpt-4o-mini': { input: 0.15, cached_input: 0.075, output: 0.6 },
  'gpt-4.1': { input: 2, cached_input: 0.5, output: 8 },
  'gpt-4.1-mini': { input: 0.4, cached_input: 0.1, output: 1.6 },
  'gpt-4.1-nano': { input: 0.1, cached_input: 0.025, output: 0.4 },
  'gpt-4.5-preview': { input: 75, cached_input: 37.5, output: 150 },
  o1: { input: 15, cached_input: 7.5, output: 60 },
  'o1-mini': { input: 1.1, cached_input: 0.55, output: 4.4 },
  'o1-pro': { input: 150, output: 600 },
  o3: { input: 2, cached_input: 0.5, output: 8 },
  'o3-pro': { input: 20, output: 80 },
  'o3-mini': { input: 1.1, cached_input: 0.55, output: 4.4 },
  'o4-mini': { input: 1.1, cached_input: 0.275, output: 4.4 },
  'codex-mini': { input: 1.5, cached_input: 0.375, output: 6 },
  'gpt-5': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-chat': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-codex': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5-codex-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5-nano': { input: 0.05, cached_input: 0.005, output: 0.4 },
  'gpt-5-pro': { input: 15, output: 120 },
  'gpt-5.1': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-chat': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-codex': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-codex-max': { input: 1.25, cached_input: 0.125, output: 10 },
  'gpt-5.1-codex-mini': { input: 0.25, cached_input: 0.025, output: 2 },
  'gpt-5.2': { input: 1.75, cached_input: 0.175, output: 14 },
  'gpt-5.2-chat': { input: 1.75, cached_input: 0.175, output: 14 },
  'gpt-5.2-codex': { input: 1.75, cached_input: 0.175, output: 14 },
  'gpt-5.2-pro': { input: 21, output: 168 },
  'gpt-5.3-codex': { input: 1.75, cached_input: 0.175, output: 14 },
  'gpt-5.4': {
    input: 2.5,
    cached_input: 0.25,
    output: 15,
    long_context: { above_input_tokens: LONG_272K, price: { input: 5, cached_input: 0.5, output: 22.5 } },
  },
  'gpt-5.4-mini': { input: 0.75, cached_input: 0.075, output: 4.5 },
  'gpt-5.4-nano': { input: 0.2, cached_input: 0.02, output: 1.25 },
  'gpt-5.5': {
    input: 5,
    cached_input: 0.5,
    output: 30,
    long_context: { above_input_tokens: LONG_272K, price: { input: 10, cached_input: 1, output: 45 } },
  },
  // The GPT-5.6 family is the first from OpenAI to charge for cache writes.
  'gpt-5.6-luna': {
    input: 0.2,
    cached_input: 0.02,
    cache_write: 0.25,
    output: 1.2,
    long_context: { above_input_tokens: LONG_200K, price: { input: 0.4, cached_input: 0.04, cache_write: 0.5, output: 1.8 } },
  },
  'gpt-5.6-terra': {
    input: 2,
    cached_input: 0.2,
    cache_write: 2.5,
    output: 12,
    long_context: { above_input_tokens: LONG_272K, price: { input: 4, cached_input: 0.4, cache_write: 5, output: 18 } },
  },
  'gpt-5.6-sol': {
    input: 5,
    cached_input: 0.5,
    cache_write: 6.25,
    output: 30,
    long_context: { above_input_tokens: LONG_272K, price: { input: 10, cached_input: 1, cache_write: 12.5, output: 45 } },
  },
};

/** Anthropic's cache rates are multiples of input: read 0.1×, 5-minute write 1.25×, 1-hour write 2× (unless listed otherwise). */
function claude(input: number, output: number, read = input * 0.1): Price {
  return { input, output, cached_input: round6(read), cache_write: round6(input * 1.25), cache_write_1h: round6(input * 2) };
}

const SONNET_4_LONG: Price['long_context'] = {
  above_input_tokens: LONG_200K,
  price: { input: 6, cached_input: 0.6, cache_write: 7.5, cache_write_1h: 12, output: 22.5 },
};

const ANTHROPIC: Record<string, Price> = {
  'claude-fable-5-1': claude(10, 50, 0.25),
  'claude-mythos-5-1': claude(10, 50, 0.25),
  'claude-fable-5': claude(10, 50),
  'claude-mythos-5': claude(10, 50),
  'claude-opus-5-5': claude(4, 20, 0.2),
  'claude-opus-5': claude(5, 25),
  'claude-opus-4-8': claude(5, 25),
  'claude-opus-4-7': claude(5, 25),
  'claude-opus-4-6': claude(5, 25),
  'claude-opus-4-5': claude(5, 25),
  'claude-opus-4-1': claude(15, 75),
  'claude-opus-4': claude(15, 75),
  'claude-3-opus': claude(15, 75),
  'claude-sonnet-5-5': claude(2, 10),
  'claude-sonnet-5': claude(2, 10),
  'claude-sonnet-4-6': claude(3, 15),
  'claude-sonnet-4-5': { ...claude(3, 15), long_context: SONNET_4_LONG },
  'claude-sonnet-4': { ...claude(3, 15), long_context: SONNET_4_LONG },
  'claude-3-7-sonnet': claude(3, 15),
  'claude-3-5-sonnet': claude(3, 15),
  'claude-haiku-5-5': {
    ...claude(0.1, 0.5),
    long_context: { above_input_tokens: 100_000, price: claude(0.5, 2.5) },
  },
  'claude-haiku-4-5': claude(1, 5),
  'claude-3-5-haiku': claude(0.8, 4),
  'claude-3-haiku': { input: 0.25, output: 1.25, cached_input: 0.03, cache_write: 0.3, cache_write_1h: 0.5 },
};

const GEMINI_3_PRO: Price = {
  input: 2,
  cached_input: 0.2,
  output: 12,
  long_context: { above_input_tokens: LONG_200K, price: { input: 4, cached_input: 0.4, output: 18 } },
};

const GOOGLE: Record<string, Price> = {
  'gemini-2.5-pro': {
    input: 1.25,
    cached_input: 0.125,
    output: 10,
    long_context: { above_input_tokens: LONG_200K, price: { input: 2.5, cached_input: 0.25, output: 15 } },
  },
  'gemini-2.5-flash': { input: 0.3, cached_input: 0.03, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, cached_input: 0.01, output: 0.4 },
  'gemini-2.0-flash': { input: 0.1, cached_input: 0.025, output: 0.4 },
  'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
  'gemini-3-pro': GEMINI_3_PRO,
  'gemini-3.1-pro': GEMINI_3_PRO,
  'gemini-3.5-flash': { input: 1.5, cached_input: 0.15, output: 9 },
};

const MISTRAL: Record<string, Price> = {
  // `mistral-large-latest` is Mistral Large 3 (2512); the older dated versions cost four times as much.
  'mistral-large': { input: 0.5, output: 1.5 },
  'mistral-large-2411': { input: 2, output: 6 },
  'mistral-large-2407': { input: 2, output: 6 },
  'mistral-medium-2505': { input: 0.4, output: 2 },
  'mistral-medium-2508': { input: 0.4, output: 2 },
  'mistral-small': { input: 0.1, output: 0.3 },
  codestral: { input: 0.3, output: 0.9 },
  'devstral-2512': { input: 0.4, output: 2 },
  'devstral-medium': { input: 0.4, output: 2 },
  'devstral-small': { input: 0.1, output: 0.3 },
};

const DEEPSEEK: Record<string, Price> = {
  // Both names serve DeepSeek-V3.2 (non-thinking / thinking) at one price; "cache hit" is cached_input.
  'deepseek-chat': { input: 0.28, cached_input: 0.028, output: 0.42 },
  'deepseek-reasoner': { input: 0.28, cached_input: 0.028, output: 0.42 },
};

const GROK_4_5: Price = {
  input: 2,
  cached_input: 0.5,
  output: 6,
  long_context: { above_input_tokens: LONG_200K, price: { input: 4, cached_input: 1, output: 12 } },
};
const GROK_FAST: Price = {
  input: 0.2,
  cached_input: 0.05,
  output: 0.5,
  long_context: { above_input_tokens: 128_000, price: { input: 0.4, cached_input: 0.05, output: 1 } },
};

const XAI: Record<string, Price> = {
  'grok-4.7': GROK_4_5,
  'grok-4.6': GROK_4_5,
  'grok-4.5': GROK_4_5,
  'grok-4.3': { input: 1.25, output: 2.5 },
  'grok-4': {
    input: 3,
    cached_input: 0.75,
    output: 15,
    long_context: { above_input_tokens: 128_000, price: { input: 6, cached_input: 1.5, output: 30 } },
  },
  'grok-4-fast': GROK_FAST,
  'grok-4-1-fast': GROK_FAST,
  'grok-3': { input: 3, cached_input: 0.75, output: 15 },
  'grok-3-mini': { input: 0.3, cached_input: 0.075, output: 0.5 },
  'grok-code-fast': { input: 0.2, cached_input: 0.02, output: 1.5 },
  'grok-code-fast-1': { input: 0.2, cached_input: 0.02, output: 1.5 },
};

const BY_PROVIDER: Record<Provider, Record<string, Price>> = {
  openai: OPENAI,
  anthropic: ANTHROPIC,
  google: GOOGLE,
  mistral: MISTRAL,
  deepseek: DEEPSEEK,
  xai: XAI,
};

const CATALOGUE = new Map<string, Price>();
for (const table of Object.values(BY_PROVIDER)) {
  for (const [id, price] of Object.entries(table)) CATALOGUE.set(id, deepFreeze(price));
}

/**
 * The catalogue's own id for `model` when the catalogue (or `overrides`) names it exactly or after
 * normalisation, else undefined. Unlike priceFor, no prefix match: the answer is always one of a fixed set of
 * names, safe as a metric label whatever the client sent.
 */
export function catalogueId(model: string, overrides?: PriceOverrides): string | undefined {
  const book = bookFor(overrides);
  const exact = model.trim().toLowerCase();
  if (book.table.has(exact)) return exact;
  const normalised = normaliseModelId(model);
  return book.table.has(normalised) ? normalised : undefined;
}

/** Every catalogue entry, for listings and docs. */
export function catalogue(): Array<{ provider: Provider; model: string; price: Readonly<Price> }> {
  const out: Array<{ provider: Provider; model: string; price: Readonly<Price> }> = [];
  for (const [provider, table] of Object.entries(BY_PROVIDER) as Array<[Provider, Record<string, Price>]>) {
    for (const model of Object.keys(table)) out.push({ provider, model, price: CATALOGUE.get(model) as Price });
  }
  return out;
}

// ---- Lookup -----------------------------------------------------------------------------------------------------

const BEDROCK_PREFIX = /^(?:(?:us|eu|apac|au|jp|ca|global|us-gov)\.)?(?:anthropic|openai|mistral|deepseek|xai|google|meta|amazon|cohere|ai21|qwen|moonshot)\./;
const DATE_SUFFIX = /-(?:\d{8}|\d{4}-\d{2}-\d{2})$/;

/**
 * The id a client or provider used, reduced to a catalogue key: lower case; without `[1m]`-style tags; without
 * routing prefixes (`openai/`, `openrouter/anthropic/`, `models/`, Bedrock's `us.anthropic.`); without Vertex
 * `@date`, Bedrock `-v1:0`, `-latest` and date suffixes (`-20250514`, `-2024-08-06`); Claude versions with dashes
 * (`claude-sonnet-4.5` → `claude-sonnet-4-5`, as OpenRouter spells them).
 */
export function normaliseModelId(model: string): string {
  let s = model.trim().toLowerCase().replace(/\[[^\]]*\]$/, '');
  s = s.slice(s.lastIndexOf('/') + 1);
  s = s.replace(BEDROCK_PREFIX, '');
  const at = s.indexOf('@');
  if (at > 0) s = s.slice(0, at);
  s = s.replace(/-v\d+(?::\d+)?$/, '');
  for (let prev = ''; prev !== s; ) {
    prev = s;
    s = s.replace(/-latest$/, '').replace(DATE_SUFFIX, '');
  }
  if (s.startsWith('claude-')) s = s.replace(/(\d)\.(\d)/g, '$1-$2');
  return s;
}

/**
 * A known prefix stands for the model only when what follows is not another model: not a version number
 * (`claude-opus-4` must not price `claude-opus-4-8`, `gpt-5` not `gpt-5.5`) and not a different tier or
 * modality (`gpt-5-codex` must not price `gpt-5-codex-mini`). Unknown is honest; a wrong price is not.
 */
const VERSION_NEXT = /^-\d{1,2}(?!\d)/;
const OTHER_MODEL_WORD =
  /(?:^|-)(?:mini|nano|lite|small|medium|large|fast|pro|max|turbo|flash|haiku|sonnet|opus|plus|ultra|codex|chat|vision|audio|realtime|search|research|image|tts|transcribe|embed|embedding|instruct|luna|sol|terra)(?=-|$)/;

function prefixAllows(rest: string): boolean {
  return rest.startsWith('-') && !VERSION_NEXT.test(rest) && !OTHER_MODEL_WORD.test(rest);
}

interface Book {
  table: Map<string, Price>;
  memo: Map<string, Price | null>;
}

const MEMO_LIMIT = 2048;
const defaultBook: Book = { table: CATALOGUE, memo: new Map() };
const booksByOverrides = new WeakMap<object, Book>();

function bookFor(overrides: PriceOverrides | undefined): Book {
  if (!overrides || Object.keys(overrides).length === 0) return defaultBook;
  let book = booksByOverrides.get(overrides);
  if (!book) {
    const table = new Map(CATALOGUE);
    for (const [id, price] of Object.entries(overrides)) table.set(id.trim().toLowerCase(), price);
    book = { table, memo: new Map() };
    booksByOverrides.set(overrides, book);
  }
  return book;
}

/**
 * The price of `model`: the exact id first, then its normalised id, then the longest known prefix of that
 * (`gemini-2.5-flash-preview-09-2025` → `gemini-2.5-flash`). `overrides` (config `pricing.models`) win over the
 * catalogue at each step. Unknown → undefined, which `costOf` turns into an unpriced cost, never $0.
 */
export function priceFor(model: string | null | undefined, overrides?: PriceOverrides): Price | undefined {
  if (typeof model !== 'string' || model.trim() === '') return undefined;
  const book = bookFor(overrides);
  const memoed = book.memo.get(model);
  if (memoed !== undefined) return memoed ?? undefined;
  const found = lookup(model, book.table);
  // Model names come from clients: bound the memo so arbitrary names cannot grow it without end.
  if (book.memo.size >= MEMO_LIMIT) book.memo.clear();
  book.memo.set(model, found ?? null);
  return found;
}

function lookup(model: string, table: Map<string, Price>): Price | undefined {
  const raw = model.trim().toLowerCase();
  const exact = table.get(raw);
  if (exact) return exact;
  const id = normaliseModelId(raw);
  const normal = table.get(id);
  if (normal) return normal;
  let best: string | undefined;
  for (const key of table.keys()) {
    if (key.length < id.length && id.startsWith(key) && (best === undefined || key.length > best.length) && prefixAllows(id.slice(key.length))) best = key;
  }
  return best === undefined ? undefined : table.get(best);
}

// ---- Cost -------------------------------------------------------------------------------------------------------

/** Cost fields are rounded to 1e-8 USD: below any provider's billing unit, and free of float noise like 0.30000000000000004. */
function round8(n: number): number {
  return Math.round(n * 1e8) / 1e8;
}

/**
 * A sum of costs as reported: each cost is a whole number of 1e-8 USD, so rounding the sum to that unit loses
 * nothing and drops the float noise of adding them (0.0007750000000000001).
 */
export function roundUsd(n: number): number {
  return round8(n);
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

const UNPRICED: Cost = Object.freeze({ currency: 'USD', input: null, output: null, priced: false, total: null });

/**
 * What a request cost, from normalised usage and a price. No price, or no token counts at all, gives
 * `priced: false` with null amounts: an unknown cost must never read as $0 in a spend report.
 */
export function costOf(usage: Usage | null | undefined, price: Price | ModelPrice | undefined): Cost {
  if (!price || !usage || (usage.input_tokens === null && usage.output_tokens === null)) return { ...UNPRICED };
  const n = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);
  const input = n(usage.input_tokens);
  const long = (price as Price).long_context;
  const p: Omit<Price, 'long_context'> = long && input > long.above_input_tokens ? long.price : price;

  const cached = n(usage.cached_input_tokens);
  const writes = n(usage.cache_write_tokens);
  const writes1h = Math.min(n(usage.cache_write_1h_tokens), writes);
  const fresh = Math.max(0, input - cached - writes);
  const output = n(usage.output_tokens);
  const reasoning = Math.min(n(usage.reasoning_tokens), output);

  const writeRate = p.cache_write ?? p.input;
  const inputUsd =
    (fresh * p.input + cached * (p.cached_input ?? p.input) + (writes - writes1h) * writeRate + writes1h * (p.cache_write_1h ?? writeRate)) / 1e6;
  const outputUsd = ((output - reasoning) * p.output + reasoning * (p.reasoning ?? p.output)) / 1e6;
  const inRounded = round8(inputUsd);
  const outRounded = round8(outputUsd);
  return { currency: 'USD', input: inRounded, output: outRounded, priced: true, total: round8(inRounded + outRounded) };
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) deepFreeze(v as object);
  return Object.freeze(o);
}
