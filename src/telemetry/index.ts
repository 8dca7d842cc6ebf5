import type { TracesConfig } from '../config/integrations-schema.js';
import type { Logger } from '../gateway/logger.js';
import type { Tracing } from './tracing.js';

export type { Tracing, RequestTrace } from './tracing.js';

/**
 * A Tracing when `telemetry.traces.enabled`, else undefined. The OpenTelemetry SDK and exporter are imported
 * only then: a gateway without traces neither loads them nor runs any of their code on a request.
 */
export async function startTracing(cfg: TracesConfig | undefined, env: NodeJS.ProcessEnv, logger: Logger): Promise<Tracing | undefined> {
  if (!cfg?.enabled) return undefined;
  const { createTracing } = await import('./tracing.js');
  return createTracing(cfg, env, logger);
}
