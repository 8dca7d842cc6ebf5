/**
 * The console's session store, SQLite and PostgreSQL alike: only hashes are stored, sessions expire, a login
 * in flight is taken once, and the number of logins in flight is bounded.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSessionStore, SqliteSessionStore, type SessionStore } from '../../src/server/sessions.js';
import { PG_URL, postgresAvailable } from '../helpers/services.js';

const pgUp = await postgresAvailable();
const schema = `kt_sessions_${process.pid}_${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'kt-sessions-'));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (pgUp) {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
});

const kinds: Array<[string, (now: () => number) => Promise<SessionStore>, boolean]> = [
  ['SQLite', async (now) => new SqliteSessionStore(join(dir, `events-${randomBytes(4).toString('hex')}.db`), now), true],
  ['PostgreSQL', (now) => PostgresSessionStore.connect(PG_URL, { schema, now }), pgUp],
];

describe.each(kinds)('%s session store', (_name, open, available) => {
  it.skipIf(!available)('keeps sessions under their hash until they expire or are deleted', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const store = await open(() => clock);
    try {
      const { secret, session } = await store.createSession({ subject: 'u1', email: 'u1@corp.example', name: null, role: 'admin' }, 60_000);
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(session.id).toMatch(/^ses_/);
      expect(await store.getSession(secret)).toMatchObject({ subject: 'u1', role: 'admin', csrf: session.csrf });
      expect(await store.getSession(secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A'))).toBeNull();
      clock += 60_000;
      expect(await store.getSession(secret)).toBeNull();
      const again = await store.createSession({ subject: 'u2', email: null, name: null, role: 'reader' }, 60_000);
      await store.deleteSession(again.secret);
      expect(await store.getSession(again.secret)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it.skipIf(!available)('gives a login in flight once, and not after it expires', async () => {
    let clock = Date.now();
    const store = await open(() => clock);
    try {
      const login = { state: 's', nonce: 'n', code_verifier: 'v', return_to: '/console/' };
      const a = (await store.createLogin(login, 600_000))!;
      expect(await store.takeLogin(a)).toMatchObject(login);
      expect(await store.takeLogin(a)).toBeNull();
      const b = (await store.createLogin(login, 600_000))!;
      clock += 600_000;
      expect(await store.takeLogin(b)).toBeNull();
    } finally {
      await store.close();
    }
  });
});

it('stores no session secret in the SQLite file', async () => {
  const file = join(dir, 'plain.db');
  const store = new SqliteSessionStore(file);
  const { secret } = await store.createSession({ subject: 'u', email: null, name: null, role: 'reader' }, 60_000);
  const login = (await store.createLogin({ state: 's', nonce: 'n', code_verifier: 'v', return_to: '/console/' }, 60_000))!;
  await store.close();
  // close() checkpoints the write-ahead log into the file, so the file holds every row written.
  const bytes = readFileSync(file);
  expect(bytes.includes(Buffer.from('ses_'))).toBe(true);
  expect(bytes.includes(Buffer.from(secret))).toBe(false);
  expect(bytes.includes(Buffer.from(login))).toBe(false);
});
