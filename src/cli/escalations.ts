import { userInfo } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { databaseUrlFrom } from '../audit/open.js';
import { resolveDataDir } from '../audit/paths.js';
import { RemoteEscalationStore } from '../escalation/remote.js';
import { openEscalationStore } from '../escalation/store.js';
import { ESCALATION_STATES, EscalationInputError, EscalationStateError, type EscalationRecord, type EscalationStore, type ExceptionRecord } from '../escalation/types.js';

/**
 * `kt escalations`: the queue of requests held for review. Against the local store (a gateway's data dir or
 * PostgreSQL) or a control plane (`--api-url` with a reviewer token; a reader token only lists), whichever the gateway opens them on.
 */
export function escalationsCommand(): Command {
  const cmd = new Command('escalations').description('Review requests a policy escalated: list, show, approve or deny them; list and revoke exceptions');
  source(
    cmd
      .command('list')
      .description('List escalations, newest first (open ones by default)')
      .addOption(new Option('--state <state>', 'which ones').choices([...ESCALATION_STATES, 'all']).default('open'))
      .option('-n, --limit <n>', 'at most this many (1-1000)', limitArg, 50)
      .option('--json', 'one JSON object per line'),
  ).action((opts: SourceFlags & { state: string; limit: number; json?: boolean }) =>
    run('list', opts, async (store) => {
      const list = await store.list({ state: opts.state === 'all' ? undefined : (opts.state as EscalationRecord['state']), limit: opts.limit });
      if (opts.json) return list.map((e) => JSON.stringify(e)).join('\n') + (list.length ? '\n' : '');
      if (list.length === 0) return `no ${opts.state === 'all' ? '' : `${opts.state} `}escalations\n`;
      return table(
        ['ID', 'STATE', 'CREATED', 'EXPIRES', 'DEVELOPER', 'REPOSITORY', 'POLICY', 'RULE'],
        list.map((e) => [e.id, e.state, e.created_at, e.expires_at, e.developer ?? '-', e.repository ?? '-', e.policy, e.rule ?? '-']),
      );
    }),
  );
  source(cmd.command('show').description('Show one escalation').argument('<id>', 'escalation id (esc_…)').option('--json', 'as JSON')).action(
    (id: string, opts: SourceFlags & { json?: boolean }) =>
      run('show', opts, async (store) => {
        const e = await store.get(id);
        if (!e) throw new EscalationStateError(`no escalation ${id}`, 404);
        if (opts.json) return `${JSON.stringify(e, null, 2)}\n`;
        return Object.entries(e)
          .map(([k, v]) => `${k.padEnd(13)} ${v ?? '-'}`)
          .join('\n')
          .concat('\n');
      }),
  );
  decideCommand(cmd, 'approve');
  decideCommand(cmd, 'deny');
  source(
    cmd
      .command('exceptions')
      .description('List exceptions approvals created (active ones unless --all)')
      .option('--all', 'expired and revoked ones too')
      .option('--json', 'one JSON object per line'),
  ).action((opts: SourceFlags & { all?: boolean; json?: boolean }) =>
    run('exceptions', opts, async (store) => {
      const list = await store.exceptions({ active: !opts.all });
      if (opts.json) return list.map((e) => JSON.stringify(e)).join('\n') + (list.length ? '\n' : '');
      if (list.length === 0) return 'no exceptions\n';
      return table(
        ['ID', 'POLICY', 'RULE', 'DEVELOPER', 'REPOSITORY', 'EXPIRES', 'STATE', 'BY'],
        list.map((x) => [x.id, x.policy, x.rule ?? '*', x.developer ?? '*', x.repository ?? '*', x.expires_at, exceptionState(x), x.created_by]),
      );
    }),
  );
  source(cmd.command('revoke-exception').description('Revoke an exception: the next matching request escalates again').argument('<id>', 'exception id (exc_…)')).action(
    (id: string, opts: SourceFlags) =>
      run('revoke-exception', opts, async (store) => {
        if (!(await store.revokeException(id))) throw new EscalationStateError(`no exception ${id}`, 404);
        return `revoked ${id}\n`;
      }),
  );
  cmd.addHelpText(
    'after',
    `
Examples:
  $ kt escalations list
  $ kt escalations approve esc_01J… --reason "test fixture key, not a real one" --exception --exception-ttl 7d
  $ kt escalations deny esc_01J… --reason "production credentials"
  $ kt escalations list --api-url https://kt.corp.example --token $KEEPTRUSTS_API_TOKEN   (a reviewer token)`,
  );
  return cmd;
}

function decideCommand(cmd: Command, decision: 'approve' | 'deny'): void {
  const c = cmd
    .command(decision)
    .description(decision === 'approve' ? 'Approve a held request: it goes on to the model (optionally with an exception for retries)' : 'Deny a held request: the client gets a block')
    .argument('<id>', 'escalation id (esc_…)')
    .requiredOption('--reason <text>', 'why (recorded on the audit chain and sent to webhooks; never put secrets here)')
    .option('--reviewer <name>', 'who decides (default: your user name)');
  if (decision === 'approve') {
    c.option('--exception', 'also let matching requests through this rule until --exception-ttl (so the agent can retry)')
      .option('--exception-scope <list>', 'what the exception is limited to besides the policy, comma-separated: developer, repository, rule', scopeArg, ['developer', 'repository', 'rule'])
      .option('--exception-ttl <duration>', 'how long the exception lasts: 30m, 24h, 7d (60 s to 366 d)', durationArg, 86_400);
  }
  source(c).action((id: string, opts: SourceFlags & { reason: string; reviewer?: string; exception?: boolean; exceptionScope?: Array<'developer' | 'repository' | 'rule'>; exceptionTtl?: number }) =>
    run(decision, opts, async (store) => {
      const e = await store.decide(id, {
        decision,
        reviewer: opts.reviewer ?? defaultReviewer(),
        reason: opts.reason,
        ...(opts.exception ? { exception: { scope: opts.exceptionScope ?? ['developer', 'repository', 'rule'], ttlSeconds: opts.exceptionTtl ?? 86_400 } } : {}),
      });
      return `${e.id} ${e.state} by ${e.reviewer}${e.exception_id ? `; exception ${e.exception_id}` : ''}\n`;
    }),
  );
}

interface SourceFlags {
  dataDir?: string;
  databaseUrl?: string;
  apiUrl?: string;
  token?: string;
}

function source(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'gateway data directory (default: KEEPTRUSTS_DATA_DIR or ~/.keeptrusts)')
    .option('--database-url <url>', 'a PostgreSQL store (default: KEEPTRUSTS_DATABASE_URL)')
    .option('--api-url <url>', 'a control plane (default: KEEPTRUSTS_API_URL)')
    .option('--token <token>', 'control plane token: reviewer (or admin) to decide, any to list (default: KEEPTRUSTS_API_TOKEN)');
}

async function openStore(flags: SourceFlags): Promise<EscalationStore> {
  const env = process.env;
  const apiUrl = flags.apiUrl ?? (env.KEEPTRUSTS_API_URL || undefined);
  if (apiUrl && !flags.dataDir && !flags.databaseUrl) {
    const token = flags.token ?? (env.KEEPTRUSTS_API_TOKEN || undefined);
    if (!token) throw new EscalationInputError('a control plane needs a token: --token or KEEPTRUSTS_API_TOKEN (kt server token create --role reviewer)');
    return new RemoteEscalationStore(apiUrl, token);
  }
  return openEscalationStore({ dataDir: resolveDataDir(flags.dataDir), databaseUrl: databaseUrlFrom(flags.databaseUrl) });
}

async function run(name: string, flags: SourceFlags, fn: (store: EscalationStore) => Promise<string>): Promise<void> {
  let store: EscalationStore | undefined;
  try {
    store = await openStore(flags);
    process.stdout.write(await fn(store));
  } catch (err) {
    const known = err instanceof EscalationStateError || err instanceof EscalationInputError;
    const message = (err as Error)?.message ?? String(err);
    process.stderr.write(`kt escalations ${name}: ${known ? message : message.replace(/postgres(ql)?:\/\/\S+/g, 'postgres://…').slice(0, 300)}\n`);
    process.exitCode = 1;
  } finally {
    await store?.close().catch(() => undefined);
  }
}

function exceptionState(x: ExceptionRecord): string {
  if (x.revoked_at) return 'revoked';
  return Date.parse(x.expires_at) <= Date.now() ? 'expired' : 'active';
}

function defaultReviewer(): string {
  try {
    return userInfo().username || 'cli';
  } catch {
    return 'cli';
  }
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

function limitArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 1000) throw new InvalidArgumentError('must be a whole number from 1 to 1000.');
  return n;
}

export function durationArg(value: string): number {
  const m = /^(\d+)\s*(s|m|min|h|d)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a duration such as 90s, 30m, 24h or 7d.');
  const unit = { s: 1, m: 60, min: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'min' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function scopeArg(value: string): Array<'developer' | 'repository' | 'rule'> {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of parts) if (!['developer', 'repository', 'rule'].includes(p)) throw new InvalidArgumentError('is a comma-separated list of developer, repository, rule.');
  return parts as Array<'developer' | 'repository' | 'rule'>;
}
