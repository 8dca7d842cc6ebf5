import { blobHash, blobRefs } from './blobs.js';
import { canonicalJson } from './canonical.js';
import { GENESIS_HASH, linkHash, type Checkpoint } from './chain.js';
import type { DecisionEvent } from './event.js';
import { verifyCheckpoint } from './keys.js';
import { indexedColumns, REPORT_COLUMNS, type EventStore, type IndexedColumns, type StoredEvent } from './store.js';

export type ProblemKind = 'altered' | 'removed' | 'reordered' | 'truncated' | 'bad-checkpoint' | 'unanchored';

export interface ChainProblem {
  kind: ProblemKind;
  chain: string;
  /** The first event found wrong, or the event right after a gap; null when events at the end are gone. */
  eventId: string | null;
  seq: number;
  message: string;
}

export interface ChainReport {
  chain: string;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  checkpoints: number;
  /** Events after the newest signed checkpoint: linked, but not yet covered by a signature. */
  unsignedTail: number;
  problem: ChainProblem | null;
}

/**
 * Walk a chain from its oldest stored event. Each event's body must be canonical, hash to its stored hash
 * with the previous event's hash, sit at the next seq, and agree with the columns filters use. Signed
 * checkpoints pin hashes: a chain rewritten from some point on no longer matches them, and events removed
 * from the end show as a checkpoint beyond the last event. `trustedKeys` maps key ids to PEM public keys;
 * a checkpoint signed by any other key is a problem.
 */
export async function verifyChain(store: EventStore, chain: string, trustedKeys: ReadonlyMap<string, string>): Promise<ChainReport> {
  const checkpoints = await store.checkpoints(chain);
  const report: ChainReport = { chain, events: 0, firstSeq: null, lastSeq: null, checkpoints: checkpoints.length, unsignedTail: 0, problem: null };
  const fail = (kind: ProblemKind, eventId: string | null, seq: number, message: string): ChainReport => {
    report.problem = { kind, chain, eventId, seq, message };
    return report;
  };

  for (const cp of checkpoints) {
    const pem = trustedKeys.get(cp.key_id);
    if (!pem) return fail('bad-checkpoint', null, cp.seq, `checkpoint at seq ${cp.seq} is signed by ${cp.key_id}, which is not a trusted key`);
    if (!verifyCheckpoint(cp, pem)) return fail('bad-checkpoint', null, cp.seq, `checkpoint at seq ${cp.seq} has an invalid signature`);
  }
  const bySeq = new Map<number, Checkpoint>(checkpoints.map((cp) => [cp.seq, cp]));

  const first = await store.firstSeq(chain);
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  if (first !== null && first > 1) {
    // Retention pruning keeps the checkpoint that ended the last removed segment: it anchors the rest.
    const anchor = bySeq.get(first - 1);
    if (!anchor) {
      const e = await firstEvent(store, chain, first);
      return fail('unanchored', e?.id ?? null, first, `events before seq ${first} are missing and no signed checkpoint at seq ${first - 1} anchors ${e?.id ?? 'the chain'}`);
    }
    expectedSeq = first;
    prevHash = anchor.hash;
  }

  for await (const row of store.scan(chain, first ?? 1)) {
    report.events++;
    report.firstSeq ??= row.seq;
    report.lastSeq = row.seq;
    if (row.seq !== expectedSeq) {
      return fail('removed', row.id, row.seq, `${row.id} is at seq ${row.seq} but seq ${expectedSeq} is missing: ${row.seq - expectedSeq} event(s) before it were removed`);
    }
    const problem = checkRow(row, prevHash) ?? (await checkBlobs(store, row));
    if (problem) return fail(problem.kind, row.id, row.seq, problem.message);
    const cp = bySeq.get(row.seq);
    if (cp && cp.hash !== row.hash) {
      return fail('altered', row.id, row.seq, `${row.id} does not match the signed checkpoint at seq ${row.seq}: the chain was rewritten at or before it`);
    }
    prevHash = row.hash;
    expectedSeq++;
  }

  const lastSeq = expectedSeq - 1;
  const beyond = checkpoints.filter((cp) => cp.seq > lastSeq);
  if (beyond.length > 0) {
    return fail('truncated', null, lastSeq + 1, `a signed checkpoint covers seq ${beyond[beyond.length - 1]!.seq} but the chain ends at seq ${lastSeq}: events after it were removed`);
  }
  const lastSigned = checkpoints.length ? checkpoints[checkpoints.length - 1]!.seq : 0;
  report.unsignedTail = Math.max(0, lastSeq - lastSigned);
  return report;
}

export function checkRow(row: StoredEvent, prevHash: string): { kind: ProblemKind; message: string } | null {
  let event: DecisionEvent;
  try {
    event = JSON.parse(row.body) as DecisionEvent;
  } catch {
    return { kind: 'altered', message: `${row.id}: stored body is not JSON` };
  }
  if (canonicalJson(event) !== row.body || event.id !== row.id) return { kind: 'altered', message: `${row.id}: stored body was edited` };
  if (row.prev_hash !== prevHash) {
    return { kind: 'reordered', message: `${row.id}: its link to the previous event is broken: an event before it was altered, removed or moved` };
  }
  if (linkHash(row.chain, row.seq, row.prev_hash, row.body) !== row.hash) return { kind: 'altered', message: `${row.id}: content does not match its hash` };
  if (row.columns) {
    const expected = indexedColumns(event);
    for (const [name, value] of Object.entries(expected)) {
      // A report column the store does not have yet (a SQLite file read before its upgrade, an older control plane)
      // cannot be compared. One it has must equal the body's value exactly: NULL matches only a null.
      if (!(name in row.columns) && (REPORT_COLUMNS as readonly string[]).includes(name)) continue;
      if (row.columns[name as keyof IndexedColumns] !== value) return { kind: 'altered', message: `${row.id}: stored ${name} column was edited` };
    }
  }
  return null;
}

/** Captured texts stored by hash must still be there and still hash to what the (hashed) event says. */
async function checkBlobs(store: EventStore, row: StoredEvent): Promise<{ kind: ProblemKind; message: string } | null> {
  const refs = blobRefs(row.event);
  if (refs.length === 0) return null;
  const texts = await store.getBlobs(refs);
  for (const h of refs) {
    const text = texts.get(h);
    if (text === undefined) return { kind: 'altered', message: `${row.id}: a captured text it refers to (${h.slice(0, 12)}…) was removed` };
    if (blobHash(text) !== h) return { kind: 'altered', message: `${row.id}: a captured text it refers to (${h.slice(0, 12)}…) was edited` };
  }
  return null;
}

async function firstEvent(store: EventStore, chain: string, seq: number): Promise<StoredEvent | null> {
  for await (const e of store.scan(chain, seq, 1)) return e;
  return null;
}
