import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { countBySeverity, formatDiagnostic, loadConfig } from '../config/index.js';
import { configJsonSchema } from '../config/json-schema.js';
import { collect } from './options.js';

export function policyCommand(): Command {
  const policy = new Command('policy').description('Validate policy-config.yaml files and export their schema');

  policy
    .command('lint')
    .description('Check config files: YAML syntax, unknown keys and kinds, provider wiring, and common mistakes')
    .requiredOption('-f, --file <path>', 'config file; repeat to lint layered files as the gateway would merge them', collect)
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Exit codes:
  0  valid
  1  errors (the gateway would refuse to start)
  2  warnings only (for example an empty chain, pack.enabled: false, or a policy block not in the chain)

Examples:
  $ kt policy lint --file policy-config.yaml
  $ kt policy lint --file base.yaml --file production.yaml --json`,
    )
    .action(async (opts: { file: string[]; json?: boolean }) => {
      const { loaded, diagnostics } = await loadConfig(opts.file);
      const { errors, warnings } = countBySeverity(diagnostics);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok: errors === 0, errors, warnings, files: opts.file, diagnostics }, null, 2)}\n`);
      } else {
        for (const d of diagnostics) process.stdout.write(`${formatDiagnostic(d)}\n`);
        if (errors > 0) process.stdout.write(`policy lint failed (${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''})\n`);
        else if (loaded) {
          const c = loaded.config;
          const summary = `${c.pack.name}@${c.pack.version}: ${plural(c.policies.chain.length, 'policy', 'policies')}, ${plural(c.providers.targets.length, 'target')}`;
          process.stdout.write(warnings ? `policy lint passed with ${plural(warnings, 'warning')} (${summary})\n` : `policy lint passed (${summary})\n`);
        }
      }
      process.exitCode = errors > 0 ? 1 : warnings > 0 ? 2 : 0;
    });

  policy
    .command('schema')
    .description('Print the JSON Schema of policy-config.yaml (for yaml-language-server and other editors)')
    .option('-o, --output <path>', 'write to a file instead of standard output')
    .addHelpText(
      'after',
      `
Use it in an editor by adding this first line to policy-config.yaml:
  # yaml-language-server: $schema=./policy-config.schema.json`,
    )
    .action(async (opts: { output?: string }) => {
      const text = `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
      if (opts.output) await writeFile(opts.output, text);
      else process.stdout.write(text);
    });

  return policy;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
