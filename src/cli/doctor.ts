import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { resolveDataDir } from '../audit/paths.js';
import { runDoctor, type CheckRow } from '../doctor/checks.js';
import { collect, positiveInt } from './options.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('Check what a gateway needs, from where it will run: config, targets, data dir, store, control plane, clock')
    .option('-c, --policy-config <path>', 'policy config file; repeat to layer files as the gateway does (default: ./policy-config.yaml)', collect)
    .addOption(new Option('--data-dir <dir>', 'the data dir to check (default ~/.keeptrusts)').env('KEEPTRUSTS_DATA_DIR'))
    .addOption(new Option('--database-url <url>', 'check this PostgreSQL event store instead of the SQLite file').env('KEEPTRUSTS_DATABASE_URL'))
    .addOption(new Option('--redis-url <url>', 'check this Redis for budgets and rate limits').env('KEEPTRUSTS_REDIS_URL'))
    .addOption(new Option('--timeout <ms>', 'how long each network check may take').argParser(positiveInt('--timeout')).default(5000))
    .option('--json', 'print the checks as JSON')
    .addHelpText(
      'after',
      `
Each target is called once with its own key (secret_key_ref), for its models list: nothing is generated or
billed. The control plane is KEEPTRUSTS_API_URL, as the gateway ships to it. The clock is compared with the
Date header of every server that answered.

Exit codes:
  0  every check passed
  1  a check failed (the gateway would not start, or could not serve or record)
  2  warnings only

Examples:
  $ kt doctor -c policy-config.yaml
  $ kt doctor -c base.yaml -c production.yaml --json`,
    )
    .action(async (opts: { policyConfig?: string[]; dataDir?: string; databaseUrl?: string; redisUrl?: string; timeout: number; json?: boolean }) => {
      const files = opts.policyConfig ?? (existsSync('policy-config.yaml') ? ['policy-config.yaml'] : []);
      const rows = await runDoctor({
        files,
        dataDir: resolveDataDir(opts.dataDir),
        databaseUrl: opts.databaseUrl,
        redisUrl: opts.redisUrl,
        apiUrl: process.env.KEEPTRUSTS_API_URL || undefined,
        timeoutMs: opts.timeout,
        env: process.env,
      });
      const failed = rows.some((r) => r.status === 'fail');
      const warned = rows.some((r) => r.status === 'warn');
      if (opts.json) process.stdout.write(`${JSON.stringify({ ok: !failed, checks: rows }, null, 2)}\n`);
      else process.stdout.write(table(rows));
      process.exitCode = failed ? 1 : warned ? 2 : 0;
    });
}

/** Three columns, padded; the detail column is not cut (a terminal wraps it). */
function table(rows: readonly CheckRow[]): string {
  const head: CheckRow = { check: 'CHECK', status: 'STATUS' as CheckRow['status'], detail: 'DETAIL' };
  const width = Math.max(...[head, ...rows].map((r) => r.check.length));
  const line = (r: CheckRow) => `${r.check.padEnd(width)}  ${r.status.toUpperCase().padEnd(6)}  ${r.detail}\n`;
  const failed = rows.filter((r) => r.status === 'fail').length;
  const warned = rows.filter((r) => r.status === 'warn').length;
  const summary = failed > 0 ? `${failed} check(s) failed` : warned > 0 ? `passed with ${warned} warning(s)` : 'all checks passed';
  return [head, ...rows].map(line).join('') + `\n${summary}\n`;
}
