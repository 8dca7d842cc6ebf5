import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { catalogue, costOf, normaliseModelId, priceFor, PRICING_AS_OF, type Price } from '../../src/usage/pricing.js';
import type { Usage } from '../../src/usage/types.js';
import { MINIMAL, writeConfigs } from '../helpers/config.js';

function usage(u: Partial<Usage>): Usage {
  return { input_tokens: null, output_tokens: null, cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: false, ...u };
}

const REQUIRED = [
  'gpt-4o',
  'gpt-4o-mini',
  'gpt-4.1',
  'gpt-4.1-mini',
  'gpt-4.1-nano',
  'o1',
  'o3',
  'o3-mini',
  'o4-mini',
  'gpt-5',
  'gpt-5-mini',
  'gpt-5-nano',
  'gpt-5-codex',
  'codex-mini-latest',
  'claude-opus-4-1',
  'claude-opus-4',
  'claude-sonnet-4-5',
  'claude-sonnet-4',
  'claude-3-7-sonnet',
  'claude-3-5-haiku',
  'claude-haiku-4-5',
  'gemini-2.5-pro',
  'gemini-2.5-flash',
  'mistral-large-latest',
  'codestral-latest',
  'deepseek-chat',
  'deepseek-reasoner',
  'grok-4',
  'grok-3',
  'grok-code-fast-1',
];

describe('catalogue', () => {
  it('states its date and covers the six providers and the models coding agents use', () => {
    expect(PRICING_AS_OF).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(new Set(catalogue().map((e) => e.provider))).toEqual(new Set(['openai', 'anthropic', 'google', 'mistral', 'deepseek', 'xai']));
    for (const id of REQUIRED) expect(priceFor(id), id).toBeDefined();
  });

  it('has sane prices: non-negative, cache reads below input, long-context tiers above the base', () => {
    const fields = ['input', 'output', 'cached_input', 'cache_write', 'cache_write_1h', 'reasoning'] as const;
    for (const { model, price } of catalogue()) {
      for (const f of fields) if (price[f] !== undefined) expect(price[f], `${model}.${f}`).toBeGreaterThanOrEqual(0);
      expect(price.output, model).toBeGreaterThan(0);
      if (price.cached_input !== undefined) expect(price.cached_input, model).toBeLessThan(price.input);
      if (price.cache_write !== undefined) expect(price.cache_write, model).toBeGreaterThanOrEqual(price.input);
      const long = price.long_context;
      if (long) {
        for (const f of fields) if (price[f] !== undefined) expect(long.price[f] ?? Infinity, `${model} long ${f}`).toBeGreaterThanOrEqual(price[f] as number);
      }
    }
  });

  it('is documented in docs/usage.md with the same date', () => {
    const doc = readFileSync(new URL('../../docs/usage.md', import.meta.url), 'utf8');
    expect(doc).toContain(`checked on **${PRICING_AS_OF}**`);
    for (const { model } of catalogue()) expect(doc, model).toContain(`| \`${model}\` |`);
  });

  it('is frozen: a caller cannot change a price by mutating what priceFor returned', () => {
    const p = priceFor('gpt-4o') as Price;
    expect(() => {
      (p as { input: number }).input = 0;
    }).toThrow();
    expect(priceFor('gpt-4o')?.input).toBe(2.5);
  });

  it('knows the list prices that matter most for coding agents', () => {
    expect(priceFor('claude-sonnet-4')).toMatchObject({ input: 3, output: 15, cached_input: 0.3, cache_write: 3.75, cache_write_1h: 6 });
    expect(priceFor('claude-opus-4-1')).toMatchObject({ input: 15, output: 75, cached_input: 1.5, cache_write: 18.75 });
    expect(priceFor('claude-haiku-4-5')).toMatchObject({ input: 1, output: 5, cached_input: 0.1, cache_write: 1.25 });
    expect(priceFor('gpt-4.1')).toMatchObject({ input: 2, output: 8, cached_input: 0.5 });
    expect(priceFor('gpt-5')).toMatchObject({ input: 1.25, output: 10, cached_input: 0.125 });
    expect(priceFor('deepseek-chat')).toMatchObject({ input: 0.28, cached_input: 0.028, output: 0.42 });
  });
});

describe('lookup', () => {
  const same = (a: string, b: string) => expect(priceFor(a), `${a} → ${b}`).toBe(priceFor(b));

  it('matches the exact id first: a dated id with its own price keeps it', () => {
    expect(priceFor('gpt-4o-2024-05-13')).toMatchObject({ input: 5, output: 15 });
    expect(priceFor('mistral-large-2411')).toMatchObject({ input: 2, output: 6 });
    expect(priceFor('GPT-4.1-MINI')).toBe(priceFor('gpt-4.1-mini'));
  });

  it('normalises provider prefixes, date, version and -latest suffixes, and Claude dot versions', () => {
    same('openai/gpt-4o', 'gpt-4o');
    same('gpt-4o-2024-08-06', 'gpt-4o');
    same('gpt-4.1-mini-2025-04-14', 'gpt-4.1-mini');
    same('anthropic/claude-sonnet-4-20250514', 'claude-sonnet-4');
    same('claude-sonnet-4-5-20250929', 'claude-sonnet-4-5');
    same('claude-3-5-haiku-latest', 'claude-3-5-haiku');
    same('us.anthropic.claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5');
    same('anthropic.claude-3-7-sonnet-20250219-v1:0', 'claude-3-7-sonnet');
    same('claude-opus-4-1@20250805', 'claude-opus-4-1');
    same('openrouter/anthropic/claude-sonnet-4.5', 'claude-sonnet-4-5');
    same('anthropic/claude-3.7-sonnet', 'claude-3-7-sonnet');
    same('claude-opus-4-8[1m]', 'claude-opus-4-8');
    same('models/gemini-2.5-flash', 'gemini-2.5-flash');
    same('codex-mini-latest', 'codex-mini');
    same('o3-2025-04-16', 'o3');
    expect(normaliseModelId(' OpenAI/GPT-4o-2024-08-06 ')).toBe('gpt-4o');
    expect(normaliseModelId('claude-3-5-haiku-20241022-latest')).toBe('claude-3-5-haiku');
  });

  it('falls back to the longest known prefix', () => {
    same('gemini-2.5-flash-preview-09-2025', 'gemini-2.5-flash');
    same('gemini-2.5-flash-lite-preview-06-17', 'gemini-2.5-flash-lite');
    same('gemini-2.5-pro-preview-05-06', 'gemini-2.5-pro');
    same('grok-4-0709', 'grok-4');
    same('grok-4-fast-reasoning', 'grok-4-fast');
    same('grok-4-1-fast-non-reasoning', 'grok-4-1-fast');
    same('mistral-large-2512', 'mistral-large');
    same('codestral-2508', 'codestral');
    same('o3-mini-high', 'o3-mini');
    same('claude-sonnet-4-20250514-thinking', 'claude-sonnet-4');
  });

  it('does not let a prefix price another version or tier of the model', () => {
    for (const id of ['claude-opus-4-9', 'claude-sonnet-4-7', 'gpt-5.9', 'gpt-5-codex-nano', 'gpt-4o-audio-preview', 'gpt-4o-realtime-preview', 'gpt-4omni', 'grok-4-2-fast', 'o3-deep-research']) {
      expect(priceFor(id), id).toBeUndefined();
    }
  });

  it('unknown, empty and missing models have no price', () => {
    expect(priceFor('totally-unknown-model')).toBeUndefined();
    expect(priceFor('')).toBeUndefined();
    expect(priceFor('   ')).toBeUndefined();
    expect(priceFor(null)).toBeUndefined();
    expect(priceFor(undefined)).toBeUndefined();
  });

  it('gives the same answer from its memo on repeated lookups, also after many distinct names', () => {
    const first = priceFor('gpt-4o-2024-11-20');
    for (let i = 0; i < 3000; i++) priceFor(`client-made-up-${i}`);
    expect(priceFor('gpt-4o-2024-11-20')).toBe(first);
    expect(priceFor('client-made-up-7')).toBeUndefined();
  });
});

describe('overrides from config', () => {
  async function pricingFrom(yaml: string) {
    const { loaded, diagnostics } = await loadConfig(writeConfigs(MINIMAL + yaml));
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    return loaded!.config.pricing?.models;
  }

  it('adds models, replaces catalogue entries wholesale, and goes through the same normalisation', async () => {
    const models = await pricingFrom(
      [
        'pricing:',
        '  models:',
        '    my-gateway-model: {input: 1, output: 2}',
        '    gpt-4o: {input: 2, output: 8, cached_input: 0.5}',
        '    claude-sonnet-4-20250514: {input: 2.4, output: 12}',
        '',
      ].join('\n'),
    );
    expect(models).toBeDefined();
    expect(priceFor('my-gateway-model', models)).toEqual({ input: 1, output: 2 });
    expect(priceFor('openai/my-gateway-model', models)).toEqual({ input: 1, output: 2 });
    expect(priceFor('my-gateway-model', undefined)).toBeUndefined();
    // Replaces the catalogue price, for the plain id and for dated ids that normalise to it.
    expect(priceFor('gpt-4o-2024-08-06', models)).toEqual({ input: 2, output: 8, cached_input: 0.5 });
    // The exact override wins over the catalogue entry its normalised id would reach.
    expect(priceFor('claude-sonnet-4-20250514', models)).toEqual({ input: 2.4, output: 12 });
    expect(priceFor('claude-sonnet-4', models)).toBe(priceFor('claude-sonnet-4'));
    // Everything else still comes from the catalogue.
    expect(priceFor('gpt-4o-mini', models)).toBe(priceFor('gpt-4o-mini'));
    // A replaced entry keeps none of the catalogue's extra rates: cache writes fall back to input.
    const c = costOf(usage({ input_tokens: 1000, cache_write_tokens: 1000, output_tokens: 0 }), priceFor('claude-sonnet-4-20250514', models));
    expect(c.input).toBeCloseTo(0.0024, 10);
  });

  it('accepts an empty pricing section', async () => {
    expect(await pricingFrom('pricing: {}\n')).toEqual({});
    expect(await pricingFrom('')).toBeUndefined();
  });
});

describe('costOf', () => {
  it('is unpriced with null amounts for an unknown model, never $0', () => {
    const c = costOf(usage({ input_tokens: 1000, output_tokens: 100 }), priceFor('no-such-model'));
    expect(c).toEqual({ currency: 'USD', input: null, output: null, total: null, priced: false });
  });

  it('is unpriced when there is no usage to price', () => {
    const p = priceFor('gpt-4o');
    expect(costOf(null, p).priced).toBe(false);
    expect(costOf(usage({}), p)).toEqual({ currency: 'USD', input: null, output: null, total: null, priced: false });
  });

  it('bills cache reads, 5-minute and 1-hour cache writes and fresh input each at their own rate', () => {
    // 10k prompt tokens: 6k read from cache, 2k written (500 of them for an hour), 2k fresh.
    const u = usage({ input_tokens: 10_000, cached_input_tokens: 6_000, cache_write_tokens: 2_000, cache_write_1h_tokens: 500, output_tokens: 1_000 });
    const c = costOf(u, priceFor('claude-sonnet-4'));
    // 2000×3 + 6000×0.30 + 1500×3.75 + 500×6 = 16425 µ$ ; 1000×15 = 15000 µ$
    expect(c).toEqual({ currency: 'USD', input: 0.016425, output: 0.015, total: 0.031425, priced: true });
    // Billing the cached prompt as fresh input (the bug this module exists for) would have cost 0.03 for input.
    expect(costOf(usage({ input_tokens: 10_000, output_tokens: 1_000 }), priceFor('claude-sonnet-4')).input).toBe(0.03);
  });

  it('bills reasoning as output unless the price says otherwise', () => {
    const u = usage({ input_tokens: 1000, cached_input_tokens: 400, output_tokens: 500, reasoning_tokens: 300 });
    expect(costOf(u, priceFor('gpt-5'))).toEqual({ currency: 'USD', input: 0.0008, output: 0.005, total: 0.0058, priced: true });
    const custom: Price = { input: 1, output: 2, reasoning: 5 };
    expect(costOf(usage({ input_tokens: 0, output_tokens: 100, reasoning_tokens: 40 }), custom).output).toBe(0.00032);
  });

  it('falls back to the input rate for cache kinds a price does not list', () => {
    const p: Price = { input: 4, output: 8 };
    const c = costOf(usage({ input_tokens: 1_000_000, cached_input_tokens: 250_000, cache_write_tokens: 250_000, cache_write_1h_tokens: 100_000, output_tokens: 0 }), p);
    expect(c.input).toBe(4);
    const withWrite: Price = { input: 4, output: 8, cache_write: 5 };
    expect(costOf(usage({ input_tokens: 100, cache_write_tokens: 100, cache_write_1h_tokens: 100, output_tokens: 0 }), withWrite).input).toBe(0.0005);
  });

  it('switches to the long-context rate once the prompt passes the threshold', () => {
    const p = priceFor('gemini-2.5-pro');
    expect(costOf(usage({ input_tokens: 200_000, output_tokens: 1000 }), p)).toMatchObject({ input: 0.25, output: 0.01 });
    expect(costOf(usage({ input_tokens: 300_000, output_tokens: 1000 }), p)).toMatchObject({ input: 0.75, output: 0.015 });
    // Cached tokens count towards the prompt size.
    expect(costOf(usage({ input_tokens: 250_000, cached_input_tokens: 200_000, output_tokens: 0 }), p).input).toBe(0.175);
  });

  it('never bills negative amounts for inconsistent counts', () => {
    const c = costOf(usage({ input_tokens: 100, cached_input_tokens: 500, output_tokens: 10, reasoning_tokens: 50 }), priceFor('gpt-4o'));
    expect(c.input).toBe(0.000625);
    expect(c.output).toBe(0.0001);
    expect(costOf(usage({ input_tokens: -5, output_tokens: Number.NaN }), priceFor('gpt-4o'))).toMatchObject({ input: 0, output: 0, total: 0, priced: true });
  });

  it('rounds to 1e-8 USD without float noise', () => {
    expect(costOf(usage({ input_tokens: 1, output_tokens: 0 }), priceFor('gpt-5-nano')).input).toBe(5e-8);
    const c = costOf(usage({ input_tokens: 1, output_tokens: 1 }), { input: 0.1, output: 0.2 });
    expect(c.total).toBe(3e-7);
  });
});

describe('costOf properties', () => {
  const entries = catalogue();
  const priceArb: fc.Arbitrary<Price> = fc.oneof(
    fc.constantFrom(...entries.map((e) => e.price as Price)),
    fc.record(
      {
        input: fc.double({ min: 0, max: 200, noNaN: true }),
        output: fc.double({ min: 0, max: 600, noNaN: true }),
        cached_input: fc.double({ min: 0, max: 200, noNaN: true }),
        cache_write: fc.double({ min: 0, max: 200, noNaN: true }),
        cache_write_1h: fc.double({ min: 0, max: 400, noNaN: true }),
        reasoning: fc.double({ min: 0, max: 600, noNaN: true }),
      },
      { requiredKeys: ['input', 'output'] },
    ),
  );
  const tokens = fc.nat({ max: 2_000_000 });
  const parts = fc.record({ fresh: tokens, cached: tokens, write5m: tokens, write1h: tokens, visible: tokens, reasoning: tokens });
  type Parts = { fresh: number; cached: number; write5m: number; write1h: number; visible: number; reasoning: number };
  const toUsage = (p: Parts): Usage =>
    usage({
      input_tokens: p.fresh + p.cached + p.write5m + p.write1h,
      cached_input_tokens: p.cached,
      cache_write_tokens: p.write5m + p.write1h,
      cache_write_1h_tokens: p.write1h,
      output_tokens: p.visible + p.reasoning,
      reasoning_tokens: p.reasoning,
    });
  const keys = ['fresh', 'cached', 'write5m', 'write1h', 'visible', 'reasoning'] as const;

  it('is never negative, and total = input + output', () => {
    fc.assert(
      fc.property(priceArb, parts, (price, p) => {
        const c = costOf(toUsage(p), price);
        expect(c.priced).toBe(true);
        expect(c.input!).toBeGreaterThanOrEqual(0);
        expect(c.output!).toBeGreaterThanOrEqual(0);
        expect(Math.abs(c.total! - (c.input! + c.output!))).toBeLessThan(1e-8);
      }),
      { numRuns: 500 },
    );
  });

  it('is monotone in each kind of token', () => {
    fc.assert(
      fc.property(priceArb, parts, fc.constantFrom(...keys), fc.integer({ min: 1, max: 500_000 }), (price, p, key, more) => {
        const before = costOf(toUsage(p), price).total!;
        const after = costOf(toUsage({ ...p, [key]: p[key] + more }), price).total!;
        expect(after).toBeGreaterThanOrEqual(before);
      }),
      { numRuns: 1000 },
    );
  });
});
