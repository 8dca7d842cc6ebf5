import type { LoadedConfig } from '../config/index.js';
import type { Logger } from '../gateway/logger.js';
import { auditLogger, type AuditLoggerConfig } from '../policy/policies/audit-logger.js';
import type { AuditSettings } from './context.js';
import { loadOrCreateSigningKey } from './keys.js';
import { openEventStore } from './open.js';
import { auditSalt, gatewayId } from './paths.js';
import { AuditRecorder } from './recorder.js';
import type { EventShipper } from './shipper.js';
import { SqliteEventStore } from './sqlite-store.js';
import type { EventStore } from './store.js';

export interface AuditTrailOptions {
  loaded: LoadedConfig;
  dataDir: string;
  databaseUrl?: string;
  failMode: 'block' | 'allow';
  logger: Logger;
  gatewayId?: string;
  env?: NodeJS.ProcessEnv;
  defaults?: AuditSettings['defaults'];
  git?: AuditSettings['git'];
  /** Use this store instead of opening one from dataDir/databaseUrl (embedding, tests). */
  store?: EventStore;
  /** Checkpoint cadence, for tests. */
  checkpointEvery?: number;
  checkpointMs?: number;
  /** How long journaled events may wait without progress before ingestion counts as stalled (default 10 s). */
  stallAfterMs?: number;
}

export interface AuditTrail {
  recorder: AuditRecorder;
  settings: AuditSettings;
  store: EventStore;
  shipper: EventShipper | undefined;
  /** Stable per data dir, for hash markers. */
  salt: string;
  close(): Promise<void>;
}

/** The audit-logger block of a config, when audit-logger is in an enabled chain. */
export function auditConfigOf(loaded: LoadedConfig): AuditLoggerConfig | undefined {
  const { config } = loaded;
  if (!config.pack.enabled || !config.policies.chain.includes('audit-logger')) return undefined;
  const block = (config.policy as Record<string, unknown>)['audit-logger'];
  return (block as AuditLoggerConfig | undefined) ?? auditLogger.schema.parse({});
}

/**
 * Open the store, the signing key and the recorder for a gateway whose chain has audit-logger, and the
 * shipper when KEEPTRUSTS_API_URL and KEEPTRUSTS_GATEWAY_TOKEN are set. Returns undefined otherwise.
 */
export async function startAuditTrail(opts: AuditTrailOptions): Promise<AuditTrail | undefined> {
  const cfg = auditConfigOf(opts.loaded);
  if (!cfg) return undefined;
  const env = opts.env ?? process.env;
  const key = loadOrCreateSigningKey(opts.dataDir);
  const salt = auditSalt(opts.dataDir);
  const chain = gatewayId(opts.dataDir, opts.gatewayId, env);
  const store = opts.store ?? await openEventStore({ dataDir: opts.dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) });
  const { config, sha256 } = opts.loaded;
  const settings: AuditSettings = {
    gatewayId: chain,
    config: { name: config.pack.name, sha256, version: config.pack.version },
    capture: cfg.capture,
    captureMaxBytes: cfg.capture_max_bytes,
    logAllAccess: cfg.log_all_access,
    hipaa: cfg.hipaa_audit_controls,
    salt,
    defaults: opts.defaults ?? {},
    git: opts.git ?? null,
  };
  const apiUrl = env.KEEPTRUSTS_API_URL;
  const token = env.KEEPTRUSTS_GATEWAY_TOKEN;
  let shipper: EventShipper | undefined;
  if (apiUrl && token) {
    const { EventShipper } = await import('./shipper.js');
    shipper = new EventShipper({
      store,
      chain,
      apiUrl,
      token,
      logger: opts.logger,
      publicKey: { key_id: key.keyId, public_key: key.publicKeyPem, created_at: new Date().toISOString() },
    });
  } else if (apiUrl || token) {
    opts.logger.warn('set both KEEPTRUSTS_API_URL and KEEPTRUSTS_GATEWAY_TOKEN to ship events to a control plane; events stay local');
  }
  const recorder = new AuditRecorder({
    store,
    chain,
    key,
    logger: opts.logger,
    failMode: opts.failMode,
    dataDir: opts.dataDir,
    retentionDays: cfg.retention_days,
    ...(opts.checkpointEvery !== undefined ? { checkpointEvery: opts.checkpointEvery } : {}),
    ...(opts.checkpointMs !== undefined ? { checkpointMs: opts.checkpointMs } : {}),
    ...(opts.stallAfterMs !== undefined ? { stallAfterMs: opts.stallAfterMs } : {}),
    ...(shipper ? { onCommit: () => shipper.notify() } : {}),
    // The embedded store gets the journal and its ingest thread; a store given by the caller or PostgreSQL
    // (network I/O, already off this thread's CPU) is written directly.
    ...(!opts.store && store instanceof SqliteEventStore ? { journal: { file: store.file } } : {}),
  });
  await recorder.start();
  shipper?.start();
  return {
    recorder,
    settings,
    store,
    shipper,
    salt,
    async close() {
      await recorder.close();
      await shipper?.stop();
      await store.close();
    },
  };
}
