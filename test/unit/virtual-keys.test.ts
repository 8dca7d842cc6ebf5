import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_URL as PG_BASE, postgresAvailable } from '../helpers/services.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { createSecretScanner } from '../../src/detect/secrets/index.js';
import {
  hashVirtualKey,
  isVirtualKey,
  openVirtualKeyStore,
  PostgresVirtualKeyStore,
  SqliteVirtualKeyStore,
  VirtualKeyInputError,
  type VirtualKeyStore,
} from '../../src/usage/keys.js';

const pgUp = await postgresAvailable();
const PG_SCHEMA = `kt_test_${randomBytes(6).toString('hex')}`;
const PG_URL = `${PG_BASE}?schema=${PG_SCHEMA}`;
const dirs: string[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kt-vk-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (!pgUp) return;
  const client = new pg.Client({ connectionString: PG_BASE });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`);
  } finally {
    await client.end();
  }
});

describe('isVirtualKey', () => {
  it('goes by the prefix alone, so a malformed kt-vk- key is still never taken for a provider key', () => {
    expect(isVirtualKey(`kt-vk-${'a'.repeat(32)}`)).toBe(true);
    expect(isVirtualKey('kt-vk-short')).toBe(true);
    expect(isVirtualKey('sk-proj-abc')).toBe(false);
    expect(isVirtualKey('KT-VK-abc')).toBe(false);
    expect(isVirtualKey('')).toBe(false);
    expect(isVirtualKey(undefined)).toBe(false);
  });
});

describe.each([
  { kind: 'sqlite', dir: () => ({ dataDir: tempDir() }) },
  ...(pgUp ? [{ kind: 'postgres', dir: () => ({ dataDir: tempDir(), databaseUrl: PG_URL }) }] : []),
])('$kind virtual key store', ({ kind, dir }) => {
  const loc = dir();
  let store: VirtualKeyStore;
  /** Another process's view of the same store: revocations there reach `store` only through its cache. */
  let other: VirtualKeyStore;

  beforeAll(async () => {
    store = await openVirtualKeyStore(loc, { cacheTtlMs: 300 });
    other = await openVirtualKeyStore(loc, { cacheTtlMs: 0 });
    expect(store.kind).toBe(kind);
  });

  afterAll(async () => {
    await store?.close();
    await other?.close();
  });

  it('creates kt-vk- keys, returns each once and stores only its SHA-256', async () => {
    const { key, record } = await store.create({ developer: ' alice@example.com ', team: 'platform', repository: 'acme/api', name: 'laptop' });
    expect(key).toMatch(/^kt-vk-[A-Za-z0-9_-]{32}$/);
    expect(record).toEqual({
      id: expect.stringMatching(/^vk_[0-9A-HJKMNP-TV-Z]{26}$/),
      developer: 'alice@example.com',
      team: 'platform',
      repository: 'acme/api',
      name: 'laptop',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      revoked_at: null,
    });
    const second = await store.create({ developer: 'bob' });
    expect(second.key).not.toBe(key);
    expect(second.record).toMatchObject({ developer: 'bob', team: null, repository: null, name: null });

    const listed = await store.list();
    expect(listed.slice(-2)).toEqual([record, second.record]);
    expect(JSON.stringify(listed)).not.toContain('kt-vk-');

    // What is at rest: the hash, never the key.
    if (kind === 'sqlite') {
      const raw = new Database(eventsDbFile(loc.dataDir), { readonly: true });
      const row = raw.prepare('SELECT * FROM virtual_keys WHERE id = ?').get(record.id) as Record<string, unknown>;
      raw.close();
      expect(row.key_sha256).toBe(hashVirtualKey(key));
      expect(JSON.stringify(row)).not.toContain(key);
      expect(readFileSync(eventsDbFile(loc.dataDir)).includes(key)).toBe(false);
    } else {
      const client = new pg.Client({ connectionString: PG_BASE });
      await client.connect();
      const { rows } = await client.query(`SELECT * FROM "${PG_SCHEMA}".virtual_keys WHERE id = $1`, [record.id]);
      await client.end();
      expect(rows[0].key_sha256).toBe(hashVirtualKey(key));
      expect(JSON.stringify(rows[0])).not.toContain(key);
    }
  });

  it('looks keys up by the presented key; unknown, malformed and revoked keys give null', async () => {
    const { key, record } = await store.create({ developer: 'carol', team: 'data' });
    expect(await store.lookup(key)).toEqual(record);
    expect(await other.lookup(key)).toEqual(record);
    expect(await store.lookup(`kt-vk-${'A'.repeat(32)}`)).toBeNull();
    expect(await store.lookup(`${key}x`)).toBeNull();
    expect(await store.lookup(key.slice(0, -1))).toBeNull();
    expect(await store.lookup('')).toBeNull();

    expect(await store.revoke(record.id)).toBe(true);
    expect(await store.lookup(key)).toBeNull(); // a revocation in this process clears its cache at once
    const listed = (await store.list()).find((r) => r.id === record.id)!;
    expect(listed.revoked_at).toMatch(/^\d{4}-/);
    // Revoking again keeps the first time; an unknown id is false.
    expect(await store.revoke(record.id)).toBe(true);
    expect((await store.list()).find((r) => r.id === record.id)!.revoked_at).toBe(listed.revoked_at);
    expect(await store.revoke('vk_unknown')).toBe(false);
  });

  it('takes a revocation made by another process within the cache time', async () => {
    const { key, record } = await store.create({ developer: 'dave' });
    expect(await store.lookup(key)).toEqual(record);
    expect(await other.revoke(record.id)).toBe(true);
    expect(await other.lookup(key)).toBeNull();
    // Still cached here…
    expect(await store.lookup(key)).toEqual(record);
    await new Promise((r) => setTimeout(r, 350));
    // …and refused once the cache time has passed.
    expect(await store.lookup(key)).toBeNull();
  });

  it('refuses attribution values that events and logs could not carry', async () => {
    await expect(store.create({ developer: '' })).rejects.toThrow(VirtualKeyInputError);
    await expect(store.create({ developer: '   ' })).rejects.toThrow(/developer is required/);
    await expect(store.create({ developer: 'a'.repeat(201) })).rejects.toThrow(/at most 200/);
    await expect(store.create({ developer: 'eve', team: 'x\ny' })).rejects.toThrow(/control characters/);
    await expect(store.create({ developer: 'eve', repository: 'x\u0000' })).rejects.toThrow(/control characters/);
  });
});

describe('virtual keys beside the events', () => {
  it('share the gateway SQLite file with the event store, each through its own connection', async () => {
    const dataDir = tempDir();
    const events = new SqliteEventStore(eventsDbFile(dataDir));
    const keys = new SqliteVirtualKeyStore(eventsDbFile(dataDir));
    const { key } = await keys.create({ developer: 'frank' });
    await events.append('gw', []);
    expect((await keys.lookup(key))?.developer).toBe('frank');
    await keys.close();
    await events.close();
  });

  it('refuse a schema name that would need quoting', async () => {
    await expect(PostgresVirtualKeyStore.connect(PG_BASE, { schema: 'x"; DROP TABLE y; --' })).rejects.toThrow(/invalid PostgreSQL schema name/);
  });

  it('are recognised by the secret scanner (code-sanitizer) wherever they leak', async () => {
    const store = new SqliteVirtualKeyStore(':memory:');
    const { key } = await store.create({ developer: 'gina' });
    await store.close();
    for (const text of [`OPENAI_API_KEY=${key}`, `const apiKey = "${key}";`, `Authorization: Bearer ${key}\n`]) {
      const found = createSecretScanner().scan(text);
      expect(found.map((f) => [f.rule, text.slice(f.start, f.end)]), text).toEqual([['keeptrusts-virtual-key', key]]);
    }
  });
});
