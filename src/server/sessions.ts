/**
 * Console sign-in state kept by the control plane, beside its tokens: sessions of people who signed in through
 * OIDC, and logins in flight (the state, nonce and PKCE verifier between the redirect to the provider and its
 * answer). The browser holds only a random id; the store holds its SHA-256, so a copy of the database lets no
 * one sign in. Both live in the same SQLite file or PostgreSQL schema as the events, so replicas behind one
 * load balancer share them.
 */
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Pool } from 'pg';
import { splitSchema } from '../audit/open.js';
import { eventsDbFile } from '../audit/paths.js';
import { createPrivateFile } from '../audit/data-dir.js';

export type ConsoleRole = 'reader' | 'admin';

export interface Session {
  /** A public handle (ses_…) for logs and listings; not the cookie value. */
  id: string;
  subject: string;
  email: string | null;
  name: string | null;
  role: ConsoleRole;
  /** Sent back in X-CSRF-Token by the console on every state-changing request. */
  csrf: string;
  created_at: string;
  expires_at: string;
}

export interface PendingLogin {
  state: string;
  nonce: string;
  code_verifier: string;
  return_to: string;
  expires_at: string;
}

export interface SessionStore {
  /** Returns the cookie value once; only its hash is kept. */
  createSession(input: Omit<Session, 'id' | 'csrf' | 'created_at' | 'expires_at'>, ttlMs: number): Promise<{ secret: string; session: Session }>;
  /** The session when the secret is known and not expired (an expired one is deleted on the way). */
  getSession(secret: string): Promise<Session | null>;
  deleteSession(secret: string): Promise<void>;
  /** False when too many logins are in flight (a flood of unauthenticated /auth/login requests). */
  createLogin(login: Omit<PendingLogin, 'expires_at'>, ttlMs: number): Promise<string | null>;
  /** The login once: it is deleted as it is read, so an authorization response cannot be replayed. */
  takeLogin(secret: string): Promise<PendingLogin | null>;
  close(): Promise<void>;
}

/** Logins in flight at most; each lives minutes, so an honest team never comes near. */
export const MAX_PENDING_LOGINS = 10_000;
const SECRET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const SQL_TABLES = (prefix: string) => [
  `CREATE TABLE IF NOT EXISTS ${prefix}console_sessions (
    id_sha256 TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT,
    name TEXT,
    role TEXT NOT NULL CHECK (role IN ('reader', 'admin')),
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS ${prefix}oidc_logins (
    id_sha256 TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at TEXT NOT NULL
  )`,
];

type SessionRow = Session;

function sessionRecord(input: Omit<Session, 'id' | 'csrf' | 'created_at' | 'expires_at'>, ttlMs: number, nowMs: number): Session {
  return {
    id: `ses_${randomBytes(9).toString('base64url')}`,
    subject: input.subject,
    email: input.email,
    name: input.name,
    role: input.role,
    csrf: randomBytes(24).toString('base64url'),
    created_at: new Date(nowMs).toISOString(),
    expires_at: new Date(nowMs + ttlMs).toISOString(),
  };
}

const COLUMNS = 'id, subject, email, name, role, csrf, created_at, expires_at';

export class SqliteSessionStore implements SessionStore {
  private readonly db: Database.Database;

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {
    if (file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    for (const sql of SQL_TABLES('')) this.db.exec(sql);
  }

  async createSession(input: Omit<Session, 'id' | 'csrf' | 'created_at' | 'expires_at'>, ttlMs: number): Promise<{ secret: string; session: Session }> {
    const nowIso = new Date(this.now()).toISOString();
    this.db.prepare('DELETE FROM console_sessions WHERE expires_at <= ?').run(nowIso);
    const session = sessionRecord(input, ttlMs, this.now());
    const secret = newSecret();
    this.db
      .prepare(`INSERT INTO console_sessions (id_sha256, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(hashSecret(secret), session.id, session.subject, session.email, session.name, session.role, session.csrf, session.created_at, session.expires_at);
    return { secret, session };
  }

  async getSession(secret: string): Promise<Session | null> {
    if (!SECRET_SHAPE.test(secret)) return null;
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM console_sessions WHERE id_sha256 = ?`).get(hashSecret(secret)) as SessionRow | undefined;
    if (!row) return null;
    if (Date.parse(row.expires_at) <= this.now()) {
      await this.deleteSession(secret);
      return null;
    }
    return { ...row };
  }

  async deleteSession(secret: string): Promise<void> {
    if (!SECRET_SHAPE.test(secret)) return;
    this.db.prepare('DELETE FROM console_sessions WHERE id_sha256 = ?').run(hashSecret(secret));
  }

  async createLogin(login: Omit<PendingLogin, 'expires_at'>, ttlMs: number): Promise<string | null> {
    const nowMs = this.now();
    this.db.prepare('DELETE FROM oidc_logins WHERE expires_at <= ?').run(new Date(nowMs).toISOString());
    const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM oidc_logins').get() as { n: number };
    if (n >= MAX_PENDING_LOGINS) return null;
    const secret = newSecret();
    this.db
      .prepare('INSERT INTO oidc_logins (id_sha256, state, nonce, code_verifier, return_to, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(hashSecret(secret), login.state, login.nonce, login.code_verifier, login.return_to, new Date(nowMs + ttlMs).toISOString());
    return secret;
  }

  async takeLogin(secret: string): Promise<PendingLogin | null> {
    if (!SECRET_SHAPE.test(secret)) return null;
    const key = hashSecret(secret);
    const row = this.db.transaction(() => {
      const r = this.db.prepare('SELECT state, nonce, code_verifier, return_to, expires_at FROM oidc_logins WHERE id_sha256 = ?').get(key) as PendingLogin | undefined;
      if (r) this.db.prepare('DELETE FROM oidc_logins WHERE id_sha256 = ?').run(key);
      return r;
    })();
    if (!row || Date.parse(row.expires_at) <= this.now()) return null;
    return row;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export class PostgresSessionStore implements SessionStore {
  private constructor(
    private readonly pool: Pool,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {}

  static async connect(url: string, opts: { schema?: string; now?: () => number } = {}): Promise<PostgresSessionStore> {
    const schema = opts.schema ?? 'keeptrusts';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
    const [{ escapeIdentifier }, { createPgPool, pgTransaction }] = await Promise.all([import('pg'), import('../audit/pg-pool.js')]);
    const s = escapeIdentifier(schema);
    const pool = createPgPool(url, { max: 4 });
    try {
      await pgTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keeptrusts-sessions\n${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        for (const sql of SQL_TABLES(`${s}.`)) await client.query(sql);
      });
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new PostgresSessionStore(pool, `${s}.`, opts.now ?? Date.now);
  }

  async createSession(input: Omit<Session, 'id' | 'csrf' | 'created_at' | 'expires_at'>, ttlMs: number): Promise<{ secret: string; session: Session }> {
    await this.pool.query(`DELETE FROM ${this.prefix}console_sessions WHERE expires_at <= $1`, [new Date(this.now()).toISOString()]);
    const session = sessionRecord(input, ttlMs, this.now());
    const secret = newSecret();
    await this.pool.query(`INSERT INTO ${this.prefix}console_sessions (id_sha256, ${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
      hashSecret(secret),
      session.id,
      session.subject,
      session.email,
      session.name,
      session.role,
      session.csrf,
      session.created_at,
      session.expires_at,
    ]);
    return { secret, session };
  }

  async getSession(secret: string): Promise<Session | null> {
    if (!SECRET_SHAPE.test(secret)) return null;
    const { rows } = await this.pool.query<SessionRow>(`SELECT ${COLUMNS} FROM ${this.prefix}console_sessions WHERE id_sha256 = $1`, [hashSecret(secret)]);
    const row = rows[0];
    if (!row) return null;
    if (Date.parse(row.expires_at) <= this.now()) {
      await this.deleteSession(secret);
      return null;
    }
    return { ...row };
  }

  async deleteSession(secret: string): Promise<void> {
    if (!SECRET_SHAPE.test(secret)) return;
    await this.pool.query(`DELETE FROM ${this.prefix}console_sessions WHERE id_sha256 = $1`, [hashSecret(secret)]);
  }

  async createLogin(login: Omit<PendingLogin, 'expires_at'>, ttlMs: number): Promise<string | null> {
    const nowMs = this.now();
    await this.pool.query(`DELETE FROM ${this.prefix}oidc_logins WHERE expires_at <= $1`, [new Date(nowMs).toISOString()]);
    const { rows } = await this.pool.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${this.prefix}oidc_logins`);
    if (Number(rows[0]?.n ?? 0) >= MAX_PENDING_LOGINS) return null;
    const secret = newSecret();
    await this.pool.query(`INSERT INTO ${this.prefix}oidc_logins (id_sha256, state, nonce, code_verifier, return_to, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
      hashSecret(secret),
      login.state,
      login.nonce,
      login.code_verifier,
      login.return_to,
      new Date(nowMs + ttlMs).toISOString(),
    ]);
    return secret;
  }

  async takeLogin(secret: string): Promise<PendingLogin | null> {
    if (!SECRET_SHAPE.test(secret)) return null;
    // DELETE … RETURNING reads and removes in one statement: two replicas cannot both take the same login.
    const { rows } = await this.pool.query<PendingLogin>(
      `DELETE FROM ${this.prefix}oidc_logins WHERE id_sha256 = $1 RETURNING state, nonce, code_verifier, return_to, expires_at`,
      [hashSecret(secret)],
    );
    const row = rows[0];
    if (!row || Date.parse(row.expires_at) <= this.now()) return null;
    return row;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The session store beside the control plane's events and tokens (same SQLite file or PostgreSQL schema). */
export async function openSessionStore(loc: { dataDir: string; databaseUrl?: string }, now?: () => number): Promise<SessionStore> {
  if (loc.databaseUrl) {
    const { url, schema } = splitSchema(loc.databaseUrl);
    return PostgresSessionStore.connect(url, { ...(schema ? { schema } : {}), ...(now ? { now } : {}) });
  }
  return new SqliteSessionStore(eventsDbFile(loc.dataDir), now);
}
