import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { linkEvents } from '../../src/audit/chain.js';
import { PostgresEventStore } from '../../src/audit/postgres-store.js';
import { verifyChain } from '../../src/audit/verify.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { makeEvent } from '../helpers/events.js';
import { freePort, KT, ROOT, spawnGateway } from '../helpers/processes.js';
import { deleteRedisKeys, PG_URL, postgresAvailable, REDIS_URL, redisAvailable } from '../helpers/services.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/**
 * PostgreSQL connections reset under a running gateway and control plane (a database restart, a failover, a
 * NAT dropping the flow), at chosen moments: idle, in the middle of a transaction, between COMMIT and its
 * answer, and while the database is down. The process keeps serving, the request in the broken transaction
 * gets the answer its fail mode promises, and the pool recovers. The same for the gateway's Redis.
 */

const pgUp = await postgresAvailable();
const redisUp = await redisAvailable();
const PG = { host: new URL(PG_URL).hostname, port: Number(new URL(PG_URL).port || 5432) };
const REDIS = { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) };
// Simple-protocol COMMIT, as pg sends it for a query without parameters: 'Q', length, text, NUL.
const COMMIT = 'COMMIT\0';

const cleanups: Array<() => Promise<void> | void> = [];
let fake: FakeUpstream;

beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => fake.close());

interface Setup {
  proxy: TcpProxy;
  schema: string;
  /** A store on PostgreSQL itself, not through the proxy, to see what landed. */
  direct: PostgresEventStore;
  proxiedUrl: string;
}

async function setup(): Promise<Setup> {
  const schema = `kt_reset_${randomBytes(5).toString('hex')}`;
  const proxy = await startTcpProxy(PG);
  cleanups.push(() => proxy.close());
  const direct = await PostgresEventStore.connect(PG_URL, { schema });
  cleanups.push(async () => {
    await direct.close();
    await PostgresEventStore.dropSchema(PG_URL, schema);
  });
  const url = new URL(PG_URL);
  url.port = String(proxy.port);
  url.searchParams.set('schema', schema);
  return { proxy, schema, direct, proxiedUrl: url.toString() };
}

function watch(child: ChildProcess): { stderr: () => string } {
  let text = '';
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
  return { stderr: () => text };
}

async function startPgGateway(s: Setup, failMode: 'block' | 'allow') {
  const dataDir = mkdtempSync(join(tmpdir(), 'kt-pgreset-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const [config] = writeConfigs(`pack: {name: pg-reset, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
  const port = await freePort();
  const child = await spawnGateway(['-c', config!, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--database-url', s.proxiedUrl, '--gateway-id', 'gw-pg', '--fail-mode', failMode]);
  const log = watch(child);
  const chat = async (text: string) => {
    const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }),
    });
    const body = (await res.body.json()) as { error?: { code?: string }; choices?: unknown[] };
    return { status: res.statusCode, body, eventId: String(res.headers['x-keeptrusts-event-id']) };
  };
  return { child, log, chat, dataDir };
}

/** Polls `check` until it holds; fails the test with `what` if it never does. */
async function eventually(what: string, check: () => Promise<boolean>, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

describe.skipIf(!pgUp)('kt gateway run on PostgreSQL, fail-mode block', () => {
  it('a reset of idle connections, mid-transaction and while the database is down never ends the process', async () => {
    const s = await setup();
    const gw = await startPgGateway(s, 'block');

    const first = await gw.chat('before any reset');
    expect(first.status).toBe(200);
    expect(await s.direct.get(first.eventId)).not.toBeNull();

    // Idle connections reset: the pool drops them and opens new ones.
    s.proxy.reset();
    const afterIdle = await gw.chat('after an idle reset');
    expect(afterIdle.status).toBe(200);

    // Reset while a transaction waits for its COMMIT to reach the server.
    const held = s.proxy.holdRequest(COMMIT);
    const pending = gw.chat('reset mid-transaction');
    await held;
    s.proxy.reset();
    const broken = await pending;
    expect(broken.status).toBe(500);
    expect(broken.body.error?.code).toBe('audit_unavailable');
    // Its COMMIT never arrived: the transaction was rolled back, so the event is not there.
    expect(await s.direct.get(broken.eventId)).toBeNull();
    expect(gw.child.exitCode).toBeNull();

    const afterTx = await gw.chat('after the mid-transaction reset');
    expect(afterTx.status).toBe(200);
    expect(await s.direct.get(afterTx.eventId)).not.toBeNull();

    // The database goes away: requests fail closed, and succeed again once it is back.
    s.proxy.setDown(true);
    s.proxy.reset();
    const whileDown = await gw.chat('while the database is down');
    expect(whileDown.status).toBe(500);
    expect(whileDown.body.error?.code).toBe('audit_unavailable');
    s.proxy.setDown(false);
    const backUp = await gw.chat('after the database is back');
    expect(backUp.status).toBe(200);
    expect(await s.direct.get(backUp.eventId)).not.toBeNull();

    expect(gw.child.exitCode).toBeNull();
    expect(gw.log.stderr()).not.toMatch(/uncaught|unhandled 'error' event/i);
    const report = await verifyChain(s.direct, 'gw-pg', new Map((await s.direct.keys()).map((k) => [k.key_id, k.public_key])));
    expect(report.problem).toBeNull();
  }, 60_000);
});

describe.skipIf(!pgUp)('kt gateway run on PostgreSQL, fail-mode allow', () => {
  it('an event whose transaction was reset is spooled and written once the database answers again', async () => {
    const s = await setup();
    const gw = await startPgGateway(s, 'allow');
    expect((await gw.chat('warm up')).status).toBe(200);

    const held = s.proxy.holdRequest(COMMIT);
    const pending = gw.chat('reset mid-transaction');
    await held;
    s.proxy.reset();
    const spooled = await pending;
    expect(spooled.status).toBe(200);
    await eventually('the spooled event reaches PostgreSQL', async () => (await s.direct.get(spooled.eventId)) !== null);
    expect(gw.child.exitCode).toBeNull();
  }, 60_000);

  it('a COMMIT that landed but whose answer was lost is not written twice, and does not hold up the spool', async () => {
    const s = await setup();
    const gw = await startPgGateway(s, 'allow');
    expect((await gw.chat('warm up')).status).toBe(200);

    // The server commits; the reset comes before the gateway hears so. The gateway cannot know: it spools.
    const held = s.proxy.holdReply(COMMIT);
    const pending = gw.chat('commit answer lost');
    await held;
    s.proxy.reset();
    const ambiguous = await pending;
    expect(ambiguous.status).toBe(200);
    expect(await s.direct.get(ambiguous.eventId)).not.toBeNull();

    const later = await gw.chat('after the lost answer');
    expect(later.status).toBe(200);
    await eventually('the spool drains', async () => !existsSync(join(gw.dataDir, 'spool.ndjson')) && !existsSync(join(gw.dataDir, 'spool.ndjson.draining')));
    expect(await s.direct.get(later.eventId)).not.toBeNull();
    const ids = (await s.direct.query({ order: 'asc', limit: 100 })).map((e) => e.id);
    expect(ids.filter((id) => id === ambiguous.eventId)).toHaveLength(1);
    const report = await verifyChain(s.direct, 'gw-pg', new Map((await s.direct.keys()).map((k) => [k.key_id, k.public_key])));
    expect(report.problem).toBeNull();
  }, 60_000);
});

describe.skipIf(!pgUp)('kt server on PostgreSQL', () => {
  it('an ingest whose transaction is reset fails alone; the control plane keeps serving and takes the batch again', async () => {
    const s = await setup();
    const directWithSchema = new URL(PG_URL);
    directWithSchema.searchParams.set('schema', s.schema);
    const created = spawnSync(process.execPath, [KT, 'server', 'token', 'create', '--gateway', 'gw-a', '--database-url', directWithSchema.toString()], { encoding: 'utf8' });
    expect(created.status).toBe(0);
    const token = created.stdout.trim();

    const port = await freePort();
    const child = spawn(process.execPath, [KT, 'server', '--listen', `127.0.0.1:${port}`, '--database-url', s.proxiedUrl, '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const log = watch(child);
    await eventually('the control plane listens', async () => log.stderr().includes('listening on'));
    const base = `http://127.0.0.1:${port}`;
    const post = async (body: unknown) => {
      const res = await request(`${base}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
    };

    const batch = { events: linkEvents('gw-a', null, [makeEvent({ gateway_id: 'gw-a' }), makeEvent({ gateway_id: 'gw-a' })]) };
    const held = s.proxy.holdRequest(COMMIT);
    const pending = post(batch);
    await held;
    s.proxy.reset();
    expect((await pending).status).toBe(500);
    expect(child.exitCode).toBeNull();

    // Reads and the retried batch both work on fresh connections.
    expect(await post(batch)).toEqual({ status: 200, json: { inserted: 2, duplicates: 0 } });
    s.proxy.reset();
    const list = await request(`${base}/v1/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.statusCode).toBe(200);
    expect(((await list.body.json()) as { data: unknown[] }).data).toHaveLength(2);
    expect(child.exitCode).toBeNull();
  }, 60_000);
});

describe.skipIf(!redisUp)('kt gateway run with limits in Redis', () => {
  it('a Redis reset, and Redis being down, fail the limit check as the fail mode says; the process keeps serving', async () => {
    const proxy = await startTcpProxy(REDIS);
    const prefix = `test-reset-${randomBytes(4).toString('hex')}`;
    cleanups.push(async () => void (await deleteRedisKeys(`${prefix}:`)));
    cleanups.push(() => proxy.close());
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-redisreset-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const [config] = writeConfigs(`pack: {name: redis-reset, version: "1"}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
rate_limits:
  - {scope: developer, rpm: 1000}
`);
    const port = await freePort();
    const child = await spawnGateway(['-c', config!, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--redis-url', `redis://127.0.0.1:${proxy.port}`, '--redis-key-prefix', prefix]);
    watch(child);
    // Counters under a developer of this run only: other tests share the Redis.
    const developer = `reset-${randomBytes(4).toString('hex')}`;
    const chat = async () => {
      const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-keeptrusts-developer': developer },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await chat()).toBe(200);
    proxy.reset();
    expect(child.exitCode).toBeNull();
    // ioredis reconnects on its own; the first command after a reset may fail (fail-mode block: 503).
    await eventually('requests pass again after the reset', async () => (await chat()) === 200);
    proxy.setDown(true);
    proxy.reset();
    expect(await chat()).toBe(503);
    proxy.setDown(false);
    await eventually('requests pass again once Redis is back', async () => (await chat()) === 200);
    expect(child.exitCode).toBeNull();
  }, 60_000);
});
