import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, spawnGateway } from '../helpers/processes.js';
import { ndjsonRecords, startHttpReceiver, until, type HttpReceiver } from '../helpers/siem-receivers.js';

let fake: FakeUpstream;
let receiver: HttpReceiver;
const running = new Set<ChildProcess>();

beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ replyText: 'fine', chunkSize: 8 });
  receiver = await startHttpReceiver();
});
afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await fake?.close();
  await receiver?.close();
});

function config(): string {
  return writeConfigs(`pack: {name: siem-restarts, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai, base_url: "${fake.url}/v1"}
audit:
  export:
    - {name: siem, type: https, url: "${receiver.url}/in", min_backoff_ms: 20, max_backoff_ms: 200}
`)[0]!;
}

async function startGateway(cfg: string, dataDir: string, port: number): Promise<{ child: ChildProcess; base: string }> {
  const child = await spawnGateway(['-c', cfg, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--gateway-id', 'gw-siem']);
  running.add(child);
  return { child, base: `http://127.0.0.1:${port}` };
}

async function kill(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

async function chat(base: string, n: number): Promise<string> {
  const res = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `request ${n}` }] }),
  });
  await res.body.text();
  expect(res.statusCode).toBe(200);
  return String(res.headers['x-keeptrusts-event-id']);
}

describe('SIEM export across gateway restarts', () => {
  it('loses no event when the gateway is killed during an outage of the receiver, or right after answering', async () => {
    const cfg = config();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-siem-restart-'));
    const port = await freePort();
    const ids: string[] = [];

    // 1. The receiver is down: events wait in the store; the gateway dies hard while retrying.
    receiver.outage.failNext = 1_000_000;
    let gw = await startGateway(cfg, dataDir, port);
    for (let i = 0; i < 5; i++) ids.push(await chat(gw.base, i));
    await until(() => receiver.requests.length >= 2, 'the exporter to try the receiver twice');
    await kill(gw.child, 'SIGKILL');
    expect(ndjsonRecords(receiver)).toEqual([]);

    // 2. The receiver is back; a new gateway process exports what the first could not, then more.
    receiver.outage.failNext = 0;
    gw = await startGateway(cfg, dataDir, port);
    for (let i = 5; i < 8; i++) ids.push(await chat(gw.base, i));
    // Killed as soon as the last answer is out: those events may or may not have left yet.
    await kill(gw.child, 'SIGKILL');

    // 3. A third process finishes the export, then stops cleanly.
    gw = await startGateway(cfg, dataDir, port);
    ids.push(await chat(gw.base, 8));
    await until(() => new Set(ndjsonRecords(receiver).map((r) => r.event_id)).size >= ids.length, 'every event at the receiver');
    await kill(gw.child, 'SIGTERM');

    const got = ndjsonRecords(receiver);
    expect(new Set(got.map((r) => r.event_id))).toEqual(new Set(ids));
    // At least once: a batch in flight at a kill may come again, but never more than twice, and in chain order.
    const counts = new Map<string, number>();
    for (const r of got) counts.set(r.event_id, (counts.get(r.event_id) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBeLessThanOrEqual(2);
    const seqs = got.map((r) => r.seq as number);
    expect([...new Set(seqs)]).toEqual([...new Set(seqs)].sort((a, b) => a - b));

    // A fourth start finds nothing left to send.
    const before = receiver.requests.length;
    gw = await startGateway(cfg, dataDir, port);
    const h = await (await request(`${gw.base}/health`)).body.json() as { status: string };
    expect(h.status).toBe('healthy');
    await kill(gw.child, 'SIGTERM');
    expect(receiver.requests.length).toBe(before);
  });
});
