import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Running from TypeScript sources (vitest, tsx): Node 20 ignores `--import tsx` in a worker's execArgv for its
 * entry module, so a small bootstrap registers tsx's loader first and then imports the worker.
 */
function fromSource(workerData: unknown): Worker {
  // The ESM entry of tsx/esm/api (require.resolve would give its CommonJS twin).
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxDir, 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./ingest-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

type Message =
  | { type: 'ingested'; count: number; torn: number; head: { seq: number; hash: string } | null }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

/** The main-thread handle of ingest-worker.ts. From TypeScript sources (tests) the worker loads through tsx. */
export class IngestThread {
  private readonly worker: Worker;
  private stopping: Promise<void> | undefined;

  constructor(
    opts: { file: string; dir: string; chain: string; active: number },
    private readonly on: { ingested: (count: number, torn: number) => void; error: (message: string) => void },
  ) {
    this.worker = import.meta.url.endsWith('.ts') ? fromSource(opts) : new Worker(new URL('./ingest-worker.js', import.meta.url), { workerData: opts });
    this.worker.on('message', (m: Message) => {
      if (m.type === 'ingested') this.on.ingested(m.count, m.torn);
      else if (m.type === 'error') this.on.error(m.message);
    });
    this.worker.on('error', (err) => this.on.error(`${err.name}: ${err.message}`.slice(0, 300)));
  }

  /** New lines are journaled: ingest them after the gathering delay, or `now` (someone is waiting to read them). */
  wake(active: number, now = false): void {
    this.worker.postMessage({ type: 'wake', active, now });
  }

  /** Ingest everything journaled, then stop. */
  stop(timeoutMs = 30_000): Promise<void> {
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
