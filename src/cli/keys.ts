import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { readPublicKey } from '../audit/keys.js';
import { resolveDataDir } from '../audit/paths.js';

/**
 * `kt keys`: the keys keeptrusts holds. Today the gateway's checkpoint signing key; virtual keys for
 * developers join this group as further subcommands, each added by its own function below.
 */
export function keysCommand(): Command {
  const keys = new Command('keys').description("Keys keeptrusts holds: export the gateway's checkpoint signing key");
  addExportPublic(keys);
  return keys;
}

function addExportPublic(keys: Command): void {
  keys
    .command('export-public')
    .description("Print the public half of the gateway's Ed25519 checkpoint signing key (PEM)")
    .option('--data-dir <dir>', 'gateway data directory (default: KEEPTRUSTS_DATA_DIR or ~/.keeptrusts)')
    .option('-o, --output <file>', 'write the PEM to a file instead of standard output')
    .addHelpText(
      'after',
      `
Keep the exported key somewhere the gateway's store is not (a repository, a ticket, a vault), then check
the audit trail against it, so verification does not rely on keys read from the store it checks:
  $ kt keys export-public --output gateway-key.pem
  $ kt events verify --public-key gateway-key.pem`,
    )
    .action(async (opts: { dataDir?: string; output?: string }) => {
      const dataDir = resolveDataDir(opts.dataDir);
      let key: { keyId: string; pem: string } | null;
      try {
        key = readPublicKey(dataDir);
      } catch (err) {
        process.stderr.write(`kt keys export-public: cannot read the signing key in ${dataDir}: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (!key) {
        process.stderr.write(
          `kt keys export-public: no signing key in ${dataDir} yet.\n` +
            '  The gateway creates it on first start when audit-logger is in the policy chain.\n' +
            '  If the gateway keeps its data elsewhere, pass --data-dir DIR (or set KEEPTRUSTS_DATA_DIR).\n',
        );
        process.exitCode = 1;
        return;
      }
      if (opts.output) {
        try {
          await writeFile(opts.output, key.pem);
        } catch (err) {
          process.stderr.write(`kt keys export-public: cannot write ${opts.output}: ${(err as Error).message}\n`);
          process.exitCode = 1;
          return;
        }
        process.stderr.write(`wrote public key ${key.keyId} to ${opts.output}\n`);
      } else {
        process.stdout.write(key.pem);
      }
    });
}
