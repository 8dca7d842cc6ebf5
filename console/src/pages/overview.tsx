import { useEffect, useState } from 'preact/hooks';
import { api, num, pct, usd, type Stats, type UsageRow } from '../api';
import { ErrorNote, Loading, RangeSelect } from '../components';
import { BASE, linkClick } from '../router';

function TopTable({ title, rows, param }: { title: string; rows: UsageRow[]; param: string }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {rows.length === 0 ? (
        <p class="muted">None in this range.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">{param}</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Spend
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.key ?? ''}>
                <td>
                  {r.key === null ? (
                    <span class="muted">(none)</span>
                  ) : (
                    <a href={`${BASE}/events?${param}=${encodeURIComponent(r.key)}`} onClick={linkClick}>
                      {r.key}
                    </a>
                  )}
                </td>
                <td class="num">{num(r.requests)}</td>
                <td class="num">{usd(r.cost_usd)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function OverviewPage() {
  const [range, setRange] = useState('7d');
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    api<Stats>('/v1/stats', { since: range }, undefined, controller.signal)
      .then(setStats)
      .catch((err: Error) => controller.signal.aborted || setError(err.message));
    return () => controller.abort();
  }, [range]);
  return (
    <section aria-labelledby="overview-title">
      <div class="page-head">
        <h1 id="overview-title">Overview</h1>
        <RangeSelect id="overview-range" value={range} onChange={setRange} />
      </div>
      {error && <ErrorNote error={error} />}
      {!stats && !error && <Loading what="the overview" />}
      {stats && (
        <>
          <dl class="cards" data-testid="overview-stats">
            <div class="card stat">
              <dt>Requests</dt>
              <dd>{num(stats.requests)}</dd>
            </div>
            <div class="card stat">
              <dt>Block rate</dt>
              <dd>{pct(stats.block_rate)}</dd>
              <dd class="sub">{num(stats.verdicts.block ?? 0)} blocked</dd>
            </div>
            <div class="card stat">
              <dt>Redaction rate</dt>
              <dd>{pct(stats.redaction_rate)}</dd>
              <dd class="sub">{num(stats.verdicts.redact ?? 0)} redacted</dd>
            </div>
            <div class="card stat">
              <dt>Spend today (UTC)</dt>
              <dd>{usd(stats.spend.today_usd)}</dd>
            </div>
            <div class="card stat">
              <dt>Spend this week</dt>
              <dd>{usd(stats.spend.week_usd)}</dd>
              {stats.spend.unpriced_requests > 0 && <dd class="sub">{num(stats.spend.unpriced_requests)} unpriced in range</dd>}
            </div>
          </dl>
          <div class="grid3">
            <TopTable title="Top developers" rows={stats.top_developers} param="developer" />
            <TopTable title="Top repositories" rows={stats.top_repositories} param="repository" />
            <TopTable title="Top models" rows={stats.top_models} param="model" />
          </div>
        </>
      )}
    </section>
  );
}
