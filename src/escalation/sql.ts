import Database from 'better-sqlite3';
import type { Pool } from 'pg';
import { createPrivateFile } from '../audit/data-dir.js';
import { splitSchema } from '../audit/open.js';
import { eventsDbFile } from '../audit/paths.js';

/**
 * The few statements escalations, exceptions and webhook deliveries need, written once with `?` placeholders
 * and run on the gateway's SQLite file (a connection of its own, as virtual keys have) or on PostgreSQL.
 */
export interface SqlDriver {
  readonly kind: 'sqlite' | 'postgres';
  /** `t` is a table name; PostgreSQL qualifies it with the schema. */
  table(t: string): string;
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export class SqliteDriver implements SqlDriver {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  constructor(file: string) {
    if (file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
  }
  table(t: string): string {
    return t;
  }
  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.db.prepare(sql).all(...params) as T[];
  }
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.db.prepare(sql).run(...params).changes;
  }
  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

export class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  private constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {}

  static async connect(url: string, schema = 'keeptrusts'): Promise<PostgresDriver> {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
    const [{ escapeIdentifier }, { createPgPool }] = await Promise.all([import('pg'), import('../audit/pg-pool.js')]);
    return new PostgresDriver(createPgPool(url, { max: 4 }), escapeIdentifier(schema));
  }
  table(t: string): string {
    return `${this.schema}.${t}`;
  }
  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.pool.query(numbered(sql), [...params])).rows as T[];
  }
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.pool.query(numbered(sql), [...params])).rowCount ?? 0;
  }
  /** Schema set-up, serialised between processes starting together. */
  async exec(sql: string): Promise<void> {
    const { pgTransaction } = await import('../audit/pg-pool.js');
    await pgTransaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keeptrusts-integrations\n${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(sql);
    });
  }
  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}

/** `?` placeholders as PostgreSQL's `$1, $2, …` (the statements here hold no `?` in literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export async function openSqlDriver(loc: { dataDir: string; databaseUrl?: string | undefined }): Promise<SqlDriver> {
  if (loc.databaseUrl) {
    const { url, schema } = splitSchema(loc.databaseUrl);
    return PostgresDriver.connect(url, schema);
  }
  return new SqliteDriver(eventsDbFile(loc.dataDir));
}
