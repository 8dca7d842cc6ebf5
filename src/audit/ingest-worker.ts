import { parentPort, workerData } from 'node:worker_threads';
import { JournalIngester } from './ingester.js';
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
 * How long to gather journaled events before one transaction takes them. Per-transaction costs dominate small
 * batches (a one-event transaction cost about three times a batched event's share); the events are durable in
 * the journal meanwhile, and `kt events tail` sees them this much later.
 */
const INGEST_DELAY_MS = 25;
let scheduled = false;

function run(): void {
  scheduled = false;
  try {
    const r = ingester.drain(active);
    // Posted even when nothing moved: the main thread's waiters (caughtUp) count on the answer.
    parentPort!.postMessage({ type: 'ingested', count: r.ingested, torn: r.torn, head: r.head });
  } catch (err) {
    // The events stay in the journal; the next wake-up or poll tries again.
    parentPort!.postMessage({ type: 'error', message: err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'error' });
  }
}

const poll = setInterval(run, 1000);
parentPort!.on('message', (m: { type: 'wake'; active: number } | { type: 'stop' }) => {
  if (m.type === 'wake') {
    active = m.active;
    if (!scheduled) {
      scheduled = true;
      // Gather a few milliseconds of events into one transaction: the requests are already durable in the
      // journal, and per-transaction costs dominated when every small batch was ingested on its own.
      setTimeout(run, INGEST_DELAY_MS);
    }
    return;
  }
  clearInterval(poll);
  active = -1;
  run();
  void store.close().then(() => parentPort!.postMessage({ type: 'stopped' }));
});
run();
