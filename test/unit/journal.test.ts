import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JournalIngester } from '../../src/audit/ingester.js';
import { JournalWriter, listSegments, segmentName } from '../../src/audit/journal.js';
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
          writer.append(events.map((event) => ({ event })));
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

  it('reports a torn line in a finished segment and skips it', async () => {
    const { dir, store, ingester } = setup();
    const w1 = new JournalWriter(dir);
    w1.append([{ event: makeEvent({ request_id: 'a' }) }]);
    appendFileSync(join(dir, segmentName(w1.current)), '{"partial');
    w1.close();
    const w2 = new JournalWriter(dir);
    w2.append([{ event: makeEvent({ request_id: 'b' }) }]);
    const r = ingester().drain(w2.current);
    expect(r).toMatchObject({ ingested: 2, torn: 1 });
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['a', 'b']);
    w2.close();
    await store.close();
  });
});
