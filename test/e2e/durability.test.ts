import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { verifyChain } from '../../src/audit/verify.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, spawnGateway } from '../helpers/processes.js';

function startGateway(config: string, dataDir: string, port: number): Promise<ChildProcess> {
  return spawnGateway(['-c', config, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--gateway-id', 'gw-kill']);
}

let fake: FakeUpstream;
beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  // A long reply in small chunks keeps streams open long enough to be cut by the kill.
  fake = await startFakeUpstream({ replyText: 'word '.repeat(400), chunkSize: 4 });
});
afterAll(() => fake.close());

describe('durability: SIGKILL during a load run', () => {
  it('every response a client received in full has its event, and the chain verifies after restart', async () => {
    const [config] = writeConfigs(`pack: {name: kill, version: "1"}
policies:
  chain: [pii-detector, code-sanitizer, audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
    - {id: a, provider: anthropic, base_url: "${fake.url}"}
`);
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-kill-'));
    const port = await freePort();
    let gateway = await startGateway(config!, dataDir, port);
    const base = `http://127.0.0.1:${port}`;
    const dispatcher = new Agent({ connections: 64 });
    const complete: string[] = [];
    let attempted = 0;
    let stop = false;

    const one = async (worker: number, n: number) => {
      const id = `w${worker}-${n}`;
      const kind = n % 3;
      attempted++;
      try {
        if (kind === 0) {
          const res = await request(`${base}/v1/chat/completions`, {
            method: 'POST',
            dispatcher,
            headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-request-id': id },
            body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `hello ${id}` }] }),
          });
          const text = await res.body.text();
          if (res.statusCode === 200 && JSON.parse(text).choices) complete.push(id);
        } else {
          const anthropic = kind === 2;
          const res = await request(`${base}${anthropic ? '/v1/messages' : '/v1/chat/completions'}`, {
            method: 'POST',
            dispatcher,
            headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'anthropic-version': '2023-06-01', 'x-request-id': id },
            body: JSON.stringify({ model: anthropic ? 'claude-sonnet-4-20250514' : 'gpt-4o', max_tokens: 500, stream: true, messages: [{ role: 'user', content: `hello ${id}` }] }),
          });
          const text = await res.body.text();
          if (res.statusCode === 200 && (anthropic ? text.includes('event: message_stop') : text.includes('data: [DONE]'))) complete.push(id);
        }
      } catch {
        // cut by the kill: not received in full
      }
    };
    const workers = Array.from({ length: 16 }, async (_, w) => {
      for (let n = 0; !stop; n++) await one(w, n);
    });
    await new Promise((r) => setTimeout(r, 1500));
    gateway.kill('SIGKILL');
    await new Promise((r) => gateway.once('exit', r));
    stop = true;
    await Promise.all(workers);
    await dispatcher.close();

    // Restart on the same data dir: the recorder signs the tail the killed process left unsigned.
    gateway = await startGateway(config!, dataDir, port);
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));

    const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
    try {
      const events = await store.query({ order: 'asc', limit: 10_000 });
      const recorded = new Set(events.map((e) => e.event.request_id));
      const missing = complete.filter((id) => !recorded.has(id));
      console.log(`durability: ${attempted} requests attempted, ${complete.length} received in full, ${events.length} events stored, ${missing.length} missing`);
      expect(complete.length).toBeGreaterThan(20);
      expect(missing).toEqual([]);
      const keys = new Map((await store.keys()).map((k) => [k.key_id, k.public_key]));
      const report = await verifyChain(store, 'gw-kill', keys);
      expect(report.problem).toBeNull();
      expect(report.unsignedTail).toBe(0);
    } finally {
      await store.close();
    }
  }, 60_000);
});
