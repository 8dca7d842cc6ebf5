import { createHash } from 'node:crypto';
import { Client, escapeIdentifier, type Pool, type PoolClient } from 'pg';
import { canonicalJson } from './canonical.js';
import { createPgPool, pgTransaction } from './pg-pool.js';
import { linkEvents, type ChainedEvent, type ChainRecord, type Checkpoint } from './chain.js';
import type { DecisionEvent } from './event.js';
import { pruneCut, PruneSegment, retentionCutoff } from './prune.js';
import {
  ChainConflictError,
  CHECKPOINTED_META,
  PruneRefusedError,
  indexedColumns,
  REPORT_COLUMNS,
  SEARCH_COLUMNS,
  searchPattern,
  sortUsageRows,
  usageDayKey,
  type EventFilter,
  type EventStore,
  type IndexedColumns,
  type PublicKeyRecord,
  type Retention,
  type StoredEvent,
  type UnsignedRecord,
  type UsageGroupBy,
  type UsageRow,
} from './store.js';
import { roundUsd } from '../usage/pricing.js';

const TABLES = ['events', 'checkpoints', 'signing_keys', 'meta', 'blobs', 'chain_records'] as const;
const INDEXES = ['events_ts', 'events_verdict_pos', 'events_developer_pos', 'events_repository_pos', 'events_model_pos', 'events_report'] as const;

/** Append-only guards: [name, table, timing and event, level, message]. */
const TRIGGERS = [
  ['events_no_update', 'events', 'BEFORE UPDATE', 'ROW', 'keeptrusts events are append-only'],
  ['events_no_delete', 'events', 'BEFORE DELETE', 'ROW', 'keeptrusts events are append-only; only retention pruning removes them'],
  // TRUNCATE skips row triggers, so it needs its own guard.
  ['events_no_truncate', 'events', 'BEFORE TRUNCATE', 'STATEMENT', 'keeptrusts events are append-only'],
  ['checkpoints_no_update', 'checkpoints', 'BEFORE UPDATE', 'ROW', 'keeptrusts checkpoints are append-only'],
  ['checkpoints_no_delete', 'checkpoints', 'BEFORE DELETE', 'ROW', 'keeptrusts checkpoints are append-only'],
  ['checkpoints_no_truncate', 'checkpoints', 'BEFORE TRUNCATE', 'STATEMENT', 'keeptrusts checkpoints are append-only'],
  ['blobs_no_update', 'blobs', 'BEFORE UPDATE', 'ROW', 'keeptrusts captured texts are append-only'],
  ['chain_records_no_update', 'chain_records', 'BEFORE UPDATE', 'ROW', 'keeptrusts chain records are append-only'],
  ['chain_records_no_delete', 'chain_records', 'BEFORE DELETE', 'ROW', 'keeptrusts chain records are append-only'],
  ['chain_records_no_truncate', 'chain_records', 'BEFORE TRUNCATE', 'STATEMENT', 'keeptrusts chain records are append-only'],
] as const;

function ddl(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.events (
  pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  id TEXT NOT NULL UNIQUE,
  ts_ms BIGINT NOT NULL,
  verdict TEXT NOT NULL,
  developer TEXT,
  repository TEXT,
  team TEXT,
  model TEXT,
  client TEXT,
  gateway TEXT NOT NULL,
  policies TEXT NOT NULL,
  provider TEXT,
  cost_usd DOUBLE PRECISION,
  input_tokens BIGINT,
  output_tokens BIGINT,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX IF NOT EXISTS events_ts ON ${s}.events (ts_ms);
CREATE INDEX IF NOT EXISTS events_verdict_pos ON ${s}.events (verdict, pos);
CREATE INDEX IF NOT EXISTS events_developer_pos ON ${s}.events (developer, pos);
CREATE INDEX IF NOT EXISTS events_repository_pos ON ${s}.events (repository, pos);
CREATE INDEX IF NOT EXISTS events_model_pos ON ${s}.events (model, pos);
CREATE TABLE IF NOT EXISTS ${s}.checkpoints (
  chain TEXT NOT NULL,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL,
  ts TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (chain, seq)
);
CREATE TABLE IF NOT EXISTS ${s}.signing_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.blobs (sha256 TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.chain_records (
  pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  chain TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL,
  ts TEXT NOT NULL,
  detail TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  UNIQUE (chain, kind, seq)
);
CREATE OR REPLACE FUNCTION ${s}.keeptrusts_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  -- Only prune() turns this on, with SET LOCAL, so it ends with the pruning transaction.
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'events' AND current_setting('keeptrusts.pruning', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'insufficient_privilege';
END
$fn$;
`;
}

interface Row {
  pos: string | number;
  chain: string;
  seq: string | number;
  id: string;
  body: string;
  prev_hash: string;
  hash: string;
}

type FullRow = Row &
  Omit<IndexedColumns, 'ts_ms' | 'input_tokens' | 'output_tokens'> & { ts_ms: string | number; input_tokens: string | number | null; output_tokens: string | number | null };

/** Types of the report columns, for tables created before them (ALTER TABLE … ADD COLUMN IF NOT EXISTS). */
const REPORT_COLUMN_TYPES: Record<(typeof REPORT_COLUMNS)[number], string> = { provider: 'TEXT', cost_usd: 'DOUBLE PRECISION', input_tokens: 'BIGINT', output_tokens: 'BIGINT' };

const EVENT_COLUMNS = [
  'chain',
  'seq',
  'id',
  'ts_ms',
  'verdict',
  'developer',
  'repository',
  'team',
  'model',
  'client',
  'gateway',
  'policies',
  'provider',
  'cost_usd',
  'input_tokens',
  'output_tokens',
  'body',
  'prev_hash',
  'hash',
] as const;
/** 19 parameters a row; PostgreSQL allows 65535 parameters a statement. */
const INSERT_CHUNK = 1000;

/**
 * The shared store: PostgreSQL, for several gateways and the control plane. Tables live in one schema
 * (`keeptrusts` unless told otherwise). Appends to a chain are serialised across processes with a
 * transaction-scoped advisory lock keyed by the chain, so seqs stay contiguous however many gateways write.
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  private readonly s: string;
  private closed = false;

  private constructor(
    private readonly db: Pool,
    readonly schema: string,
  ) {
    this.s = escapeIdentifier(schema);
  }

  static async connect(url: string, opts: { schema?: string } = {}): Promise<PostgresEventStore> {
    const schema = checkSchemaName(opts.schema ?? 'keeptrusts');
    const pool = createPgPool(url);
    try {
      await ensureSchema(pool, schema);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new PostgresEventStore(pool, schema);
  }

  /** Remove a schema and everything in it (tests clean up with this). */
  static async dropSchema(url: string, schema: string): Promise<void> {
    const client = new Client({ connectionString: url });
    // A reset while it runs fails the query below; unheard, the 'error' event would end the process.
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${escapeIdentifier(checkSchemaName(schema))} CASCADE`);
    } finally {
      await client.end();
    }
  }

  /** The underlying pool, for tests that play the attacker. */
  get pool(): Pool {
    return this.db;
  }

  private t(table: (typeof TABLES)[number]): string {
    return `${this.s}.${table}`;
  }

  async getBlobs(sha256s: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const wanted = [...new Set(sha256s)];
    if (wanted.length === 0) return out;
    const { rows } = await this.pool.query<{ sha256: string; text: string }>(`SELECT sha256, text FROM ${this.t('blobs')} WHERE sha256 = ANY($1::text[])`, [wanted]);
    for (const r of rows) out.set(r.sha256, r.text);
    return out;
  }

  private async putBlobs(c: PoolClient, blobs: ReadonlyMap<string, string> | undefined): Promise<void> {
    if (!blobs || blobs.size === 0) return;
    await c.query(`INSERT INTO ${this.t('blobs')} (sha256, text) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`, [[...blobs.keys()], [...blobs.values()]]);
  }

  async append(chain: string, events: readonly DecisionEvent[], blobs?: ReadonlyMap<string, string>): Promise<ChainedEvent[]> {
    if (events.length === 0) return [];
    return this.tx(async (c) => {
      await this.putBlobs(c, blobs);
      await lockChains(c, this.schema, [chain]);
      await lockInsertOrder(c, this.schema);
      const head = await this.headOn(c, chain);
      const linked = linkEvents(chain, head, events);
      await this.insertRows(
        c,
        linked.map((e, i) => ({ ...e, ...indexedColumns(events[i]!) })),
        '',
      );
      return linked;
    });
  }

  async ingest(events: readonly ChainedEvent[], blobs?: ReadonlyMap<string, string>): Promise<{ inserted: number; duplicates: number }> {
    if (events.length === 0) return { inserted: 0, duplicates: 0 };
    return this.tx(async (c) => {
      await this.putBlobs(c, blobs);
      // The same locks as append: an ingest never interleaves with an append or another ingest of the chain.
      await lockChains(c, this.schema, events.map((e) => e.chain));
      await lockInsertOrder(c, this.schema);
      let inserted = 0;
      let duplicates = 0;
      for (let i = 0; i < events.length; i += INSERT_CHUNK) {
        const chunk = events.slice(i, i + INSERT_CHUNK);
        // DO NOTHING covers both unique keys (id, and chain+seq); rows it skipped are sorted out below.
        const rows = chunk.map((e) => ({ ...e, ...indexedColumns(JSON.parse(e.body) as DecisionEvent) }));
        const returned = await this.insertRows(c, rows, 'ON CONFLICT DO NOTHING RETURNING id');
        // A batch may carry one id twice: the first copy is the one inserted, later copies are checked.
        const fresh = new Set(returned);
        const skipped = chunk.filter((e) => !fresh.delete(e.id));
        inserted += chunk.length - skipped.length;
        if (skipped.length === 0) continue;
        const byId = new Map(
          (
            await c.query<{ id: string; chain: string; seq: string; hash: string }>(`SELECT id, chain, seq, hash FROM ${this.t('events')} WHERE id = ANY($1::text[])`, [
              skipped.map((e) => e.id),
            ])
          ).rows.map((r) => [r.id, r]),
        );
        const unknown = skipped.filter((e) => !byId.has(e.id));
        const atPlace = new Map(
          unknown.length === 0
            ? []
            : (
                await c.query<{ chain: string; seq: string; id: string }>(
                  `SELECT e.chain, e.seq, e.id FROM ${this.t('events')} e JOIN unnest($1::text[], $2::bigint[]) AS p (chain, seq) ON e.chain = p.chain AND e.seq = p.seq`,
                  [unknown.map((e) => e.chain), unknown.map((e) => e.seq)],
                )
              ).rows.map((r) => [placeKey(r.chain, int(r.seq)), r.id]),
        );
        // In batch order, so the error names the same event as the SQLite store's would.
        for (const e of skipped) {
          const ex = byId.get(e.id);
          if (ex) {
            if (ex.hash !== e.hash || ex.chain !== e.chain || int(ex.seq) !== e.seq) {
              throw new ChainConflictError(`event ${e.id} was already received with a different hash`);
            }
            duplicates++;
            continue;
          }
          const other = atPlace.get(placeKey(e.chain, e.seq));
          if (other) throw new ChainConflictError(`chain ${e.chain} already has event ${other} at seq ${e.seq}`);
          // Neither key is taken now, yet the insert was skipped: a prune removed the row in between.
          throw new ChainConflictError(`event ${e.id} at seq ${e.seq} of chain ${e.chain} conflicted with an event that is now gone`);
        }
      }
      return { inserted, duplicates };
    });
  }

  /** Multi-row INSERT of complete rows; returns the `id`s the statement returned, if `tail` asks for them. */
  private async insertRows(c: PoolClient, rows: ReadonlyArray<Record<(typeof EVENT_COLUMNS)[number], unknown>>, tail: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      const params: unknown[] = [];
      const tuples = chunk.map((row) => {
        const start = params.length;
        for (const col of EVENT_COLUMNS) params.push(row[col]);
        return `(${EVENT_COLUMNS.map((_, j) => `$${start + j + 1}`).join(',')})`;
      });
      const res = await c.query<{ id: string }>(`INSERT INTO ${this.t('events')} (${EVENT_COLUMNS.join(', ')}) VALUES ${tuples.join(',')} ${tail}`, params);
      if (tail) for (const r of res.rows) ids.push(r.id);
    }
    return ids;
  }

  async head(chain: string): Promise<{ seq: number; hash: string } | null> {
    return this.headOn(this.db, chain);
  }

  private async headOn(c: Pool | PoolClient, chain: string): Promise<{ seq: number; hash: string } | null> {
    const res = await c.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${this.t('events')} WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, [chain]);
    const row = res.rows[0];
    return row ? { seq: int(row.seq), hash: row.hash } : null;
  }

  async chains(): Promise<string[]> {
    // A skip scan over the (chain, seq) keys: one index probe per chain instead of reading every event.
    const res = await this.db.query<{ chain: string }>(
      `WITH RECURSIVE e AS (
         (SELECT chain FROM ${this.t('events')} ORDER BY chain LIMIT 1)
         UNION ALL
         SELECT (SELECT chain FROM ${this.t('events')} WHERE chain > e.chain ORDER BY chain LIMIT 1) FROM e WHERE e.chain IS NOT NULL
       )
       SELECT chain FROM (
         SELECT chain FROM e WHERE chain IS NOT NULL
         UNION SELECT chain FROM ${this.t('checkpoints')}
         UNION SELECT chain FROM ${this.t('chain_records')}
         UNION SELECT substr(key, ${CHECKPOINTED_META.length + 1}) FROM ${this.t('meta')} WHERE left(key, ${CHECKPOINTED_META.length}) = $1
       ) u
       ORDER BY chain COLLATE "C"`,
      [CHECKPOINTED_META],
    );
    return res.rows.map((r) => r.chain);
  }

  async query(filter: EventFilter): Promise<StoredEvent[]> {
    const { where, params } = whereClause(filter);
    const order = filter.order === 'asc' ? 'ASC' : 'DESC';
    const requested = Number.isFinite(filter.limit) ? Math.trunc(filter.limit!) : 100;
    params.push(Math.min(Math.max(requested, 1), 10_000));
    const sql = `SELECT pos, chain, seq, id, body, prev_hash, hash FROM ${this.t('events')} ${where} ORDER BY pos ${order} LIMIT $${params.length}`;
    const res = await this.db.query<Row>(sql, params);
    return res.rows.map(toStored);
  }

  async usageReport(filter: EventFilter, by: UsageGroupBy): Promise<UsageRow[]> {
    const { where, params } = whereClause(filter);
    const key = by === 'day' ? 'ts_ms / 86400000' : by;
    const sql = `SELECT ${key} AS k, COUNT(*) AS requests, COALESCE(SUM(input_tokens), 0) AS input_tokens, COALESCE(SUM(output_tokens), 0) AS output_tokens,
                        SUM(cost_usd) AS cost_usd, COUNT(*) FILTER (WHERE cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)) AS unpriced
                 FROM ${this.t('events')} ${where} GROUP BY 1`;
    const res = await this.db.query<{ k: string | null; requests: string; input_tokens: string; output_tokens: string; cost_usd: number | null; unpriced: string }>(sql, params);
    return sortUsageRows(
      res.rows.map((r) => ({
        key: r.k === null ? null : by === 'day' ? usageDayKey(int(r.k)) : r.k,
        requests: int(r.requests),
        // SUM of BIGINT is NUMERIC, which pg hands over as text.
        input_tokens: Number(r.input_tokens),
        output_tokens: Number(r.output_tokens),
        cost_usd: r.cost_usd === null ? null : roundUsd(Number(r.cost_usd)),
        unpriced_requests: int(r.unpriced),
      })),
      by,
    );
  }

  async get(id: string): Promise<StoredEvent | null> {
    const res = await this.db.query<Row>(`SELECT pos, chain, seq, id, body, prev_hash, hash FROM ${this.t('events')} WHERE id = $1`, [id]);
    return res.rows[0] ? toStored(res.rows[0]) : null;
  }

  async *scan(chain: string, fromSeq = 1, pageSize = 1000): AsyncIterable<StoredEvent> {
    const sql = `SELECT pos, chain, seq, id, ts_ms, verdict, developer, repository, team, model, client, gateway, policies,
                        provider, cost_usd, input_tokens, output_tokens, body, prev_hash, hash
                 FROM ${this.t('events')} WHERE chain = $1 AND seq >= $2 ORDER BY seq LIMIT $3`;
    let next = fromSeq;
    for (;;) {
      const { rows } = await this.db.query<FullRow>(sql, [chain, next, pageSize]);
      for (const r of rows) yield { ...toStored(r), columns: columnsOf(r) };
      if (rows.length < pageSize) return;
      next = int(rows[rows.length - 1]!.seq) + 1;
    }
  }

  async firstSeq(chain: string): Promise<number | null> {
    const res = await this.db.query<{ seq: string | null }>(`SELECT MIN(seq) AS seq FROM ${this.t('events')} WHERE chain = $1`, [chain]);
    const seq = res.rows[0]?.seq ?? null;
    return seq === null ? null : int(seq);
  }

  async addCheckpoint(cp: Checkpoint): Promise<void> {
    await this.tx(async (c) => {
      await c.query(`INSERT INTO ${this.t('checkpoints')} (chain, seq, hash, ts, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, [
        cp.chain,
        cp.seq,
        cp.hash,
        cp.ts,
        cp.key_id,
        cp.signature,
      ]);
      // A value that is not a number (written by hand) is replaced rather than failing the cast.
      await c.query(
        `INSERT INTO ${this.t('meta')} AS m (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value
         WHERE m.value !~ '^[0-9]{1,18}$' OR excluded.value::bigint > m.value::bigint`,
        [`${CHECKPOINTED_META}${cp.chain}`, String(cp.seq)],
      );
    });
  }

  async addRecord(r: ChainRecord): Promise<void> {
    await insertRecord(this.db, this.t('chain_records'), r);
  }

  async records(chain: string): Promise<ChainRecord[]> {
    const res = await this.db.query<Omit<ChainRecord, 'seq' | 'detail'> & { seq: string; detail: string }>(
      `SELECT chain, kind, seq, hash, ts, detail, key_id, signature FROM ${this.t('chain_records')} WHERE chain = $1 ORDER BY pos`,
      [chain],
    );
    return res.rows.map((r) => ({ ...r, seq: int(r.seq), detail: JSON.parse(r.detail) as ChainRecord['detail'] }));
  }

  async checkpoints(chain: string): Promise<Checkpoint[]> {
    const res = await this.db.query<Omit<Checkpoint, 'seq'> & { seq: string }>(
      `SELECT chain, seq, hash, ts, key_id, signature FROM ${this.t('checkpoints')} WHERE chain = $1 ORDER BY seq`,
      [chain],
    );
    return res.rows.map((r) => ({ chain: r.chain, seq: int(r.seq), hash: r.hash, ts: r.ts, key_id: r.key_id, signature: r.signature }));
  }

  async registerKey(key: PublicKeyRecord): Promise<void> {
    await this.db.query(`INSERT INTO ${this.t('signing_keys')} (key_id, public_key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
      key.key_id,
      key.public_key,
      key.created_at,
    ]);
  }

  async keys(): Promise<PublicKeyRecord[]> {
    // COLLATE "C": byte order, as SQLite sorts, whatever the database's locale.
    const res = await this.db.query<PublicKeyRecord>(`SELECT key_id, public_key, created_at FROM ${this.t('signing_keys')} ORDER BY created_at COLLATE "C"`);
    return res.rows;
  }

  async prune(chain: string, retention: Retention, sign: (statement: UnsignedRecord) => ChainRecord): Promise<{ removed: number; record: ChainRecord | null }> {
    const cutoff = retentionCutoff(retention);
    return this.tx(async (c) => {
      await lockChains(c, this.schema, [chain]);
      const events = this.t('events');
      // A checkpoint before the first event at or after the cut-off ends a removable segment (by the columns; the
      // bodies are checked below). The cut also stays below the chain's head: with no events left, the next append
      // would start the chain again at seq 1.
      const firstRow = await c.query<{ seq: string | null }>(`SELECT MIN(seq) AS seq FROM ${events} WHERE chain = $1`, [chain]);
      if (firstRow.rows[0]?.seq == null) return { removed: 0, record: null };
      const first = int(firstRow.rows[0].seq);
      const found = await c.query<{ seq: string; hash: string }>(
        `SELECT cp.seq, cp.hash FROM ${this.t('checkpoints')} cp
         WHERE cp.chain = $1
           AND cp.seq >= $3
           AND cp.seq < COALESCE((SELECT MIN(seq) FROM ${events} WHERE chain = $1 AND ts_ms >= $2), (SELECT MAX(seq) FROM ${events} WHERE chain = $1))
           AND cp.seq < (SELECT MAX(seq) FROM ${events} WHERE chain = $1)
         ORDER BY cp.seq`,
        [chain, Math.ceil(cutoff.beforeMs), first],
      );
      const cut = pruneCut(
        found.rows.map((r) => ({ seq: int(r.seq), hash: r.hash })),
        first,
      );
      if (!cut) return { removed: 0, record: null };
      const segment = new PruneSegment(chain, cutoff);
      for (let from = 0; ; ) {
        const { rows } = await c.query<FullRow>(
          `SELECT pos, chain, seq, id, ts_ms, verdict, developer, repository, team, model, client, gateway, policies,
                  provider, cost_usd, input_tokens, output_tokens, body, prev_hash, hash
           FROM ${events} WHERE chain = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT 1000`,
          [chain, from, cut.seq],
        );
        for (const r of rows) segment.add(storedForPrune(r));
        if (rows.length < 1000) break;
        from = int(rows[rows.length - 1]!.seq) + 1;
      }
      const record = sign(segment.statement(cut));
      await insertRecord(c, this.t('chain_records'), record);
      await c.query(`SET LOCAL keeptrusts.pruning = 'on'`);
      const res = await c.query(`DELETE FROM ${events} WHERE chain = $1 AND seq <= $2`, [chain, cut.seq]);
      await c.query(`SET LOCAL keeptrusts.pruning = 'off'`);
      return { removed: res.rowCount ?? 0, record };
    });
  }

  async getMeta(key: string): Promise<string | null> {
    const res = await this.db.query<{ value: string }>(`SELECT value FROM ${this.t('meta')} WHERE key = $1`, [key]);
    return res.rows[0]?.value ?? null;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.query(`INSERT INTO ${this.t('meta')} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.end();
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    return pgTransaction(this.db, fn);
  }
}

/** The WHERE clause for a filter (empty when it filters nothing) and its parameters, for queries and reports. */
function whereClause(filter: EventFilter): { where: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  // Whole numbers only reach BIGINT comparisons; rounding each bound the right way keeps its meaning.
  if (filter.sinceMs !== undefined) add((p) => `ts_ms >= ${p}`, Math.ceil(filter.sinceMs));
  if (filter.untilMs !== undefined) add((p) => `ts_ms < ${p}`, Math.ceil(filter.untilMs));
  if (filter.verdict?.length) add((p) => `verdict = ANY(${p}::text[])`, filter.verdict);
  if (filter.policy) add((p) => `strpos(policies, ${p}) > 0`, `,${filter.policy.replaceAll(',', '')},`);
  for (const col of ['developer', 'repository', 'team', 'model', 'client', 'gateway'] as const) {
    const v = filter[col];
    if (v !== undefined) add((p) => `${col} = ${p}`, v);
  }
  if (filter.q) add((p) => `(${SEARCH_COLUMNS.map((c) => `${c} ILIKE ${p}`).join(' OR ')})`, searchPattern(filter.q));
  if (filter.afterPos !== undefined) add((p) => `pos > ${p}`, Math.floor(filter.afterPos));
  if (filter.beforePos !== undefined) add((p) => `pos < ${p}`, Math.ceil(filter.beforePos));
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

/**
 * Take the transaction-scoped advisory locks of these chains, in key order so that two transactions locking
 * overlapping sets cannot deadlock. Keys are 64 bits of SHA-256 over the schema and chain name: two stores
 * in one database (test schemas, say) do not wait on each other.
 */
async function lockChains(c: PoolClient, schema: string, chains: readonly string[]): Promise<void> {
  const keys = [...new Set(chains)].map((chain) => lockKey(`keeptrusts-chain\n${schema}\n${chain}`)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const key of [...new Set(keys)]) await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [key.toString()]);
}

/**
 * Inserts into one schema also take one shared lock, always after the chain locks (so no deadlock): then
 * `pos` values are handed out in commit order, and a live tail reading `pos > last` cannot skip a row that a
 * slower transaction on another chain commits later with a lower `pos`. Writes are batched (group commit),
 * so serialising them costs little.
 */
async function lockInsertOrder(c: PoolClient, schema: string): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`keeptrusts-pos\n${schema}`).toString()]);
}

function lockKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

/**
 * Create the schema's tables, indexes and triggers unless they are all there. Creating them is done under an
 * advisory lock because concurrent `CREATE ... IF NOT EXISTS` can still fail on PostgreSQL's catalog
 * constraints; checking first lets a role without CREATE rights connect to a schema an admin set up.
 */
async function ensureSchema(pool: Pool, schema: string): Promise<void> {
  if (await schemaReady(pool, schema)) return;
  const s = escapeIdentifier(schema);
  await pgTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`keeptrusts-ddl\n${schema}`).toString()]);
    await c.query(ddl(s));
    const existing = await c.query<{ tgname: string }>(
      `SELECT t.tgname FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = $1 AND NOT t.tgisinternal`,
      [schema],
    );
    const have = new Set(existing.rows.map((r) => r.tgname));
    for (const [name, table, when, level, message] of TRIGGERS) {
      if (have.has(name)) continue;
      await c.query(`CREATE TRIGGER ${name} ${when} ON ${s}.${table} FOR EACH ${level} EXECUTE FUNCTION ${s}.keeptrusts_refuse(${quoteLiteral(message)})`);
    }
    // After the triggers, so the one it lifts for the backfill is there to lift.
    await upgradeReportColumns(c, schema);
    // After the report columns: usage reports and the console's stats over a time range read this index only.
    await c.query(`CREATE INDEX IF NOT EXISTS events_report ON ${s}.events (ts_ms) INCLUDE (verdict, developer, repository, model, provider, cost_usd, input_tokens, output_tokens)`);
  });
}

async function schemaReady(pool: Pool, schema: string): Promise<boolean> {
  const res = await pool.query<{ relations: string; triggers: string; columns: string }>(
    `SELECT
       (SELECT count(*) FROM pg_class r JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = $1 AND r.relname = ANY($2::text[])) AS relations,
       (SELECT count(*) FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace n ON n.oid = r.relnamespace
          WHERE n.nspname = $1 AND t.tgname = ANY($3::text[]) AND NOT t.tgisinternal) AS triggers,
       (SELECT count(*) FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid JOIN pg_namespace n ON n.oid = r.relnamespace
          WHERE n.nspname = $1 AND r.relname = 'events' AND a.attname = ANY($4::text[]) AND NOT a.attisdropped) AS columns`,
    [schema, [...TABLES, ...INDEXES], TRIGGERS.map((t) => t[0]), [...REPORT_COLUMNS]],
  );
  const row = res.rows[0];
  return (
    !!row && int(row.relations) === TABLES.length + INDEXES.length && int(row.triggers) === TRIGGERS.length && int(row.columns) === REPORT_COLUMNS.length
  );
}

/**
 * An events table created before the report columns gets them, filled from each event's body; called under
 * the DDL lock, inside its transaction. Only the derived columns are written (never a body or hash), with the
 * table's triggers off for the length of this transaction: ALTER TABLE holds the table exclusively until the
 * commit, so no other session sees them off. On a fresh table (created with the columns) this does nothing.
 */
async function upgradeReportColumns(c: PoolClient, schema: string): Promise<void> {
  const s = escapeIdentifier(schema);
  const have = await c.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE n.nspname = $1 AND r.relname = 'events' AND a.attname = ANY($2::text[]) AND NOT a.attisdropped`,
    [schema, [...REPORT_COLUMNS]],
  );
  const missing = REPORT_COLUMNS.filter((col) => !have.rows.some((r) => r.attname === col));
  if (missing.length === 0) return;
  for (const col of missing) await c.query(`ALTER TABLE ${s}.events ADD COLUMN IF NOT EXISTS ${col} ${REPORT_COLUMN_TYPES[col]}`);
  // The row triggers only: the TRUNCATE guard has nothing to do with this and stays on.
  await c.query(`ALTER TABLE ${s}.events DISABLE TRIGGER events_no_update`);
  for (let after = 0; ; ) {
    const { rows } = await c.query<{ pos: string; body: string }>(`SELECT pos, body FROM ${s}.events WHERE pos > $1 ORDER BY pos LIMIT 1000`, [after]);
    const updates: Array<[number, IndexedColumns]> = [];
    for (const row of rows) {
      try {
        const cols = indexedColumns(JSON.parse(row.body) as DecisionEvent);
        if (cols.provider !== null || cols.cost_usd !== null || cols.input_tokens !== null || cols.output_tokens !== null) updates.push([int(row.pos), cols]);
      } catch {
        // not an event any more: verification reports the body itself
      }
    }
    if (updates.length) {
      await c.query(
        `UPDATE ${s}.events e SET provider = u.provider, cost_usd = u.cost_usd, input_tokens = u.input_tokens, output_tokens = u.output_tokens
         FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::bigint[], $5::bigint[]) AS u (pos, provider, cost_usd, input_tokens, output_tokens)
         WHERE e.pos = u.pos`,
        [updates.map((u) => u[0]), updates.map((u) => u[1].provider), updates.map((u) => u[1].cost_usd), updates.map((u) => u[1].input_tokens), updates.map((u) => u[1].output_tokens)],
      );
    }
    if (rows.length < 1000) break;
    after = int(rows[rows.length - 1]!.pos);
  }
  await c.query(`ALTER TABLE ${s}.events ENABLE TRIGGER events_no_update`);
}

function checkSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${JSON.stringify(schema)}`);
  return schema;
}

/** Trigger arguments are literals, not parameters; the messages are constants above. */
function quoteLiteral(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** BIGINT arrives from pg as a string (it may exceed 2^53); positions and seqs never do. */
function int(v: string | number): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`expected an integer from PostgreSQL, got ${String(v)}`);
  return n;
}

function placeKey(chain: string, seq: number): string {
  return `${seq}\n${chain}`;
}

async function insertRecord(c: Pool | PoolClient, table: string, r: ChainRecord): Promise<void> {
  await c.query(`INSERT INTO ${table} (chain, kind, seq, hash, ts, detail, key_id, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`, [
    r.chain,
    r.kind,
    r.seq,
    r.hash,
    r.ts,
    canonicalJson(r.detail),
    r.key_id,
    r.signature,
  ]);
}

/** A row about to be pruned; a body that is not JSON any more refuses the prune like any other edit. */
function storedForPrune(r: FullRow): StoredEvent {
  try {
    return { ...toStored(r), columns: columnsOf(r) };
  } catch {
    throw new PruneRefusedError(`the events to prune from chain ${r.chain} do not verify (${r.id}: stored body is not JSON); they are kept as evidence: run kt events verify`);
  }
}

function toStored(r: Row): StoredEvent {
  return { pos: int(r.pos), chain: r.chain, seq: int(r.seq), id: r.id, body: r.body, prev_hash: r.prev_hash, hash: r.hash, event: JSON.parse(r.body) as DecisionEvent };
}

function columnsOf(r: FullRow): IndexedColumns {
  const { verdict, developer, repository, team, model, client, gateway, policies, provider, cost_usd } = r;
  const n = (v: string | number | null) => (v === null ? null : int(v));
  return {
    ts_ms: int(r.ts_ms),
    verdict,
    developer,
    repository,
    team,
    model,
    client,
    gateway,
    policies,
    provider,
    cost_usd: cost_usd === null ? null : Number(cost_usd),
    input_tokens: n(r.input_tokens),
    output_tokens: n(r.output_tokens),
  };
}
