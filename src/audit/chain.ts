import { hash as oneShotHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import { eventJson } from './event-json.js';
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
  // One-shot hashing: a Hash object per event showed in the ingest thread's profile.
  return oneShotHash('sha256', `keeptrusts-event/v1\n${chain}\n${seq}\n${prevHash}\n${body}`, 'hex');
}

/**
 * What a signed chain record states, beside checkpoints:
 * - `prune`: retention pruning removed seqs `detail.first_seq`..`seq` (the chain had `hash` at `seq`), all older
 *   than `detail.retention_days` when it ran at `ts`; verification accepts a missing start of a chain only with one.
 * - `adopt`: at a start, the gateway found seqs `detail.from_seq`..`seq` not signed by the run that recorded them
 *   (it ended without its final checkpoint) and signed them: they were not witnessed by their writer.
 * - `break`: the gateway found its chain inconsistent with what it had signed or anchored (`detail.reason`), and
 *   stopped signing it.
 */
export type ChainRecordKind = 'prune' | 'adopt' | 'break';

export type RecordDetail = Readonly<Record<string, string | number | null>>;

export interface ChainRecord {
  chain: string;
  kind: ChainRecordKind;
  seq: number;
  hash: string;
  ts: string;
  detail: RecordDetail;
  key_id: string;
  /** Ed25519 signature of `recordMessage(...)`, base64. */
  signature: string;
}

/** The signed bytes of a record: its statement as canonical JSON, so every detail field is covered. */
export function recordMessage(r: Pick<ChainRecord, 'chain' | 'kind' | 'seq' | 'hash' | 'ts' | 'detail'>): string {
  return `keeptrusts-record/v1\n${canonicalJson({ chain: r.chain, kind: r.kind, seq: r.seq, hash: r.hash, ts: r.ts, detail: r.detail })}`;
}

export function checkpointMessage(cp: Pick<Checkpoint, 'chain' | 'seq' | 'hash' | 'ts'>): string {
  return `keeptrusts-checkpoint/v1\n${cp.chain}\n${cp.seq}\n${cp.hash}\n${cp.ts}`;
}

/** Link a batch of new events (as DecisionContext builds them: see eventJson) after the chain's head. */
export function linkEvents(chain: string, head: { seq: number; hash: string } | null, events: readonly DecisionEvent[]): ChainedEvent[] {
  return linkBodies(
    chain,
    head,
    events.map((event) => ({ id: event.id, body: eventJson(event) })),
  );
}

/** Link events that are already canonical JSON (`body` must be `canonicalJson` of the event with that id). */
export function linkBodies(chain: string, head: { seq: number; hash: string } | null, items: ReadonlyArray<{ id: string; body: string }>): ChainedEvent[] {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS_HASH;
  return items.map(({ id, body }) => {
    seq += 1;
    const hash = linkHash(chain, seq, prev, body);
    const linked = { chain, seq, id, body, prev_hash: prev, hash };
    prev = hash;
    return linked;
  });
}
