import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { LoadedConfig } from '../config/index.js';
import type { Logger } from '../gateway/logger.js';
import { auditLogger, type AuditLoggerConfig } from '../policy/policies/audit-logger.js';
import { anchorNewest, newestAnchor } from './anchor.js';
import type { AuditSettings } from './context.js';
import { loadOrCreateSigningKey } from './keys.js';
import { openEventStore } from './open.js';
import { auditSalt, gatewayId } from './paths.js';
import { AuditRecorder } from './recorder.js';
import type { EventShipper } from './shipper.js';
import type { EventExporter, ExportStats } from './export/index.js';
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
  /**
   * Append the newest signed checkpoint to this file at start, every `anchorEveryMs` (an hour) and at shutdown;
   * default KEEPTRUSTS_ANCHOR_FILE. It must be outside the data dir.
   */
  anchorFile?: string;
  anchorEveryMs?: number;
  /** How long journaled events may wait without progress before ingestion counts as stalled (default 10 s). */
  stallAfterMs?: number;
}

export interface AuditTrail {
  recorder: AuditRecorder;
  settings: AuditSettings;
  store: EventStore;
  shipper: EventShipper | undefined;
  /** Sinks of `audit.export` (SIEM), each with its own read position in the store. */
  exporters: EventExporter[];
  /** Their state, lag and errors, for /health and /metrics. */
  exportStats(): ExportStats[];
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

/** The gateway id a shipping gateway records under: its token's, from the control plane (see whoami.ts). */
async function askWhoWeAre(apiUrl: string, token: string, explicit: string | undefined, logger: AuditTrailOptions['logger']): Promise<string> {
  const { shippingIdentity } = await import('./whoami.js');
  const who = await shippingIdentity({ apiUrl, token, explicit });
  if (who.warning) logger.warn(who.warning);
  else logger.info({ gateway_id: who.gatewayId }, 'the control plane knows this gateway\'s token as gateway ' + who.gatewayId);
  return who.gatewayId;
}

/**
 * Open the store, the signing key and the recorder for a gateway whose chain has audit-logger, and the
 * shipper when KEEPTRUSTS_API_URL and KEEPTRUSTS_GATEWAY_TOKEN are set. Returns undefined otherwise.
 */
export async function startAuditTrail(opts: AuditTrailOptions): Promise<AuditTrail | undefined> {
  const cfg = auditConfigOf(opts.loaded);
  if (!cfg) return undefined;
  const env = opts.env ?? process.env;
  const anchorFile = anchorFileOutside(opts.anchorFile ?? (env.KEEPTRUSTS_ANCHOR_FILE || undefined), opts.dataDir);
  const key = loadOrCreateSigningKey(opts.dataDir);
  const salt = auditSalt(opts.dataDir);
  const apiUrl = env.KEEPTRUSTS_API_URL;
  const token = env.KEEPTRUSTS_GATEWAY_TOKEN;
  const shipping = apiUrl && token ? await askWhoWeAre(apiUrl, token, opts.gatewayId ?? (env.KEEPTRUSTS_GATEWAY_ID || undefined), opts.logger) : undefined;
  const chain = shipping ?? gatewayId(opts.dataDir, opts.gatewayId, env);
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
  const sinks = opts.loaded.config.audit?.export ?? [];
  const exporters = sinks.length > 0 ? (await import('./export/index.js')).createExporters(sinks, { store, chain, logger: opts.logger, env }) : [];
  const onCommit = shipper || exporters.length > 0 ? () => {
    shipper?.notify();
    for (const e of exporters) e.notify();
  } : undefined;
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
    ...(onCommit ? { onCommit } : {}),
    // The embedded store gets the journal and its ingest thread; a store given by the caller or PostgreSQL
    // (network I/O, already off this thread's CPU) is written directly.
    ...(!opts.store && store instanceof SqliteEventStore ? { journal: { file: store.file } } : {}),
    ...(anchorFile ? { anchorFile } : {}),
  });
  await recorder.start();
  shipper?.start();
  for (const e of exporters) e.start();

  let anchoredSeq = anchorFile ? (newestAnchor(anchorFile, chain)?.seq ?? 0) : 0;
  const anchor = async () => {
    if (!anchorFile || recorder.stats().integrity.status !== 'ok') return;
    try {
      anchoredSeq = await anchorNewest(anchorFile, store, chain, key.keyId, anchoredSeq);
    } catch (err) {
      opts.logger.error({ err: (err as Error).message, anchor_file: anchorFile }, 'appending to the anchor file failed');
    }
  };
  await anchor();
  const anchorTimer = anchorFile ? setInterval(() => void anchor(), opts.anchorEveryMs ?? 3_600_000).unref() : undefined;
  return {
    recorder,
    settings,
    store,
    shipper,
    exporters,
    exportStats: () => exporters.map((e) => e.stats()),
    salt,
    async close() {
      clearInterval(anchorTimer);
      await recorder.close();
      await anchor();
      await Promise.all([shipper?.stop(), ...exporters.map((e) => e.stop())]);
      await store.close();
    },
  };
}

/**
 * An anchor the data dir's writer can rewrite proves nothing, so the file must be outside the data dir
 * (compared after resolving symbolic links where the paths exist).
 */
function anchorFileOutside(file: string | undefined, dataDir: string): string | undefined {
  if (!file) return undefined;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const abs = resolve(file);
  const target = resolve(real(dirname(abs)), abs.slice(dirname(abs).length + 1));
  const rel = relative(real(dataDir), target);
  if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) {
    throw new Error(`the anchor file ${file} is inside the data dir ${dataDir}: put it where whoever can write the data dir cannot rewrite it`);
  }
  return abs;
}
