import Anthropic from '@anthropic-ai/sdk';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane } from '../../src/server/app.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, spawnGateway } from '../helpers/processes.js';
import { DEFAULT_STACK_CONFIG, startStack, type Stack } from '../helpers/stack.js';

/**
 * Uploads the gateway refuses (413) and uploads that stall (408): answered in the client's API shape, and
 * read to the end first, so a client that is still writing hears the answer instead of a broken pipe.
 */

const LIMIT = 64 * 1024;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ maxBodyBytes: LIMIT, gateway: { listener: { bodyIdleTimeoutMs: 300 } } });
});
afterAll(() => stack.close());

/** Larger than the socket buffers on both sides, so the client is still writing when the gateway decides. */
const HUGE = 16 * 1024 * 1024;

/**
 * The SDKs in this process, the gateway in its own (the built kt): with both in one process the answer is
 * read before the reset reaches the client, and the broken pipe this guards against does not show.
 */
describe('413: a body over --max-body-bytes, from the SDKs', () => {
  let gateway: ChildProcess;
  let base: string;
  beforeAll(async () => {
    if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    const port = await freePort();
    const [config] = writeConfigs(DEFAULT_STACK_CONFIG.replaceAll('FAKE_URL', stack.fake.url));
    gateway = await spawnGateway(['-c', config!, '--listen', `127.0.0.1:${port}`, '--max-body-bytes', '64KiB', '--data-dir', mkdtempSync(join(tmpdir(), 'kt-413-'))]);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    gateway.kill('SIGTERM');
  });

  /** Requests the gateway answered 413, from its own metrics. */
  async function refused(family: string): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`keeptrusts_requests_total{family="${family}",target="none",status="413"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  it('the openai SDK gets an APIError with status 413, after one request (no retry of the upload)', async () => {
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k' });
    const before = await refused('chat');
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(HUGE) }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('request_too_large');
    expect((await refused('chat')) - before).toBe(1);
  }, 60_000);

  it('the anthropic SDK gets its own 413 error, after one request', async () => {
    const client = new Anthropic({ baseURL: base, apiKey: 'k' });
    const before = await refused('messages');
    const err = await client.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 10, messages: [{ role: 'user', content: 'x'.repeat(HUGE) }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(413);
    expect((err as { error: { error: { type: string } } }).error.error.type).toBe('request_too_large');
    expect((await refused('messages')) - before).toBe(1);
  }, 60_000);
});

describe('413: a body over --max-body-bytes', () => {
  it('a chunked upload with no declared length is counted, read to its end, and answered 413', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= HUGE) return this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const { status, json, connection } = await new Promise<{ status: number; json: { error: { code: string } }; connection: string | undefined }>((resolve, reject) => {
      const req = httpRequest(`${stack.openaiBase}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text), connection: res.headers.connection }));
      });
      req.on('error', reject);
      body.pipe(req);
    });
    expect(status).toBe(413);
    expect(json.error.code).toBe('request_too_large');
    expect(connection).toBe('close');
    expect(sent).toBe(HUGE);
  }, 60_000);
});

/** Send `head` and part of a body, then nothing; resolve with what comes back before the connection closes. */
function stall(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(head));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

describe('408: a body that stops arriving', () => {
  it('is answered in the OpenAI shape and the connection is closed', async () => {
    const reply = await stall(stack.gateway.port, 'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer k\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"model":');
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    const json = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { error: { code: string; type: string } };
    expect(json.error).toMatchObject({ code: 'request_timeout', type: 'invalid_request_error' });
  });

  it('is answered in the Anthropic shape on the Messages API', async () => {
    const reply = await stall(stack.gateway.port, 'POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: k\r\nanthropic-version: 2023-06-01\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', code: 'request_timeout' } });
  });

  it('the control plane answers a stalled upload the same way', async () => {
    const store = new SqliteEventStore(':memory:');
    const tokens = new SqliteTokenStore(':memory:');
    const plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger: pino({ level: 'silent' }), listener: { bodyIdleTimeoutMs: 300 } });
    try {
      const { token } = await tokens.create({ gateway: 'gw' });
      const reply = await stall(plane.port, `POST /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"events":`);
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { type: 'request_timeout' } });
    } finally {
      await plane.close();
      await tokens.close();
      await store.close();
    }
  });
});
