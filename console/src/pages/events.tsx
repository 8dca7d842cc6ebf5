import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, num, shortTime, tail, usd, VERDICTS, type EventJson, type Params, type Verdict } from '../api';
import { ErrorNote, RangeSelect, Tabs, VerdictBadge } from '../components';
import { BASE, linkClick, setSearch } from '../router';

const FILTERS = [
  { key: 'policy', label: 'Policy', placeholder: 'e.g. prompt-injection' },
  { key: 'developer', label: 'Developer', placeholder: 'e.g. alice' },
  { key: 'repository', label: 'Repository', placeholder: 'e.g. acme/api' },
  { key: 'model', label: 'Model', placeholder: 'e.g. gpt-4o-mini' },
  { key: 'client', label: 'Client', placeholder: 'e.g. claude-code' },
] as const;
type FilterKey = (typeof FILTERS)[number]['key'];

interface State {
  since: string;
  verdict: Verdict | '';
  q: string;
  filters: Record<FilterKey, string>;
}

function fromSearch(search: URLSearchParams): State {
  const verdict = search.get('verdict') ?? '';
  return {
    since: search.get('since') ?? '24h',
    verdict: (VERDICTS as string[]).includes(verdict) ? (verdict as Verdict) : '',
    q: search.get('q') ?? '',
    filters: Object.fromEntries(FILTERS.map((f) => [f.key, search.get(f.key) ?? ''])) as Record<FilterKey, string>,
  };
}

function toParams(s: State): Params {
  return { since: s.since, verdict: s.verdict, q: s.q.trim(), ...Object.fromEntries(FILTERS.map((f) => [f.key, s.filters[f.key].trim()])) };
}

const PAGE = 50;

export function EventsPage({ search }: { search: URLSearchParams }) {
  const [state, setState] = useState<State>(() => fromSearch(search));
  const [draft, setDraft] = useState<State>(state);
  const [rows, setRows] = useState<EventJson[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState(false);
  const [liveState, setLiveState] = useState('');
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  const [ms, setMs] = useState<number | null>(null);
  const params = useMemo(() => toParams(state), [state]);

  // First page whenever the filters change; the URL keeps them, so going back from a detail page restores them.
  useEffect(() => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, String(v));
    setSearch(q);
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    const started = performance.now();
    api<{ data: EventJson[]; next_cursor: string | null }>('/v1/events', { ...params, limit: PAGE }, undefined, controller.signal)
      .then((page) => {
        setRows(page.data);
        setCursor(page.next_cursor);
        setFresh(new Set());
        setMs(Math.round(performance.now() - started));
      })
      .catch((err: Error) => controller.signal.aborted || setError(err.message))
      .finally(() => controller.signal.aborted || setLoading(false));
    return () => controller.abort();
  }, [params]);

  // Live tail: new events matching the filters arrive at the top of the list.
  const topPos = useRef(0);
  topPos.current = rows[0]?.pos ?? 0;
  useEffect(() => {
    if (!live) {
      setLiveState('');
      return;
    }
    const { since: _since, ...tailParams } = params;
    const stop = tail(
      { ...tailParams, after: topPos.current || undefined },
      (e) => {
        setRows((prev) => (prev.some((r) => r.pos === e.pos) ? prev : [e, ...prev]));
        setFresh((prev) => new Set(prev).add(e.pos));
      },
      (s, message) => setLiveState(s === 'live' ? 'Live: new events appear at the top.' : s === 'reconnecting' ? 'Reconnecting…' : `Live tail stopped: ${message ?? ''}`),
    );
    return stop;
  }, [live, params]);

  const loadMore = async () => {
    if (!cursor) return;
    setLoading(true);
    try {
      const page = await api<{ data: EventJson[]; next_cursor: string | null }>('/v1/events', { ...params, limit: PAGE, cursor });
      setRows((prev) => [...prev, ...page.data.filter((e) => !prev.some((p) => p.pos === e.pos))]);
      setCursor(page.next_cursor);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setLoading(false);
    }
  };

  const apply = (e: Event) => {
    e.preventDefault();
    setState({ ...state, q: draft.q, filters: { ...draft.filters } });
  };
  const clear = () => {
    const empty = { ...state, q: '', filters: Object.fromEntries(FILTERS.map((f) => [f.key, ''])) as Record<FilterKey, string> };
    setDraft(empty);
    setState(empty);
  };
  const active = FILTERS.filter((f) => state.filters[f.key]).length + (state.q ? 1 : 0);

  return (
    <section aria-labelledby="events-title">
      <div class="page-head">
        <h1 id="events-title">Events</h1>
        <RangeSelect id="events-range" value={state.since} onChange={(since) => setState({ ...state, since })} />
        <button type="button" class="toggle" aria-pressed={live} onClick={() => setLive(!live)}>
          <span class="dot" aria-hidden="true" />
          Live tail
        </button>
      </div>
      <form class="filters" onSubmit={apply} aria-label="Filter events">
        <div class="field grow">
          <label for="events-q">Search</label>
          <input id="events-q" type="search" placeholder="id, developer, repository, model, client, policy…" value={draft.q} onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })} />
        </div>
        {FILTERS.map((f) => (
          <div class="field" key={f.key}>
            <label for={`events-${f.key}`}>{f.label}</label>
            <input id={`events-${f.key}`} placeholder={f.placeholder} value={draft.filters[f.key]} onInput={(e) => setDraft({ ...draft, filters: { ...draft.filters, [f.key]: e.currentTarget.value } })} />
          </div>
        ))}
        <div class="field actions">
          <button type="submit">Apply</button>
          <button type="button" class="secondary" onClick={clear} disabled={active === 0}>
            Clear
          </button>
        </div>
      </form>
      <p class="sr-only" role="status" aria-live="polite">
        {liveState}
      </p>
      {live && liveState && (
        <p class="live-note" aria-hidden="true">
          {liveState}
        </p>
      )}
      <Tabs
        id="verdict"
        label="Verdict"
        value={state.verdict}
        onChange={(verdict) => setState({ ...state, verdict })}
        tabs={[{ value: '' as const, label: 'All' }, ...VERDICTS.map((v) => ({ value: v, label: v[0]!.toUpperCase() + v.slice(1) }))]}
      >
        {error && <ErrorNote error={error} />}
        <table class="events" data-testid="events-table" aria-busy={loading}>
          <caption class="sr-only">Decision events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Verdict</th>
              <th scope="col">Developer</th>
              <th scope="col">Repository</th>
              <th scope="col">Model</th>
              <th scope="col">Client</th>
              <th scope="col">Policies acting</th>
              <th scope="col" class="num">
                Cost
              </th>
              <th scope="col" class="num">
                Latency
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const e = r.event;
              const acting = e.policies.filter((p) => p.verdict !== 'allow').map((p) => p.kind);
              return (
                <tr key={r.pos} class={fresh.has(r.pos) ? 'fresh' : undefined} data-verdict={e.verdict}>
                  <td>
                    <a href={`${BASE}/events/${encodeURIComponent(r.id)}`} onClick={linkClick} aria-label={`Event ${r.id}, ${e.verdict}, ${shortTime(e.ts)}`}>
                      {shortTime(e.ts)}
                    </a>
                  </td>
                  <td>
                    <VerdictBadge verdict={e.verdict} />
                  </td>
                  <td>{e.identity.developer ?? <span class="muted">—</span>}</td>
                  <td>{e.identity.repository ?? <span class="muted">—</span>}</td>
                  <td>{e.target?.model ?? e.model_requested ?? <span class="muted">—</span>}</td>
                  <td>{e.identity.client}</td>
                  <td>{acting.length ? acting.join(', ') : <span class="muted">—</span>}</td>
                  <td class="num">{e.cost?.priced ? usd(e.cost.total, 4) : '—'}</td>
                  <td class="num">{num(e.latency.total_ms)} ms</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!loading && rows.length === 0 && <p class="muted empty">No events match these filters{live ? ' yet; new ones will appear here.' : '.'}</p>}
        <div class="more">
          {cursor && (
            <button type="button" onClick={loadMore} disabled={loading}>
              Load more
            </button>
          )}
          <span class="muted">
            {rows.length.toLocaleString('en-US')} shown{ms !== null ? ` · first page in ${ms} ms` : ''}
          </span>
        </div>
      </Tabs>
    </section>
  );
}
