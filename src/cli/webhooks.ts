import { Command, InvalidArgumentError, Option } from 'commander';
import { databaseUrlFrom } from '../audit/open.js';
import { resolveDataDir } from '../audit/paths.js';
import { openSqlDriver } from '../escalation/sql.js';
import { DeliveryLog, DELIVERY_LOG_ROWS, type DeliveryState } from '../webhooks/log.js';

/** `kt webhooks deliveries`: the gateway's delivery log (the newest 10,000 deliveries, in its store). */
export function webhooksCommand(): Command {
  const cmd = new Command('webhooks').description('Webhook deliveries of a gateway (configure receivers under webhooks: in the policy config)');
  cmd
    .command('deliveries')
    .description('List webhook deliveries, newest first: receiver, type, state, tries, last status')
    .option('--data-dir <dir>', 'gateway data directory (default: KEEPTRUSTS_DATA_DIR or ~/.keeptrusts)')
    .option('--database-url <url>', 'a PostgreSQL store (default: KEEPTRUSTS_DATABASE_URL)')
    .addOption(new Option('--state <state>', 'only deliveries in this state').choices(['pending', 'delivered', 'failed', 'dropped']))
    .option('-n, --limit <n>', `at most this many (1-${DELIVERY_LOG_ROWS})`, limitArg, 50)
    .option('--json', 'one JSON object per line')
    .action(async (opts: { dataDir?: string; databaseUrl?: string; state?: DeliveryState; limit: number; json?: boolean }) => {
      let log: DeliveryLog | undefined;
      try {
        log = await DeliveryLog.create(await openSqlDriver({ dataDir: resolveDataDir(opts.dataDir), databaseUrl: databaseUrlFrom(opts.databaseUrl) }));
        const rows = await log.list({ limit: opts.limit, state: opts.state });
        if (opts.json) {
          process.stdout.write(rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
          return;
        }
        if (rows.length === 0) {
          process.stdout.write('no webhook deliveries\n');
          return;
        }
        const head = ['ID', 'CREATED', 'TYPE', 'STATE', 'TRIES', 'LAST', 'RECEIVER'];
        const cells = rows.map((r) => [r.id, r.created_at, r.type, r.state, String(r.attempts), r.last_error ?? (r.last_status !== null ? String(r.last_status) : '-'), r.receiver]);
        const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
        const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
        process.stdout.write([line(head), ...cells.map(line)].join('\n') + '\n');
      } catch (err) {
        process.stderr.write(`kt webhooks deliveries: ${((err as Error)?.message ?? String(err)).replace(/postgres(ql)?:\/\/\S+/g, 'postgres://…').slice(0, 300)}\n`);
        process.exitCode = 1;
      } finally {
        await log?.close().catch(() => undefined);
      }
    });
  return cmd;
}

function limitArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > DELIVERY_LOG_ROWS) throw new InvalidArgumentError(`must be a whole number from 1 to ${DELIVERY_LOG_ROWS}.`);
  return n;
}
