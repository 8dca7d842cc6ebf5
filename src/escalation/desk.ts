import type { Logger } from '../gateway/logger.js';
import { exceptionMatches, type EscalationRecord, type EscalationStore, type ExceptionRecord, type OpenEscalation } from './types.js';

export interface EscalationSettings {
  /** How long a request is held for a reviewer. */
  holdSeconds: number;
  /** Requests held at once on this gateway; one more is answered with a block at once. */
  maxHeld: number;
  /** How often a held request looks for its decision. */
  pollMs: number;
}

export const DEFAULT_ESCALATION: EscalationSettings = { holdSeconds: 300, maxHeld: 100, pollMs: 1_000 };

/** How a hold ended. `full`: too many held already (nothing was opened); `unavailable`: the store failed. */
export type HoldOutcome =
  | { state: 'approved' | 'denied' | 'expired'; record: EscalationRecord; clientGone: boolean }
  | { state: 'full' }
  | { state: 'unavailable' };

/** Something that waits for `ms` or until the client leaves, whichever is first. */
export interface Abortable {
  readonly aborted: boolean;
  once(event: 'abort', fn: () => void): unknown;
  off(event: 'abort', fn: () => void): unknown;
}

type OnChange = (record: EscalationRecord, clientGone: boolean) => void;

/** Active exceptions are read at most this often; a new one applies to retries within this time. */
const EXCEPTIONS_TTL_MS = 2_000;

/**
 * The gateway's side of escalations: opens one for a request a policy escalated, holds the request until a
 * reviewer decides or the hold ends (the client leaving ends it too), and tells `onChange` each step so it
 * becomes an event and a webhook. Held requests take no concurrency slot; their number is bounded.
 */
export class EscalationDesk {
  private heldNow = 0;
  /** Shutting down: holds end now (expired) instead of keeping the drain waiting. */
  private releasing = false;
  private readonly wakers = new Set<() => void>();
  private cached: { at: number; list: ExceptionRecord[] } | undefined;

  constructor(
    private readonly store: EscalationStore,
    private settings: EscalationSettings,
    private readonly hooks: { logger: Logger },
  ) {}

  get held(): number {
    return this.heldNow;
  }

  /** Ends every hold at once (the gateway is draining): each escalation expires and its client gets the block. */
  releaseAll(): void {
    this.releasing = true;
    for (const wake of this.wakers) wake();
  }

  /** A config reload may change the hold; requests already held keep theirs. */
  configure(settings: EscalationSettings): void {
    this.settings = settings;
  }

  /** The active exception covering this finding, if any (read from the store at most every 2 s). */
  async exceptionFor(at: { developer: string | null; repository: string | null; policy: string; rule: string }): Promise<ExceptionRecord | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > EXCEPTIONS_TTL_MS) {
      try {
        this.cached = { at: now, list: await this.store.exceptions({ active: true }) };
      } catch (err) {
        // No exception is known, so the request escalates: failing closed.
        this.hooks.logger.warn({ err: err instanceof Error ? err.message.slice(0, 200) : 'error' }, 'escalation exceptions could not be read');
        return undefined;
      }
    }
    return this.cached.list.find((e) => exceptionMatches(e, at, now));
  }

  /** `onChange`: each step (opened, then how it ended), for the audit trail and webhooks. */
  async hold(facts: Omit<OpenEscalation, 'holdSeconds'>, gone: Abortable, onChange: OnChange): Promise<HoldOutcome> {
    if (this.heldNow >= this.settings.maxHeld || this.releasing) return { state: 'full' };
    this.heldNow++;
    try {
      let record: EscalationRecord;
      try {
        record = await this.store.open({ ...facts, holdSeconds: this.settings.holdSeconds });
      } catch (err) {
        this.hooks.logger.error({ err: err instanceof Error ? err.message.slice(0, 200) : 'error' }, 'an escalation could not be opened; the request is refused');
        return { state: 'unavailable' };
      }
      onChange(record, false);
      const deadline = Date.parse(record.expires_at);
      const pollMs = this.settings.pollMs;
      for (;;) {
        const left = deadline - Date.now();
        await pause(Math.max(0, Math.min(pollMs, left)), gone, this.wakers);
        if (gone.aborted) return this.finish(record, true, onChange);
        if (this.releasing) return this.finish(record, false, onChange);
        const now = await this.store.get(record.id).catch(() => record);
        if (now && now.state !== 'open') return this.done(now, false, onChange);
        if (Date.now() >= deadline) return this.finish(record, false, onChange);
      }
    } finally {
      this.heldNow--;
    }
  }

  /** The hold ended without a decision seen: expire it (a decision that came first stands). */
  private async finish(record: EscalationRecord, clientGone: boolean, onChange: OnChange): Promise<HoldOutcome> {
    let after: EscalationRecord | null = null;
    for (let i = 0; i < 3 && !after; i++) after = await this.store.expire(record.id).catch(() => null);
    return this.done(after ?? { ...record, state: 'expired', decided_at: new Date().toISOString() }, clientGone, onChange);
  }

  private done(record: EscalationRecord, clientGone: boolean, onChange: OnChange): HoldOutcome {
    onChange(record, clientGone);
    this.cached = undefined; // an approval may have made an exception
    const state = record.state === 'open' ? 'expired' : record.state;
    return { state, record, clientGone };
  }
}

function pause(ms: number, gone: Abortable, wakers: Set<() => void>): Promise<void> {
  if (gone.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      gone.off('abort', done);
      wakers.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    gone.once('abort', done);
    wakers.add(done);
  });
}
