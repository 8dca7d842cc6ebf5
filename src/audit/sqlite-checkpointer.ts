import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * Runs SQLite WAL checkpoints in a worker thread with its own connection. The writer turns automatic
 * checkpoints off, so its commits only append to the WAL and never wait for an fsync; the worker copies the
 * WAL into the database (and syncs) every `intervalMs`, off the request path. A PASSIVE checkpoint never
 * blocks the writer.
 */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private stopped: Promise<void> | undefined;

  constructor(file: string, intervalMs = 1000) {
    const lib = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, lib, intervalMs } });
    this.worker.unref();
    // A failing checkpoint only lets the WAL grow; the writer's next start checkpoints it.
    this.worker.on('error', () => undefined);
  }

  stop(): Promise<void> {
    this.stopped ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage('stop');
    });
    return this.stopped;
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.lib);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  process.exit(0);
});
`;
