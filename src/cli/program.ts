import { Command } from 'commander';
import { VERSION } from '../version.js';
import { consoleCommand } from './console.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { eventsCommand } from './events.js';
import { escalationsCommand } from './escalations.js';
import { webhooksCommand } from './webhooks.js';
import { gatewayCommand } from './gateway.js';
import { initCommand } from './init.js';
import { keysCommand } from './keys.js';
import { policyCommand } from './policy.js';
import { runCommand } from './run.js';
import { serverCommand } from './server.js';
import { usageCommand } from './usage.js';


/** The whole `kt` command tree: main.ts parses argv with it, and the docs test reads its commands and options. */
export function buildProgram(): Command {
  return new Command('kt')
    .description('keeptrusts: a governance gateway for AI coding agents (Aider, Claude Code, Codex, SDKs)')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showSuggestionAfterError()
    .addCommand(gatewayCommand())
    .addCommand(policyCommand())
    .addCommand(eventsCommand())
    .addCommand(escalationsCommand())
    .addCommand(webhooksCommand())
    .addCommand(keysCommand())
    .addCommand(usageCommand())
    .addCommand(runCommand())
    .addCommand(serverCommand())
    .addCommand(consoleCommand())
    .addCommand(initCommand())
    .addCommand(demoCommand())
    .addCommand(doctorCommand())
    .addHelpText(
      'after',
      `
Quick start:
  $ kt init --template aider
  $ kt policy lint --file policy-config.yaml && kt policy test
  $ kt gateway run --policy-config policy-config.yaml
  $ OPENAI_API_BASE=http://localhost:41002/v1 aider --model gpt-4o
  $ kt events tail                      (in another terminal: one decision event per request)
  $ kt run -- aider --model gpt-4o      (or: an embedded gateway for one session, attributed to your git identity)
  $ kt usage --by repository --since 7d

Documentation: docs/cli.md and docs/configuration.md in the project.`,
    );
}
