import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, runKt, spawnGateway } from '../helpers/processes.js';

/**
 * `kt gateway run --shutdown-delay`: behind a load balancer, a gateway that stopped accepting at SIGTERM cut the
 * requests the balancer had already sent over its pooled keep-alive connections (the scale-out test's rolling
 * restart lost one that way: "other side closed"). With a delay it first answers /readyz with 503 while serving
 * on, so health checks take it out, and only then stops accepting.
 */

let fake: FakeUpstream;
beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
});
afterAll(async () => {
  await fake.close();
});

const chat = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };

describe('kt gateway run --shutdown-delay', () => {
  it('after SIGTERM answers /readyz 503 and keeps serving, old connections and new, until the delay ends or a second signal', async () => {
    const [config] = writeConfigs(`pack: {name: delay, version: "1"}
policies: {chain: []}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    // Far longer than the test: the second SIGTERM ends it, so nothing here depends on how long anything takes.
    const gw = await spawnGateway(['-c', config!, '--listen', `127.0.0.1:${port}`, '--shutdown-delay', '10m']).catch((err: Error) => err);
    // 10m is over the 5m cap: refused before anything starts.
    expect(gw).toBeInstanceOf(Error);
    expect((gw as Error).message).toContain('--shutdown-delay must be at most 5m');

    const child = await spawnGateway(['-c', config!, '--listen', `127.0.0.1:${port}`, '--shutdown-delay', '4m']);
    let log = '';
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const pooled = new Client(base); // a load balancer's keep-alive connection
    const post = (c: Client) => c.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: JSON.stringify(chat) });
    try {
      const warm = await post(pooled);
      await warm.body.text();
      expect([warm.statusCode, warm.headers.connection]).toEqual([200, 'keep-alive']);
      expect((await request(`${base}/readyz`)).statusCode).toBe(200);

      child.kill('SIGTERM');
      // Each check on a connection of its own, as a load balancer's health checks are.
      for (;;) {
        const res = await request(`${base}/readyz`, { reset: true });
        const body = (await res.body.json()) as { ready: boolean };
        if (res.statusCode === 503) {
          expect(body).toEqual({ ready: false });
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      // Still accepting, and answering on the pooled connection too, each answer closing its connection.
      const fresh = await request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: JSON.stringify(chat) });
      await fresh.body.text();
      expect([fresh.statusCode, fresh.headers.connection]).toEqual([200, 'close']);
      const onPooled = await post(pooled);
      await onPooled.body.text();
      expect([onPooled.statusCode, onPooled.headers.connection]).toEqual([200, 'close']);
      expect(child.exitCode).toBeNull();

      // A second signal cuts the delay short; the gateway still stops cleanly.
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(log).toContain('/readyz answers 503 while the load balancer takes this gateway out');
      expect(log).toContain('the shutdown delay is cut short');
    } finally {
      await pooled.close().catch(() => undefined);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);

  it('refuses a delay that is not a duration', async () => {
    const bad = await runKt(['gateway', 'run', '--shutdown-delay', 'soon']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--shutdown-delay must be 0 or a duration such as 5s or 1.5s.');
  });
});
