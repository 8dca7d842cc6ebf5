/**
 * How decision events look on a terminal and in exports. Pure: events in, strings out. The commands decide
 * where the text goes and whether it is coloured, so the console and tests reuse these without a TTY.
 */
import { redactedValues, redactionGroups, type DecisionEvent, type EventPolicyResult } from '../../audit/event.js';
import type { StoredEvent } from '../../audit/store.js';
import type { Verdict } from '../../policy/types.js';

export interface FormatOptions {
  /** ANSI colours; decide with `shouldColor`. */
  color: boolean;
  /** Clock times in UTC rather than the local zone. */
  utc?: boolean;
}

export const VERDICTS: readonly Verdict[] = ['allow', 'flag', 'redact', 'escalate', 'block'];

const RESET = '\x1b[0m';
const STYLE = {
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  magenta: '\x1b[35m',
  cyan: '\x1b[36m',
  boldRed: '\x1b[1;31m',
} as const;
type Style = keyof typeof STYLE;

const VERDICT_STYLE: Record<Verdict, Style> = { allow: 'green', flag: 'yellow', redact: 'cyan', escalate: 'magenta', block: 'boldRed' };

function paint(text: string, style: Style, color: boolean): string {
  return color && text !== '' ? `${STYLE[style]}${text}${RESET}` : text;
}

/**
 * Colour only for a person at a terminal: NO_COLOR (non-empty, per no-color.org) always wins, FORCE_COLOR
 * turns it on for pagers such as `less -R`.
 */
export function shouldColor(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return isTTY === true;
}

// ---------------------------------------------------------------------------------------------------------
// Small pieces

/** `HH:MM:SS.mmm` of an event timestamp. */
export function clockTime(ts: string, utc = false): string {
  const d = new Date(Date.parse(ts));
  if (Number.isNaN(d.getTime())) return ts.slice(0, 12);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return utc
    ? `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`
    : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The random tail of the ULID: unique enough to tell rows apart, and `kt events show` accepts it. */
export function shortId(id: string): string {
  return id.slice(-8);
}

export function formatCost(total: number | null | undefined): string {
  if (total === null || total === undefined) return '';
  return `$${total >= 1 ? total.toFixed(2) : total.toFixed(4)}`;
}

export function formatDurationUs(us: number): string {
  if (us < 1000) return `${Math.round(us)}µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(2)}ms`;
  return `${(us / 1_000_000).toFixed(2)}s`;
}

/** Policies that did something: a verdict other than allow, or a failure of the policy itself. */
export function actedPolicies(event: DecisionEvent): EventPolicyResult[] {
  return event.policies.filter((p) => p.verdict !== 'allow' || p.error !== undefined);
}

function policyLabel(p: EventPolicyResult): string {
  return `${p.kind}:${p.verdict}${p.error ? '(error)' : ''}`;
}

function modelOf(event: DecisionEvent): string | null {
  return event.target?.model ?? event.model_requested;
}

function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const t = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return align === 'right' ? t.padStart(width) : t.padEnd(width);
}

const dash = (v: string | number | null | undefined): string => (v === null || v === undefined || v === '' ? '-' : String(v));

// ---------------------------------------------------------------------------------------------------------
// Table

interface Column {
  header: string;
  /** 0: the last column, never padded or cut. */
  width: number;
  align?: 'right';
  value(e: DecisionEvent, opts: FormatOptions): string;
  style?(e: DecisionEvent): Style | null;
}

// Fixed widths rather than widths fitted to the rows: a live tail prints rows one at a time and they must
// line up with a header printed before any of them.
const COLUMNS: Column[] = [
  { header: 'TIME', width: 12, value: (e, o) => clockTime(e.ts, o.utc) },
  { header: 'ID', width: 8, value: (e) => shortId(e.id) },
  { header: 'VERDICT', width: 8, value: (e) => e.verdict, style: (e) => VERDICT_STYLE[e.verdict] ?? null },
  { header: 'ROUTE', width: 9, value: (e) => e.route },
  { header: 'MODEL', width: 18, value: (e) => dash(modelOf(e)) },
  { header: 'DEVELOPER', width: 12, value: (e) => dash(e.identity.developer) },
  { header: 'REPOSITORY', width: 16, value: (e) => dash(e.identity.repository) },
  { header: 'CLIENT', width: 11, value: (e) => e.identity.client },
  { header: 'HTTP', width: 4, value: (e) => String(e.status), style: (e) => (e.status >= 400 ? 'red' : null) },
  { header: 'MS', width: 6, align: 'right', value: (e) => String(Math.round(e.latency.total_ms)) },
  { header: 'COST', width: 8, align: 'right', value: (e) => formatCost(e.cost?.total) },
  { header: 'POLICIES', width: 0, value: (e) => actedPolicies(e).map(policyLabel).join(',') },
];

export function formatTableHeader(opts: FormatOptions): string {
  const line = COLUMNS.map((c) => (c.width ? fit(c.header, c.width, c.align ?? 'left') : c.header)).join('  ');
  return paint(line, 'bold', opts.color);
}

export function formatTableRow(stored: StoredEvent | DecisionEvent, opts: FormatOptions): string {
  const e = eventOf(stored);
  return COLUMNS.map((c) => {
    const raw = c.value(e, opts);
    const cell = c.width ? fit(raw, c.width, c.align ?? 'left') : raw;
    const style = c.style?.(e);
    // Pad first, paint after: escape codes have no width, so painting first would break the alignment.
    return style ? paint(cell, style, opts.color) : cell;
  })
    .join('  ')
    .trimEnd();
}

export function formatTable(events: ReadonlyArray<StoredEvent | DecisionEvent>, opts: FormatOptions): string {
  return [formatTableHeader(opts), ...events.map((e) => formatTableRow(e, opts))].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// Detailed: the table row and the per-policy trace under it

function findingsText(p: EventPolicyResult): string {
  const parts = p.findings.map((f) => `${f.type}/${f.rule}@${f.source}${f.count > 1 ? ` ×${f.count}` : ''}`);
  if (p.score !== undefined) parts.push(`score ${p.score}${p.reasons?.length ? ` (${p.reasons.join(', ')})` : ''}`);
  else if (p.reasons?.length) parts.push(`reasons: ${p.reasons.join(', ')}`);
  if (p.error) parts.push(`error ${p.error}`);
  if (p.streamed) parts.push('streamed');
  return parts.join('; ');
}

/** One line per policy: phase, kind, verdict, time, then what it found. */
export function formatPolicyTrace(event: DecisionEvent, opts: FormatOptions, indent = '    '): string[] {
  return event.policies.map((p) => {
    const verdict = paint(p.verdict.padEnd(8), VERDICT_STYLE[p.verdict] ?? 'bold', opts.color && p.verdict !== 'allow');
    const found = findingsText(p);
    return `${indent}${p.phase.padEnd(6)}  ${p.kind.padEnd(18)}  ${verdict}  ${formatDurationUs(p.duration_us).padStart(8)}${found ? `  ${found}` : ''}`.trimEnd();
  });
}

/** `3 (EMAIL ×2, SECRET ×1)`: counts by type, never values. Events of either redaction shape. */
export function redactionSummary(event: DecisionEvent): string {
  const groups = redactionGroups(event);
  if (groups.length === 0) return 'none';
  const byType = new Map<string, number>();
  for (const g of groups) byType.set(g.type, (byType.get(g.type) ?? 0) + g.count);
  return `${redactedValues(event)} (${[...byType].map(([t, n]) => `${t} ×${n}`).join(', ')})`;
}

export function formatDetailed(stored: StoredEvent | DecisionEvent, opts: FormatOptions): string {
  const e = eventOf(stored);
  const place = 'seq' in stored && 'chain' in stored ? `  chain ${stored.chain}#${stored.seq}` : '';
  const lines = [
    formatTableRow(stored, opts),
    paint(`    ${e.id}  request ${e.request_id}  gateway ${e.gateway_id}${place}`, 'dim', opts.color),
    ...formatPolicyTrace(e, opts),
    `    redactions: ${redactionSummary(e)}${e.reason_code ? `  reason: ${e.reason_code}` : ''}${e.error ? `  error: ${e.error.type}${e.error.code ? `/${e.error.code}` : ''} ${e.error.message}` : ''}`,
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// One event in full (`kt events show`)

/** Unified diff lines coloured as git does: additions green, removals red, hunk headers cyan. */
export function colorDiff(diff: string, color: boolean): string {
  if (!color) return diff;
  return diff
    .split('\n')
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return paint(line, 'bold', true);
      if (line.startsWith('+')) return paint(line, 'green', true);
      if (line.startsWith('-')) return paint(line, 'red', true);
      if (line.startsWith('@@')) return paint(line, 'cyan', true);
      return line;
    })
    .join('\n');
}

function indentBlock(text: string, indent: string): string[] {
  return text.split('\n').map((l) => (l ? `${indent}${l}` : ''));
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'undefined';
}

/** The text of a message's content in any of the three APIs' shapes; other blocks as JSON. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return json(content);
  return content
    .map((part: unknown) => {
      if (typeof part === 'string') return part;
      const p = part as Record<string, unknown> | null;
      if (p && typeof p.text === 'string') return p.text;
      if (p && p.type === 'tool_result') return `[tool_result${typeof p.tool_use_id === 'string' ? ` ${p.tool_use_id}` : ''}]\n${contentText(p.content)}`;
      if (p && p.type === 'tool_use') return `[tool_use ${String(p.name)}] ${JSON.stringify(p.input)}`;
      return json(part);
    })
    .join('\n');
}

function renderMessage(m: unknown, opts: FormatOptions): string[] {
  if (!m || typeof m !== 'object') return [paint('  [item]', 'bold', opts.color), ...indentBlock(contentText(m), '    ')];
  const r = m as Record<string, unknown>;
  const role = typeof r.role === 'string' ? r.role : typeof r.type === 'string' ? r.type : 'item';
  const parts: string[] = [];
  if (r.content !== undefined && r.content !== null) parts.push(contentText(r.content));
  if (Array.isArray(r.tool_calls)) parts.push(`tool_calls: ${json(r.tool_calls)}`);
  // Responses API items without content (function_call, function_call_output) keep their other fields.
  if (r.content === undefined && !Array.isArray(r.tool_calls)) {
    const { role: _r, type: _t, ...rest } = r;
    parts.push(typeof rest.output === 'string' ? rest.output : json(rest));
  }
  return [paint(`  [${role}]`, 'bold', opts.color), ...indentBlock(parts.join('\n'), '    ')];
}

/**
 * The captured (redacted) request: the gateway records its text segments in order, each with its source and
 * turn. An object (a whole body, as earlier builds captured) is shown as a conversation, anything else as JSON.
 */
export function formatCapturedRequest(request: unknown, opts: FormatOptions): string[] {
  if (request === null || request === undefined) return ['  not captured'];
  if (Array.isArray(request) && request.every(isSegment)) {
    return request.flatMap((seg) => [paint(`  [${seg.source}, turn ${seg.turn}]`, 'bold', opts.color), ...indentBlock(seg.text, '    ')]);
  }
  if (typeof request === 'object' && !Array.isArray(request)) {
    const r = request as Record<string, unknown>;
    const out: string[] = [];
    for (const key of ['system', 'instructions'] as const) {
      if (r[key] !== undefined && r[key] !== null) out.push(paint(`  [${key}]`, 'bold', opts.color), ...indentBlock(contentText(r[key]), '    '));
    }
    if (Array.isArray(r.messages)) for (const m of r.messages) out.push(...renderMessage(m, opts));
    if (typeof r.input === 'string') out.push(...renderMessage({ role: 'user', content: r.input }, opts));
    else if (Array.isArray(r.input)) for (const m of r.input) out.push(...renderMessage(m, opts));
    const rest = Object.fromEntries(Object.entries(r).filter(([k]) => !['system', 'instructions', 'messages', 'input'].includes(k)));
    if (Object.keys(rest).length) out.push(paint('  [other]', 'bold', opts.color), ...indentBlock(json(rest), '    '));
    if (out.length) return out;
  }
  return indentBlock(json(request), '  ');
}

function isSegment(v: unknown): v is { source: string; turn: number; text: string } {
  const s = v as { source?: unknown; turn?: unknown; text?: unknown } | null;
  return !!s && typeof s.source === 'string' && typeof s.turn === 'number' && typeof s.text === 'string';
}

function section(title: string, opts: FormatOptions): string {
  return `\n${paint(title, 'bold', opts.color)}`;
}

/** Everything recorded about one event, for a person reading it. */
export function formatEventDetail(stored: StoredEvent, opts: FormatOptions): string {
  const e = stored.event;
  const c = opts.color;
  const field = (name: string, value: string) => `  ${paint(name.padEnd(12), 'dim', c)}${value}`;
  const out: string[] = [];

  out.push(`${paint('event', 'bold', c)} ${e.id}`);
  out.push(field('time', `${e.ts} (${clockTime(e.ts, opts.utc)} ${opts.utc ? 'UTC' : 'local'})`));
  out.push(field('verdict', `${paint(e.verdict, VERDICT_STYLE[e.verdict] ?? 'bold', c)}${e.reason_code ? `  (${e.reason_code})` : ''}`));
  out.push(field('status', String(e.status)));
  out.push(field('request', e.request_id));
  out.push(field('route', `${e.route}${e.stream ? ' (stream)' : ''}`));
  const id = e.identity;
  out.push(field('identity', `developer ${dash(id.developer)}, repository ${dash(id.repository)}, team ${dash(id.team)}, key ${dash(id.key_id)}, client ${id.client}`));
  const target = e.target ? `${e.target.id} (${e.target.provider}) model ${dash(e.target.model)}` : '-';
  out.push(field('model', `requested ${dash(e.model_requested)} → target ${target}`));
  const l = e.latency;
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
  out.push(field('latency', `total ${ms(l.total_ms)}, upstream ${ms(l.upstream_ms)}, first token ${ms(l.ttft_ms)}, gateway overhead ${ms(l.overhead_ms)}`));
  if (e.usage) {
    const u = e.usage;
    const extra = [u.cached_input_tokens ? `cached ${u.cached_input_tokens}` : '', u.cache_write_tokens ? `cache write ${u.cache_write_tokens}` : '', u.reasoning_tokens ? `reasoning ${u.reasoning_tokens}` : '']
      .filter(Boolean)
      .join(', ');
    out.push(field('tokens', `in ${dash(u.input_tokens)}, out ${dash(u.output_tokens)}${extra ? `, ${extra}` : ''}${u.estimated ? ' (estimated)' : ''}`));
  }
  if (e.cost) {
    const k = e.cost;
    out.push(field('cost', k.priced ? `${formatCost(k.total)} (input ${formatCost(k.input) || '-'}, output ${formatCost(k.output) || '-'})` : 'not priced'));
  }
  if (e.error) out.push(field('error', `${e.error.type}${e.error.code ? `/${e.error.code}` : ''}: ${e.error.message}`));
  if (e.data_categories?.length) out.push(field('data', e.data_categories.join(', ')));
  if (e.truncated) out.push(field('truncated', `the event was ${e.truncated.bytes} bytes and was cut to fit the size bound (dropped: ${e.truncated.dropped.join(', ')})`));
  out.push(field('gateway', `${e.gateway_id}, config ${e.config.name}@${e.config.version} (sha256 ${e.config.sha256.slice(0, 12)})`));
  out.push(field('chain', `${stored.chain} seq ${stored.seq}, hash ${stored.hash}`));

  out.push(section(`policies (${e.policies.length})`, opts));
  if (e.policies.length) out.push(...formatPolicyTrace(e, opts, '  '));
  else out.push('  none ran');

  out.push(section(`redactions: ${redactionSummary(e)}`, opts));
  for (const g of redactionGroups(e)) {
    const listed = g.count > g.locations.length ? `, first ${g.locations.length} listed` : '';
    out.push(`  ${g.type.padEnd(14)} ${g.rule.padEnd(22)} ${g.source.padEnd(12)} ${g.phase}  ×${g.count}${listed}`);
    for (const l of g.locations) out.push(`    ${l.path ?? '(streamed reply)'} [${l.start}, ${l.end})${l.value_hash ? `  hash ${l.value_hash}` : ''}`);
  }

  if (e.restores) {
    const r = e.restores;
    const sum = (list: ReadonlyArray<{ count: number }>) => list.reduce((n, g) => n + g.count, 0);
    out.push(section(`reversible redaction: ${sum(r.issued)} values as placeholders, ${sum(r.restored)} restored, ${sum(r.withheld)} withheld`, opts));
    out.push(`  issued    ${r.issued.map((g) => `${g.type} ×${g.count}`).join(', ') || '-'}`);
    for (const g of r.restored) out.push(`  restored  ${g.type.padEnd(14)} ${g.where.padEnd(14)} ×${g.count}`);
    for (const g of r.withheld) out.push(`  ${paint('withheld', 'bold', c)}  ${g.type.padEnd(14)} ${g.where.padEnd(14)} ×${g.count}`);
    if (r.unknown > 0) out.push(`  not ours  ${r.unknown} placeholder-shaped string(s) this request never issued, left as they were`);
  }

  if (e.capture) {
    out.push(section(`request (redacted${e.capture.truncated ? ', truncated' : ''})`, opts));
    out.push(...formatCapturedRequest(e.capture.request, opts));
    out.push(section('completion', opts));
    const done = e.capture.completion;
    if (!done) out.push('  none (no reply reached the client)');
    else {
      if (done.text) out.push(...indentBlock(done.text, '  '));
      for (const t of done.tool_calls) out.push(`  ${paint(`[tool call ${t.name}]`, 'bold', c)} ${JSON.stringify(t.input)}`);
      out.push(field('finish', dash(done.finish_reason)));
    }
  } else {
    out.push(section('content', opts), '  not captured (audit-logger capture: none or metadata)');
  }

  if (e.proposed_edits.length) {
    out.push(section(`proposed edits (${e.proposed_edits.length})`, opts));
    for (const edit of e.proposed_edits) {
      const counts = typeof edit.added === 'number' ? `  ${paint(`+${edit.added}`, 'green', c)} ${paint(`-${edit.removed}`, 'red', c)}` : '';
      out.push(`  ${paint(edit.file ?? '(no file name)', 'bold', c)}  ${paint(edit.format, 'dim', c)}${counts}`);
      if (edit.diff) out.push(...indentBlock(colorDiff(edit.diff.replace(/\n$/, ''), c), '    '));
      else out.push('    (diff not captured: audit-logger capture is metadata)');
    }
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------
// Machine formats

/** The shape of `--json` output: the event as recorded, plus where it sits in its chain. */
export type EventJson = DecisionEvent & { _chain: { chain: string; seq: number; hash: string } };

export function eventJson(stored: StoredEvent): EventJson {
  return { ...stored.event, _chain: { chain: stored.chain, seq: stored.seq, hash: stored.hash } };
}

export function ndjsonLine(stored: StoredEvent): string {
  return `${JSON.stringify(eventJson(stored))}\n`;
}

export const CSV_COLUMNS = [
  'id',
  'ts',
  'request_id',
  'gateway_id',
  'route',
  'stream',
  'developer',
  'repository',
  'team',
  'client',
  'model_requested',
  'target_id',
  'provider',
  'model',
  'verdict',
  'reason_code',
  'status',
  'policies',
  'finding_types',
  'redactions',
  'input_tokens',
  'output_tokens',
  'cost_total',
  'total_ms',
  'upstream_ms',
] as const;

/**
 * One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula (starting with = + - @,
 * tab or carriage return) gets a leading apostrophe: developer names and repositories come from request
 * headers, so an export opened in Excel must not execute `=HYPERLINK(...)` someone sent.
 */
export function csvCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(stored: StoredEvent | DecisionEvent): string {
  const e = eventOf(stored);
  const types = [...new Set(e.policies.flatMap((p) => p.findings.map((f) => f.type)))];
  const values: Record<(typeof CSV_COLUMNS)[number], string | number | boolean | null | undefined> = {
    id: e.id,
    ts: e.ts,
    request_id: e.request_id,
    gateway_id: e.gateway_id,
    route: e.route,
    stream: e.stream,
    developer: e.identity.developer,
    repository: e.identity.repository,
    team: e.identity.team,
    client: e.identity.client,
    model_requested: e.model_requested,
    target_id: e.target?.id,
    provider: e.target?.provider,
    model: e.target?.model,
    verdict: e.verdict,
    reason_code: e.reason_code,
    status: e.status,
    policies: e.policies.map((p) => `${p.kind}:${p.verdict}`).join(';'),
    finding_types: types.join(';'),
    redactions: redactedValues(e),
    input_tokens: e.usage?.input_tokens,
    output_tokens: e.usage?.output_tokens,
    cost_total: e.cost?.total,
    total_ms: e.latency.total_ms,
    upstream_ms: e.latency.upstream_ms,
  };
  return `${CSV_COLUMNS.map((c) => csvCell(values[c])).join(',')}\r\n`;
}

function eventOf(e: StoredEvent | DecisionEvent): DecisionEvent {
  return 'event' in e && 'pos' in e ? e.event : (e as DecisionEvent);
}
