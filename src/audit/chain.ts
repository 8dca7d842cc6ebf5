import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { DecisionEvent } from './event.js';

/** The previous hash of a chain's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/** An event as it sits in a chain: its place, its canonical bytes, and the link to the event before it. */
export interface ChainedEvent {
  chain: string;
  seq: number;
  id: string;
  /** Canonical JSON of the DecisionEvent; the hashed bytes. */
  body: string;
  prev_hash: string;
  hash: string;
}

/** A signed statement that a chain had `hash` at `seq`. */
export interface Checkpoint {
  chain: string;
  seq: number;
  hash: string;
  ts: string;
  key_id: string;
  /** Ed25519 signature of `checkpointMessage(...)`, base64. */
  signature: string;
}

/**
 * The hash of one link: the chain's name, the event's place and the previous hash are hashed with the event,
 * so moving an event to another place or another chain breaks the link as surely as editing it.
 */
export function linkHash(chain: string, seq: number, prevHash: string, body: string): string {
  return createHash('sha256').update(`keeptrusts-event/v1\n${chain}\n${seq}\n${prevHash}\n`).update(body).digest('hex');
}

export function checkpointMessage(cp: Pick<Checkpoint, 'chain' | 'seq' | 'hash' | 'ts'>): string {
  return `keeptrusts-checkpoint/v1\n${cp.chain}\n${cp.seq}\n${cp.hash}\n${cp.ts}`;
}

/** Link a batch of new events after the chain's head. */
export function linkEvents(chain: string, head: { seq: number; hash: string } | null, events: readonly DecisionEvent[]): ChainedEvent[] {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    seq += 1;
    const body = canonicalJson(event);
    const hash = linkHash(chain, seq, prev, body);
    const linked = { chain, seq, id: event.id, body, prev_hash: prev, hash };
    prev = hash;
    return linked;
  });
}
