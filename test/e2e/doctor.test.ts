import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { KT, ROOT } from '../helpers/processes.js';

/** kt doctor as a user runs it: the built CLI, against the fake provider and servers made to fail. */

let fake: FakeUpstream;
let skewed: Server;
let skewedUrl: string;

beforeAll(async () => {
  fake = await startFakeUpstream();
  // A control plane whose clock is ten minutes behind ours.
  skewed = createServer((req, res) => {
    res.sendDate = false;
    // 650 s, not a round 600: a Date header drops the milliseconds, so the skew read can be up to 1 s less.
    res.setHeader('date', new Date(Date.now() - 650_000).toUTCString());
    res.setHeader('content-type', 'application/json');
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((r) => skewed.listen(0, '127.0.0.1', r));
  skewedUrl = `http://127.0.0.1:${(skewed.address() as { port: number }).port}`;
});

afterAll(async () => {
  await fake.close();
  await new Promise<void>((r) => skewed.close(() => r()));
});

function doctor(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) clean[k] = v;
  const child = spawn(process.execPath, [KT, 'doctor', '--timeout', '2000', ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

function setup(targets: string): { config: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kt-doctor-'));
  const config = join(dir, 'policy-config.yaml');
  writeFileSync(config, `pack: {name: doc, version: "1"}\npolicies:\n  chain: [pii-detector]\nproviders:\n  strategy: fallback\n  targets:\n${targets}`);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  return { config, dataDir };
}

const rowOf = (stdout: string, check: string) => stdout.split('\n').find((l) => l.startsWith(`${check} `)) ?? '';

describe('kt doctor', () => {
  it('exit 0 and a table of passed checks when everything is in order', async () => {
    const { config, dataDir } = setup(`    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1", secret_key_ref: {env: DOC_KEY}}\n    - {id: a, provider: anthropic, base_url: "${fake.url}"}\n`);
    const r = await doctor(['-c', config, '--data-dir', dataDir], { DOC_KEY: 'sk-doctor' });
    expect(r.stdout).toMatch(/^CHECK +STATUS +DETAIL$/m);
    expect(rowOf(r.stdout, 'target o')).toMatch(/OK +.*answered 200 .*key accepted/);
    expect(rowOf(r.stdout, 'target a')).toMatch(/OK +.*clients bring their keys/);
    expect(rowOf(r.stdout, 'data dir')).toMatch(/OK/);
    expect(rowOf(r.stdout, 'clock')).toMatch(/OK/);
    expect(r.stdout).toContain('all checks passed');
    expect(r.code).toBe(0);
    const models = fake.requests.find((q) => q.family === 'models' && q.headers.authorization !== undefined);
    expect(models?.headers.authorization).toBe('Bearer sk-doctor');
    expect(r.stdout).not.toContain('sk-doctor');
  });

  it('exit 1 naming each failure: a refused key, an unset variable, a dead target, a data dir others can read, a skewed clock', async () => {
    fake.setFault({ kind: 'status', status: 401 }, { family: 'models' });
    try {
      const { config, dataDir } = setup(
        `    - {id: refused, provider: openai-compatible, base_url: "${fake.url}/v1", secret_key_ref: {env: DOC_KEY}}\n` +
          `    - {id: unset, provider: openai-compatible, base_url: "${fake.url}/v1", secret_key_ref: {env: DOC_MISSING_KEY}}\n` +
          `    - {id: dead, provider: openai-compatible, base_url: "http://127.0.0.1:9/v1"}\n`,
      );
      chmodSync(dataDir, 0o755);
      const r = await doctor(['-c', config, '--data-dir', dataDir, '--json'], { DOC_KEY: 'sk-doctor', KEEPTRUSTS_API_URL: skewedUrl });
      expect(r.code).toBe(1);
      const { ok, checks } = JSON.parse(r.stdout) as { ok: boolean; checks: Array<{ check: string; status: string; detail: string }> };
      expect(ok).toBe(false);
      const by = new Map(checks.map((c) => [c.check, c]));
      expect(by.get('target refused')).toMatchObject({ status: 'fail', detail: expect.stringContaining('DOC_KEY is refused') });
      expect(by.get('target unset')).toMatchObject({ status: 'fail', detail: 'DOC_MISSING_KEY (secret_key_ref.env) is not set or empty' });
      expect(by.get('target dead')).toMatchObject({ status: 'fail', detail: expect.stringContaining('ECONNREFUSED') });
      expect(by.get('data dir')).toMatchObject({ status: 'warn', detail: expect.stringContaining('the dir is 755') });
      expect(by.get('control plane')).toMatchObject({ status: 'warn', detail: expect.stringContaining('KEEPTRUSTS_GATEWAY_TOKEN is not set') });
      expect(by.get('clock')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/^6\d\d\.\d s against control plane/) });
      expect(r.stdout).not.toContain('sk-doctor');
    } finally {
      fake.setFault(null);
    }
  });

  it('an invalid config fails with file:line:column', async () => {
    const { config, dataDir } = setup(`    - {id: o, provider: opnai}\n`);
    const r = await doctor(['-c', config, '--data-dir', dataDir]);
    expect(r.code).toBe(1);
    expect(rowOf(r.stdout, 'config')).toMatch(new RegExp(`FAIL +1 error\\(s\\): ${config}:7:\\d+: error: .*opnai`));
  });
});
