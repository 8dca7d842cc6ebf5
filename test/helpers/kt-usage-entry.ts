/**
 * A stand-in for `kt` with the `usage`, `keys` and `run` commands, run with `node --import tsx`, so the CLI
 * tests run them as a user would before src/cli/main.ts registers them.
 */
import { Command } from 'commander';
import { keysCommand } from '../../src/cli/keys.js';
import { runCommand } from '../../src/cli/run.js';
import { usageCommand } from '../../src/cli/usage.js';

const program = new Command('kt').showSuggestionAfterError().addCommand(usageCommand()).addCommand(keysCommand()).addCommand(runCommand());
await program.parseAsync(process.argv);
