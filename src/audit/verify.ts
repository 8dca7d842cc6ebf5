import { blobHash, blobRefs } from './blobs.js';
import { canonicalJson } from './canonical.js';
import { GENESIS_HASH, linkHash, type ChainRecord, type Checkpoint } from './chain.js';
import type { DecisionEvent } from './event.js';
import { verifyCheckpoint, verifyRecord } from './keys.js';
import { indexedColumns, REPORT_COLUMNS, type EventStore, type IndexedColumns, type StoredEvent } from './store.js';

export type ProblemKind =
  | 'altered'
  | 'removed'
  | 'reordered'
  | 'truncated'
  | 'bad-checkpoint'
  | 'bad-record'
  | 'bad-anchor'
  | 'bad-prune'
  | 'break';

export interface ChainProblem {
  kind: ProblemKind;
  chain: string;
  /** The first event found wrong, or the event right after a gap; null when events at the end are gone. */
  eventId: string | null;
  seq: number;
  message: string;
}

/**
 * A (seq, hash) of a chain kept outside the store: a line of an anchor file (a signed checkpoint copied out by
 * `kt events anchor` or the gateway) or the head of a control plane's copy. The store cannot rewrite it.
 */
export interface ExternalPin {
  chain: string;
  seq: number;
  hash: string;
  /** Where it came from, for messages: `anchors.jsonl line 3`, `the control plane http://…`. */
  source: string;
  /** When it was taken, when known. */
  at: string | null;
  /** The signed checkpoint, for anchors: its signature must hold under a trusted key. */
  checkpoint?: Checkpoint;
}

export interface VerifyOptions {
  /** Anchors and control plane heads for this chain. */
  external?: readonly ExternalPin[];
  /** The store's high-water mark for the chain (`checkpointed:<chain>` in meta), when the store's meta is readable. */
  highWater?: number | null;
}

export interface PruneSummary {
  /** Seqs 1..throughSeq were removed by retention pruning. */
  throughSeq: number;
  at: string;
  retentionDays: number;
  /** The newest removed event's time (its body's ts), as the signed record states. */
  newestRemoved: string;
}

export interface ChainReport {
  chain: string;
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  checkpoints: number;
  /** Events after the newest signature (checkpoint or record): linked, but not covered by a signature. */
  unsignedTail: number;
  /** The newest seq a valid signature covers; null when none does. */
  signedSeq: number | null;
  /** The keys whose signatures cover the chain. */
  signedBy: string[];
  pruned: PruneSummary | null;
  /** Seqs signed at a gateway start rather than by the run that recorded them (it ended without signing). */
  adopted: Array<{ fromSeq: number; toSeq: number; at: string }>;
  /** External pins (anchors, control plane) compared with the chain. */
  anchored: {
    checked: number;
    /** The newest pin checked, or null. */
    seq: number | null;
    source: string | null;
    at: string | null;
    /** Pins older than the retained chain (their events were pruned under a signed prune record). */
    beforeRetention: number;
  };
  problem: ChainProblem | null;
}

interface Pin {
  seq: number;
  hash: string;
  /** Names the pin in a message: "the signed checkpoint at seq 12". */
  what: string;
  external: ExternalPin | null;
}

const DAY_MS = 86_400_000;

/**
 * Walk a chain from its oldest stored event. Each event's body must be canonical, hash to its stored hash
 * with the previous event's hash, sit at the next seq, and agree with the columns filters use. Every signed
 * statement about the chain pins a hash at a seq: checkpoints, records (prune, adopt, break) and the
 * external pins given (anchors, a control plane's head). A chain rewritten from some point on no longer
 * matches the pins after that point, and events removed from the end leave a pin beyond the last event.
 * A missing start of the chain must be explained by signed prune records that cover it without a gap, each
 * removing only events older than its retention period. `trustedKeys` maps key ids to PEM public keys; a
 * statement signed by any other key is a problem.
 */
export async function verifyChain(
  store: Pick<EventStore, 'checkpoints' | 'records' | 'firstSeq' | 'scan' | 'getBlobs'>,
  chain: string,
  trustedKeys: ReadonlyMap<string, string>,
  opts: VerifyOptions = {},
): Promise<ChainReport> {
  const [checkpoints, records] = await Promise.all([store.checkpoints(chain), store.records(chain)]);
  const external = (opts.external ?? []).filter((p) => p.chain === chain);
  const report: ChainReport = {
    chain,
    events: 0,
    firstSeq: null,
    lastSeq: null,
    checkpoints: checkpoints.length,
    unsignedTail: 0,
    signedSeq: null,
    signedBy: [],
    pruned: null,
    adopted: [],
    anchored: { checked: 0, seq: null, source: null, at: null, beforeRetention: 0 },
    problem: null,
  };
  const fail = (kind: ProblemKind, eventId: string | null, seq: number, message: string): ChainReport => {
    report.problem = { kind, chain, eventId, seq, message };
    return report;
  };

  for (const cp of checkpoints) {
    const pem = trustedKeys.get(cp.key_id);
    if (!pem) return fail('bad-checkpoint', null, cp.seq, `checkpoint at seq ${cp.seq} is signed by ${cp.key_id}, which is not a trusted key`);
    if (!verifyCheckpoint(cp, pem)) return fail('bad-checkpoint', null, cp.seq, `checkpoint at seq ${cp.seq} has an invalid signature`);
  }
  for (const r of records) {
    const pem = trustedKeys.get(r.key_id);
    if (!pem) return fail('bad-record', null, r.seq, `the ${r.kind} record at seq ${r.seq} is signed by ${r.key_id}, which is not a trusted key`);
    if (!verifyRecord(r, pem)) return fail('bad-record', null, r.seq, `the ${r.kind} record at seq ${r.seq} has an invalid signature`);
  }
  for (const p of external) {
    if (!p.checkpoint) continue;
    const pem = trustedKeys.get(p.checkpoint.key_id);
    if (!pem) return fail('bad-anchor', null, p.seq, `the anchor in ${p.source} is signed by ${p.checkpoint.key_id}, which is not a trusted key (pass its public key with --public-key)`);
    if (!verifyCheckpoint(p.checkpoint, pem)) return fail('bad-anchor', null, p.seq, `the anchor in ${p.source} has an invalid signature: the anchor file was edited`);
  }

  const prunes = records.filter((r) => r.kind === 'prune').sort((a, b) => a.seq - b.seq);
  const pruneProblem = checkPrunes(prunes);
  if (pruneProblem) return fail(pruneProblem.kind, null, pruneProblem.seq, pruneProblem.message);
  const lastPrune = prunes.at(-1);
  if (lastPrune) {
    report.pruned = {
      throughSeq: lastPrune.seq,
      at: lastPrune.ts,
      retentionDays: Number(lastPrune.detail.retention_days),
      newestRemoved: new Date(Number(lastPrune.detail.newest_removed_ms)).toISOString(),
    };
  }

  const pins: Pin[] = [
    ...checkpoints.map((cp) => ({ seq: cp.seq, hash: cp.hash, what: `the signed checkpoint at seq ${cp.seq}`, external: null })),
    ...records.map((r) => ({ seq: r.seq, hash: r.hash, what: `the signed ${r.kind} record at seq ${r.seq} (${r.ts})`, external: null })),
    ...external.map((p) => ({ seq: p.seq, hash: p.hash, what: p.checkpoint ? `the anchor in ${p.source}${p.at ? ` (taken ${p.at})` : ''}` : `the head of ${p.source}`, external: p })),
  ];
  const bySeq = new Map<number, Pin[]>();
  for (const p of pins) bySeq.set(p.seq, [...(bySeq.get(p.seq) ?? []), p]);

  const first = await store.firstSeq(chain);
  let startSeq = 1;
  let prevHash = GENESIS_HASH;
  if (first !== null && first > 1) {
    const base = prunes.find((r) => r.seq === first - 1);
    if (!base) {
      const e = await eventAt(store, chain, first);
      return fail(
        'removed',
        e?.id ?? null,
        first,
        `events seq 1–${first - 1} are missing and no signed prune record explains their removal: they were deleted, not pruned by retention (a store pruned by a version before prune records shows this too)`,
      );
    }
    startSeq = first;
    prevHash = base.hash;
    for (const p of bySeq.get(first - 1) ?? []) {
      if (p.hash !== base.hash) return fail('altered', null, first - 1, `${p.what} does not match the prune record at the same seq: the chain was rewritten`);
    }
  }

  const walked = await walkChain(store, chain, startSeq, prevHash, (row) => {
    for (const p of bySeq.get(row.seq) ?? []) {
      if (p.hash !== row.hash) return { kind: 'altered', message: `${row.id} does not match ${p.what}: the chain was rewritten at or before it` };
    }
    return null;
  });
  report.events = walked.count;
  report.firstSeq = walked.firstSeq;
  report.lastSeq = walked.lastSeq;
  if (walked.problem) return fail(walked.problem.kind, walked.problem.eventId, walked.problem.seq, walked.problem.message);

  const lastSeq = walked.lastSeq ?? startSeq - 1;
  const beyond = pins.filter((p) => p.seq > lastSeq).sort((a, b) => b.seq - a.seq)[0];
  if (beyond) {
    const ends = lastSeq > 0 ? `the chain ends at seq ${lastSeq}` : 'the chain has no events';
    return fail('truncated', null, lastSeq + 1, `${beyond.what} covers seq ${beyond.seq} but ${ends}: events after it were removed`);
  }
  const newestCheckpoint = checkpoints.at(-1)?.seq ?? 0;
  if (opts.highWater != null && opts.highWater > newestCheckpoint) {
    return fail(
      'truncated',
      null,
      newestCheckpoint + 1,
      `the store's high-water mark says the chain was signed through seq ${opts.highWater}, but its newest checkpoint is at seq ${newestCheckpoint}: checkpoints (and the events they covered) were removed`,
    );
  }
  const breakRecord = records.find((r) => r.kind === 'break');
  if (breakRecord) {
    return fail(
      'break',
      null,
      Number(breakRecord.detail.at_seq ?? breakRecord.seq),
      `the gateway recorded on ${breakRecord.ts} that its chain no longer matched what it had signed or anchored (${String(breakRecord.detail.message ?? breakRecord.detail.reason)}); it stopped signing then`,
    );
  }

  // Adopted events since pruned are no one's concern any more.
  for (const r of records) if (r.kind === 'adopt' && r.seq >= startSeq) report.adopted.push({ fromSeq: Math.max(Number(r.detail.from_seq), startSeq), toSeq: r.seq, at: r.ts });
  const signedPins = [...checkpoints.map((cp) => cp.seq), ...records.filter((r) => r.kind !== 'break').map((r) => r.seq)].filter((s) => s <= lastSeq);
  report.signedSeq = signedPins.length ? Math.max(...signedPins) : null;
  report.signedBy = [...new Set([...checkpoints.map((cp) => cp.key_id), ...records.map((r) => r.key_id)])];
  report.unsignedTail = Math.max(0, lastSeq - Math.max(report.signedSeq ?? 0, startSeq - 1));
  for (const p of external) {
    if (p.seq < startSeq - 1) {
      report.anchored.beforeRetention++;
      continue;
    }
    report.anchored.checked++;
    if (report.anchored.seq === null || p.seq >= report.anchored.seq) Object.assign(report.anchored, { seq: p.seq, source: p.source, at: p.at });
  }
  return report;
}

/**
 * Prune records must cover the start of the chain without a gap (the first from seq 1, each next one from
 * where the last ended), and each must state a pruning the rules allow: every removed event older than the
 * retention period at the time of the prune.
 */
function checkPrunes(prunes: readonly ChainRecord[]): { kind: ProblemKind; seq: number; message: string } | null {
  let expectFrom = 1;
  for (const r of prunes) {
    const d = r.detail;
    const from = Number(d.first_seq);
    const days = Number(d.retention_days);
    const before = Number(d.before_ms);
    const newest = Number(d.newest_removed_ms);
    const at = Date.parse(r.ts);
    if (![from, days, before, newest, at].every(Number.isFinite) || !Number.isInteger(days) || days < 1 || from > r.seq) {
      return { kind: 'bad-prune', seq: r.seq, message: `the prune record at seq ${r.seq} is malformed` };
    }
    if (from !== expectFrom) {
      return {
        kind: 'removed',
        seq: expectFrom,
        message: `seq ${expectFrom}–${from - 1} are not covered by any signed prune record: they were removed outside retention pruning`,
      };
    }
    if (before + days * DAY_MS > at || newest >= before) {
      return {
        kind: 'bad-prune',
        seq: r.seq,
        message: `the prune record at seq ${r.seq} (${r.ts}) removed events younger than its retention of ${days} days (newest removed: ${new Date(newest).toISOString()})`,
      };
    }
    expectFrom = r.seq + 1;
  }
  return null;
}

export interface WalkResult {
  /** Events read, the one with a problem included. */
  count: number;
  firstSeq: number | null;
  /** The last event read (with a problem: that event). */
  lastSeq: number | null;
  lastHash: string | null;
  problem: { kind: ProblemKind; eventId: string | null; seq: number; message: string } | null;
}

/**
 * Check a chain's events from `fromSeq` on: contiguous seqs, canonical bodies, links (the first event must
 * link to `prevHash`; null takes its link as given), hashes, filter columns and captured texts. `visit` can
 * add checks per event. Stops at the first problem.
 */
export async function walkChain(
  store: Pick<EventStore, 'scan' | 'getBlobs'>,
  chain: string,
  fromSeq: number,
  prevHash: string | null,
  visit?: (row: StoredEvent) => { kind: ProblemKind; message: string } | null,
): Promise<WalkResult> {
  const result: WalkResult = { count: 0, firstSeq: null, lastSeq: null, lastHash: null, problem: null };
  let expectedSeq = fromSeq;
  let prev = prevHash;
  for await (const row of store.scan(chain, fromSeq)) {
    result.count++;
    result.firstSeq ??= row.seq;
    result.lastSeq = row.seq;
    result.lastHash = row.hash;
    const problem = visitRow(row, expectedSeq, prev ?? row.prev_hash) ?? (await checkBlobs(store, row)) ?? visit?.(row) ?? null;
    if (problem) {
      result.problem = { ...problem, eventId: row.id, seq: row.seq };
      return result;
    }
    prev = row.hash;
    expectedSeq++;
  }
  return result;
}

function visitRow(row: StoredEvent, expectedSeq: number, prevHash: string): { kind: ProblemKind; message: string } | null {
  if (row.seq !== expectedSeq) {
    return { kind: 'removed', message: `${row.id} is at seq ${row.seq} but seq ${expectedSeq} is missing: ${row.seq - expectedSeq} event(s) before it were removed` };
  }
  return checkRow(row, prevHash);
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
async function checkBlobs(store: Pick<EventStore, 'getBlobs'>, row: StoredEvent): Promise<{ kind: ProblemKind; message: string } | null> {
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

export async function eventAt(store: Pick<EventStore, 'scan'>, chain: string, seq: number): Promise<StoredEvent | null> {
  for await (const e of store.scan(chain, seq, 1)) return e.seq === seq ? e : null;
  return null;
}
