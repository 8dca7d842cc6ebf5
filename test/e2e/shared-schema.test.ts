import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, runKt, spawnGateway } from '../helpers/processes.js';
import { PG_URL, postgresAvailable } from '../helpers/services.js';

/**
 * The Helm chart's topology (deploy/helm/keeptrusts): gateway pods, each its own chain, write to one PostgreSQL
 * schema, and `kt server` on that same schema serves all of them, without shipping or per-gateway tokens.
 */

const pgUp = await postgresAvailable();
const schema = `kt_shared_${process.pid}_${randomBytes(3).toString('hex')}`;
const running: ChildProcess[] = [];
let fake: FakeUpstream;

beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
});
afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await fake.close();
  if (pgUp) {
    const { PostgresEventStore } = await import('../../src/audit/postgres-store.js');
    await PostgresEventStore.dropSchema(PG_URL, schema);
  }
});

const tempDir = () => mkdtempSync(join(tmpdir(), 'kt-shared-'));

describe.skipIf(!pgUp)('gateways and kt server on one PostgreSQL schema', () => {
  it('kt server lists, counts and verifies the chains the gateways wrote', async () => {
    const databaseUrl = `${PG_URL}?schema=${schema}`;
    const [config] = writeConfigs(`pack: {name: shared, version: "1"}
policies: {chain: [audit-logger]}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
    const ports: number[] = [];
    for (const id of ['gw-pod-a', 'gw-pod-b']) {
      const port = await freePort();
      ports.push(port);
      running.push(await spawnGateway(['-c', config!, '--listen', `127.0.0.1:${port}`, '--data-dir', tempDir(), '--database-url', databaseUrl, '--gateway-id', id]));
    }
    for (const [i, port] of ports.entries()) {
      for (let n = 0; n <= i; n++) {
        const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        });
        expect(res.statusCode).toBe(200);
        await res.body.text();
      }
    }

    const created = await runKt(['server', 'token', 'create', '--role', 'reader', '--gateway', 'console', '--database-url', databaseUrl, '--data-dir', tempDir()]);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KEEPTRUSTS_')));
    const child = spawn(process.execPath, [KT, 'server', '--listen', `127.0.0.1:${port}`, '--database-url', databaseUrl, '--data-dir', tempDir(), '--log-format', 'json'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    running.push(child);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!log.includes('listening on')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(log);
      await new Promise((r) => setTimeout(r, 20));
    }
    const get = async (path: string) => {
      const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.statusCode, path).toBe(200);
      return (await res.body.json()) as Record<string, unknown>;
    };
    const events = (await get('/v1/events?limit=100')).data as Array<{ id: string; gateway_id?: string; chain?: string }>;
    expect(events.length).toBe(3);
    const chains = JSON.stringify(await get('/v1/chains'));
    expect(chains).toContain('gw-pod-a');
    expect(chains).toContain('gw-pod-b');
    for (const e of events) expect((await get(`/v1/events/${e.id}/verify`)).problems, e.id).toEqual([]);
  });
});
