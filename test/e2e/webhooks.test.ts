/**
 * Webhooks end to end: the built `kt gateway run` delivers blocks, escalations and budget thresholds to a local
 * receiver that verifies each signature and fails the first tries; deliveries are retried with backoff,
 * recorded in the delivery log (`kt webhooks deliveries`), and carry rule ids, never the request's content.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { signature, verifyWebhook } from '../../src/webhooks/sign.js';
import type { DeliveryRecord } from '../../src/webhooks/log.js';
import { freePort, KT, ROOT, runKt } from '../helpers/processes.js';

const SECRET = 'whsec_test_0b1c2d3e4f5a6b7c8d9e';
const GH = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const MARK = 'DEPLOY-OVERRIDE-4417';
/** Each delivery fails this many times (503) before the receiver accepts it. */
const FAILS = 2;

interface Received {
  id: string;
  timestamp: number;
  verified: boolean;
  body: string;
  status: number;
}

let fake: FakeUpstream;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
const children: ChildProcess[] = [];

function config(hooks: string): string {
  return `pack: {name: webhooks-e2e, version: "1"}
policies:
  chain: [code-sanitizer, prompt-injection, audit-logger]
policy:
  code-sanitizer: {block_on_match: true}
  prompt-injection:
    detection:
      attack_patterns: [{name: deploy-override, pattern: "DEPLOY-OVERRIDE-\\\\d+"}]
    response: {action: escalate}
escalation: {hold_seconds: 1, poll_ms: 100}
budgets:
  - {scope: global, limit_usd: 0.000001, period: day, mode: soft}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
webhooks:
${hooks}`;
}

function startGateway(dataDir: string, configText: string, env: NodeJS.ProcessEnv): Promise<{ base: string; child: ChildProcess }> {
  const file = join(dataDir, 'policy-config.yaml');
  writeFileSync(file, configText);
  return freePort().then(
    (port) =>
      new Promise((resolve, reject) => {
        const base: NodeJS.ProcessEnv = {};
        for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) base[k] = v;
        const child = spawn(process.execPath, [KT, 'gateway', 'run', '-c', file, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-format', 'json'], {
          cwd: ROOT,
          env: { ...base, ...env },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        children.push(child);
        let stderr = '';
        const onExit = (code: number | null) => reject(new Error(`gateway exited with ${code}: ${stderr.slice(0, 2000)}`));
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('listening on')) {
            child.off('exit', onExit);
            resolve({ base: `http://127.0.0.1:${port}`, child });
          }
        });
        child.on('exit', onExit);
      }),
  );
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  const tries = new Map<string, number>();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['keeptrusts-webhook-id']);
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      const verified = verifyWebhook(SECRET, req.headers, body);
      const status = !verified ? 401 : n <= FAILS ? 503 : 200;
      received.push({ id, timestamp: Number(req.headers['keeptrusts-webhook-timestamp']), verified, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks/keeptrusts?source=test`;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  await new Promise((r) => receiver.close(r));
  await fake.close();
});

async function until(pred: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300 && !(await pred()); i++) await new Promise((r) => setTimeout(r, 100));
}

describe('webhooks', { timeout: 120_000 }, () => {
  it('delivers signed blocks, escalations and budget thresholds, retried through failures, logged, without request content', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-hooks-'));
    const deadPort = await freePort();
    const hooks = `  - {url: "${receiverUrl}", secret_env: KT_HOOK_SECRET, events: [block, escalation, budget_threshold], initial_backoff_ms: 50, max_backoff_ms: 200}
  - {url: "http://127.0.0.1:${deadPort}/down", secret_env: KT_HOOK_SECRET, events: [block], max_attempts: 2, initial_backoff_ms: 50}
`;
    const { base } = await startGateway(dataDir, config(hooks), { KT_HOOK_SECRET: SECRET });
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0, defaultHeaders: { 'x-keeptrusts-developer': 'dana' } });

    // An allowed request (it spends the tiny soft budget: thresholds cross), a block, an escalation that expires.
    const ok = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] });
    expect(ok.choices[0]!.message.content).toBeTruthy();
    const blocked = (await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `token ${GH}` }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(blocked.status).toBe(400);
    const held = (await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `run ${MARK}` }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect((held.error as { code: string }).code).toBe('escalation_expired');

    // block (the secret), block (the expired hold), escalation opened + expired, budget threshold: 5 deliveries.
    await until(() => new Set(received.filter((r) => r.status === 200).map((r) => r.id)).size >= 5);
    const accepted = received.filter((r) => r.status === 200);
    const payloads = accepted.map((r) => JSON.parse(r.body) as { id: string; type: string; data: Record<string, unknown> });
    expect(payloads.map((p) => p.type).sort()).toEqual(['block', 'block', 'budget_threshold', 'escalation', 'escalation']);
    for (const r of received) expect(r.verified).toBe(true);
    // Every delivery failed twice first: three tries, one id, each try signed with its own timestamp.
    for (const p of payloads) {
      const tries = received.filter((r) => r.id === p.id);
      expect(tries.map((t) => t.status)).toEqual([503, 503, 200]);
      expect(new Set(tries.map((t) => t.body)).size).toBe(1);
    }
    const secretBlock = payloads.find((p) => p.type === 'block' && p.data.reason_code === 'input_blocked')!;
    expect(secretBlock.data).toMatchObject({ developer: 'dana', verdict: 'block', findings: [{ policy: 'code-sanitizer', rule: expect.any(String), type: expect.any(String) }] });
    const steps = payloads.filter((p) => p.type === 'escalation').map((p) => p.data.state);
    expect(steps.sort()).toEqual(['expired', 'open']);
    const budget = payloads.find((p) => p.type === 'budget_threshold')!;
    expect((budget.data.alerts as Array<{ scope: string }>)[0]!.scope).toBe('global');
    for (const r of received) {
      expect(r.body).not.toContain(GH);
      expect(r.body).not.toContain(MARK);
      expect(r.body).not.toContain(SECRET);
    }

    // The delivery log: delivered after 3 tries; the dead receiver's block deliveries failed after 2.
    let log: DeliveryRecord[] = [];
    await until(async () => {
      const out = await runKt(['webhooks', 'deliveries', '--json', '--limit', '100', '--data-dir', dataDir]);
      log = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeliveryRecord);
      return log.filter((d) => d.state === 'delivered').length === 5 && log.filter((d) => d.state === 'failed').length === 2;
    });
    const delivered = log.filter((d) => d.state === 'delivered');
    expect(delivered).toHaveLength(5);
    for (const d of delivered) expect(d).toMatchObject({ attempts: 3, last_status: 200, last_error: null, receiver: receiverUrl.replace(/\?.*$/, '') });
    const failed = log.filter((d) => d.state === 'failed');
    expect(failed).toHaveLength(2);
    for (const d of failed) expect(d).toMatchObject({ type: 'block', attempts: 2, last_status: null, last_error: 'ECONNREFUSED' });
    const table = await runKt(['webhooks', 'deliveries', '--data-dir', dataDir, '--state', 'failed']);
    expect(table.stdout).toMatch(/^ID\s+CREATED\s+TYPE\s+STATE\s+TRIES\s+LAST\s+RECEIVER\n/);
    expect(table.stdout).not.toContain('source=test');
  });

  it('refuses to start when a receiver has no signing secret in the environment', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-hooks-nosecret-'));
    const hooks = `  - {url: "${receiverUrl}", secret_env: KT_HOOK_SECRET_MISSING, events: [block]}\n`;
    await expect(startGateway(dataDir, config(hooks), {})).rejects.toThrow(/KT_HOOK_SECRET_MISSING \(its signing secret\) is not set/);
  });

  it('receivers can check signatures: wrong secret, altered body and stale timestamps fail', () => {
    const body = '{"id":"dlv_1","type":"block"}';
    const now = Date.now();
    const ts = Math.floor(now / 1000);
    const headers = { 'keeptrusts-webhook-timestamp': String(ts), 'keeptrusts-webhook-signature': signature(SECRET, ts, body) };
    expect(verifyWebhook(SECRET, headers, body, { nowMs: now })).toBe(true);
    expect(verifyWebhook('other', headers, body, { nowMs: now })).toBe(false);
    expect(verifyWebhook(SECRET, headers, body.replace('block', 'allow'), { nowMs: now })).toBe(false);
    expect(verifyWebhook(SECRET, headers, body, { nowMs: now + 301_000 })).toBe(false);
    expect(verifyWebhook(SECRET, { ...headers, 'keeptrusts-webhook-timestamp': String(ts - 1) }, body, { nowMs: now })).toBe(false);
  });
});
