import type { IncomingHttpHeaders } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { TracesConfig } from '../config/integrations-schema.js';
import type { EventAttempt, EventPolicyResult } from '../audit/event.js';
import type { RequestOutcome } from './outcome.js';
import type { Logger } from '../gateway/logger.js';
import { parseHeaderList, safeUrl } from '../audit/export/http-sinks.js';
import { VERSION } from '../version.js';

/**
 * OpenTelemetry traces of requests. Off by default: then no tracer exists and every hook is `trace?.…` on an
 * undefined field. Attributes are ids, names, decisions, statuses and counts only; nothing a client sent or a
 * model replied, and no header values, ever become an attribute (test/e2e/tracing.test.ts plants secrets).
 */

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (h: IncomingHttpHeaders) => Object.keys(h),
  get: (h: IncomingHttpHeaders, key: string) => h[key],
};
const headerSetter = { set: (h: Record<string, string>, key: string, value: string) => void (h[key] = value) };

export const DEFAULT_TRACES_URL = 'http://127.0.0.1:4318/v1/traces';

/** One upstream try: the headers that carry its span to the upstream, and its end. */
export interface AttemptSpan {
  /** traceparent (and tracestate) naming this try's span, to send upstream in place of the client's. */
  readonly headers: Record<string, string>;
  end(attempt: EventAttempt | undefined): void;
}

/** The spans of one request. Every method is cheap and never throws into the request. */
export class RequestTrace {
  private policiesTraced = 0;
  private readonly ctx;

  constructor(private readonly tracer: Tracer, private readonly span: Span) {
    this.ctx = trace.setSpan(ROOT_CONTEXT, span);
  }

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  /**
   * Spans for the policy results recorded since the last call, placed back to back ending now: the chain runs
   * its policies one after another and measures each (duration_us), so this is where they ran.
   */
  policies(results: readonly EventPolicyResult[], nowMs = Date.now()): void {
    const fresh = results.slice(this.policiesTraced);
    this.policiesTraced = results.length;
    let end = nowMs;
    for (let i = fresh.length - 1; i >= 0; i--) {
      const p = fresh[i]!;
      const start = end - p.duration_us / 1000;
      const attributes: Attributes = {
        'keeptrusts.policy.kind': p.kind,
        'keeptrusts.policy.phase': p.phase,
        'keeptrusts.policy.verdict': p.verdict,
        'keeptrusts.policy.findings': p.findings.reduce((n, f) => n + f.count, 0),
        ...(p.streamed ? { 'keeptrusts.policy.streamed': true } : {}),
        ...(p.error ? { 'error.type': p.error } : {}),
      };
      const span = this.tracer.startSpan(`policy ${p.kind}`, { kind: SpanKind.INTERNAL, startTime: start, attributes }, this.ctx);
      if (p.error) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(end);
      end = start;
    }
  }

  /** A try of a target, as a client span whose context goes upstream in `traceparent`. */
  attempt(target: { id: string; provider: string; origin: string }, n: number): AttemptSpan {
    const span = this.tracer.startSpan(
      `upstream ${target.id}`,
      { kind: SpanKind.CLIENT, attributes: { 'keeptrusts.target': target.id, 'gen_ai.system': target.provider, 'server.address': hostOf(target.origin), 'keeptrusts.attempt': n } },
      this.ctx,
    );
    const headers: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, span), headers, headerSetter);
    return {
      headers,
      end(a) {
        if (a) {
          span.setAttribute('keeptrusts.attempt.outcome', a.outcome);
          if (a.status !== null) span.setAttribute('http.response.status_code', a.status);
          if (a.outcome !== 'answered') span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      },
    };
  }

  /** The decision event's write to the store; returns its end. */
  store(eventId: string): () => void {
    const span = this.tracer.startSpan('store event', { kind: SpanKind.INTERNAL, attributes: { 'keeptrusts.event_id': eventId } }, this.ctx);
    return () => span.end();
  }

  end(o: RequestOutcome): void {
    this.policies(o.policies);
    const attributes: Attributes = {
      'keeptrusts.event_id': o.eventId,
      'keeptrusts.verdict': o.verdict,
      'http.response.status_code': o.status,
      'keeptrusts.stream': o.stream,
    };
    if (o.reasonCode) attributes['keeptrusts.reason_code'] = o.reasonCode;
    if (o.model) attributes['gen_ai.request.model'] = o.model;
    if (o.target) {
      attributes['keeptrusts.target'] = o.target.id;
      attributes['gen_ai.system'] = o.target.provider;
      if (o.target.model) attributes['gen_ai.response.model'] = o.target.model;
    }
    if (o.usage?.input_tokens != null) attributes['gen_ai.usage.input_tokens'] = o.usage.input_tokens;
    if (o.usage?.output_tokens != null) attributes['gen_ai.usage.output_tokens'] = o.usage.output_tokens;
    this.span.setAttributes(attributes);
    if (o.status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** The tracer provider of a gateway process, exporting over OTLP/HTTP (JSON) in batches off the request path. */
export class Tracing {
  private readonly tracer: Tracer;

  constructor(private readonly provider: BasicTracerProvider) {
    this.tracer = provider.getTracer('keeptrusts-gateway', VERSION);
  }

  /** The request's span, continuing the client's trace when it sent a valid `traceparent`. */
  startRequest(headers: IncomingHttpHeaders, route: string, requestId: string): RequestTrace {
    const parent = headers.traceparent !== undefined ? propagator.extract(ROOT_CONTEXT, headers, headerGetter) : ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      `POST ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': route, 'keeptrusts.request_id': requestId } },
      parent,
    );
    return new RequestTrace(this.tracer, span);
  }

  /** Send what is buffered, then stop; bounded by the exporter's own timeout. */
  async close(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** The tracer provider and exporter for `telemetry.traces` (loaded only when it is enabled: see index.ts). */
export function createTracing(cfg: TracesConfig, env: NodeJS.ProcessEnv, logger: Logger): Tracing {
  const url = cfg.url ?? (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || DEFAULT_TRACES_URL);
  let headers: Record<string, string> = {};
  if (cfg.headers_env) {
    const list = env[cfg.headers_env];
    if (!list) throw new Error(`telemetry.traces: environment variable ${cfg.headers_env} is not set`);
    headers = parseHeaderList(list, `telemetry.traces: ${cfg.headers_env}`);
  }
  const exporter = new OTLPTraceExporter({ url, headers, timeoutMillis: 10_000 });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': cfg.service_name ?? 'keeptrusts-gateway', 'service.version': VERSION }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sample_ratio) }),
    // Bounded: past 2048 waiting spans new ones are dropped, never held by a request.
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 1000, exportTimeoutMillis: 10_000 })],
  });
  logger.info({ url: safeUrl(url), sample_ratio: cfg.sample_ratio }, 'tracing requests with OpenTelemetry');
  return new Tracing(provider);
}
