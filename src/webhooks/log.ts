import type { SqlDriver } from '../escalation/sql.js';

export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'dropped';

/** One delivery as the log keeps it: where (without query string), what, how many tries, how it ended. */
export interface DeliveryRecord {
  id: string;
  receiver: string;
  type: string;
  event_id: string | null;
  state: DeliveryState;
  attempts: number;
  last_status: number | null;
  /** A short class of the last failure (`status 503`, `timeout`, `ECONNREFUSED`), never a response body. */
  last_error: string | null;
  created_at: string;
  updated_at: string;
  next_attempt_at: string | null;
}

const TABLE = `(
  id TEXT PRIMARY KEY,
  receiver TEXT NOT NULL,
  type TEXT NOT NULL,
  event_id TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  last_status INTEGER,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  next_attempt_at TEXT
)`;
const COLUMNS = ['id', 'receiver', 'type', 'event_id', 'state', 'attempts', 'last_status', 'last_error', 'created_at', 'updated_at', 'next_attempt_at'] as const;
/** Deliveries kept; older ones are deleted as new ones come. */
export const DELIVERY_LOG_ROWS = 10_000;

/** The delivery log (`kt webhooks deliveries`), in the gateway's SQLite file or PostgreSQL. */
export class DeliveryLog {
  private writes = 0;
  private constructor(private readonly db: SqlDriver) {}

  static async create(db: SqlDriver): Promise<DeliveryLog> {
    const t = db.table('webhook_deliveries');
    await db.exec(`CREATE TABLE IF NOT EXISTS ${t} ${TABLE}; CREATE INDEX IF NOT EXISTS webhook_deliveries_created ON ${t} (created_at);`);
    return new DeliveryLog(db);
  }

  async write(r: DeliveryRecord): Promise<void> {
    const t = this.db.table('webhook_deliveries');
    const updates = COLUMNS.filter((c) => c !== 'id' && c !== 'created_at')
      .map((c) => `${c} = excluded.${c}`)
      .join(', ');
    await this.db.run(`INSERT INTO ${t} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (id) DO UPDATE SET ${updates}`, COLUMNS.map((c) => r[c]));
    if (++this.writes % 200 === 0) {
      await this.db.run(`DELETE FROM ${t} WHERE created_at < (SELECT created_at FROM ${t} ORDER BY created_at DESC LIMIT 1 OFFSET ${DELIVERY_LOG_ROWS - 1})`);
    }
  }

  /** Newest first. */
  async list(filter: { limit?: number | undefined; state?: DeliveryState | undefined } = {}): Promise<DeliveryRecord[]> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), DELIVERY_LOG_ROWS);
    const t = this.db.table('webhook_deliveries');
    const rows = await this.db.all<DeliveryRecord>(
      `SELECT ${COLUMNS.join(', ')} FROM ${t} ${filter.state ? 'WHERE state = ?' : ''} ORDER BY created_at DESC, id DESC LIMIT ?`,
      filter.state ? [filter.state, limit] : [limit],
    );
    return rows.map((r) => ({ ...r, attempts: Number(r.attempts), last_status: r.last_status === null ? null : Number(r.last_status) }));
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
