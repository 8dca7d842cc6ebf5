import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../gateway/logger.js';
import { startFakeUpstream } from '../testing/fake-upstream.js';
import { DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENCY, runGateway } from './gateway.js';

const DEMO_CONFIG = fileURLToPath(new URL('../../examples/demo/policy-config.yaml', import.meta.url));
const FAKE_PORT = 41099;

export function demoCommand(): Command {
  return new Command('demo')
    .description('Try the gateway without a provider account: starts a fake provider and the gateway in front of it')
    .option('--listen <host:port>', 'gateway address', DEFAULT_LISTEN)
    .addOption(new Option('--log-level <level>', 'log verbosity').choices(LOG_LEVELS).default('debug'))
    .action(async (opts: { listen: string; logLevel: LogLevel }) => {
      const fake = await startFakeUpstream({ port: FAKE_PORT, record: false });
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
      );
      await fake.close();
    });
}
