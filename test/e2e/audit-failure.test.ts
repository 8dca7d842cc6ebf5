import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChainedEvent } from '../../src/audit/chain.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CONFIG = `pack: {name: audit-failure, version: "1"}
policies:
  chain: [code-sanitizer, audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
`;

/** A real store whose writes can be made to fail or to take a while. */
class FlakyStore extends SqliteEventStore {
  failing = false;
  delayMs = 0;
  commits: number[] = [];
  override async append(chain: string, events: readonly DecisionEvent[]): Promise<ChainedEvent[]> {
    if (this.failing) throw new Error('disk I/O error');
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const linked = await super.append(chain, events);
    this.commits.push(Date.now());
    return linked;
  }
}

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function setup(failMode: 'block' | 'allow') {
  const dataDir = mkdtempSync(join(tmpdir(), 'kt-audit-fail-'));
  const store = new FlakyStore(join(dataDir, 'events.db'));
  stack = await startStack({ config: CONFIG, audit: { dataDir, store, failMode } });
  return { dataDir, store, client: new OpenAI({ baseURL: stack.openaiBase, apiKey: 'k', maxRetries: 0 }) };
}

describe('when the event store fails', () => {
  it('fail-mode block: the request fails with 500 audit_unavailable, in the client API shape', async () => {
    const { store, client } = await setup('block');
    store.failing = true;
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as { error: { code: string } }).error.code).toBe('audit_unavailable');
    // A stream cannot change its status any more: it ends with the protocol's error frame instead of [DONE].
    const res = await request(`${stack!.openaiBase}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const text = await res.body.text();
    expect(text).not.toContain('[DONE]');
    expect(text).toContain('the audit trail could not record this request');
  });

  it('fail-mode allow: requests go through, events are spooled and written once the store works again', async () => {
    const { dataDir, store, client } = await setup('allow');
    store.failing = true;
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `hi ${i}` }] });
    expect(existsSync(join(dataDir, 'spool.ndjson'))).toBe(true);
    expect(readFileSync(join(dataDir, 'spool.ndjson'), 'utf8').trim().split('\n')).toHaveLength(3);
    store.failing = false;
    for (let i = 0; i < 100 && (await store.query({})).length < 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await store.query({ order: 'asc' })).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(existsSync(join(dataDir, 'spool.ndjson'))).toBe(false);
  }, 20_000);
});

describe('ordering', () => {
  it('a response ends only after its decision event is committed (plain and streamed)', async () => {
    const { store } = await setup('block');
    store.delayMs = 300;
    for (const stream of [false, true]) {
      const res = await request(`${stack!.openaiBase}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
        body: JSON.stringify({ model: 'gpt-4o', stream, messages: [{ role: 'user', content: 'hi' }] }),
      });
      const text = await res.body.text();
      const ended = Date.now();
      expect(text).toContain(stream ? '[DONE]' : '"choices"');
      expect(store.commits.at(-1)!).toBeLessThanOrEqual(ended);
    }
  });
});
