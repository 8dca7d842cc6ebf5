import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DecisionContext } from '../audit/context.js';
import { catalogueId } from '../usage/pricing.js';
import type { RefusalReason } from './request-guard.js';
import type { IngestStatus } from '../audit/ingest-monitor.js';
import type { ExportStats } from '../audit/export/exporter.js';
import type { BreakerState } from '../providers/breaker.js';

/** The circuit breakers' states by target id, read when Prometheus scrapes. */
export type BreakerStates = () => Iterable<readonly [string, BreakerState]>;
const STATE_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };


/** One level of a Tally's series per label, the last level holding the series. */
type TallyLevel<L extends string> = Map<string, TallyLevel<L> | TallySeries<L>>;
interface TallySeries<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/**
 * Counter increments gathered in plain maps and handed to prom-client when Prometheus scrapes. prom-client
 * validates and hashes the label set on every `inc` (a few tenths of a µs each), and a request made about
 * eighteen of them, one per policy evaluation among them; here a request costs a map lookup per label value
 * and series, with no key string or label object made unless the series is new.
 */
class Tally<L extends string> {
  private readonly root: TallyLevel<L> = new Map();
  private readonly series: Array<TallySeries<L>> = [];

  /** `names`: the counter's label names, in the order `add` takes their values (one to three). */
  constructor(
    private readonly counter: Counter<L>,
    private readonly names: readonly L[],
  ) {}

  add(value: number, a: string, b?: string, c?: string): void {
    const depth = this.names.length;
    let level = this.root;
    for (let i = 0; i < depth - 1; i++) {
      const key = i === 0 ? a : b!;
      let next = level.get(key) as TallyLevel<L> | undefined;
      if (!next) level.set(key, (next = new Map()));
      level = next;
    }
    const last = depth === 1 ? a : depth === 2 ? b! : c!;
    const found = level.get(last) as TallySeries<L> | undefined;
    if (found) {
      found.value += value;
      return;
    }
    const values = [a, b, c];
    const labels = {} as Record<L, string>;
    this.names.forEach((name, i) => (labels[name] = values[i]!));
    const series = { labels, value };
    level.set(last, series);
    this.series.push(series);
  }

  /** Called from the counter's collect(), right before prom-client reads it. */
  flush(): void {
    for (const entry of this.series) {
      if (entry.value !== 0) this.counter.inc(entry.labels, entry.value);
      entry.value = 0;
    }
  }
}

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
  private readonly requestTally: Tally<'family' | 'target' | 'status'>;
  private readonly evaluationTally: Tally<'kind' | 'phase' | 'verdict'>;
  private readonly tokenTally: Tally<'direction' | 'model'>;
  private readonly costTally: Tally<'model'>;
  private readonly refusals: Counter<'reason'>;
  private readonly failedAttempts: Counter<'target' | 'outcome'>;
  private readonly failedAttemptTally: Tally<'target' | 'outcome'>;

  /**
   * `knownModels`: the names the config itself gives (target models and aliases). A model label is one of those
   * or a price catalogue id, else `other`: a client's model name is content (it can hold a pasted token), and a
   * label set a client chooses would grow without bound.
   */
  constructor(
    targets: readonly string[],
    auditStats?: () => { committed: number; spooled: number; queued: number },
    ingestStatus?: () => IngestStatus | undefined,
    private knownModels: ReadonlySet<string> = new Set(),
    breakerStates?: BreakerStates,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keeptrusts_process_' });
    const registers = [this.registry];
    // Each counter takes what its tally gathered since the last scrape when the registry reads it.
    const flushing = (tally: () => { flush(): void }) => ({ collect: () => tally().flush() });
    this.requests = new Counter({ name: 'keeptrusts_requests_total', help: 'Inference requests by API family, target and HTTP status', labelNames: ['family', 'target', 'status'], registers, ...flushing(() => this.requestTally) });
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
    this.evaluations = new Counter({ name: 'keeptrusts_policy_evaluations_total', help: 'Policy evaluations by kind, phase and verdict', labelNames: ['kind', 'phase', 'verdict'], registers, ...flushing(() => this.evaluationTally) });
    this.tokens = new Counter({ name: 'keeptrusts_tokens_total', help: 'Tokens reported by providers, by direction and model', labelNames: ['direction', 'model'], registers, ...flushing(() => this.tokenTally) });
    this.cost = new Counter({ name: 'keeptrusts_cost_usd_total', help: 'Priced cost in US dollars by model', labelNames: ['model'], registers, ...flushing(() => this.costTally) });
    this.refusals = new Counter({ name: 'keeptrusts_refused_requests_total', help: 'Requests refused before routing: a foreign Host (DNS rebinding), a foreign browser Origin, a POST that is not JSON', labelNames: ['reason'], registers });
    this.failedAttempts = new Counter({
      name: 'keeptrusts_upstream_failed_attempts_total',
      help: 'Tries of a target that did not answer the request (a retriable status, refused, timed out, reset, skipped by an open circuit), by target and outcome',
      labelNames: ['target', 'outcome'],
      registers,
      ...flushing(() => this.failedAttemptTally),
    });
    this.failedAttemptTally = new Tally(this.failedAttempts, ['target', 'outcome']);
    if (breakerStates) {
      new Gauge({
        name: 'keeptrusts_target_circuit_state',
        help: "Each target's circuit breaker: 0 closed, 1 half-open (one probe goes through), 2 open (skipped)",
        labelNames: ['target'],
        registers,
        collect() {
          this.reset();
          for (const [target, state] of breakerStates()) this.set({ target }, STATE_VALUE[state]);
        },
      });
    }
    this.requestTally = new Tally(this.requests, ['family', 'target', 'status']);
    this.evaluationTally = new Tally(this.evaluations, ['kind', 'phase', 'verdict']);
    this.tokenTally = new Tally(this.tokens, ['direction', 'model']);
    this.costTally = new Tally(this.cost, ['model']);
    this.zeroTargets(targets);
    if (auditStats) {
      new Gauge({ name: 'keeptrusts_audit_events_committed', help: 'Decision events committed since start', registers, collect() { this.set(auditStats().committed); } });
      new Gauge({ name: 'keeptrusts_audit_events_spooled', help: 'Decision events spooled to a file because the store failed', registers, collect() { this.set(auditStats().spooled); } });
    }
    if (ingestStatus) {
      // No labels: one journal per gateway.
      const gauge = (name: string, help: string, read: (s: IngestStatus) => number) =>
        new Gauge({ name, help, registers, collect() { const s = ingestStatus(); if (s) this.set(read(s)); } });
      gauge('keeptrusts_audit_ingest_stalled', '1 while journaled decision events wait and the ingester makes no progress (see /health audit.ingest)', (s) => (s.state === 'stalled' ? 1 : 0));
      gauge('keeptrusts_audit_ingest_lag_records', 'Decision events journaled by this process and not yet in the chain', (s) => s.lag.records);
      gauge('keeptrusts_audit_ingest_lag_bytes', 'Journal bytes beyond the ingester read position', (s) => s.lag.bytes);
      gauge('keeptrusts_audit_ingest_lag_seconds', 'Age of the oldest journaled decision event not yet in the chain', (s) => s.lag.seconds);
      gauge('keeptrusts_audit_journal_rejected_lines', 'Journal lines set aside since start because they are not decision events (kt events verify reports them)', (s) => s.rejected);
    }
  }

  observe(ctx: DecisionContext): void {
    const family = ctx.route;
    this.requestTally.add(1, family, ctx.target?.id ?? 'none', String(ctx.status || 0));
    this.familyHistograms(family).duration.observe(ctx.elapsedMs / 1000);
    if (ctx.upstreamStart !== undefined) this.familyHistograms(family).overhead.observe(Math.max(0, ctx.upstreamStart - ctx.startedAt) / 1000);
    for (const a of ctx.attempts) if (a.outcome !== 'answered') this.failedAttemptTally.add(1, a.target, a.outcome);
    for (const p of ctx.policyResults) this.evaluationTally.add(1, p.kind, p.phase, p.verdict);
    const usage = ctx.usage;
    if (usage) {
      const model = this.modelLabel(ctx.target?.model ?? ctx.modelRequested);
      this.countTokens('input', model, usage.input_tokens);
      this.countTokens('output', model, usage.output_tokens);
      this.countTokens('cached_input', model, usage.cached_input_tokens);
      const cost = ctx.cost?.total;
      if (cost) this.costTally.add(cost, model);
    }
  }

  /** Each family's histogram series, bound once: prom-client checks and hashes a label object on every observe. */
  private familyHistograms(family: string): { duration: { observe(v: number): void }; overhead: { observe(v: number): void } } {
    let bound = this.histogramsByFamily.get(family);
    if (!bound) {
      bound = { duration: this.duration.labels({ family }), overhead: this.overhead.labels({ family }) };
      this.histogramsByFamily.set(family, bound);
    }
    return bound;
  }

  private readonly histogramsByFamily = new Map<string, { duration: { observe(v: number): void }; overhead: { observe(v: number): void } }>();

  /** A request guard refusal: counted here, not recorded as a decision event (it never reached a policy). */
  refused(reason: RefusalReason): void {
    this.refusals.inc({ reason });
  }

  /**
   * A reloaded config: its model names become the label set (series already written keep their labels), and its
   * targets get zero series like the first config's did.
   */
  adoptConfig(targets: readonly string[], knownModels: ReadonlySet<string>): void {
    this.knownModels = knownModels;
    this.zeroTargets(targets);
  }

  /** Zero series for every configured target, so dashboards show them before the first request. */
  private zeroTargets(targets: readonly string[]): void {
    for (const t of targets) this.requests.inc({ family: 'chat', target: t, status: '200' }, 0);
  }

  private countTokens(direction: string, model: string, n: number | null | undefined): void {
    if (!n) return;
    this.tokenTally.add(n, direction, model);
  }

  private modelLabel(model: string | null): string {
    if (!model) return 'unknown';
    if (this.knownModels.has(model)) return model;
    return catalogueId(model) ?? 'other';
  }

  /** Lag, deliveries and errors of each `audit.export` sink, read at scrape time. Called once per process. */
  watchExports(read: () => ExportStats[]): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, value: (s: ExportStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['sink'],
        registers,
        collect() {
          this.reset();
          for (const s of read()) this.set({ sink: s.name }, value(s));
        },
      });
    gauge('keeptrusts_export_lag_events', 'Decision events in the chain not yet taken by the sink', (s) => s.lag_events);
    gauge('keeptrusts_export_lag_seconds', 'Age of the oldest decision event not yet taken by the sink', (s) => s.lag_seconds);
    gauge('keeptrusts_export_sent_events', 'Decision events the sink took since start', (s) => s.sent);
    gauge('keeptrusts_export_errors', 'Failed deliveries to the sink since start (each is retried, unless the sink stopped)', (s) => s.errors);
    gauge('keeptrusts_export_failed', '1 when the sink stopped on an error it cannot retry (see /health audit.export)', (s) => (s.state === 'failed' ? 1 : 0));
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
