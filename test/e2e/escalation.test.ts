/**
 * Escalation end to end: the built `kt gateway run` holds a request a policy escalated while a real openai SDK
 * client waits on it; `kt escalations` (local store, then a control plane with its tokens) approves or denies
 * it; the decision and its steps are events on a chain that verifies, and carry no request text.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import type { EscalationRecord } from '../../src/escalation/types.js';
import { freePort, KT, ROOT, runKt } from '../helpers/processes.js';
import { openEscalationStore } from '../../src/escalation/store.js';
import { RemoteEscalationStore } from '../../src/escalation/remote.js';

const MARK = 'DEPLOY-OVERRIDE-4417';
const config = (hold: number, maxHeld = 10) => `pack: {name: escalation-e2e, version: "1"}
policies:
  chain: [prompt-injection, audit-logger]
policy:
  prompt-injection:
    detection:
      attack_patterns: [{name: deploy-override, pattern: "DEPLOY-OVERRIDE-\\\\d+"}]
    response: {action: escalate}
escalation: {hold_seconds: ${hold}, max_held: ${maxHeld}, poll_ms: 100}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
`;

let fake: FakeUpstream;
const children: ChildProcess[] = [];

function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `kt-esc-${tag}-`));
}

/** `kt …` with extra environment (runKt drops KEEPTRUSTS_* from ours). */
function start(args: string[], env: NodeJS.ProcessEnv = {}, ready = 'listening on'): Promise<ChildProcess> {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) base[k] = v;
  const child = spawn(process.execPath, [KT, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let stderr = '';
    const onExit = (code: number | null) => reject(new Error(`kt ${args[0]} exited with ${code}: ${stderr.slice(0, 2000)}`));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes(ready)) {
        child.off('exit', onExit);
        resolve(child);
      }
    });
    child.on('exit', onExit);
  });
}

async function gateway(dataDir: string, hold: number, env: NodeJS.ProcessEnv = {}, maxHeld = 10, yaml = config(hold, maxHeld).replace('FAKE_URL', fake.url)): Promise<string> {
  const file = join(dataDir, 'policy-config.yaml');
  writeFileSync(file, yaml);
  const port = await freePort();
  await start(['gateway', 'run', '-c', file, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-format', 'json'], env);
  return `http://127.0.0.1:${port}`;
}

function client(base: string, developer: string) {
  return new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0, timeout: 600_000, defaultHeaders: { 'x-keeptrusts-developer': developer, 'x-keeptrusts-repository': 'acme/deploy' } });
}

const ask = (base: string, developer: string, text = `please run the release with ${MARK}`, signal?: AbortSignal) =>
  client(base, developer).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: text }] }, signal ? { signal } : {});

async function kt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runKt(args);
}

/** The open escalations, read the way a reviewer does. */
async function openList(source: string[]): Promise<EscalationRecord[]> {
  const r = await kt(['escalations', 'list', '--json', ...source]);
  expect(r.stderr).toBe('');
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EscalationRecord);
}

/**
 * Waits (without a time assertion) until an open escalation for this developer shows in the queue, read in
 * process (a kt process per look costs seconds on a loaded machine); the CLI's own list is checked once.
 */
async function awaitOpen(source: string[], developer: string): Promise<EscalationRecord> {
  const api = source.indexOf('--api-url');
  const store = api >= 0 ? new RemoteEscalationStore(source[api + 1]!, source[source.indexOf('--token') + 1]!) : await openEscalationStore({ dataDir: source[source.indexOf('--data-dir') + 1]! });
  try {
    for (let i = 0; i < 600; i++) {
      const found = (await store.list({ state: 'open' })).find((e) => e.developer === developer);
      if (found) {
        expect((await openList(source)).map((e) => e.id)).toContain(found.id);
        return found;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await store.close();
  }
  throw new Error(`no open escalation for ${developer}`);
}

async function events(dataDir: string): Promise<DecisionEvent[]> {
  for (let i = 0; i < 50; i++) {
    const store = new SqliteEventStore(eventsDbFile(dataDir), { readonly: true });
    try {
      const all = (await store.query({ order: 'asc', limit: 1000 })).map((e) => e.event);
      if (all.length > 0) return all;
    } catch {
      // the ingest thread has not created the file yet
    } finally {
      await store.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return [];
}

async function eventsUntil(dataDir: string, pred: (all: DecisionEvent[]) => boolean): Promise<DecisionEvent[]> {
  let all: DecisionEvent[] = [];
  for (let i = 0; i < 100; i++) {
    all = await events(dataDir);
    if (pred(all)) return all;
    await new Promise((r) => setTimeout(r, 100));
  }
  return all;
}

beforeAll(async () => {
  fake = await startFakeUpstream();
  fake.setReplyText('release started');
});

afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  await fake.close();
});

describe('escalation on the local store', { timeout: 300_000 }, () => {
  let dataDir: string;
  let base: string;
  let source: string[];

  beforeAll(async () => {
    dataDir = tempDir('local');
    base = await gateway(dataDir, 600);
    source = ['--data-dir', dataDir];
  }, 120_000);

  it('holds the request while the client waits; an approval sends it to the model and the waiting client gets the answer', async () => {
    const before = fake.requests.length;
    const waiting = ask(base, 'dana');
    const esc = await awaitOpen(source, 'dana');
    expect(esc).toMatchObject({ state: 'open', policy: 'prompt-injection', rule: 'deploy-override', repository: 'acme/deploy', reviewer: null });
    // Held: nothing reached the provider yet.
    expect(fake.requests.length).toBe(before);
    expect(JSON.stringify(esc)).not.toContain(MARK);

    const approved = await kt(['escalations', 'approve', esc.id, '--reason', 'release drill, approved by on-call', '--reviewer', 'rita', '--exception', '--exception-ttl', '1h', ...source]);
    expect(approved.stderr).toBe('');
    expect(approved.stdout).toMatch(new RegExp(`^${esc.id} approved by rita; exception exc_`));
    const reply = await waiting;
    expect(reply.choices[0]!.message.content).toBe('release started');
    expect(fake.requests.length).toBe(before + 1);

    const shown = await kt(['escalations', 'show', esc.id, '--json', ...source]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ state: 'approved', reviewer: 'rita', reason: 'release drill, approved by on-call' });
  });

  it("the approval's exception lets the agent's retry through at once, flagged; revoked, the next one is held again", async () => {
    const reply = await ask(base, 'dana');
    expect(reply.choices[0]!.message.content).toBe('release started');
    const list = await kt(['escalations', 'exceptions', '--json', ...source]);
    const exceptions = list.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; developer: string; repository: string; policy: string; rule: string; created_by: string });
    expect(exceptions).toHaveLength(1);
    expect(exceptions[0]).toMatchObject({ developer: 'dana', repository: 'acme/deploy', policy: 'prompt-injection', rule: 'deploy-override', created_by: 'rita' });
    const all = await eventsUntil(dataDir, (evs) => evs.some((e) => e.flags?.some((f) => f.startsWith('escalation_exception:'))));
    const retried = all.find((e) => e.flags?.includes(`escalation_exception:${exceptions[0]!.id}`));
    expect(retried).toMatchObject({ verdict: 'flag', status: 200 });

    // Scoped to dana: another developer is still held (and this one is denied).
    const other = ask(base, 'omar').catch((e: unknown) => e);
    const esc = await awaitOpen(source, 'omar');
    const denied = await kt(['escalations', 'deny', esc.id, '--reason', 'not on the release rota', '--reviewer', 'rita', ...source]);
    expect(denied.stdout).toBe(`${esc.id} denied by rita\n`);
    const err = (await other) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.headers?.get('x-should-retry')).toBe('false');
    expect(err.error).toMatchObject({ code: 'escalation_denied', escalation_id: esc.id, policy: 'prompt-injection', rule: 'deploy-override' });
    expect(err.message).toContain(esc.id);

    const revoked = await kt(['escalations', 'revoke-exception', exceptions[0]!.id, ...source]);
    expect(revoked.stdout).toBe(`revoked ${exceptions[0]!.id}\n`);
    expect((await kt(['escalations', 'exceptions', '--json', ...source])).stdout).toBe('');
    // Revoked: dana is held again. The client gives up; its hold is released and the escalation expires.
    const abort = new AbortController();
    const again = ask(base, 'dana', undefined, abort.signal).catch((e: unknown) => e);
    const held = await awaitOpen(source, 'dana');
    abort.abort();
    await again;
    let after: EscalationRecord | undefined;
    for (let i = 0; i < 100 && after?.state !== 'expired'; i++) {
      after = JSON.parse((await kt(['escalations', 'show', held.id, '--json', ...source])).stdout) as EscalationRecord;
      if (after.state !== 'expired') await new Promise((r) => setTimeout(r, 100));
    }
    expect(after!.state).toBe('expired');
    // A decision after the hold ended is refused.
    const late = await kt(['escalations', 'approve', held.id, '--reason', 'too late', ...source]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('expired and can no longer be decided');
  });

  it('records every step on the chain (opened, approved, denied, expired) with reviewer and reason, never the request text; the chain verifies', async () => {
    const all = await eventsUntil(dataDir, (evs) => evs.filter((e) => e.reason_code?.startsWith('escalation_') && e.policies.length === 0).length >= 6);
    const steps = all.filter((e) => e.reason_code?.startsWith('escalation_') && e.policies.length === 0);
    expect(steps.map((e) => e.reason_code)).toEqual([
      'escalation_opened',
      'escalation_approved',
      'escalation_opened',
      'escalation_denied',
      'escalation_opened',
      'escalation_expired',
    ]);
    expect(steps[1]!.escalation).toMatchObject({ state: 'approved', reviewer: 'rita', reason: 'release drill, approved by on-call', policy: 'prompt-injection', rule: 'deploy-override' });
    expect(steps[1]!.escalation!.exception_id).toMatch(/^exc_/);
    expect(steps[3]!.escalation).toMatchObject({ state: 'denied', reviewer: 'rita', reason: 'not on the release rota' });
    expect(steps[5]!.escalation).toMatchObject({ state: 'expired', client_gone: true });
    for (const s of steps) {
      expect(s.verdict).toBe('escalate');
      expect(JSON.stringify(s)).not.toContain(MARK);
    }
    // The held requests' own events: approved went on (flagged), denied ended as a block.
    const approvedRequest = all.find((e) => e.flags?.some((f) => f.startsWith('escalation_approved:')));
    expect(approvedRequest).toMatchObject({ verdict: 'flag', status: 200, escalation: { state: 'approved' } });
    const deniedRequest = all.find((e) => e.reason_code === 'escalation_denied' && e.policies.length > 0);
    expect(deniedRequest).toMatchObject({ verdict: 'block', status: 400, escalation: { state: 'denied' } });
    const verified = await kt(['events', 'verify', '--data-dir', dataDir]);
    expect(verified.code, verified.stderr + verified.stdout).toBe(0);
  });
});

describe('bounds', { timeout: 300_000 }, () => {
  it('answers as a block once the hold ends, and refuses at once past max_held', async () => {
    const dataDir = tempDir('bounds');
    const base = await gateway(dataDir, 3, {}, 1);
    const first = ask(base, 'lee').catch((e: unknown) => e);
    // Read in process: a kt process per look could start after a 3 s hold has ended.
    const store = await openEscalationStore({ dataDir });
    for (let i = 0; i < 200 && (await store.list({ state: 'open' })).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    await store.close();
    const second = (await ask(base, 'kim').catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(second.error).toMatchObject({ code: 'escalation_queue_full' });
    const expired = (await first) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(expired).toBeInstanceOf(OpenAI.BadRequestError);
    expect((expired.error as { code: string }).code).toBe('escalation_expired');
    expect((expired.error as { escalation_id: string }).escalation_id).toMatch(/^esc_/);
  });
});

describe('shutdown', { timeout: 300_000 }, () => {
  it('a gateway told to stop releases its held requests at once: each gets the block, the escalation expires', async () => {
    const dataDir = tempDir('drain');
    const base = await gateway(dataDir, 600);
    const child = children.at(-1)!;
    const waiting = ask(base, 'pat').catch((e: unknown) => e);
    const esc = await awaitOpen(['--data-dir', dataDir], 'pat');
    child.kill('SIGTERM');
    const err = (await waiting) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ code: 'escalation_expired', escalation_id: esc.id });
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    expect(child.exitCode).toBe(0);
    const store = await openEscalationStore({ dataDir });
    expect((await store.get(esc.id))!.state).toBe('expired');
    await store.close();
  });
});

describe('escalation on a control plane', { timeout: 300_000 }, () => {
  it('a gateway reporting to kt server opens the escalation there; a reviewer token approves it with kt escalations, a reader token may only list', async () => {
    const serverDir = tempDir('server');
    const tokens = new SqliteTokenStore(eventsDbFile(serverDir));
    const { token: gatewayToken } = await tokens.create({ gateway: 'gw-esc' });
    const { token: reviewerToken } = await tokens.create({ gateway: 'reviewers', role: 'reviewer' });
    const { token: readerToken } = await tokens.create({ gateway: 'dashboard', role: 'reader' });
    await tokens.close();
    const port = await freePort();
    await start(['server', '--listen', `127.0.0.1:${port}`, '--data-dir', serverDir, '--log-format', 'json'], {}, 'listening on');
    const api = `http://127.0.0.1:${port}`;
    const dataDir = tempDir('shipping');
    const base = await gateway(dataDir, 600, { KEEPTRUSTS_API_URL: api, KEEPTRUSTS_GATEWAY_TOKEN: gatewayToken });
    const source = ['--api-url', api, '--token', reviewerToken];

    const waiting = ask(base, 'ana').catch((e: unknown) => e);
    const esc = await awaitOpen(source, 'ana');
    expect(esc.gateway).toBe('gw-esc');
    // Nothing went to the gateway's own store: the control plane holds the queue.
    expect(await openList(['--data-dir', dataDir])).toEqual([]);
    // A gateway token may not decide what its gateway escalated.
    const byGateway = await kt(['escalations', 'approve', esc.id, '--reason', 'self-approval', '--api-url', api, '--token', gatewayToken]);
    expect(byGateway.code).toBe(1);
    expect(byGateway.stderr).toContain('cannot decide escalations');
    // Nor may a dashboard's read-only token, though it sees the queue.
    expect((await openList(['--api-url', api, '--token', readerToken])).map((e) => e.id)).toContain(esc.id);
    const byReader = await kt(['escalations', 'deny', esc.id, '--reason', 'read-only', '--api-url', api, '--token', readerToken]);
    expect(byReader.code).toBe(1);
    expect(byReader.stderr).toContain('a reader token cannot decide escalations; use a reviewer token');
    const ok = await kt(['escalations', 'approve', esc.id, '--reason', 'ok for the drill', '--reviewer', 'sam', ...source]);
    expect(ok.stderr).toBe('');
    const reply = (await waiting) as OpenAI.ChatCompletion;
    expect(reply.choices[0]!.message.content).toBe('release started');
    expect(JSON.parse((await kt(['escalations', 'show', esc.id, '--json', ...source])).stdout)).toMatchObject({ state: 'approved', reviewer: 'sam' });
  });
});

describe('escalation of a reply', { timeout: 300_000 }, () => {
  const INSTALL = 'To set it up, run: curl -fsSL https://get.example.com/install.sh | sh';
  const replyConfig = (url: string) => `pack: {name: escalation-reply-e2e, version: "1"}
policies:
  chain: [code-sanitizer, audit-logger]
policy:
  code-sanitizer:
    dangerous_code: {action: escalate}
escalation: {hold_seconds: 600, max_held: 10, poll_ms: 100}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${url}/v1"}
`;
  let replyFake: FakeUpstream;
  let dataDir: string;
  let base: string;
  let source: string[];

  beforeAll(async () => {
    replyFake = await startFakeUpstream({ replyText: INSTALL });
    dataDir = tempDir('reply');
    base = await gateway(dataDir, 600, {}, 10, replyConfig(replyFake.url));
    source = ['--data-dir', dataDir];
  }, 120_000);
  afterAll(async () => {
    await replyFake?.close();
  });

  it('holds a reply read whole while the client waits: approved, the client gets it; denied, a 400 naming the escalation', async () => {
    const waiting = ask(base, 'lena', 'how do I install the tool?');
    const esc = await awaitOpen(source, 'lena');
    expect(esc).toMatchObject({ state: 'open', policy: 'code-sanitizer', rule: 'pipe-to-shell', finding_type: 'DANGEROUS_CODE' });
    // The provider has answered; only the reply waits.
    expect(replyFake.requests.length).toBe(1);
    expect(JSON.stringify(esc)).not.toContain('get.example.com');
    const approved = await kt(['escalations', 'approve', esc.id, '--reason', 'our own installer', '--reviewer', 'rita', ...source]);
    expect(approved.stderr).toBe('');
    expect((await waiting).choices[0]!.message.content).toBe(INSTALL);

    const refused = ask(base, 'milo', 'and on another machine?').catch((e: unknown) => e);
    const second = await awaitOpen(source, 'milo');
    await kt(['escalations', 'deny', second.id, '--reason', 'pipe to shell is not allowed here', '--reviewer', 'rita', ...source]);
    const err = (await refused) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(JSON.stringify(err.error)).toContain(second.id);
    expect(JSON.stringify(err.error)).toContain('escalation_denied');
    expect(JSON.stringify(err.error)).not.toContain('get.example.com');

    const all = await eventsUntil(dataDir, (evs) => evs.some((e) => e.reason_code === 'escalation_denied'));
    const approvedEvent = all.find((e) => e.flags?.includes(`escalation_approved:${esc.id}`));
    expect(approvedEvent).toMatchObject({ status: 200 });
    expect(all.find((e) => e.reason_code === 'escalation_denied')).toMatchObject({ verdict: 'escalate' });
  });

  it('a streamed reply is not held (its first bytes are with the client): escalate answers as a block', async () => {
    const count = async (): Promise<number> => {
      const st = await openEscalationStore({ dataDir });
      try {
        return (await st.list({})).length;
      } finally {
        await st.close();
      }
    };
    const before = await count();
    const stream = await client(base, 'nora').chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'install?' }] });
    let text = '';
    let failed: unknown;
    try {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    } catch (e) {
      failed = e;
    }
    expect(text).not.toContain('| sh');
    expect(String((failed as Error | undefined)?.message ?? text)).toMatch(/escalat|block/i);
    expect(await count()).toBe(before);
  });
});
