import { parentPort, workerData } from 'node:worker_threads';
import { JournalIngester } from './ingester.js';
import type { JournalPosition } from './journal.js';
import { SqliteEventStore } from './sqlite-store.js';

/**
 * The ingest thread: reads the journal and appends to the SQLite chain (canonical JSON, hashing, insert),
 * so the thread serving requests only writes journal lines.
 */
const { file, dir, chain, active: initial } = workerData as { file: string; dir: string; chain: string; active: number };
const store = new SqliteEventStore(file);
const ingester = new JournalIngester(store, dir, chain);
let active = initial;
/**
 * How long to gather journaled events before one transaction takes them. Each transaction rewrites the pages
 * it touched (the tail of the table and of each index) into the WAL, so small batches multiply the bytes
 * written per event: 100 ms instead of 25 ms wrote a fifth less under load. The events are durable in the
 * journal meanwhile; `kt events tail` sees them this much later, and a reader that asks (caughtUp) at once.
 */
const INGEST_DELAY_MS = 100;
let scheduled: NodeJS.Timeout | undefined;

function run(): void {
  clearTimeout(scheduled);
  scheduled = undefined;
  try {
    const r = ingester.drain(active);
    // Posted even when nothing moved: the main thread's waiters (caughtUp) count on the answer, and its stall
    // monitor on the position.
    parentPort!.postMessage({ type: 'ingested', ...r });
  } catch (err) {
    // The events stay in the journal; the next wake-up or poll tries again.
    parentPort!.postMessage({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'error', ...lag() });
  }
}

/** The lag as far as it can be read after a failed round (reading works while another process holds the write lock). */
function lag(): { position?: JournalPosition; pendingBytes?: number } {
  try {
    return ingester.lag();
  } catch {
    return {};
  }
}

const poll = setInterval(run, 1000);
parentPort!.on('message', (m: { type: 'wake'; active: number; now: boolean } | { type: 'stop' }) => {
  if (m.type === 'wake') {
    active = m.active;
    if (m.now) run();
    else scheduled ??= setTimeout(run, INGEST_DELAY_MS);
    return;
  }
  clearInterval(poll);
  active = -1;
  run();
  void store.close().then(() => parentPort!.postMessage({ type: 'stopped' }));
});
run();
