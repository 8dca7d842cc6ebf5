import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DecisionContext } from '../audit/context.js';

/** More distinct models than this are reported as `other`, so a client cannot grow the label set without bound. */
const MAX_MODELS = 100;

/**
 * Prometheus metrics for one gateway. Labels come only from the config (target ids, policy kinds), from small
 * fixed sets (families, verdicts, HTTP statuses) or from a capped set of model names: never from content,
 * keys or identities.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'family' | 'target' | 'status'>;
  private readonly duration: Histogram<'family'>;
  private readonly overhead: Histogram<'family'>;
  private readonly evaluations: Counter<'kind' | 'phase' | 'verdict'>;
  private readonly tokens: Counter<'direction' | 'model'>;
  private readonly cost: Counter<'model'>;
  private readonly models = new Set<string>();

  constructor(targets: readonly string[], auditStats?: () => { committed: number; spooled: number; queued: number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keeptrusts_process_' });
    const registers = [this.registry];
    this.requests = new Counter({ name: 'keeptrusts_requests_total', help: 'Inference requests by API family, target and HTTP status', labelNames: ['family', 'target', 'status'], registers });
    this.duration = new Histogram({
      name: 'keeptrusts_request_duration_seconds',
      help: 'Time from request to the end of the response',
      labelNames: ['family'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.overhead = new Histogram({
      name: 'keeptrusts_gateway_overhead_seconds',
      help: 'Time the gateway spent before calling the upstream (parsing, input policies, queueing)',
      labelNames: ['family'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    });
    this.evaluations = new Counter({ name: 'keeptrusts_policy_evaluations_total', help: 'Policy evaluations by kind, phase and verdict', labelNames: ['kind', 'phase', 'verdict'], registers });
    this.tokens = new Counter({ name: 'keeptrusts_tokens_total', help: 'Tokens reported by providers, by direction and model', labelNames: ['direction', 'model'], registers });
    this.cost = new Counter({ name: 'keeptrusts_cost_usd_total', help: 'Priced cost in US dollars by model', labelNames: ['model'], registers });
    // Zero series for every configured target, so dashboards show them before the first request.
    for (const t of targets) this.requests.inc({ family: 'chat', target: t, status: '200' }, 0);
    if (auditStats) {
      new Gauge({ name: 'keeptrusts_audit_events_committed', help: 'Decision events committed since start', registers, collect() { this.set(auditStats().committed); } });
      new Gauge({ name: 'keeptrusts_audit_events_spooled', help: 'Decision events spooled to a file because the store failed', registers, collect() { this.set(auditStats().spooled); } });
    }
  }

  observe(ctx: DecisionContext): void {
    const family = ctx.route;
    this.requests.inc({ family, target: ctx.target?.id ?? 'none', status: String(ctx.status || 0) });
    this.duration.observe({ family }, ctx.elapsedMs / 1000);
    if (ctx.upstreamStart !== undefined) this.overhead.observe({ family }, Math.max(0, ctx.upstreamStart - ctx.startedAt) / 1000);
    for (const p of ctx.policyResults) this.evaluations.inc({ kind: p.kind, phase: p.phase, verdict: p.verdict });
    const usage = ctx.usage;
    if (usage) {
      const model = this.modelLabel(ctx.target?.model ?? ctx.modelRequested);
      if (usage.input_tokens) this.tokens.inc({ direction: 'input', model }, usage.input_tokens);
      if (usage.output_tokens) this.tokens.inc({ direction: 'output', model }, usage.output_tokens);
      if (usage.cached_input_tokens) this.tokens.inc({ direction: 'cached_input', model }, usage.cached_input_tokens);
      if (ctx.cost?.total) this.cost.inc({ model }, ctx.cost.total);
    }
  }

  private modelLabel(model: string | null): string {
    if (!model) return 'unknown';
    if (this.models.has(model)) return model;
    if (this.models.size >= MAX_MODELS || !/^[\w.:/@-]{1,100}$/.test(model)) return 'other';
    this.models.add(model);
    return model;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
