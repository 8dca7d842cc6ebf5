import type { ChainedEvent, ChainRecord, Checkpoint } from './chain.js';
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
  /**
   * Free-text search: a case-insensitive substring of the event id or one of the small filter columns (verdict,
   * developer, repository, team, model, client, gateway, policy kinds). Bodies are never scanned.
   */
  q?: string;
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
  append(chain: string, events: readonly DecisionEvent[], blobs?: ReadonlyMap<string, string>): Promise<ChainedEvent[]>;
  /**
   * Captured texts by SHA-256 (hex). Long captured segments are stored once, however many events (turns of
   * one conversation) capture them; events refer to them by hash, so the chain still covers their content.
   */
  getBlobs(sha256s: readonly string[]): Promise<Map<string, string>>;
  /**
   * Store events that another process already linked (the control plane receiving a gateway's chain).
   * Idempotent on event id; an event that would fork the chain (same place, other hash) is refused.
   */
  ingest(events: readonly ChainedEvent[], blobs?: ReadonlyMap<string, string>): Promise<{ inserted: number; duplicates: number }>;
  head(chain: string): Promise<{ seq: number; hash: string } | null>;
  chains(): Promise<string[]>;
  query(filter: EventFilter): Promise<StoredEvent[]>;
  get(id: string): Promise<StoredEvent | null>;
  /** Every event of a chain from `fromSeq` on, in chain order, read in pages (verification, shipping). */
  scan(chain: string, fromSeq?: number, pageSize?: number): AsyncIterable<StoredEvent>;
  /** The lowest seq still stored for a chain (after pruning), or null when the chain is empty. */
  firstSeq(chain: string): Promise<number | null>;
  /**
   * Store a signed checkpoint, and raise the chain's high-water mark in meta (`checkpointed:<chain>`) to its seq
   * if it is higher: a second, independent trace of how far the chain was signed, which verification compares.
   */
  addCheckpoint(cp: Checkpoint): Promise<void>;
  checkpoints(chain: string): Promise<Checkpoint[]>;
  /** Store a signed chain record (prune, adopt, break); a second record of one kind at one seq is ignored. */
  addRecord(record: ChainRecord): Promise<void>;
  /** A chain's signed records, in the order they were stored. */
  records(chain: string): Promise<ChainRecord[]>;
  registerKey(key: PublicKeyRecord): Promise<void>;
  keys(): Promise<PublicKeyRecord[]>;
  /**
   * Remove the whole checkpoint segments from the start of the chain whose events are all older than the
   * retention period, never the head. Before anything is deleted the segment is checked (links, hashes,
   * columns, the checkpoint at its end) and the age of every event is read from its body: a segment that does
   * not verify, or holds an event younger than retention, is refused (PruneRefusedError) and kept as evidence.
   * `sign` turns the facts into a signed `prune` record, stored in the same transaction as the delete.
   */
  prune(chain: string, retention: Retention, sign: (statement: UnsignedRecord) => ChainRecord): Promise<{ removed: number; record: ChainRecord | null }>;
  getMeta(key: string): Promise<string | null>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * Requests, tokens and cost of the events matching `filter` (positions, order and limit are ignored), one row
   * per value of `by`; `day` is the UTC date of the event. Rows are sorted by sortUsageRows.
   */
  usageReport(filter: EventFilter, by: UsageGroupBy): Promise<UsageRow[]>;
  close(): Promise<void>;
}

/** How long events are kept; `nowMs` (default: the clock) is what their age is measured from. */
export interface Retention {
  days: number;
  nowMs?: number;
}

export type UnsignedRecord = Omit<ChainRecord, 'key_id' | 'signature'>;

/** The meta key of a chain's signed high-water mark (the highest checkpoint seq ever stored). */
export const CHECKPOINTED_META = 'checkpointed:';

export const USAGE_GROUP_BY = ['developer', 'repository', 'team', 'model', 'provider', 'gateway', 'day', 'verdict'] as const;
export type UsageGroupBy = (typeof USAGE_GROUP_BY)[number];

/** One group of a usage report. */
export interface UsageRow {
  /** The developer, repository, team, model, provider or UTC date (YYYY-MM-DD); null for events without one. */
  key: string | null;
  /** Decision events in the group (with `log_all_access: false`, only those a policy acted on). */
  requests: number;
  /** Sums over the events that carry counts; 0 when none does. */
  input_tokens: number;
  output_tokens: number;
  /** Sum of the priced events' cost; null when no event in the group was priced. */
  cost_usd: number | null;
  /** Events with token counts but no price (an unknown model): their cost is missing from cost_usd. */
  unpriced_requests: number;
}

/** The columns free-text search (`EventFilter.q`) looks in. */
export const SEARCH_COLUMNS = ['id', 'verdict', 'developer', 'repository', 'team', 'model', 'client', 'gateway', 'policies'] as const;

/** A LIKE pattern matching `q` anywhere; `%`, `_` and backslashes in `q` are escaped with a backslash. */
export function searchPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Days first to last; otherwise most expensive first, then most requests, then by key (no key last). */
export function sortUsageRows(rows: UsageRow[], by: UsageGroupBy): UsageRow[] {
  const byKey = (a: UsageRow, b: UsageRow) => (a.key === b.key ? 0 : a.key === null ? 1 : b.key === null ? -1 : a.key < b.key ? -1 : 1);
  if (by === 'day') return rows.sort(byKey);
  return rows.sort((a, b) => (b.cost_usd ?? 0) - (a.cost_usd ?? 0) || b.requests - a.requests || byKey(a, b));
}

/** The UTC date of a day number (epoch milliseconds / 86,400,000, as the stores group by). */
export function usageDayKey(dayNumber: number): string {
  return new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
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
  /**
   * Report columns (added with usage reports; a store written before then gains them when a gateway or
   * control plane of this version opens it, filled from the bodies). The target's provider, the priced
   * cost (null when unpriced) and the token counts (null when absent).
   */
  provider: string | null;
  cost_usd: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
}

/** The report columns, in the order the stores add them to older tables. */
export const REPORT_COLUMNS = ['provider', 'cost_usd', 'input_tokens', 'output_tokens'] as const;

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
    policies: policyKinds(event.policies),
    // Checked by type: the control plane derives these from bodies that gateways sent, and a value the column
    // cannot hold as given (a number in a text column, a fraction in an integer one) would read back different.
    provider: typeof event.target?.provider === 'string' ? event.target.provider : null,
    cost_usd: event.cost?.priced === true && isFiniteNumber(event.cost.total) ? event.cost.total : null,
    input_tokens: tokenCount(event.usage?.input_tokens),
    output_tokens: tokenCount(event.usage?.output_tokens),
  };
}

/** `,kind,kind,`: each kind once, in the order the trace first has it. */
function policyKinds(policies: DecisionEvent['policies']): string {
  const kinds: string[] = [];
  for (const p of policies) if (!kinds.includes(p.kind)) kinds.push(p.kind);
  return `,${kinds.join(',')},`;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function tokenCount(v: unknown): number | null {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Pruning refused to delete a segment: it does not verify, or it holds events younger than retention. */
export class PruneRefusedError extends Error {
  override name = 'PruneRefusedError';
}

/** An ingested event would fork a chain: same place, different event. */
export class ChainConflictError extends Error {
  override name = 'ChainConflictError';
}
