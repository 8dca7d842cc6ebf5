/**
 * Hot reload of policy-config.yaml (every `-c` layer, re-read from disk): SIGHUP or POST /admin/reload.
 *
 * A valid config becomes a new generation (a Gateway with its own chain, router, credentials and audit settings)
 * that takes every request from then on; requests in flight finish on the generation that admitted them, so
 * their decision event names the config that judged them (`config.sha256`). What outlives a config (pools,
 * breakers, the concurrency limit, metrics) is shared between generations. An invalid config changes nothing:
 * every error is logged with file:line:column and returned to the caller.
 */
import type { AuditSettings } from '../audit/context.js';
import { auditConfigOf } from '../audit/setup.js';
import { formatDiagnostic, loadConfig, type LoadedConfig } from '../config/index.js';
import type { Logger } from './logger.js';

export type ReloadResult =
  | { ok: true; changed: boolean; sha256: string; files: string[] }
  | { ok: false; errors: string[] };

/**
 * Config changes a reload cannot take, because they are held by something opened once at start (the audit
 * trail, the budget and rate-limit engine): the old config keeps serving and the message says to restart.
 */
export function restartNeeded(before: LoadedConfig, after: LoadedConfig): string | undefined {
  if ((auditConfigOf(before) === undefined) !== (auditConfigOf(after) === undefined)) {
    return 'turning the audit trail on or off (audit-logger in an enabled chain) needs a restart';
  }
  if (JSON.stringify(before.config.budgets) !== JSON.stringify(after.config.budgets) || JSON.stringify(before.config.rate_limits) !== JSON.stringify(after.config.rate_limits)) {
    return 'budgets and rate_limits are read at start; restart the gateway to change them';
  }
  return undefined;
}

/** The audit settings of the new config: what audit-logger says, and the config's own name and hash. */
export function reloadedSettings(base: AuditSettings, loaded: LoadedConfig): AuditSettings {
  const cfg = auditConfigOf(loaded);
  const { config, sha256 } = loaded;
  return {
    ...base,
    config: { name: config.pack.name, sha256, version: config.pack.version },
    ...(cfg ? { capture: cfg.capture, captureMaxBytes: cfg.capture_max_bytes, logAllAccess: cfg.log_all_access, hipaa: cfg.hipaa_audit_controls } : {}),
  };
}

/**
 * Serialises reloads (a SIGHUP during a POST /admin/reload waits for it) and logs each result. `build` makes
 * the next generation from a valid config, throwing when it cannot (a secret_key_ref whose variable is unset);
 * `current` and `swap` read and replace the generation in service.
 */
export class Reloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      logger: Logger;
      current: () => LoadedConfig;
      build: (loaded: LoadedConfig) => void;
    },
  ) {}

  reload(): Promise<ReloadResult> {
    const next = this.queue.then(() => this.run());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async run(): Promise<ReloadResult> {
    const { logger } = this.deps;
    const before = this.deps.current();
    const { loaded, diagnostics } = await loadConfig(before.files);
    if (!loaded) {
      const errors = diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      for (const e of errors) logger.error({ sha256: before.sha256 }, `config reload refused: ${e}`);
      return { ok: false, errors };
    }
    if (loaded.sha256 === before.sha256) {
      logger.info({ sha256: loaded.sha256 }, 'config reload: no change');
      return { ok: true, changed: false, sha256: loaded.sha256, files: loaded.files };
    }
    const restart = restartNeeded(before, loaded);
    if (restart) {
      logger.error({ sha256: before.sha256 }, `config reload refused: ${restart}; the running config stays`);
      return { ok: false, errors: [restart] };
    }
    try {
      this.deps.build(loaded);
    } catch (err) {
      // Messages of our own start errors (a missing secret names the target and variable, never a value).
      const message = err instanceof Error ? err.message.slice(0, 300) : 'the new config could not be started';
      logger.error({ sha256: before.sha256 }, `config reload refused: ${message}; the running config stays`);
      return { ok: false, errors: [message] };
    }
    for (const d of diagnostics) if (d.severity === 'warning') logger.warn({ code: d.code }, formatDiagnostic(d));
    logger.info({ sha256: loaded.sha256, previous: before.sha256, files: loaded.files }, 'config reloaded: new requests use it, requests in flight finish on the previous one');
    return { ok: true, changed: true, sha256: loaded.sha256, files: loaded.files };
  }
}
