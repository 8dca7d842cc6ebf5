import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Pool } from 'pg';
import { newEventId } from '../audit/event.js';
import { splitSchema } from '../audit/open.js';
import { eventsDbFile } from '../audit/paths.js';
import { createPrivateFile } from '../audit/data-dir.js';

/**
 * What a token may do. `gateway`: post its own chain, and read. `reader` (dashboards, `kt events --api-url`): read.
 * `reviewer` (`kt escalations`, a reviewer's console): read and decide escalations. `admin` (automation): what an
 * admin signed in to the console may do, tokens included. Deciding is kept from readers so a read-only credential
 * handed to a dashboard cannot approve what a policy held.
 */
export type TokenRole = 'gateway' | 'reader' | 'reviewer' | 'admin';
export const TOKEN_ROLES: readonly TokenRole[] = ['gateway', 'reader', 'reviewer', 'admin'];
/** The CHECK both stores put on `role`; a store created before a role existed is migrated to it on open. */
const ROLE_CHECK = `CHECK (role IN (${TOKEN_ROLES.map((r) => `'${r}'`).join(', ')}))`;

export interface TokenRecord {
  id: string;
  /** For a gateway token, the chain it may write (its gateway id); for a reader, a label. */
  gateway: string;
  role: TokenRole;
  created_at: string;
  revoked_at: string | null;
}

export interface TokenStore {
  readonly kind: 'sqlite' | 'postgres';
  /** The secret is returned here and nowhere else: only its SHA-256 is stored. */
  create(input: { gateway: string; role?: TokenRole }): Promise<{ token: string; record: TokenRecord }>;
  /** The token's record when it exists and is not revoked, else null. */
  verify(token: string): Promise<TokenRecord | null>;
  list(): Promise<TokenRecord[]>;
  /** False when no token has this id. Revoking twice keeps the first revocation time. */
  revoke(id: string): Promise<boolean>;
  close(): Promise<void>;
}

export const TOKEN_PREFIX = 'ktgw_';
const TOKEN_SHAPE = /^ktgw_[A-Za-z0-9_-]{32}$/;
// Gateway ids become chain names, log fields and URL path segments: printable, no spaces or slashes.
const GATEWAY_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export class TokenInputError extends Error {
  override name = 'TokenInputError';
}

export function newToken(): string {
  // 24 random bytes are exactly 32 base64url characters, no padding.
  return `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function checkInput(input: { gateway: string; role?: TokenRole }): { gateway: string; role: TokenRole } {
  const role = input.role ?? 'gateway';
  if (!TOKEN_ROLES.includes(role)) throw new TokenInputError(`role must be one of ${TOKEN_ROLES.join(', ')}`);
  if (!GATEWAY_NAME.test(input.gateway)) {
    throw new TokenInputError('gateway name must be 1-128 characters: letters, digits and . _ : @ - (it is the gateway id, e.g. from --gateway-id)');
  }
  return { gateway: input.gateway, role };
}

interface Row {
  id: string;
  gateway: string;
  role: TokenRole;
  created_at: string;
  revoked_at: string | null;
}

const toRecord = (r: Row): TokenRecord => ({ id: r.id, gateway: r.gateway, role: r.role, created_at: r.created_at, revoked_at: r.revoked_at ?? null });

const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  gateway TEXT NOT NULL,
  role TEXT NOT NULL ${ROLE_CHECK},
  created_at TEXT NOT NULL,
  revoked_at TEXT
);`;

/**
 * SQLite cannot change a CHECK in place: a table made when fewer roles existed is copied into one with today's
 * CHECK, in one transaction (the token hashes and ids move unchanged).
 */
function migrateSqliteRoles(db: Database.Database): void {
  const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'api_tokens'").get() as { sql: string } | undefined;
  if (!row || row.sql.includes(ROLE_CHECK)) return;
  db.transaction(() => {
    db.exec('ALTER TABLE api_tokens RENAME TO api_tokens_before_roles');
    db.exec(SQLITE_SCHEMA);
    db.exec('INSERT INTO api_tokens (id, token_sha256, gateway, role, created_at, revoked_at) SELECT id, token_sha256, gateway, role, created_at, revoked_at FROM api_tokens_before_roles');
    db.exec('DROP TABLE api_tokens_before_roles');
  })();
}

/** Tokens in the control plane's own SQLite file, beside its events, through a connection of their own. */
export class SqliteTokenStore implements TokenStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    if (file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SQLITE_SCHEMA);
    migrateSqliteRoles(this.db);
  }

  async create(input: { gateway: string; role?: TokenRole }): Promise<{ token: string; record: TokenRecord }> {
    const { gateway, role } = checkInput(input);
    const token = newToken();
    const record: TokenRecord = { id: newEventId().replace('evt_', 'tok_'), gateway, role, created_at: new Date().toISOString(), revoked_at: null };
    this.db
      .prepare('INSERT INTO api_tokens (id, token_sha256, gateway, role, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(record.id, hashToken(token), gateway, role, record.created_at);
    return { token, record };
  }

  async verify(token: string): Promise<TokenRecord | null> {
    if (!TOKEN_SHAPE.test(token)) return null;
    const row = this.db
      .prepare('SELECT id, gateway, role, created_at, revoked_at FROM api_tokens WHERE token_sha256 = ? AND revoked_at IS NULL')
      .get(hashToken(token)) as Row | undefined;
    return row ? toRecord(row) : null;
  }

  async list(): Promise<TokenRecord[]> {
    return (this.db.prepare('SELECT id, gateway, role, created_at, revoked_at FROM api_tokens ORDER BY created_at, id').all() as Row[]).map(toRecord);
  }

  async revoke(id: string): Promise<boolean> {
    const exists = this.db.prepare('SELECT 1 FROM api_tokens WHERE id = ?').get(id);
    if (!exists) return false;
    this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id);
    return true;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Tokens in PostgreSQL, in the `keeptrusts` schema (or another, for tests) beside the events. */
export class PostgresTokenStore implements TokenStore {
  readonly kind = 'postgres' as const;

  private constructor(
    private readonly pool: Pool,
    private readonly table: string,
  ) {}

  static async connect(url: string, opts: { schema?: string } = {}): Promise<PostgresTokenStore> {
    const schema = opts.schema ?? 'keeptrusts';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new TokenInputError(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
    // Loaded only when asked for, like the PostgreSQL event store: `kt` with SQLite never loads pg.
    const [{ escapeIdentifier }, { createPgPool, pgTransaction }] = await Promise.all([import('pg'), import('../audit/pg-pool.js')]);
    const s = escapeIdentifier(schema);
    const pool = createPgPool(url, { max: 4 });
    try {
      // Two control planes starting together would race on CREATE ... IF NOT EXISTS; a lock serialises them.
      await pgTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keeptrusts-tokens\n${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.api_tokens (
        id TEXT PRIMARY KEY,
        token_sha256 TEXT NOT NULL UNIQUE,
        gateway TEXT NOT NULL,
        role TEXT NOT NULL ${ROLE_CHECK},
        created_at TEXT NOT NULL,
        revoked_at TEXT
      )`);
        // A table made when fewer roles existed: swap its CHECK on role for today's.
        const { rows } = await client.query<{ conname: string; def: string }>(
          `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`,
          [`${s}.api_tokens`],
        );
        const roleChecks = rows.filter((r) => /\brole\b/.test(r.def));
        if (!roleChecks.every((r) => TOKEN_ROLES.every((role) => r.def.includes(`'${role}'`))) || roleChecks.length === 0) {
          for (const r of roleChecks) await client.query(`ALTER TABLE ${s}.api_tokens DROP CONSTRAINT ${escapeIdentifier(r.conname)}`);
          await client.query(`ALTER TABLE ${s}.api_tokens ADD CONSTRAINT api_tokens_role_check ${ROLE_CHECK}`);
        }
      });
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new PostgresTokenStore(pool, `${s}.api_tokens`);
  }

  async create(input: { gateway: string; role?: TokenRole }): Promise<{ token: string; record: TokenRecord }> {
    const { gateway, role } = checkInput(input);
    const token = newToken();
    const record: TokenRecord = { id: newEventId().replace('evt_', 'tok_'), gateway, role, created_at: new Date().toISOString(), revoked_at: null };
    await this.pool.query(`INSERT INTO ${this.table} (id, token_sha256, gateway, role, created_at) VALUES ($1, $2, $3, $4, $5)`, [
      record.id,
      hashToken(token),
      gateway,
      role,
      record.created_at,
    ]);
    return { token, record };
  }

  async verify(token: string): Promise<TokenRecord | null> {
    if (!TOKEN_SHAPE.test(token)) return null;
    const { rows } = await this.pool.query<Row>(
      `SELECT id, gateway, role, created_at, revoked_at FROM ${this.table} WHERE token_sha256 = $1 AND revoked_at IS NULL`,
      [hashToken(token)],
    );
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async list(): Promise<TokenRecord[]> {
    const { rows } = await this.pool.query<Row>(`SELECT id, gateway, role, created_at, revoked_at FROM ${this.table} ORDER BY created_at, id`);
    return rows.map(toRecord);
  }

  async revoke(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`SELECT 1 FROM ${this.table} WHERE id = $1`, [id]);
    if (!rowCount) return false;
    await this.pool.query(`UPDATE ${this.table} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, [new Date().toISOString(), id]);
    return true;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The token store beside the control plane's events: the same SQLite file, or the same PostgreSQL database and
 * schema (`?schema=NAME` on the URL, as openEventStore reads it).
 */
export async function openTokenStore(loc: { dataDir: string; databaseUrl?: string }): Promise<TokenStore> {
  if (loc.databaseUrl) {
    const { url, schema } = splitSchema(loc.databaseUrl);
    return PostgresTokenStore.connect(url, schema ? { schema } : {});
  }
  return new SqliteTokenStore(eventsDbFile(loc.dataDir));
}
