import type { ChainedEvent, Checkpoint } from './chain.js';
import type { DecisionEvent } from './event.js';
import type { Verdict } from '../policy/types.js';

/** An event read back from a store, with its place in its chain and its position in the store (for cursors). */
export interface StoredEvent extends ChainedEvent {
  /** Insertion order across all chains in this store; cursors and live tails follow it. */
  pos: number;
  event: DecisionEvent;
  /** The filter columns as stored, when the read asked for them (verification compares them to the body). */
  columns?: IndexedColumns;
}

/** Row filters shared by `kt events`, the control plane API and the console. All optional, all ANDed. */
export interface EventFilter {
  /** Inclusive lower and exclusive upper bound on the event timestamp, epoch milliseconds. */
  sinceMs?: number;
  untilMs?: number;
  verdict?: Verdict[];
  /** Events in which this policy kind took part. */
  policy?: string;
  developer?: string;
  repository?: string;
  team?: string;
  model?: string;
  client?: string;
  gateway?: string;
  /** Only events after this store position (live tails), or before it (pages going back in time). */
  afterPos?: number;
  beforePos?: number;
  /** Newest first (default) or oldest first. */
  order?: 'desc' | 'asc';
  limit?: number;
}

export interface PublicKeyRecord {
  key_id: string;
  /** SPKI PEM. */
  public_key: string;
  created_at: string;
}

/**
 * Where decision events live. One interface for the embedded SQLite store and for PostgreSQL, for a gateway
 * (which appends to its own chain) and for the control plane (which ingests chains that gateways built).
 */
export interface EventStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Link events after the chain's head and commit them in one transaction; resolves once they are durable. */
  append(chain: string, events: readonly DecisionEvent[]): Promise<ChainedEvent[]>;
  /**
   * Store events that another process already linked (the control plane receiving a gateway's chain).
   * Idempotent on event id; an event that would fork the chain (same place, other hash) is refused.
   */
  ingest(events: readonly ChainedEvent[]): Promise<{ inserted: number; duplicates: number }>;
  head(chain: string): Promise<{ seq: number; hash: string } | null>;
  chains(): Promise<string[]>;
  query(filter: EventFilter): Promise<StoredEvent[]>;
  get(id: string): Promise<StoredEvent | null>;
  /** Every event of a chain from `fromSeq` on, in chain order, read in pages (verification, shipping). */
  scan(chain: string, fromSeq?: number, pageSize?: number): AsyncIterable<StoredEvent>;
  /** The lowest seq still stored for a chain (after pruning), or null when the chain is empty. */
  firstSeq(chain: string): Promise<number | null>;
  addCheckpoint(cp: Checkpoint): Promise<void>;
  checkpoints(chain: string): Promise<Checkpoint[]>;
  registerKey(key: PublicKeyRecord): Promise<void>;
  keys(): Promise<PublicKeyRecord[]>;
  /**
   * Remove whole checkpoint segments whose newest event is older than `beforeMs`. The checkpoint ending the
   * last removed segment stays, so the chain remains verifiable from there.
   */
  prune(chain: string, beforeMs: number): Promise<{ removed: number }>;
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** Columns kept beside the body for filtering; verification checks them against the body. */
export interface IndexedColumns {
  ts_ms: number;
  verdict: string;
  developer: string | null;
  repository: string | null;
  team: string | null;
  model: string | null;
  client: string | null;
  gateway: string;
  /** `,kind,kind,` so a LIKE '%,kind,%' finds events in which a policy took part. */
  policies: string;
}

export function indexedColumns(event: DecisionEvent): IndexedColumns {
  return {
    ts_ms: Date.parse(event.ts),
    verdict: event.verdict,
    developer: event.identity.developer,
    repository: event.identity.repository,
    team: event.identity.team,
    model: event.target?.model ?? event.model_requested,
    client: event.identity.client,
    gateway: event.gateway_id,
    policies: `,${[...new Set(event.policies.map((p) => p.kind))].join(',')},`,
  };
}

/** An ingested event would fork a chain: same place, different event. */
export class ChainConflictError extends Error {
  override name = 'ChainConflictError';
}
