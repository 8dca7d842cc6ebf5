import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command } from 'commander';
import { countBySeverity, formatDiagnostic, loadConfig } from '../config/index.js';
import { configJsonSchema } from '../config/json-schema.js';
import { runGoldenTests } from '../policy/golden.js';
import { collect } from './options.js';

export function policyCommand(): Command {
  const policy = new Command('policy').description('Validate, test and describe policy-config.yaml files');

  policy
    .command('lint')
    .description('Check config files: YAML syntax, unknown keys and kinds, provider wiring, and common mistakes')
    .argument('[files...]', 'config files, layered in order as the gateway would merge them (default: ./policy-config.yaml)')
    .option('-f, --file <path>', 'config file; repeat to lint layered files (after any given as arguments)', collect)
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Every problem is reported in one run: YAML and schema errors, provider wiring and warnings together.

Exit codes:
  0  valid
  1  errors (the gateway would refuse to start)
  2  warnings only (for example an empty chain, pack.enabled: false, or a policy block not in the chain)

Examples:
  $ kt policy lint policy-config.yaml
  $ kt policy lint --file base.yaml --file production.yaml --json`,
    )
    .action(async (positional: string[], opts: { file?: string[]; json?: boolean }) => {
      const given = [...positional, ...(opts.file ?? [])];
      const files = given.length > 0 ? given : ['policy-config.yaml'];
      const { loaded, diagnostics } = await loadConfig(files);
      const { errors, warnings } = countBySeverity(diagnostics);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok: errors === 0, errors, warnings, files, diagnostics }, null, 2)}\n`);
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

  policy
    .command('test')
    .description('Run the golden tests in tests/*.json beside a config against its policy chain')
    .option('-d, --pack-dir <dir>', 'directory holding policy-config.yaml and tests/', '.')
    .option('-f, --file <path>', 'config file(s) instead of <pack-dir>/policy-config.yaml (repeatable, layered)', collect)
    .option('--json', 'print the report as JSON (top-level "ok", per-case results)')
    .addHelpText(
      'after',
      `
A test file holds one case, a list, or {"cases": [...]}:
  {"name": "redacts a GitHub token in a tool result",
   "family": "chat",
   "input": {"messages": [{"role": "tool", "tool_call_id": "1", "content": "GITHUB_TOKEN=ghp_..."}]},
   "reply": "optional reply text for the output phase",
   "expected": {"verdict": "redact", "redactions": [{"type": "SECRET"}], "forwarded_excludes": ["ghp_..."]}}

Exit code 0 when every case passes, 1 otherwise (also when there are no cases).`,
    )
    .action(async (opts: { packDir: string; file?: string[]; json?: boolean }) => {
      const files = opts.file ?? [join(opts.packDir, 'policy-config.yaml')];
      const { loaded, diagnostics } = await loadConfig(files);
      if (!loaded) {
        for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
        process.stderr.write('kt policy test: the config has errors; fix them first (kt policy lint)\n');
        process.exitCode = 1;
        return;
      }
      const testsDir = join(opts.file ? dirname(files[files.length - 1]!) : opts.packDir, 'tests');
      const report = await runGoldenTests(loaded.config, testsDir);
      if (opts.json) process.stdout.write(`${JSON.stringify({ ...report, tests_dir: testsDir }, null, 2)}\n`);
      else {
        for (const c of report.cases) {
          process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.file} › ${c.name}\n`);
          for (const f of c.failures) process.stdout.write(`       ${f}\n`);
        }
        if (report.cases.length === 0) process.stdout.write(`no test cases found in ${testsDir}\n`);
        process.stdout.write(`${report.passed} passed, ${report.failed} failed\n`);
      }
      process.exitCode = report.ok ? 0 : 1;
    });

  return policy;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
