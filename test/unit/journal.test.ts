import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JournalIngester, rejectedLines, storedPositions } from '../../src/audit/ingester.js';
import {
  journalRecord,
  JournalRecordTooLargeError,
  JournalWriter,
  listSegments,
  MAX_LINE_BYTES,
  MAX_RECORD_BYTES,
  parseJournalLine,
  readJournal,
  segmentName,
  type JournalRecord,
} from '../../src/audit/journal.js';
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

/** A writer as a new gateway process makes one: after the disk and after every stored read position. */
function restartWriter(dir: string, store: SqliteEventStore): JournalWriter {
  return new JournalWriter(dir, [...storedPositions(store).values()]);
}

/** A record whose canonical body is about `bytes` long (a captured completion of that many characters). */
function recordOfSize(bytes: number, requestId: string): JournalRecord {
  const event = makeEvent({ request_id: requestId });
  const base = journalRecord(event).body.length + 120;
  const text = 'x'.repeat(Math.max(0, bytes - base));
  return journalRecord(makeEvent({ request_id: requestId, capture: { mode: 'redacted', request: null, completion: { text, tool_calls: [], finish_reason: 'stop' }, truncated: false } }));
}

describe('journal segment numbering and restarts (issue 16, item 0)', () => {
  it('a run after a clean stop writes a segment the ingester reads: 2, 4, 6, 8 events after four runs of two', async () => {
    const { dir, store, ingester } = setup();
    const counts: number[] = [];
    for (let run = 0; run < 4; run++) {
      const writer = restartWriter(dir, store);
      // Never at or below a segment the stored read position has passed into.
      expect(writer.current).toBeGreaterThan(storedPositions(store).get('c')?.segment ?? 0);
      ingester().drain(writer.current);
      for (let i = 0; i < 2; i++) writer.append([journalRecord(makeEvent({ request_id: `run${run}-${i}` }))]);
      ingester().drain(writer.current);
      // A clean stop: the writer closes, the ingester finishes every segment and removes it.
      writer.close();
      // Read through the position, not rescued from behind it.
      expect(ingester().drain(-1).recovered).toBe(0);
      expect(listSegments(dir)).toEqual([]);
      counts.push((await store.query({ limit: 1000 })).length);
    }
    expect(counts).toEqual([2, 4, 6, 8]);
    expect((await verifyChain(store, 'c', new Map())).problem).toBeNull();
    await store.close();
  });

  it('every journaled event lands exactly once, whatever crash point comes when (kill -9 anywhere, clean stops, failed removals)', async () => {
    // Steps a gateway's life is made of. `crash` leaves the journal as a kill -9 would at that moment;
    // `drainNoRemove` is a kill between the commit of a batch and the removal of the segments it finished.
    const step = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), n: fc.integer({ min: 1, max: 3 }), torn: fc.boolean() }),
      fc.constant({ kind: 'drain' as const }),
      fc.constant({ kind: 'drainNoRemove' as const }),
      fc.constant({ kind: 'crash' as const }),
      fc.constant({ kind: 'stop' as const }),
      fc.constant({ kind: 'rotate' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const { dir, store, ingester } = setup();
        const ids: string[] = [];
        let writer: JournalWriter | undefined = restartWriter(dir, store);
        let n = 0;
        let recovered = 0;
        const drain = (active: number) => (recovered += ingester().drain(active).recovered);
        for (const s of steps) {
          writer ??= restartWriter(dir, store);
          if (s.kind === 'write') {
            const events = Array.from({ length: s.n }, () => makeEvent({ request_id: `r${n++}` }));
            writer.append(events.map((e) => journalRecord(e)));
            ids.push(...events.map((e) => e.id));
            if (s.torn) {
              // The process died while writing the next request's line: never acknowledged, never recorded.
              appendFileSync(join(dir, segmentName(writer.current)), '{"id":"evt_torn","c":{"ts_ms":1');
              writer.close();
              writer = undefined;
            }
          } else if (s.kind === 'drain') {
            drain(writer.current);
          } else if (s.kind === 'drainNoRemove') {
            const before = new Map(listSegments(dir).map((seg) => [seg, readFileSync(join(dir, segmentName(seg)))]));
            drain(writer.current);
            for (const [seg, bytes] of before) if (!existsSync(join(dir, segmentName(seg)))) writeFileSync(join(dir, segmentName(seg)), bytes);
          } else if (s.kind === 'crash') {
            writer.close();
            writer = undefined;
          } else if (s.kind === 'stop') {
            writer.close();
            drain(-1);
            writer = undefined;
          } else {
            // A long-running writer rotating: simulated by a fresh writer with the old one abandoned unread.
            writer.close();
            writer = restartWriter(dir, store);
          }
        }
        writer?.close();
        drain(-1);
        // Every event came in through the read position: none had to be rescued from a skipped segment.
        expect(recovered).toBe(0);
        const stored = (await store.query({ order: 'asc', limit: 10_000 })).map((e) => e.id);
        expect(stored.length).toBe(ids.length);
        expect(new Set(stored)).toEqual(new Set(ids));
        expect((await verifyChain(store, 'c', new Map())).problem).toBeNull();
        expect(listSegments(dir)).toEqual([]);
        await store.close();
      }),
      { numRuns: 80 },
    );
  });

  it('a segment behind the read position is checked against the store: what is missing is added, nothing twice', async () => {
    const { dir, store, ingester } = setup();
    const w1 = new JournalWriter(dir);
    const done = [makeEvent({ request_id: 'in-chain' })];
    w1.append(done.map((e) => journalRecord(e)));
    w1.close();
    ingester().drain(-1);
    // What the bug left: a segment numbered below the stored position (the writer reused number 1) that
    // holds one event already ingested (a copy) and one that never was.
    const skipped = makeEvent({ request_id: 'skipped' });
    mkdirSync(dir, { recursive: true });
    const lines = [journalRecord(done[0]!), journalRecord(skipped)];
    const w2 = new JournalWriter(join(dir, 'elsewhere'));
    w2.append(lines);
    w2.close();
    copyFileSync(join(dir, 'elsewhere', segmentName(w2.current)), join(dir, segmentName(1)));
    const r = ingester().drain(-1);
    expect(r).toMatchObject({ ingested: 1, recovered: 1 });
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['in-chain', 'skipped']);
    expect(listSegments(dir)).toEqual([]);
    expect((await verifyChain(store, 'c', new Map())).problem).toBeNull();
    await store.close();
  });
});

describe('journal records of any size (issue 16, item 1)', () => {
  it('reads every record the writer wrote, sizes below, around and above the read window, in as many rounds as it takes', async () => {
    const WINDOW = 4096;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer({ min: 0, max: WINDOW - 1 }), fc.integer({ min: WINDOW - 64, max: WINDOW + 64 }), fc.integer({ min: WINDOW, max: 6 * WINDOW })), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (sizes, finish) => {
          const dir = mkdtempSync(join(tmpdir(), 'kt-journal-'));
          const w = new JournalWriter(dir);
          const written = sizes.map((n, i) => recordOfSize(n, `s${i}`));
          for (const r of written) w.append([r]);
          if (finish) w.close();
          const back: JournalRecord[] = [];
          let pos = { segment: 0, offset: 0 };
          for (let round = 0; round < 100; round++) {
            const r = readJournal(dir, pos, finish ? -1 : w.current, WINDOW);
            back.push(...r.records);
            expect(r.rejected).toEqual([]);
            if (r.next.segment === pos.segment && r.next.offset === pos.offset && r.records.length === 0) break;
            pos = r.next;
          }
          if (!finish) w.close();
          expect(back.map((r) => r.id)).toEqual(written.map((r) => r.id));
          expect(back).toEqual(written);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('ingests a 5 MB record (the 30,000-address request of issue 16) and a record at the writer bound, and the events after them', async () => {
    const { dir, store, ingester } = setup();
    const w = new JournalWriter(dir);
    const big = recordOfSize(5_039_076, 'five-mb');
    const atBound = recordOfSize(MAX_RECORD_BYTES - 64 * 1024, 'at-bound');
    const after = journalRecord(makeEvent({ request_id: 'after' }));
    w.append([big]);
    w.append([atBound]);
    w.append([after]);
    expect(ingester().drain(w.current)).toMatchObject({ ingested: 3, rejected: 0 });
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['five-mb', 'at-bound', 'after']);
    w.close();
    await store.close();
  });

  it('the writer refuses a record above its bound and leaves the segment as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-journal-'));
    const w = new JournalWriter(dir);
    expect(() => w.append([recordOfSize(MAX_RECORD_BYTES + 1024, 'too-big')])).toThrow(JournalRecordTooLargeError);
    w.append([journalRecord(makeEvent({ request_id: 'fine' }))]);
    w.close();
    expect(readJournal(dir, { segment: 0, offset: 0 }, -1).records.map((r) => (JSON.parse(r.body) as { request_id: string }).request_id)).toEqual(['fine']);
  });

  it('a line that cannot be a record (unparsable, or longer than any record) is set aside and the events after it are ingested', async () => {
    const { dir, store, ingester } = setup();
    const w = new JournalWriter(dir);
    w.append([journalRecord(makeEvent({ request_id: 'before' }))]);
    const file = join(dir, segmentName(w.current));
    appendFileSync(file, 'not a journal line\n');
    appendFileSync(file, `{"id":"evt_x"}\t{}\n`); // a header without the columns the store needs
    appendFileSync(file, Buffer.alloc(MAX_LINE_BYTES + 10, 0x61));
    appendFileSync(file, '\n');
    w.append([journalRecord(makeEvent({ request_id: 'after' }))]);
    const r = ingester().drain(w.current);
    expect(r).toMatchObject({ ingested: 2, rejected: 3 });
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['before', 'after']);
    const kept = rejectedLines(dir);
    expect(kept).toHaveLength(3);
    expect(readFileSync(join(dir, 'rejected', kept[0]!), 'utf8')).toBe('not a journal line');
    expect(readdirSync(join(dir, 'rejected')).length).toBe(3);
    w.close();
    await store.close();
  });
});
