import { pino } from 'pino';
import { loadConfig, formatDiagnostic } from '../../src/config/index.js';
import { startGateway, type GatewayOptions, type RunningGateway } from '../../src/gateway/server.js';
import { startAuditTrail, type AuditTrail } from '../../src/audit/setup.js';
import { startTracing } from '../../src/telemetry/index.js';
import { createLocalConsole, type LocalConsole } from '../../src/server/local-console.js';
import type { EventStore } from '../../src/audit/store.js';
import { startFakeUpstream, type FakeUpstream, type FakeUpstreamOptions } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from './config.js';

export interface Stack {
  fake: FakeUpstream;
  gateway: RunningGateway;
  /** Gateway base URL for OpenAI clients (with /v1). */
  openaiBase: string;
  /** Gateway base URL for Anthropic clients (without /v1). */
  anthropicBase: string;
  trail: AuditTrail | undefined;
  /** The console mounted over the audit trail's store, when asked for. */
  console: LocalConsole | undefined;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Config text; `FAKE_URL` is replaced by the fake upstream's URL. Defaults to one OpenAI and one Anthropic target. */
  config?: string;
  env?: NodeJS.ProcessEnv;
  fake?: FakeUpstreamOptions;
  maxBodyBytes?: number;
  /** The reply budget (GatewayOptions.maxResponseBytes). */
  maxResponseBytes?: number;
  maxConcurrency?: number;
  /** Receives the gateway's log records (JSON objects), at info level and above. */
  onLog?: (record: Record<string, unknown>) => void;
  /** Extra gateway options (limits, virtual keys, attribution defaults, fail mode, allowed hosts and origins, metrics token, console, listener bounds). */
  gateway?: Partial<Pick<GatewayOptions, 'limits' | 'virtualKeys' | 'attribution' | 'failMode' | 'access' | 'metricsToken' | 'console' | 'listener'>>;
  /** The gateway's listen address (default 127.0.0.1). */
  host?: string;
  /** Turn the audit trail on (the config's chain must include audit-logger): events go to this data dir. */
  /** Mount the console over the audit trail's store, as `kt gateway run` does (needs `audit`). */
  console?: { token?: string };
  audit?: {
    dataDir: string;
    store?: EventStore;
    databaseUrl?: string;
    failMode?: 'block' | 'allow';
    gatewayId?: string;
    checkpointEvery?: number;
    checkpointMs?: number;
    anchorFile?: string;
    stallAfterMs?: number;
  };
}

export const DEFAULT_STACK_CONFIG = `pack:
  name: e2e
  version: 1.0.0
policies:
  chain: []
providers:
  strategy: single
  targets:
    - id: fake-openai
      provider: openai-compatible
      base_url: FAKE_URL/v1
    - id: fake-anthropic
      provider: anthropic
      base_url: FAKE_URL
`;

/** A fake upstream and a gateway in front of it, both on ephemeral loopback ports. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const fake = await startFakeUpstream(opts.fake);
  const [file] = writeConfigs((opts.config ?? DEFAULT_STACK_CONFIG).replaceAll('FAKE_URL', fake.url));
  const { loaded, diagnostics } = await loadConfig([file!]);
  if (!loaded) {
    await fake.close();
    throw new Error(`test config invalid:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  }
  const logger = opts.onLog
    ? pino({ level: 'info' }, { write: (line: string) => opts.onLog!(JSON.parse(line) as Record<string, unknown>) })
    : pino({ level: 'silent' });
  const trail = opts.audit
    ? await startAuditTrail({
        loaded,
        dataDir: opts.audit.dataDir,
        ...(opts.audit.databaseUrl ? { databaseUrl: opts.audit.databaseUrl } : {}),
        ...(opts.audit.store ? { store: opts.audit.store } : {}),
        failMode: opts.audit.failMode ?? 'block',
        logger,
        gatewayId: opts.audit.gatewayId ?? 'test-gateway',
        // Only what the test gives: never KEEPTRUSTS_API_URL from the environment running the tests.
        env: opts.env ?? {},
        ...(opts.audit.checkpointEvery !== undefined ? { checkpointEvery: opts.audit.checkpointEvery } : {}),
        ...(opts.audit.checkpointMs !== undefined ? { checkpointMs: opts.audit.checkpointMs } : {}),
        ...(opts.audit.anchorFile ? { anchorFile: opts.audit.anchorFile } : {}),
        ...(opts.audit.stallAfterMs !== undefined ? { stallAfterMs: opts.audit.stallAfterMs } : {}),
      })
    : undefined;
  if (opts.audit && !trail) throw new Error('test config has no audit-logger in its chain');
  const localConsole = opts.console && trail ? createLocalConsole({ store: trail.store, logger, pollMs: 100, ...(opts.console.token ? { token: opts.console.token } : {}) }) : undefined;
  const tracing = await startTracing(loaded.config.telemetry?.traces, opts.env ?? {}, logger);
  const gateway = await startGateway({
    ...(tracing ? { tracing } : {}),
    ...(trail ? { audit: { recorder: trail.recorder, settings: trail.settings, exportStats: trail.exportStats }, markerSalt: trail.salt } : {}),
    ...(opts.gateway ?? {}),
    ...(localConsole ? { console: localConsole } : {}),
    loaded,
    host: opts.host ?? '127.0.0.1',
    port: 0,
    logger,
    failMode: opts.gateway?.failMode ?? opts.audit?.failMode ?? 'block',
    maxConcurrency: opts.maxConcurrency ?? 64,
    maxBodyBytes: opts.maxBodyBytes ?? 32 * 1024 * 1024,
    ...(opts.maxResponseBytes !== undefined ? { maxResponseBytes: opts.maxResponseBytes } : {}),
    env: opts.env ?? {},
  }, 1000);
  return {
    fake,
    gateway,
    openaiBase: `${gateway.url}/v1`,
    anthropicBase: gateway.url,
    trail,
    console: localConsole,
    async close() {
      await gateway.close();
      await tracing?.close();
      await trail?.close();
      await opts.gateway?.limits?.close();
      await opts.gateway?.virtualKeys?.close();
      await fake.close();
    },
  };
}
