import { describe, expect, it } from 'vitest';
import { DecisionContext } from '../../src/audit/context.js';
import { GatewayMetrics } from '../../src/gateway/metrics.js';
import { usageFromBody } from '../../src/usage/meter.js';
import { auditSettings } from '../helpers/events.js';

function request(status: number, verdict: 'allow' | 'block', tokens?: { prompt: number; completion: number }): DecisionContext {
  const ctx = new DecisionContext(auditSettings(), 'req', 'chat', {});
  const results = [
    { kind: 'pii-detector', phase: 'input' as const, verdict: 'allow' as const, findings: [], durationUs: 1 },
    { kind: 'prompt-injection', phase: 'input' as const, verdict, findings: [], durationUs: 1 },
  ];
  ctx.addOutcome('input', { verdict, results, edits: [] } as never, []);
  ctx.status = status;
  if (tokens) {
    ctx.target = { id: 'o', model: 'gpt-4o', provider: 'openai' };
    ctx.usage = usageFromBody('chat', { usage: { prompt_tokens: tokens.prompt, completion_tokens: tokens.completion } });
    ctx.cost = { currency: 'USD', input: 0.001, output: 0.002, total: 0.003, priced: true };
  }
  return ctx;
}

const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);

describe('gateway metrics', () => {
  it('counts every request, evaluation, token and dollar once, however often Prometheus scrapes', async () => {
    const metrics = new GatewayMetrics(['o', 'p']);
    for (const ctx of [request(200, 'allow', { prompt: 100, completion: 20 }), request(200, 'allow', { prompt: 50, completion: 5 }), request(409, 'block')]) metrics.observe(ctx);
    for (let scrape = 0; scrape < 2; scrape++) {
      const text = (await metrics.render()).body;
      expect(value(text, 'keeptrusts_requests_total{family="chat",target="o",status="200"}')).toBe(2);
      expect(value(text, 'keeptrusts_requests_total{family="chat",target="none",status="409"}')).toBe(1);
      expect(value(text, 'keeptrusts_requests_total{family="chat",target="p",status="200"}')).toBe(0);
      expect(value(text, 'keeptrusts_policy_evaluations_total{kind="pii-detector",phase="input",verdict="allow"}')).toBe(3);
      expect(value(text, 'keeptrusts_policy_evaluations_total{kind="prompt-injection",phase="input",verdict="block"}')).toBe(1);
      expect(value(text, 'keeptrusts_tokens_total{direction="input",model="gpt-4o"}')).toBe(150);
      expect(value(text, 'keeptrusts_tokens_total{direction="output",model="gpt-4o"}')).toBe(25);
      expect(value(text, 'keeptrusts_cost_usd_total{model="gpt-4o"}')).toBeCloseTo(0.006, 9);
      expect(value(text, 'keeptrusts_request_duration_seconds_count{family="chat"}')).toBe(3);
    }
    metrics.observe(request(200, 'allow', { prompt: 1, completion: 1 }));
    const text = (await metrics.render()).body;
    expect(value(text, 'keeptrusts_requests_total{family="chat",target="o",status="200"}')).toBe(3);
    expect(value(text, 'keeptrusts_policy_evaluations_total{kind="pii-detector",phase="input",verdict="allow"}')).toBe(4);
    expect(value(text, 'keeptrusts_tokens_total{direction="input",model="gpt-4o"}')).toBe(151);
  });

  it('keeps the histograms of each family and the series of each failed try apart', async () => {
    const metrics = new GatewayMetrics(['o']);
    const messages = new DecisionContext(auditSettings(), 'req', 'messages', {});
    messages.upstreamStart = messages.startedAt + 2;
    messages.attempts.push({ latency_ms: 1, outcome: 'status', status: 529, target: 'o' }, { latency_ms: 1, outcome: 'answered', status: 200, target: 'o' });
    const chat = request(200, 'allow');
    chat.upstreamStart = chat.startedAt + 1;
    chat.attempts.push({ latency_ms: 1, outcome: 'reset', status: null, target: 'o' }, { latency_ms: 1, outcome: 'status', status: 503, target: 'o' });
    for (const ctx of [messages, chat, request(200, 'allow')]) metrics.observe(ctx);
    const text = (await metrics.render()).body;
    expect(value(text, 'keeptrusts_request_duration_seconds_count{family="chat"}')).toBe(2);
    expect(value(text, 'keeptrusts_request_duration_seconds_count{family="messages"}')).toBe(1);
    expect(value(text, 'keeptrusts_gateway_overhead_seconds_count{family="chat"}')).toBe(1);
    expect(value(text, 'keeptrusts_gateway_overhead_seconds_sum{family="messages"}')).toBeCloseTo(0.002, 9);
    expect(value(text, 'keeptrusts_gateway_overhead_seconds_bucket{le="0.0025",family="messages"}')).toBe(1);
    expect(value(text, 'keeptrusts_upstream_failed_attempts_total{target="o",outcome="status"}')).toBe(2);
    expect(value(text, 'keeptrusts_upstream_failed_attempts_total{target="o",outcome="reset"}')).toBe(1);
    expect(text).not.toContain('outcome="answered"');
  });
});
