import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { isLoopback, parseListen } from '../gateway/listen.js';
import { LOG_LEVELS, type LogLevel } from '../gateway/logger.js';
import { startFakeUpstream, type FakeUpstream } from '../testing/fake-upstream.js';
import { DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENCY, runGateway } from './gateway.js';

const DEMO_CONFIG = fileURLToPath(new URL('../../examples/demo/policy-config.yaml', import.meta.url));
const FAKE_PORT = 41099;

export function demoCommand(): Command {
  return new Command('demo')
    .description('Try the gateway without a provider account: starts a fake provider and the gateway in front of it')
    .option('--listen <host:port>', 'gateway address', DEFAULT_LISTEN)
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(LOG_LEVELS).default('debug'))
    .addHelpText('after', `\nThe fake provider listens on 127.0.0.1:${FAKE_PORT} (examples/demo/policy-config.yaml points there). The log level\nis debug by default: one line per request with its route, target, status and timings.`)
    .action(async (opts: { listen: string; logLevel: LogLevel }) => {
      // The demo answers any API key over plain HTTP: it is for this machine, never for the network.
      let loopback = false;
      try {
        loopback = isLoopback(parseListen(opts.listen).host);
      } catch (err) {
        process.stderr.write(`kt demo: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      if (!loopback) {
        process.stderr.write(`kt demo: --listen ${opts.listen} takes connections from the network; the demo listens on this machine only (e.g. 127.0.0.1:41002). A gateway for others: kt gateway run (docs/deploy.md)\n`);
        process.exitCode = 1;
        return;
      }
      let fake: FakeUpstream;
      try {
        fake = await startFakeUpstream({ port: FAKE_PORT, record: false });
      } catch (err) {
        process.stderr.write(`kt demo: ${listenFailure(err, `127.0.0.1:${FAKE_PORT}`, 'the fake provider')}\n`);
        process.exitCode = 1;
        return;
      }
      process.exitCode = await runGateway(
        {
          policyConfig: [DEMO_CONFIG],
          listen: opts.listen,
          logLevel: opts.logLevel,
          failMode: 'block',
          maxConcurrency: DEFAULT_MAX_CONCURRENCY,
          maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
        },
        (g) => {
          process.stderr.write(
            `\nDemo running: a fake provider answers behind the gateway. Try:\n` +
              `  curl -s ${g.url}/v1/chat/completions -H 'authorization: Bearer demo' -H 'content-type: application/json' \\\n` +
              `    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"Say hello"}]}'\n` +
              `  curl -sN ${g.url}/v1/messages -H 'x-api-key: demo' -H 'anthropic-version: 2023-06-01' -H 'content-type: application/json' \\\n` +
              `    -d '{"model":"claude-sonnet-4-20250514","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello"}]}'\n` +
              `See redaction (the fake echoes what it received when the prompt contains ECHOTEST):\n` +
              `  curl -s ${g.url}/v1/chat/completions -H 'authorization: Bearer demo' -H 'content-type: application/json' \\\n` +
              `    -d '{"model":"gpt-4o","messages":[{"role":"user","content":"ECHOTEST mail ann@example.org, token ${['ghp', 'Q7xK2mP9vR4tL8nW3zC6bH1jF5dS0aY2eU7i'].join('_')}"}]}'\n` +
              `Press Ctrl+C to stop.\n\n`,
          );
        },
        'kt demo',
      );
      await fake.close();
    });
}

/** Why a listener could not start, in one line (a busy port is the usual reason: another demo still running). */
function listenFailure(err: unknown, address: string, what: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return `${address}, where ${what} listens, is already in use (another kt demo running?); stop it and try again`;
  if (code === 'EACCES') return `not allowed to listen on ${address} for ${what}`;
  return `${what} could not start: ${(err as Error)?.message ?? String(err)}`;
}
