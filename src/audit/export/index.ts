import { readFileSync } from 'node:fs';
import type { ExportSinkConfig } from '../../config/integrations-schema.js';
import type { Logger } from '../../gateway/logger.js';
import type { EventStore } from '../store.js';
import { EventExporter, type ExportSink } from './exporter.js';
import { NdjsonSink, OtlpLogSink, parseHeaderList } from './http-sinks.js';
import { defaultHostname, SyslogSink } from './syslog-sink.js';

export type { ExportStats } from './exporter.js';
export { EventExporter } from './exporter.js';

/**
 * One exporter per configured sink. Throws, with the sink's name, when a secret's variable is unset or a CA
 * file cannot be read: a gateway that was told to feed a SIEM must not start silently without it.
 */
export function createExporters(sinks: readonly ExportSinkConfig[], opts: { store: EventStore; chain: string; logger: Logger; env: NodeJS.ProcessEnv }): EventExporter[] {
  const built = sinks.map((cfg) => ({ cfg, sink: sinkFor(cfg, opts.env) }));
  return built.map(({ cfg, sink }) =>
    new EventExporter({
      name: cfg.name,
      store: opts.store,
      chain: opts.chain,
      sink,
      logger: opts.logger,
      ...(cfg.batch_size !== undefined ? { batchSize: cfg.batch_size } : {}),
      ...(cfg.min_backoff_ms !== undefined ? { minBackoffMs: cfg.min_backoff_ms } : {}),
      ...(cfg.max_backoff_ms !== undefined ? { maxBackoffMs: cfg.max_backoff_ms } : {}),
    }),
  );
}

function sinkFor(cfg: ExportSinkConfig, env: NodeJS.ProcessEnv): ExportSink {
  const where = `audit.export "${cfg.name}"`;
  const timeoutMs = cfg.timeout_ms ?? 10_000;
  let ca: string | undefined;
  if (cfg.ca_file) {
    try {
      ca = readFileSync(cfg.ca_file, 'utf8');
    } catch (err) {
      throw new Error(`${where}: ca_file ${cfg.ca_file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  const secret = (name: string | undefined) => {
    if (!name) return undefined;
    const value = env[name];
    if (!value) throw new Error(`${where}: environment variable ${name} is not set`);
    return value;
  };
  switch (cfg.type) {
    case 'https': {
      const auth = secret(cfg.auth_env);
      return new NdjsonSink({ url: cfg.url, timeoutMs, headers: auth ? { [(cfg.auth_header ?? 'authorization').toLowerCase()]: auth } : {}, ...(ca ? { ca } : {}) });
    }
    case 'otlp': {
      const list = secret(cfg.headers_env);
      const headers = list ? parseHeaderList(list, `${where}: ${cfg.headers_env}`) : {};
      return new OtlpLogSink({ url: cfg.url, timeoutMs, headers, ...(ca ? { ca } : {}) }, cfg.service_name ?? 'keeptrusts-gateway');
    }
    case 'syslog':
      return new SyslogSink({ address: cfg.address, facility: cfg.facility ?? 13, appName: cfg.app_name ?? 'keeptrusts', hostname: cfg.hostname ?? defaultHostname(), timeoutMs, ...(ca ? { ca } : {}) });
  }
}
