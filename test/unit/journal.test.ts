import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JournalIngester } from '../../src/audit/ingester.js';
import { journalRecord, JournalWriter, listSegments, parseJournalLine, readJournal, segmentName } from '../../src/audit/journal.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { indexedColumns } from '../../src/audit/store.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { verifyChain } from '../../src/audit/verify.js';
import { makeEvent } from '../helpers/events.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'kt-journal-'));
  const store = new SqliteEventStore(join(dir, 'events.db'));
  return { dir: join(dir, 'journal'), store, ingester: (s = store) => new JournalIngester(s, join(dir, 'journal'), 'c') };
}

describe('audit journal', () => {
  it('ingests every journaled event exactly once, in order, across restarts and torn lines', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 }), fc.boolean(), async (batches, tear) => {
        const { dir, store, ingester } = setup();
        const ids: string[] = [];
        let writer = new JournalWriter(dir);
        for (const [i, n] of batches.entries()) {
          const events = Array.from({ length: n }, (_, k) => makeEvent({ request_id: `r${i}-${k}` }));
          writer.append(events.map((event) => journalRecord(event)));
          ids.push(...events.map((e) => e.id));
          // Ingest sometimes in the middle, as the ingest thread would.
          if (i % 2 === 0) ingester().drain(writer.current);
          if (i === 1) {
            // A crash: the process dies mid-write (a torn last line), and a new process starts a new segment.
            if (tear) appendFileSync(join(dir, segmentName(writer.current)), '{"id":"evt_torn","ts":');
            writer.close();
            writer = new JournalWriter(dir);
          }
        }
        const r = ingester().drain(writer.current);
        ingester().drain(writer.current);
        writer.close();
        ingester().drain(-1);
        const stored = (await store.query({ order: 'asc', limit: 1000 })).map((e) => e.id);
        expect(stored).toEqual(ids);
        expect((await verifyChain(store, 'c', new Map())).problem).toBeNull();
        expect(listSegments(dir).length).toBeLessThanOrEqual(1);
        void r;
        await store.close();
      }),
      { numRuns: 60 },
    );
  });

  it('reads back every record byte for byte: any text, any batch sizes, lines bigger than the write buffer, written here or on the pool', async () => {
    // Bodies are raw strings here (the writer never parses them): astral characters, lone surrogates,
    // tabs and newlines escaped as JSON does, and now and then a captured text of a few hundred KB.
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constant('x'.repeat(300_000)));
    const record = fc.record({ body: text.map((t) => JSON.stringify({ t })), blob: fc.option(text, { nil: undefined }) });
    const batchWith = fc.record({ records: fc.array(record, { maxLength: 4 }), onPool: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(batchWith, { minLength: 1, maxLength: 5 }), async (batches) => {
        const dir = mkdtempSync(join(tmpdir(), 'kt-journal-'));
        const w = new JournalWriter(dir);
        const written = batches.map(({ records }, b) =>
          records.map((r, i) => {
            const base = journalRecord(makeEvent({ request_id: `r${b}-${i}` }));
            return { ...base, body: r.body, ...(r.blob !== undefined ? { blobs: new Map([['ef'.repeat(32), r.blob]]) } : {}) };
          }),
        );
        for (const [b, batch] of written.entries()) {
          if (!batches[b]!.onPool) w.append(batch);
          else await new Promise<void>((resolve, reject) => w.appendAsync(batch, (err) => (err ? reject(err) : resolve())));
        }
        w.close();
        const back = readJournal(dir, { segment: 0, offset: 0 }, -1, 64 * 1024 * 1024).records;
        expect(back).toEqual(written.flat());
      }),
      { numRuns: 80 },
    );
  });

  it('reports a torn line in a finished segment and skips it', async () => {
    const { dir, store, ingester } = setup();
    const w1 = new JournalWriter(dir);
    w1.append([journalRecord(makeEvent({ request_id: 'a' }))]);
    appendFileSync(join(dir, segmentName(w1.current)), '{"partial');
    w1.close();
    const w2 = new JournalWriter(dir);
    w2.append([journalRecord(makeEvent({ request_id: 'b' }))]);
    const r = ingester().drain(w2.current);
    expect(r).toMatchObject({ ingested: 2, torn: 1 });
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['a', 'b']);
    w2.close();
    await store.close();
  });

  it('journals the canonical body and its columns, and parses them back without touching the body', () => {
    const event = makeEvent({ request_id: 'tab\there', capture: { mode: 'redacted', request: [{ source: 'user', turn: 0, text: 'a\tb\nc' }], completion: null, truncated: false } });
    const dir = mkdtempSync(join(tmpdir(), 'kt-journal-'));
    const w = new JournalWriter(dir);
    w.append([journalRecord(event, new Map([['ab'.repeat(32), 'long\ttext']]))]);
    w.close();
    const line = readFileSync(join(dir, segmentName(w.current)), 'utf8').trimEnd();
    expect(line.split('\n')).toHaveLength(1);
    const back = parseJournalLine(line);
    expect(back.body).toBe(canonicalJson(event));
    expect(back.columns).toEqual(indexedColumns(event));
    expect(back.blobs).toEqual(new Map([['ab'.repeat(32), 'long\ttext']]));
  });

  it('ingests a journal written in the earlier one-JSON-object-per-line format', async () => {
    const { dir, store, ingester } = setup();
    const events = [makeEvent({ request_id: 'old-1' }), makeEvent({ request_id: 'old-2' })];
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, segmentName(1)), events.map((event, i) => `${JSON.stringify(i === 0 ? { event, blobs: { ['cd'.repeat(32)]: 'x' } } : { event })}\n`).join(''));
    const w = new JournalWriter(dir);
    w.append([journalRecord(makeEvent({ request_id: 'new-1' }))]);
    expect(ingester().drain(w.current).ingested).toBe(3);
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['old-1', 'old-2', 'new-1']);
    expect((await store.getBlobs(['cd'.repeat(32)])).get('cd'.repeat(32))).toBe('x');
    expect((await verifyChain(store, 'c', new Map())).problem).toBeNull();
    w.close();
    await store.close();
  });
});
