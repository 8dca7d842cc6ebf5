import type { ComponentChildren } from 'preact';
import { useRef } from 'preact/hooks';
import { usd, type Verdict } from './api';

export function VerdictBadge({ verdict }: { verdict: Verdict | string }) {
  return <span class={`verdict verdict-${verdict}`}>{verdict}</span>;
}

export const RANGES = [
  { value: '1h', label: 'Last hour' },
  { value: '24h', label: 'Last 24 hours' },
  { value: '7d', label: 'Last 7 days' },
  { value: '30d', label: 'Last 30 days' },
  { value: '90d', label: 'Last 90 days' },
  { value: '', label: 'All time' },
];

export function RangeSelect({ id, value, onChange, options = RANGES }: { id: string; value: string; onChange: (v: string) => void; options?: typeof RANGES }) {
  return (
    <div class="field">
      <label for={id}>Time range</label>
      <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map((r) => (
          <option key={r.value} value={r.value}>
            {r.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * A WAI-ARIA tablist: one tab in the Tab order (the selected one), arrow keys, Home and End move between tabs
 * and select them; the panel is labelled by the selected tab.
 */
export function Tabs<T extends string>({ id, label, tabs, value, onChange, children }: { id: string; label: string; tabs: Array<{ value: T; label: string; count?: number | undefined }>; value: T; onChange: (v: T) => void; children: ComponentChildren }) {
  const list = useRef<HTMLDivElement>(null);
  const move = (e: KeyboardEvent) => {
    const i = tabs.findIndex((t) => t.value === value);
    let next = i;
    if (e.key === 'ArrowRight') next = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') next = (i - 1 + tabs.length) % tabs.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = tabs.length - 1;
    else return;
    e.preventDefault();
    onChange(tabs[next]!.value);
    list.current?.querySelectorAll<HTMLButtonElement>('[role=tab]')[next]?.focus();
  };
  return (
    <>
      <div class="tabs" role="tablist" aria-label={label} ref={list} onKeyDown={move}>
        {tabs.map((t) => (
          <button key={t.value} type="button" role="tab" id={`${id}-tab-${t.value || 'all'}`} aria-selected={t.value === value} aria-controls={`${id}-panel`} tabIndex={t.value === value ? 0 : -1} onClick={() => onChange(t.value)}>
            {t.label}
            {t.count !== undefined && <span class="count">{t.count.toLocaleString('en-US')}</span>}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`${id}-panel`} aria-labelledby={`${id}-tab-${value || 'all'}`}>
        {children}
      </div>
    </>
  );
}

export const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#64748b'];

export interface Series {
  label: string;
  values: number[];
}

/** Stacked bars, one per day, one colour per series; every bar segment has a title for hover. */
export function StackedBarChart({ days, series, label }: { days: string[]; series: Series[]; label: string }) {
  const width = 760;
  const height = 240;
  const pad = { left: 56, right: 12, top: 12, bottom: 28 };
  const totals = days.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const max = Math.max(...totals, 0);
  const top = max > 0 ? niceCeil(max) : 1;
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const step = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, step * 0.7);
  const y = (v: number) => pad.top + plotH - (v / top) * plotH;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const labelEvery = Math.ceil(days.length / 10);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} data-testid="cost-chart">
        <title>{label}</title>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={pad.left} x2={width - pad.right} y1={y(t)} y2={y(t)} class="grid" />
            <text x={pad.left - 6} y={y(t) + 4} text-anchor="end" class="axis">
              {usd(t)}
            </text>
          </g>
        ))}
        {days.map((day, i) => {
          let base = 0;
          const x = pad.left + i * step + (step - barW) / 2;
          return (
            <g key={day}>
              {series.map((s, j) => {
                const v = s.values[i] ?? 0;
                if (v <= 0) return null;
                const y0 = y(base);
                base += v;
                const y1 = y(base);
                return (
                  <rect key={s.label} x={x} y={y1} width={barW} height={Math.max(0.5, y0 - y1)} fill={PALETTE[j % PALETTE.length]}>
                    <title>{`${day} · ${s.label}: ${usd(v, 4)}`}</title>
                  </rect>
                );
              })}
              {i % labelEvery === 0 && (
                <text x={x + barW / 2} y={height - 8} text-anchor="middle" class="axis">
                  {day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">
          {series.map((s, j) => (
            <li key={s.label}>
              <span class="swatch" data-color={j} aria-hidden="true" />
              {s.label}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}

function niceCeil(v: number): number {
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNote({ error }: { error: string }) {
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}
