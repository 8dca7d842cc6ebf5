import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { openEventStore } from '../audit/open.js';
import { resolveDataDir } from '../audit/paths.js';
import { SqliteEventStore } from '../audit/sqlite-store.js';
import { USAGE_GROUP_BY, type EventFilter, type EventStore, type UsageGroupBy, type UsageRow } from '../audit/store.js';
import { chooseSource, filterFrom, timeArg, verdictList, type FilterFlags, type SourceFlags } from './events.js';
import { csvCell, VERDICTS } from './format/events.js';
import { oneOf } from './options.js';
import { TIME_FORMS } from './time-range.js';
import { roundUsd } from '../usage/pricing.js';

/**
 * `kt usage --by developer|repository|team|model|provider|gateway|day|verdict`: requests, tokens and cost from the decision
 * events, grouped in the store (SQLite, PostgreSQL) or by a control plane (`GET /v1/usage`).
 */

export const USAGE_FORMATS = ['table', 'json', 'csv'] as const;
export type UsageFormat = (typeof USAGE_FORMATS)[number];

interface UsageFlags extends SourceFlags, FilterFlags {
  by: UsageGroupBy;
  format: UsageFormat;
}

export interface UsageTotals {
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  unpriced_requests: number;
}

class UsageCliError extends Error {}

export function usageTotals(rows: readonly UsageRow[]): UsageTotals {
  const priced = rows.filter((r) => r.cost_usd !== null);
  return {
    requests: rows.reduce((n, r) => n + r.requests, 0),
    input_tokens: rows.reduce((n, r) => n + r.input_tokens, 0),
    output_tokens: rows.reduce((n, r) => n + r.output_tokens, 0),
    cost_usd: priced.length ? roundUsd(priced.reduce((n, r) => n + r.cost_usd!, 0)) : null,
    unpriced_requests: rows.reduce((n, r) => n + r.unpriced_requests, 0),
  };
}

/** `$1.2345`, or `—` when nothing in the group was priced. */
export function formatUsd(cost: number | null): string {
  return cost === null ? '—' : `$${cost.toFixed(4)}`;
}

const NO_KEY = '(none)';
const int = (n: number) => n.toLocaleString('en-US');

export function formatUsageTable(by: UsageGroupBy, rows: readonly UsageRow[]): string {
  const header = [by.toUpperCase(), 'REQUESTS', 'INPUT TOKENS', 'OUTPUT TOKENS', 'COST'];
  const t = usageTotals(rows);
  const body = rows.map((r) => [r.key ?? NO_KEY, int(r.requests), int(r.input_tokens), int(r.output_tokens), formatUsd(r.cost_usd)]);
  const total = ['TOTAL', int(t.requests), int(t.input_tokens), int(t.output_tokens), formatUsd(t.cost_usd)];
  const all = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  // The key column is text (left-aligned); the numbers line up on the right.
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[0]!) : c.padStart(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return `${[line(header), ...body.map(line), rule, line(total)].join('\n')}\n`;
}

export const USAGE_CSV_COLUMNS = ['requests', 'input_tokens', 'output_tokens', 'cost_usd', 'unpriced_requests'] as const;

/** RFC 4180, CRLF; keys (developer names come from request headers) are guarded against spreadsheet formulas. */
export function formatUsageCsv(by: UsageGroupBy, rows: readonly UsageRow[]): string {
  const lines = [[by, ...USAGE_CSV_COLUMNS].join(',')];
  for (const r of rows) lines.push([csvCell(r.key), r.requests, r.input_tokens, r.output_tokens, csvCell(r.cost_usd), r.unpriced_requests].join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function unpricedNote(t: UsageTotals): string | null {
  if (t.unpriced_requests === 0) return null;
  return `note: ${t.unpriced_requests} request${t.unpriced_requests === 1 ? '' : 's'} had token counts but no price (a model without a known price): the costs shown leave them out`;
}


function usageFilter(flags: UsageFlags): EventFilter {
  return filterFrom(flags, (message) => new UsageCliError(message));
}

/** The store to report from, read-only: the same choice of source as `kt events`. */
async function openReportStore(flags: SourceFlags): Promise<Pick<EventStore, 'usageReport' | 'close'>> {
  const choice = chooseSource(flags);
  if (choice.kind === 'remote') {
    if (!choice.token) throw new UsageCliError(`${choice.apiUrl} needs a token: pass --token or set KEEPTRUSTS_API_TOKEN`);
    const { RemoteEventStore } = await import('../audit/remote-store.js');
    return new RemoteEventStore(choice.apiUrl, choice.token);
  }
  if (choice.kind === 'postgres') return openEventStore({ dataDir: resolveDataDir(flags.dataDir), databaseUrl: choice.databaseUrl, readonly: true });
  if (!existsSync(choice.file)) {
    throw new UsageCliError(
      [
        `no event store at ${choice.file}.`,
        'The gateway creates it on first start when audit-logger is in the policy chain.',
        'If the gateway keeps its data elsewhere, pass --data-dir DIR (or set KEEPTRUSTS_DATA_DIR); for a shared store use --database-url or --api-url.',
      ].join('\n  '),
    );
  }
  try {
    return new SqliteEventStore(choice.file, { readonly: true });
  } catch (err) {
    throw new UsageCliError(`cannot read ${choice.file}: ${(err as Error).message}`);
  }
}

export async function runUsage(flags: UsageFlags): Promise<number> {
  const filter = usageFilter(flags);
  const store = await openReportStore(flags);
  let rows: UsageRow[];
  try {
    rows = await store.usageReport(filter, flags.by);
  } finally {
    await store.close();
  }
  const totals = usageTotals(rows);
  const note = unpricedNote(totals);
  if (flags.format === 'json') {
    const body = {
      by: flags.by,
      since: filter.sinceMs !== undefined ? new Date(filter.sinceMs).toISOString() : null,
      until: filter.untilMs !== undefined ? new Date(filter.untilMs).toISOString() : null,
      rows,
      total: totals,
    };
    process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    if (note) process.stderr.write(`${note}\n`);
  } else if (flags.format === 'csv') {
    process.stdout.write(formatUsageCsv(flags.by, rows));
    if (note) process.stderr.write(`${note}\n`);
  } else if (rows.length === 0) {
    process.stdout.write('no events match: nothing to report\n');
  } else {
    process.stdout.write(formatUsageTable(flags.by, rows));
    if (note) process.stdout.write(`\n${note}\n`);
  }
  return 0;
}

export function usageCommand(): Command {
  return new Command('usage')
    .description('Report requests, tokens and cost by developer, repository, team, model, provider, day or verdict, from the decision events')
    .addOption(new Option('--by <field>', 'what to group by').choices(USAGE_GROUP_BY).makeOptionMandatory())
    .option('--since <time>', `only events at or after: ${TIME_FORMS}`, timeArg)
    .option('--until <time>', 'only events before this time (same forms as --since)', timeArg)
    .option('--verdict <list>', `only these verdicts, comma-separated (${VERDICTS.join(', ')})`, verdictList)
    .option('--policy <kind>', 'only events in which this policy kind took part')
    .option('--developer <name>', 'only this developer')
    .option('--repository <name>', 'only this repository')
    .option('--team <name>', 'only this team')
    .option('--model <name>', 'only this model (the target model, else the requested one)')
    .option('--client <name>', 'only this client program (aider, claude-code, codex, …)')
    .option('--gateway <id>', 'only events from this gateway')
    .addOption(new Option('--format <format>', 'output format').choices(USAGE_FORMATS).default('table').argParser(oneOf(USAGE_FORMATS)))
    .option('--data-dir <dir>', 'gateway data directory holding events.db (default: KEEPTRUSTS_DATA_DIR or ~/.keeptrusts)')
    .option('--database-url <url>', 'read a PostgreSQL store (default: KEEPTRUSTS_DATABASE_URL)')
    .option('--api-url <url>', 'read from a control plane (default: KEEPTRUSTS_API_URL)')
    .option('--token <token>', 'control plane token (default: KEEPTRUSTS_API_TOKEN, then KEEPTRUSTS_GATEWAY_TOKEN)')
    .addHelpText(
      'after',
      `
Requests are decision events (with audit-logger's log_all_access: false, only those a policy acted on).
Costs are summed over priced requests and shown with 4 decimals; "—" means nothing in the row was priced.

Examples:
  $ kt usage --by developer --since 7d
  $ kt usage --by repository --since 2026-11-01 --until 2026-12-01 --format csv > november.csv
  $ kt usage --by day --developer alice@example.com --format json
  $ kt usage --by verdict --since 30d                (what was let through, and what was refused)
  $ kt usage --by gateway --since 1d --api-url URL   (each replica of a team gateway, one line each)
  $ kt usage --by team --api-url https://keeptrusts.internal:41003 --token "$KEEPTRUSTS_API_TOKEN"`,
    )
    .action(async (flags: UsageFlags) => {
      try {
        process.exitCode = await runUsage(flags);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`kt usage: ${err instanceof UsageCliError ? message : message.replace(/postgres(ql)?:\/\/[^\s]+/g, 'postgres://…')}\n`);
        process.exitCode = 1;
      }
    });
}
