import { createPublicKey, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { canonicalJson } from '../audit/canonical.js';
import { GENESIS_HASH, linkHash, type ChainedEvent, type ChainRecord, type Checkpoint } from '../audit/chain.js';
import { blobsValid } from '../audit/blobs.js';
import { listenHttp } from '../gateway/listen.js';
import type { TlsMaterial } from '../gateway/tls.js';
import { accessRules, RequestGuard, type AccessOptions, type Refusal } from '../gateway/request-guard.js';
import type { DecisionEvent } from '../audit/event.js';
import { keyIdOf, verifyCheckpoint, verifyRecord } from '../audit/keys.js';
import {
  ChainConflictError,
  USAGE_GROUP_BY,
  type EventFilter,
  type EventStore,
  type IndexedColumns,
  type PublicKeyRecord,
  type StoredEvent,
  type UsageGroupBy,
} from '../audit/store.js';
import { parseTimeSpec } from '../cli/time-range.js';
import { closesConnection, readBody, type BodyLimits } from '../gateway/body.js';
import { createBoundedServer, listenerLimits, type ListenerLimits } from '../gateway/bounded-server.js';
import { GatewayError } from '../gateway/errors.js';
import type { Logger } from '../gateway/logger.js';
import type { Verdict } from '../policy/types.js';
import type { LimitEngine } from '../usage/limits/types.js';
import { budgetsReport, CONSOLE_PATH, serveConsole, statsReport, verifyEventReport } from './console.js';
import { CALLBACK_PATH, LOGIN_TTL_MS, OidcLoginError, type OidcClient } from './oidc.js';
import type { ConsoleRole, Session, SessionStore } from './sessions.js';
import { TOKEN_ROLES, TokenInputError, type TokenRecord, type TokenRole, type TokenStore } from './tokens.js';
import { cookieNames, parseCookies, serializeCookie } from './cookies.js';
import type { EscalationStore } from '../escalation/types.js';
import { escalationApi, isApiFailure } from './escalations-api.js';

export const DEFAULT_CONTROL_PLANE_LISTEN = '127.0.0.1:41003';
export const MAX_POST_BYTES = 32 * 1024 * 1024;
export const MAX_POST_EVENTS = 5_000;
export const MAX_PAGE = 1_000;

export interface ControlPlaneOptions {
  host: string;
  port: number;
  store: EventStore;
  tokens: TokenStore;
  logger: Logger;
  maxBodyBytes?: number;
  /** How often live tails look for events other processes wrote (another control plane on the same PostgreSQL). */
  pollMs?: number;
  keepAliveMs?: number;
  /** Budgets as the limit engine keeps them, for `GET /v1/budgets` (the console's costs page); absent on a control plane. */
  limits?: Pick<LimitEngine, 'status'>;
  /** Host names and browser origins served besides loopback names (--allowed-hosts, --allowed-origins). */
  access?: AccessOptions;
  /** Timeouts and the connection cap of the listener; each defaults as listenerLimits() says. */
  listener?: Partial<ListenerLimits>;
  /** Serve HTTPS with this certificate and key (--tls-cert, --tls-key). */
  tls?: TlsMaterial;
  /** Console sign-in through an OIDC provider (--oidc-*); without it only bearer tokens authenticate. */
  oidc?: { client: OidcClient; sessions: SessionStore };
  /** The escalation queue (`/v1/escalations`, `/v1/exceptions`); absent: those routes answer 404. */
  escalations?: EscalationStore;
}

export interface RunningControlPlane {
  url: string;
  port: number;
  /** The bounds in force: timeouts, connection cap. */
  limits: ListenerLimits;
  /** A new certificate and key for connections from now on (HTTPS only; open connections, live tails too, are kept). */
  setTls(material: TlsMaterial): void;
  /** Ends live tails and stops listening. The store and the token store belong to the caller. */
  close(): Promise<void>;
}

/** An event as the API shows it: its place and links, and the decision itself (the hashed body is canonicalJson(event)). */
export interface EventJson {
  pos: number;
  chain: string;
  seq: number;
  id: string;
  prev_hash: string;
  hash: string;
  event: DecisionEvent;
  /** Only on chain scans (`GET /v1/chains/:chain/events`), so remote verification can compare them to the body. */
  columns?: IndexedColumns;
}

export interface ChainJson {
  chain: string;
  head_seq: number | null;
  head_hash: string | null;
  first_seq: number | null;
}

type ErrorType =
  | 'invalid_request'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found'
  | 'method_not_allowed'
  | 'chain_conflict'
  | 'conflict'
  | 'chain_gap'
  | 'request_too_large'
  | 'request_timeout'
  | 'server_error';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: ErrorType,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const bad = (message: string) => new ApiError(400, 'invalid_request', message);
const forbidden = (message: string) => new ApiError(403, 'permission_error', message);
const unauthorized = (message: string) => new ApiError(401, 'authentication_error', message, { 'www-authenticate': 'Bearer realm="keeptrusts"' });

// ---- request shapes -------------------------------------------------------------------------------------------

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters');
const name = z.string().min(1).max(256);

const ChainedEventSchema = z.object({
  chain: name,
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  id: name,
  body: z.string().min(2).max(MAX_POST_BYTES),
  prev_hash: hex64,
  hash: hex64,
});

const CheckpointSchema = z.object({
  chain: name,
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  hash: hex64,
  ts: z.string().min(1).max(64),
  key_id: name,
  signature: z.string().min(1).max(512),
});

const RecordSchema = z.object({
  chain: name,
  kind: z.enum(['prune', 'adopt', 'break']),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  hash: hex64,
  ts: z.string().min(1).max(64),
  detail: z.record(z.string().max(64), z.union([z.string().max(1024), z.number(), z.null()])).refine((d) => Object.keys(d).length <= 16, 'at most 16 detail fields'),
  key_id: name,
  signature: z.string().min(1).max(512),
});

const KeySchema = z.object({ key_id: name, public_key: z.string().min(1).max(4096), created_at: z.string().min(1).max(64) });

const PostBodySchema = z.object({
  events: z.array(ChainedEventSchema).max(MAX_POST_EVENTS),
  checkpoints: z.array(CheckpointSchema).max(MAX_POST_EVENTS).optional(),
  /** Signed chain records (prune, adopt, break), in the order the gateway stored them. */
  records: z.array(RecordSchema).max(MAX_POST_EVENTS).optional(),
  keys: z.array(KeySchema).max(16).optional(),
  /** Captured texts the events refer to by SHA-256 (hex). */
  blobs: z.record(z.string().regex(/^[0-9a-f]{64}$/), z.string()).optional(),
});

const VERDICTS: readonly Verdict[] = ['allow', 'flag', 'redact', 'block', 'escalate'];
const text = z.string().max(4096).nullable();

/**
 * Only what the filter columns are computed from is checked: the rest of the event is the gateway's to
 * describe (and its schema grows), while these fields must be there for the event to be stored and found.
 */
const DecisionEventShape = z.looseObject({
  id: z.string(),
  ts: z.string().refine((s) => Number.isFinite(Date.parse(s)), 'expected an RFC 3339 timestamp'),
  gateway_id: z.string(),
  verdict: z.enum(VERDICTS as [Verdict, ...Verdict[]]),
  identity: z.looseObject({ developer: text, repository: text, team: text, client: text }),
  model_requested: text,
  target: z.looseObject({ model: text }).nullable(),
  policies: z.array(z.looseObject({ kind: z.string() })),
});

function describeZod(err: z.ZodError, what: string): string {
  const issue = err.issues[0];
  if (!issue) return `invalid ${what}`;
  const path = issue.path.length ? issue.path.join('.') : what;
  return `${what}: ${path}: ${issue.message}`;
}

// ---- query parameters -----------------------------------------------------------------------------------------

const FILTER_PARAMS = ['since', 'until', 'verdict', 'policy', 'developer', 'repository', 'team', 'model', 'client', 'gateway', 'q', 'after', 'before'] as const;
const LIST_PARAMS = new Set<string>([...FILTER_PARAMS, 'limit', 'cursor', 'order']);
const STREAM_PARAMS = new Set<string>(FILTER_PARAMS.filter((p) => p !== 'before'));
const USAGE_PARAMS = new Set<string>([...FILTER_PARAMS.filter((p) => p !== 'after' && p !== 'before'), 'by']);
const STATS_PARAMS = new Set<string>(FILTER_PARAMS.filter((p) => p !== 'after' && p !== 'before'));

function nonNegativeInt(value: string, param: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw bad(`${param} must be a non-negative whole number`);
  return n;
}

/** Filters shared by the list and the stream; `after`/`before` bound the store position. */
export function parseFilter(params: URLSearchParams, allowed: ReadonlySet<string>, nowMs = Date.now()): EventFilter {
  for (const key of new Set(params.keys())) {
    if (!allowed.has(key)) throw bad(`unknown query parameter "${key.slice(0, 40)}"; allowed: ${[...allowed].join(', ')}`);
    if (key !== 'verdict' && params.getAll(key).length > 1) throw bad(`query parameter "${key}" given more than once`);
  }
  const filter: EventFilter = {};
  for (const [param, field] of [
    ['since', 'sinceMs'],
    ['until', 'untilMs'],
  ] as const) {
    const v = params.get(param);
    if (v === null) continue;
    try {
      filter[field] = parseTimeSpec(v, nowMs);
    } catch (err) {
      throw bad(`${param}: ${(err as Error).message}`);
    }
  }
  const verdicts = params
    .getAll('verdict')
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const v of verdicts) if (!(VERDICTS as readonly string[]).includes(v)) throw bad(`verdict must be among ${VERDICTS.join(', ')}`);
  if (verdicts.length) filter.verdict = verdicts as Verdict[];
  for (const col of ['policy', 'developer', 'repository', 'team', 'model', 'client', 'gateway'] as const) {
    const v = params.get(col);
    if (v !== null) filter[col] = v;
  }
  const q = params.get('q')?.trim();
  if (q) {
    if (q.length > 200) throw bad('q must be at most 200 characters');
    filter.q = q;
  }
  const after = params.get('after');
  if (after !== null) filter.afterPos = nonNegativeInt(after, 'after');
  const before = params.get('before');
  if (before !== null) filter.beforePos = nonNegativeInt(before, 'before');
  return filter;
}

/** `GET /v1/events`: a page, newest first unless `order=asc`; `cursor` continues in the same direction. */
export function parseListQuery(params: URLSearchParams, nowMs = Date.now()): EventFilter & { limit: number; order: 'asc' | 'desc' } {
  const filter = parseFilter(params, LIST_PARAMS, nowMs);
  const orderText = params.get('order') ?? 'desc';
  if (orderText !== 'asc' && orderText !== 'desc') throw bad('order must be asc or desc');
  const limitText = params.get('limit');
  const limit = limitText === null ? 100 : nonNegativeInt(limitText, 'limit');
  if (limit < 1 || limit > MAX_PAGE) throw bad(`limit must be from 1 to ${MAX_PAGE}`);
  const cursorText = params.get('cursor');
  if (cursorText !== null && cursorText !== '') {
    const cursor = nonNegativeInt(cursorText, 'cursor');
    if (orderText === 'asc') filter.afterPos = Math.max(filter.afterPos ?? 0, cursor);
    else filter.beforePos = Math.min(filter.beforePos ?? Number.MAX_SAFE_INTEGER, cursor);
  }
  return { ...filter, order: orderText, limit };
}

/** `GET /v1/usage`: the event filters (no positions) and `by`, which is required. */
export function parseUsageQuery(params: URLSearchParams, nowMs = Date.now()): { filter: EventFilter; by: UsageGroupBy } {
  const filter = parseFilter(params, USAGE_PARAMS, nowMs);
  const by = params.get('by');
  if (by === null) throw bad(`by is required: one of ${USAGE_GROUP_BY.join(', ')}`);
  if (!(USAGE_GROUP_BY as readonly string[]).includes(by)) throw bad(`by must be one of ${USAGE_GROUP_BY.join(', ')}`);
  return { filter, by: by as UsageGroupBy };
}

export function eventJson(e: StoredEvent, withColumns = false): EventJson {
  const out: EventJson = { pos: e.pos, chain: e.chain, seq: e.seq, id: e.id, prev_hash: e.prev_hash, hash: e.hash, event: e.event };
  if (withColumns && e.columns) out.columns = e.columns;
  return out;
}

// ---- live tails -------------------------------------------------------------------------------------------------

/**
 * Wakes live tails: at once after an ingest in this process, and from one shared poll of the store's newest
 * position for events other processes wrote. Each tail then reads its own filtered page.
 */
class LiveHub {
  private readonly subscribers = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private lastPos = -1;
  private polling = false;

  constructor(
    private readonly store: EventStore,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  subscribe(wake: () => void): () => void {
    this.subscribers.add(wake);
    this.timer ??= setInterval(() => void this.poll(), this.pollMs);
    return () => {
      this.subscribers.delete(wake);
      if (this.subscribers.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.lastPos = -1;
      }
    };
  }

  notify(): void {
    for (const wake of this.subscribers) wake();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const pos = await newestPos(this.store);
      if (pos !== this.lastPos) {
        this.lastPos = pos;
        this.notify();
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'live tail poll failed');
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.subscribers.clear();
  }
}

async function newestPos(store: EventStore): Promise<number> {
  const [top] = await store.query({ order: 'desc', limit: 1 });
  return top?.pos ?? 0;
}

// ---- the server ---------------------------------------------------------------------------------------------

interface Context {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  /** Set when a bearer token authenticated the request. */
  principal?: TokenRecord;
  /** Set when a console session cookie did (OIDC sign-in); its secret only to re-check it on live tails. */
  session?: Session;
  sessionSecret?: string;
}

/**
 * Whether a caller may do what needs `need`. Reading needs any valid credential (every token role, reader and
 * admin sessions: a gateway token could always read); admin needs an admin session or an admin token.
 */
export function roleAllows(have: TokenRole | ConsoleRole | undefined, need: ConsoleRole): boolean {
  if (have === undefined) return false;
  return need === 'reader' ? true : have === 'admin';
}

const TokenCreateSchema = z.strictObject({ gateway: z.string().min(1).max(128), role: z.enum(TOKEN_ROLES as [TokenRole, ...TokenRole[]]).optional() });
/** Paths a sign-in may return to: the console's own pages, never another origin. */
const RETURN_TO = /^\/console(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$/;

type Handler = (ctx: Context) => Promise<unknown>;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<'GET' | 'POST', Handler>>;
}

class ControlPlane {
  private readonly hub: LiveHub;
  private readonly tails = new Set<ServerResponse>();
  private readonly chainLocks = new Map<string, Promise<unknown>>();
  private readonly routes: Route[];
  private readonly maxBodyBytes: number;
  private readonly keepAliveMs: number;
  readonly listenerLimits: ListenerLimits;
  private readonly bodyLimits: BodyLimits;
  private readonly secureCookies: boolean;
  private readonly cookies: { session: string; login: string };

  constructor(private readonly opts: ControlPlaneOptions) {
    // Secure when browsers reach us over HTTPS: our own TLS, or a proxy in front (the registered redirect URL says so).
    this.secureCookies = opts.tls !== undefined || opts.oidc?.client.settings.redirectUrl.protocol === 'https:';
    this.cookies = cookieNames(this.secureCookies);
    this.hub = new LiveHub(opts.store, opts.pollMs ?? 1_000, opts.logger);
    this.maxBodyBytes = opts.maxBodyBytes ?? MAX_POST_BYTES;
    this.keepAliveMs = opts.keepAliveMs ?? 15_000;
    // The PostgreSQL pools beside it take the place of upstream connections.
    this.listenerLimits = listenerLimits(opts.listener ?? {}, 32);
    this.bodyLimits = { maxBytes: this.maxBodyBytes, idleTimeoutMs: this.listenerLimits.bodyIdleTimeoutMs, totalTimeoutMs: this.listenerLimits.requestTimeoutMs };
    // Order matters: `/v1/events/stream` before `/v1/events/:id`.
    this.routes = [
      { pattern: /^\/health$/, methods: { GET: async () => ({ status: 'ok', store: opts.store.kind }) } },
      // Who a token belongs to: a gateway started with only its token learns its id (its chain) from here.
      { pattern: /^\/v1\/whoami$/, methods: { GET: this.authed(async (c) => (c.principal ? { gateway: c.principal.gateway, role: c.principal.role, token_id: c.principal.id } : this.sessionJson(c))) } },
      { pattern: /^\/v1\/blobs$/, methods: { GET: this.authed((c) => this.getBlobs(c)) } },
      { pattern: /^\/v1\/events$/, methods: { GET: this.authed((c) => this.listEvents(c)), POST: this.authed((c) => this.postEvents(c)) } },
      { pattern: /^\/v1\/events\/stream$/, methods: { GET: this.authed((c) => this.stream(c)) } },
      { pattern: /^\/v1\/events\/([^/]+)$/, methods: { GET: this.authed((c) => this.getEvent(c)) } },
      { pattern: /^\/v1\/chains$/, methods: { GET: this.authed(() => this.listChains()) } },
      { pattern: /^\/v1\/chains\/([^/]+)$/, methods: { GET: this.authed((c) => this.getChain(c)) } },
      { pattern: /^\/v1\/chains\/([^/]+)\/events$/, methods: { GET: this.authed((c) => this.scanChain(c)) } },
      { pattern: /^\/v1\/chains\/([^/]+)\/checkpoints$/, methods: { GET: this.authed(async (c) => ({ data: await opts.store.checkpoints(c.params[0]!) })) } },
      { pattern: /^\/v1\/chains\/([^/]+)\/records$/, methods: { GET: this.authed(async (c) => ({ data: await opts.store.records(c.params[0]!) })) } },
      { pattern: /^\/v1\/keys$/, methods: { GET: this.authed(async () => ({ data: await opts.store.keys() })) } },
      { pattern: /^\/v1\/usage$/, methods: { GET: this.authed((c) => this.usage(c)) } },
      { pattern: /^\/v1\/((?:escalations|exceptions)(?:\/[^/]+){0,2})$/, methods: { GET: this.authed((c) => this.escalations(c)), POST: this.authed((c) => this.escalations(c)) } },
      // The console (src/server/console.ts): its static files are public; every API call it makes carries a token.
      { pattern: new RegExp(`^${CONSOLE_PATH}(?:/.*)?$`), methods: { GET: (c) => serveConsole(c.req, c.res, c.url.pathname) } },
      { pattern: /^\/v1\/stats$/, methods: { GET: this.authed((c) => statsReport(opts.store, parseFilter(c.url.searchParams, STATS_PARAMS))) } },
      { pattern: /^\/v1\/budgets$/, methods: { GET: this.authed(() => budgetsReport(opts.limits)) } },
      // Console sign-in (OIDC): public entry points; the session they create authenticates like a token.
      { pattern: /^\/auth\/status$/, methods: { GET: async () => ({ oidc: opts.oidc !== undefined, login_url: opts.oidc ? '/auth/login' : null }) } },
      { pattern: /^\/auth\/login$/, methods: { GET: (c) => this.login(c) } },
      { pattern: new RegExp(`^${CALLBACK_PATH.replaceAll('/', '\\/')}$`), methods: { GET: (c) => this.callback(c) } },
      { pattern: /^\/auth\/logout$/, methods: { POST: this.authed((c) => this.logout(c)) } },
      { pattern: /^\/v1\/session$/, methods: { GET: this.authed(async (c) => this.sessionJson(c)) } },
      // Token management from the console: admins only (machines keep using `kt server token` on the host).
      { pattern: /^\/v1\/tokens$/, methods: { GET: this.requireRole('admin', async () => ({ data: await opts.tokens.list() })), POST: this.requireRole('admin', (c) => this.createToken(c)) } },
      { pattern: /^\/v1\/tokens\/([^/]+)\/revoke$/, methods: { POST: this.requireRole('admin', (c) => this.revokeToken(c)) } },
      {
        pattern: /^\/v1\/events\/([^/]+)\/verify$/,
        methods: {
          GET: this.authed(async (c) => {
            const report = await verifyEventReport(opts.store, c.params[0]!);
            if (!report) throw new ApiError(404, 'not_found', 'no event with this id');
            return report;
          }),
        },
      },
    ];
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    let url: URL;
    try {
      // Prefixing rather than resolving keeps `//host/path` a path, not another origin.
      url = new URL(`http://control-plane${(req.url ?? '/').startsWith('/') ? req.url : '/'}`);
    } catch {
      url = new URL('http://control-plane/');
    }
    const ctx: Context = { req, res, url, params: [] };
    void this.dispatch(ctx)
      .then((body) => {
        if (body !== undefined) sendJson(res, 200, body);
      })
      .catch((err: unknown) => this.fail(ctx, err))
      .finally(() => {
        const fields = { method: req.method, path: ctx.url.pathname, status: res.statusCode, ms: Math.round(performance.now() - started), gateway: ctx.principal?.gateway, session: ctx.session?.id };
        if (res.statusCode >= 500) this.opts.logger.error(fields, 'request failed');
        else this.opts.logger.debug(fields, 'request');
      });
  };

  private async dispatch(ctx: Context): Promise<unknown> {
    const path = ctx.url.pathname.length > 1 ? ctx.url.pathname.replace(/\/+$/, '') : ctx.url.pathname;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      try {
        ctx.params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        throw bad('malformed percent-encoding in the path');
      }
      const handler = route.methods[ctx.req.method as 'GET' | 'POST'];
      if (!handler) throw new ApiError(405, 'method_not_allowed', `${ctx.req.method} is not allowed here`, { allow: Object.keys(route.methods).join(', ') });
      return handler(ctx);
    }
    throw new ApiError(404, 'not_found', `no route ${ctx.req.method} ${path.slice(0, 200)}`);
  }

  /** Any valid credential: a token (gateway or reader) or a console session. */
  private authed(handler: Handler): Handler {
    return this.requireRole('reader', handler);
  }

  /**
   * Authenticate, then refuse (403) a caller without `role`. The guard for every route that needs a role:
   * `this.requireRole('admin', handler)` for what only console admins may do.
   */
  requireRole(role: ConsoleRole, handler: Handler): Handler {
    return async (ctx) => {
      await this.authenticate(ctx);
      const have = ctx.session?.role ?? ctx.principal?.role;
      if (!roleAllows(have, role)) {
        throw forbidden(
          ctx.session
            ? `this needs the ${role} role; ${ctx.session.email ?? ctx.session.subject} signed in as ${ctx.session.role}`
            : `this needs the ${role} role: sign in to the console as an admin, or use an admin token (kt server token create --role admin); a ${have} token cannot`,
        );
      }
      return handler(ctx);
    };
  }

  /** A bearer token when one is sent (machines), else the console's session cookie when sign-in is on. */
  private async authenticate(ctx: Context): Promise<void> {
    const { req } = ctx;
    const header = req.headers.authorization;
    const oidc = this.opts.oidc;
    if (header) {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      if (!m) throw unauthorized('malformed Authorization header: expected Bearer <token>');
      const record = await this.opts.tokens.verify(m[1]!);
      if (!record) throw unauthorized('unknown or revoked token');
      ctx.principal = record;
      return;
    }
    const secret = oidc ? parseCookies(req.headers.cookie).get(this.cookies.session) : undefined;
    if (!oidc || secret === undefined) {
      throw unauthorized(oidc ? 'not signed in: sign in at /auth/login, or send Authorization: Bearer <token>' : 'missing token: send Authorization: Bearer <token> (kt server token create)');
    }
    const session = await oidc.sessions.getSession(secret);
    if (!session) throw unauthorized('the session has expired or was signed out: sign in again at /auth/login');
    // A cookie rides along on any request the browser makes: a state-changing one must also prove it was made
    // by the console, which alone can read the session's CSRF token (from GET /v1/session).
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const sent = req.headers['x-csrf-token'];
      const a = Buffer.from(typeof sent === 'string' ? sent : '');
      const b = Buffer.from(session.csrf);
      if (a.length !== b.length || !timingSafeEqual(a, b)) throw forbidden('missing or wrong X-CSRF-Token header (GET /v1/session gives the token for this session)');
    }
    ctx.session = session;
    ctx.sessionSecret = secret;
  }

  // ---- console sign-in ----------------------------------------------------------------------------------------

  private cookie(name: string, value: string, maxAgeS: number): string {
    return serializeCookie(name, value, { maxAge: maxAgeS, secure: this.secureCookies });
  }

  private redirect(res: ServerResponse, location: string, cookies: string[]): void {
    res.writeHead(302, { location, 'set-cookie': cookies, 'cache-control': 'no-store', 'content-length': 0, 'referrer-policy': 'no-referrer' });
    res.end();
  }

  /** `GET /auth/login?return_to=/console/…`: remember a login, send the browser to the provider. */
  private async login(ctx: Context): Promise<undefined> {
    const oidc = this.opts.oidc;
    if (!oidc) throw new ApiError(404, 'not_found', 'console sign-in is not configured on this control plane (kt server --oidc-issuer …); sign in with a reader token');
    const asked = ctx.url.searchParams.get('return_to') ?? '';
    // The URL parser folds `..` and `%2e%2e` as the browser will: what stays a console path after that may be used.
    const returnTo = RETURN_TO.test(asked) && new URL(asked, 'http://control-plane').pathname === asked.split(/[?#]/)[0] ? asked : '/console/';
    let begun: Awaited<ReturnType<OidcClient['begin']>>;
    try {
      begun = await oidc.client.begin(returnTo);
    } catch (err) {
      if (err instanceof OidcLoginError) throw new ApiError(err.status, 'server_error', err.message);
      throw err;
    }
    const secret = await oidc.sessions.createLogin(begun.pending, LOGIN_TTL_MS);
    if (secret === null) throw new ApiError(503, 'server_error', 'too many sign-ins in progress; try again in a few minutes', { 'retry-after': '60' });
    this.redirect(ctx.res, begun.url.href, [this.cookie(this.cookies.login, secret, LOGIN_TTL_MS / 1000)]);
    return undefined;
  }

  /** `GET /auth/callback`: the provider's answer; on success a session and back to the console. */
  private async callback(ctx: Context): Promise<undefined> {
    const oidc = this.opts.oidc;
    if (!oidc) throw new ApiError(404, 'not_found', 'console sign-in is not configured on this control plane');
    const clearLogin = this.cookie(this.cookies.login, '', 0);
    const fail = (status: number, message: string) => {
      const text = `${message}\nOpen /console/ to sign in again.\n`;
      ctx.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', 'set-cookie': [clearLogin], 'x-content-type-options': 'nosniff' });
      ctx.res.end(text);
      return undefined;
    };
    // The login cookie ties the answer to this browser; taking it deletes it, so an answer is good once.
    const secret = parseCookies(ctx.req.headers.cookie).get(this.cookies.login);
    const pending = secret === undefined ? null : await oidc.sessions.takeLogin(secret);
    if (!pending) return fail(400, 'sign-in failed: this sign-in expired, was already used, or was started in another browser');
    let who: Awaited<ReturnType<OidcClient['finish']>>;
    try {
      who = await oidc.client.finish(ctx.url.searchParams, pending);
    } catch (err) {
      if (err instanceof OidcLoginError) return fail(err.status, err.message);
      throw err;
    }
    const ttl = oidc.client.settings.sessionTtlMs;
    const { secret: sessionSecret, session } = await oidc.sessions.createSession(who, ttl);
    this.opts.logger.info({ session: session.id, subject: who.subject, email: who.email, role: who.role }, 'console sign-in');
    this.redirect(ctx.res, pending.return_to, [clearLogin, this.cookie(this.cookies.session, sessionSecret, ttl / 1000)]);
    return undefined;
  }

  /** `POST /auth/logout`: the session is deleted (the provider's own session is the provider's). */
  private async logout(ctx: Context): Promise<undefined> {
    if (!ctx.session || ctx.sessionSecret === undefined) throw bad('a bearer token has no session to end; revoke it with kt server token revoke');
    await this.opts.oidc!.sessions.deleteSession(ctx.sessionSecret);
    this.opts.logger.info({ session: ctx.session.id }, 'console sign-out');
    sendJson(ctx.res, 200, { signed_out: true }, { 'set-cookie': this.cookie(this.cookies.session, '', 0) });
    return undefined;
  }

  private sessionJson(ctx: Context): unknown {
    const s = ctx.session;
    if (s) return { kind: 'session', id: s.id, subject: s.subject, email: s.email, name: s.name, role: s.role, csrf_token: s.csrf, expires_at: s.expires_at };
    const p = ctx.principal!;
    return { kind: 'token', token_id: p.id, role: p.role, label: p.gateway };
  }

  private async createToken(ctx: Context): Promise<unknown> {
    const raw = await readBody(ctx.req, { ...this.bodyLimits, maxBytes: 4096 });
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw bad('request body is not valid JSON');
    }
    const parsed = TokenCreateSchema.safeParse(json);
    if (!parsed.success) throw bad(describeZod(parsed.error, 'body'));
    let created: Awaited<ReturnType<TokenStore['create']>>;
    try {
      created = await this.opts.tokens.create({ gateway: parsed.data.gateway, ...(parsed.data.role ? { role: parsed.data.role } : {}) });
    } catch (err) {
      if (err instanceof TokenInputError) throw bad(err.message);
      throw err;
    }
    this.opts.logger.info({ session: ctx.session?.id, by: ctx.session?.email ?? ctx.session?.subject, token_id: created.record.id, role: created.record.role, gateway: created.record.gateway }, 'token created from the console');
    return { token: created.token, record: created.record };
  }

  private async revokeToken(ctx: Context): Promise<unknown> {
    const id = ctx.params[0]!;
    if (!(await this.opts.tokens.revoke(id))) throw new ApiError(404, 'not_found', 'no token with this id');
    this.opts.logger.info({ session: ctx.session?.id, by: ctx.session?.email ?? ctx.session?.subject, token_id: id }, 'token revoked from the console');
    return { revoked: true, record: (await this.opts.tokens.list()).find((t) => t.id === id) ?? null };
  }

  private fail(ctx: Context, err: unknown): void {
    let apiErr: ApiError;
    if (err instanceof ApiError) apiErr = err;
    else if (err instanceof GatewayError) {
      apiErr =
        err.status === 413
          ? new ApiError(413, 'request_too_large', `request body exceeds the limit of ${this.maxBodyBytes} bytes: send fewer events per request`)
          : err.status === 408
            ? new ApiError(408, 'request_timeout', err.message)
            : new ApiError(err.status === 415 ? 400 : err.status, 'invalid_request', err.message);
    } else if (err instanceof ChainConflictError) apiErr = new ApiError(409, 'chain_conflict', err.message);
    else {
      this.opts.logger.error({ err: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 500) : String(err), path: ctx.url.pathname }, 'control plane error');
      apiErr = new ApiError(500, 'server_error', 'internal error; see the control plane log');
    }
    if (ctx.res.headersSent) {
      ctx.res.destroy();
      return;
    }
    // A refused or stalled upload may still be arriving: the connection cannot carry another request.
    const headers = closesConnection(apiErr.status) ? { ...apiErr.headers, connection: 'close' } : apiErr.headers;
    sendJson(ctx.res, apiErr.status, { error: { type: apiErr.type, message: apiErr.message } }, headers);
  }

  // ---- /v1/escalations, /v1/exceptions ------------------------------------------------------------------------

  private async escalations(ctx: Context): Promise<unknown> {
    const store = this.opts.escalations;
    if (!store) throw new ApiError(404, 'not_found', 'this server keeps no escalation queue');
    const readJson = async () => {
      const raw = await readBody(ctx.req, { ...this.bodyLimits, maxBytes: 64 * 1024 });
      try {
        return JSON.parse(raw.toString('utf8')) as unknown;
      } catch {
        throw bad('request body is not valid JSON');
      }
    };
    try {
      return await escalationApi(store, { method: ctx.req.method as 'GET' | 'POST', parts: ctx.params[0]!.split('/'), params: ctx.url.searchParams, ...(ctx.principal ? { principal: ctx.principal } : {}), ...(ctx.session ? { session: ctx.session } : {}), req: ctx.req }, readJson);
    } catch (err) {
      if (isApiFailure(err)) throw new ApiError(err.status, err.type, err.message);
      throw err;
    }
  }

  // ---- POST /v1/events --------------------------------------------------------------------------------------

  private async postEvents(ctx: Context): Promise<unknown> {
    const principal = ctx.principal;
    if (!principal || principal.role !== 'gateway') throw forbidden('only gateway tokens post events; create one with kt server token create --gateway NAME');
    const raw = await readBody(ctx.req, this.bodyLimits);
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw bad('request body is not valid JSON');
    }
    const parsed = PostBodySchema.safeParse(json);
    if (!parsed.success) throw bad(describeZod(parsed.error, 'body'));
    const batch = parsed.data;
    // One ingest at a time per chain, so the check against the stored head still holds when the events land.
    const blobs = new Map(Object.entries(batch.blobs ?? {}));
    const badBlob = blobsValid(blobs);
    if (badBlob) throw bad(`blob ${badBlob.slice(0, 16)}… does not match its SHA-256`);
    const result = await this.withChainLock(principal.gateway, () =>
      this.ingest(principal.gateway, batch.events, batch.checkpoints ?? [], batch.records ?? [], batch.keys ?? [], blobs),
    );
    if (result.inserted > 0 || (batch.checkpoints?.length ?? 0) > 0) this.hub.notify();
    this.opts.logger.debug({ gateway: principal.gateway, ...result, checkpoints: batch.checkpoints?.length ?? 0 }, 'events received');
    return result;
  }

  private async ingest(
    gateway: string,
    events: ChainedEvent[],
    checkpoints: Checkpoint[],
    records: ChainRecord[],
    keys: PublicKeyRecord[],
    blobs?: ReadonlyMap<string, string>,
  ): Promise<{ inserted: number; duplicates: number }> {
    const { store } = this.opts;
    for (const key of keys) checkKey(key);
    checkEvents(gateway, events);
    await this.checkAgainstHead(gateway, events);
    await this.checkCheckpoints(gateway, checkpoints, events, keys);
    await this.checkRecords(gateway, records, events, keys);
    for (const key of keys) await store.registerKey(key);
    const result = events.length ? await store.ingest(events, blobs) : { inserted: 0, duplicates: 0 };
    // After the events, so a checkpoint never stands beyond the end of the stored chain.
    for (const cp of checkpoints) await store.addCheckpoint(cp);
    for (const r of records) await store.addRecord(r);
    return result;
  }

  /** The first new event must follow the stored head; overlapping events are left to the store's duplicate check. */
  private async checkAgainstHead(gateway: string, events: ChainedEvent[]): Promise<void> {
    const first = events[0];
    if (!first) return;
    const head = await this.opts.store.head(gateway);
    if (!head) return; // a chain may start past seq 1 when its gateway pruned before shipping; a checkpoint anchors it
    if (first.seq === head.seq + 1 && first.prev_hash !== head.hash) {
      throw new ApiError(409, 'chain_conflict', `event ${first.id} at seq ${first.seq} does not link to the stored head of chain ${gateway} (seq ${head.seq})`);
    }
    if (first.seq > head.seq + 1) {
      throw new ApiError(409, 'chain_gap', `chain ${gateway} ends at seq ${head.seq} here; the next event must be seq ${head.seq + 1}, not ${first.seq}`);
    }
  }

  private async checkCheckpoints(gateway: string, checkpoints: Checkpoint[], events: ChainedEvent[], posted: PublicKeyRecord[]): Promise<void> {
    if (checkpoints.length === 0) return;
    const { store } = this.opts;
    const known = new Map((await store.keys()).map((k) => [k.key_id, k.public_key]));
    for (const k of posted) known.set(k.key_id, k.public_key);
    const inBatch = new Map(events.map((e) => [e.seq, e]));
    const storedFirst = await store.firstSeq(gateway);
    const lowest = Math.min(storedFirst ?? Infinity, events[0]?.seq ?? Infinity);
    for (const cp of checkpoints) {
      if (cp.chain !== gateway) throw forbidden(`a token for gateway ${gateway} cannot add checkpoints to chain ${cp.chain}`);
      const pem = known.get(cp.key_id);
      if (!pem) throw bad(`checkpoint at seq ${cp.seq} is signed by ${cp.key_id}, which is not registered: send its public key in keys`);
      if (!verifyCheckpoint(cp, pem)) throw bad(`checkpoint at seq ${cp.seq} has an invalid signature`);
      const batchEvent = inBatch.get(cp.seq);
      if (batchEvent) {
        if (batchEvent.hash !== cp.hash) throw bad(`checkpoint at seq ${cp.seq} does not match event ${batchEvent.id}`);
        continue;
      }
      const stored = await eventAt(store, gateway, cp.seq);
      if (stored) {
        if (stored.hash !== cp.hash) throw new ApiError(409, 'chain_conflict', `checkpoint at seq ${cp.seq} does not match the stored event ${stored.id}`);
        continue;
      }
      // The one checkpoint allowed without its event: the anchor just before the oldest event (pruned chains).
      if (cp.seq !== lowest - 1) throw bad(`checkpoint at seq ${cp.seq} covers no event of chain ${gateway}: send the events first`);
    }
  }

  /**
   * Records are signed statements of a (seq, hash) like checkpoints, and are held to the same rules: a trusted
   * signature, and a hash that matches the event at that seq when the control plane has it. A prune record may
   * speak of events it never received (the gateway pruned them before shipping), and a break record of an
   * empty chain (seq 0).
   */
  private async checkRecords(gateway: string, records: ChainRecord[], events: ChainedEvent[], posted: PublicKeyRecord[]): Promise<void> {
    if (records.length === 0) return;
    const { store } = this.opts;
    const known = new Map((await store.keys()).map((k) => [k.key_id, k.public_key]));
    for (const k of posted) known.set(k.key_id, k.public_key);
    const inBatch = new Map(events.map((e) => [e.seq, e]));
    const storedFirst = await store.firstSeq(gateway);
    const lowest = Math.min(storedFirst ?? Infinity, events[0]?.seq ?? Infinity);
    for (const r of records) {
      if (r.chain !== gateway) throw forbidden(`a token for gateway ${gateway} cannot add records to chain ${r.chain}`);
      const pem = known.get(r.key_id);
      if (!pem) throw bad(`the ${r.kind} record at seq ${r.seq} is signed by ${r.key_id}, which is not registered: send its public key in keys`);
      if (!verifyRecord(r, pem)) throw bad(`the ${r.kind} record at seq ${r.seq} has an invalid signature`);
      if (r.seq === 0) {
        if (r.kind !== 'break' || r.hash !== GENESIS_HASH) throw bad(`a ${r.kind} record at seq 0 must be a break record of an empty chain`);
        continue;
      }
      const batchEvent = inBatch.get(r.seq);
      if (batchEvent) {
        if (batchEvent.hash !== r.hash) throw bad(`the ${r.kind} record at seq ${r.seq} does not match event ${batchEvent.id}`);
        continue;
      }
      const stored = await eventAt(store, gateway, r.seq);
      if (stored) {
        if (stored.hash !== r.hash) throw new ApiError(409, 'chain_conflict', `the ${r.kind} record at seq ${r.seq} does not match the stored event ${stored.id}`);
        continue;
      }
      if (r.kind === 'prune' && r.seq < lowest) continue;
      throw bad(`the ${r.kind} record at seq ${r.seq} covers no event of chain ${gateway}: send the events first`);
    }
  }

  private withChainLock<T>(chain: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chainLocks.get(chain) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.chainLocks.set(chain, tail);
    void tail.then(() => {
      if (this.chainLocks.get(chain) === tail) this.chainLocks.delete(chain);
    });
    return run;
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  private async listEvents(ctx: Context): Promise<unknown> {
    const filter = parseListQuery(ctx.url.searchParams);
    // One more than asked tells whether another page exists without an empty last page.
    const rows = await this.opts.store.query({ ...filter, limit: filter.limit + 1 });
    const page = rows.slice(0, filter.limit);
    return { data: page.map((e) => eventJson(e)), next_cursor: rows.length > filter.limit ? String(page[page.length - 1]!.pos) : null };
  }

  /** `GET /v1/usage?by=…&<filters>`: requests, tokens and cost per group (any token may read it). */
  private async usage(ctx: Context): Promise<unknown> {
    const { filter, by } = parseUsageQuery(ctx.url.searchParams);
    return { by, data: await this.opts.store.usageReport(filter, by) };
  }

  /** `GET /v1/blobs?sha256=a,b`: captured texts by hash (≤ 100 a request). */
  private async getBlobs(ctx: Context): Promise<unknown> {
    const hashes = (ctx.url.searchParams.get('sha256') ?? '').split(',').filter(Boolean);
    if (hashes.length === 0 || hashes.length > 100 || hashes.some((h) => !/^[0-9a-f]{64}$/.test(h))) throw bad('sha256 must be 1 to 100 comma-separated SHA-256 hex hashes');
    return { data: Object.fromEntries(await this.opts.store.getBlobs(hashes)) };
  }

  private async getEvent(ctx: Context): Promise<unknown> {
    const event = await this.opts.store.get(ctx.params[0]!);
    if (!event) throw new ApiError(404, 'not_found', 'no event with this id');
    return eventJson(event);
  }

  private async listChains(): Promise<unknown> {
    const chains = await this.opts.store.chains();
    return { data: await Promise.all(chains.map((c) => this.chainInfo(c))) };
  }

  private async getChain(ctx: Context): Promise<unknown> {
    const info = await this.chainInfo(ctx.params[0]!);
    if (info.head_seq === null && (await this.opts.store.checkpoints(info.chain)).length === 0) throw new ApiError(404, 'not_found', 'no such chain');
    return info;
  }

  private async chainInfo(chain: string): Promise<ChainJson> {
    const [head, first] = await Promise.all([this.opts.store.head(chain), this.opts.store.firstSeq(chain)]);
    return { chain, head_seq: head?.seq ?? null, head_hash: head?.hash ?? null, first_seq: first };
  }

  /** `GET /v1/chains/:chain/events?from_seq=&limit=`: chain order with the stored filter columns, for verification. */
  private async scanChain(ctx: Context): Promise<unknown> {
    const params = ctx.url.searchParams;
    for (const key of params.keys()) if (key !== 'from_seq' && key !== 'limit') throw bad(`unknown query parameter "${key.slice(0, 40)}"; allowed: from_seq, limit`);
    const fromSeq = params.has('from_seq') ? nonNegativeInt(params.get('from_seq')!, 'from_seq') : 1;
    const limit = params.has('limit') ? nonNegativeInt(params.get('limit')!, 'limit') : MAX_PAGE;
    if (limit < 1 || limit > MAX_PAGE) throw bad(`limit must be from 1 to ${MAX_PAGE}`);
    const data: EventJson[] = [];
    for await (const e of this.opts.store.scan(ctx.params[0]!, fromSeq, limit)) {
      data.push(eventJson(e, true));
      if (data.length >= limit) break;
    }
    return { data, next_from_seq: data.length >= limit ? data[data.length - 1]!.seq + 1 : null };
  }

  // ---- GET /v1/events/stream ----------------------------------------------------------------------------------

  private async stream(ctx: Context): Promise<undefined> {
    const { req, res } = ctx;
    const filter = parseFilter(ctx.url.searchParams, STREAM_PARAMS);
    const lastEventId = req.headers['last-event-id'];
    if (typeof lastEventId === 'string' && lastEventId.trim() !== '') filter.afterPos = nonNegativeInt(lastEventId.trim(), 'Last-Event-ID');
    // Without a starting point a tail shows what happens from now on.
    let cursor = filter.afterPos ?? (await newestPos(this.opts.store));
    delete filter.afterPos;

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.tails.add(res);

    let closed = false;
    let running = false;
    let again = false;
    const pump = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          for (;;) {
            const page = await this.opts.store.query({ ...filter, afterPos: cursor, order: 'asc', limit: 500 });
            for (const e of page) {
              if (closed) return;
              const ok = res.write(`id: ${e.pos}\nevent: decision\ndata: ${JSON.stringify(eventJson(e))}\n\n`);
              cursor = e.pos;
              if (!ok) await drained(res);
            }
            if (page.length < 500 || closed) break;
          }
        } while (again && !closed);
      } catch (err) {
        this.opts.logger.warn({ err: (err as Error).message }, 'live tail failed; closing it');
        res.destroy();
      } finally {
        running = false;
      }
    };

    const unsubscribe = this.hub.subscribe(() => void pump());
    const { principal, session, sessionSecret } = ctx;
    const keepAlive = setInterval(() => {
      if (res.writableEnded) return;
      res.write(': keep-alive\n\n');
      // A token revoked (or a session signed out or expired) while its tail is open stops it at the next keep-alive.
      const still: Promise<boolean> =
        session && sessionSecret !== undefined
          ? this.opts.oidc!.sessions.getSession(sessionSecret).then((s) => s?.id === session.id)
          : this.opts.tokens.verify(bearer(req)).then((t) => t !== null && t.id === principal?.id);
      void still.then(
        (ok) => {
          if (!ok) res.end();
        },
        () => undefined,
      );
    }, this.keepAliveMs);
    const cleanup = () => {
      closed = true;
      clearInterval(keepAlive);
      unsubscribe();
      this.tails.delete(res);
    };
    res.once('close', cleanup);
    await pump();
    return undefined;
  }

  async close(): Promise<void> {
    this.hub.close();
    for (const res of this.tails) res.end();
    this.tails.clear();
  }
}

function bearer(req: IncomingMessage): string {
  return /^Bearer[ \t]+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

function checkKey(key: PublicKeyRecord): void {
  let id: string;
  try {
    const k = createPublicKey(key.public_key);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    id = keyIdOf(k);
  } catch {
    throw bad(`key ${key.key_id} is not an Ed25519 public key in SPKI PEM`);
  }
  if (id !== key.key_id) throw bad(`key ${key.key_id} does not match its public key (expected ${id})`);
}

/** Every event must be the posting gateway's own, canonical, correctly hashed and linked to the one before it. */
function checkEvents(gateway: string, events: ChainedEvent[]): void {
  let prev: ChainedEvent | undefined;
  for (const e of events) {
    if (e.chain !== gateway) throw forbidden(`a token for gateway ${gateway} cannot write chain ${e.chain}`);
    let body: unknown;
    try {
      body = JSON.parse(e.body);
    } catch {
      throw bad(`event ${e.id}: body is not JSON`);
    }
    const shape = DecisionEventShape.safeParse(body);
    if (!shape.success) throw bad(describeZod(shape.error, `event ${e.id}`));
    const event = shape.data;
    if (event.gateway_id !== gateway) throw forbidden(`event ${e.id} names gateway ${event.gateway_id}; this token is for gateway ${gateway}`);
    if (event.id !== e.id) throw bad(`event ${e.id}: body has id ${event.id}`);
    if (canonicalJson(body) !== e.body) throw bad(`event ${e.id}: body is not canonical JSON (src/audit/canonical.ts)`);
    if (e.seq === 1 && e.prev_hash !== GENESIS_HASH) throw bad(`event ${e.id}: the first event of a chain must link to the genesis hash`);
    if (linkHash(e.chain, e.seq, e.prev_hash, e.body) !== e.hash) throw bad(`event ${e.id}: hash does not match its content and place in the chain`);
    if (prev && (e.seq !== prev.seq + 1 || e.prev_hash !== prev.hash)) {
      throw bad(`event ${e.id} at seq ${e.seq} does not follow ${prev.id} at seq ${prev.seq}: send events contiguous and in chain order`);
    }
    prev = e;
  }
}

async function eventAt(store: EventStore, chain: string, seq: number): Promise<StoredEvent | null> {
  for await (const e of store.scan(chain, seq, 1)) return e.seq === seq ? e : null;
  return null;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * The control plane's request handler without a listening server, for mounting its API and the console inside
 * another server (the gateway's local console, src/server/local-console.ts). `close()` ends live tails.
 */
export function createControlPlaneHandler(opts: Omit<ControlPlaneOptions, 'host' | 'port'>): { handle: (req: IncomingMessage, res: ServerResponse) => void; close(): Promise<void> } {
  const plane = new ControlPlane({ ...opts, host: '', port: 0 });
  return { handle: plane.handle, close: () => plane.close() };
}

/** Listen on host:port. Resolves once bound. */
export async function startControlPlane(opts: ControlPlaneOptions): Promise<RunningControlPlane> {
  const guard = new RequestGuard(accessRules(opts.host, opts.access), { logger: opts.logger });
  const plane = new ControlPlane(opts);
  // The guard runs in front of the API and the console alike; mounted on a gateway, the gateway's guard does.
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const refuse = (r: Refusal) => sendJson(res, r.status, { error: { type: r.status === 403 ? 'permission_error' : 'invalid_request', message: r.message } });
    if (guard.admit(req, res, refuse)) plane.handle(req, res);
  };
  const bounded = createBoundedServer(handle, plane.listenerLimits, 'the control plane', opts.logger, opts.tls);
  const bound = await listenHttp(bounded.server, opts.host, opts.port, opts.tls ? 'https' : 'http');
  return {
    url: bound.url,
    port: bound.port,
    limits: bounded.limits,
    setTls: (material) => bounded.setTls(material),
    close: () => bounded.close(5_000, () => plane.close()),
  };
}
