import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { countBySeverity, formatDiagnostic, loadConfig, type Diagnostic } from '../config/index.js';
import { isLoopback, parseListen } from '../gateway/listen.js';
import { createLogger, LOG_LEVELS, type LogLevel, type Logger } from '../gateway/logger.js';
import { DEFAULT_MAX_RESPONSE_BYTES, startGateway, type RunningGateway } from '../gateway/server.js';
import { MissingSecretError } from '../providers/credentials.js';
import { secureDataDir } from '../audit/data-dir.js';
import { consoleToken, resolveDataDir } from '../audit/paths.js';
import { auditConfigOf, startAuditTrail, type AuditTrail } from '../audit/setup.js';
import { openEventStore } from '../audit/open.js';
import { startTracing } from '../telemetry/index.js';
import type { EventStore } from '../audit/store.js';
import { detectGitIdentity } from '../usage/identity.js';
import { openVirtualKeyStore } from '../usage/keys.js';
import { createLimitEngine } from '../usage/limits/index.js';
import { createLocalConsole } from '../server/local-console.js';
import { DEFAULT_ESCALATION, EscalationDesk } from '../escalation/desk.js';
import { RemoteEscalationStore } from '../escalation/remote.js';
import { openSqlDriver } from '../escalation/sql.js';
import { openEscalationStore } from '../escalation/store.js';
import type { EscalationStore } from '../escalation/types.js';
import { DeliveryLog } from '../webhooks/log.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { CLIENT_AUTH_MODES, type ClientAuth } from '../gateway/server.js';
import { listenerTls, reloadTlsOnSighup } from './listener-tls.js';
import { byteSize, collect, hostList, listenerFlags, listenerOptions, metricsToken, nonNegativeDuration, oneOf, originList, positiveInt, tlsOptions, type ListenerFlags, type TlsFlags } from './options.js';

export const DEFAULT_LISTEN = '127.0.0.1:41002';
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENCY = 128;

export interface GatewayRunOptions extends ListenerFlags, TlsFlags {
  policyConfig?: string[];
  listen: string;
  logLevel: LogLevel;
  logFormat?: 'text' | 'json';
  failMode: 'block' | 'allow';
  maxConcurrency: number;
  maxBodyBytes: number;
  maxResponseBytes?: number;
  dataDir?: string;
  databaseUrl?: string;
  gatewayId?: string;
  anchorFile?: string;
  metrics?: boolean;
  redisUrl?: string;
  redisKeyPrefix?: string;
  developer?: string;
  repository?: string;
  team?: string;
  allowedHosts?: string[];
  allowedOrigins?: string[];
  metricsToken?: string;
  clientAuth?: ClientAuth;
  shutdownDelay?: number;
}

export function gatewayCommand(): Command {
  const gateway = new Command('gateway').description('Run the governance gateway between AI clients and providers');
  const run = gateway
    .command('run')
    .description('Start the gateway: OpenAI (/v1/chat/completions, /v1/responses) and Anthropic (/v1/messages) APIs')
    .option('-c, --policy-config <path>', 'policy config file; repeat to layer files (later files win: maps merge, lists replace)', collect)
    .option('--listen <host:port>', 'address to listen on; 0.0.0.0:41002 for a shared team gateway (needs --tls-cert/--tls-key or --insecure-listen)', DEFAULT_LISTEN)
    .addOption(new Option('--log-level <level>', 'log verbosity; debug adds one line per request').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'log line format (default: text on a terminal, json otherwise)').choices(['text', 'json']))
    .addOption(
      new Option('--fail-mode <mode>', 'what to do when a policy fails or a reply cannot be checked: block the request, or allow it (recorded on its event)')
        .choices(['block', 'allow'])
        .default('block')
        .argParser(oneOf(['block', 'allow'] as const)),
    )
    .addOption(
      new Option('--max-concurrency <n>', 'upstream requests in flight at once; more wait in a queue')
        .env('KEEPTRUSTS_GATEWAY_MAX_CONCURRENCY')
        .default(DEFAULT_MAX_CONCURRENCY)
        .argParser(positiveInt('--max-concurrency')),
    )
    .option('--max-body-bytes <size>', 'largest request body accepted (e.g. 33554432, 32MiB)', byteSize, DEFAULT_MAX_BODY_BYTES)
    .option('--max-response-bytes <size>', 'largest reply the gateway holds to check it; over it a reply fails instead of passing unchecked', byteSize, DEFAULT_MAX_RESPONSE_BYTES)
    .addOption(new Option('--data-dir <dir>', 'where the event store, signing key and spool live (default ~/.keeptrusts)').env('KEEPTRUSTS_DATA_DIR'))
    .addOption(new Option('--database-url <url>', 'store events in PostgreSQL instead of the embedded SQLite file').env('KEEPTRUSTS_DATABASE_URL'))
    .addOption(new Option('--gateway-id <name>', "this gateway's name in events and its chain (default: made on first start)").env('KEEPTRUSTS_GATEWAY_ID'))
    .addOption(
      new Option('--anchor-file <file>', 'outside the data dir: append the newest signed checkpoint here at start, hourly and at shutdown, and check the chain against it at start').env(
        'KEEPTRUSTS_ANCHOR_FILE',
      ),
    )
    .option('--no-metrics', 'do not serve Prometheus metrics at /metrics')
    .addOption(
      new Option('--metrics-token <token>', 'bearer token for /metrics and the details of /health; /metrics needs it beyond loopback (prefer the env var)')
        .env('KEEPTRUSTS_METRICS_TOKEN')
        .argParser(metricsToken),
    )
    .addOption(
      new Option('--allowed-hosts <names>', 'host names clients use besides localhost and IP addresses, comma-separated (.corp.example: its subdomains; *: any)')
        .env('KEEPTRUSTS_ALLOWED_HOSTS')
        .argParser(hostList),
    )
    .addOption(
      new Option('--allowed-origins <origins>', 'browser origins whose pages may call the API, comma-separated (e.g. https://app.example.com)')
        .env('KEEPTRUSTS_ALLOWED_ORIGINS')
        .argParser(originList),
    )
    .addOption(new Option('--redis-url <url>', 'share budgets and rate limits between gateways through Redis (default: in memory)').env('KEEPTRUSTS_REDIS_URL'))
    .addOption(
      new Option('--redis-key-prefix <name>', 'Redis keys start with kt:<name>: ; gateways share limits only under the same name (e.g. a deployment name)')
        .env('KEEPTRUSTS_REDIS_KEY_PREFIX')
        .argParser(redisKeyPrefix),
    )
    .option('--developer <name>', 'attribute requests that name no developer to this one (default: git config user.email)')
    .option('--repository <name>', 'attribute requests that name no repository to this one (default: the origin remote)')
    .option('--team <name>', 'attribute requests that name no team to this one');
  for (const o of tlsOptions()) run.addOption(o);
  run.addOption(
    new Option('--client-auth <mode>', 'virtual-key: API requests need a gateway virtual key (kt keys create); none: serve any client (default: virtual-key beyond loopback, none on it)')
      .choices(CLIENT_AUTH_MODES)
      .argParser(oneOf(CLIENT_AUTH_MODES)),
  );
  run.addOption(
    new Option('--shutdown-delay <duration>', 'after SIGTERM, keep serving this long with /readyz answering 503 before it stops accepting, so a load balancer takes it out first (e.g. 5s; default 0)')
      .env('KEEPTRUSTS_SHUTDOWN_DELAY')
      .argParser(shutdownDelay),
  );
  for (const o of listenerOptions()) run.addOption(o);
  run
    .addHelpText(
      'after',
      `
Without --policy-config, ./policy-config.yaml is used if it exists.

Point clients at the gateway:
  OpenAI clients (Aider, openai SDK):   OPENAI_API_BASE=http://localhost:41002/v1
  Anthropic clients (Claude Code):      ANTHROPIC_BASE_URL=http://localhost:41002     (no /v1)

Examples:
  $ kt gateway run --policy-config policy-config.yaml
  $ kt gateway run -c base.yaml -c team.yaml --listen 0.0.0.0:41002 --tls-cert gw.crt --tls-key gw.key --allowed-hosts gateway.corp.example

Beyond loopback the gateway serves HTTPS (--tls-cert/--tls-key, re-read on SIGHUP) or, behind a TLS-terminating
proxy, plain HTTP with --insecure-listen; and API requests need a gateway virtual key unless --client-auth none.

Browsers: a request from a web page (an Origin other than the gateway's own, or Sec-Fetch-Site: cross-site) is
refused unless --allowed-origins names it; every POST must be Content-Type: application/json.`,
    )
    .action(async (opts: GatewayRunOptions) => {
      process.exitCode = await runGateway(opts);
    });
  return gateway;
}

/** Load the config, start the gateway, and run until SIGINT/SIGTERM. Resolves with the process exit code. */
export async function runGateway(opts: GatewayRunOptions, onStarted?: (g: RunningGateway) => void, command = 'kt gateway run'): Promise<number> {
  let embedded: EmbeddedGateway;
  try {
    embedded = await startGatewayFromOptions(opts);
  } catch (err) {
    process.stderr.write(`${command}: ${(err as Error).message}\n`);
    return 1;
  }
  const { running, logger } = embedded;
  onStarted?.(running);
  const stopReloading = embedded.tls ? reloadTlsOnSighup(opts, (m) => running.setTls(m), logger) : undefined;
  await new Promise<void>((resolve) => {
    // SIGHUP re-reads the config files (the result is logged: src/gateway/reload.ts).
    const reload = () => void running.reload();
    let delayed: { timer: NodeJS.Timeout; finish: () => void } | undefined;
    const finish = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      logger.info('shutting down: finishing in-flight requests');
      void embedded.close().then(resolve);
    };
    const stop = (signal: NodeJS.Signals) => {
      if (delayed) {
        // A second signal during the delay: stop waiting for the load balancer (a third one kills the process).
        clearTimeout(delayed.timer);
        logger.info({ signal }, 'shutting down now: the shutdown delay is cut short');
        delayed.finish();
        return;
      }
      process.off('SIGHUP', reload);
      stopReloading?.();
      const delayMs = opts.shutdownDelay ?? 0;
      if (delayMs === 0) {
        logger.info({ signal }, 'shutting down');
        finish();
        return;
      }
      // Not ready, still serving: health checks on /readyz take this gateway out of the load balancer while
      // requests already routed here are answered; only then does it stop accepting.
      running.drain();
      logger.info({ signal, delay_ms: delayMs }, 'shutting down: /readyz answers 503 while the load balancer takes this gateway out, then it stops accepting');
      let once = false;
      const finishOnce = () => {
        if (once) return;
        once = true;
        finish();
      };
      delayed = { timer: setTimeout(finishOnce, delayMs), finish: finishOnce };
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', reload);
  });
  return 0;
}

export interface EmbeddedGatewayOptions extends GatewayRunOptions {
  /**
   * false: write decision events straight to the store instead of through the data dir's journal and its
   * ingest thread (`kt run` does this, so it can share a data dir with a running `kt gateway run`).
   */
  journal?: boolean;
}

export interface EmbeddedGateway {
  running: RunningGateway;
  logger: Logger;
  /** Serving HTTPS. */
  tls: boolean;
  /** Stop listening, finish in-flight requests, then close the audit trail and the other stores. Idempotent. */
  close(): Promise<void>;
}

/**
 * Load the config and start a gateway with everything it uses (audit trail, budgets and rate limits, virtual
 * keys, attribution defaults), without waiting for signals. Rejects with a one-line message (config errors
 * are printed to stderr first) when it cannot start; whatever was opened is closed again.
 */
export async function startGatewayFromOptions(opts: EmbeddedGatewayOptions): Promise<EmbeddedGateway> {
  const logger = createLogger(opts.logLevel, opts.logFormat);
  const files = opts.policyConfig ?? (existsSync('policy-config.yaml') ? ['policy-config.yaml'] : []);
  const listen = parseListen(opts.listen);
  const tls = listenerTls(opts.listen, listen.host, opts);
  const clientAuth: ClientAuth = opts.clientAuth ?? (isLoopback(listen.host) ? 'none' : 'virtual-key');
  const { loaded, diagnostics } = await loadConfig(files);
  if (!loaded) {
    printDiagnostics(diagnostics);
    throw new Error(`the config has ${countBySeverity(diagnostics).errors} error(s); the gateway did not start`);
  }
  warnAboutConfig(logger, diagnostics);
  const { config } = loaded;
  const dataDir = resolveDataDir(opts.dataDir);
  secureDataDir(dataDir, (fields, message) => logger.warn(fields, message));
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => logger.error({ err: describeStartError(err) }, 'closing failed'));
  };
  try {
    // Attribution defaults: the flags, then the git identity of the directory the gateway starts in.
    const git = await detectGitIdentity(process.cwd());
    const defaults = {
      ...(opts.developer ? { developer: opts.developer } : {}),
      ...(opts.repository ? { repository: opts.repository } : {}),
      ...(opts.team ? { team: opts.team } : {}),
    };

    let directStore: EventStore | undefined;
    if (opts.journal === false && auditConfigOf(loaded)) {
      directStore = await openEventStore({ dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}), writerThread: false });
    }
    let trail: AuditTrail | undefined;
    try {
      trail = await startAuditTrail({
        loaded,
        dataDir,
        ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
        ...(opts.gatewayId ? { gatewayId: opts.gatewayId } : {}),
        ...(opts.anchorFile ? { anchorFile: opts.anchorFile } : {}),
        ...(directStore ? { store: directStore } : {}),
        defaults,
        git,
        failMode: opts.failMode,
        logger,
      });
    } catch (err) {
      await directStore?.close().catch(() => undefined);
      // Who this gateway is, by its token, is a whole sentence about the start itself: said as it is.
      if ((err as Error)?.name === 'GatewayIdentityError') throw new Error(`the gateway cannot start: ${(err as Error).message}`);
      throw new Error(`the audit trail could not start: ${describeStartError(err)}`);
    }
    if (trail) closers.push(() => trail.close());

    const limits = createLimitEngine(config, { ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}), ...(opts.redisKeyPrefix ? { keyPrefix: `${opts.redisKeyPrefix}:` } : {}), onBackendError: opts.failMode, onError: (message) => logger.warn({ err: message }, 'budgets and rate limits: backend error') });
    if (limits) closers.push(() => limits.close());
    // The console reads the gateway's own store; its sign-in token lives in memory and is printed once.
    // The token is a file in the data dir (mode 0600), never a log line: `kt console url` prints a sign-in link.
    // Escalations go to the control plane when the gateway reports to one, else to its own store.
    const env = process.env;
    const escalationStore: EscalationStore =
      env.KEEPTRUSTS_API_URL && env.KEEPTRUSTS_GATEWAY_TOKEN
        ? new RemoteEscalationStore(env.KEEPTRUSTS_API_URL, env.KEEPTRUSTS_GATEWAY_TOKEN)
        : await openEscalationStore({ dataDir, databaseUrl: opts.databaseUrl });
    closers.push(() => escalationStore.close());
    const escalations = new EscalationDesk(escalationStore, DEFAULT_ESCALATION, { logger });
    const deliveryLog = await DeliveryLog.create(await openSqlDriver({ dataDir, databaseUrl: opts.databaseUrl }));
    closers.push(() => deliveryLog.close());
    let warnedLog = false;
    const webhooks = new WebhookDispatcher({
      logger,
      log: deliveryLog,
      onLogError: (err) => {
        if (!warnedLog) logger.warn({ err: describeStartError(err) }, 'the webhook delivery log could not be written');
        warnedLog = true;
      },
    });
    closers.push(() => webhooks.close());
    const localConsole = trail
      ? createLocalConsole({
          store: trail.store,
          logger,
          token: consoleToken(dataDir),
          ...(limits ? { limits } : {}),
          // The console decides on the queue it can reach: the gateway's own store (a control plane has its own console).
          ...(escalationStore.kind !== 'remote' ? { escalations: escalationStore } : {}),
        })
      : undefined;
    const virtualKeys = await openVirtualKeyStore({ dataDir, ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}) });
    closers.push(() => virtualKeys.close());
    const tracing = await startTracing(config.telemetry?.traces, process.env, logger);
    if (tracing) closers.push(() => tracing.close());

    let running: RunningGateway;
    try {
      running = await startGateway({
        ...(trail ? { audit: { recorder: trail.recorder, settings: trail.settings, exportStats: trail.exportStats }, markerSalt: trail.salt } : {}),
        ...(limits ? { limits } : {}),
        virtualKeys,
        escalations,
        webhooks,
        ...(localConsole ? { console: localConsole } : {}),
        attribution: { defaults, git },
        metrics: opts.metrics,
        access: { ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}), ...(opts.allowedOrigins ? { allowedOrigins: opts.allowedOrigins } : {}) },
        ...(opts.metricsToken ? { metricsToken: opts.metricsToken } : {}),
        loaded,
        host: listen.host,
        port: listen.port,
        logger,
        failMode: opts.failMode,
        maxConcurrency: opts.maxConcurrency,
        maxBodyBytes: opts.maxBodyBytes,
        maxResponseBytes: opts.maxResponseBytes,
        listener: listenerFlags(opts),
        ...(tls ? { tls } : {}),
        clientAuth,
        ...(tracing ? { tracing } : {}),
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(
        err instanceof MissingSecretError
          ? err.message
          : e.code === 'EADDRINUSE'
            ? `${opts.listen} is already in use (another gateway running?); choose another address with --listen`
            : e.code === 'EACCES'
              ? `not allowed to listen on ${opts.listen}`
              : `could not start: ${e.message}`,
      );
    }

    logger.info(
      { url: running.url, config: `${config.pack.name}@${config.pack.version}`, policies: config.pack.enabled ? config.policies.chain : [], targets: config.providers.targets.map((t) => t.id) },
      `keeptrusts gateway listening on ${running.url}`,
    );
    if (tls) logger.info({ certificate: tls.summary }, 'serving HTTPS (kill -HUP the gateway to load a renewed certificate)');
    else if (!isLoopback(listen.host)) logger.warn({ listen: opts.listen }, 'serving plain HTTP beyond loopback (--insecure-listen): only a TLS-terminating proxy in front keeps keys and prompts off the network');
    if (clientAuth === 'virtual-key') {
      const keys = (await virtualKeys.list()).filter((k) => !k.revoked_at).length;
      logger.info({ client_auth: clientAuth, virtual_keys: keys }, 'client authentication on: every API request needs a gateway virtual key (kt-vk-…) as its API key, others get 401 virtual_key_required (--client-auth none serves any client)');
      if (keys === 0) logger.warn('no virtual keys yet, so every API request is refused: create one per developer with kt keys create --developer NAME (same --data-dir or --database-url)');
    } else if (!isLoopback(listen.host)) {
      logger.warn(
        { client_auth: clientAuth, listen: opts.listen },
        config.providers.targets.some((t) => t.secret_key_ref)
          ? 'client authentication off (--client-auth none) beyond loopback while targets hold provider keys: anyone who can reach this address can spend them'
          : 'client authentication off (--client-auth none) beyond loopback: anyone who can reach this address can use the gateway',
      );
    }
    if (!isLoopback(listen.host) && !opts.allowedHosts?.length) {
      logger.warn({ listen: opts.listen }, 'answering to any Host name beyond loopback: list the names clients use with --allowed-hosts to refuse DNS-rebinding requests');
    }
    if (!isLoopback(listen.host) && opts.metrics !== false && !opts.metricsToken) {
      logger.info('/metrics beyond loopback needs a token: set --metrics-token (KEEPTRUSTS_METRICS_TOKEN) for Prometheus');
    }
    if (opts.allowedOrigins?.length) logger.info({ origins: opts.allowedOrigins }, 'browser pages from these origins may call the API (CORS)');
    if (trail) {
      logger.info(
        { store: trail.store.kind, gateway_id: trail.settings.gatewayId, capture: trail.settings.capture, shipping: trail.shipper ? 'on' : 'off' },
        'audit trail on: one decision event per request (kt events tail)',
      );
    } else {
      logger.info('audit trail off: add audit-logger to policies.chain to record decision events');
    }
    if (localConsole) logger.info({ url: `${running.url}/console`, token_file: join(dataDir, 'console-token') }, 'console ready: open it with a sign-in link from `kt console url`');
    if (limits) logger.info({ backend: opts.redisUrl ? 'redis' : 'memory', budgets: config.budgets.length, rate_limits: config.rate_limits.length }, 'budgets and rate limits on');
    const attributed = { developer: defaults.developer ?? git.developer, repository: defaults.repository ?? git.repository };
    if (attributed.developer || attributed.repository) logger.info(attributed, 'requests that name nobody are attributed to');

    let closing: Promise<void> | undefined;
    return {
      running,
      logger,
      tls: tls !== undefined,
      close() {
        closing ??= (async () => {
          await running.close();
          await closeAll();
        })();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Letters, digits and `_ . -`: keys become `kt:<name>:budget:…`, and without a colon in the name no deployment's
 * keys can start with another's prefix.
 */
function redisKeyPrefix(value: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) throw new InvalidArgumentError('must be 1-64 letters, digits or _ . - (e.g. prod-eu).');
  return value;
}

/** At most 5 minutes: a delay is for health checks to notice, not a way to keep a stopped gateway around. */
const MAX_SHUTDOWN_DELAY_MS = 300_000;
function shutdownDelay(value: string): number {
  const ms = nonNegativeDuration('--shutdown-delay')(value);
  if (ms > MAX_SHUTDOWN_DELAY_MS) throw new InvalidArgumentError('--shutdown-delay must be at most 5m.');
  return ms;
}

function describeStartError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  // Connection errors from pg can carry the URL; say what failed without it.
  if (e?.code === 'ECONNREFUSED') return 'the database refused the connection';
  return (e?.message ?? String(err)).replace(/postgres(ql)?:\/\/[^\s]+/g, 'postgres://…').slice(0, 300);
}

function printDiagnostics(diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
}

/** The warnings users hit as "policies are not applied" are repeated in the gateway log at start. */
function warnAboutConfig(logger: Logger, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) {
    if (d.severity === 'warning') logger.warn({ code: d.code, at: d.file ? `${d.file}:${d.line ?? 1}` : undefined }, d.message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// An embedded gateway (kt run): started like `kt gateway run`, stopped by the caller instead of by signals.

