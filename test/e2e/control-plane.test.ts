import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { linkHash, type ChainedEvent, type Checkpoint } from '../../src/audit/chain.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { loadOrCreateSigningKey, signCheckpoint, signRecord, type SigningKey } from '../../src/audit/keys.js';
import { openEventStore } from '../../src/audit/open.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { RemoteEventStore, sseFrames } from '../../src/audit/remote-store.js';
import { EventShipper } from '../../src/audit/shipper.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import type { EventStore, PublicKeyRecord } from '../../src/audit/store.js';
import { verifyChain } from '../../src/audit/verify.js';
import { startControlPlane, type RunningControlPlane } from '../../src/server/app.js';
import { openTokenStore, SqliteTokenStore, type TokenStore } from '../../src/server/tokens.js';
import { makeEvent, makePolicyResult } from '../helpers/events.js';
import { PG_URL, postgresAvailable } from '../helpers/services.js';

const dirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kt-cp-${prefix}-`));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A logger whose lines are kept, to check that tokens never reach a log. */
function captureLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** A gateway's side: its own store and signing key, building chains as the recorder does. */
class FakeGateway {
  readonly store: SqliteEventStore;
  readonly key: SigningKey;
  readonly publicKey: PublicKeyRecord;

  constructor(
    readonly chain: string,
    dir = tempDir(chain),
  ) {
    this.store = new SqliteEventStore(eventsDbFile(dir));
    this.key = loadOrCreateSigningKey(dir);
    this.publicKey = { key_id: this.key.keyId, public_key: this.key.publicKeyPem, created_at: new Date().toISOString() };
  }

  event(i: number, overrides: Parameters<typeof makeEvent>[0] = {}, atMs = Date.now()): DecisionEvent {
    const verdicts = ['allow', 'allow', 'flag', 'redact', 'block'] as const;
    return makeEvent(
      {
        gateway_id: this.chain,
        verdict: verdicts[i % verdicts.length]!,
        identity: { developer: i % 3 === 0 ? 'alice' : 'bob', repository: i % 2 ? 'acme/api' : 'acme/web' },
        policies: i % 4 === 0 ? [makePolicyResult('secrets', 'block')] : [makePolicyResult('pii', 'allow')],
        ...overrides,
      },
      atMs,
    );
  }

  async append(n: number, from = 0): Promise<ChainedEvent[]> {
    return this.store.append(
      this.chain,
      Array.from({ length: n }, (_, i) => this.event(from + i)),
    );
  }

  async checkpoint(): Promise<Checkpoint> {
    const head = (await this.store.head(this.chain))!;
    const cp = signCheckpoint(this.key, { chain: this.chain, seq: head.seq, hash: head.hash, ts: new Date().toISOString() });
    await this.store.addCheckpoint(cp);
    return cp;
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

interface Plane {
  plane: RunningControlPlane;
  store: EventStore;
  tokens: TokenStore;
  lines: string[];
  close(): Promise<void>;
}

async function sqlitePlane(opts: { port?: number; maxBodyBytes?: number; dir?: string } = {}): Promise<Plane> {
  const dir = opts.dir ?? tempDir('server');
  const store = new SqliteEventStore(eventsDbFile(dir));
  const tokens = new SqliteTokenStore(eventsDbFile(dir));
  const { logger, lines } = captureLogger();
  const plane = await startControlPlane({ host: '127.0.0.1', port: opts.port ?? 0, store, tokens, logger, ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}) });
  return {
    plane,
    store,
    tokens,
    lines,
    async close() {
      await plane.close();
      await tokens.close();
      await store.close();
    },
  };
}

async function api(base: string, method: 'GET' | 'POST', path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await request(`${base}${path}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...opts.headers,
    },
    ...(opts.body !== undefined ? { body: typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body) } : {}),
  });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

function post(base: string, token: string | undefined, body: unknown) {
  return api(base, 'POST', '/v1/events', { ...(token ? { token } : {}), body });
}

/** Read server-sent events until `count` decisions arrived or the time is up. */
async function readStream(url: string, token: string, count: number, opts: { lastEventId?: string; timeoutMs?: number; onOpen?: () => Promise<void> } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 10_000);
  const got: Array<{ id: string | undefined; pos: number; seq: number; eventId: string }> = [];
  try {
    const res = await request(url, {
      headers: { authorization: `Bearer ${token}`, ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) },
      signal: controller.signal,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    const opened = opts.onOpen?.();
    for await (const frame of sseFrames(res.body as AsyncIterable<Buffer>)) {
      if (frame.event !== 'decision') continue;
      const e = JSON.parse(frame.data) as { pos: number; seq: number; id: string; body?: string };
      expect(e.body).toBeUndefined();
      got.push({ id: frame.id, pos: e.pos, seq: e.seq, eventId: e.id });
      if (got.length >= count) break;
    }
    await opened;
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return got;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

async function trustedKeys(store: Pick<EventStore, 'keys'>): Promise<Map<string, string>> {
  return new Map((await store.keys()).map((k) => [k.key_id, k.public_key]));
}

// ---------------------------------------------------------------------------------------------------------------

describe('control plane (SQLite)', () => {
  let p: Plane;
  let base: string;
  let gwA: FakeGateway;
  let tokenA: string;
  let tokenB: string;
  let reader: string;
  let tokenIds: { a: string; b: string; reader: string };

  beforeAll(async () => {
    p = await sqlitePlane();
    base = p.plane.url;
    gwA = new FakeGateway('gw-a');
    const a = await p.tokens.create({ gateway: 'gw-a' });
    const b = await p.tokens.create({ gateway: 'gw-b', role: 'gateway' });
    const r = await p.tokens.create({ gateway: 'console', role: 'reader' });
    [tokenA, tokenB, reader] = [a.token, b.token, r.token];
    tokenIds = { a: a.record.id, b: b.record.id, reader: r.record.id };
  });
  afterAll(async () => {
    await p?.close();
    await gwA?.close();
  });

  it('issues tokens as ktgw_ + 32 base64url characters and keeps only their SHA-256', async () => {
    expect(tokenA).toMatch(/^ktgw_[A-Za-z0-9_-]{32}$/);
    expect(tokenIds.a).toMatch(/^tok_/);
    expect(await p.tokens.verify(tokenA)).toMatchObject({ gateway: 'gw-a', role: 'gateway', revoked_at: null });
    // One character changed (a token that already ended in "x" once made this test pass the token itself).
    expect(await p.tokens.verify(`${tokenA.slice(0, -1)}${tokenA.endsWith('x') ? 'y' : 'x'}`)).toBeNull();
    const list = await p.tokens.list();
    expect(list.map((t) => t.gateway)).toEqual(['gw-a', 'gw-b', 'console']);
    expect(JSON.stringify(list)).not.toContain('ktgw_');
    const raw = (p.store as SqliteEventStore).raw.prepare('SELECT * FROM api_tokens').all();
    expect(JSON.stringify(raw)).not.toContain(tokenA);
    await expect(p.tokens.create({ gateway: 'has space' })).rejects.toThrow(/gateway name/);
  });

  it('refuses posts without a valid gateway token for the chain', async () => {
    const events = await gwA.append(3);
    const body = { events };
    const none = await post(base, undefined, body);
    expect(none.status).toBe(401);
    expect(none.json.error.type).toBe('authentication_error');
    expect(none.headers['www-authenticate']).toMatch(/Bearer/);
    const bad = await post(base, `ktgw_${'x'.repeat(32)}`, body);
    expect(bad.status).toBe(401);
    expect(bad.text).not.toContain('ktgw_');
    const asReader = await post(base, reader, body);
    expect(asReader.status).toBe(403);
    expect(asReader.json.error.type).toBe('permission_error');
    const otherGateway = await post(base, tokenB, body);
    expect(otherGateway.status).toBe(403);
    expect(otherGateway.json.error.message).toMatch(/cannot write chain gw-a/);
    // The chain is its own but the event says another gateway made it.
    const gwB = new FakeGateway('gw-b');
    const lying = await gwB.store.append('gw-b', [gwB.event(0, { gateway_id: 'gw-a' })]);
    expect((await post(base, tokenB, { events: lying })).status).toBe(403);
    await gwB.close();
    // Reads need a token too.
    expect((await api(base, 'GET', '/v1/events')).status).toBe(401);
    expect((await api(base, 'GET', '/v1/events', { token: reader })).status).toBe(200);
    expect((await api(base, 'GET', '/health')).json).toEqual({ status: 'ok', store: 'sqlite' });
    expect(await p.store.head('gw-a')).toBeNull();
  });

  it('refuses events whose hash, links, body or shape are wrong', async () => {
    const chain = await gwA.store.query({ order: 'asc', limit: 3 });
    const events: ChainedEvent[] = chain.map(({ chain: c, seq, id, body, prev_hash, hash }) => ({ chain: c, seq, id, body, prev_hash, hash }));
    const edited = { ...events[0]!, body: events[0]!.body.replace('"verdict":"allow"', '"verdict":"block"') };
    const r1 = await post(base, tokenA, { events: [edited] });
    expect(r1.status).toBe(400);
    expect(r1.json.error.message).toMatch(/hash does not match/);
    const spaced = { ...events[0]!, body: JSON.stringify(JSON.parse(events[0]!.body), null, 1) };
    spaced.hash = linkHash(spaced.chain, spaced.seq, spaced.prev_hash, spaced.body);
    expect((await post(base, tokenA, { events: [spaced] })).json.error.message).toMatch(/canonical/);
    const skipping = await post(base, tokenA, { events: [events[0], events[2]] });
    expect(skipping.status).toBe(400);
    expect(skipping.json.error.message).toMatch(/contiguous/);
    expect((await post(base, tokenA, { events: [{ ...events[0], seq: 'one' }] })).status).toBe(400);
    expect((await post(base, tokenA, '{"events": [')).status).toBe(400);
    const tooMany = await post(base, tokenA, { events: Array.from({ length: 5001 }, () => events[0]) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.error.message).toMatch(/5000/);
    const wrongMethod = await api(base, 'GET', '/v1/keys/x', { token: reader });
    expect(wrongMethod.status).toBe(404);
    const notAllowed = await api(base, 'POST', '/v1/chains', { token: tokenA, body: {} });
    expect(notAllowed.status).toBe(405);
    expect(notAllowed.headers.allow).toBe('GET');
  });

  it('limits the body size (413)', async () => {
    const small = await sqlitePlane({ maxBodyBytes: 64 * 1024 });
    try {
      const t = await small.tokens.create({ gateway: 'gw-a' });
      const res = await post(small.plane.url, t.token, JSON.stringify({ events: [], pad: 'x'.repeat(100 * 1024) }));
      expect(res.status).toBe(413);
      expect(res.json.error.type).toBe('request_too_large');
    } finally {
      await small.close();
    }
  });

  it('ingests in order, idempotently on event id, with keys and checkpoints', async () => {
    const cp = await gwA.checkpoint();
    const events = await gwA.store.query({ order: 'asc', limit: 10 });
    const batch = {
      events: events.map(({ chain, seq, id, body, prev_hash, hash }) => ({ chain, seq, id, body, prev_hash, hash })),
      checkpoints: [cp],
      keys: [gwA.publicKey],
    };
    const first = await post(base, tokenA, batch);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ inserted: 3, duplicates: 0 });
    const again = await post(base, tokenA, batch);
    expect(again.json).toEqual({ inserted: 0, duplicates: 3 });
    expect(await p.store.head('gw-a')).toEqual(await gwA.store.head('gw-a'));
    expect((await api(base, 'GET', '/v1/keys', { token: reader })).json.data).toEqual([expect.objectContaining({ key_id: gwA.key.keyId })]);
    expect((await api(base, 'GET', '/v1/chains/gw-a/checkpoints', { token: reader })).json.data).toEqual([cp]);
    // A checkpoint signed by a key the control plane does not know, or with a forged signature, is refused.
    const forged = { ...cp, signature: Buffer.alloc(64).toString('base64') };
    expect((await post(base, tokenA, { events: [], checkpoints: [forged] })).json.error.message).toMatch(/invalid signature/);
  });

  it('answers a fork with 409 chain_conflict and a gap with 409 chain_gap', async () => {
    const fork = new FakeGateway('gw-a');
    const forked = await fork.append(1, 99);
    const res = await post(base, tokenA, { events: forked });
    expect(res.status).toBe(409);
    expect(res.json.error.type).toBe('chain_conflict');
    // Seq 4 onwards of the fork links to the fork's own seq 3, not the stored one: conflict on the link.
    await fork.append(5, 200);
    const ahead = (await fork.store.query({ order: 'asc', limit: 10 })).filter((e) => e.seq >= 4);
    const next = await post(base, tokenA, { events: ahead });
    expect(next.status).toBe(409);
    expect(next.json.error.type).toBe('chain_conflict');
    const gap = await post(base, tokenA, { events: ahead.filter((e) => e.seq >= 5) });
    expect(gap.status).toBe(409);
    expect(gap.json.error.type).toBe('chain_gap');
    await fork.close();
  });

  it('lists events with filters and newest-first cursor pages over 250 events', async () => {
    await gwA.append(247, 3);
    const all = await gwA.store.query({ order: 'asc', limit: 1000 });
    const pending = all.filter((e) => e.seq > 3).map(({ chain, seq, id, body, prev_hash, hash }) => ({ chain, seq, id, body, prev_hash, hash }));
    expect((await post(base, tokenA, { events: pending, keys: [gwA.publicKey] })).json).toEqual({ inserted: 247, duplicates: 0 });

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await api(base, 'GET', `/v1/events?limit=60${cursor ? `&cursor=${cursor}` : ''}`, { token: reader });
      expect(res.status).toBe(200);
      pages++;
      for (const e of res.json.data) {
        expect(Object.keys(e).sort()).toEqual(['chain', 'event', 'hash', 'id', 'pos', 'prev_hash', 'seq']);
        seen.push(e.seq);
      }
      cursor = res.json.next_cursor;
    } while (cursor);
    expect(pages).toBe(5);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => 250 - i));

    const asc = await api(base, 'GET', '/v1/events?order=asc&limit=100', { token: tokenA });
    const asc2 = await api(base, 'GET', `/v1/events?order=asc&limit=100&cursor=${asc.json.next_cursor}`, { token: tokenA });
    expect(asc2.json.data[0].seq).toBe(101);

    const blocks = all.filter((e) => e.event.verdict === 'block').length;
    const byVerdict = await api(base, 'GET', '/v1/events?verdict=block&limit=1000', { token: reader });
    expect(byVerdict.json.data).toHaveLength(blocks);
    const two = await api(base, 'GET', '/v1/events?verdict=block,flag&limit=1000', { token: reader });
    expect(two.json.data).toHaveLength(all.filter((e) => e.event.verdict === 'block' || e.event.verdict === 'flag').length);
    const alice = await api(base, 'GET', '/v1/events?developer=alice&repository=acme/web&limit=1000', { token: reader });
    expect(alice.json.data.length).toBe(all.filter((e) => e.event.identity.developer === 'alice' && e.event.identity.repository === 'acme/web').length);
    const secrets = await api(base, 'GET', '/v1/events?policy=secrets&limit=1000', { token: reader });
    expect(secrets.json.data.length).toBe(all.filter((e) => e.event.policies.some((x) => x.kind === 'secrets')).length);
    expect((await api(base, 'GET', '/v1/events?gateway=gw-a&since=1h&limit=1', { token: reader })).json.data).toHaveLength(1);
    expect((await api(base, 'GET', '/v1/events?until=2001-01-01T00:00:00Z', { token: reader })).json.data).toHaveLength(0);
    expect((await api(base, 'GET', `/v1/events?since=${Date.now() + 60_000}`, { token: reader })).json.data).toHaveLength(0);
    const after = await api(base, 'GET', '/v1/events?after=240&order=asc', { token: reader });
    expect(after.json.data.map((e: { pos: number }) => e.pos)[0]).toBe(241);

    for (const q of ['limit=1001', 'limit=0', 'verdict=maybe', 'since=yesterday', 'order=up', 'colour=red', 'cursor=abc']) {
      const res = await api(base, 'GET', `/v1/events?${q}`, { token: reader });
      expect(res.status, q).toBe(400);
      expect(res.json.error.type).toBe('invalid_request');
    }
  });

  it('gets one event by id, and 404 for an unknown id', async () => {
    const [e] = await gwA.store.query({ order: 'asc', limit: 1 });
    const res = await api(base, 'GET', `/v1/events/${e!.id}`, { token: reader });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: e!.id, seq: 1, chain: 'gw-a', hash: e!.hash, event: e!.event });
    expect(canonicalJson(res.json.event)).toBe(e!.body);
    expect((await api(base, 'GET', '/v1/events/evt_nope', { token: reader })).status).toBe(404);
    const chains = await api(base, 'GET', '/v1/chains', { token: reader });
    expect(chains.json.data).toEqual([{ chain: 'gw-a', head_seq: 250, head_hash: (await gwA.store.head('gw-a'))!.hash, first_seq: 1 }]);
    expect((await api(base, 'GET', '/v1/chains/nope', { token: reader })).status).toBe(404);
  });

  it('streams existing events after a position, then live ones, in order (SSE)', async () => {
    const url = `${base}/v1/events/stream?after=245`;
    const live = await gwA.append(4, 300);
    const got = await readStream(url, reader, 9, {
      onOpen: async () => {
        await new Promise((r) => setTimeout(r, 100));
        await post(base, tokenA, { events: live });
      },
    });
    expect(got.map((g) => g.seq)).toEqual([246, 247, 248, 249, 250, 251, 252, 253, 254]);
    expect(got.every((g) => g.id === String(g.pos))).toBe(true);
    // Last-Event-ID (a reconnecting client) wins over ?after=.
    const resumed = await readStream(url, reader, 2, { lastEventId: String(got[6]!.pos) });
    expect(resumed.map((g) => g.seq)).toEqual([253, 254]);
    const filtered = await readStream(`${base}/v1/events/stream?after=0&verdict=block`, reader, 3);
    expect(filtered).toHaveLength(3);
    expect((await api(base, 'GET', '/v1/events/stream?limit=5', { token: reader })).status).toBe(400);
    expect((await api(base, 'GET', '/v1/events/stream')).status).toBe(401);
  });

  it('RemoteEventStore tails the stream and reads like a local store', async () => {
    const remote = new RemoteEventStore(`${base}/`, reader);
    try {
      const controller = new AbortController();
      const seen: number[] = [];
      const tail = remote.tail({ verdict: ['allow', 'flag', 'redact', 'block', 'escalate'] }, (e) => {
        seen.push(e.seq);
        if (seen.length === 3) controller.abort();
      }, controller.signal);
      await new Promise((r) => setTimeout(r, 150));
      expect((await post(base, tokenA, { events: await gwA.append(3, 400) })).status).toBe(200);
      await tail;
      expect(seen).toEqual([255, 256, 257]);

      expect(await remote.head('gw-a')).toEqual(await p.store.head('gw-a'));
      expect(await remote.firstSeq('gw-a')).toBe(1);
      expect(await remote.chains()).toEqual(['gw-a']);
      const local = await p.store.query({ verdict: ['block'], order: 'asc', limit: 2000 });
      const viaApi = await remote.query({ verdict: ['block'], order: 'asc', limit: 2000 });
      expect(viaApi.map((e) => e.id)).toEqual(local.map((e) => e.id));
      expect(viaApi.map((e) => e.body)).toEqual(local.map((e) => e.body));
      const newest = await remote.query({ limit: 1 });
      expect(newest[0]!.seq).toBe(257);
      expect((await remote.get(newest[0]!.id))!.body).toBe((await p.store.get(newest[0]!.id))!.body);
      expect(await remote.get('evt_nope')).toBeNull();
      await expect(remote.append()).rejects.toThrow(/read-only/);
    } finally {
      await remote.close();
    }
  });

  it('verifyChain passes through the API, and names the event a tampered server row holds', async () => {
    await post(base, tokenA, { events: [], checkpoints: [await gwA.checkpoint()], keys: [gwA.publicKey] });
    const remote = new RemoteEventStore(base, reader);
    try {
      const keys = await trustedKeys(remote);
      const report = await verifyChain(remote, 'gw-a', keys);
      expect(report.problem).toBeNull();
      expect(report).toMatchObject({ events: 257, firstSeq: 1, lastSeq: 257, checkpoints: 2, unsignedTail: 0 });
      expect(report).toEqual(await verifyChain(p.store, 'gw-a', keys));

      // Someone with write access to the server's database edits a decision.
      const victim = (await p.store.query({ order: 'asc', limit: 1, afterPos: 99 }))[0]!;
      const db = (p.store as SqliteEventStore).raw;
      db.exec('DROP TRIGGER events_no_update');
      db.prepare('UPDATE events SET body = ? WHERE id = ?').run(victim.body.replace(/"verdict":"[a-z]+"/, '"verdict":"allow"').replace('"status":200', '"status":201'), victim.id);
      const tampered = await verifyChain(remote, 'gw-a', keys);
      expect(tampered.problem).toMatchObject({ kind: 'altered', eventId: victim.id, seq: victim.seq });
      expect(tampered.problem!.message).toContain(victim.id);
    } finally {
      await remote.close();
    }
  });

  it('revoked tokens are refused at once; no token appears in the log', async () => {
    expect(await p.tokens.revoke(tokenIds.b)).toBe(true);
    expect(await p.tokens.revoke('tok_nope')).toBe(false);
    expect((await post(base, tokenB, { events: [] })).status).toBe(401);
    expect((await p.tokens.list()).find((t) => t.id === tokenIds.b)!.revoked_at).not.toBeNull();
    const log = p.lines.join('\n');
    expect(log).toContain('"path":"/v1/events"');
    for (const t of [tokenA, tokenB, reader]) expect(log).not.toContain(t);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('shipping through an outage', () => {
  it('spools in the local store while the control plane is down and delivers everything in order once it is up', async () => {
    const gw = new FakeGateway('gw-ship');
    const serverDir = tempDir('ship-server');
    const port = await freePort();
    const { logger, lines } = captureLogger('debug');
    // The token exists before the control plane runs (kt server token create against its data dir).
    const preTokens = new SqliteTokenStore(eventsDbFile(serverDir));
    const { token } = await preTokens.create({ gateway: 'gw-ship' });
    await preTokens.close();

    const t0 = performance.now();
    await gw.append(150);
    await gw.checkpoint();
    await gw.append(150, 150);
    await gw.checkpoint();
    const opts = { store: gw.store, chain: 'gw-ship', apiUrl: `http://127.0.0.1:${port}/`, token, logger, publicKey: gw.publicKey, minBackoffMs: 50, maxBackoffMs: 400, pollMs: 250 };
    const shipper = new EventShipper(opts);
    shipper.start();

    // The outage: the gateway keeps committing; nothing is listening on the port.
    for (let i = 0; i < 5; i++) {
      await gw.append(40, 300 + i * 40);
      shipper.notify();
      await new Promise((r) => setTimeout(r, 200));
    }
    await gw.checkpoint();
    await gw.append(7, 600);
    shipper.notify();
    const during = shipper.stats();
    expect(during.shippedSeq).toBe(0);
    expect(['backoff', 'shipping']).toContain(during.state);
    expect(during.lastError).toMatch(/ECONNREFUSED/);
    const total = (await gw.store.head('gw-ship'))!.seq;
    expect(total).toBe(507);

    const up = performance.now();
    const p = await sqlitePlane({ port, dir: serverDir });
    try {
      const arrived = await until(async () => (await p.store.head('gw-ship'))?.seq === total, 10_000);
      const caughtUpMs = performance.now() - up;
      expect(arrived).toBe(true);
      // Seq 1..N contiguous on the server, each event the gateway's own.
      const seqs: number[] = [];
      for await (const e of p.store.scan('gw-ship')) seqs.push(e.seq);
      expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      // Checkpoints signed after their events still arrive (their own cursor).
      await until(async () => (await p.store.checkpoints('gw-ship')).length === 3, 3_000);
      expect((await p.store.checkpoints('gw-ship')).map((c) => c.seq)).toEqual([150, 300, 500]);

      const { token: readerToken } = await p.tokens.create({ gateway: 'auditor', role: 'reader' });
      const remote = new RemoteEventStore(p.plane.url, readerToken);
      const report = await verifyChain(remote, 'gw-ship', await trustedKeys(remote));
      await remote.close();
      expect(report.problem).toBeNull();
      expect(report.events).toBe(total);
      // The server's positions follow chain order too: nothing arrived out of order.
      const byPos = await p.store.query({ gateway: 'gw-ship', order: 'asc', limit: 1000 });
      expect(byPos.map((e) => e.seq)).toEqual(seqs);

      await shipper.stop();
      const firstRun = shipper.stats();
      expect(firstRun).toMatchObject({ shippedSeq: total, state: 'stopped', sent: total, duplicates: 0 });
      expect(await gw.store.getMeta('shipped:gw-ship')).toBe(String(total));

      // A restart resumes from the durable cursor: only the new events go out, nothing twice.
      await gw.append(20, 700);
      const restarted = new EventShipper(opts);
      const r0 = performance.now();
      restarted.start();
      expect(await until(async () => restarted.stats().shippedSeq === total + 20, 5_000)).toBe(true);
      const resumeMs = performance.now() - r0;
      // stop() ships what was committed just before it.
      await gw.append(5, 800);
      restarted.notify();
      await restarted.stop();
      expect(restarted.stats()).toMatchObject({ shippedSeq: total + 25, sent: 25, duplicates: 0 });
      expect((await p.store.head('gw-ship'))!.seq).toBe(total + 25);

      const log = lines.join('\n');
      expect(log).toContain('shipping events failed; retrying');
      expect(log).toContain('control plane reachable again');
      expect(log).not.toContain(token);
      const outageMs = up - t0;
      process.stdout.write(
        `[control-plane] outage ${outageMs.toFixed(0)} ms with ${total} events spooled; caught up ${caughtUpMs.toFixed(0)} ms after the control plane started; ` +
          `restart shipped 20 new events in ${resumeMs.toFixed(0)} ms\n`,
      );
    } finally {
      await shipper.stop();
      await p.close();
      await gw.close();
    }
  });

  it('ships signed chain records: a chain pruned before shipping verifies on the control plane from its prune record', async () => {
    const p = await sqlitePlane();
    const gw = new FakeGateway('gw-pruned');
    try {
      const DAY = 86_400_000;
      const old = await gw.store.append('gw-pruned', Array.from({ length: 4 }, (_, i) => gw.event(i, {}, Date.now() - 400 * DAY + i)));
      await gw.checkpoint();
      await gw.append(3, 4);
      await gw.checkpoint();
      await gw.store.registerKey(gw.publicKey);
      const { removed, record } = await gw.store.prune('gw-pruned', { days: 365 }, (statement) => signRecord(gw.key, statement));
      expect(removed).toBe(4);
      expect(record).toMatchObject({ kind: 'prune', seq: 4, hash: old[3]!.hash });
      // An adopt record about a later event waits until that event has shipped.
      const head = (await gw.store.head('gw-pruned'))!;
      await gw.store.addRecord(signRecord(gw.key, { chain: 'gw-pruned', kind: 'adopt', seq: head.seq, hash: head.hash, ts: new Date().toISOString(), detail: { from_seq: 6 } }));

      const { token } = await p.tokens.create({ gateway: 'gw-pruned' });
      const { logger } = captureLogger('info');
      const shipper = new EventShipper({ store: gw.store, chain: 'gw-pruned', apiUrl: p.plane.url, token, logger, publicKey: gw.publicKey, pollMs: 50 });
      shipper.start();
      expect(await until(async () => (await p.store.records('gw-pruned')).length === 2, 5_000)).toBe(true);
      await shipper.stop();
      expect(await gw.store.getMeta('shipped-records:gw-pruned')).toBe('2');

      const { token: readerToken } = await p.tokens.create({ gateway: 'auditor-pruned', role: 'reader' });
      const remote = new RemoteEventStore(p.plane.url, readerToken);
      try {
        expect(await remote.records('gw-pruned')).toEqual(await gw.store.records('gw-pruned'));
        const report = await verifyChain(remote, 'gw-pruned', new Map([[gw.key.keyId, gw.key.publicKeyPem]]));
        expect(report).toMatchObject({ problem: null, events: 3, firstSeq: 5, pruned: { throughSeq: 4, retentionDays: 365 }, adopted: [{ fromSeq: 6, toSeq: 7 }] });
      } finally {
        await remote.close();
      }

      // A record the gateway's key did not sign, or about an event the control plane holds with another hash, is refused.
      const stranger = loadOrCreateSigningKey(tempDir('stranger'));
      const forged = signRecord(stranger, { chain: 'gw-pruned', kind: 'prune', seq: 5, hash: head.hash, ts: new Date().toISOString(), detail: {} });
      expect((await post(p.plane.url, token, { events: [], records: [forged] })).json.error.message).toMatch(/not registered/);
      const wrongHash = signRecord(gw.key, { chain: 'gw-pruned', kind: 'break', seq: 6, hash: 'e'.repeat(64), ts: new Date().toISOString(), detail: {} });
      expect((await post(p.plane.url, token, { events: [], records: [wrongHash] })).status).toBe(409);
    } finally {
      await p.close();
      await gw.close();
    }
  });

  it('stops shipping on a refused token (401) or a conflicting chain (409), without logging the token', async () => {
    const p = await sqlitePlane();
    const gw = new FakeGateway('gw-refused');
    try {
      await gw.append(5);
      const { logger, lines } = captureLogger('debug');
      const badToken = `ktgw_${randomBytes(24).toString('base64url')}`;
      const refused = new EventShipper({ store: gw.store, chain: 'gw-refused', apiUrl: p.plane.url, token: badToken, logger, publicKey: gw.publicKey, minBackoffMs: 20 });
      refused.start();
      expect(await until(async () => refused.stats().state === 'failed', 3_000)).toBe(true);
      expect(refused.stats().lastError).toMatch(/refused this gateway's token.*401/);
      await refused.stop();
      expect(lines.join('\n')).not.toContain(badToken);

      // The control plane already holds a different gw-refused chain.
      const other = new FakeGateway('gw-refused');
      await other.append(2, 50);
      const { token } = await p.tokens.create({ gateway: 'gw-refused' });
      expect((await post(p.plane.url, token, { events: await other.store.query({ order: 'asc' }) })).status).toBe(200);
      const conflicted = new EventShipper({ store: gw.store, chain: 'gw-refused', apiUrl: `${p.plane.url}/v1`, token, logger, publicKey: gw.publicKey, minBackoffMs: 20 });
      conflicted.start();
      expect(await until(async () => conflicted.stats().state === 'failed', 3_000)).toBe(true);
      expect(conflicted.stats().lastError).toMatch(/409 chain_conflict/);
      expect(conflicted.stats().shippedSeq).toBe(0);
      await conflicted.stop();
      await other.close();
      expect(lines.join('\n')).not.toContain(token);
    } finally {
      await p.close();
      await gw.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

const pgReachable = await postgresAvailable();

describe.skipIf(!pgReachable)('control plane (PostgreSQL)', () => {
  const schema = `kt_cp_${process.pid}_${randomBytes(3).toString('hex')}`;

  afterAll(async () => {
    const { PostgresEventStore } = await import('../../src/audit/postgres-store.js');
    await PostgresEventStore.dropSchema(PG_URL, schema);
  });

  it('round trip: tokens, shipping, reads, stream and remote verification on PostgreSQL', async () => {
    // As `kt server --database-url URL?schema=NAME` opens them: events and tokens in one schema.
    const databaseUrl = `${PG_URL}?schema=${schema}`;
    const store = await openEventStore({ dataDir: tempDir('pg'), databaseUrl });
    const tokens = await openTokenStore({ dataDir: tempDir('pg'), databaseUrl });
    expect([store.kind, tokens.kind]).toEqual(['postgres', 'postgres']);
    const { logger } = captureLogger('info');
    const plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger });
    const gw = new FakeGateway('gw-pg');
    try {
      const { token } = await tokens.create({ gateway: 'gw-pg' });
      const { token: readerToken, record } = await tokens.create({ gateway: 'console', role: 'reader' });
      expect(await tokens.verify(readerToken)).toEqual(record);
      await gw.append(120);
      await gw.checkpoint();
      const shipper = new EventShipper({ store: gw.store, chain: 'gw-pg', apiUrl: plane.url, token, logger, publicKey: gw.publicKey, batchSize: 50, pollMs: 100 });
      shipper.start();
      expect(await until(async () => (await store.head('gw-pg'))?.seq === 120, 10_000)).toBe(true);

      const live = readStream(`${plane.url}/v1/events/stream?after=0&gateway=gw-pg`, readerToken, 130);
      await gw.append(10, 120);
      shipper.notify();
      const streamed = await live;
      expect(streamed.map((s) => s.seq)).toEqual(Array.from({ length: 130 }, (_, i) => i + 1));
      await shipper.stop();
      expect(shipper.stats()).toMatchObject({ shippedSeq: 130, duplicates: 0 });

      const page = await api(plane.url, 'GET', '/v1/events?limit=50&verdict=allow', { token: readerToken });
      expect(page.status).toBe(200);
      expect(page.json.data.every((e: { event: DecisionEvent }) => e.event.verdict === 'allow')).toBe(true);
      const remote = new RemoteEventStore(plane.url, readerToken);
      const report = await verifyChain(remote, 'gw-pg', await trustedKeys(remote));
      await remote.close();
      expect(report.problem).toBeNull();
      expect(report.events).toBe(130);

      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      const rows = await client.query(`SELECT token_sha256 FROM "${schema}".api_tokens`).finally(() => client.end());
      expect(rows.rowCount).toBe(2);
      expect(JSON.stringify(rows.rows)).not.toContain(token);

      expect(await tokens.revoke(record.id)).toBe(true);
      expect((await api(plane.url, 'GET', '/v1/events', { token: readerToken })).status).toBe(401);
    } finally {
      await plane.close();
      await tokens.close();
      await store.close();
      await gw.close();
    }
  });
});
