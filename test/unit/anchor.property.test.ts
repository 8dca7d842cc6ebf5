import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorLine, parseAnchors } from '../../src/audit/anchor.js';
import { linkEvents } from '../../src/audit/chain.js';
import { loadOrCreateSigningKey, signCheckpoint } from '../../src/audit/keys.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { CHECKPOINTED_META } from '../../src/audit/store.js';
import { eventAt, verifyChain } from '../../src/audit/verify.js';
import { makeEvent } from '../helpers/events.js';

const key = loadOrCreateSigningKey(mkdtempSync(join(tmpdir(), 'kt-anchor-key-')));
const trusted = new Map([[key.keyId, key.publicKeyPem]]);
const CHAIN = 'gw-prop';

type Tamper =
  | { kind: 'none' }
  /** Keep seq 1..keep, remove the rest. */
  | { kind: 'truncate'; keep: number }
  /** Replace seq from.. with `count` other events, linked and hashed properly. */
  | { kind: 'rewrite'; from: number; count: number };

/**
 * The strongest attacker on the data dir: holds the signing key, so after changing the events it removes every
 * checkpoint and record and the high-water mark, and signs the new head again. Verification of the store alone
 * then passes; only a (seq, hash) kept outside can tell.
 */
function tamper(store: SqliteEventStore, t: Tamper): void {
  if (t.kind === 'none') return;
  const db = store.raw;
  for (const trigger of ['events_no_delete', 'checkpoints_no_delete', 'chain_records_no_delete']) db.exec(`DROP TRIGGER IF EXISTS ${trigger}`);
  const from = t.kind === 'truncate' ? t.keep + 1 : t.from;
  db.prepare('DELETE FROM events WHERE chain = ? AND seq >= ?').run(CHAIN, from);
  db.prepare('DELETE FROM checkpoints WHERE chain = ?').run(CHAIN);
  db.prepare('DELETE FROM chain_records WHERE chain = ?').run(CHAIN);
  db.prepare('DELETE FROM meta WHERE key = ?').run(`${CHECKPOINTED_META}${CHAIN}`);
}

async function resign(store: SqliteEventStore): Promise<void> {
  const head = await store.head(CHAIN);
  if (head) await store.addCheckpoint(signCheckpoint(key, { chain: CHAIN, seq: head.seq, hash: head.hash, ts: new Date().toISOString() }));
}

const scenario = fc
  .integer({ min: 1, max: 16 })
  .chain((n) =>
    fc.record({
      n: fc.constant(n),
      anchorAt: fc.integer({ min: 1, max: n }),
      checkpointsAt: fc.uniqueArray(fc.integer({ min: 1, max: n }), { maxLength: 4 }),
      tamper: fc.oneof(
        fc.constant<Tamper>({ kind: 'none' }),
        fc.integer({ min: 0, max: n - 1 }).map((keep): Tamper => ({ kind: 'truncate', keep })),
        fc.record({ from: fc.integer({ min: 1, max: n }), count: fc.integer({ min: 1, max: 4 }) }).map((r): Tamper => ({ kind: 'rewrite', ...r })),
      ),
    }),
  );

describe('anchor consistency', () => {
  it('an anchored (seq, hash) fails verification exactly when the chain no longer holds it, whatever else the attacker re-signed', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ n, anchorAt, checkpointsAt, tamper: t }) => {
        const store = new SqliteEventStore(':memory:');
        try {
          await store.registerKey({ key_id: key.keyId, public_key: key.publicKeyPem, created_at: new Date().toISOString() });
          const linked = await store.append(
            CHAIN,
            Array.from({ length: n }, () => makeEvent({ gateway_id: CHAIN })),
          );
          for (const seq of [...checkpointsAt, n]) await store.addCheckpoint(signCheckpoint(key, { chain: CHAIN, seq, hash: linked[seq - 1]!.hash, ts: new Date().toISOString() }));
          const anchored = signCheckpoint(key, { chain: CHAIN, seq: anchorAt, hash: linked[anchorAt - 1]!.hash, ts: new Date().toISOString() });
          const [pin] = parseAnchors(anchorLine(anchored), 'anchors.jsonl');

          tamper(store, t);
          if (t.kind === 'rewrite') {
            const head = await store.head(CHAIN);
            const others = Array.from({ length: t.count }, () => makeEvent({ gateway_id: CHAIN, verdict: 'block' }));
            await store.ingest(linkEvents(CHAIN, head, others));
          }
          if (t.kind !== 'none') await resign(store);

          // The store alone cannot tell: every link holds and the head carries a valid signature.
          expect((await verifyChain(store, CHAIN, trusted)).problem).toBeNull();

          const stillOn = (await eventAt(store, CHAIN, anchorAt))?.hash === anchored.hash;
          const touchedAnchored = t.kind === 'truncate' ? t.keep < anchorAt : t.kind === 'rewrite' ? t.from <= anchorAt : false;
          expect(stillOn).toBe(!touchedAnchored);
          const report = await verifyChain(store, CHAIN, trusted, { external: [pin!] });
          if (stillOn) {
            expect(report.problem).toBeNull();
            expect(report.anchored).toMatchObject({ checked: 1, seq: anchorAt, source: 'anchors.jsonl line 1' });
          } else {
            expect(report.problem?.kind).toMatch(/^(truncated|altered)$/);
            expect(report.problem?.message).toContain('anchors.jsonl line 1');
          }
        } finally {
          await store.close();
        }
      }),
      { numRuns: 120 },
    );
  });

  it('anchor lines round-trip; comments and blank lines are skipped, anything else that is not an anchor is an error naming its line', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ minLength: 1, maxLength: 40 }), (seq, hash, chain) => {
        const cp = signCheckpoint(key, { chain, seq, hash, ts: '2026-01-01T00:00:00.000Z' });
        const [pin] = parseAnchors(`# anchors\n\n${anchorLine(cp, new Date(0))}`, 'f');
        expect(pin).toEqual({ chain, seq, hash, source: 'f line 3', at: '1970-01-01T00:00:00.000Z', checkpoint: cp });
      }),
    );
    const good = anchorLine(signCheckpoint(key, { chain: 'c', seq: 1, hash: 'a'.repeat(64), ts: 't' }));
    expect(() => parseAnchors(`${good}not json\n`, 'f')).toThrow(/f line 2 is not JSON/);
    expect(() => parseAnchors(`${good}${good.replace('"seq":1', '"seq":0')}`, 'f')).toThrow(/f line 2 is not a keeptrusts-anchor\/v1 line/);
    expect(() => parseAnchors('{"type":"keeptrusts-anchor/v1"}', 'f')).toThrow(/line 1/);
  });
});
