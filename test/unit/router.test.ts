import { describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/schema.js';
import { resolveTarget, Router, upstreamPath, unreachableTargets } from '../../src/providers/targets.js';
import { matchRoute } from '../../src/gateway/routes.js';
import { parseListen } from '../../src/gateway/listen.js';

const target = (t: Record<string, unknown>) => resolveTarget(targetSchema.parse(t));

describe('routing a request to a target', () => {
  const gpt = target({ id: 'gpt', provider: 'openai', model: 'gpt-4o', models: ['gpt-4o-2024-08-06'], aliases: { smart: 'gpt-4o' } });
  const mini = target({ id: 'mini', provider: 'openai', model: 'gpt-4o-mini' });
  const claude = target({ id: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-20250514' });

  it('matches the model name, an alias (sent upstream as the real model), and a provider prefix', () => {
    const r = new Router([gpt, mini, claude], 'single');
    expect(r.route('chat', 'gpt-4o-2024-08-06')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'gpt-4o-2024-08-06' }] });
    expect(r.route('chat', 'gpt-4o-mini')).toMatchObject({ ok: true, candidates: [{ target: { id: 'mini' }, model: 'gpt-4o-mini' }] });
    expect(r.route('chat', 'smart')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'gpt-4o' }] });
    expect(r.route('chat', 'openai/gpt-4o')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'gpt-4o' }] });
    expect(r.route('messages', 'claude-sonnet-4-20250514')).toMatchObject({ ok: true, candidates: [{ target: { id: 'claude' } }] });
  });

  it('under single, forwards an unknown model unchanged to the first target of the right format', () => {
    const r = new Router([gpt, claude], 'single');
    expect(r.route('chat', 'o3')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'o3' }] });
    expect(r.route('messages', 'claude-opus-5-5')).toMatchObject({ ok: true, candidates: [{ target: { id: 'claude' }, model: 'claude-opus-5-5' }] });
  });

  it('reports a family no target serves, and an unknown model under fallback', () => {
    expect(new Router([claude], 'single').route('count_tokens', 'gpt-4o')).toMatchObject({ ok: true });
    expect(new Router([{ ...gpt, format: 'responses' }], 'single').route('messages', 'gpt-4o')).toMatchObject({ ok: false, reason: 'no_target_for_family' });
    expect(new Router([gpt], 'single').route('count_tokens', 'gpt-4o')).toMatchObject({ ok: false, reason: 'no_target_for_family' });
    const r = new Router([gpt, mini], 'fallback');
    expect(r.route('chat', 'o3')).toMatchObject({ ok: false, reason: 'model_not_found', known: ['gpt-4o', 'gpt-4o-2024-08-06', 'smart', 'gpt-4o-mini'] });
  });

  it('serves a Responses client from an Anthropic target and from a chat-only target through translation; a target of format openai natively', () => {
    const chatOnly = { ...gpt, id: 'local', format: 'chat' as const };
    expect(new Router([claude], 'single').route('responses', 'claude-sonnet-4-20250514')).toMatchObject({ ok: true, candidates: [{ target: { id: 'claude' } }] });
    expect(new Router([chatOnly], 'single').route('responses', 'gpt-4o')).toMatchObject({ ok: true, candidates: [{ target: { id: 'local' } }] });
    // Unmatched: the target that speaks Responses itself keeps the request.
    expect(new Router([chatOnly, { ...gpt, model: undefined, models: new Set<string>(), aliases: new Map() }], 'fallback').route('responses', 'other')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' } }] });
  });

  it('reaches a target of another format through a translator: by model name, or when no native target takes the request', () => {
    // Named: the client is pointed at the other format by the model it asks for.
    expect(new Router([gpt, claude], 'single').route('chat', 'claude-sonnet-4-20250514')).toMatchObject({ ok: true, candidates: [{ target: { id: 'claude' }, model: 'claude-sonnet-4-20250514' }] });
    expect(new Router([claude, gpt], 'fallback').route('messages', 'smart')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'gpt-4o' }] });
    // Unmatched: a native target keeps the request, whatever the order.
    expect(new Router([claude, gpt], 'single').route('chat', 'o3')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'o3' }] });
    // Only a translated target: it serves, with its own model (Claude Code's model name means nothing to OpenAI).
    expect(new Router([gpt], 'single').route('messages', 'claude-sonnet-4-5')).toMatchObject({ ok: true, candidates: [{ target: { id: 'gpt' }, model: 'gpt-4o' }] });
    const anyClaude = target({ id: 'any', provider: 'anthropic' });
    expect(new Router([anyClaude], 'fallback').route('chat', 'claude-opus-4')).toMatchObject({ ok: true, candidates: [{ target: { id: 'any' }, model: 'claude-opus-4' }] });
    // No translator for the pair: not reachable.
    const responsesOnly = target({ id: 'r', provider: 'openai-compatible', format: 'responses', base_url: 'http://x/v1', model: 'm' });
    expect(new Router([responsesOnly], 'single').route('messages', 'm')).toMatchObject({ ok: false, reason: 'no_target_for_family' });
  });

  it('orders fallback targets as configured and loadbalance targets by weight', () => {
    const a = target({ id: 'a', provider: 'openai', model: 'm', weight: 3 });
    const b = target({ id: 'b', provider: 'groq', model: 'm', weight: 1 });
    const z = target({ id: 'z', provider: 'groq', model: 'm', weight: 0 });
    expect(new Router([a, b], 'fallback').route('chat', 'm')).toMatchObject({ candidates: [{ target: { id: 'a' } }, { target: { id: 'b' } }] });
    const counts = { a: 0, b: 0 };
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const lb = new Router([a, b, z], 'loadbalance', random);
    for (let i = 0; i < 4000; i++) {
      const r = lb.route('chat', 'm');
      if (!r.ok) throw new Error('no route');
      expect(r.candidates).toHaveLength(2); // weight 0 never chosen
      counts[r.candidates[0]!.target.id as 'a' | 'b']++;
    }
    expect(counts.a / 4000).toBeGreaterThan(0.7);
    expect(counts.a / 4000).toBeLessThan(0.8);
  });

  it('finds targets that can never be reached', () => {
    const dup = target({ id: 'dup', provider: 'openai', model: 'gpt-4o' });
    expect(unreachableTargets([gpt, dup, claude], 'single').map((u) => u.target.id)).toEqual(['dup']);
    expect(unreachableTargets([gpt, dup], 'fallback')).toEqual([]);
  });

  it('builds upstream paths from base URLs the way each SDK does', () => {
    expect(upstreamPath(gpt, 'chat')).toBe('/v1/chat/completions');
    expect(upstreamPath(claude, 'messages')).toBe('/v1/messages');
    expect(upstreamPath(target({ id: 'x', provider: 'anthropic', base_url: 'https://proxy.example/anthropic/v1' }), 'count_tokens')).toBe('/anthropic/v1/messages/count_tokens');
    const azure = target({ id: 'az', provider: 'azure-openai', base_url: 'https://r.openai.azure.com/openai/deployments/gpt4o?api-version=2024-10-21' });
    expect(upstreamPath(azure, 'chat')).toBe('/openai/deployments/gpt4o/chat/completions');
    expect(azure.baseQuery.get('api-version')).toBe('2024-10-21');
    expect(azure.apiKeyHeader).toBe('api-key');
  });
});

describe('matching request paths', () => {
  it.each([
    ['/v1/chat/completions', 'chat'],
    ['/chat/completions', 'chat'],
    ['/v1/responses', 'responses'],
    ['/v1/messages', 'messages'],
    ['/gw/anthropic/v1/messages', 'messages'],
    ['/v1/messages/count_tokens', 'count_tokens'],
    ['/v1/chat/completions/', 'chat'],
  ])('%s → %s', (path, family) => {
    expect(matchRoute(path)).toEqual({ kind: 'inference', family });
  });

  it('matches models, health and unknown routes', () => {
    expect(matchRoute('/v1/models')).toEqual({ kind: 'models' });
    expect(matchRoute('/v1/models/anthropic%2Fclaude')).toEqual({ kind: 'models', id: 'anthropic/claude' });
    expect(matchRoute('/health')).toEqual({ kind: 'health' });
    expect(matchRoute('/v1/embeddingz')).toEqual({ kind: 'unknown' });
  });
});

describe('--listen', () => {
  it('parses host:port forms and rejects bad ports', () => {
    expect(parseListen('127.0.0.1:41002')).toEqual({ host: '127.0.0.1', port: 41002 });
    expect(parseListen('0.0.0.0:8080')).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(parseListen('[::1]:9')).toEqual({ host: '::1', port: 9 });
    expect(parseListen('41003')).toEqual({ host: '127.0.0.1', port: 41003 });
    expect(() => parseListen('localhost:99999')).toThrow(/port from 0 to 65535/);
  });
});
