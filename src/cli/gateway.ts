import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { countBySeverity, formatDiagnostic, loadConfig, type Diagnostic } from '../config/index.js';
import { isLoopback, parseListen } from '../gateway/listen.js';
import { createLogger, LOG_LEVELS, type LogLevel, type Logger } from '../gateway/logger.js';
import { startGateway, type RunningGateway } from '../gateway/server.js';
import { MissingSecretError } from '../providers/credentials.js';
import { byteSize, collect, oneOf, positiveInt } from './options.js';

export const DEFAULT_LISTEN = '127.0.0.1:41002';
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_CONCURRENCY = 128;

export interface GatewayRunOptions {
  policyConfig?: string[];
  listen: string;
  logLevel: LogLevel;
  logFormat?: 'text' | 'json';
  failMode: 'block' | 'allow';
  maxConcurrency: number;
  maxBodyBytes: number;
}

export function gatewayCommand(): Command {
  const gateway = new Command('gateway').description('Run the governance gateway between AI clients and providers');
  gateway
    .command('run')
    .description('Start the gateway: OpenAI (/v1/chat/completions, /v1/responses) and Anthropic (/v1/messages) APIs')
    .option('-c, --policy-config <path>', 'policy config file; repeat to layer files (later files win: maps merge, lists replace)', collect)
    .option('--listen <host:port>', 'address to listen on; use 0.0.0.0:41002 for a shared team gateway', DEFAULT_LISTEN)
    .addOption(new Option('--log-level <level>', 'log verbosity; debug adds one line per request').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'log line format (default: text on a terminal, json otherwise)').choices(['text', 'json']))
    .addOption(
      new Option('--fail-mode <mode>', 'what to do when a policy itself fails: block the request, or allow it')
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
    .addHelpText(
      'after',
      `
Without --policy-config, ./policy-config.yaml is used if it exists.

Point clients at the gateway:
  OpenAI clients (Aider, openai SDK):   OPENAI_API_BASE=http://localhost:41002/v1
  Anthropic clients (Claude Code):      ANTHROPIC_BASE_URL=http://localhost:41002     (no /v1)

Examples:
  $ kt gateway run --policy-config policy-config.yaml
  $ kt gateway run -c base.yaml -c team.yaml --listen 0.0.0.0:41002 --log-level debug`,
    )
    .action(async (opts: GatewayRunOptions) => {
      process.exitCode = await runGateway(opts);
    });
  return gateway;
}

/** Load the config, start the gateway, and run until SIGINT/SIGTERM. Resolves with the process exit code. */
export async function runGateway(opts: GatewayRunOptions, onStarted?: (g: RunningGateway) => void): Promise<number> {
  const logger = createLogger(opts.logLevel, opts.logFormat);
  const files = opts.policyConfig ?? (existsSync('policy-config.yaml') ? ['policy-config.yaml'] : []);
  let listen: { host: string; port: number };
  try {
    listen = parseListen(opts.listen);
  } catch (err) {
    process.stderr.write(`kt gateway run: ${(err as Error).message}\n`);
    return 1;
  }
  const { loaded, diagnostics } = await loadConfig(files);
  if (!loaded) {
    printDiagnostics(diagnostics);
    process.stderr.write(`kt gateway run: the config has ${countBySeverity(diagnostics).errors} error(s); the gateway did not start\n`);
    return 1;
  }
  warnAboutConfig(logger, diagnostics);

  let running: RunningGateway;
  try {
    running = await startGateway({
      loaded,
      host: listen.host,
      port: listen.port,
      logger,
      failMode: opts.failMode,
      maxConcurrency: opts.maxConcurrency,
      maxBodyBytes: opts.maxBodyBytes,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const message =
      err instanceof MissingSecretError
        ? err.message
        : e.code === 'EADDRINUSE'
          ? `${opts.listen} is already in use (another gateway running?); choose another address with --listen`
          : e.code === 'EACCES'
            ? `not allowed to listen on ${opts.listen}`
            : `could not start: ${e.message}`;
    process.stderr.write(`kt gateway run: ${message}\n`);
    return 1;
  }

  const { config } = loaded;
  logger.info(
    {
      url: running.url,
      config: `${config.pack.name}@${config.pack.version}`,
      policies: config.pack.enabled ? config.policies.chain : [],
      targets: config.providers.targets.map((t) => t.id),
    },
    `keeptrusts gateway listening on ${running.url}`,
  );
  if (!isLoopback(listen.host) && config.providers.targets.some((t) => t.secret_key_ref)) {
    logger.warn(
      { listen: opts.listen },
      'listening beyond loopback while targets hold provider keys: anyone who can reach this address can spend them',
    );
  }
  onStarted?.(running);

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: finishing in-flight requests');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
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
