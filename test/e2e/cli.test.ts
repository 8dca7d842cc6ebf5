import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { MINIMAL, writeConfigs } from '../helpers/config.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const KT = `${ROOT}dist/cli/main.js`;

function kt(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [KT, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(() => {
  // `npm test` builds first; a direct `vitest run` of this file needs the build too.
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
});

describe('kt as a user runs it', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string };
    expect(kt(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('--help lists the command groups; group help lists subcommands', () => {
    const top = kt(['--help']);
    expect(top.code).toBe(0);
    for (const word of ['gateway', 'policy', 'demo', 'Quick start']) expect(top.stdout).toContain(word);
    const policy = kt(['policy', '--help']);
    expect(policy.stdout).toMatch(/lint \[options\]/);
    expect(policy.stdout).toMatch(/schema \[options\]/);
    const run = kt(['gateway', 'run', '--help']);
    for (const flag of ['--policy-config', '--listen', '--log-level', '--fail-mode', '--max-concurrency', '--max-body-bytes']) expect(run.stdout).toContain(flag);
  });

  it('suggests a command for a typo', () => {
    const r = kt(['gatewya']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Did you mean gateway\?/);
  });

  it('policy lint: exit 0 valid, 2 warnings only, 1 errors; --json has ok and diagnostics', () => {
    const [valid] = writeConfigs(MINIMAL);
    const warnOnly = kt(['policy', 'lint', '--file', valid!]);
    expect(warnOnly.code).toBe(2);
    expect(warnOnly.stdout).toMatch(/warning: policies\.chain is empty/);
    expect(warnOnly.stdout).toMatch(/policy lint passed with 1 warning/);

    const [bad] = writeConfigs(MINIMAL.replace('providers:', 'providrs:'));
    const failed = kt(['policy', 'lint', '--file', bad!]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(`${bad}:6:1: error: unknown key "providrs" in (document) (did you mean "providers"?) [unknown-key]`);
    // One pass: the warning about the empty chain comes with the errors, not after they are fixed.
    expect(failed.stdout).toMatch(/policy lint failed \(2 errors, 1 warning\)/);

    const json = kt(['policy', 'lint', '--file', bad!, '--json']);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; errors: number; diagnostics: Array<{ code: string; line: number }> };
    expect(parsed.ok).toBe(false);
    expect(parsed.diagnostics.map((d) => d.code).sort()).toEqual(['empty-chain', 'missing-key', 'unknown-key']);
  });

  it("policy lint: warns when an alias sends a cheaper model's calls to a dearer one, not about models served as named", () => {
    const [file] = writeConfigs(
      MINIMAL.replace('provider: openai', 'provider: openai\n      model: gpt-4o\n      models: [gpt-4o-mini]\n      aliases: {cheap: gpt-4o-mini, claude-3-5-haiku: gpt-4o, fast: gpt-4o}'),
    );
    const r = kt(['policy', 'lint', file!]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      `warning: alias "claude-3-5-haiku" sends claude-3-5-haiku's calls upstream as gpt-4o, which costs 2.6× as much ($2.50/$10.00 against $0.80/$4.00 per million input/output tokens) (to send claude-3-5-haiku as itself, list it under models instead; keep the alias only if the dearer model is what you want) [alias-costs-more]`,
    );
    // gpt-4o-mini under models is sent as itself; an alias to a cheaper model and an unpriced name are not warned about.
    expect(r.stdout.match(/alias-costs-more/g)).toHaveLength(1);
  });

  it('policy lint: every shipped example is free of errors', () => {
    const dirs = readdirSync(`${ROOT}examples`).filter((d) => existsSync(`${ROOT}examples/${d}/policy-config.yaml`));
    expect(dirs.length).toBeGreaterThanOrEqual(6);
    for (const dir of dirs) {
      const r = kt(['policy', 'lint', '--file', `examples/${dir}/policy-config.yaml`]);
      expect(r.code, r.stdout).not.toBe(1);
    }
  });

  it('policy schema prints a JSON Schema that matches the committed copy', () => {
    const r = kt(['policy', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown>; additionalProperties: boolean; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(['pack', 'policies', 'policy', 'providers', 'budgets', 'rate_limits', 'pricing', 'audit', 'telemetry', 'escalation', 'webhooks']);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['pack', 'providers']);
    const committed = JSON.parse(readFileSync(`${ROOT}docs/policy-config.schema.json`, 'utf8')) as Record<string, unknown>;
    expect({ ...committed, title: '' }, 'run: node dist/cli/main.js policy schema -o docs/policy-config.schema.json').toEqual({ ...schema, title: '' });
  });

  it('kt init scaffolds a config and tests that pass, for every template; kt policy test reports failures', () => {
    for (const template of ['minimal', 'aider', 'claude-code', 'codex']) {
      const dir = mkdtempSync(join(tmpdir(), `kt-init-${template}-`));
      expect(kt(['init', '--template', template, '--dir', dir]).code).toBe(0);
      expect(kt(['init', '--template', template, '--dir', dir]).code).toBe(1); // refuses to overwrite
      expect(kt(['policy', 'lint', '--file', join(dir, 'policy-config.yaml')]).code).toBe(0);
      const r = kt(['policy', 'test', '--pack-dir', dir, '--json']);
      const report = JSON.parse(r.stdout) as { ok: boolean; passed: number; failed: number };
      expect(r.code, r.stdout).toBe(0);
      expect(report).toMatchObject({ ok: true, failed: 0 });
      expect(report.passed).toBeGreaterThanOrEqual(5);
    }
    const dir = mkdtempSync(join(tmpdir(), 'kt-init-fail-'));
    kt(['init', '--dir', dir]);
    writeFileSync(
      join(dir, 'tests', 'wrong.json'),
      JSON.stringify({ name: 'expects allow for an email', input: { messages: [{ role: 'user', content: 'mail bob.stone@fabrikam.com' }] }, expected: { verdict: 'allow' } }),
    );
    const r = kt(['policy', 'test', '--pack-dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL wrong\.json › expects allow for an email\n\s+verdict: expected allow, got redact/);
    expect(r.stdout).toMatch(/5 passed, 1 failed/);
  });

  it('gateway run refuses a bad config with file:line:column and exit 1', () => {
    const [bad] = writeConfigs(MINIMAL.replace('chain: []', 'chain: [pii-detectr]'));
    const r = kt(['gateway', 'run', '--policy-config', bad!, '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:5:11: error: unknown policy kind "pii-detectr"`);
    expect(r.stderr).toMatch(/the gateway did not start/);
  });

  it('gateway run names the target and variable of a missing secret', () => {
    const [file] = writeConfigs(MINIMAL.replace('provider: openai', 'provider: openai\n      secret_key_ref: {env: KT_TEST_MISSING_KEY}'));
    const r = kt(['gateway', 'run', '--policy-config', file!, '--listen', '127.0.0.1:0'], { KT_TEST_MISSING_KEY: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('target "openai": environment variable KT_TEST_MISSING_KEY');
  });

  it('gateway run and server refuse a malformed allow-list or a short metrics token before listening', () => {
    const [file] = writeConfigs(MINIMAL);
    const base = ['gateway', 'run', '--policy-config', file!, '--listen', '127.0.0.1:0'];
    let r = kt([...base, '--allowed-hosts', 'gw.corp.example,http://gw.corp.example']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('allowed host "http://gw.corp.example" is not a host name');
    r = kt([...base, '--allowed-origins', '*']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('allowed origin "*" is not accepted');
    r = kt(base, { KEEPTRUSTS_ALLOWED_ORIGINS: 'https://app.example.com/path' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has more than an origin');
    r = kt([...base, '--metrics-token', 'short']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('at least 16 characters');
    r = kt(['server', '--listen', '127.0.0.1:0', '--allowed-hosts', 'gw:41003']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('give names without scheme or port');
  });

  it('gateway run serves the quickstart config and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-quickstart-'));
    const child = spawn(process.execPath, [KT, 'gateway', 'run', '--policy-config', 'examples/quickstart/policy-config.yaml', '--listen', `127.0.0.1:${port}`, '--log-format', 'json'], {
      cwd: ROOT,
      env: { ...process.env, KEEPTRUSTS_DATA_DIR: dataDir, KEEPTRUSTS_METRICS_TOKEN: 'cli-metrics-token-0123456789' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      for (let i = 0; i < 100 && !stderr.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(stderr).toContain(`keeptrusts gateway listening on http://127.0.0.1:${port}`);
      // Anyone sees that it is alive; the details need the metrics token (here from KEEPTRUSTS_METRICS_TOKEN).
      expect(Object.keys((await (await request(`http://127.0.0.1:${port}/health`)).body.json()) as object).sort()).toEqual(['status', 'version']);
      const operator = { headers: { authorization: 'Bearer cli-metrics-token-0123456789' } };
      const health = (await (await request(`http://127.0.0.1:${port}/health`, operator)).body.json()) as { config: { name: string }; policies_loaded: string[] };
      expect(health.config.name).toBe('quickstart');
      expect(health.policies_loaded).toEqual(['pii-detector', 'code-sanitizer', 'prompt-injection', 'safety-filter', 'audit-logger']);
      expect(existsSync(join(dataDir, 'events.db'))).toBe(true);
      expect(existsSync(join(dataDir, 'signing-key.pem'))).toBe(true);
      // The console and its read API on the gateway itself, signed in with the token from `kt console url`.
      const page = await request(`http://127.0.0.1:${port}/console`);
      expect(page.statusCode).toBe(200);
      expect(await page.body.text()).toContain('<div id="app"');
      const link = kt(['console', 'url', '--data-dir', dataDir, '--gateway', `http://127.0.0.1:${port}`]);
      expect(link.code).toBe(0);
      const token = decodeURIComponent(/#token=(\S+)/.exec(link.stdout)![1]!);
      expect(stderr).not.toContain(token);
      expect((await request(`http://127.0.0.1:${port}/v1/stats`)).statusCode).toBe(401);
      const stats = await request(`http://127.0.0.1:${port}/v1/stats`, { headers: { authorization: `Bearer ${token}` } });
      expect(stats.statusCode).toBe(200);
      await stats.body.dump();
      // The console token unlocks the operator's views too; /metrics wants a token once one is configured.
      const detailed = (await (await request(`http://127.0.0.1:${port}/health`, { headers: { authorization: `Bearer ${token}` } })).body.json()) as { audit: { gateway_id: string } };
      expect(detailed.audit.gateway_id).toMatch(/\S/);
      expect((await request(`http://127.0.0.1:${port}/metrics`)).statusCode).toBe(401);
      const metrics = await request(`http://127.0.0.1:${port}/metrics`, operator);
      expect(metrics.statusCode).toBe(200);
      expect(await metrics.body.text()).toContain('keeptrusts_refused_requests_total');
    } finally {
      child.kill('SIGTERM');
    }
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  });
});
