import { hostname } from 'node:os';
import { join } from 'node:path';
import { Command, Help, Option } from 'commander';
import { secureDataDir } from '../audit/data-dir.js';
import { openEventStore } from '../audit/open.js';
import { openEscalationStore, type SqlEscalationStore } from '../escalation/store.js';
import { resolveDataDir } from '../audit/paths.js';
import type { EventStore } from '../audit/store.js';
import { isLoopback, parseListen } from '../gateway/listen.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../gateway/logger.js';
import { DEFAULT_CONTROL_PLANE_LISTEN, startControlPlane, type RunningControlPlane } from '../server/app.js';
import { openTokenStore, TOKEN_ROLES, TokenInputError, type TokenRecord, type TokenRole, type TokenStore } from '../server/tokens.js';
import type { TlsMaterial } from '../gateway/tls.js';
import { listenerTls, reloadTlsOnSighup } from './listener-tls.js';
import { duration, hostList, listenerFlags, listenerOptions, oneOf, originList, plainList, tlsOptions, type ListenerFlags, type TlsFlags } from './options.js';
import { OidcClient, oidcSettings, type OidcFlags, type OidcSettings } from '../server/oidc.js';
import { openSessionStore, type SessionStore } from '../server/sessions.js';

export interface ServerOptions extends ListenerFlags, TlsFlags, OidcFlags {
  listen: string;
  dataDir?: string;
  databaseUrl?: string;
  logLevel: LogLevel;
  logFormat?: 'text' | 'json';
  allowedHosts?: string[];
  allowedOrigins?: string[];
}

/**
 * The control plane's data dir. Not the gateway's own (~/.keeptrusts): a gateway and a control plane on one
 * machine would otherwise share events.db, and the gateway's retention pruning would prune the copy.
 */
export function serverDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return flag ? resolveDataDir(flag, env) : join(resolveDataDir(undefined, env), 'control-plane');
}

export function serverCommand(): Command {
  const server = new Command('server')
    .description('Run the control plane that gateways ship their decision events to, and manage its tokens')
    .option('--listen <host:port>', 'address to listen on; beyond loopback it needs --tls-cert/--tls-key or --insecure-listen', DEFAULT_CONTROL_PLANE_LISTEN)
    .addOption(new Option('--data-dir <dir>', 'where the SQLite store lives (default: <KEEPTRUSTS_DATA_DIR or ~/.keeptrusts>/control-plane)').env('KEEPTRUSTS_SERVER_DATA_DIR'))
    .addOption(new Option('--database-url <url>', 'keep events and tokens in PostgreSQL instead of SQLite').env('KEEPTRUSTS_DATABASE_URL'))
    .addOption(new Option('--log-level <level>', 'log verbosity; debug adds one line per request').choices(LOG_LEVELS).default('info'))
    .addOption(new Option('--log-format <format>', 'log line format (default: text on a terminal, json otherwise)').choices(['text', 'json']));
  for (const o of tlsOptions()) server.addOption(o);
  for (const o of listenerOptions()) server.addOption(o);
  server
    .addOption(
      new Option('--allowed-hosts <names>', 'host names gateways and browsers use besides localhost and IP addresses, comma-separated (.corp.example: its subdomains; *: any)')
        .env('KEEPTRUSTS_ALLOWED_HOSTS')
        .argParser(hostList),
    )
    .addOption(
      new Option('--allowed-origins <origins>', 'browser origins whose pages may call the API, comma-separated (the console at /console needs none)')
        .env('KEEPTRUSTS_ALLOWED_ORIGINS')
        .argParser(originList),
    )
  for (const o of oidcOptions()) server.addOption(o);
  server
    .addHelpText(
      'after',
      `
API (every route but /health needs Authorization: Bearer <token>):
  POST /v1/events                  gateways ship their chains here (gateway tokens only)
  GET  /v1/events                  filters: since until verdict policy developer repository team model client gateway;
                                   limit (<= 1000), cursor, order=asc|desc, after, before
  GET  /v1/events/:id              one event
  GET  /v1/events/stream           live tail (server-sent events); same filters, ?after= or Last-Event-ID
  GET  /v1/chains, /v1/chains/:chain, /v1/chains/:chain/events, /v1/chains/:chain/checkpoints, /v1/keys
  GET  /v1/stats, /v1/usage, /v1/events/:id/verify, /v1/budgets
  GET  /v1/escalations, /v1/escalations/:id, /v1/exceptions        the escalation queue (docs/cli.md, kt escalations)
  POST /v1/escalations/:id/decision, /v1/exceptions/:id/revoke     reviewers (reviewer and admin tokens, console admins) decide and revoke
  POST /v1/escalations, /v1/escalations/:id/expire                 gateways (gateway tokens) open and expire
  GET  /console                    the web console (sign in with a reader token, or through OIDC; docs/console.md)
  GET  /auth/login, /auth/callback console sign-in through the OIDC provider (--oidc-issuer); POST /auth/logout
  GET  /v1/session                 who is signed in, their role and the CSRF token for POSTs
  GET  /v1/tokens, POST /v1/tokens, POST /v1/tokens/:id/revoke   token management (console admins only)

Examples:
  $ kt server
  $ kt server token create --gateway build-box-1
  $ kt server --listen 0.0.0.0:41003 --tls-cert cp.crt --tls-key cp.key --database-url postgres://keeptrusts@db/keeptrusts`,
    )
    .action(async (opts: ServerOptions) => {
      process.exitCode = await runServer(opts);
    });
  server.addCommand(tokenCommand());
  return server;
}

/** Console sign-in through an OIDC provider; the client secret comes only from the environment or a file. */
function oidcOptions(): Option[] {
  const list = (flag: string, env: string, what: string) => new Option(`${flag} <list>`, what).env(env).argParser(plainList);
  return [
    new Option('--oidc-issuer <url>', 'sign console users in through this OpenID Connect provider (its issuer URL; https)').env('KEEPTRUSTS_OIDC_ISSUER'),
    new Option('--oidc-client-id <id>', "this control plane's client id at the provider").env('KEEPTRUSTS_OIDC_CLIENT_ID'),
    new Option('--oidc-client-secret-file <file>', 'file holding the client secret (or set KEEPTRUSTS_OIDC_CLIENT_SECRET); never logged').env('KEEPTRUSTS_OIDC_CLIENT_SECRET_FILE'),
    new Option('--oidc-redirect-url <url>', 'https://<this control plane>/auth/callback as browsers reach it; register it at the provider').env('KEEPTRUSTS_OIDC_REDIRECT_URL'),
    list('--oidc-scopes', 'KEEPTRUSTS_OIDC_SCOPES', 'scopes to ask for, comma-separated (default: openid,email,profile; add groups where the provider needs it)'),
    new Option('--oidc-groups-claim <name>', 'the claim that lists the user\'s groups (default: groups)').env('KEEPTRUSTS_OIDC_GROUPS_CLAIM'),
    list('--oidc-admin-groups', 'KEEPTRUSTS_OIDC_ADMIN_GROUPS', 'members of these groups sign in as admin (may manage tokens)'),
    list('--oidc-reader-groups', 'KEEPTRUSTS_OIDC_READER_GROUPS', 'members of these groups sign in as reader (events, usage, costs)'),
    list('--oidc-admin-domains', 'KEEPTRUSTS_OIDC_ADMIN_DOMAINS', 'verified e-mail addresses in these domains sign in as admin'),
    list('--oidc-reader-domains', 'KEEPTRUSTS_OIDC_READER_DOMAINS', 'verified e-mail addresses in these domains sign in as reader'),
    list('--oidc-admin-emails', 'KEEPTRUSTS_OIDC_ADMIN_EMAILS', 'these verified e-mail addresses sign in as admin'),
    list('--oidc-reader-emails', 'KEEPTRUSTS_OIDC_READER_EMAILS', 'these verified e-mail addresses sign in as reader'),
    new Option('--session-ttl <duration>', 'how long a console sign-in lasts (default 8h; 1m to 30d)').env('KEEPTRUSTS_SESSION_TTL').argParser(duration('--session-ttl')),
  ];
}

/** Open the stores, start the control plane and run until SIGINT/SIGTERM. Resolves with the exit code. */
export async function runServer(opts: ServerOptions, onStarted?: (p: RunningControlPlane) => void): Promise<number> {
  const logger = createLogger(opts.logLevel, opts.logFormat);
  let listen: { host: string; port: number };
  let tls: TlsMaterial | undefined;
  let oidc: OidcSettings | null;
  try {
    listen = parseListen(opts.listen);
    tls = listenerTls(opts.listen, listen.host, opts);
    oidc = oidcSettings(opts);
  } catch (err) {
    process.stderr.write(`kt server: ${(err as Error).message}\n`);
    return 1;
  }
  const dataDir = serverDataDir(opts.dataDir);
  const databaseUrl = opts.databaseUrl || undefined;
  let store: EventStore | undefined;
  let tokens: TokenStore | undefined;
  let sessions: SessionStore | undefined;
  let escalations: SqlEscalationStore | undefined;
  let plane: RunningControlPlane;
  try {
    if (!databaseUrl) secureDataDir(dataDir, (fields, message) => logger.warn(fields, message));
    store = await openEventStore({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
    tokens = await openTokenStore({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
    if (oidc) sessions = await openSessionStore({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
    escalations = await openEscalationStore({ dataDir, databaseUrl });
    const access = { ...(opts.allowedHosts ? { allowedHosts: opts.allowedHosts } : {}), ...(opts.allowedOrigins ? { allowedOrigins: opts.allowedOrigins } : {}) };
    plane = await startControlPlane({
      host: listen.host,
      port: listen.port,
      store,
      tokens,
      escalations,
      logger,
      access,
      listener: listenerFlags(opts),
      ...(tls ? { tls } : {}),
      ...(oidc && sessions ? { oidc: { client: new OidcClient(oidc, logger), sessions } } : {}),
    });
  } catch (err) {
    await escalations?.close().catch(() => {});
    await sessions?.close().catch(() => {});
    await tokens?.close().catch(() => {});
    await store?.close().catch(() => {});
    const e = err as NodeJS.ErrnoException;
    const message =
      e.code === 'EADDRINUSE'
        ? `${opts.listen} is already in use (another control plane running?); choose another address with --listen`
        : e.code === 'EACCES'
          ? `not allowed to listen on ${opts.listen}`
          : `could not start: ${redactUrls(e.message)}`;
    process.stderr.write(`kt server: ${message}\n`);
    return 1;
  }

  const active = (await tokens.list()).filter((t) => !t.revoked_at);
  logger.info(
    { url: plane.url, store: store.kind, ...(databaseUrl ? { database: redactUrls(databaseUrl) } : { data_dir: dataDir }), tokens: active.length },
    `keeptrusts control plane listening on ${plane.url}`,
  );
  if (oidc) {
    logger.info(
      { console: `${plane.url}/console/`, issuer: oidc.issuer.href, client_id: oidc.clientId, redirect_url: oidc.redirectUrl.href, session_ttl_s: oidc.sessionTtlMs / 1000 },
      `web console at ${plane.url}/console/ (sign in through ${oidc.issuer.host}, or with a reader or reviewer token)`,
    );
    const redirectHost = oidc.redirectUrl.hostname;
    // A loopback listener, or one with --allowed-hosts, refuses Host names it was not told about (src/gateway/request-guard.ts).
    const refusesNames = isLoopback(listen.host) || (opts.allowedHosts?.length ?? 0) > 0;
    if (refusesNames && !['localhost', '127.0.0.1', '[::1]'].includes(redirectHost) && !redirectHost.endsWith('.localhost') && !(opts.allowedHosts ?? []).some((h) => h === '*' || h === redirectHost || (h.startsWith('.') && redirectHost.endsWith(h)) || (h.startsWith('*.') && redirectHost.endsWith(h.slice(1))))) {
      logger.warn({ redirect_url: oidc.redirectUrl.href }, `browsers come back to ${redirectHost}: add it to --allowed-hosts, or the sign-in callback is refused`);
    }
  } else logger.info({ console: `${plane.url}/console/` }, `web console at ${plane.url}/console/ (sign in with a reader token: kt server token create --role reader --gateway NAME)`);
  if (active.length === 0) logger.warn('no tokens yet: create one per gateway with kt server token create --gateway NAME');
  if (tls) logger.info({ certificate: tls.summary }, 'serving HTTPS (kill -HUP the control plane to load a renewed certificate)');
  else if (!isLoopback(listen.host)) logger.warn({ listen: opts.listen }, 'serving plain HTTP beyond loopback (--insecure-listen): only a TLS-terminating proxy in front keeps tokens and events off the network');
  if (!isLoopback(listen.host)) {
    // Every route but /health already needs a token (of any role): the control plane has no open API.
    if (!opts.allowedHosts?.length) logger.warn({ listen: opts.listen }, 'answering to any Host name beyond loopback: list the names gateways and browsers use with --allowed-hosts');
  }
  onStarted?.(plane);
  const stopReloading = tls ? reloadTlsOnSighup(opts, (m) => plane.setTls(m), logger) : undefined;

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      stopReloading?.();
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await plane.close();
  await escalations.close();
  await sessions?.close();
  await tokens.close();
  await store.close();
  return 0;
}

// ---- kt server token ------------------------------------------------------------------------------------------

interface StoreFlags {
  listen: string;
  dataDir?: string;
  databaseUrl?: string;
}

/**
 * The help of `kt server token …` lists, of `kt server`'s options, only those the token commands read: where
 * the token store is, and (for the hint `create` prints) the address gateways will use. Commander parses
 * `kt server`'s options wherever they appear, so they cannot be declared here again.
 */
function tokenHelp(globals: readonly string[]) {
  return {
    showGlobalOptions: true,
    visibleGlobalOptions(this: Help, cmd: Command): Option[] {
      return Help.prototype.visibleGlobalOptions.call(this, cmd).filter((o) => o.long !== undefined && globals.includes(o.long));
    },
  };
}
const STORE_OPTIONS = ['--data-dir', '--database-url'];

function tokenCommand(): Command {
  const token = new Command('token').description('Tokens gateways and readers present to the control plane (stored hashed)');
  token.configureHelp(tokenHelp(STORE_OPTIONS));
  token
    .command('create')
    .description('Create a token and print it once')
    .requiredOption('--gateway <name>', "the gateway's id (its --gateway-id / KEEPTRUSTS_GATEWAY_ID): the one chain a gateway token may write; a label for a reader")
    .addOption(new Option('--role <role>', 'gateway: ship events and read; reader: read only; reviewer: read and decide escalations; admin: also manage tokens').choices(TOKEN_ROLES).default('gateway').argParser(oneOf(TOKEN_ROLES)))
    .configureHelp(tokenHelp([...STORE_OPTIONS, '--listen']))
    .addHelpText('after', '\nWith create, --listen only names the control plane in the KEEPTRUSTS_API_URL hint printed after the token.\n\nExamples:\n  $ kt server token create --gateway gw-laptop\n  $ kt server token create --role reader --gateway console-alice\n  $ kt server token create --role reviewer --gateway security-oncall')
    .action(async (opts: { gateway: string; role: TokenRole }, cmd: Command) => {
      process.exitCode = await withTokens(cmd, 'token create', async (tokens, flags) => {
        const { token: secret, record } = await tokens.create({ gateway: opts.gateway, role: opts.role });
        process.stdout.write(`${secret}\n`);
        const api = apiUrlHint(flags.listen);
        const hint =
          record.role === 'gateway'
            ? `KEEPTRUSTS_API_URL=${api} KEEPTRUSTS_GATEWAY_TOKEN=<the token above> kt gateway run   (the gateway runs as ${record.gateway})`
            : `KEEPTRUSTS_API_URL=${api} KEEPTRUSTS_API_TOKEN=<the token above> kt events tail`;
        process.stderr.write(`created ${record.id} for ${record.gateway} (role ${record.role}); the token is shown only this once.\n  ${hint}\n`);
      });
    });
  token
    .command('list')
    .description('List tokens (never the tokens themselves)')
    .option('--json', 'one JSON array')
    .configureHelp(tokenHelp(STORE_OPTIONS))
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      process.exitCode = await withTokens(cmd, 'token list', async (tokens) => {
        const list = await tokens.list();
        process.stdout.write(opts.json ? `${JSON.stringify(list, null, 2)}\n` : formatTokens(list));
      });
    });
  token
    .command('revoke')
    .description('Revoke a token by id (tok_...); the control plane refuses it from the next request on')
    .argument('<id>', 'token id, from kt server token list')
    .configureHelp(tokenHelp(STORE_OPTIONS))
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      process.exitCode = await withTokens(cmd, 'token revoke', async (tokens) => {
        if (!(await tokens.revoke(id))) throw new TokenInputError(`no token with id ${id} (see kt server token list)`);
        const record = (await tokens.list()).find((t) => t.id === id);
        process.stderr.write(`revoked ${id}${record ? ` (${record.gateway}, ${record.role})` : ''}\n`);
      });
    });
  return token;
}

async function withTokens(cmd: Command, name: string, fn: (tokens: TokenStore, flags: StoreFlags) => Promise<void>): Promise<number> {
  // --data-dir and --database-url belong to `kt server`; commander hands them to the parent wherever they appear.
  const flags = cmd.optsWithGlobals<StoreFlags>();
  let tokens: TokenStore | undefined;
  try {
    const databaseUrl = flags.databaseUrl || undefined;
    tokens = await openTokenStore({ dataDir: serverDataDir(flags.dataDir), ...(databaseUrl ? { databaseUrl } : {}) });
    await fn(tokens, flags);
    return 0;
  } catch (err) {
    process.stderr.write(`kt server ${name}: ${redactUrls((err as Error).message)}\n`);
    return 1;
  } finally {
    await tokens?.close().catch(() => {});
  }
}

function formatTokens(list: readonly TokenRecord[]): string {
  if (list.length === 0) return 'no tokens; create one with kt server token create --gateway NAME\n';
  const rows = [['ID', 'GATEWAY', 'ROLE', 'CREATED', 'REVOKED'], ...list.map((t) => [t.id, t.gateway, t.role, t.created_at, t.revoked_at ?? '-'])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`).join('');
}

/** The URL gateways would use, from --listen: a wildcard address means this host's name. */
function apiUrlHint(listen: string): string {
  try {
    const { host, port } = parseListen(listen);
    const shown = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host;
    return `http://${shown}:${port}`;
  } catch {
    return `http://${DEFAULT_CONTROL_PLANE_LISTEN}`;
  }
}

/** Database URLs in messages lose their password. */
function redactUrls(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
}
