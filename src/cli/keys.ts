import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { readPublicKey } from '../audit/keys.js';
import { databaseUrlFrom } from '../audit/open.js';
import { eventsDbFile, resolveDataDir } from '../audit/paths.js';
import { DEFAULT_LOOKUP_CACHE_MS, openVirtualKeyStore, VirtualKeyInputError, type VirtualKeyRecord, type VirtualKeyStore } from '../usage/keys.js';

/**
 * `kt keys`: the keys keeptrusts holds. Today the gateway's checkpoint signing key; virtual keys for
 * developers join this group as further subcommands, each added by its own function below.
 */
export function keysCommand(): Command {
  const keys = new Command('keys').description("Keys keeptrusts holds: developers' virtual keys for the gateway, and the gateway's checkpoint signing key");
  addCreate(keys);
  addList(keys);
  addRevoke(keys);
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

// ---------------------------------------------------------------------------------------------------------
// Virtual keys: kt keys create / list / revoke

interface StoreFlags {
  dataDir?: string;
  databaseUrl?: string;
}

/** A failure the user can act on: printed as `kt keys <cmd>: message`, exit 1. */
class KeysCliError extends Error {}

function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', "the gateway's data directory; keys are kept in DIR/events.db (default: KEEPTRUSTS_DATA_DIR or ~/.keeptrusts)")
    .option('--database-url <url>', 'keep keys in PostgreSQL, beside a shared event store (default: KEEPTRUSTS_DATABASE_URL; ?schema=NAME picks the schema)');
}

function keysAction<A extends unknown[]>(name: string, fn: (...args: A) => Promise<number>) {
  return async (...args: A): Promise<void> => {
    try {
      process.exitCode = await fn(...args);
    } catch (err) {
      const known = err instanceof KeysCliError || err instanceof VirtualKeyInputError;
      const message = err instanceof Error ? err.message : String(err);
      // Connection errors from pg can carry the URL; never print its password.
      process.stderr.write(`kt keys ${name}: ${known ? message : message.replace(/postgres(ql)?:\/\/[^\s]+/g, 'postgres://…')}\n`);
      process.exitCode = 1;
    }
  };
}

/** The store to manage, or null when a SQLite file that would hold it does not exist (nothing to list or revoke). */
async function openKeys(flags: StoreFlags, create: boolean): Promise<VirtualKeyStore | null> {
  const databaseUrl = databaseUrlFrom(flags.databaseUrl);
  const dataDir = resolveDataDir(flags.dataDir);
  if (!databaseUrl && !create && !existsSync(eventsDbFile(dataDir))) return null;
  return openVirtualKeyStore({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
}

function where(flags: StoreFlags): string {
  const databaseUrl = databaseUrlFrom(flags.databaseUrl);
  return databaseUrl ? 'the PostgreSQL store' : eventsDbFile(resolveDataDir(flags.dataDir));
}

function describeKey(r: VirtualKeyRecord): string {
  const extra = [r.team ? `team ${r.team}` : '', r.repository ? `repository ${r.repository}` : ''].filter(Boolean).join(', ');
  return `developer ${r.developer}${extra ? ` (${extra})` : ''}`;
}

function addCreate(keys: Command): void {
  addStoreOptions(
    keys
      .command('create')
      .description('Issue a virtual key for a developer: the client uses it as its API key, and the gateway attributes requests to it')
      .requiredOption('--developer <name>', 'who requests with this key are attributed to (e.g. an email address)')
      .option('--team <name>', 'their team')
      .option('--repository <name>', 'the repository (owner/repo), when the key is for one project')
      .option('--name <label>', 'a label for people: which laptop, CI job or tool holds the key')
      .option('--json', 'print {key, record} as JSON, for scripts'),
  )
    .addHelpText(
      'after',
      `
The key (kt-vk- and 32 characters) is printed once; only its SHA-256 is stored. A gateway reading the same
data dir (or database) accepts it in place of a provider key and calls the provider with the key configured
for the target (secret_key_ref), so developers never hold provider keys.

Examples:
  $ kt keys create --developer alice@example.com --team platform
  $ kt keys create --developer ci --repository acme/api --name "GitHub Actions" --json | jq -r .key`,
    )
    .action(
      keysAction('create', async (opts: StoreFlags & { developer: string; team?: string; repository?: string; name?: string; json?: boolean }) => {
        const store = (await openKeys(opts, true))!;
        try {
          const { key, record } = await store.create({ developer: opts.developer, team: opts.team, repository: opts.repository, name: opts.name });
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ key, record }, null, 2)}\n`);
            return 0;
          }
          process.stdout.write(
            [
              `Created virtual key ${record.id} for ${describeKey(record)}${record.name ? `, "${record.name}"` : ''}.`,
              '',
              `  ${key}`,
              '',
              'This is the only time the key is shown; keeptrusts keeps only its SHA-256. Give it to the client as its API key:',
              `  OpenAI clients (Aider, Codex, SDKs):   OPENAI_API_KEY=${key}`,
              `  Claude Code and Anthropic clients:     ANTHROPIC_API_KEY=${key}`,
              'with the base URL pointed at the gateway (OPENAI_BASE_URL=http://localhost:41002/v1, ANTHROPIC_BASE_URL=http://localhost:41002).',
              `Requests with it are attributed to ${record.developer} whatever headers they carry. Revoke it with: kt keys revoke ${record.id}`,
              '',
            ].join('\n'),
          );
          return 0;
        } finally {
          await store.close();
        }
      }),
    );
}

function addList(keys: Command): void {
  addStoreOptions(
    keys
      .command('list')
      .description('List virtual keys (id, developer, team, repository, label, created, revoked); never the keys themselves')
      .option('--json', 'print the records as a JSON array'),
  ).action(
    keysAction('list', async (opts: StoreFlags & { json?: boolean }) => {
      const store = await openKeys(opts, false);
      let records: VirtualKeyRecord[] = [];
      if (store) {
        try {
          records = await store.list();
        } finally {
          await store.close();
        }
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
        return 0;
      }
      if (records.length === 0) {
        process.stdout.write(`no virtual keys in ${where(opts)}; create one with kt keys create --developer NAME\n`);
        return 0;
      }
      const header = ['ID', 'DEVELOPER', 'TEAM', 'REPOSITORY', 'NAME', 'CREATED', 'STATUS'];
      const rows = records.map((r) => [r.id, r.developer, r.team ?? '-', r.repository ?? '-', r.name ?? '-', r.created_at, r.revoked_at ? `revoked ${r.revoked_at}` : 'active']);
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
      process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
      return 0;
    }),
  );
}

function addRevoke(keys: Command): void {
  addStoreOptions(
    keys
      .command('revoke')
      .description('Revoke a virtual key by its id (vk_…): gateways refuse it from then on')
      .argument('<id>', 'the key id from kt keys create or kt keys list'),
  )
    .addHelpText(
      'after',
      `
Gateways remember a key lookup for ${DEFAULT_LOOKUP_CACHE_MS / 1000} seconds, so a running gateway refuses a revoked key within
that time. Revoking a key twice keeps the first revocation time.`,
    )
    .action(
      keysAction('revoke', async (id: string, opts: StoreFlags) => {
        const store = await openKeys(opts, false);
        if (!store) throw new KeysCliError(`no key ${id}: there is no key store at ${where(opts)}`);
        try {
          if (!(await store.revoke(id))) throw new KeysCliError(`no key ${id} in ${where(opts)} (kt keys list shows the ids)`);
          const record = (await store.list()).find((r) => r.id === id);
          process.stdout.write(
            `revoked ${id}${record ? ` (${describeKey(record)})` : ''}; running gateways refuse it within ${DEFAULT_LOOKUP_CACHE_MS / 1000} seconds\n`,
          );
          return 0;
        } finally {
          await store.close();
        }
      }),
    );
}
