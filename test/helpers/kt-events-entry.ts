/**
 * A stand-in for `kt` with only the `events` and `keys` groups, run with `node --import tsx`, so the CLI
 * tests run the commands as a user would before src/cli/main.ts registers them.
 */
import { Command } from 'commander';
import { eventsCommand } from '../../src/cli/events.js';
import { keysCommand } from '../../src/cli/keys.js';

const program = new Command('kt').showSuggestionAfterError().addCommand(eventsCommand()).addCommand(keysCommand());
await program.parseAsync(process.argv);
