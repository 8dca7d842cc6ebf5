import { spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { JOURNAL_DIR, journalRecord, JournalWriter, segmentName } from '../../src/audit/journal.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { makeEvent } from '../helpers/events.js';
import { freePort, KT, ROOT, runKt, spawnGateway } from '../helpers/processes.js';
import { mulberry32 } from '../../src/testing/mulberry32.js';

let fake: FakeUpstream;
beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ replyText: 'word '.repeat(40), chunkSize: 8 });
});
/** Every gateway started here, so a failed test cannot leave one running. */
const running = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await fake.close();
});

/** A target that needs the client's key (no key: 401, as in issue 16), with PII redaction and the audit trail. */
function config(): string {
  return writeConfigs(`pack: {name: restarts, version: "1"}
policies:
  chain: [pii-detector, audit-logger]
providers:
  targets:
    - {id: o, provider: openai, base_url: "${fake.url}/v1"}
`)[0]!;
}

interface Gateway {
  child: ChildProcess;
  base: string;
}

async function startGateway(cfg: string, dataDir: string, port: number): Promise<Gateway> {
  const child = await spawnGateway(['-c', cfg, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--gateway-id', 'gw-restarts', '--metrics-token', OPERATOR]);
  running.add(child);
  return { child, base: `http://127.0.0.1:${port}` };
}

async function stop(g: Gateway, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  const exited = new Promise((r) => g.child.once('exit', r));
  g.child.kill(signal);
  await exited;
}

/** /health's details need an operator token. */
const OPERATOR = 'operator-token-0123456789';

type Health = { status: string; audit: { committed: number; ingest?: { state: string; lag: { records: number } } } };
async function health(g: Gateway): Promise<Health> {
  return (await (await request(`${g.base}/health`, { headers: { authorization: `Bearer ${OPERATOR}` } })).body.json()) as Health;
}

async function until(what: string, probe: () => Promise<boolean>, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Every stored event, through the CLI as a user reads them. */
async function exported(dataDir: string): Promise<DecisionEvent[]> {
  const r = await runKt(['events', 'export', '--format', 'ndjson', '--data-dir', dataDir]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as DecisionEvent);
}

async function chat(base: string, id: string, opts: { key?: boolean; content?: string; dispatcher?: Agent } = {}): Promise<number> {
  const res = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    headers: { 'content-type': 'application/json', 'x-request-id': id, ...(opts.key === false ? {} : { authorization: 'Bearer k' }) },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: opts.content ?? `hello ${id}` }] }),
  });
  await res.body.text();
  return res.statusCode;
}

describe('journal across restarts (issue 16, item 0)', () => {
  it('two requests per run with SIGTERM between runs: the store holds 2, 4, 6, 8 events, /health counts each run, verify is clean', async () => {
    const cfg = config();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-restarts-'));
    const port = await freePort();
    const counts: number[] = [];
    for (let run = 1; run <= 4; run++) {
      const g = await startGateway(cfg, dataDir, port);
      expect(await chat(g.base, `run${run}-a`)).toBe(200);
      expect(await chat(g.base, `run${run}-b`)).toBe(200);
      // The bug showed here: the second run's events never reached the chain (audit.committed stayed 0).
      await until(`run ${run}'s events in the chain`, async () => (await health(g)).audit.committed === 2);
      await stop(g, 'SIGTERM');
      counts.push((await exported(dataDir)).length);
    }
    expect(counts).toEqual([2, 4, 6, 8]);
    const verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).not.toContain('journal:');
  }, 60_000);
});

describe('two gateways on one data dir', () => {
  it('the second writes to the store directly while the first owns the journal; every event lands once and verify passes', async () => {
    const cfg = config();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-two-'));
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await startGateway(cfg, dataDir, portA);
    const b = await startGateway(cfg, dataDir, portB);
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const id = `two-${i}`;
        expect(await chat((i % 2 ? b : a).base, id)).toBe(200);
        ids.push(id);
      }),
    );
    await stop(b, 'SIGTERM');
    await stop(a, 'SIGKILL');
    // The owner restarts (and ingests what its kill left); the other one's events are in the store already.
    await stop(await startGateway(cfg, dataDir, portA), 'SIGTERM');
    expect((await exported(dataDir)).map((e) => e.request_id).sort()).toEqual(ids.sort());
    const verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 60_000);
});

describe('a request whose event would be huge (issue 16, item 1)', () => {
  it('30,000 e-mail addresses, no API key (401): a bounded event, and the events after it keep arriving', async () => {
    const cfg = config();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-30k-'));
    const port = await freePort();
    let g = await startGateway(cfg, dataDir, port);
    const addresses = Array.from({ length: 30_000 }, (_, i) => `user${i}@example${i % 97}.com`).join(' ');
    expect(addresses.length).toBeGreaterThan(700_000);
    expect(await chat(g.base, 'thirty-thousand', { key: false, content: addresses })).toBe(401);
    expect(await chat(g.base, 'after-1')).toBe(200);
    await until('both events in the chain', async () => (await health(g)).audit.committed === 2);
    expect((await health(g)).status).toBe('healthy');
    await stop(g, 'SIGTERM');
    // And across a restart: nothing is left waiting behind it.
    g = await startGateway(cfg, dataDir, port);
    expect(await chat(g.base, 'after-restart')).toBe(200);
    await until('the next run\'s event', async () => (await health(g)).audit.committed === 1);
    await stop(g, 'SIGTERM');

    const events = await exported(dataDir);
    expect(events.map((e) => e.request_id)).toEqual(['thirty-thousand', 'after-1', 'after-restart']);
    const big = events[0]!;
    expect(big.status).toBe(401);
    const emails = big.redactions.find((r) => r.type === 'EMAIL')!;
    expect(emails.count).toBe(30_000);
    expect(emails.locations).toHaveLength(100);
    const bytes = Buffer.byteLength(JSON.stringify(big));
    console.log(`30,000-address event: ${bytes} bytes as exported (was a 5,039,076-byte journal record)`);
    expect(bytes).toBeLessThan(128 * 1024);
    expect(big.truncated).toBeUndefined();
    const verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 60_000);
});

describe('kt events verify reads the journal', () => {
  it('reports events not yet ingested without failing, fails on an event the ingester went past, and a restart adds it', async () => {
    const cfg = config();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-vjournal-'));
    const port = await freePort();
    let g = await startGateway(cfg, dataDir, port);
    expect(await chat(g.base, 'stored')).toBe(200);
    await until('the event in the chain', async () => (await health(g)).audit.committed === 1);
    await stop(g, 'SIGTERM');
    const journal = join(dataDir, JOURNAL_DIR);
    const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
    const position = JSON.parse(store.getMetaSync('journal:gw-restarts')!) as { segment: number };
    await store.close();
    // Journal segments as a gateway leaves them: one ahead of the read position (killed before ingesting),
    // and one behind it holding an event the chain lacks (what the segment-numbering bug left).
    const segmentWith = (requestId: string, seg: number) => {
      const scratch = mkdtempSync(join(tmpdir(), 'kt-scratch-'));
      const w = new JournalWriter(scratch);
      w.append([journalRecord(makeEvent({ gateway_id: 'gw-restarts', request_id: requestId }))]);
      w.close();
      copyFileSync(join(scratch, segmentName(w.current)), join(journal, segmentName(seg)));
    };
    segmentWith('pending', position.segment + 1);
    let verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('journal: 1 event in the journal not yet ingested');
    segmentWith('skipped', position.segment - 1);
    verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout).toBe(1);
    expect(verify.stdout).toMatch(/journal: FAILED: 1 event in the journal is behind the read position and missing from the chain/);
    expect(verify.stdout).toMatch(/^verification FAILED: /m);
    const json = JSON.parse((await runKt(['events', 'verify', '--json', '--data-dir', dataDir])).stdout) as { ok: boolean; journal: { pending: number; skipped: number } };
    expect(json).toMatchObject({ ok: false, journal: { pending: 1, skipped: 1 } });
    // A gateway of this version takes both at its start: the one ahead as usual, the one behind checked and added.
    g = await startGateway(cfg, dataDir, port);
    await stop(g, 'SIGTERM');
    expect((await exported(dataDir)).map((e) => e.request_id).sort()).toEqual(['pending', 'skipped', 'stored']);
    verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).not.toContain('journal:');
  }, 60_000);
});


describe('restart stress: clean stops and kill -9 at random points while traffic flows', () => {
  it('every acknowledged request (2xx or 4xx received in full) has exactly one event, and the chain and journal verify', async () => {
    const started = Date.now();
    const random = mulberry32(16);
    const cfg = config();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-stress-'));
    const port = await freePort();
    const acknowledged: string[] = [];
    let attempted = 0;
    const signals: string[] = [];

    /** One request of four kinds: 200, streamed 200, 401 (no key), 400 (not JSON); true once received in full. */
    const one = async (base: string, dispatcher: Agent, id: string, kind: number): Promise<boolean> => {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': id };
      if (kind !== 2) headers.authorization = 'Bearer k';
      const body = kind === 3 ? '{"model": "gpt-4o", "messages": [' : JSON.stringify({ model: 'gpt-4o', stream: kind === 1, messages: [{ role: 'user', content: `mail ${id}@example.com` }] });
      const res = await request(`${base}/v1/chat/completions`, { method: 'POST', dispatcher, headers, body });
      const text = await res.body.text();
      if (kind === 1) return res.statusCode === 200 && text.includes('data: [DONE]');
      return res.statusCode === [200, 200, 401, 400][kind];
    };

    const cycles = 12;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const g = await startGateway(cfg, dataDir, port);
      const dispatcher = new Agent({ connections: 8 });
      let stopping = false;
      const workers = Array.from({ length: 4 }, async (_, w) => {
        for (let n = 0; !stopping; n++) {
          const id = `c${cycle}-w${w}-${n}`;
          attempted++;
          try {
            if (await one(g.base, dispatcher, id, (w + n) % 4)) acknowledged.push(id);
          } catch {
            // Cut by the stop: not received in full, so not acknowledged; the gateway is going away.
            break;
          }
        }
      });
      await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 1400)));
      const signal = random() < 0.5 ? 'SIGKILL' : 'SIGTERM';
      signals.push(signal);
      await stop(g, signal);
      stopping = true;
      await Promise.all(workers);
      await dispatcher.close();
    }
    // One more start and clean stop: whatever the last kill left in the journal goes in, the head is signed.
    await stop(await startGateway(cfg, dataDir, port), 'SIGTERM');

    const events = await exported(dataDir);
    const perRequest = new Map<string, number>();
    for (const e of events) perRequest.set(e.request_id, (perRequest.get(e.request_id) ?? 0) + 1);
    const missing = acknowledged.filter((id) => !perRequest.has(id));
    const twice = [...perRequest].filter(([, n]) => n > 1).map(([id]) => id);
    const verify = await runKt(['events', 'verify', '--data-dir', dataDir]);
    console.log(
      `restart stress: ${cycles} runs (${signals.filter((s) => s === 'SIGKILL').length} SIGKILL, ${signals.filter((s) => s === 'SIGTERM').length} SIGTERM), ` +
        `${attempted} requests, ${acknowledged.length} acknowledged, ${events.length} events, ${missing.length} missing, ${twice.length} twice, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(acknowledged.length).toBeGreaterThan(100);
    expect(signals).toContain('SIGKILL');
    expect(signals).toContain('SIGTERM');
    expect(missing).toEqual([]);
    expect(twice).toEqual([]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).not.toContain('not yet ingested');
  }, 120_000);
});
