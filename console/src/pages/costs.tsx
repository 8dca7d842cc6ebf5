import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, num, usd, type Budgets, type UsageRow } from '../api';
import { ErrorNote, Loading, RangeSelect, StackedBarChart, Tabs, type Series } from '../components';

type By = 'developer' | 'repository' | 'model' | 'gateway';
const BY: Array<{ value: By; label: string }> = [
  { value: 'developer', label: 'By developer' },
  { value: 'repository', label: 'By repository' },
  { value: 'model', label: 'By model' },
  // Each replica of a team gateway (and each developer's own gateway) ships its own chain.
  { value: 'gateway', label: 'By gateway' },
];
const COST_RANGES = [
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: '90d', label: 'Last 90 days' },
];
const TOP = 5;
const DAY = 86_400_000;

interface Data {
  rows: UsageRow[];
  days: string[];
  series: Series[];
}

function daysOf(range: string): string[] {
  const n = Number(range.replace('d', ''));
  const today = Math.floor(Date.now() / DAY) * DAY;
  return Array.from({ length: n + 1 }, (_, i) => new Date(today - (n - i) * DAY).toISOString().slice(0, 10));
}

function csvCell(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  // Quote every text cell; a leading =, +, - or @ is prefixed so spreadsheets do not run it as a formula.
  return typeof v === 'number' ? s : `"${(/^[=+\-@]/.test(s) ? `'${s}` : s).replaceAll('"', '""')}"`;
}

export function toCsv(by: By, rows: UsageRow[]): string {
  const head = [by, 'requests', 'input_tokens', 'output_tokens', 'cost_usd', 'unpriced_requests'].join(',');
  return [head, ...rows.map((r) => [csvCell(r.key), r.requests, r.input_tokens, r.output_tokens, r.cost_usd === null ? '' : r.cost_usd.toFixed(6), r.unpriced_requests].join(','))].join('\r\n') + '\r\n';
}

/**
 * Spend per day for the top groups: one grouped report for the table, then one report by day for the whole
 * range and one for each of the top groups (the rest is shown as "other").
 */
async function load(range: string, by: By, signal: AbortSignal): Promise<Data> {
  const rows = (await api<{ data: UsageRow[] }>('/v1/usage', { by, since: range }, undefined, signal)).data;
  const top = rows.filter((r) => r.key !== null && (r.cost_usd ?? 0) > 0).slice(0, TOP);
  const [total, ...perKey] = await Promise.all([
    api<{ data: UsageRow[] }>('/v1/usage', { by: 'day', since: range }, undefined, signal),
    ...top.map((r) => api<{ data: UsageRow[] }>('/v1/usage', { by: 'day', since: range, [by]: r.key }, undefined, signal)),
  ]);
  const days = daysOf(range);
  const index = new Map(days.map((d, i) => [d, i]));
  const toValues = (data: UsageRow[]) => {
    const values = days.map(() => 0);
    for (const r of data) if (r.key !== null && index.has(r.key)) values[index.get(r.key)!] = r.cost_usd ?? 0;
    return values;
  };
  const series: Series[] = top.map((r, i) => ({ label: r.key!, values: toValues(perKey[i]!.data) }));
  const totals = toValues(total!.data);
  const other = totals.map((t, i) => Math.max(0, t - series.reduce((s, x) => s + (x.values[i] ?? 0), 0)));
  if (other.some((v) => v > 1e-9)) series.push({ label: 'other', values: other });
  return { rows, days, series };
}

export function CostsPage() {
  const [range, setRange] = useState('30d');
  const [by, setBy] = useState<By>('developer');
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [budgets, setBudgets] = useState<Budgets | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    setData(null);
    load(range, by, controller.signal)
      .then(setData)
      .catch((err: Error) => controller.signal.aborted || setError(err.message));
    return () => controller.abort();
  }, [range, by]);
  useEffect(() => {
    api<Budgets>('/v1/budgets')
      .then(setBudgets)
      .catch((err: Error) => setBudgets({ available: false, message: `Budget status unavailable: ${err.message}` }));
  }, []);

  const csvUrl = useMemo(() => (data ? URL.createObjectURL(new Blob([toCsv(by, data.rows)], { type: 'text/csv' })) : null), [data, by]);
  useEffect(() => () => void (csvUrl && URL.revokeObjectURL(csvUrl)), [csvUrl]);
  const total = data?.rows.reduce((s, r) => s + (r.cost_usd ?? 0), 0) ?? 0;

  return (
    <section aria-labelledby="costs-title">
      <div class="page-head">
        <h1 id="costs-title">Costs</h1>
        <RangeSelect id="costs-range" value={range} onChange={setRange} options={COST_RANGES} />
      </div>
      <Tabs id="costs-by" label="Group spend" value={by} onChange={setBy} tabs={BY}>
        {error && <ErrorNote error={error} />}
        {!data && !error && <Loading what="costs" />}
        {data && (
          <>
            <StackedBarChart days={data.days} series={data.series} label={`Spend per day (UTC) ${BY.find((b) => b.value === by)!.label.toLowerCase()}, ${COST_RANGES.find((r) => r.value === range)!.label.toLowerCase()}: ${usd(total)} in all`} />
            <div class="table-head">
              <h2>Spend {BY.find((b) => b.value === by)!.label.toLowerCase()}</h2>
              {csvUrl && (
                <a class="button" href={csvUrl} download={`keeptrusts-costs-${by}-${range}.csv`} data-testid="csv-export">
                  Export CSV
                </a>
              )}
            </div>
            <table data-testid="costs-table">
              <thead>
                <tr>
                  <th scope="col">{by[0]!.toUpperCase() + by.slice(1)}</th>
                  <th scope="col" class="num">
                    Requests
                  </th>
                  <th scope="col" class="num">
                    Input tokens
                  </th>
                  <th scope="col" class="num">
                    Output tokens
                  </th>
                  <th scope="col" class="num">
                    Cost
                  </th>
                  <th scope="col" class="num">
                    Unpriced
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.rows.map((r) => (
                  <tr key={r.key ?? ''}>
                    <th scope="row">{r.key ?? <span class="muted">(none)</span>}</th>
                    <td class="num">{num(r.requests)}</td>
                    <td class="num">{num(r.input_tokens)}</td>
                    <td class="num">{num(r.output_tokens)}</td>
                    <td class="num">{usd(r.cost_usd, 4)}</td>
                    <td class="num">{num(r.unpriced_requests)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {data.rows.length === 0 && <p class="muted">No requests in this range.</p>}
          </>
        )}
      </Tabs>
      <section class="card" aria-labelledby="budgets-title">
        <h2 id="budgets-title">Budgets</h2>
        {!budgets && <Loading what="budgets" />}
        {budgets && !budgets.available && <p class="muted">{budgets.message}</p>}
        {budgets?.available && budgets.data.length === 0 && <p class="muted">No budgets are configured on this gateway.</p>}
        {budgets?.available && budgets.data.length > 0 && (
          <table data-testid="budgets-table">
            <thead>
              <tr>
                <th scope="col">Scope</th>
                <th scope="col">Period</th>
                <th scope="col">Mode</th>
                <th scope="col" class="num">
                  Spent
                </th>
                <th scope="col" class="num">
                  Limit
                </th>
                <th scope="col">Used</th>
              </tr>
            </thead>
            <tbody>
              {budgets.data.map((b, i) => {
                const used = b.limitUsd > 0 ? b.spentUsd / b.limitUsd : 0;
                return (
                  <tr key={i} class={used >= 1 ? 'over' : used >= 0.8 ? 'near' : undefined}>
                    <th scope="row">
                      {b.scope}
                      {b.value ? `: ${b.value}` : ''}
                    </th>
                    <td>{b.period}</td>
                    <td>{b.mode}</td>
                    <td class="num">{usd(b.spentUsd)}</td>
                    <td class="num">{usd(b.limitUsd)}</td>
                    <td>
                      <meter min={0} max={1} low={0.8} high={0.95} optimum={0} value={Math.min(used, 1)} aria-label={`${Math.round(used * 100)}% of the budget used`} /> {Math.round(used * 100)}%{used >= 1 ? ' — exceeded' : used >= 0.8 ? ' — alert' : ''}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
