import { newEventId } from '../audit/event.js';
import { openSqlDriver, type SqlDriver } from './sql.js';
import {
  checkDecision,
  EscalationStateError,
  type Decision,
  type EscalationRecord,
  type EscalationState,
  type EscalationStore,
  type ExceptionRecord,
  type OpenEscalation,
} from './types.js';

const ESCALATIONS = `(
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  gateway TEXT NOT NULL,
  request_id TEXT NOT NULL,
  event_id TEXT,
  developer TEXT,
  repository TEXT,
  team TEXT,
  model TEXT,
  policy TEXT NOT NULL,
  finding_type TEXT,
  rule TEXT,
  decided_at TEXT,
  reviewer TEXT,
  reason TEXT,
  exception_id TEXT
)`;

const EXCEPTIONS = `(
  id TEXT PRIMARY KEY,
  escalation_id TEXT,
  developer TEXT,
  repository TEXT,
  policy TEXT NOT NULL,
  rule TEXT,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at TEXT
)`;

const E_COLUMNS =
  'id, state, created_at, expires_at, gateway, request_id, event_id, developer, repository, team, model, policy, finding_type, rule, decided_at, reviewer, reason, exception_id';
const X_COLUMNS = 'id, escalation_id, developer, repository, policy, rule, created_at, expires_at, created_by, revoked_at';
const LIST_MAX = 1_000;

/** Escalations and exceptions in the gateway's SQLite file or in PostgreSQL (beside the events). */
export class SqlEscalationStore implements EscalationStore {
  private constructor(private readonly db: SqlDriver) {}

  get kind(): 'sqlite' | 'postgres' {
    return this.db.kind;
  }

  static async create(db: SqlDriver): Promise<SqlEscalationStore> {
    const e = db.table('escalations');
    const x = db.table('escalation_exceptions');
    await db.exec(
      `CREATE TABLE IF NOT EXISTS ${e} ${ESCALATIONS};
       CREATE INDEX IF NOT EXISTS escalations_state ON ${e} (state, created_at);
       CREATE TABLE IF NOT EXISTS ${x} ${EXCEPTIONS};`,
    );
    return new SqlEscalationStore(db);
  }

  async open(input: OpenEscalation): Promise<EscalationRecord> {
    const now = Date.now();
    const record: EscalationRecord = {
      id: newEventId(now).replace('evt_', 'esc_'),
      state: 'open',
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + input.holdSeconds * 1000).toISOString(),
      gateway: input.gateway,
      request_id: input.request_id,
      event_id: input.event_id,
      developer: input.developer,
      repository: input.repository,
      team: input.team,
      model: input.model,
      policy: input.policy,
      finding_type: input.finding_type,
      rule: input.rule,
      decided_at: null,
      reviewer: null,
      reason: null,
      exception_id: null,
    };
    const cols = E_COLUMNS.split(', ');
    await this.db.run(
      `INSERT INTO ${this.db.table('escalations')} (${E_COLUMNS}) VALUES (${cols.map(() => '?').join(', ')})`,
      cols.map((c) => record[c as keyof EscalationRecord]),
    );
    return record;
  }

  async get(id: string): Promise<EscalationRecord | null> {
    const rows = await this.db.all<EscalationRecord>(`SELECT ${E_COLUMNS} FROM ${this.db.table('escalations')} WHERE id = ?`, [id]);
    return rows[0] ? normalise(rows[0]) : null;
  }

  async list(filter: { state?: EscalationState | undefined; limit?: number | undefined }): Promise<EscalationRecord[]> {
    const limit = Math.min(Math.max(filter.limit ?? 100, 1), LIST_MAX);
    const where = filter.state ? 'WHERE state = ?' : '';
    const params: unknown[] = filter.state ? [filter.state, limit] : [limit];
    const rows = await this.db.all<EscalationRecord>(`SELECT ${E_COLUMNS} FROM ${this.db.table('escalations')} ${where} ORDER BY created_at DESC, id DESC LIMIT ?`, params);
    return rows.map(normalise);
  }

  async decide(id: string, input: Decision): Promise<EscalationRecord> {
    const d = checkDecision(input);
    const current = await this.get(id);
    if (!current) throw new EscalationStateError(`no escalation ${id}`, 404);
    const now = new Date();
    const exceptionId = d.exception ? newEventId(now.getTime()).replace('evt_', 'exc_') : null;
    // One statement decides: a second reviewer, or the gateway expiring the hold, finds it no longer open.
    const changed = await this.db.run(
      `UPDATE ${this.db.table('escalations')} SET state = ?, decided_at = ?, reviewer = ?, reason = ?, exception_id = ? WHERE id = ? AND state = 'open' AND expires_at > ?`,
      [d.decision === 'approve' ? 'approved' : 'denied', now.toISOString(), d.reviewer, d.reason, exceptionId, id, now.toISOString()],
    );
    if (changed === 0) {
      const after = await this.get(id);
      const state = after?.state === 'open' ? 'past its hold' : (after?.state ?? 'gone');
      throw new EscalationStateError(`escalation ${id} is ${state} and can no longer be decided`, 409);
    }
    if (d.exception && exceptionId) {
      const scope = new Set(d.exception.scope);
      const x: ExceptionRecord = {
        id: exceptionId,
        escalation_id: id,
        developer: scope.has('developer') ? current.developer : null,
        repository: scope.has('repository') ? current.repository : null,
        policy: current.policy,
        rule: scope.has('rule') ? current.rule : null,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + d.exception.ttlSeconds * 1000).toISOString(),
        created_by: d.reviewer,
        revoked_at: null,
      };
      const cols = X_COLUMNS.split(', ');
      await this.db.run(
        `INSERT INTO ${this.db.table('escalation_exceptions')} (${X_COLUMNS}) VALUES (${cols.map(() => '?').join(', ')})`,
        cols.map((c) => x[c as keyof ExceptionRecord]),
      );
    }
    return (await this.get(id))!;
  }

  async expire(id: string): Promise<EscalationRecord | null> {
    await this.db.run(`UPDATE ${this.db.table('escalations')} SET state = 'expired', decided_at = ? WHERE id = ? AND state = 'open'`, [new Date().toISOString(), id]);
    return this.get(id);
  }

  async exceptions(opts: { active?: boolean } = {}): Promise<ExceptionRecord[]> {
    const now = new Date().toISOString();
    const where = opts.active ? 'WHERE revoked_at IS NULL AND expires_at > ?' : '';
    return this.db.all<ExceptionRecord>(
      `SELECT ${X_COLUMNS} FROM ${this.db.table('escalation_exceptions')} ${where} ORDER BY created_at DESC, id DESC LIMIT ${LIST_MAX}`,
      opts.active ? [now] : [],
    );
  }

  async revokeException(id: string): Promise<boolean> {
    const t = this.db.table('escalation_exceptions');
    const rows = await this.db.all(`SELECT id FROM ${t} WHERE id = ?`, [id]);
    if (rows.length === 0) return false;
    await this.db.run(`UPDATE ${t} SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, [new Date().toISOString(), id]);
    return true;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function normalise(r: EscalationRecord): EscalationRecord {
  return r;
}

/** The escalation store of a gateway or `kt escalations` over the local data dir or PostgreSQL. */
export async function openEscalationStore(loc: { dataDir: string; databaseUrl?: string | undefined }): Promise<SqlEscalationStore> {
  const db = await openSqlDriver(loc);
  try {
    return await SqlEscalationStore.create(db);
  } catch (err) {
    await db.close();
    throw err;
  }
}
