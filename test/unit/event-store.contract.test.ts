import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { GENESIS_HASH, linkEvents, linkHash, type ChainedEvent } from '../../src/audit/chain.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { loadOrCreateSigningKey, signCheckpoint, signRecord } from '../../src/audit/keys.js';
import { PostgresEventStore } from '../../src/audit/postgres-store.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { ChainConflictError, CHECKPOINTED_META, indexedColumns, PruneRefusedError, type EventFilter, type EventStore } from '../../src/audit/store.js';
import { verifyChain } from '../../src/audit/verify.js';
import type { Verdict } from '../../src/policy/types.js';
import { makeEvent, makePolicyResult, type EventOverrides } from '../helpers/events.js';
import { PG_URL, postgresAvailable } from '../helpers/services.js';

const pgUp = await postgresAvailable();
const PG_SCHEMA = `kt_test_${randomBytes(6).toString('hex')}`;
const DAY = 86_400_000;

type Sql = [sql: string, params?: unknown[]];

/**
 * One store kind under test. Statements use `?` placeholders and unqualified table names, so the same
 * attack reads the same on both databases.
 */
interface Backend {
  name: 'sqlite' | 'postgres';
  open(): Promise<EventStore>;
  /** Statements as an ordinary client would send them, with the append-only triggers in force. */
  exec(store: EventStore, ...statements: Sql[]): Promise<void>;
  /** Statements as an attacker with write access sends them, after switching the triggers off. */
  tamper(store: EventStore, ...statements: Sql[]): Promise<void>;
  cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'kt-store-'));
  const file = join(dir, 'events.db');
  const run = (store: EventStore, statements: Sql[]) => {
    const db = (store as SqliteEventStore).raw;
    db.transaction(() => {
      for (const [sql, params = []] of statements) db.prepare(sql).run(...params);
    })();
  };
  return {
    name: 'sqlite',
    open: async () => new SqliteEventStore(file),
    exec: async (store, ...statements) => run(store, statements),
    tamper: async (store, ...statements) => {
      const db = (store as SqliteEventStore).raw;
      for (const t of ['events_no_update', 'events_no_delete', 'checkpoints_no_update', 'checkpoints_no_delete', 'chain_records_no_update', 'chain_records_no_delete']) {
        db.exec(`DROP TRIGGER IF EXISTS ${t}`);
      }
      try {
        run(store, statements);
      } finally {
        // Opening the file again creates the missing triggers, so later tests see a guarded store.
        await new SqliteEventStore(file).close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresBackend(schema = PG_SCHEMA): Backend {
  const run = async (store: EventStore, statements: Sql[], disableTriggers: boolean) => {
    const client = await (store as PostgresEventStore).pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL search_path TO "${schema}"`);
      if (disableTriggers) await client.query('ALTER TABLE events DISABLE TRIGGER ALL; ALTER TABLE checkpoints DISABLE TRIGGER ALL; ALTER TABLE chain_records DISABLE TRIGGER ALL');
      for (const [sql, params = []] of statements) {
        let n = 0;
        await client.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        );
      }
      // Inside the transaction: whatever happens, the triggers are back when it ends.
      if (disableTriggers) await client.query('ALTER TABLE events ENABLE TRIGGER ALL; ALTER TABLE checkpoints ENABLE TRIGGER ALL; ALTER TABLE chain_records ENABLE TRIGGER ALL');
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
  };
  return {
    name: 'postgres',
    open: () => PostgresEventStore.connect(PG_URL, { schema }),
    exec: (store, ...statements) => run(store, statements, false),
    tamper: (store, ...statements) => run(store, statements, true),
    cleanup: () => PostgresEventStore.dropSchema(PG_URL, schema),
  };
}

const key = loadOrCreateSigningKey(mkdtempSync(join(tmpdir(), 'kt-key-')));
let chainCounter = 0;

/** Each test writes its own chain (and gateway id), so tests sharing a store do not see each other's events. */
function newChain(): string {
  return `gw-${++chainCounter}-${randomBytes(3).toString('hex')}`;
}

function eventsFor(chain: string, n: number, vary: (i: number) => EventOverrides = () => ({}), atMs: (i: number) => number = () => Date.now()): DecisionEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent({ gateway_id: chain, ...vary(i) }, atMs(i)));
}

async function sign(store: EventStore, chain: string, at: { seq: number; hash: string }): Promise<void> {
  await store.registerKey({ key_id: key.keyId, public_key: key.publicKeyPem, created_at: new Date().toISOString() });
  await store.addCheckpoint(signCheckpoint(key, { chain, seq: at.seq, hash: at.hash, ts: new Date().toISOString() }));
}

/** Retention pruning as the recorder runs it: `days` of retention measured from `nowMs`, signed by the test key. */
function prune(store: EventStore, chain: string, days: number, nowMs = Date.now()) {
  return store.prune(chain, { days, nowMs }, (statement) => signRecord(key, statement));
}

async function trusted(store: EventStore): Promise<Map<string, string>> {
  return new Map((await store.keys()).map((k) => [k.key_id, k.public_key]));
}

async function verify(store: EventStore, chain: string) {
  return verifyChain(store, chain, await trusted(store));
}

async function seqsOf(store: EventStore, chain: string): Promise<number[]> {
  const seqs: number[] = [];
  for await (const e of store.scan(chain)) seqs.push(e.seq);
  return seqs;
}

const VERDICTS: Verdict[] = ['allow', 'block', 'redact', 'flag', 'allow', 'block', 'allow', 'escalate', 'allow', 'redact', 'block', 'allow'];

/** A chain of 12 varied events with signed checkpoints at the given seqs, for the tampering tests. */
async function signedChain(store: EventStore, checkpointsAt: number[]): Promise<{ chain: string; linked: ChainedEvent[]; events: DecisionEvent[] }> {
  const chain = newChain();
  const events = eventsFor(chain, 12, (i) => ({ verdict: VERDICTS[i]!, policies: [makePolicyResult('pii-detector', VERDICTS[i]!)] }));
  const linked = await store.append(chain, events);
  for (const seq of checkpointsAt) await sign(store, chain, linked[seq - 1]!);
  expect((await verify(store, chain)).problem).toBeNull();
  return { chain, linked, events };
}

describe.each([
  { name: 'sqlite', make: sqliteBackend },
  ...(pgUp ? [{ name: 'postgres', make: () => postgresBackend() }] : []),
])('$name event store', ({ make }) => {
  const backend = make();
  let store: EventStore;

  beforeAll(async () => {
    store = await backend.open();
  });

  afterAll(async () => {
    await store?.close();
    await backend.cleanup();
  });

  it('appends batches as one contiguous chain that verifies against signed checkpoints', async () => {
    const chain = newChain();
    const batches = [eventsFor(chain, 4), eventsFor(chain, 1), eventsFor(chain, 5)];
    const linked: ChainedEvent[] = [];
    for (const batch of batches) linked.push(...(await store.append(chain, batch)));
    expect(await store.append(chain, [])).toEqual([]);

    expect(linked.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(linked.map((e) => e.id)).toEqual(batches.flat().map((e) => e.id));
    linked.forEach((e, i) => {
      expect(e.prev_hash).toBe(i === 0 ? GENESIS_HASH : linked[i - 1]!.hash);
      expect(e.hash).toBe(linkHash(chain, e.seq, e.prev_hash, e.body));
      expect(e.body).toBe(canonicalJson(batches.flat()[i]));
    });
    expect(await store.head(chain)).toEqual({ seq: 10, hash: linked[9]!.hash });

    await sign(store, chain, linked[4]!);
    await sign(store, chain, linked[9]!);
    const report = await verify(store, chain);
    expect(report).toMatchObject({ chain, events: 10, firstSeq: 1, lastSeq: 10, checkpoints: 2, unsignedTail: 0, signedSeq: 10, signedBy: [key.keyId], pruned: null, adopted: [], problem: null });

    await store.append(chain, eventsFor(chain, 2));
    expect((await verify(store, chain)).unsignedTail).toBe(2);
    // A checkpoint is only as good as the key that signed it.
    expect((await verifyChain(store, chain, new Map())).problem).toMatchObject({ kind: 'bad-checkpoint', seq: 5 });
  });

  it('scans a chain in pages, in seq order, with its filter columns', async () => {
    const chain = newChain();
    const events = eventsFor(chain, 7, (i) => ({ verdict: VERDICTS[i]! }));
    await store.append(chain, events);

    const all = [];
    for await (const e of store.scan(chain, 1, 3)) all.push(e);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    all.forEach((e, i) => {
      expect(e.event).toEqual(events[i]);
      expect(e.columns).toEqual(indexedColumns(events[i]!));
      expect(typeof e.pos).toBe('number');
      expect(typeof e.seq).toBe('number');
      expect(typeof e.columns!.ts_ms).toBe('number');
    });
    expect(all.map((e) => e.pos)).toEqual([...all.map((e) => e.pos)].sort((a, b) => a - b));

    const tail = [];
    for await (const e of store.scan(chain, 5, 2)) tail.push(e.seq);
    expect(tail).toEqual([5, 6, 7]);
    expect(await store.firstSeq(chain)).toBe(1);
    expect(await store.firstSeq('no-such-chain')).toBeNull();
    expect(await store.head('no-such-chain')).toBeNull();
  });

  it('queries with every filter, in either order, with a limit', async () => {
    const chain = newChain();
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000;
    const events = eventsFor(
      chain,
      12,
      (i) => {
        const model = i < 6 ? 'gpt-4o' : 'claude-sonnet';
        return {
          verdict: VERDICTS[i]!,
          identity: { developer: i % 2 ? 'bob' : 'alice', repository: i % 3 === 0 ? 'acme/web' : 'acme/api' },
          model_requested: model,
          target: { id: 'up', provider: 'openai', model },
          policies:
            i % 4 === 0
              ? [makePolicyResult('pii-detector'), makePolicyResult('pii-detector', 'redact', { phase: 'output' })]
              : i % 4 === 1
                ? [makePolicyResult('custom_rule', 'flag'), makePolicyResult('secrets')]
                : [],
        };
      },
      (i) => base + i * 1000,
    );
    await store.append(chain, events);

    const ids = async (filter: EventFilter) => (await store.query({ gateway: chain, ...filter })).map((e) => e.id);
    const expected = (pick: (e: DecisionEvent, i: number) => boolean, order: 'asc' | 'desc' = 'desc') => {
      const picked = events.filter(pick).map((e) => e.id);
      return order === 'desc' ? picked.reverse() : picked;
    };

    expect(await ids({})).toEqual(expected(() => true));
    expect(await ids({ order: 'asc' })).toEqual(expected(() => true, 'asc'));
    expect(await ids({ verdict: ['block', 'escalate'] })).toEqual(expected((e) => e.verdict === 'block' || e.verdict === 'escalate'));
    expect(await ids({ verdict: [] })).toEqual(expected(() => true));
    expect(await ids({ policy: 'pii-detector' })).toEqual(expected((_, i) => i % 4 === 0));
    expect(await ids({ policy: 'custom_rule' })).toEqual(expected((_, i) => i % 4 === 1));
    expect(await ids({ policy: 'secrets' })).toEqual(expected((_, i) => i % 4 === 1));
    // Exact kinds: no wildcard, no prefix match, case counts.
    expect(await ids({ policy: 'custom%' })).toEqual([]);
    expect(await ids({ policy: 'custom' })).toEqual([]);
    expect(await ids({ policy: 'PII-DETECTOR' })).toEqual([]);
    expect(await ids({ developer: 'bob' })).toEqual(expected((e) => e.identity.developer === 'bob'));
    expect(await ids({ repository: 'acme/web' })).toEqual(expected((e) => e.identity.repository === 'acme/web'));
    expect(await ids({ model: 'claude-sonnet' })).toEqual(expected((e) => e.target?.model === 'claude-sonnet'));
    expect(await ids({ team: 'platform', client: 'curl' })).toEqual(expected(() => true));
    expect(await ids({ team: 'nobody' })).toEqual([]);
    expect(await ids({ developer: 'alice', verdict: ['allow'] })).toEqual(expected((e) => e.identity.developer === 'alice' && e.verdict === 'allow'));
    expect(await ids({ sinceMs: base + 3000, untilMs: base + 6000 })).toEqual(expected((_, i) => i >= 3 && i < 6));
    expect(await ids({ sinceMs: base + 10_000 })).toEqual(expected((_, i) => i >= 10));
    expect(await ids({ untilMs: base + 1000, order: 'asc' })).toEqual([events[0]!.id]);
    expect(await ids({ order: 'asc', limit: 3 })).toEqual(expected(() => true, 'asc').slice(0, 3));
    expect(await ids({ limit: 2 })).toEqual(expected(() => true).slice(0, 2));
    expect(await ids({ limit: 0 })).toHaveLength(1);

    const asc = await store.query({ gateway: chain, order: 'asc' });
    expect(await ids({ afterPos: asc[2]!.pos, beforePos: asc[7]!.pos, order: 'asc' })).toEqual(asc.slice(3, 7).map((e) => e.id));
    expect(await ids({ afterPos: asc[9]!.pos, order: 'asc' })).toEqual(asc.slice(10).map((e) => e.id));
    // Paging back in time: each page starts before the oldest event of the last.
    const page1 = await store.query({ gateway: chain, limit: 5 });
    const page2 = await store.query({ gateway: chain, limit: 5, beforePos: page1[4]!.pos });
    expect([...page1, ...page2].map((e) => e.id)).toEqual(expected(() => true).slice(0, 10));

    const row = asc[4]!;
    expect(row).toMatchObject({ chain, seq: 5, id: events[4]!.id, event: events[4] });
    expect(typeof row.pos).toBe('number');
    expect(await store.get(row.id)).toEqual(row);
    expect(await store.get('evt_missing')).toBeNull();
  });

  it('ingests linked events idempotently and refuses events that would fork a chain', async () => {
    const chain = newChain();
    const linked = linkEvents(chain, null, eventsFor(chain, 6));

    expect(await store.ingest(linked.slice(0, 4))).toEqual({ inserted: 4, duplicates: 0 });
    expect(await store.ingest(linked)).toEqual({ inserted: 2, duplicates: 4 });
    expect(await store.ingest(linked)).toEqual({ inserted: 0, duplicates: 6 });
    expect(await store.ingest([])).toEqual({ inserted: 0, duplicates: 0 });

    const other = newChain();
    const [a, b] = linkEvents(other, null, eventsFor(other, 2));
    expect(await store.ingest([a!, a!, b!])).toEqual({ inserted: 2, duplicates: 1 });

    // The same id with another hash, or at another place.
    await expect(store.ingest([{ ...linked[2]!, hash: 'f'.repeat(64) }])).rejects.toThrow(ChainConflictError);
    await expect(store.ingest([{ ...linked[2]!, seq: 9 }])).rejects.toThrow(ChainConflictError);
    // Another event at a taken place.
    const [fork] = linkEvents(chain, { seq: 2, hash: linked[1]!.hash }, eventsFor(chain, 1));
    await expect(store.ingest([fork!])).rejects.toThrow(/already has event/);
    // A refused batch is refused whole.
    const [next] = linkEvents(chain, { seq: 6, hash: linked[5]!.hash }, eventsFor(chain, 1));
    await expect(store.ingest([next!, fork!])).rejects.toThrow(ChainConflictError);
    expect(await store.get(next!.id)).toBeNull();
    expect(await store.get(fork!.id)).toBeNull();

    expect(await store.head(chain)).toEqual({ seq: 6, hash: linked[5]!.hash });
    expect((await verify(store, chain)).problem).toBeNull();
    const chains = await store.chains();
    expect(chains).toEqual(expect.arrayContaining([chain, other]));
    expect(chains).toEqual([...chains].sort());
    // Stored columns are derived from the body, as for appended events.
    for await (const e of store.scan(chain)) expect(e.columns).toEqual(indexedColumns(e.event));
  });

  it('refuses updates and deletes of events and checkpoints', async () => {
    const chain = newChain();
    const linked = await store.append(chain, eventsFor(chain, 3));
    await sign(store, chain, linked[2]!);

    await expect(backend.exec(store, ['UPDATE events SET verdict = ? WHERE chain = ?', ['block', chain]])).rejects.toThrow(/append-only/);
    await expect(backend.exec(store, ['DELETE FROM events WHERE chain = ? AND seq = ?', [chain, 3]])).rejects.toThrow(/append-only/);
    await expect(backend.exec(store, ['UPDATE checkpoints SET seq = ? WHERE chain = ?', [2, chain]])).rejects.toThrow(/append-only/);
    await expect(backend.exec(store, ['DELETE FROM checkpoints WHERE chain = ?', [chain]])).rejects.toThrow(/append-only/);
    // Inserting stays possible, which is all appending needs.
    await backend.exec(store, ['INSERT INTO meta (key, value) VALUES (?, ?)', [`k-${chain}`, 'v']]);

    expect(await verify(store, chain)).toMatchObject({ events: 3, checkpoints: 1, problem: null });
  });

  it('prunes whole checkpoint segments past retention, records it signed, and still verifies', async () => {
    const chain = newChain();
    const old = Date.now() - 10 * DAY;
    const linked = await store.append(chain, eventsFor(chain, 12, undefined, (i) => old + i));
    await sign(store, chain, linked[4]!);
    await sign(store, chain, linked[9]!);
    linked.push(...(await store.append(chain, eventsFor(chain, 3))));
    await sign(store, chain, linked[14]!);

    // Events 11 and 12 are old too, but the segment they are in (11..15) is not.
    const now = Date.now();
    const { removed, record } = await prune(store, chain, 1, now);
    expect(removed).toBe(10);
    expect(record).toMatchObject({
      chain,
      kind: 'prune',
      seq: 10,
      hash: linked[9]!.hash,
      ts: new Date(now).toISOString(),
      detail: { first_seq: 1, removed: 10, newest_removed_ms: old + 9, before_ms: now - DAY, retention_days: 1 },
      key_id: key.keyId,
    });
    expect(await store.records(chain)).toEqual([record]);
    expect(await store.firstSeq(chain)).toBe(11);
    expect(await seqsOf(store, chain)).toEqual([11, 12, 13, 14, 15]);
    expect(await verify(store, chain)).toMatchObject({
      events: 5,
      firstSeq: 11,
      lastSeq: 15,
      checkpoints: 3,
      pruned: { throughSeq: 10, retentionDays: 1, newestRemoved: new Date(old + 9).toISOString() },
      problem: null,
    });
    expect((await prune(store, chain, 1)).removed).toBe(0);
    expect(await store.checkpoints(chain)).toHaveLength(3);

    // Pruning opens no door for other deletes, on this connection or any other, and its record stays.
    await expect(backend.exec(store, ['DELETE FROM events WHERE chain = ?', [chain]])).rejects.toThrow(/append-only/);
    await expect(backend.exec(store, ['DELETE FROM chain_records WHERE chain = ?', [chain]])).rejects.toThrow(/append-only/);
    await expect(backend.exec(store, ['UPDATE chain_records SET seq = ? WHERE chain = ?', [3, chain]])).rejects.toThrow(/append-only/);
    expect(await store.firstSeq(chain)).toBe(11);

    // A chain with no checkpoint has no segment to remove.
    const bare = newChain();
    await store.append(bare, eventsFor(bare, 3, undefined, () => old));
    expect((await prune(store, bare, 1, Date.now() + DAY)).removed).toBe(0);
  });

  it('prunes up to the head but keeps it, so the chain carries on from its seq', async () => {
    const chain = newChain();
    const old = Date.now() - 10 * DAY;
    const linked = await store.append(chain, eventsFor(chain, 6, undefined, () => old));
    await sign(store, chain, linked[2]!);
    await sign(store, chain, linked[5]!);

    expect((await prune(store, chain, 1, Date.now() + DAY)).removed).toBe(3);
    expect(await store.head(chain)).toEqual({ seq: 6, hash: linked[5]!.hash });

    const more = await store.append(chain, eventsFor(chain, 2));
    expect(more.map((e) => e.seq)).toEqual([7, 8]);
    expect(more[0]!.prev_hash).toBe(linked[5]!.hash);
    await sign(store, chain, more[1]!);
    expect((await prune(store, chain, 1, Date.now() + 2 * DAY)).removed).toBe(3);
    expect(await seqsOf(store, chain)).toEqual([7, 8]);
    // Two prune records cover seq 1–6 without a gap.
    expect((await store.records(chain)).map((r) => [r.detail.first_seq, r.seq])).toEqual([
      [1, 3],
      [4, 6],
    ]);
    expect(await verify(store, chain)).toMatchObject({ events: 2, firstSeq: 7, pruned: { throughSeq: 6 }, problem: null });
  });

  it('prunes a backlog in bounded steps, each with its own record', async () => {
    const chain = newChain();
    const old = Date.now() - 10 * DAY;
    const linked = await store.append(chain, eventsFor(chain, 2800, undefined, (i) => old + i));
    for (const seq of [700, 1400, 2100, 2800]) await sign(store, chain, linked[seq - 1]!);
    await store.append(chain, eventsFor(chain, 1));
    expect((await prune(store, chain, 1)).removed).toBe(1400);
    expect((await prune(store, chain, 1)).removed).toBe(1400);
    expect((await prune(store, chain, 1)).removed).toBe(0);
    expect((await store.records(chain)).map((r) => [r.detail.first_seq, r.seq])).toEqual([
      [1, 1400],
      [1401, 2800],
    ]);
    expect(await verify(store, chain)).toMatchObject({ events: 1, firstSeq: 2801, problem: null });
  });

  it('refuses to prune events younger than retention, whatever their ts_ms column says, and keeps a segment that does not verify', async () => {
    const chain = newChain();
    const linked = await store.append(chain, eventsFor(chain, 6));
    await sign(store, chain, linked[2]!);
    await sign(store, chain, linked[5]!);
    // Young events made to look old by their column: the body (which the hash covers) still says when they happened.
    await backend.tamper(store, ['UPDATE events SET ts_ms = ? WHERE chain = ?', [Date.now() - 400 * DAY, chain]]);
    await expect(prune(store, chain, 365)).rejects.toThrow(PruneRefusedError);
    await expect(prune(store, chain, 365)).rejects.toThrow(/do not verify \(evt_\w+: stored ts_ms column was edited\); they are kept as evidence/);
    expect(await seqsOf(store, chain)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await store.records(chain)).toEqual([]);

    // Bodies forged to look old, hashes recomputed: the checkpoint at the cut no longer matches.
    const forged = newChain();
    const young = await store.append(forged, eventsFor(forged, 4));
    await sign(store, forged, young[1]!);
    await sign(store, forged, young[3]!);
    const longAgo = Date.now() - 400 * DAY;
    const aged = linkEvents(forged, null, young.slice(0, 2).map((e) => ({ ...(JSON.parse(e.body) as DecisionEvent), ts: new Date(longAgo).toISOString() })));
    await backend.tamper(store, ...aged.map((e): Sql => ['UPDATE events SET body = ?, prev_hash = ?, hash = ?, ts_ms = ? WHERE id = ?', [e.body, e.prev_hash, e.hash, longAgo, e.id]]));
    await expect(prune(store, forged, 365)).rejects.toThrow(/does not match the checkpoint at seq 2/);
    expect(await seqsOf(store, forged)).toEqual([1, 2, 3, 4]);

    // The retention period is whole days from 1 on: no way to ask for "everything".
    for (const days of [0, -1, 0.5, Number.NaN, 36_501]) await expect(prune(store, chain, days)).rejects.toThrow(/retention must be a whole number of days/);
  });

  it('keeps a signed high-water mark, so a chain emptied of events and checkpoints still shows and fails', async () => {
    const chain = newChain();
    const linked = await store.append(chain, eventsFor(chain, 5));
    await sign(store, chain, linked[2]!);
    await sign(store, chain, linked[4]!);
    await sign(store, chain, linked[1]!); // an older checkpoint added later does not lower the mark
    expect(await store.getMeta(`${CHECKPOINTED_META}${chain}`)).toBe('5');

    await backend.tamper(store, ['DELETE FROM events WHERE chain = ? AND seq >= ?', [chain, 4]], ['DELETE FROM checkpoints WHERE chain = ? AND seq = ?', [chain, 5]]);
    const highWater = Number(await store.getMeta(`${CHECKPOINTED_META}${chain}`));
    expect(await verifyChain(store, chain, await trusted(store), { highWater })).toMatchObject({
      problem: { kind: 'truncated', message: expect.stringMatching(/high-water mark says the chain was signed through seq 5, but its newest checkpoint is at seq 3/) },
    });

    await backend.tamper(store, ['DELETE FROM events WHERE chain = ?', [chain]], ['DELETE FROM checkpoints WHERE chain = ?', [chain]]);
    expect(await store.chains()).toContain(chain);
    expect((await verifyChain(store, chain, await trusted(store), { highWater })).problem).toMatchObject({ kind: 'truncated' });
  });

  describe('verification finds tampering', () => {
    it('an edited body', async () => {
      const { chain, events } = await signedChain(store, [6, 12]);
      const forged = canonicalJson({ ...events[3]!, verdict: 'allow', policies: [] });
      await backend.tamper(store, ['UPDATE events SET body = ? WHERE id = ?', [forged, events[3]!.id]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'altered', eventId: events[3]!.id, seq: 4, message: expect.stringMatching(/does not match its hash/) });
    });

    it('a body no longer in canonical form', async () => {
      const { chain, events, linked } = await signedChain(store, [12]);
      await backend.tamper(store, ['UPDATE events SET body = ? WHERE id = ?', [JSON.stringify(events[8], null, 1), linked[8]!.id]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'altered', eventId: events[8]!.id, seq: 9, message: expect.stringMatching(/body was edited/) });
    });

    it('an event removed from the middle', async () => {
      const { chain, events } = await signedChain(store, [6, 12]);
      await backend.tamper(store, ['DELETE FROM events WHERE chain = ? AND seq = ?', [chain, 5]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'removed', eventId: events[5]!.id, seq: 6 });
    });

    it('two events swapped', async () => {
      const { chain, events } = await signedChain(store, [6, 12]);
      // Through a free seq, since (chain, seq) stays unique at every step.
      await backend.tamper(
        store,
        ['UPDATE events SET seq = ? WHERE chain = ? AND seq = ?', [-1, chain, 7]],
        ['UPDATE events SET seq = ? WHERE chain = ? AND seq = ?', [7, chain, 8]],
        ['UPDATE events SET seq = ? WHERE chain = ? AND seq = ?', [8, chain, -1]],
      );
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'reordered', eventId: events[7]!.id, seq: 7 });
    });

    it('events removed from the end under a checkpoint', async () => {
      const { chain } = await signedChain(store, [6, 12]);
      await backend.tamper(store, ['DELETE FROM events WHERE chain = ? AND seq >= ?', [chain, 10]]);
      const report = await verify(store, chain);
      expect(report.problem).toMatchObject({ kind: 'truncated', eventId: null, seq: 10 });
      expect(report.lastSeq).toBe(9);
    });

    it('an edited filter column', async () => {
      const { chain, events } = await signedChain(store, [12]);
      expect(events[2]!.verdict).toBe('redact');
      await backend.tamper(store, ['UPDATE events SET verdict = ? WHERE id = ?', ['allow', events[2]!.id]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'altered', eventId: events[2]!.id, seq: 3, message: expect.stringMatching(/verdict column/) });
    });

    it('a chain rewritten from one event on, hashes and all', async () => {
      const { chain, events, linked } = await signedChain(store, [6, 10]);
      const rewritten = linkEvents(
        chain,
        { seq: 7, hash: linked[6]!.hash },
        events.slice(7).map((e) => ({ ...e, verdict: 'allow' as const, policies: [] })),
      );
      await backend.tamper(
        store,
        ...rewritten.map((e): Sql => {
          // A careful attacker keeps the filter columns in step with the forged bodies.
          const cols = indexedColumns(JSON.parse(e.body) as DecisionEvent);
          return ['UPDATE events SET body = ?, prev_hash = ?, hash = ?, verdict = ?, policies = ? WHERE id = ?', [e.body, e.prev_hash, e.hash, cols.verdict, cols.policies, e.id]];
        }),
      );
      // Every link checks out; only the signature over seq 10 tells.
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'altered', eventId: events[9]!.id, seq: 10, message: expect.stringMatching(/signed checkpoint/) });
    });

    it('events removed from the start with no checkpoint to anchor the rest', async () => {
      const { chain, events } = await signedChain(store, [12]);
      await backend.tamper(store, ['DELETE FROM events WHERE chain = ? AND seq <= ?', [chain, 3]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'removed', eventId: events[3]!.id, seq: 4 });
    });

    it('young events removed from the start up to a checkpoint, as pruning would cut: no prune record explains it', async () => {
      const { chain, events } = await signedChain(store, [4, 12]);
      await backend.tamper(store, ['DELETE FROM events WHERE chain = ? AND seq <= ?', [chain, 4]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'removed', eventId: events[4]!.id, seq: 5, message: expect.stringMatching(/no signed prune record explains/) });
    });

    it('a prune record forged with a key of the attacker\'s own, or replayed for a later cut', async () => {
      const old = Date.now() - 10 * DAY;
      const chain = newChain();
      const linked = await store.append(chain, eventsFor(chain, 9, undefined, (i) => (i < 3 ? old : Date.now())));
      for (const seq of [3, 6, 9]) await sign(store, chain, linked[seq - 1]!);
      await prune(store, chain, 1);
      expect((await verify(store, chain)).problem).toBeNull();
      // The young segment 4..6 removed by hand, with the old record still there: seqs 4–6 are not covered.
      await backend.tamper(store, ['DELETE FROM events WHERE chain = ? AND seq <= ?', [chain, 6]]);
      expect((await verify(store, chain)).problem).toMatchObject({ kind: 'removed', seq: 7 });
      // A record for the new cut signed by another key is refused with the store's keys as well as with --public-key.
      const mallory = loadOrCreateSigningKey(mkdtempSync(join(tmpdir(), 'kt-mallory-')));
      await store.registerKey({ key_id: mallory.keyId, public_key: mallory.publicKeyPem, created_at: new Date().toISOString() });
      const detail = { first_seq: 4, removed: 3, newest_removed_ms: old, before_ms: Date.now() - DAY, retention_days: 1 };
      await store.addRecord(signRecord(mallory, { chain, kind: 'prune', seq: 6, hash: linked[5]!.hash, ts: new Date().toISOString(), detail }));
      expect((await verifyChain(store, chain, new Map([[key.keyId, key.publicKeyPem]]))).problem).toMatchObject({ kind: 'bad-record', seq: 6 });
    });

    it('(the attacks above left the store guarded again)', async () => {
      await expect(backend.exec(store, ['DELETE FROM events'])).rejects.toThrow(/append-only/);
      await expect(backend.exec(store, ['UPDATE checkpoints SET ts = ?', ['x']])).rejects.toThrow(/append-only/);
    });
  });

  describe('usage reports', () => {
    const D1 = Date.UTC(2026, 0, 10, 23, 30);
    const usage = (input: number | null, output: number | null) => ({ input_tokens: input, output_tokens: output, cached_input_tokens: null, cache_write_tokens: null, reasoning_tokens: null, estimated: false });
    const priced = (total: number) => ({ currency: 'USD' as const, input: null, output: null, total, priced: true });
    const openai = { id: 'oa', provider: 'openai', model: 'gpt-4o' };
    let chain: string;

    beforeAll(async () => {
      chain = newChain();
      await store.append(chain, [
        makeEvent({ gateway_id: chain, identity: { developer: 'alice', repository: 'acme/api', team: 'core' }, target: openai, usage: usage(100, 10), cost: priced(0.5) }, D1),
        makeEvent(
          {
            gateway_id: chain,
            identity: { developer: 'alice', repository: 'acme/web', team: 'core' },
            target: { id: 'an', provider: 'anthropic', model: 'claude-sonnet-4-5' },
            usage: usage(200, 20),
            cost: priced(1.25),
          },
          D1 + 40 * 60_000, // the next UTC day
        ),
        // Counted tokens, no price: an unknown model.
        makeEvent(
          { gateway_id: chain, identity: { developer: 'bob', repository: 'acme/api', team: 'core' }, target: openai, usage: usage(50, 5), cost: { currency: 'USD', input: null, output: null, total: null, priced: false } },
          D1 + DAY,
        ),
        // Blocked before any upstream call: no target, no tokens, no cost, and not "unpriced" either.
        makeEvent({ gateway_id: chain, verdict: 'block', identity: { developer: 'bob', repository: 'acme/api', team: 'core' }, model_requested: 'gpt-4o', target: null, usage: null, cost: null }, D1 + DAY + 1000),
        makeEvent({ gateway_id: chain, identity: { developer: 'carol', repository: null, team: null }, target: openai, usage: usage(1, null), cost: priced(0.25) }, D1 + 3 * DAY),
      ]);
    });

    const report = async (by: Parameters<EventStore['usageReport']>[1], filter: EventFilter = {}) =>
      (await store.usageReport({ gateway: chain, ...filter }, by)).map((r) => ({ ...r, cost_usd: r.cost_usd === null ? null : Math.round(r.cost_usd * 1e6) / 1e6 }));
    const row = (key: string | null, requests: number, input: number, output: number, cost: number | null, unpriced = 0) => ({
      key,
      requests,
      input_tokens: input,
      output_tokens: output,
      cost_usd: cost,
      unpriced_requests: unpriced,
    });

    it('groups by developer, repository, team, model and provider, most expensive first', async () => {
      expect(await report('developer')).toEqual([row('alice', 2, 300, 30, 1.75), row('carol', 1, 1, 0, 0.25), row('bob', 2, 50, 5, null, 1)]);
      expect(await report('repository')).toEqual([row('acme/web', 1, 200, 20, 1.25), row('acme/api', 3, 150, 15, 0.5, 1), row(null, 1, 1, 0, 0.25)]);
      expect(await report('team')).toEqual([row('core', 4, 350, 35, 1.75, 1), row(null, 1, 1, 0, 0.25)]);
      expect(await report('model')).toEqual([row('claude-sonnet-4-5', 1, 200, 20, 1.25), row('gpt-4o', 4, 151, 15, 0.75, 1)]);
      expect(await report('provider')).toEqual([row('anthropic', 1, 200, 20, 1.25), row('openai', 3, 151, 15, 0.75, 1), row(null, 1, 0, 0, null)]);
    });

    it('groups by UTC day, oldest first, and applies the event filters', async () => {
      expect(await report('day')).toEqual([row('2026-01-10', 1, 100, 10, 0.5), row('2026-01-11', 3, 250, 25, 1.25, 1), row('2026-01-13', 1, 1, 0, 0.25)]);
      expect(await report('developer', { sinceMs: D1 + DAY, untilMs: D1 + 2 * DAY })).toEqual([row('bob', 2, 50, 5, null, 1)]);
      expect(await report('provider', { verdict: ['block'] })).toEqual([row(null, 1, 0, 0, null)]);
      expect(await report('model', { developer: 'alice', repository: 'acme/web' })).toEqual([row('claude-sonnet-4-5', 1, 200, 20, 1.25)]);
      expect(await store.usageReport({ gateway: `${chain}-none` }, 'developer')).toEqual([]);
      // One line per gateway: each replica of a team gateway writes its own chain.
      expect(await report('gateway')).toEqual([row(chain, 5, 351, 35, 2, 1)]);
    });

    it('stores the report columns, which verification checks against the body', async () => {
      const rows = [];
      for await (const e of store.scan(chain)) rows.push(e);
      expect(rows.map((e) => [e.columns!.provider, e.columns!.cost_usd, e.columns!.input_tokens, e.columns!.output_tokens])).toEqual([
        ['openai', 0.5, 100, 10],
        ['anthropic', 1.25, 200, 20],
        ['openai', null, 50, 5],
        [null, null, null, null],
        ['openai', 0.25, 1, null],
      ]);
      const edited = newChain();
      const events = eventsFor(edited, 3, () => ({ usage: usage(10, 20), cost: priced(0.125) }));
      await store.append(edited, events);
      await backend.tamper(store, ['UPDATE events SET cost_usd = NULL WHERE id = ?', [events[1]!.id]]);
      expect((await verify(store, edited)).problem).toMatchObject({ kind: 'altered', eventId: events[1]!.id, message: expect.stringMatching(/cost_usd column/) });
    });

    it('upgrades a table made before the report columns, filling them from the bodies', async () => {
      const old = newChain();
      const events = eventsFor(old, 4, (i) => ({ usage: i % 2 ? usage(7, 3) : null, cost: i === 1 ? priced(0.02) : null }));
      await store.append(old, events);
      await backend.tamper(
        store,
        ...(backend.name === 'postgres'
          ? [['ALTER TABLE events DROP COLUMN provider, DROP COLUMN cost_usd, DROP COLUMN input_tokens, DROP COLUMN output_tokens'] as Sql]
          : ([['DROP INDEX IF EXISTS events_report'], ...['provider', 'cost_usd', 'input_tokens', 'output_tokens'].map((c) => [`ALTER TABLE events DROP COLUMN ${c}`])] as Sql[])),
      );
      // A process of this version opening the store adds the columns back and fills them.
      const reopened = await backend.open();
      try {
        for await (const e of reopened.scan(old)) expect(e.columns).toEqual(indexedColumns(e.event));
        expect((await verify(reopened, old)).problem).toBeNull();
        expect((await reopened.usageReport({ gateway: old }, 'provider')).map((r) => [r.key, r.requests, r.input_tokens, r.output_tokens, r.unpriced_requests])).toEqual([
          ['openai', 4, 14, 6, 1],
        ]);
        await expect(backend.exec(reopened, ['UPDATE events SET provider = ? WHERE chain = ?', ['x', old]])).rejects.toThrow(/append-only/);
      } finally {
        await reopened.close();
      }
      expect((await verify(store, old)).problem).toBeNull();
    });
  });

  it('keeps checkpoints, keys and metadata', async () => {
    const chain = newChain();
    const linked = await store.append(chain, eventsFor(chain, 10));
    const at = (seq: number, ts = new Date().toISOString()) => signCheckpoint(key, { chain, seq, hash: linked[seq - 1]!.hash, ts });
    const cp10 = at(10);
    const cp9 = at(9);
    await store.addCheckpoint(cp10);
    await store.addCheckpoint(cp9);
    await store.addCheckpoint(at(10, '2000-01-01T00:00:00.000Z')); // a second checkpoint at a place is ignored
    expect(await store.checkpoints(chain)).toEqual([cp9, cp10]);

    const cpOnly = newChain();
    await store.addCheckpoint(signCheckpoint(key, { chain: cpOnly, seq: 3, hash: 'a'.repeat(64), ts: new Date().toISOString() }));
    expect(await store.chains()).toEqual(expect.arrayContaining([chain, cpOnly]));

    const record = { key_id: `ed25519:${chain}`, public_key: 'pem', created_at: '2020-01-01T00:00:00.000Z' };
    await store.registerKey(record);
    await store.registerKey({ ...record, public_key: 'other' });
    const keys = await store.keys();
    expect(keys.filter((k) => k.key_id === record.key_id)).toEqual([record]);
    expect(keys.map((k) => k.created_at)).toEqual([...keys.map((k) => k.created_at)].sort());

    expect(await store.getMeta(`cursor-${chain}`)).toBeNull();
    await store.setMeta(`cursor-${chain}`, '1');
    await store.setMeta(`cursor-${chain}`, '2');
    expect(await store.getMeta(`cursor-${chain}`)).toBe('2');
  });
});

describe('sqlite event store read before its upgrade', () => {
  it('leaves the missing report columns out of verification and reads the provider from the bodies', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-store-old-'));
    try {
      const file = join(dir, 'events.db');
      const writer = new SqliteEventStore(file);
      const events = eventsFor('gw-old', 3);
      await writer.append('gw-old', events);
      await writer.close();
      // The table as it was before usage reports.
      const Database = (await import('better-sqlite3')).default;
      const raw = new Database(file);
      raw.exec('DROP INDEX IF EXISTS events_report'); // it came with the report columns
      for (const c of ['provider', 'cost_usd', 'input_tokens', 'output_tokens']) raw.exec(`ALTER TABLE events DROP COLUMN ${c}`);
      raw.close();

      const reader = new SqliteEventStore(file, { readonly: true });
      try {
        for await (const e of reader.scan('gw-old')) expect(Object.keys(e.columns!)).not.toContain('provider');
        expect((await verifyChain(reader, 'gw-old', new Map())).problem).toBeNull();
        expect(await reader.usageReport({}, 'provider')).toEqual([{ key: 'openai', requests: 3, input_tokens: 0, output_tokens: 0, cost_usd: null, unpriced_requests: 0 }]);
      } finally {
        await reader.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite captured texts made by an earlier version', () => {
  it('moves them into the appended table once, keeping every text, dedup and the append-only trigger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-store-blobs-'));
    try {
      const file = join(dir, 'events.db');
      const texts = new Map(Array.from({ length: 50 }, (_, i) => [`${String(i).padStart(2, '0')}${'c'.repeat(62)}`, `captured text ${i} ${'x'.repeat(i * 40)}`]));
      // The table as versions before this one made it: keyed by the hash, without a rowid.
      const Database = (await import('better-sqlite3')).default;
      const raw = new Database(file);
      raw.exec('CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, text TEXT NOT NULL) WITHOUT ROWID');
      raw.exec("CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs BEGIN SELECT RAISE(ABORT, 'keeptrusts captured texts are append-only'); END");
      const put = raw.prepare('INSERT INTO blobs (sha256, text) VALUES (?, ?)');
      for (const [h, t] of texts) put.run(h, t);
      raw.close();

      const store = new SqliteEventStore(file);
      try {
        expect((store.raw.prepare("SELECT sql FROM sqlite_master WHERE name = 'blobs'").get() as { sql: string }).sql).not.toMatch(/WITHOUT ROWID/i);
        expect(await store.getBlobs([...texts.keys()])).toEqual(texts);
        const chain = newChain();
        const again = [...texts.keys()][7]!;
        await store.append(chain, eventsFor(chain, 1), new Map([[again, 'a different text under a known hash'], ['ee'.repeat(32), 'new']]));
        expect((await store.getBlobs([again])).get(again)).toBe(texts.get(again));
        expect((await store.getBlobs(['ee'.repeat(32)])).get('ee'.repeat(32))).toBe('new');
        expect(() => store.raw.prepare('UPDATE blobs SET text = ?').run('backdoor')).toThrow(/append-only/);
      } finally {
        await store.close();
      }
      // A second open finds nothing to upgrade.
      const reopened = new SqliteEventStore(file);
      expect((await reopened.getBlobs([...texts.keys()])).size).toBe(50);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!pgUp)('postgres event store across processes', () => {
  const schema = `${PG_SCHEMA}_shared`;
  let a: PostgresEventStore;
  let b: PostgresEventStore;

  beforeAll(async () => {
    // Two pools stand for two gateway processes; they connect at once to a schema neither has created.
    [a, b] = await Promise.all([PostgresEventStore.connect(PG_URL, { schema }), PostgresEventStore.connect(PG_URL, { schema })]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await PostgresEventStore.dropSchema(PG_URL, schema);
  });

  it('creates its schema once when several processes connect at the same time', async () => {
    const ddlSchema = `${PG_SCHEMA}_ddl`;
    try {
      const stores = await Promise.all([0, 1, 2, 3, 4, 5].map(() => PostgresEventStore.connect(PG_URL, { schema: ddlSchema })));
      const chain = newChain();
      await Promise.all(stores.map((s) => s.append(chain, eventsFor(chain, 1))));
      expect(await seqsOf(stores[0]!, chain)).toEqual([1, 2, 3, 4, 5, 6]);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await PostgresEventStore.dropSchema(PG_URL, ddlSchema);
    }
  });

  it('keeps seqs contiguous when two pools append to one chain at once', async () => {
    const chain = newChain();
    const batches = (n: number) => Array.from({ length: 200 / n }, () => eventsFor(chain, n));
    const results = await Promise.all([...batches(5).map((batch) => a.append(chain, batch)), ...batches(4).map((batch) => b.append(chain, batch))]);

    // Each batch lands as one contiguous run.
    for (const linked of results) expect(linked.map((e) => e.seq)).toEqual(linked.map((_, i) => linked[0]!.seq + i));
    const seqs = results.flat().map((e) => e.seq);
    expect(new Set(seqs).size).toBe(400);
    expect(await seqsOf(a, chain)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    const head = (await b.head(chain))!;
    expect(head.seq).toBe(400);
    await sign(a, chain, head);
    expect(await verifyChain(b, chain, await trusted(b))).toMatchObject({ events: 400, problem: null });
  });

  it('refuses TRUNCATE, which skips row triggers', async () => {
    const chain = newChain();
    await a.append(chain, eventsFor(chain, 1));
    await expect(a.pool.query(`TRUNCATE "${schema}".events`)).rejects.toThrow(/append-only/);
    await expect(a.pool.query(`TRUNCATE "${schema}".checkpoints`)).rejects.toThrow(/append-only/);
    expect(await a.head(chain)).toMatchObject({ seq: 1 });
  });

  it('refuses schema names it would have to quote', async () => {
    await expect(PostgresEventStore.connect(PG_URL, { schema: 'x"; DROP TABLE y; --' })).rejects.toThrow(/invalid PostgreSQL schema name/);
  });
});
