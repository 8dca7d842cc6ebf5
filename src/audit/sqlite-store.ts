import Database from 'better-sqlite3';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { createPrivateFile } from './data-dir.js';
import { canonicalJson } from './canonical.js';
import { eventJson } from './event-json.js';
import { linkBodies, type ChainedEvent, type ChainRecord, type Checkpoint } from './chain.js';
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
  type IndexedColumns,
  type EventStore,
  type PublicKeyRecord,
  type Retention,
  type StoredEvent,
  type UnsignedRecord,
  type UsageGroupBy,
  type UsageRow,
} from './store.js';
import { roundUsd } from '../usage/pricing.js';

const BLOBS_NO_UPDATE_TRIGGER = `CREATE TRIGGER IF NOT EXISTS blobs_no_update BEFORE UPDATE ON blobs
  BEGIN SELECT RAISE(ABORT, 'keeptrusts captured texts are append-only'); END;`;

const NO_UPDATE_TRIGGER = `CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'keeptrusts events are append-only'); END;`;

/** Types of the report columns, for tables created before them (ALTER TABLE … ADD COLUMN). */
const REPORT_COLUMN_TYPES: Record<(typeof REPORT_COLUMNS)[number], string> = { provider: 'TEXT', cost_usd: 'REAL', input_tokens: 'INTEGER', output_tokens: 'INTEGER' };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  pos INTEGER PRIMARY KEY AUTOINCREMENT,
  chain TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  ts_ms INTEGER NOT NULL,
  verdict TEXT NOT NULL,
  developer TEXT,
  repository TEXT,
  team TEXT,
  model TEXT,
  client TEXT,
  gateway TEXT NOT NULL,
  policies TEXT NOT NULL,
  provider TEXT,
  cost_usd REAL,
  input_tokens INTEGER,
  output_tokens INTEGER,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  chain TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  ts TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (chain, seq)
);
CREATE TABLE IF NOT EXISTS signing_keys (key_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (sha256 TEXT NOT NULL UNIQUE, text TEXT NOT NULL);
${BLOBS_NO_UPDATE_TRIGGER}
-- A row here, inside the pruning transaction only, is what lets retention pruning delete events.
CREATE TABLE IF NOT EXISTS pruning (active INTEGER NOT NULL);
${NO_UPDATE_TRIGGER}
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events WHEN NOT EXISTS (SELECT 1 FROM pruning)
  BEGIN SELECT RAISE(ABORT, 'keeptrusts events are append-only; only retention pruning removes them'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'keeptrusts checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'keeptrusts checkpoints are append-only'); END;
-- Signed statements about a chain beside its checkpoints: prune, adopt, break (see ChainRecord).
CREATE TABLE IF NOT EXISTS chain_records (
  pos INTEGER PRIMARY KEY AUTOINCREMENT,
  chain TEXT NOT NULL,
  kind TEXT NOT NULL,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  ts TEXT NOT NULL,
  detail TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  UNIQUE (chain, kind, seq)
);
CREATE TRIGGER IF NOT EXISTS chain_records_no_update BEFORE UPDATE ON chain_records
  BEGIN SELECT RAISE(ABORT, 'keeptrusts chain records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS chain_records_no_delete BEFORE DELETE ON chain_records
  BEGIN SELECT RAISE(ABORT, 'keeptrusts chain records are append-only'); END;
`;

const REPORT_INDEX = 'CREATE INDEX IF NOT EXISTS events_report ON events (ts_ms, verdict, developer, repository, model, provider, cost_usd, input_tokens, output_tokens)';

interface Row {
  pos: number;
  chain: string;
  seq: number;
  id: string;
  body: string;
  prev_hash: string;
  hash: string;
}

/**
 * The embedded store: one SQLite file in WAL mode, so `kt events tail` in another process reads while the
 * gateway writes. `synchronous = NORMAL` in WAL mode makes each commit durable against a crash of the
 * process (the WAL is written before the commit returns); only a power loss can take the last commits.
 */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly headStmt: Database.Statement;
  private readonly getMetaStmt: Database.Statement;
  private readonly hasIdStmt: Database.Statement;
  private readonly setMetaStmt: Database.Statement;
  private checkpointer: SqliteCheckpointer | undefined;

  constructor(
    readonly file: string,
    opts: { readonly?: boolean; backgroundCheckpoints?: boolean } = {},
  ) {
    if (!opts.readonly && file !== ':memory:') createPrivateFile(file);
    this.db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
    this.db.pragma('busy_timeout = 5000');
    if (!opts.readonly) {
      // A new file only (it cannot change once the file has pages): an event row is 2–3 KB, so a 4 KB page held
      // one and most commits wrote a page per event; 16 KB pages hold five or six, and the WAL gets that
      // much less to write and checkpoint.
      this.db.pragma('page_size = 16384');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      upgradeBlobsTable(this.db);
      this.db.exec(SCHEMA);
      upgradeReportColumns(this.db);
      // After the report columns exist. Covers usage reports and the console's stats over a time range, so they
      // read this index alone, never the rows with their bodies (100,000 events: ~1 s without it, ms with it).
      this.db.exec(REPORT_INDEX);
      // Indexes earlier versions created. Each cost every append a B-tree insert and its pages in the WAL;
      // events_report (which starts with ts_ms) serves time ranges, and filtered listings read it or the table
      // newest first (bench/console.ts on 100,000 events: filtered lists under 50 ms at p95, one that reads every row 85 ms).
      for (const old of ['events_ts', 'events_verdict_pos', 'events_developer_pos', 'events_repository_pos', 'events_model_pos']) this.db.exec(`DROP INDEX IF EXISTS ${old}`);
      if (opts.backgroundCheckpoints && file !== ':memory:') {
        // Checkpoints (and their fsync) happen in a worker; commits here only append to the WAL.
        this.db.pragma('wal_autocheckpoint = 0');
        this.checkpointer = new SqliteCheckpointer(file);
      }
    }
    this.insert = opts.readonly
      ? (undefined as unknown as Database.Statement)
      : this.db.prepare(
          `INSERT INTO events (chain, seq, id, ts_ms, verdict, developer, repository, team, model, client, gateway, policies, provider, cost_usd, input_tokens, output_tokens, body, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
    this.headStmt = this.db.prepare('SELECT seq, hash FROM events WHERE chain = ? ORDER BY seq DESC LIMIT 1');
    this.getMetaStmt = this.db.prepare('SELECT value FROM meta WHERE key = ?');
    this.hasIdStmt = this.db.prepare('SELECT 1 FROM events WHERE id = ?').pluck();
    this.setMetaStmt = opts.readonly
      ? (undefined as unknown as Database.Statement)
      : this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  /** The underlying connection, for tests that play the attacker. */
  get raw(): Database.Database {
    return this.db;
  }

  async append(chain: string, events: readonly DecisionEvent[], blobs?: ReadonlyMap<string, string>): Promise<ChainedEvent[]> {
    return this.appendSync(chain, events, undefined, blobs);
  }

  async getBlobs(sha256s: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const stmt = this.db.prepare('SELECT text FROM blobs WHERE sha256 = ?');
    for (const h of new Set(sha256s)) {
      const row = stmt.get(h) as { text: string } | undefined;
      if (row) out.set(h, row.text);
    }
    return out;
  }

  private putBlobs(blobs: ReadonlyMap<string, string> | undefined): void {
    if (!blobs || blobs.size === 0) return;
    const stmt = this.db.prepare('INSERT OR IGNORE INTO blobs (sha256, text) VALUES (?, ?)');
    for (const [h, text] of blobs) stmt.run(h, text);
  }

  /** `meta` is written in the same transaction (the journal ingester's read position: exactly-once). */
  appendSync(chain: string, events: readonly DecisionEvent[], meta?: { key: string; value: string }, blobs?: ReadonlyMap<string, string>): ChainedEvent[] {
    return this.appendRecordsSync(
      chain,
      events.map((e) => ({ id: e.id, body: eventJson(e), columns: indexedColumns(e) })),
      meta,
      blobs,
    );
  }

  /**
   * Events already serialized: `body` is the event's canonical JSON and `columns` its indexedColumns.
   * `onlyNew`: leave out records whose id the store already holds (any chain), and repeats within the batch,
   * instead of failing the whole batch on the unique id: the journal ingester's exactly-once by id, for lines
   * it may meet twice (a segment left behind by a crash, a journal read under another chain).
   */
  appendRecordsSync(
    chain: string,
    records: ReadonlyArray<{ id: string; body: string; columns: IndexedColumns }>,
    meta?: { key: string; value: string },
    blobs?: ReadonlyMap<string, string>,
    opts: { onlyNew?: boolean } = {},
  ): ChainedEvent[] {
    if (records.length === 0 && !meta) return [];
    return this.db.transaction(() => {
      this.putBlobs(blobs);
      const head = this.headStmt.get(chain) as { seq: number; hash: string } | undefined;
      const taken = opts.onlyNew ? this.newOnly(records) : records;
      const linked = linkBodies(chain, head ?? null, taken);
      for (let i = 0; i < linked.length; i++) this.insertRow(linked[i]!, taken[i]!.columns);
      if (meta) this.setMetaStmt.run(meta.key, meta.value);
      return linked;
    }).immediate();
  }

  private newOnly<R extends { id: string }>(records: readonly R[]): readonly R[] {
    const seen = new Set<string>();
    const out: R[] = [];
    for (const r of records) {
      if (seen.has(r.id) || this.hasIdStmt.get(r.id) !== undefined) continue;
      seen.add(r.id);
      out.push(r);
    }
    return out.length === records.length ? records : out;
  }

  /** Which of these ids the store holds (any chain). */
  hasIds(ids: Iterable<string>): Set<string> {
    const present = new Set<string>();
    for (const id of ids) if (this.hasIdStmt.get(id) !== undefined) present.add(id);
    return present;
  }

  /** Meta entries whose key starts with `prefix`. */
  metaWithPrefix(prefix: string): Array<{ key: string; value: string }> {
    // substr, not LIKE: a prefix may hold `_` or `%`.
    return this.db.prepare('SELECT key, value FROM meta WHERE substr(key, 1, ?) = ? ORDER BY key').all(prefix.length, prefix) as Array<{ key: string; value: string }>;
  }

  /** `fn` inside one read transaction: what it reads is one snapshot of the store (WAL), however long it takes. */
  snapshot<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  /** Positional parameters: binding by name cost a measurable share of each append. */
  private insertRow(e: ChainedEvent, c: IndexedColumns): void {
    this.insert.run(
      e.chain,
      e.seq,
      e.id,
      c.ts_ms,
      c.verdict,
      c.developer,
      c.repository,
      c.team,
      c.model,
      c.client,
      c.gateway,
      c.policies,
      c.provider,
      c.cost_usd,
      c.input_tokens,
      c.output_tokens,
      e.body,
      e.prev_hash,
      e.hash,
    );
  }

  async ingest(events: readonly ChainedEvent[], blobs?: ReadonlyMap<string, string>): Promise<{ inserted: number; duplicates: number }> {
    const byId = this.db.prepare('SELECT chain, seq, hash FROM events WHERE id = ?');
    const atPlace = this.db.prepare('SELECT id, hash FROM events WHERE chain = ? AND seq = ?');
    return this.db.transaction(() => {
      this.putBlobs(blobs);
      let inserted = 0;
      let duplicates = 0;
      for (const e of events) {
        const existing = byId.get(e.id) as { chain: string; seq: number; hash: string } | undefined;
        if (existing) {
          if (existing.hash !== e.hash || existing.chain !== e.chain || existing.seq !== e.seq) {
            throw new ChainConflictError(`event ${e.id} was already received with a different hash`);
          }
          duplicates++;
          continue;
        }
        const other = atPlace.get(e.chain, e.seq) as { id: string } | undefined;
        if (other) throw new ChainConflictError(`chain ${e.chain} already has event ${other.id} at seq ${e.seq}`);
        this.insertRow(e, indexedColumns(JSON.parse(e.body) as DecisionEvent));
        inserted++;
      }
      return { inserted, duplicates };
    }).immediate();
  }

  async head(chain: string): Promise<{ seq: number; hash: string } | null> {
    return (this.headStmt.get(chain) as { seq: number; hash: string } | undefined) ?? null;
  }

  /** Chains with events, checkpoints, records, or a signed high-water mark: a chain emptied by hand still shows. */
  async chains(): Promise<string[]> {
    const records = this.hasRecordsTable() ? 'UNION SELECT chain FROM chain_records' : '';
    const rows = this.db
      .prepare(
        `SELECT DISTINCT chain FROM events UNION SELECT DISTINCT chain FROM checkpoints ${records}
         UNION SELECT substr(key, ${CHECKPOINTED_META.length + 1}) FROM meta WHERE substr(key, 1, ${CHECKPOINTED_META.length}) = ? ORDER BY 1`,
      )
      .all(CHECKPOINTED_META) as { chain: string }[];
    return rows.map((r) => r.chain);
  }

  /** A file opened read-only that no gateway of this version has opened has no records table (and no records). */
  private hasRecordsTable(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'chain_records'").get() !== undefined;
  }

  async query(filter: EventFilter): Promise<StoredEvent[]> {
    const { where, params } = whereClause(filter);
    const order = filter.order === 'asc' ? 'ASC' : 'DESC';
    const limit = Number.isFinite(filter.limit) ? Math.min(Math.max(Math.floor(filter.limit!), 1), 10_000) : 100;
    const sql = `SELECT pos, chain, seq, id, body, prev_hash, hash FROM events ${where} ORDER BY pos ${order} LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...params) as Row[]).map(toStored);
  }

  async usageReport(filter: EventFilter, by: UsageGroupBy): Promise<UsageRow[]> {
    const { where, params } = whereClause(filter);
    // A file opened read-only that no gateway of this version has opened yet lacks the report columns. Its
    // events were all recorded before usage was metered: no counts, no cost, and the provider is in the body.
    const upgraded = hasReportColumns(this.db);
    const provider = upgraded ? 'provider' : "json_extract(body, '$.target.provider')";
    const [cost, input, output] = upgraded ? ['cost_usd', 'input_tokens', 'output_tokens'] : ['NULL', 'NULL', 'NULL'];
    // Unary + (a no-op on any value) keeps the planner from walking the (column, pos) index to save the GROUP BY's
    // sort and reading every row's body; it reads the covering events_report index instead.
    const key = by === 'day' ? 'ts_ms / 86400000' : by === 'provider' ? `+${provider}` : `+${by}`;
    const sql = `SELECT ${key} AS k, COUNT(*) AS requests, COALESCE(SUM(${input}), 0) AS input_tokens, COALESCE(SUM(${output}), 0) AS output_tokens,
                        SUM(${cost}) AS cost_usd, SUM(CASE WHEN ${cost} IS NULL AND (${input} IS NOT NULL OR ${output} IS NOT NULL) THEN 1 ELSE 0 END) AS unpriced
                 FROM events ${where} GROUP BY 1`;
    const rows = this.db.prepare(sql).all(...params) as Array<{ k: string | number | null; requests: number; input_tokens: number; output_tokens: number; cost_usd: number | null; unpriced: number }>;
    return sortUsageRows(
      rows.map((r) => ({
        key: r.k === null ? null : by === 'day' ? usageDayKey(Number(r.k)) : String(r.k),
        requests: r.requests,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        cost_usd: r.cost_usd === null ? null : roundUsd(r.cost_usd),
        unpriced_requests: r.unpriced,
      })),
      by,
    );
  }

  async get(id: string): Promise<StoredEvent | null> {
    const row = this.db.prepare('SELECT pos, chain, seq, id, body, prev_hash, hash FROM events WHERE id = ?').get(id) as Row | undefined;
    return row ? toStored(row) : null;
  }

  async *scan(chain: string, fromSeq = 1, pageSize = 1000): AsyncIterable<StoredEvent> {
    const page = this.db.prepare('SELECT * FROM events WHERE chain = ? AND seq >= ? ORDER BY seq LIMIT ?');
    let next = fromSeq;
    for (;;) {
      const rows = page.all(chain, next, pageSize) as Array<Row & IndexedColumns>;
      for (const r of rows) yield { ...toStored(r), columns: columnsOf(r) };
      if (rows.length < pageSize) return;
      next = rows[rows.length - 1]!.seq + 1;
    }
  }

  async firstSeq(chain: string): Promise<number | null> {
    const row = this.db.prepare('SELECT MIN(seq) AS seq FROM events WHERE chain = ?').get(chain) as { seq: number | null };
    return row.seq;
  }

  async addCheckpoint(cp: Checkpoint): Promise<void> {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR IGNORE INTO checkpoints (chain, seq, hash, ts, key_id, signature) VALUES (@chain, @seq, @hash, @ts, @key_id, @signature)')
        .run(cp);
      this.db
        .prepare(
          `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value
           WHERE CAST(excluded.value AS INTEGER) > CAST(meta.value AS INTEGER)`,
        )
        .run(`${CHECKPOINTED_META}${cp.chain}`, String(cp.seq));
    }).immediate();
  }

  async addRecord(r: ChainRecord): Promise<void> {
    this.insertRecord(r);
  }

  private insertRecord(r: ChainRecord): void {
    this.db
      .prepare('INSERT OR IGNORE INTO chain_records (chain, kind, seq, hash, ts, detail, key_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.chain, r.kind, r.seq, r.hash, r.ts, canonicalJson(r.detail), r.key_id, r.signature);
  }

  async records(chain: string): Promise<ChainRecord[]> {
    if (!this.hasRecordsTable()) return [];
    const rows = this.db.prepare('SELECT chain, kind, seq, hash, ts, detail, key_id, signature FROM chain_records WHERE chain = ? ORDER BY pos').all(chain) as Array<
      Omit<ChainRecord, 'detail'> & { detail: string }
    >;
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as ChainRecord['detail'] }));
  }

  async checkpoints(chain: string): Promise<Checkpoint[]> {
    return this.db.prepare('SELECT chain, seq, hash, ts, key_id, signature FROM checkpoints WHERE chain = ? ORDER BY seq').all(chain) as Checkpoint[];
  }

  async registerKey(key: PublicKeyRecord): Promise<void> {
    this.db.prepare('INSERT OR IGNORE INTO signing_keys (key_id, public_key, created_at) VALUES (@key_id, @public_key, @created_at)').run(key);
  }

  async keys(): Promise<PublicKeyRecord[]> {
    return this.db.prepare('SELECT key_id, public_key, created_at FROM signing_keys ORDER BY created_at').all() as PublicKeyRecord[];
  }

  async prune(chain: string, retention: Retention, sign: (statement: UnsignedRecord) => ChainRecord): Promise<{ removed: number; record: ChainRecord | null }> {
    const cutoff = retentionCutoff(retention);
    return this.db.transaction(() => {
      // A checkpoint before the first event at or after the cut-off ends a removable segment (by the columns; the
      // bodies are checked below). The cut stays below the chain's head: with no events left, the next append
      // would start the chain again at seq 1.
      const first = (this.db.prepare('SELECT MIN(seq) AS seq FROM events WHERE chain = ?').get(chain) as { seq: number | null }).seq;
      if (first === null) return { removed: 0, record: null };
      const youngest = this.db.prepare('SELECT MIN(seq) AS seq FROM events WHERE chain = ? AND ts_ms >= ?').get(chain, cutoff.beforeMs) as { seq: number | null };
      const removable = this.db
        .prepare('SELECT seq, hash FROM checkpoints WHERE chain = ? AND seq >= ? AND seq < ? AND seq < (SELECT MAX(seq) FROM events WHERE chain = ?) ORDER BY seq')
        .all(chain, first, youngest.seq ?? Number.MAX_SAFE_INTEGER, chain) as { seq: number; hash: string }[];
      const cut = pruneCut(removable, first);
      if (!cut) return { removed: 0, record: null };
      const segment = new PruneSegment(chain, cutoff);
      const page = this.db.prepare('SELECT * FROM events WHERE chain = ? AND seq >= ? AND seq <= ? ORDER BY seq LIMIT 1000');
      for (let from = 0; ; ) {
        const rows = page.all(chain, from, cut.seq) as Array<Row & IndexedColumns>;
        for (const r of rows) segment.add(storedForPrune(r));
        if (rows.length < 1000) break;
        from = rows[rows.length - 1]!.seq + 1;
      }
      const record = sign(segment.statement(cut));
      this.insertRecord(record);
      this.db.prepare('INSERT INTO pruning (active) VALUES (1)').run();
      const { changes } = this.db.prepare('DELETE FROM events WHERE chain = ? AND seq <= ?').run(chain, cut.seq);
      this.db.prepare('DELETE FROM pruning').run();
      return { removed: changes, record };
    }).immediate();
  }

  getMetaSync(key: string): string | null {
    const row = this.getMetaStmt.get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  async getMeta(key: string): Promise<string | null> {
    return this.getMetaSync(key);
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.setMetaStmt.run(key, value);
  }

  async close(): Promise<void> {
    await this.checkpointer?.stop();
    if (this.db.open) {
      if (this.checkpointer) this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }
}

/** The WHERE clause for a filter (empty when it filters nothing), shared by queries and reports. */
function whereClause(filter: EventFilter): { where: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    params.push(...values);
  };
  if (filter.sinceMs !== undefined) add('ts_ms >= ?', filter.sinceMs);
  if (filter.untilMs !== undefined) add('ts_ms < ?', filter.untilMs);
  if (filter.verdict?.length) add(`verdict IN (${filter.verdict.map(() => '?').join(',')})`, ...filter.verdict);
  // instr, not LIKE: LIKE would need `_` and `%` escaped (kinds may hold `_`) and ignores ASCII case.
  if (filter.policy) add('instr(policies, ?) > 0', `,${filter.policy.replaceAll(',', '')},`);
  for (const col of ['developer', 'repository', 'team', 'model', 'client', 'gateway'] as const) {
    const v = filter[col];
    if (v !== undefined) add(`${col} = ?`, v);
  }
  if (filter.q) {
    // LIKE ignores ASCII case. Without an index this reads the small columns of each row it passes, never a body.
    const pattern = searchPattern(filter.q);
    add(`(${SEARCH_COLUMNS.map((c) => `${c} LIKE ? ESCAPE '\\'`).join(' OR ')})`, ...SEARCH_COLUMNS.map(() => pattern));
  }
  if (filter.afterPos !== undefined) add('pos > ?', filter.afterPos);
  if (filter.beforePos !== undefined) add('pos < ?', filter.beforePos);
  return { where: where.length ? `WHERE ${where.join(' AND ')}` : '', params };
}

function existingColumns(db: Database.Database): Set<string> {
  return new Set((db.prepare('PRAGMA table_info(events)').all() as { name: string }[]).map((c) => c.name));
}

function hasReportColumns(db: Database.Database): boolean {
  const have = existingColumns(db);
  return REPORT_COLUMNS.every((c) => have.has(c));
}

/**
 * Captured texts used to live in a WITHOUT ROWID table keyed by their SHA-256, so each new text (an agent's new
 * message, every turn) went into a random leaf holding four or five texts, which split often: about 40 KB of
 * WAL per 3.5 KB text, and ~38 µs an insert. In a rowid table the texts are appended in order and only the
 * hash goes into a random place of a small-entry index: 16 KB of WAL and ~12 µs (measured: 10,000 texts in
 * batches of 100 on a store holding 30,000). A store created before is copied over once, when opened.
 */
function upgradeBlobsTable(db: Database.Database): void {
  const isOld = () => /WITHOUT\s+ROWID/i.test((db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'blobs'").get() as { sql: string } | undefined)?.sql ?? '');
  if (!isOld()) return;
  db.transaction(() => {
    if (!isOld()) return; // another process upgraded it meanwhile
    db.exec('CREATE TABLE blobs_rowid (sha256 TEXT NOT NULL UNIQUE, text TEXT NOT NULL)');
    db.exec('INSERT INTO blobs_rowid (sha256, text) SELECT sha256, text FROM blobs ORDER BY sha256');
    db.exec('DROP TRIGGER IF EXISTS blobs_no_update');
    db.exec('DROP TABLE blobs');
    db.exec('ALTER TABLE blobs_rowid RENAME TO blobs');
    db.exec(BLOBS_NO_UPDATE_TRIGGER);
  }).immediate();
}

/**
 * A table created before the report columns gets them, filled from each event's body, in one transaction.
 * Only the derived columns are written (never a body or hash); the no-update trigger is lifted for that
 * statement alone and put back before the transaction commits, so no other writer ever sees it gone.
 */
function upgradeReportColumns(db: Database.Database): void {
  if (hasReportColumns(db)) return;
  db.transaction(() => {
    const have = existingColumns(db); // again, under the write lock: another process may have just done it
    const missing = REPORT_COLUMNS.filter((c) => !have.has(c));
    if (missing.length === 0) return;
    for (const c of missing) db.exec(`ALTER TABLE events ADD COLUMN ${c} ${REPORT_COLUMN_TYPES[c]}`);
    db.exec('DROP TRIGGER IF EXISTS events_no_update');
    const update = db.prepare('UPDATE events SET provider = ?, cost_usd = ?, input_tokens = ?, output_tokens = ? WHERE pos = ?');
    // In pages: better-sqlite3 runs no other statement on a connection while an iterator is open.
    const page = db.prepare('SELECT pos, body FROM events WHERE pos > ? ORDER BY pos LIMIT 1000');
    for (let after = 0; ; ) {
      const rows = page.all(after) as { pos: number; body: string }[];
      for (const row of rows) {
        let c: IndexedColumns;
        try {
          c = indexedColumns(JSON.parse(row.body) as DecisionEvent);
        } catch {
          continue; // not an event any more: verification reports the body itself
        }
        if (c.provider !== null || c.cost_usd !== null || c.input_tokens !== null || c.output_tokens !== null) {
          update.run(c.provider, c.cost_usd, c.input_tokens, c.output_tokens, row.pos);
        }
      }
      if (rows.length < 1000) break;
      after = rows[rows.length - 1]!.pos;
    }
    db.exec(NO_UPDATE_TRIGGER);
  }).immediate();
}

/** A row about to be pruned; a body that is not JSON any more refuses the prune like any other edit. */
function storedForPrune(r: Row & IndexedColumns): StoredEvent {
  try {
    return { ...toStored(r), columns: columnsOf(r) };
  } catch {
    throw new PruneRefusedError(`the events to prune from chain ${r.chain} do not verify (${r.id}: stored body is not JSON); they are kept as evidence: run kt events verify`);
  }
}

function toStored(r: Row): StoredEvent {
  return { pos: r.pos, chain: r.chain, seq: r.seq, id: r.id, body: r.body, prev_hash: r.prev_hash, hash: r.hash, event: JSON.parse(r.body) as DecisionEvent };
}

/**
 * The stored filter columns. A report column the table does not have (a file read before its upgrade) is left
 * out, so verification does not compare it; one the table has is compared, NULL included.
 */
function columnsOf(r: IndexedColumns): IndexedColumns {
  const { ts_ms, verdict, developer, repository, team, model, client, gateway, policies } = r;
  const out = { ts_ms, verdict, developer, repository, team, model, client, gateway, policies } as IndexedColumns;
  for (const c of REPORT_COLUMNS) if (c in r) (out as unknown as Record<string, unknown>)[c] = r[c];
  return out;
}

