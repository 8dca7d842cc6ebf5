import { EventEmitter } from 'node:events';

/**
 * Fires once when the client goes away before its response is complete. An EventEmitter rather than an
 * AbortController: undici accepts either as a request signal, and AbortSignal's EventTarget machinery
 * was a measurable share of per-request cost in the benchmark.
 */
export class ClientGone extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}
