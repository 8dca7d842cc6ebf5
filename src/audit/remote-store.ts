import { Agent, request } from 'undici';
import { canonicalJson } from './canonical.js';
import type { ChainedEvent, ChainRecord, Checkpoint } from './chain.js';
import { apiBase } from './shipper.js';
import type { ChainJson, EventJson } from '../server/app.js';
import type { EventFilter, EventStore, PublicKeyRecord, StoredEvent, UsageGroupBy, UsageRow } from './store.js';

/** The control plane answered with an error: its status, error type and message (never the token). */
export class RemoteStoreError extends Error {
  override name = 'RemoteStoreError';
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const API_PAGE = 1_000;

/**
 * The read half of EventStore over a control plane's HTTP API, so `kt events` and `verifyChain` work against
 * a control plane as they do against a local store. The API carries decisions as JSON; the hashed body is
 * their canonical JSON, rebuilt here, so a verifier checks the control plane's copy link by link.
 */
export class RemoteEventStore implements EventStore {
  /** EventStore has no kind for a remote store; a control plane is a shared store, as PostgreSQL is. */
  readonly kind = 'postgres' as const;
  private readonly base: string;
  private readonly agent = new Agent({ keepAliveTimeout: 4_000, connect: { timeout: 10_000 } });

  constructor(
    apiUrl: string,
    private readonly token: string,
  ) {
    this.base = apiBase(apiUrl, 'the control plane URL');
  }

  // ---- reads --------------------------------------------------------------------------------------------------

  async query(filter: EventFilter): Promise<StoredEvent[]> {
    const wanted = Math.min(Math.max(filter.limit ?? 100, 1), 10_000);
    const params = filterParams(filter);
    if (filter.order) params.set('order', filter.order);
    const out: StoredEvent[] = [];
    // The API serves at most 1,000 a page; a larger limit is several pages in the same direction.
    for (;;) {
      params.set('limit', String(Math.min(API_PAGE, wanted - out.length)));
      const page = (await this.getJson('/v1/events', params)) as { data: EventJson[]; next_cursor: string | null };
      out.push(...page.data.map(toStored));
      if (out.length >= wanted || !page.next_cursor) return out;
      params.set('cursor', page.next_cursor);
    }
  }

  async get(id: string): Promise<StoredEvent | null> {
    if (id === 'stream') return null; // that path is the live tail, never an event id
    const json = (await this.getJson(`/v1/events/${encodeURIComponent(id)}`, undefined, true)) as EventJson | null;
    return json ? toStored(json) : null;
  }

  async *scan(chain: string, fromSeq = 1, pageSize = API_PAGE): AsyncIterable<StoredEvent> {
    const limit = Math.min(Math.max(pageSize, 1), API_PAGE);
    let next: number | null = fromSeq;
    while (next !== null) {
      const params = new URLSearchParams({ from_seq: String(next), limit: String(limit) });
      const page = (await this.getJson(`/v1/chains/${encodeURIComponent(chain)}/events`, params)) as { data: EventJson[]; next_from_seq: number | null };
      for (const e of page.data) yield toStored(e);
      next = page.next_from_seq;
    }
  }

  async firstSeq(chain: string): Promise<number | null> {
    return (await this.chain(chain))?.first_seq ?? null;
  }

  async head(chain: string): Promise<{ seq: number; hash: string } | null> {
    const info = await this.chain(chain);
    return info && info.head_seq !== null && info.head_hash !== null ? { seq: info.head_seq, hash: info.head_hash } : null;
  }

  async chains(): Promise<string[]> {
    const res = (await this.getJson('/v1/chains')) as { data: ChainJson[] };
    return res.data.map((c) => c.chain);
  }

  async checkpoints(chain: string): Promise<Checkpoint[]> {
    return ((await this.getJson(`/v1/chains/${encodeURIComponent(chain)}/checkpoints`)) as { data: Checkpoint[] }).data;
  }

  /** A control plane from before chain records has none to give (404): verification then goes without them. */
  async records(chain: string): Promise<ChainRecord[]> {
    const res = (await this.getJson(`/v1/chains/${encodeURIComponent(chain)}/records`, undefined, true)) as { data: ChainRecord[] } | null;
    return res?.data ?? [];
  }

  async getBlobs(sha256s: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const wanted = [...new Set(sha256s)];
    for (let i = 0; i < wanted.length; i += 100) {
      const body = (await this.getJson('/v1/blobs', new URLSearchParams({ sha256: wanted.slice(i, i + 100).join(',') }))) as { data: Record<string, string> };
      for (const [h, text] of Object.entries(body.data)) out.set(h, text);
    }
    return out;
  }

  async keys(): Promise<PublicKeyRecord[]> {
    return ((await this.getJson('/v1/keys')) as { data: PublicKeyRecord[] }).data;
  }

  /** `GET /v1/usage`: the control plane groups; positions in the filter are not sent (a report ignores them). */
  async usageReport(filter: EventFilter, by: UsageGroupBy): Promise<UsageRow[]> {
    const params = filterParams({ ...filter, afterPos: undefined, beforePos: undefined });
    params.set('by', by);
    return ((await this.getJson('/v1/usage', params)) as { data: UsageRow[] }).data;
  }

  private async chain(chain: string): Promise<ChainJson | null> {
    return (await this.getJson(`/v1/chains/${encodeURIComponent(chain)}`, undefined, true)) as ChainJson | null;
  }

  // ---- live tail ------------------------------------------------------------------------------------------------

  /**
   * Follow `GET /v1/events/stream` from `filter.afterPos` (or from now), calling `onEvent` in store order, and
   * reconnect from the last event seen when the connection drops. Resolves when `signal` aborts; rejects when
   * the control plane refuses the request (bad token, bad filter).
   */
  async tail(filter: EventFilter, onEvent: (e: StoredEvent) => void, signal: AbortSignal): Promise<void> {
    let last = filter.afterPos ?? (await this.query({ order: 'desc', limit: 1 }))[0]?.pos ?? 0;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const params = filterParams({ ...filter, afterPos: last, beforePos: undefined });
        const res = await request(`${this.base}/v1/events/stream?${params}`, {
          headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream', 'last-event-id': String(last) },
          dispatcher: this.agent,
          signal,
          headersTimeout: 30_000,
          // Keep-alives arrive every 15 s; four missed ones mean the connection is gone.
          bodyTimeout: 60_000,
        });
        if (res.statusCode !== 200) {
          const err = errorFrom(res.statusCode, await res.body.text());
          if (res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429) throw err;
        } else {
          attempt = 0;
          for await (const frame of sseFrames(res.body as AsyncIterable<Buffer>)) {
            if (frame.event !== 'decision' || !frame.data) continue;
            const e = toStored(JSON.parse(frame.data) as EventJson);
            last = e.pos;
            onEvent(e);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof RemoteStoreError) throw err;
      }
      attempt++;
      await pause(Math.min(30_000, 250 * 2 ** Math.min(attempt, 7)), signal);
    }
  }

  // ---- writes belong to gateways ------------------------------------------------------------------------------

  private readOnly(what: string): never {
    throw new Error(`RemoteEventStore is read-only (${what}): gateways write to a control plane through POST /v1/events (EventShipper)`);
  }

  async append(): Promise<ChainedEvent[]> {
    return this.readOnly('append');
  }

  async ingest(): Promise<{ inserted: number; duplicates: number }> {
    return this.readOnly('ingest');
  }

  async addCheckpoint(): Promise<void> {
    return this.readOnly('addCheckpoint');
  }

  async addRecord(): Promise<void> {
    return this.readOnly('addRecord');
  }

  async registerKey(): Promise<void> {
    return this.readOnly('registerKey');
  }

  async prune(): Promise<{ removed: number; record: null }> {
    return this.readOnly('prune');
  }

  async getMeta(): Promise<string | null> {
    return this.readOnly('getMeta');
  }

  async setMeta(): Promise<void> {
    return this.readOnly('setMeta');
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  // ---- HTTP -----------------------------------------------------------------------------------------------------

  private async getJson(path: string, params?: URLSearchParams, allow404 = false): Promise<unknown> {
    const qs = params && [...params.keys()].length ? `?${params}` : '';
    const res = await request(`${this.base}${path}${qs}`, {
      headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
      dispatcher: this.agent,
      headersTimeout: 30_000,
      bodyTimeout: 60_000,
    });
    const text = await res.body.text();
    if (res.statusCode === 404 && allow404) return null;
    if (res.statusCode !== 200) throw errorFrom(res.statusCode, text);
    try {
      return JSON.parse(text);
    } catch {
      throw new RemoteStoreError(res.statusCode, 'invalid_response', `the control plane at ${this.base} answered ${path} with something other than JSON`);
    }
  }
}

function filterParams(filter: EventFilter): URLSearchParams {
  const p = new URLSearchParams();
  // RFC 3339 rather than digits: the API reads short digit strings as a mistake (epoch seconds).
  if (filter.sinceMs !== undefined) p.set('since', new Date(filter.sinceMs).toISOString());
  if (filter.untilMs !== undefined) p.set('until', new Date(filter.untilMs).toISOString());
  if (filter.verdict?.length) p.set('verdict', filter.verdict.join(','));
  for (const col of ['policy', 'developer', 'repository', 'team', 'model', 'client', 'gateway'] as const) {
    const v = filter[col];
    if (v !== undefined) p.set(col, v);
  }
  if (filter.q) p.set('q', filter.q);
  if (filter.afterPos !== undefined) p.set('after', String(Math.floor(filter.afterPos)));
  if (filter.beforePos !== undefined) p.set('before', String(Math.ceil(filter.beforePos)));
  return p;
}

function toStored(e: EventJson): StoredEvent {
  const stored: StoredEvent = { pos: e.pos, chain: e.chain, seq: e.seq, id: e.id, body: canonicalJson(e.event), prev_hash: e.prev_hash, hash: e.hash, event: e.event };
  if (e.columns) stored.columns = e.columns;
  return stored;
}

function errorFrom(status: number, text: string): RemoteStoreError {
  let type = 'http_error';
  let message = `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { error?: { type?: string; message?: string } };
    if (body.error) {
      type = body.error.type ?? type;
      message = body.error.message ?? message;
    }
  } catch {
    // not JSON: a proxy's error page
  }
  return new RemoteStoreError(status, type, `control plane: ${status} ${type}: ${message}`);
}

/** Server-sent event frames from a byte stream: `event`, `data` (lines joined) and `id`; comments dropped. */
export async function* sseFrames(body: AsyncIterable<Buffer | string>): AsyncIterable<{ event: string; data: string; id?: string }> {
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    buffer = buffer.replace(/\r\n/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      let id: string | undefined;
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'id') id = value;
      }
      if (data.length || id !== undefined) yield { event, data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
    }
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
