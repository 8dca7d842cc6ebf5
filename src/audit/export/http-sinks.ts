import { hostname } from 'node:os';
import { Agent, request } from 'undici';
import { VERSION } from '../../version.js';
import type { ExportSink, SendOutcome } from './exporter.js';
import { severityOf, type ExportRecord } from './record.js';

interface HttpSinkOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** PEM CA certificates replacing the system ones. */
  ca?: string;
}

/** The URL as logs and /health may show it: no credentials, no query (tokens travel there sometimes). */
export function safeUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** POST one body; 2xx takes the batch, 408/429/5xx and network errors retry, 413 asks for smaller ones, the rest stop. */
abstract class HttpSink implements ExportSink {
  abstract readonly type: 'https' | 'otlp';
  readonly target: string;
  private readonly agent: Agent;

  constructor(private readonly http: HttpSinkOptions) {
    if (new URL(http.url).username || new URL(http.url).password) throw new Error('an export URL must not hold credentials; use auth_env or headers_env');
    this.target = safeUrl(http.url);
    this.agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: http.timeoutMs, ...(http.ca ? { ca: http.ca } : {}) } });
  }

  protected abstract encode(records: readonly ExportRecord[]): { body: string; contentType: string };

  async send(records: readonly ExportRecord[], signal: AbortSignal): Promise<SendOutcome> {
    const { body, contentType } = this.encode(records);
    const res = await request(this.http.url, {
      method: 'POST',
      headers: { ...this.http.headers, 'content-type': contentType, 'user-agent': `keeptrusts-gateway/${VERSION}` },
      body,
      dispatcher: this.agent,
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.http.timeoutMs)]),
      headersTimeout: this.http.timeoutMs,
      bodyTimeout: this.http.timeoutMs,
    });
    // Read at most a little of the answer: only its status matters, and a receiver's page must not fill memory.
    const detail = await excerpt(res.body);
    const status = res.statusCode;
    if (status >= 200 && status < 300) return { kind: 'ok' };
    const why = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
    if (status === 413) return { kind: 'smaller', error: why };
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfter = Number(res.headers['retry-after']);
      return { kind: 'retry', error: why, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
    }
    return { kind: 'fatal', error: `the receiver refused a batch (${why})` };
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }
}

async function excerpt(body: AsyncIterable<unknown> & { destroy(): void }): Promise<string> {
  let text = '';
  for await (const chunk of body) {
    text += String(chunk);
    if (text.length > 300) {
      body.destroy();
      break;
    }
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** Newline-delimited JSON, one export record per line (Splunk HEC raw, Elastic, Vector, Logstash http input). */
export class NdjsonSink extends HttpSink {
  readonly type = 'https' as const;
  protected encode(records: readonly ExportRecord[]) {
    return { body: records.map((r) => JSON.stringify(r)).join('\n') + '\n', contentType: 'application/x-ndjson' };
  }
}

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean };
const str = (key: string, value: string | null | undefined) => (value == null ? [] : [{ key, value: { stringValue: value } as AnyValue }]);

/**
 * OTLP/HTTP logs in the JSON encoding (opentelemetry-proto, logs/v1): one log record per event, the export
 * record as its body, the fields a SIEM filters on as attributes. Hand-written because the SDK's log exporter
 * batches on its own and does not tell which records a collector took, and the read position needs to know.
 */
export class OtlpLogSink extends HttpSink {
  readonly type = 'otlp' as const;
  constructor(http: HttpSinkOptions, private readonly serviceName: string) {
    super(http);
  }

  protected encode(records: readonly ExportRecord[]) {
    const observed = `${BigInt(Date.now()) * 1_000_000n}`;
    const logRecords = records.map((r) => {
      const e = r.event;
      const sev = severityOf(e);
      return {
        timeUnixNano: `${BigInt(Date.parse(e.ts) || Date.now()) * 1_000_000n}`,
        observedTimeUnixNano: observed,
        severityNumber: sev.otlp,
        severityText: sev.text,
        body: { stringValue: JSON.stringify(r) },
        attributes: [
          ...str('event.name', 'keeptrusts.decision'),
          ...str('keeptrusts.event_id', r.event_id),
          ...str('keeptrusts.chain', r.chain),
          { key: 'keeptrusts.seq', value: { intValue: String(r.seq) } },
          ...str('keeptrusts.request_id', e.request_id),
          ...str('keeptrusts.verdict', e.verdict),
          ...str('keeptrusts.reason_code', e.reason_code),
          { key: 'http.response.status_code', value: { intValue: String(e.status) } },
          ...str('keeptrusts.developer', e.identity.developer),
          ...str('keeptrusts.repository', e.identity.repository),
          ...str('gen_ai.request.model', e.model_requested),
        ],
      };
    });
    const body = {
      resourceLogs: [
        {
          resource: { attributes: [...str('service.name', this.serviceName), ...str('service.version', VERSION), ...str('host.name', hostname())] },
          scopeLogs: [{ scope: { name: 'keeptrusts.audit', version: VERSION }, logRecords }],
        },
      ],
    };
    return { body: JSON.stringify(body), contentType: 'application/json' };
  }
}

/** `k=v,k2=v2` as OTEL_EXPORTER_OTLP_HEADERS writes it (values may be percent-encoded). */
export function parseHeaderList(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    if (eq <= 0 || !/^[A-Za-z0-9-]+$/.test(key)) throw new Error(`${what} must be k=v pairs separated by commas (a header name is letters, digits and -)`);
    out[key.toLowerCase()] = decodeURIComponent(part.slice(eq + 1).trim());
  }
  return out;
}
