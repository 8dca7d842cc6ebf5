import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { anchorLine } from '../../src/audit/anchor.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { linkEvents } from '../../src/audit/chain.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { loadOrCreateSigningKey, signCheckpoint } from '../../src/audit/keys.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { CHECKPOINTED_META } from '../../src/audit/store.js';
import { verifyChain } from '../../src/audit/verify.js';
import { createLogger } from '../../src/gateway/logger.js';
import { makeEvent } from '../helpers/events.js';

const CHAIN = 'gw-int';

/** A data dir and a recorder writing straight to its store (the path PostgreSQL and second gateways take). */
function gateway(dataDir = mkdtempSync(join(tmpdir(), 'kt-integrity-')), opts: { anchorFile?: string } = {}) {
  const lines: string[] = [];
  const logger = createLogger('info', 'json', new Writable({ write: (c: Buffer, _e, done) => (lines.push(c.toString()), done()) }));
  const store = new SqliteEventStore(join(dataDir, 'events.db'));
  const key = loadOrCreateSigningKey(dataDir);
  const recorder = new AuditRecorder({ store, chain: CHAIN, key, logger, failMode: 'block', dataDir, retentionDays: 365, ...opts });
  const logged = () => lines.map((l) => JSON.parse(l) as { level: number | string; msg: string; reason?: string });
  const trusted = new Map([[key.keyId, key.publicKeyPem]]);
  return { dataDir, store, key, recorder, logged, trusted, verify: (o = {}) => verifyChain(store, CHAIN, trusted, o) };
}

async function recordN(recorder: AuditRecorder, n: number): Promise<DecisionEvent[]> {
  const events = Array.from({ length: n }, () => makeEvent({ gateway_id: CHAIN }));
  for (const e of events) await recorder.record(e);
  return events;
}

/** The attacker's hand on the store: triggers off, statements in. */
function tamper(store: SqliteEventStore, ...statements: Array<[string, ...unknown[]]>): void {
  for (const t of ['events_no_update', 'events_no_delete', 'checkpoints_no_delete', 'chain_records_no_delete']) store.raw.exec(`DROP TRIGGER IF EXISTS ${t}`);
  for (const [sql, ...params] of statements) store.raw.prepare(sql).run(...params);
}

describe('the recorder signs only what it can vouch for', () => {
  it('a tail a previous run left unsigned is checked, signed at start and recorded as adopted', async () => {
    const run1 = gateway();
    await run1.recorder.start();
    await recordN(run1.recorder, 3);
    await run1.recorder.checkpoint();
    // The run dies after writing three more events, before its next checkpoint.
    await run1.store.append(CHAIN, [makeEvent({ gateway_id: CHAIN }), makeEvent({ gateway_id: CHAIN }), makeEvent({ gateway_id: CHAIN })]);
    await run1.store.close();

    const run2 = gateway(run1.dataDir);
    await run2.recorder.start();
    expect(run2.recorder.stats().integrity).toEqual({ status: 'ok' });
    const records = await run2.store.records(CHAIN);
    expect(records).toEqual([expect.objectContaining({ kind: 'adopt', seq: 6, detail: { from_seq: 4 }, key_id: run2.key.keyId })]);
    expect((await run2.store.checkpoints(CHAIN)).map((c) => c.seq)).toEqual([3, 6]);
    expect(run2.logged().some((l) => /signed events a previous run left unsigned/.test(l.msg))).toBe(true);
    expect(await run2.verify()).toMatchObject({ problem: null, signedSeq: 6, unsignedTail: 0, adopted: [{ fromSeq: 4, toSeq: 6 }] });

    // A clean shutdown signs everything: the next start adopts nothing.
    await recordN(run2.recorder, 2);
    await run2.recorder.close();
    await run2.store.close();
    const run3 = gateway(run1.dataDir);
    await run3.recorder.start();
    expect((await run3.store.records(CHAIN)).filter((r) => r.kind === 'adopt')).toHaveLength(1);
    await run3.recorder.close();
    await run3.store.close();
  });

  it('a tail that does not verify is never signed: the recorder records a break, stops signing and pruning, and keeps recording', async () => {
    const run1 = gateway();
    await run1.recorder.start();
    await recordN(run1.recorder, 2);
    await run1.recorder.close();
    // Events appended while no gateway ran, one of them sloppily forged (its hash does not match its body).
    const forged = linkEvents(CHAIN, await run1.store.head(CHAIN), [makeEvent({ gateway_id: CHAIN }), makeEvent({ gateway_id: CHAIN })]);
    await run1.store.ingest(forged);
    tamper(run1.store, ['UPDATE events SET body = ? WHERE id = ?', canonicalJson({ ...(JSON.parse(forged[1]!.body) as DecisionEvent), verdict: 'block' }), forged[1]!.id]);
    await run1.store.close();

    const run2 = gateway(run1.dataDir);
    await run2.recorder.start();
    expect(run2.recorder.stats().integrity).toMatchObject({ status: 'broken', seq: 4, reason: 'tail-does-not-verify' });
    expect(run2.logged().find((l) => /no longer matches what this gateway signed/.test(l.msg))).toMatchObject({ level: 50, reason: 'tail-does-not-verify' });
    const breaks = (await run2.store.records(CHAIN)).filter((r) => r.kind === 'break');
    expect(breaks).toEqual([expect.objectContaining({ seq: 4, detail: expect.objectContaining({ at_seq: 4, reason: 'tail-does-not-verify' }) })]);
    await recordN(run2.recorder, 2);
    await run2.recorder.close();
    expect((await run2.store.checkpoints(CHAIN)).map((c) => c.seq)).toEqual([2]);
    expect(await run2.store.firstSeq(CHAIN)).toBe(1);
    expect((await run2.verify()).problem).toMatchObject({ kind: 'altered', seq: 4 });
    await run2.store.close();
  });

  it('the signed tail removed with its checkpoint while running, its seqs filled again, is caught at the next checkpoint', async () => {
    const g = gateway();
    await g.recorder.start();
    await recordN(g.recorder, 5);
    await g.recorder.checkpoint();
    tamper(
      g.store,
      ['DELETE FROM events WHERE chain = ? AND seq >= 4', CHAIN],
      ['DELETE FROM checkpoints WHERE chain = ? AND seq = 5', CHAIN],
      ['DELETE FROM meta WHERE key = ?', `${CHECKPOINTED_META}${CHAIN}`],
    );
    await recordN(g.recorder, 3);
    expect(await g.recorder.checkpoint()).toBeNull();
    expect(g.recorder.stats().integrity).toMatchObject({ status: 'broken', seq: 5, reason: 'signed-event-changed' });
    // Locally the chain links up again; the signed break record is what verify reports.
    expect((await g.verify()).problem).toMatchObject({ kind: 'break', message: expect.stringMatching(/this gateway signed seq 5, but the event there .* has another hash/) });
    await g.recorder.close();
    await g.store.close();
  });

  it('checkpoints removed while stopped show against the high-water mark, and an anchor file against a re-signed rewrite', async () => {
    const run1 = gateway();
    await run1.recorder.start();
    await recordN(run1.recorder, 4);
    await run1.recorder.close();
    tamper(run1.store, ['DELETE FROM events WHERE chain = ? AND seq >= 3', CHAIN], ['DELETE FROM checkpoints WHERE chain = ?', CHAIN]);
    await run1.store.close();
    const run2 = gateway(run1.dataDir);
    await run2.recorder.start();
    expect(run2.recorder.stats().integrity).toMatchObject({ status: 'broken', reason: 'checkpoints-removed' });
    await run2.recorder.close();
    await run2.store.close();

    // With the key in hand the attacker rewrites everything, clears the mark and signs again; the anchor file disagrees.
    const anchors = join(mkdtempSync(join(tmpdir(), 'kt-anchors-')), 'anchors.jsonl');
    const run3 = gateway();
    await run3.recorder.start();
    await recordN(run3.recorder, 4);
    await run3.recorder.close();
    writeFileSync(anchors, anchorLine((await run3.store.checkpoints(CHAIN)).at(-1)!));
    tamper(run3.store, ['DELETE FROM events WHERE chain = ?', CHAIN], ['DELETE FROM checkpoints WHERE chain = ?', CHAIN], ['DELETE FROM meta WHERE key = ?', `${CHECKPOINTED_META}${CHAIN}`]);
    const rewritten = await run3.store.append(CHAIN, [makeEvent({ gateway_id: CHAIN }), makeEvent({ gateway_id: CHAIN }), makeEvent({ gateway_id: CHAIN }), makeEvent({ gateway_id: CHAIN })]);
    await run3.store.addCheckpoint(signCheckpoint(run3.key, { chain: CHAIN, seq: 4, hash: rewritten[3]!.hash, ts: new Date().toISOString() }));
    await run3.store.close();
    const run4 = gateway(run3.dataDir, { anchorFile: anchors });
    await run4.recorder.start();
    expect(run4.recorder.stats().integrity).toMatchObject({ status: 'broken', seq: 4, reason: 'anchor-mismatch', message: expect.stringContaining(`${anchors} line 1 anchored seq 4`) });
    expect(readFileSync(anchors, 'utf8').trim().split('\n')).toHaveLength(1);
    await run4.recorder.close();
    await run4.store.close();
  });
});
