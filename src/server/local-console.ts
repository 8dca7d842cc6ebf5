/**
 * The console on a gateway (`kt gateway run`): the control plane's read API and the console's files over the
 * gateway's own store, answered inside the gateway's server. Nothing is shipped or copied: the console reads
 * the same SQLite file (or PostgreSQL) the gateway's audit trail writes.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventStore } from '../audit/store.js';
import type { Logger } from '../gateway/logger.js';
import type { LimitEngine } from '../usage/limits/types.js';
import type { EscalationStore } from '../escalation/types.js';
import { createControlPlaneHandler } from './app.js';
import { CONSOLE_PATH } from './console.js';
import { hashToken, newToken, type TokenRecord, type TokenStore } from './tokens.js';

export interface LocalConsoleOptions {
  store: EventStore;
  logger: Logger;
  /** The token the console signs in with; a new random one (ktgw_…) when absent. */
  token?: string;
  /** Also accept these tokens (a control plane's token store, `kt server token create --role reader|reviewer`). */
  tokens?: TokenStore;
  /** The gateway's budgets, for the costs page. */
  limits?: Pick<LimitEngine, 'status'>;
  /** How often live tails look for new events in the store (default 500 ms). */
  pollMs?: number;
  /** The gateway's escalation queue, decided from the console (its token is a reviewer's). */
  escalations?: EscalationStore;
}

export interface LocalConsole {
  /** The token to sign in with. Show it once (the gateway's start-up log), never on every request. */
  readonly token: string;
  /** Whether this console answers a request for this path: `/console*` and the read API it uses. */
  handles(pathname: string): boolean;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** A URL that opens the console signed in: the token is in the fragment, which browsers never send. */
  signInUrl(baseUrl: string): string;
  /** Ends live tails. The store belongs to the caller. */
  close(): Promise<void>;
}

/** The paths the gateway hands to the console: its files and the read API. POST /v1/events is refused (reader token). */
const LOCAL_PATHS = /^\/(?:console(?:\/.*)?|v1\/(?:events(?:\/.*)?|usage|stats|budgets|blobs|keys|chains(?:\/.*)?|escalations(?:\/.*)?|exceptions(?:\/.*)?))\/?$/;

/** One token held in memory (compared by hash in constant time), then any token of `fallback`. */
export function localTokenStore(token: string, fallback?: TokenStore): TokenStore {
  const expected = Buffer.from(hashToken(token), 'hex');
  // The console's own token is the operator's on their own gateway: it reads and decides the local queue.
  const record: TokenRecord = { id: 'tok_local_console', gateway: 'local-console', role: 'reviewer', created_at: new Date().toISOString(), revoked_at: null };
  return {
    kind: 'sqlite',
    async create() {
      throw new Error('the local console token store cannot create tokens');
    },
    async verify(candidate: string) {
      if (timingSafeEqual(Buffer.from(hashToken(candidate), 'hex'), expected)) return record;
      const other = fallback ? await fallback.verify(candidate) : null;
      // A gateway token of the control plane may read here, but the local console never ingests; no token
      // manages tokens here (this store creates none), so an admin token acts as a reviewer.
      if (!other) return null;
      return { ...other, role: other.role === 'gateway' ? 'reader' : other.role === 'admin' ? 'reviewer' : other.role };
    },
    async list() {
      return [record];
    },
    async revoke() {
      return false;
    },
    async close() {},
  };
}

export function createLocalConsole(opts: LocalConsoleOptions): LocalConsole {
  const token = opts.token ?? newToken();
  const handler = createControlPlaneHandler({
    store: opts.store,
    tokens: localTokenStore(token, opts.tokens),
    logger: opts.logger,
    pollMs: opts.pollMs ?? 500,
    // A gateway without budgets says so; only a control plane (no limit engine at all) points elsewhere.
    limits: opts.limits ?? { status: async () => [] },
    ...(opts.escalations ? { escalations: opts.escalations } : {}),
  });
  return {
    token,
    handles: (pathname) => LOCAL_PATHS.test(pathname),
    handle: handler.handle,
    signInUrl: (baseUrl) => `${baseUrl.replace(/\/+$/, '')}${CONSOLE_PATH}/#token=${encodeURIComponent(token)}`,
    close: () => handler.close(),
  };
}
