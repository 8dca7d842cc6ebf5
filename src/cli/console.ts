import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { resolveDataDir } from '../audit/paths.js';

/** `kt console url`: a sign-in link for the console of the gateway that uses this data dir. */
export function consoleCommand(): Command {
  const cmd = new Command('console').description('The web console of a local gateway');
  cmd
    .command('url')
    .description('Print a sign-in link for the console of `kt gateway run` (the token stays out of logs)')
    .option('--data-dir <dir>', 'the gateway data dir (default ~/.keeptrusts, or KEEPTRUSTS_DATA_DIR)')
    .option('--gateway <url>', 'where the gateway listens', 'http://localhost:41002')
    .action((opts: { dataDir?: string; gateway: string }) => {
      const file = join(resolveDataDir(opts.dataDir), 'console-token');
      if (!existsSync(file)) {
        process.stderr.write(`kt console url: no console token at ${file}; start the gateway once with audit-logger in its chain\n`);
        process.exitCode = 1;
        return;
      }
      const token = readFileSync(file, 'utf8').trim();
      // The token rides in the fragment: browsers never send it to the server, and the page removes it.
      process.stdout.write(`${opts.gateway.replace(/\/+$/, '')}/console#token=${encodeURIComponent(token)}\n`);
    });
  return cmd;
}
