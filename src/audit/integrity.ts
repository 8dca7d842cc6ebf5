import { GENESIS_HASH, type Checkpoint } from './chain.js';
import { verifyCheckpoint, type SigningKey } from './keys.js';
import { CHECKPOINTED_META, type EventStore } from './store.js';
import { eventAt, walkChain, type ExternalPin } from './verify.js';

/** A (seq, hash) this gateway signed. */
export interface Signed {
  seq: number;
  hash: string;
}

/** Why the gateway will not sign its chain: it no longer matches what was signed or anchored. */
export interface Break {
  /** The seq where the chain and the signed (or anchored) state part. */
  seq: number;
  /** A fixed code, for logs and the break record. */
  reason: 'signed-event-changed' | 'chain-shorter-than-signed' | 'checkpoints-removed' | 'anchor-mismatch' | 'tail-does-not-verify';
  message: string;
}

export interface StartCheck {
  /** The newest checkpoint this key signed (its signature checked), or null. */
  lastSigned: Signed | null;
  /** The first seq no signature of this key covers, when events after lastSigned exist. */
  unsignedFrom: number | null;
  problem: Break | null;
}

type Store = Pick<EventStore, 'checkpoints' | 'records' | 'firstSeq' | 'head' | 'scan' | 'getBlobs' | 'getMeta'>;

/**
 * What a gateway checks before it signs the head of its chain at start. Signing there would otherwise bless
 * whatever the store holds after the last signature: events added or edited while no gateway ran. So:
 * the newest checkpoint of its own key (signature checked) must still match its event, no checkpoint the
 * store's high-water mark remembers may be gone, the newest anchor in the anchor file (if any) must still be
 * on the chain, and every event after the last signature must verify (links, hashes, canonical bodies,
 * columns, captured texts). An unsigned tail that passes is still only adopted: the caller records that it
 * was signed at a start, not by the run that wrote it.
 */
export async function checkBeforeSigning(store: Store, chain: string, key: SigningKey, anchor: ExternalPin | null): Promise<StartCheck> {
  const [checkpoints, head, first] = await Promise.all([store.checkpoints(chain), store.head(chain), store.firstSeq(chain)]);
  const own = newestOwn(checkpoints, key);
  const lastSigned = own ? { seq: own.seq, hash: own.hash } : null;
  const result: StartCheck = { lastSigned, unsignedFrom: null, problem: null };
  const broken = (problem: Break): StartCheck => ({ ...result, problem });

  const highWater = Number(await store.getMeta(`${CHECKPOINTED_META}${chain}`)) || 0;
  const newest = checkpoints.at(-1)?.seq ?? 0;
  if (highWater > newest) {
    return broken({ seq: newest + 1, reason: 'checkpoints-removed', message: `the store's high-water mark says seq ${highWater} was signed, but the newest checkpoint is at seq ${newest}` });
  }
  if (lastSigned) {
    const problem = await stillHolds(store, chain, lastSigned, head, 'this gateway signed');
    if (problem) return broken(problem);
  }
  if (anchor && (first === null || anchor.seq >= first)) {
    const problem = await stillHolds(store, chain, anchor, head, `${anchor.source} anchored`);
    if (problem) return broken({ ...problem, reason: 'anchor-mismatch' });
  }
  if (!head || head.seq <= (lastSigned?.seq ?? 0)) return result;

  // The unsigned tail: from the last signature on, or the whole retained chain when this key never signed it.
  let from: number;
  let prevHash: string | null;
  if (lastSigned && (first === null || lastSigned.seq + 1 >= first)) {
    from = lastSigned.seq + 1;
    prevHash = lastSigned.hash;
  } else {
    from = first ?? 1;
    // A pruned start links to the hash its prune record states; without one, kt events verify reports the gap.
    prevHash = from === 1 ? GENESIS_HASH : ((await store.records(chain)).find((r) => r.kind === 'prune' && r.seq === from - 1)?.hash ?? null);
  }
  const walked = await walkChain(store, chain, from, prevHash);
  if (walked.problem) return broken({ seq: walked.problem.seq, reason: 'tail-does-not-verify', message: walked.problem.message });
  return { ...result, unsignedFrom: from };
}

/** The event at `signed.seq` must still be there with that hash (events pruned under a prune record excepted). */
export async function stillHolds(
  store: Pick<EventStore, 'scan' | 'records'>,
  chain: string,
  signed: Signed,
  head: { seq: number } | null,
  who: string,
): Promise<Break | null> {
  if (!head || head.seq < signed.seq) {
    return {
      seq: (head?.seq ?? 0) + 1,
      reason: 'chain-shorter-than-signed',
      message: `${who} seq ${signed.seq}, but the chain ${head ? `ends at seq ${head.seq}` : 'has no events'}: events were removed`,
    };
  }
  const e = await eventAt(store, chain, signed.seq);
  if (e) {
    if (e.hash === signed.hash) return null;
    return { seq: signed.seq, reason: 'signed-event-changed', message: `${who} seq ${signed.seq}, but the event there (${e.id}) has another hash: the chain was rewritten` };
  }
  const pruned = (await store.records(chain)).some((r) => r.kind === 'prune' && r.seq >= signed.seq);
  if (pruned) return null;
  return { seq: signed.seq, reason: 'chain-shorter-than-signed', message: `${who} seq ${signed.seq}, but the event there is gone and no prune record covers it` };
}

function newestOwn(checkpoints: readonly Checkpoint[], key: SigningKey): Checkpoint | null {
  for (let i = checkpoints.length - 1; i >= 0; i--) {
    const cp = checkpoints[i]!;
    if (cp.key_id === key.keyId && verifyCheckpoint(cp, key.publicKeyPem)) return cp;
  }
  return null;
}
