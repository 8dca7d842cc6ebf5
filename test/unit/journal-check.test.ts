import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { JournalIngester } from '../../src/audit/ingester.js';
import { checkJournal } from '../../src/audit/journal-check.js';
import { JOURNAL_DIR, journalRecord, JournalWriter, segmentName } from '../../src/audit/journal.js';
import { loadOrCreateSigningKey } from '../../src/audit/keys.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { createLogger } from '../../src/gateway/logger.js';
import { makeEvent } from '../helpers/events.js';

const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() }));

function dataDir() {
  const dir = mkdtempSync(join(tmpdir(), 'kt-jcheck-'));
  return { dir, journal: join(dir, JOURNAL_DIR), store: new SqliteEventStore(join(dir, 'events.db')) };
}

describe('journal check (kt events verify)', () => {
  it('never raises an alarm on a gateway that is running and catching up, checked from another connection while it works', async () => {
    const { dir, store } = dataDir();
    const key = loadOrCreateSigningKey(dir);
    const recorder = new AuditRecorder({ store, chain: 'gw', key, logger: quiet, failMode: 'block', dataDir: dir, retentionDays: 30, journal: { file: store.file } });
    await recorder.start();
    const reader = new SqliteEventStore(store.file, { readonly: true });
    let checks = 0;
    let sawPending = 0;
    const writing = (async () => {
      for (let burst = 0; burst < 60; burst++) {
        await Promise.all(Array.from({ length: 1 + (burst % 7) }, (_, i) => recorder.record(makeEvent({ gateway_id: 'gw', request_id: `b${burst}-${i}` }), undefined, i === 0)));
        await new Promise((r) => setTimeout(r, burst % 3));
      }
    })();
    let done = false;
    void writing.then(() => (done = true));
    while (!done) {
      const r = checkJournal(dir, reader)!;
      checks++;
      expect(r, JSON.stringify(r)).toMatchObject({ ok: true, skipped: 0 });
      if (r.pending > 0) sawPending++;
      await new Promise((r) => setImmediate(r));
    }
    await recorder.caughtUp();
    expect(checkJournal(dir, reader)).toMatchObject({ ok: true, pending: 0, skipped: 0 });
    await recorder.close();
    await reader.close();
    await store.close();
    // The check ran while events were between the journal and the chain, not only once all was quiet.
    expect(checks).toBeGreaterThan(10);
    expect(sawPending).toBeGreaterThan(0);
  });

  it('counts events a stopped gateway left in the journal as pending, not as a failure', async () => {
    const { dir, journal, store } = dataDir();
    const w = new JournalWriter(journal);
    w.append([journalRecord(makeEvent({ gateway_id: 'gw' })), journalRecord(makeEvent({ gateway_id: 'gw' }))]);
    w.close();
    expect(checkJournal(dir, store)).toMatchObject({ ok: true, records: 2, pending: 2, skipped: 0 });
    await store.close();
  });

  it('fails on an event behind the read position that the chain lacks (what the segment-numbering bug left), naming it', async () => {
    const { dir, journal, store } = dataDir();
    const ingested = makeEvent({ gateway_id: 'gw' });
    const w = new JournalWriter(journal);
    w.append([journalRecord(ingested)]);
    w.close();
    new JournalIngester(store, journal, 'gw').drain(-1);
    // Segment 1 again, below the stored position (segment 2), as the buggy writer made it.
    const lost = makeEvent({ gateway_id: 'gw' });
    const elsewhere = join(dir, 'other');
    const w2 = new JournalWriter(elsewhere);
    w2.append([journalRecord(ingested), journalRecord(lost)]);
    w2.close();
    copyFileSync(join(elsewhere, segmentName(1)), join(journal, segmentName(1)));
    const r = checkJournal(dir, store)!;
    expect(r).toMatchObject({ ok: false, records: 2, ingested: 1, pending: 0, skipped: 1 });
    expect(r.skippedEvents).toEqual([{ id: lost.id, chain: 'gw', segment: segmentName(1), offset: expect.any(Number) }]);
    // Only the chain asked about.
    expect(checkJournal(dir, store, { chain: 'other-gateway' })).toMatchObject({ ok: true, records: 0 });
    await store.close();
  });

  it('fails while lines the ingester set aside are kept in journal/rejected/', async () => {
    const { dir, journal, store } = dataDir();
    mkdirSync(join(journal, 'rejected'), { recursive: true });
    writeFileSync(join(journal, 'rejected', 'seg-000000003@120.rejected'), 'garbage');
    expect(checkJournal(dir, store)).toMatchObject({ ok: false, rejected: [join(journal, 'rejected', 'seg-000000003@120.rejected')] });
    await store.close();
  });

  it('has nothing to say about a data dir without a journal', async () => {
    const { dir, store } = dataDir();
    expect(checkJournal(dir, store)).toBeUndefined();
    await store.close();
  });
});
