import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, spawnGateway } from '../helpers/processes.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from '../helpers/services.js';

const redisUp = await redisAvailable();
/** This run's keys only (kt:<prefix>:…), deleted afterwards: the Redis is shared with other runs and people. */
const PREFIX = `test-two-gw-${randomBytes(4).toString('hex')}`;

function gateway(config: string, dataDir: string, port: number): Promise<ChildProcess> {
  return spawnGateway(['-c', config, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--redis-url', REDIS_URL, '--redis-key-prefix', PREFIX]);
}

let fake: FakeUpstream;
beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
});
afterAll(async () => {
  await fake.close();
  if (redisUp) await deleteRedisKeys(`${PREFIX}:`);
});

describe.skipIf(!redisUp)('two gateways sharing one hard budget through Redis', () => {
  it('never overspend by more than one in-flight request each, and keep their counters under the run\'s own prefix', async () => {
    const dev = 'dev-shared-budget';
    const limit = 0.001;
    const [config] = writeConfigs(`pack: {name: shared-budget, version: "1"}
policies: {chain: [audit-logger]}
budgets:
  - {scope: developer, match: ${dev}, limit_usd: ${limit}, period: day, mode: hard}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
    const dirs = [mkdtempSync(join(tmpdir(), 'kt-shared-a-')), mkdtempSync(join(tmpdir(), 'kt-shared-b-'))];
    const ports = [await freePort(), await freePort()];
    const gws = await Promise.all(dirs.map((d, i) => gateway(config!, d, ports[i]!)));
    let admitted = 0;
    let refused = 0;
    try {
      // Two clients, one per gateway, each with one request in flight at a time, until both are refused.
      await Promise.all(
        ports.flatMap((port) =>
          Array.from({ length: 1 }, async () => {
            for (;;) {
              const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
                method: 'POST',
                headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-keeptrusts-developer': dev },
                body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a request that costs a little' }] }),
              });
              const body = (await res.body.json()) as { error?: { code?: string } };
              if (body.error?.code === 'budget_exceeded') {
                // Final (400, no Retry-After), unless the day ends within a client's retry patience (429 until then).
                if (res.statusCode === 400) expect([res.headers['x-should-retry'], res.headers['retry-after']]).toEqual(['false', undefined]);
                else expect([res.statusCode, Number(res.headers['retry-after']) <= 60]).toEqual([429, true]);
                refused++;
                return;
              }
              expect(res.statusCode).toBe(200);
              admitted++;
            }
          }),
        ),
      );
    } finally {
      for (const g of gws) g.kill('SIGTERM');
      await Promise.all(gws.map((g) => new Promise((r) => g.once('exit', r))));
    }
    let spent = 0;
    let perRequest = 0;
    for (const d of dirs) {
      const store = new SqliteEventStore(join(d, 'events.db'), { readonly: true });
      for (const e of await store.query({ limit: 10_000 })) {
        if (e.event.status !== 200) continue;
        spent += e.event.cost!.total!;
        perRequest = Math.max(perRequest, e.event.cost!.total!);
      }
      await store.close();
    }
    const inFlightBound = 2; // one per gateway
    console.log(`shared budget: ${admitted} admitted, ${refused} refused, spent $${spent.toFixed(6)} of $${limit} (per request $${perRequest.toFixed(6)})`);
    expect(admitted).toBeGreaterThan(3);
    expect(spent).toBeGreaterThanOrEqual(limit);
    expect(spent).toBeLessThanOrEqual(limit + inFlightBound * perRequest + 1e-12);
    // Every counter the two gateways wrote is under kt:<prefix>: and nothing is left once it is deleted.
    expect(await deleteRedisKeys(`${PREFIX}:budget:`)).toBeGreaterThan(0);
    expect(await deleteRedisKeys(`${PREFIX}:`)).toBe(0);
  }, 60_000);
});
