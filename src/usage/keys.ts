import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Pool } from 'pg';
import { newEventId } from '../audit/event.js';
import { splitSchema } from '../audit/open.js';
import { eventsDbFile } from '../audit/paths.js';
import { createPrivateFile } from '../audit/data-dir.js';

/**
 * Gateway virtual keys: `kt keys create --developer …` issues one, a client uses it as its API key, and the
 * gateway attributes the request to the key's developer, team and repository and calls the provider with the
 * target's configured key. Only the key's SHA-256 is stored, as for control plane tokens (src/server/tokens.ts).
 */
export interface VirtualKeyRecord {
  /** `vk_` + a ULID; safe to show and log. */
  id: string;
  developer: string;
  team: string | null;
  repository: string | null;
  /** A label for people (`alice laptop`); not used for attribution. */
  name: string | null;
  created_at: string;
  revoked_at: string | null;
}

export interface VirtualKeyInput {
  developer: string;
  team?: string | undefined;
  repository?: string | undefined;
  name?: string | undefined;
}

export interface VirtualKeyStore {
  readonly kind: 'sqlite' | 'postgres';
  /** The key is returned here and nowhere else: only its SHA-256 is stored. */
  create(input: VirtualKeyInput): Promise<{ key: string; record: VirtualKeyRecord }>;
  /** Every key, revoked ones included, oldest first; never the key itself. */
  list(): Promise<VirtualKeyRecord[]>;
  /** False when no key has this id. Revoking twice keeps the first revocation time. */
  revoke(id: string): Promise<boolean>;
  /**
   * The record of a presented key when it exists and is not revoked, else null. Answers are cached for
   * `cacheTtlMs` (5 s by default): a key revoked by another process stops working within that time.
   */
  lookup(presentedKey: string): Promise<VirtualKeyRecord | null>;
  close(): Promise<void>;
}

/** Recognisable in leaked text: secret scanners (and code-sanitizer's rule keeptrusts-virtual-key) look for it. */
export const VIRTUAL_KEY_PREFIX = 'kt-vk-';
const KEY_SHAPE = /^kt-vk-[A-Za-z0-9_-]{32}$/;
export const DEFAULT_LOOKUP_CACHE_MS = 5_000;
/** The table's columns, the same SQL for SQLite and PostgreSQL. */
const VIRTUAL_KEY_TABLE = `(
  id TEXT PRIMARY KEY,
  key_sha256 TEXT NOT NULL UNIQUE,
  developer TEXT NOT NULL,
  team TEXT,
  repository TEXT,
  name TEXT,
  created_at TEXT NOT NULL,
  revoked_at TEXT
)`;
/** Distinct keys cached at once; unknown keys are cached too, so a flood of random keys must not grow it unbounded. */
const CACHE_MAX = 10_000;
const FIELD_MAX = 200;

/**
 * Whether an API key is meant as a gateway virtual key, by its prefix alone: a malformed or unknown `kt-vk-`
 * key is still one, to be refused, and never forwarded to a provider as if it were the provider's.
 */
export function isVirtualKey(s: string | null | undefined): boolean {
  return typeof s === 'string' && s.startsWith(VIRTUAL_KEY_PREFIX);
}

export function newVirtualKey(): string {
  // 24 random bytes are exactly 32 base64url characters, no padding.
  return `${VIRTUAL_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
}

export function hashVirtualKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export class VirtualKeyInputError extends Error {
  override name = 'VirtualKeyInputError';
}

/** Attribution values end up in events, logs and CSV exports: printable, bounded, trimmed. */
function field(label: string, value: string | undefined, required: boolean): string | null {
  const v = value?.trim() ?? '';
  if (v === '') {
    if (required) throw new VirtualKeyInputError(`${label} is required`);
    return null;
  }
  if (v.length > FIELD_MAX) throw new VirtualKeyInputError(`${label} must be at most ${FIELD_MAX} characters`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new VirtualKeyInputError(`${label} must not contain control characters`);
  return v;
}

function newRecord(input: VirtualKeyInput): VirtualKeyRecord {
  return {
    id: newEventId().replace('evt_', 'vk_'),
    developer: field('developer', input.developer, true)!,
    team: field('team', input.team, false),
    repository: field('repository', input.repository, false),
    name: field('name', input.name, false),
    created_at: new Date().toISOString(),
    revoked_at: null,
  };
}

interface Row {
  id: string;
  developer: string;
  team: string | null;
  repository: string | null;
  name: string | null;
  created_at: string;
  revoked_at: string | null;
}

const toRecord = (r: Row): VirtualKeyRecord => ({
  id: r.id,
  developer: r.developer,
  team: r.team ?? null,
  repository: r.repository ?? null,
  name: r.name ?? null,
  created_at: r.created_at,
  revoked_at: r.revoked_at ?? null,
});

const COLUMNS = 'id, developer, team, repository, name, created_at, revoked_at';

/** Lookups by key hash, answered from memory for a few seconds (misses included). */
class LookupCache {
  private readonly entries = new Map<string, { record: VirtualKeyRecord | null; until: number }>();

  constructor(private readonly ttlMs: number) {}

  get(hash: string): { record: VirtualKeyRecord | null } | undefined {
    if (this.ttlMs <= 0) return undefined;
    const e = this.entries.get(hash);
    if (!e) return undefined;
    if (e.until <= Date.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return e;
  }

  set(hash: string, record: VirtualKeyRecord | null): void {
    if (this.ttlMs <= 0) return;
    if (this.entries.size >= CACHE_MAX) this.entries.clear();
    this.entries.set(hash, { record, until: Date.now() + this.ttlMs });
  }

  clear(): void {
    this.entries.clear();
  }
}

export interface VirtualKeyStoreOptions {
  /** How long a lookup answer is reused; 0 turns the cache off. Default 5000 ms. */
  cacheTtlMs?: number;
}

/** Keys in the gateway's SQLite file (`<dataDir>/events.db`), beside its events, through a connection of their own. */
export class SqliteVirtualKeyStore implements VirtualKeyStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly cache: LookupCache;

  constructor(
    readonly file: string,
    opts: VirtualKeyStoreOptions = {},
  ) {
    if (file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS virtual_keys ${VIRTUAL_KEY_TABLE}`);
    this.cache = new LookupCache(opts.cacheTtlMs ?? DEFAULT_LOOKUP_CACHE_MS);
  }

  async create(input: VirtualKeyInput): Promise<{ key: string; record: VirtualKeyRecord }> {
    const record = newRecord(input);
    const key = newVirtualKey();
    this.db
      .prepare('INSERT INTO virtual_keys (id, key_sha256, developer, team, repository, name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(record.id, hashVirtualKey(key), record.developer, record.team, record.repository, record.name, record.created_at);
    return { key, record };
  }

  async list(): Promise<VirtualKeyRecord[]> {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM virtual_keys ORDER BY created_at, id`).all() as Row[]).map(toRecord);
  }

  async revoke(id: string): Promise<boolean> {
    const exists = this.db.prepare('SELECT 1 FROM virtual_keys WHERE id = ?').get(id);
    if (!exists) return false;
    this.db.prepare('UPDATE virtual_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(new Date().toISOString(), id);
    this.cache.clear();
    return true;
  }

  async lookup(presentedKey: string): Promise<VirtualKeyRecord | null> {
    if (!KEY_SHAPE.test(presentedKey)) return null;
    const hash = hashVirtualKey(presentedKey);
    const cached = this.cache.get(hash);
    if (cached) return cached.record;
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM virtual_keys WHERE key_sha256 = ? AND revoked_at IS NULL`).get(hash) as Row | undefined;
    const record = row ? toRecord(row) : null;
    this.cache.set(hash, record);
    return record;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** Keys in PostgreSQL, in the `keeptrusts` schema (or `?schema=`) beside the events and tokens. */
export class PostgresVirtualKeyStore implements VirtualKeyStore {
  readonly kind = 'postgres' as const;
  private readonly cache: LookupCache;

  private constructor(
    private readonly pool: Pool,
    private readonly table: string,
    opts: VirtualKeyStoreOptions,
  ) {
    this.cache = new LookupCache(opts.cacheTtlMs ?? DEFAULT_LOOKUP_CACHE_MS);
  }

  static async connect(url: string, opts: VirtualKeyStoreOptions & { schema?: string } = {}): Promise<PostgresVirtualKeyStore> {
    const schema = opts.schema ?? 'keeptrusts';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new VirtualKeyInputError(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
    // Loaded only when asked for: `kt` with SQLite never loads pg.
    const [{ escapeIdentifier }, { createPgPool, pgTransaction }] = await Promise.all([import('pg'), import('../audit/pg-pool.js')]);
    const s = escapeIdentifier(schema);
    const pool = createPgPool(url, { max: 4 });
    try {
      // Gateways starting together would race on CREATE ... IF NOT EXISTS; a lock serialises them.
      await pgTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`keeptrusts-virtual-keys\n${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.virtual_keys ${VIRTUAL_KEY_TABLE}`);
      });
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new PostgresVirtualKeyStore(pool, `${s}.virtual_keys`, opts);
  }

  async create(input: VirtualKeyInput): Promise<{ key: string; record: VirtualKeyRecord }> {
    const record = newRecord(input);
    const key = newVirtualKey();
    await this.pool.query(`INSERT INTO ${this.table} (id, key_sha256, developer, team, repository, name, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
      record.id,
      hashVirtualKey(key),
      record.developer,
      record.team,
      record.repository,
      record.name,
      record.created_at,
    ]);
    return { key, record };
  }

  async list(): Promise<VirtualKeyRecord[]> {
    // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} ORDER BY created_at COLLATE "C", id COLLATE "C"`);
    return rows.map(toRecord);
  }

  async revoke(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`SELECT 1 FROM ${this.table} WHERE id = $1`, [id]);
    if (!rowCount) return false;
    await this.pool.query(`UPDATE ${this.table} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, [new Date().toISOString(), id]);
    this.cache.clear();
    return true;
  }

  async lookup(presentedKey: string): Promise<VirtualKeyRecord | null> {
    if (!KEY_SHAPE.test(presentedKey)) return null;
    const hash = hashVirtualKey(presentedKey);
    const cached = this.cache.get(hash);
    if (cached) return cached.record;
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM ${this.table} WHERE key_sha256 = $1 AND revoked_at IS NULL`, [hash]);
    const record = rows[0] ? toRecord(rows[0]) : null;
    this.cache.set(hash, record);
    return record;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The virtual key store beside a gateway's events: `<dataDir>/events.db`, or the PostgreSQL database and
 * schema (`?schema=NAME` on the URL, as openEventStore reads it).
 */
export async function openVirtualKeyStore(loc: { dataDir: string; databaseUrl?: string | undefined }, opts: VirtualKeyStoreOptions = {}): Promise<VirtualKeyStore> {
  if (loc.databaseUrl) {
    const { url, schema } = splitSchema(loc.databaseUrl);
    return PostgresVirtualKeyStore.connect(url, { ...opts, ...(schema ? { schema } : {}) });
  }
  return new SqliteVirtualKeyStore(eventsDbFile(loc.dataDir), opts);
}
