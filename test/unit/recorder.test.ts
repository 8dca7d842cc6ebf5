import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JOURNAL_DIR, JournalWriter, readJournal } from '../../src/audit/journal.js';
import { loadOrCreateSigningKey } from '../../src/audit/keys.js';
import { AuditRecorder, AuditStoreError } from '../../src/audit/recorder.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { verifyChain } from '../../src/audit/verify.js';
import { createLogger } from '../../src/gateway/logger.js';
import { makeEvent } from '../helpers/events.js';

const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() }));

async function started(failMode: 'block' | 'allow' = 'block', dataDir = mkdtempSync(join(tmpdir(), 'kt-recorder-'))) {
  const store = new SqliteEventStore(join(dataDir, 'events.db'));
  const key = loadOrCreateSigningKey(dataDir);
  const recorder = new AuditRecorder({ store, chain: 'c', key, logger: quiet, failMode, dataDir, retentionDays: 30, journal: { file: store.file } });
  await recorder.start();
  const journaled = () => new Set(readJournal(join(dataDir, JOURNAL_DIR), { segment: 0, offset: 0 }, -1, 64 * 1024 * 1024).records.map((r) => r.id));
  return { dataDir, store, recorder, journaled, trusted: new Map([[key.keyId, key.publicKeyPem]]) };
}

afterEach(() => vi.restoreAllMocks());

describe('audit recorder with the journal', () => {
  it('an event is in the journal by the time record() resolves, written on this thread or the pool, and lands in the chain once, in order', async () => {
    const { store, recorder, journaled, trusted } = await started();
    const order: string[] = [];
    const missing: string[] = [];
    const waits: Promise<void>[] = [];
    // Bursts as a busy gateway makes them: some requests finish alone, most while others are in flight.
    for (let burst = 0; burst < 12; burst++) {
      for (let i = 0; i < 1 + (burst % 5) * 4; i++) {
        const event = makeEvent({ request_id: `b${burst}-${i}` });
        waits.push(
          recorder.record(event, undefined, burst % 3 === 0 && i === 0).then(() => {
            order.push(event.id);
            if (!journaled().has(event.id)) missing.push(event.id);
          }),
        );
      }
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waits);
    expect(missing).toEqual([]);
    await recorder.close();
    const stored = (await store.query({ order: 'asc', limit: 1000 })).map((e) => e.id);
    expect(stored).toHaveLength(order.length);
    expect(new Set(stored)).toEqual(new Set(order));
    expect((await verifyChain(store, 'c', trusted)).problem).toBeNull();
    await store.close();
  });

  it('a journal write that fails on the pool fails those requests under fail-mode block, and their texts go with the next event', async () => {
    const { store, recorder, journaled } = await started('block');
    const text = 'captured text '.repeat(40);
    const hash = 'ab'.repeat(32);
    vi.spyOn(JournalWriter.prototype, 'appendAsync').mockImplementationOnce((_records, done) => setImmediate(() => done(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }))));
    const failed = makeEvent({ request_id: 'lost' });
    await expect(recorder.record(failed, new Map([[hash, text]]), false)).rejects.toBeInstanceOf(AuditStoreError);
    expect(journaled().has(failed.id)).toBe(false);
    const next = makeEvent({ request_id: 'kept' });
    await recorder.record(next, new Map([[hash, text]]), false);
    expect(journaled().has(next.id)).toBe(true);
    await recorder.close();
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['kept']);
    expect((await store.getBlobs([hash])).get(hash)).toBe(text);
    await store.close();
  });

  it('under fail-mode allow a failed journal write spools the events, and they reach the chain after a restart', async () => {
    const first = await started('allow');
    vi.spyOn(JournalWriter.prototype, 'appendAsync').mockImplementationOnce((_records, done) => setImmediate(() => done(new Error('EIO'))));
    const spooled = makeEvent({ request_id: 'spooled' });
    await first.recorder.record(spooled, undefined, false);
    expect(first.journaled().has(spooled.id)).toBe(false);
    expect(readFileSync(join(first.dataDir, 'spool.ndjson'), 'utf8')).toContain(spooled.id);
    await first.recorder.close();
    await first.store.close();
    const again = await started('allow', first.dataDir);
    expect((await again.store.query({ order: 'asc' })).map((e) => e.id)).toEqual([spooled.id]);
    await again.recorder.close();
    expect((await verifyChain(again.store, 'c', again.trusted)).problem).toBeNull();
    await again.store.close();
  });

  it('an ingest thread that dies is started again, and the events journaled meanwhile reach the chain', async () => {
    const { store, recorder, trusted } = await started();
    await recorder.record(makeEvent({ request_id: 'before' }));
    await recorder.caughtUp();
    const thread = (recorder as unknown as { ingest: { worker: { terminate(): Promise<number> } } }).ingest;
    await thread.worker.terminate();
    await recorder.record(makeEvent({ request_id: 'while-down' }));
    for (let i = 0; i < 100 && (await store.query({})).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['before', 'while-down']);
    await recorder.close();
    expect((await verifyChain(store, 'c', trusted)).problem).toBeNull();
    await store.close();
  });
});
