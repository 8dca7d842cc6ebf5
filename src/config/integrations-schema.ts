import { z } from 'zod';
import type { Diagnostic } from './diagnostics.js';

/**
 * `audit.export` (decision events to a SIEM) and `telemetry.traces` (OpenTelemetry spans). Both are read when
 * the gateway starts; secrets are never written here, only the names of the environment variables holding them.
 */

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SINK_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

const envName = (what: string) =>
  z.string().regex(ENV_NAME, 'must be an environment variable name (letters, digits, _)').describe(`Environment variable holding ${what}, read once at start.`);

/** Delivery settings every sink shares. */
const delivery = {
  name: z
    .string()
    .regex(SINK_NAME, 'must be lowercase letters, digits, _ and -, starting with a letter or digit (it names the read position in the store)')
    .describe('Names this sink in /health, /metrics and logs, and its read position in the store: renaming a sink exports everything again.'),
  batch_size: z.int().min(1).max(1000).optional().describe('Events per request (per write for syslog). Default 200.'),
  min_backoff_ms: z.int().min(10).max(60_000).optional().describe('Wait after the first failed delivery; doubled per failure, with jitter. Default 500.'),
  max_backoff_ms: z.int().min(100).max(600_000).optional().describe('Longest wait between two deliveries of a failing batch. Default 30000.'),
  timeout_ms: z.int().min(100).max(300_000).optional().describe('Longest wait for one delivery (connect, send, answer). Default 10000.'),
  ca_file: z.string().min(1).optional().describe('PEM file of CA certificates trusted for this sink (https, tls, OTLP over https), in place of the system ones.'),
};

const httpsSink = z.strictObject({
  type: z.literal('https'),
  ...delivery,
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).describe('Where batches are POSTed as NDJSON (one event per line).'),
  auth_header: z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name').optional().describe('Header carrying the secret from auth_env. Default Authorization.'),
  auth_env: envName('the value of auth_header (e.g. "Bearer abc" or "Splunk abc")').optional(),
});

const syslogSink = z.strictObject({
  type: z.literal('syslog'),
  ...delivery,
  address: z
    .string()
    .regex(/^(tcp|tls|udp):\/\/[^/\s]+:\d{1,5}$/, 'must be tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT')
    .describe('Syslog collector. tcp and tls use octet-counting framing (RFC 6587); udp sends one datagram per event, without delivery guarantees.'),
  facility: z.int().min(0).max(23).optional().describe('Syslog facility number. Default 13 (log audit).'),
  app_name: z.string().regex(/^[!-~]{1,48}$/, 'must be 1 to 48 printable ASCII characters without spaces').optional().describe('APP-NAME field. Default keeptrusts.'),
  hostname: z.string().regex(/^[!-~]{1,255}$/, 'must be printable ASCII without spaces').optional().describe('HOSTNAME field. Default the machine host name.'),
});

const otlpSink = z.strictObject({
  type: z.literal('otlp'),
  ...delivery,
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).describe('OTLP/HTTP logs endpoint, e.g. http://collector:4318/v1/logs (OTLP JSON encoding).'),
  headers_env: envName('extra headers as k=v,k=v (the OTEL_EXPORTER_OTLP_HEADERS form)').optional(),
  service_name: z.string().min(1).optional().describe('Resource attribute service.name. Default keeptrusts-gateway.'),
});

export const exportSinkSchema = z.discriminatedUnion('type', [httpsSink, syslogSink, otlpSink], {
  error: (issue) => (issue.code === 'invalid_union' ? 'type must be one of https, syslog, otlp' : undefined),
});

export const auditSchema = z
  .strictObject({
    export: z
      .array(exportSinkSchema)
      .max(8)
      .superRefine((sinks, ctx) => {
        const seen = new Map<string, number>();
        sinks.forEach((s, i) => {
          const first = seen.get(s.name);
          if (first === undefined) return void seen.set(s.name, i);
          ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `repeats the name of entry [${first}]; each sink needs its own name (it keys its read position)`, input: s.name });
        });
      })
      .default([])
      .describe('Sinks that receive every decision event (without captured content) from the store, at least once, in chain order. See docs/configuration.md.'),
  })
  .describe('Where decision events go besides the store. Needs audit-logger in policies.chain.');

export const telemetrySchema = z
  .strictObject({
    traces: z
      .strictObject({
        enabled: z.boolean().default(false).describe('Export a trace per request. Default false: the OpenTelemetry API stays a no-op.'),
        url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional().describe('OTLP/HTTP traces endpoint. Default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, then http://127.0.0.1:4318/v1/traces.'),
        headers_env: envName('extra headers for the collector as k=v,k=v').optional(),
        service_name: z.string().min(1).optional().describe('Resource attribute service.name. Default keeptrusts-gateway.'),
        sample_ratio: z.number().min(0).max(1).default(1).describe('Share of requests without a sampled parent that are traced. A client traceparent decides for its own request.'),
      })
      .optional(),
  })
  .describe('OpenTelemetry. See docs/configuration.md.');

export type ExportSinkConfig = z.output<typeof exportSinkSchema>;
export type AuditConfig = z.output<typeof auditSchema>;
export type TracesConfig = NonNullable<z.output<typeof telemetrySchema>['traces']>;

/** Sinks configured without audit-logger in the chain would never receive anything: say so rather than ignore them. */
export function exportRules(input: unknown): Diagnostic[] {
  const doc = (input ?? {}) as { audit?: { export?: unknown[] }; policies?: { chain?: unknown }; pack?: { enabled?: unknown } };
  const sinks = doc.audit?.export;
  if (!Array.isArray(sinks) || sinks.length === 0) return [];
  const chain = Array.isArray(doc.policies?.chain) ? doc.policies.chain : [];
  if (chain.includes('audit-logger') && doc.pack?.enabled !== false) return [];
  return [
    {
      severity: 'error',
      code: 'export-without-audit',
      message: 'audit.export is set, but no decision events are recorded: audit-logger is not in policies.chain (or pack.enabled is false)',
      path: ['audit', 'export'],
      hint: 'add audit-logger to policies.chain, or remove audit.export',
    },
  ];
}
