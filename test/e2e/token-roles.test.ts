/**
 * Token roles on the control plane: a reader only reads, a reviewer also decides escalations, an admin also manages
 * tokens, a gateway ships its chain. And stores made before the reviewer and admin roles existed open and take them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { openEventStore } from '../../src/audit/open.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { openEscalationStore } from '../../src/escalation/store.js';
import { startControlPlane } from '../../src/server/app.js';
import { hashToken, newToken, openTokenStore, PostgresTokenStore, SqliteTokenStore } from '../../src/server/tokens.js';
import { PG_URL, postgresAvailable } from '../helpers/services.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'kt-roles-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The table as versions before the reviewer and admin roles created it. */
const OLD_TABLE = (name: string): string => `CREATE TABLE ${name} (
  id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  gateway TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('gateway', 'reader')),
  created_at TEXT NOT NULL,
  revoked_at TEXT
)`;

async function call(base: string, method: 'GET' | 'POST', path: string, token: string, body?: unknown) {
  const res = await request(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, any>) : undefined };
}

describe('token roles on the control plane', () => {
  it('a reader reads, a reviewer decides escalations, an admin manages tokens; none of them ships events', async () => {
    const dir = tempDir();
    const store = await openEventStore({ dataDir: dir });
    const tokens = await openTokenStore({ dataDir: dir });
    const escalations = await openEscalationStore({ dataDir: dir });
    const plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, escalations, logger: pino({ level: 'silent' }) });
    try {
      const base = plane.url;
      const reader = (await tokens.create({ gateway: 'dashboard', role: 'reader' })).token;
      const reviewer = (await tokens.create({ gateway: 'oncall', role: 'reviewer' })).token;
      const admin = (await tokens.create({ gateway: 'terraform', role: 'admin' })).token;
      const open = () =>
        escalations.open({
          gateway: 'gw-1',
          request_id: `req-${randomBytes(4).toString('hex')}`,
          event_id: null,
          developer: 'dana',
          repository: 'acme/api',
          team: null,
          model: 'gpt-4o',
          policy: 'prompt-injection',
          finding_type: 'PROMPT_INJECTION',
          rule: 'override',
          holdSeconds: 300,
        });

      const held = await open();
      for (const t of [reader, reviewer, admin]) {
        expect((await call(base, 'GET', '/v1/events', t)).status).toBe(200);
        expect((await call(base, 'GET', `/v1/escalations/${held.id}`, t)).status).toBe(200);
        expect((await call(base, 'POST', '/v1/events', t, { events: [] })).status).toBe(403);
      }

      const byReader = await call(base, 'POST', `/v1/escalations/${held.id}/decision`, reader, { decision: 'approve', reason: 'looks fine' });
      expect(byReader.status).toBe(403);
      expect(byReader.json!.error.message).toContain('a reader token cannot decide escalations; use a reviewer token');
      expect((await escalations.get(held.id))!.state).toBe('open');

      const byReviewer = await call(base, 'POST', `/v1/escalations/${held.id}/decision`, reviewer, { decision: 'deny', reason: 'not on a Friday', reviewer: 'sam' });
      expect(byReviewer.status).toBe(200);
      expect(await escalations.get(held.id)).toMatchObject({ state: 'denied', reviewer: 'sam' });
      const another = await open();
      expect((await call(base, 'POST', `/v1/escalations/${another.id}/decision`, admin, { decision: 'approve', reason: 'drill' })).status).toBe(200);

      // Managing tokens is an admin's, by token as by console sign-in.
      for (const t of [reader, reviewer]) {
        const denied = await call(base, 'GET', '/v1/tokens', t);
        expect(denied.status).toBe(403);
        expect(denied.json!.error.message).toContain('kt server token create --role admin');
        expect((await call(base, 'POST', '/v1/tokens', t, { gateway: 'sneaky', role: 'admin' })).status).toBe(403);
      }
      const created = await call(base, 'POST', '/v1/tokens', admin, { gateway: 'gw-new' });
      expect(created.status).toBe(200);
      expect(created.json!.record).toMatchObject({ gateway: 'gw-new', role: 'gateway' });
      const listed = await call(base, 'GET', '/v1/tokens', admin);
      expect(listed.json!.data.map((r: { gateway: string }) => r.gateway)).toEqual(expect.arrayContaining(['dashboard', 'oncall', 'terraform', 'gw-new']));
      expect(JSON.stringify(listed.json)).not.toContain(admin);
    } finally {
      await plane.close();
      await escalations.close();
      await tokens.close();
      await store.close();
    }
  });
});

const pgReachable = await postgresAvailable();

describe('token stores made before the reviewer and admin roles', () => {
  it('SQLite: the table is migrated on open, old tokens keep working, new roles can be created', async () => {
    const file = eventsDbFile(tempDir());
    const old = newToken();
    const db = new Database(file);
    db.exec(OLD_TABLE('api_tokens'));
    db.prepare('INSERT INTO api_tokens (id, token_sha256, gateway, role, created_at) VALUES (?, ?, ?, ?, ?)').run('tok_old', hashToken(old), 'gw-old', 'reader', '2026-01-01T00:00:00.000Z');
    db.close();

    const tokens = new SqliteTokenStore(file);
    expect(await tokens.verify(old)).toMatchObject({ id: 'tok_old', gateway: 'gw-old', role: 'reader' });
    const { token } = await tokens.create({ gateway: 'oncall', role: 'reviewer' });
    expect((await tokens.verify(token))!.role).toBe('reviewer');
    await tokens.close();
    // Opening again changes nothing.
    const again = new SqliteTokenStore(file);
    expect((await again.list()).map((t) => [t.gateway, t.role])).toEqual([
      ['gw-old', 'reader'],
      ['oncall', 'reviewer'],
    ]);
    await expect(again.create({ gateway: 'x', role: 'root' as never })).rejects.toThrow(/role must be one of gateway, reader, reviewer, admin/);
    await again.close();
  });

  it.skipIf(!pgReachable)('PostgreSQL: the CHECK on role is replaced on open, old tokens keep working', async () => {
    const schema = `kt_roles_${process.pid}_${randomBytes(3).toString('hex')}`;
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    const old = newToken();
    try {
      await client.query(`CREATE SCHEMA ${schema}`);
      await client.query(OLD_TABLE(`${schema}.api_tokens`));
      await client.query('INSERT INTO ' + schema + '.api_tokens (id, token_sha256, gateway, role, created_at) VALUES ($1, $2, $3, $4, $5)', [
        'tok_old',
        hashToken(old),
        'gw-old',
        'gateway',
        '2026-01-01T00:00:00.000Z',
      ]);
      for (let i = 0; i < 2; i++) {
        const tokens = await PostgresTokenStore.connect(PG_URL, { schema });
        expect(await tokens.verify(old)).toMatchObject({ id: 'tok_old', role: 'gateway' });
        const { token } = await tokens.create({ gateway: `admin-${i}`, role: 'admin' });
        expect((await tokens.verify(token))!.role).toBe('admin');
        await tokens.close();
      }
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = '${schema}.api_tokens'::regclass AND contype = 'c'`);
      expect(rows[0].n).toBe(1);
      await expect(client.query(`INSERT INTO ${schema}.api_tokens (id, token_sha256, gateway, role, created_at) VALUES ('t', 'h', 'g', 'root', 'now')`)).rejects.toThrow(/check constraint/);
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });
});
