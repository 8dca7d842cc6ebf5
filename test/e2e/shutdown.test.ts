import { pino } from 'pino';
import { Client } from 'undici';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { startGateway } from '../../src/gateway/server.js';
import { startFakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';

describe('graceful shutdown with busy keep-alive connections', () => {
  it('answers what is in flight, tells clients to reconnect, and closes connections as they go idle instead of waiting out the grace period', async () => {
    const fake = await startFakeUpstream();
    const [file] = writeConfigs(`pack: {name: shutdown, version: "1"}
policies:
  chain: []
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
    const { loaded } = await loadConfig([file!]);
    // A grace period far longer than the test may take: closing must not depend on it running out.
    const gateway = await startGateway(
      { loaded: loaded!, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), failMode: 'block', maxConcurrency: 8, maxBodyBytes: 1024 * 1024, env: {} },
      600_000,
    );
    const client = new Client(gateway.url, { pipelining: 2 });
    const chat = (id: string) =>
      client.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-request-id': id },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const warm = await chat('warm');
    await warm.body.text();
    expect(warm.headers.connection).not.toBe('close');
    // One request in flight (the upstream is slow), a second one pipelined behind it on the same connection.
    fake.setFault({ kind: 'slow', firstByteDelayMs: 300 }, { times: 1 });
    const inFlight = chat('in-flight');
    const behind = chat('behind');
    await new Promise((r) => setTimeout(r, 100));
    const closing = gateway.close();
    const a = await inFlight;
    expect(a.statusCode).toBe(200);
    await a.body.text();
    const b = await behind;
    expect(b.statusCode).toBe(200);
    // Handled after closing began: the client is told to open a new connection (to whichever gateway is up).
    expect(b.headers.connection).toBe('close');
    await b.body.text();
    await closing;
    await client.close();
    await fake.close();
  }, 20_000);
});
