import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent as HttpsAgent, get as httpsGet, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, runKt } from '../helpers/processes.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';

/**
 * TLS on the listener (issue 21): beyond loopback the gateway and the control plane start only with HTTPS or an
 * explicit --insecure-listen; a shared gateway serves only clients with a virtual key; SIGHUP loads a renewed
 * certificate for new connections while open ones (a stream in flight, a keep-alive connection) go on.
 */

let fake: FakeUpstream;
let pki: TestPki;
let config: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
  pki = makeTestPki();
  config = writeConfigs(`pack: {name: tls, version: "1"}
policies: {chain: [audit-logger]}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1", secret_key_ref: {env: KT_TLS_TEST_PROVIDER_KEY}}
`)[0]!;
});
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => fake.close());

const tempDir = () => mkdtempSync(join(tmpdir(), 'kt-tls-'));

interface Started {
  child: ChildProcess;
  log: () => string;
  waitFor: (text: string) => Promise<void>;
}

/** `kt <args>` (JSON logs), once it listens; the whole log is kept for the checks. */
async function start(args: string[]): Promise<Started> {
  // As runKt: nothing from this environment's KEEPTRUSTS_* (a CI database URL would put keys and events elsewhere).
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KEEPTRUSTS_'))), KT_TLS_TEST_PROVIDER_KEY: 'sk-fake-provider' };
  const child = spawn(process.execPath, [KT, ...args, '--log-format', 'json'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(child);
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 15_000;
  while (!log.includes('listening on')) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    log: () => log,
    async waitFor(text) {
      const deadline = Date.now() + 10_000;
      while (!log.includes(text)) {
        if (Date.now() > deadline) throw new Error(`no "${text}" in the log:\n${log}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

/** The openai SDK over undici, trusting the test CA only (as a client given NODE_EXTRA_CA_CERTS would). */
function sdk(baseURL: string, apiKey: string): OpenAI {
  const dispatcher = new Agent({ connect: { ca: pki.caPem } });
  return new OpenAI({ baseURL, apiKey, maxRetries: 0, fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch });
}

function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.caPem }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('listening beyond loopback', () => {
  it('refuses plain HTTP unless told, naming both ways out (kt gateway run and kt server); kt demo stays on loopback', async () => {
    const [gw, server, demo] = await Promise.all([
      runKt(['gateway', 'run', '-c', config, '--listen', '0.0.0.0:0', '--data-dir', tempDir()]),
      runKt(['server', '--listen', '[::]:0', '--data-dir', tempDir()]),
      runKt(['demo', '--listen', '0.0.0.0:0']),
    ]);
    // The demo, which answers any key, has no way onto the network.
    expect(demo.code).toBe(1);
    expect(demo.stderr).toContain('kt demo: --listen 0.0.0.0:0 takes connections from the network; the demo listens on this machine only');
    expect(gw.code).toBe(1);
    expect(gw.stderr).toContain('kt gateway run: --listen 0.0.0.0:0 takes connections from the network');
    expect(gw.stderr).toContain('give --tls-cert and --tls-key to serve HTTPS, or --insecure-listen');
    expect(server.code).toBe(1);
    expect(server.stderr).toContain('kt server: --listen [::]:0 takes connections from the network');
  }, 60_000);

  it('checks the certificate and key before listening, naming the file', async () => {
    const a = pki.leaf('pair-a');
    const b = pki.leaf('pair-b');
    const start = (...args: string[]) => runKt(['gateway', 'run', '-c', config, '--listen', '127.0.0.1:0', '--data-dir', tempDir(), ...args]);
    // Each start exits before it listens; they run side by side (each is a Node process start on a busy machine).
    const [keyMissing, wrongKey, notCert, noFile, both] = await Promise.all([
      start('--tls-cert', a.cert),
      start('--tls-cert', a.cert, '--tls-key', b.key),
      start('--tls-cert', a.key, '--tls-key', a.key),
      start('--tls-cert', join(pki.dir, 'missing.pem'), '--tls-key', a.key),
      start('--tls-cert', a.cert, '--tls-key', a.key, '--insecure-listen'),
    ]);
    expect(keyMissing.stderr).toContain('--tls-cert needs --tls-key');
    expect(wrongKey.stderr).toContain(`--tls-key ${b.key} is not the private key of the certificate in --tls-cert ${a.cert}`);
    expect(notCert.stderr).toContain(`--tls-cert ${a.key}: not a PEM certificate`);
    expect(noFile.stderr).toContain('missing.pem: no such file');
    for (const r of [keyMissing, wrongKey, notCert, noFile, both]) expect(r.code).toBe(1);
    expect(both.stderr).toContain('--insecure-listen and --tls-cert contradict each other');
  }, 90_000);

  it('serves HTTPS on 0.0.0.0 to the openai SDK, only to clients with a gateway virtual key', async () => {
    const dataDir = tempDir();
    const created = await runKt(['keys', 'create', '--developer', 'alice@example.com', '--json', '--data-dir', dataDir]);
    expect(created.code).toBe(0);
    const virtualKey = (JSON.parse(created.stdout) as { key: string }).key;
    const leaf = pki.leaf('team');
    const port = await freePort();
    const gw = await start(['gateway', 'run', '-c', config, '--listen', `0.0.0.0:${port}`, '--tls-cert', leaf.cert, '--tls-key', leaf.key, '--data-dir', dataDir]);
    expect(gw.log()).toContain(`listening on https://0.0.0.0:${port}`);
    await gw.waitFor('client authentication on: every API request needs a gateway virtual key');
    expect(gw.log()).toContain(leaf.fingerprint.replace(/:/g, '').toLowerCase());

    const base = `https://localhost:${port}/v1`;
    const reply = await sdk(base, virtualKey).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('Hello from fake upstream!');

    const providerKey = 'sk-proj-notavirtualkey0123456789';
    const refused = await sdk(base, providerKey)
      .chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('virtual_key_required');
    expect((refused as Error).message).toContain('gateway virtual key (kt-vk-…)');
    expect((refused as Error).message).not.toContain(providerKey);
    const models = await sdk(base, 'kt-vk-' + 'x'.repeat(32))
      .models.list()
      .catch((e: unknown) => e);
    expect((models as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    await expect(sdk(base, virtualKey).models.list()).resolves.toBeDefined();

    // Without the CA, the certificate is not trusted: the gateway really speaks TLS with the pair it was given.
    await expect(undiciFetch(`https://localhost:${port}/healthz`)).rejects.toThrow();
    // Probes need no key.
    const healthz = await undiciFetch(`https://localhost:${port}/healthz`, { dispatcher: new Agent({ connect: { ca: pki.caPem } }) });
    expect(healthz.status).toBe(200);
  }, 60_000);

  it('--insecure-listen serves plain HTTP beyond loopback, saying so; --client-auth none serves any client, with a warning', async () => {
    const port = await freePort();
    const gw = await start(['gateway', 'run', '-c', config, '--listen', `0.0.0.0:${port}`, '--insecure-listen', '--client-auth', 'none', '--data-dir', tempDir()]);
    await gw.waitFor('client authentication off (--client-auth none) beyond loopback');
    expect(gw.log()).toContain('serving plain HTTP beyond loopback (--insecure-listen)');
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-any', maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]!.message.content).toBe('Hello from fake upstream!');
  }, 60_000);
});

describe('SIGHUP reloads the certificate', () => {
  it('new connections get the new pair; a keep-alive connection and a stream in flight go on; a bad pair keeps the old one', async () => {
    const a = pki.leaf('before');
    const b = pki.leaf('after');
    const dir = tempDir();
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    copyFileSync(a.cert, cert);
    copyFileSync(a.key, key);
    const port = await freePort();
    const gw = await start(['gateway', 'run', '-c', config, '--listen', `127.0.0.1:${port}`, '--tls-cert', cert, '--tls-key', key, '--data-dir', tempDir()]);
    expect(await peerFingerprint(port)).toBe(a.fingerprint);

    const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: pki.caPem, servername: 'localhost' });
    const first = await healthz(agent, port);
    expect(first.fingerprint).toBe(a.fingerprint);

    // A slow stream on its own connection, under way when the signal comes.
    fake.setFault({ kind: 'slow', chunkDelayMs: 15 });
    fake.setReplyText('word '.repeat(60));
    const stream = streamChat(port);
    await stream.started;

    copyFileSync(b.cert, cert);
    copyFileSync(b.key, key);
    gw.child.kill('SIGHUP');
    await gw.waitFor('SIGHUP: TLS certificate reloaded');
    expect(await peerFingerprint(port)).toBe(b.fingerprint);

    const second = await healthz(agent, port);
    expect(second.reused).toBe(true);
    expect(second.fingerprint).toBe(a.fingerprint);
    const body = await stream.done;
    expect(body).toContain('data: [DONE]');
    const text = body
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: Array<{ delta?: { content?: string } }> }).choices[0]?.delta?.content ?? '')
      .join('');
    expect(text).toBe('word '.repeat(60));
    fake.reset();

    writeFileSync(cert, 'not a certificate');
    gw.child.kill('SIGHUP');
    await gw.waitFor('SIGHUP: TLS certificate not reloaded, the previous one is still served');
    expect(await peerFingerprint(port)).toBe(b.fingerprint);
    agent.destroy();

    gw.child.kill('SIGTERM');
    const code = await new Promise((resolve) => gw.child.once('exit', resolve));
    expect(code).toBe(0);
  }, 60_000);

  it('kt server serves HTTPS with the same flags', async () => {
    const leaf = pki.leaf('control-plane');
    const port = await freePort();
    const server = await start(['server', '--listen', `127.0.0.1:${port}`, '--tls-cert', leaf.cert, '--tls-key', leaf.key, '--data-dir', tempDir()]);
    expect(server.log()).toContain(`listening on https://127.0.0.1:${port}`);
    const health = await undiciFetch(`https://localhost:${port}/health`, { dispatcher: new Agent({ connect: { ca: pki.caPem } }) });
    expect(health.status).toBe(200);
    expect(await peerFingerprint(port)).toBe(leaf.fingerprint);
  }, 60_000);
});

function healthz(agent: HttpsAgent, port: number): Promise<{ fingerprint: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
      const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ fingerprint, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });
}

function streamChat(port: number): { started: Promise<void>; done: Promise<string> } {
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const done = new Promise<string>((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', ca: pki.caPem, servername: 'localhost', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test-client' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          started();
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  });
  return { started: startedP, done };
}
