import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../gateway/logger.js';
import { cleanValue, detectGitIdentity } from '../usage/identity.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENCY, startGatewayFromOptions, type EmbeddedGateway } from './gateway.js';
import { collect } from './options.js';

/**
 * `kt run [--gateway URL] -- <command> [args…]`: run a coding agent (aider, claude, codex, anything that reads
 * OPENAI_BASE_URL / ANTHROPIC_BASE_URL) through a gateway, attributed to the current git user and repository.
 */

export interface RunFlags {
  gateway?: string;
  /** Where the gateway started here listens; default a free loopback port. */
  listen?: string;
  policyConfig?: string[];
  developer?: string;
  repository?: string;
  team?: string;
  dataDir?: string;
  databaseUrl?: string;
  logLevel: LogLevel;
}

/** The quickstart config shipped with the package: src/cli/run.ts and dist/cli/run.js are both two levels down. */
export const PACKAGED_CONFIG = fileURLToPath(new URL('../../examples/quickstart/policy-config.yaml', import.meta.url));

/** `-c` files, else ./policy-config.yaml, else the packaged quickstart (pass-through with the default policies). */
export function runConfigFiles(given: string[] | undefined, cwd = process.cwd()): string[] {
  if (given?.length) return given;
  const local = join(cwd, 'policy-config.yaml');
  return [existsSync(local) ? local : PACKAGED_CONFIG];
}

/** `http://host:41002`, `http://host:41002/` and `http://host:41002/v1` all mean the gateway at `http://host:41002`. */
export function gatewayBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--gateway ${JSON.stringify(url)} is not a URL; expected e.g. http://localhost:41002`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`--gateway must be an http:// or https:// URL, not ${u.protocol}`);
  if (u.search || u.hash || u.username || u.password) throw new Error('--gateway takes a plain base URL, without credentials, query or fragment');
  return `${u.origin}${u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '')}`;
}

export const ATTRIBUTION_ENV = { developer: 'KEEPTRUSTS_DEVELOPER', repository: 'KEEPTRUSTS_REPOSITORY', team: 'KEEPTRUSTS_TEAM' } as const;

/**
 * The client's environment: base URLs at the gateway, and the attribution both as Claude Code's
 * ANTHROPIC_CUSTOM_HEADERS (one `name: value` a line; lines the user set for other headers are kept) and as
 * KEEPTRUSTS_DEVELOPER / _REPOSITORY / _TEAM, which a Codex provider can send with `env_http_headers`.
 */
export function clientEnv(base: NodeJS.ProcessEnv, gatewayUrl: string, who: { developer: string | null; repository: string | null; team: string | null }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, OPENAI_API_BASE: `${gatewayUrl}/v1`, OPENAI_BASE_URL: `${gatewayUrl}/v1`, ANTHROPIC_BASE_URL: gatewayUrl };
  const headers: string[] = [];
  for (const field of ['developer', 'repository', 'team'] as const) {
    const value = who[field];
    if (value === null) continue;
    headers.push(`x-keeptrusts-${field}: ${value}`);
    env[ATTRIBUTION_ENV[field]] = value;
  }
  const kept = (base.ANTHROPIC_CUSTOM_HEADERS ?? '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*x-keeptrusts-(developer|repository|team)\s*:/i.test(line));
  if (headers.length || kept.length) env.ANTHROPIC_CUSTOM_HEADERS = [...kept, ...headers].join('\n');
  return env;
}

/**
 * Who requests will be attributed to, and where each value came from. Only a default: a virtual key the client
 * authenticates with, or x-keeptrusts-* headers it sends itself (Aider's model settings, Codex's http_headers),
 * win at the gateway, and the banner must not claim otherwise.
 */
export function attributionBanner(who: { developer: string | null; repository: string | null; team: string | null }, flags: Pick<RunFlags, 'developer' | 'repository' | 'team'>): string {
  const part = (field: 'developer' | 'repository' | 'team', fromGit: string) => {
    const value = who[field];
    if (value === null) return undefined;
    return `${field} ${value} (${cleanValue(flags[field]) !== null ? `--${field}` : fromGit})`;
  };
  const parts = [part('developer', 'git user.email'), part('repository', 'git remote origin'), part('team', '')].filter((p) => p !== undefined);
  const named = parts.length > 0 ? `requests are attributed to ${parts.join(', ')}` : 'requests name no developer (set --developer or git config user.email)';
  return `${named}, unless the client sends a virtual key or x-keeptrusts-* headers of its own, which win`;
}

/** A child's end as a shell reports it: its exit code, or 128 + the number of the signal that ended it. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? (osConstants.signals as Record<string, number>)[signal] : undefined;
  return 128 + (n ?? 0);
}

class RunError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export async function runRun(command: string[], flags: RunFlags): Promise<number> {
  const [cmd, ...args] = command;
  if (!cmd) throw new RunError('nothing to run: give the command after --, e.g. kt run -- aider --model gpt-4o');

  const git = await detectGitIdentity(process.cwd());
  const who = {
    developer: cleanValue(flags.developer) ?? git.developer,
    repository: cleanValue(flags.repository) ?? git.repository,
    team: cleanValue(flags.team),
  };

  let embedded: EmbeddedGateway | undefined;
  let url: string;
  if (flags.gateway) {
    const local = [flags.listen ? '--listen' : '', flags.policyConfig?.length ? '--policy-config' : ''].filter(Boolean);
    if (local.length) throw new RunError(`${local.join(' and ')} configure the gateway kt run starts; with --gateway it starts none`);
    try {
      url = gatewayBase(flags.gateway);
    } catch (err) {
      throw new RunError((err as Error).message);
    }
  } else {
    const files = runConfigFiles(flags.policyConfig);
    try {
      embedded = await startGatewayFromOptions({
        policyConfig: files,
        listen: flags.listen ?? '127.0.0.1:0',
        logLevel: flags.logLevel,
        failMode: 'block',
        maxConcurrency: DEFAULT_MAX_CONCURRENCY,
        maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
        ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
        ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}),
        metrics: false,
        ...(who.developer ? { developer: who.developer } : {}),
        ...(who.repository ? { repository: who.repository } : {}),
        ...(who.team ? { team: who.team } : {}),
        // Several `kt run`s, and a `kt gateway run`, may share the data dir: no journal, which has one owner.
        journal: false,
      });
    } catch (err) {
      throw new RunError(`the gateway did not start: ${(err as Error).message}`);
    }
    url = embedded.running.url;
  }

  process.stderr.write(`kt run: ${embedded ? 'gateway started at' : 'using gateway'} ${url}; ${attributionBanner(who, flags)}\n`);

  try {
    return await runChild(cmd, args, clientEnv(process.env, url, who));
  } finally {
    await embedded?.close();
  }
}

/** Spawn with the terminal handed over, pass termination signals on, and resolve with the shell-style exit code. */
function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    // Ctrl+C at a terminal reaches the whole foreground process group, the child included; passing SIGINT on
    // as well would make it a double Ctrl+C (which quits Claude Code and aider). From elsewhere (kill, a
    // supervisor, no terminal), SIGINT is passed on. SIGTERM and SIGHUP always are.
    const forward = (signal: NodeJS.Signals) => {
      if (signal === 'SIGINT' && process.stdin.isTTY) return;
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, forward);
    const done = () => {
      for (const s of signals) process.off(s, forward);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      done();
      // The shell's codes: 127 not found, 126 found but not runnable.
      if (err.code === 'ENOENT') reject(new RunError(`command not found: ${cmd}`, 127));
      else if (err.code === 'EACCES') reject(new RunError(`permission denied: ${cmd}`, 126));
      else reject(new RunError(`could not start ${cmd}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      done();
      resolve(exitCodeOf(code, signal));
    });
  });
}

export function runCommand(): Command {
  return new Command('run')
    .description('Run a coding agent (aider, claude, codex, …) through a gateway, attributed to the current git user and repository')
    .usage('[options] -- <command> [args...]')
    .argument('<command...>', 'the client to run and its arguments (after --)')
    .option('--gateway <url>', 'use this running gateway (e.g. http://localhost:41002) instead of starting one')
    .option('--listen <host:port>', 'address of the gateway started here (default: a free port on 127.0.0.1); fix it for clients configured by file, such as Codex')
    .option('-c, --policy-config <path>', 'config for the gateway started here; repeat to layer files (default: ./policy-config.yaml, else the quickstart)', collect)
    .option('--developer <name>', 'attribute requests to this developer (default: git config user.email)')
    .option('--repository <name>', 'attribute requests to this repository (default: the origin remote as owner/repo)')
    .option('--team <name>', 'attribute requests to this team')
    .addOption(new Option('--data-dir <dir>', 'data dir of the gateway started here: events, signing key (default ~/.keeptrusts)').env('KEEPTRUSTS_DATA_DIR'))
    .addOption(new Option('--database-url <url>', 'the gateway started here stores events in PostgreSQL').env('KEEPTRUSTS_DATABASE_URL'))
    .addOption(new Option('--log-level <level>', "log level of the gateway started here (its lines go to stderr, among the client's)").choices(LOG_LEVELS).default('warn'))
    .addHelpText(
      'after',
      `
The client gets OPENAI_API_BASE and OPENAI_BASE_URL (<gateway>/v1) and ANTHROPIC_BASE_URL (<gateway>), and the
attribution as ANTHROPIC_CUSTOM_HEADERS (Claude Code sends these) and KEEPTRUSTS_DEVELOPER, KEEPTRUSTS_REPOSITORY,
KEEPTRUSTS_TEAM (for Codex's env_http_headers; aider takes headers from .aider.model.settings.yml). A gateway
started here attributes requests to them by default anyway; see docs/attribution.md.
kt run exits with the client's exit code (128 + the signal number when a signal ended it).

Examples:
  $ kt run -- aider --model gpt-4o
  $ kt run -c policy-config.yaml -- claude
  $ kt run --listen 127.0.0.1:41010 -- codex     (config.toml: base_url = "http://127.0.0.1:41010/v1")
  $ kt run --gateway http://gateway.internal:41002 --developer alice@example.com -- codex`,
    )
    .action(async (command: string[], flags: RunFlags) => {
      try {
        process.exitCode = await runRun(command, flags);
      } catch (err) {
        process.stderr.write(`kt run: ${(err as Error).message}\n`);
        process.exitCode = err instanceof RunError ? err.exitCode : 1;
      }
    });
}
