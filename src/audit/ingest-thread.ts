import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../runtime/module-worker.js';
import type { DrainResult } from './ingester.js';
import type { JournalPosition } from './journal.js';


type Message = ({ type: 'ingested' } & DrainResult) | { type: 'error'; message: string; position?: JournalPosition; pendingBytes?: number } | { type: 'stopped' };

/** How long after an unexpected exit the thread is started again. */
const RESTART_DELAY_MS = 1000;

/**
 * The main-thread handle of ingest-worker.ts. From TypeScript sources (tests) the worker loads through tsx.
 * A worker that exits unexpectedly (an uncaught error, out of memory) is started again after a second: the
 * journal keeps the events meanwhile, and the stall monitor shows the wait.
 */
export class IngestThread {
  private worker: Worker;
  private stopping: Promise<void> | undefined;
  private active: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited = false;

  constructor(
    private readonly opts: { file: string; dir: string; chain: string; active: number },
    private readonly on: { ingested: (r: DrainResult) => void; error: (message: string, lag?: { position: JournalPosition; pendingBytes: number }) => void },
  ) {
    this.active = opts.active;
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const data = { ...this.opts, active: this.active };
    const worker = startModuleWorker(import.meta.url, 'ingest-worker', data);
    worker.on('message', (m: Message) => {
      if (m.type === 'ingested') this.on.ingested(m);
      else if (m.type === 'error') this.on.error(m.message, m.position && m.pendingBytes !== undefined ? { position: m.position, pendingBytes: m.pendingBytes } : undefined);
    });
    worker.on('error', (err) => this.on.error(`${err.name}: ${err.message}`.slice(0, 300)));
    worker.on('exit', (code) => {
      if (worker === this.worker) this.exited = true;
      if (this.stopping || worker !== this.worker) return;
      this.on.error(`the ingest thread exited (code ${code}); starting it again`);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.stopping) return;
        this.exited = false;
        this.worker = this.spawn();
      }, RESTART_DELAY_MS);
      this.restartTimer.unref();
    });
    return worker;
  }

  /** New lines are journaled: ingest them after the gathering delay, or `now` (someone is waiting to read them). */
  wake(active: number, now = false): void {
    this.active = active;
    this.worker.postMessage({ type: 'wake', active, now });
  }

  /** Ingest everything journaled, then stop. */
  stop(timeoutMs = 30_000): Promise<void> {
    clearTimeout(this.restartTimer);
    // A thread that died and was not started again yet: what is journaled waits for the next start.
    if (this.exited) this.stopping ??= Promise.resolve();
    this.stopping ??= new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        void this.worker.terminate().then(() => resolve());
      };
      const timer = setTimeout(done, timeoutMs);
      this.worker.on('message', (m: Message) => {
        if (m.type === 'stopped') done();
      });
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage({ type: 'stop' });
    });
    return this.stopping;
  }
}
