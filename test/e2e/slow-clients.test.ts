import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT } from '../helpers/processes.js';

/**
 * Clients that open connections and then send their request slowly, or not at all. Each used to hold a file
 * descriptor for as long as it liked (no request timeout); a few hundred ran the gateway out of descriptors,
 * and the journal's ingest, which opens files, failed with them. Now headers and bodies have deadlines and the
 * connection count has a cap, refused with a 503.
 */

let fake: FakeUpstream;
const cleanups: Array<() => void | Promise<void>> = [];
beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => fake.close());

/** `kt gateway run` with the audit trail on (SQLite, journal), under `sh` so a test can lower its open-file limit. */
async function startGateway(flags: string[], fdLimit?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'kt-slow-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const [config] = writeConfigs(`pack: {name: slow, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
  const port = await freePort();
  const args = [KT, 'gateway', 'run', '--log-format', 'json', '-c', config!, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--gateway-id', 'gw-slow', ...flags];
  const child: ChildProcess = fdLimit
    ? spawn('sh', ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
  await until('the gateway listens', () => stderr.includes('listening on') || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
  const base = `http://127.0.0.1:${port}`;
  const chat = async (text: string) => {
    const res = await request(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }),
    });
    const body = await res.body.text();
    return { status: res.statusCode, body, eventId: String(res.headers['x-keeptrusts-event-id']) };
  };
  /** Resolves once the event is in the store: the journal was written and ingested. */
  const stored = async (eventId: string) => {
    const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
    try {
      await until(`event ${eventId} is ingested`, async () => (await store.get(eventId)) !== null);
    } finally {
      await store.close();
    }
  };
  return { child, port, chat, stored, stderr: () => stderr };
}

async function until(what: string, check: () => boolean | Promise<boolean>, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

interface Slow {
  socket: Socket;
  reply: () => string;
  closed: Promise<void>;
}

/** A connection that sends `head` and then nothing more. */
function openSlow(port: number, head: string): Promise<Slow> {
  return new Promise((resolve, reject) => {
    let reply = '';
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (d: Buffer) => (reply += d.toString()));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      if (head) socket.write(head);
      resolve({ socket, reply: () => reply, closed });
    });
    socket.once('error', reject);
  });
}

const PARTIAL_HEADERS = 'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer k\r\n';
const PARTIAL_BODY = 'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer k\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"model":"gpt-4o",';

describe('slow clients', () => {
  it('200 connections that stall in their headers or body are closed; others are served and audited meanwhile', async () => {
    const gw = await startGateway(['--headers-timeout', '1s', '--body-timeout', '1s', '--request-timeout', '5s', '--max-connections', '400']);
    const slow = await Promise.all(Array.from({ length: 200 }, (_, i) => openSlow(gw.port, i % 2 ? PARTIAL_BODY : PARTIAL_HEADERS)));

    const during = await gw.chat('while 200 clients stall');
    expect(during.status).toBe(200);
    await gw.stored(during.eventId);

    await Promise.all(slow.map((s) => s.closed));
    for (const [i, s] of slow.entries()) {
      if (i % 2) {
        // The body stalled inside the gateway's handler: an answer in the client's API shape.
        expect(s.reply()).toMatch(/^HTTP\/1\.1 408 /);
        expect(s.reply()).toContain('"code":"request_timeout"');
      } else {
        expect(s.reply()).toMatch(/^HTTP\/1\.1 408 /);
      }
    }

    const after = await gw.chat('after they were closed');
    expect(after.status).toBe(200);
    await gw.stored(after.eventId);
    expect(gw.stderr()).not.toMatch(/EMFILE/);
  }, 60_000);

  it('under a low open-file limit, connections past the default cap are refused with a 503, and the journal keeps working', async () => {
    // 320 descriptors, --max-concurrency 8: the default cap is 320 - 128 reserved - 64 for refused connections
    // on their way out - 2 × 8 upstream = 112 connections.
    const gw = await startGateway(['--max-concurrency', '8', '--headers-timeout', '2s'], 320);
    const idle = await Promise.all(Array.from({ length: 200 }, () => openSlow(gw.port, '')));
    await until('every connection is either held or refused', () => idle.filter((s) => s.reply() !== '').length + 112 >= 200);

    const refused = idle.filter((s) => s.reply().startsWith('HTTP/1.1 503 '));
    expect(refused).toHaveLength(200 - 112);
    expect(refused[0]!.reply()).toMatch(/retry-after: 1/i);
    const body = JSON.parse(refused[0]!.reply().slice(refused[0]!.reply().indexOf('\r\n\r\n') + 4)) as { error: { type: string; code: string } };
    expect(body.error).toMatchObject({ type: 'overloaded_error', code: 'too_many_connections' });

    const atCap = await gw.chat('while the gateway is at its connection cap');
    expect(atCap.status).toBe(503);

    // The held connections time out (no headers within 2 s), and with them the descriptors come back.
    await Promise.all(idle.map((s) => s.closed));
    const after = await gw.chat('after the flood');
    expect(after.status).toBe(200);
    await gw.stored(after.eventId);
    expect(gw.child.exitCode).toBeNull();
    expect(gw.stderr()).not.toMatch(/EMFILE/);
    expect(gw.stderr()).toContain('connection cap reached');
  }, 60_000);
});
