import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT, runKt } from '../helpers/processes.js';

/**
 * A gateway started with only KEEPTRUSTS_API_URL and KEEPTRUSTS_GATEWAY_TOKEN (the brief's two variables) asks
 * the control plane who the token belongs to and records and ships as that gateway; a gateway id given as well
 * must agree, or the start stops saying so. A real `kt server` and real `kt gateway run` processes.
 */

const dirs: string[] = [];
const children: ChildProcess[] = [];
const tempDir = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), `kt-whoami-${p}-`));
  dirs.push(d);
  return d;
};

/** The environment without this machine's KEEPTRUSTS_* settings, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) env[k] = v;
  return { ...env, ...extra };
}

/** A `kt` process that is expected to listen: resolves with it once it says so, or with its exit and stderr. */
function start(args: string[], env: Record<string, string>): Promise<{ child?: ChildProcess; code?: number | null; stderr: string }> {
  const child = spawn(process.execPath, [KT, ...args, '--log-format', 'json'], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.includes('listening on')) resolve({ child, stderr });
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

let fake: FakeUpstream;
let api: string;
let serverDir: string;
let token: string;
let config: string;

beforeAll(async () => {
  fake = await startFakeUpstream();
  serverDir = tempDir('server');
  const port = await freePort();
  api = `http://127.0.0.1:${port}`;
  const server = await start(['server', '--listen', `127.0.0.1:${port}`, '--data-dir', serverDir], {});
  if (!server.child) throw new Error(`kt server did not start: ${server.stderr}`);
  const created = await runKt(['server', 'token', 'create', '--gateway', 'brief-gw', '--data-dir', serverDir]);
  expect(created.code).toBe(0);
  token = created.stdout.trim();
  expect(created.stderr).toContain(`KEEPTRUSTS_API_URL=http://127.0.0.1:41003 KEEPTRUSTS_GATEWAY_TOKEN=<the token above> kt gateway run   (the gateway runs as brief-gw)`);
  config = writeConfigs(`pack: {name: whoami, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`)[0]!;
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await fake?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const gatewayArgs = async () => ['gateway', 'run', '--policy-config', config, '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', tempDir('gw')];

describe('the control plane says who a token belongs to', () => {
  it('GET /v1/whoami answers the token\'s gateway and role; an unknown token is 401', async () => {
    const res = await request(`${api}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toMatchObject({ gateway: 'brief-gw', role: 'gateway' });
    const bad = await request(`${api}/v1/whoami`, { headers: { authorization: `Bearer ktgw_${'x'.repeat(32)}` } });
    expect(bad.statusCode).toBe(401);
    await bad.body.dump();
  });
});

describe('kt gateway run with the brief\'s two variables', () => {
  it('runs as the token\'s gateway and its first event is on the control plane under that chain', async () => {
    const args = await gatewayArgs();
    const gw = await start(args, { KEEPTRUSTS_API_URL: api, KEEPTRUSTS_GATEWAY_TOKEN: token });
    expect(gw.child, gw.stderr).toBeDefined();
    expect(gw.stderr).not.toContain(token);
    const url = `http://${args[args.indexOf('--listen') + 1]}`;
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(res.statusCode).toBe(200);
    const eventId = String(res.headers['x-keeptrusts-event-id']);
    await res.body.dump();
    let shipped: { chain: string; event: { gateway_id: string } } | undefined;
    for (let i = 0; i < 100 && !shipped; i++) {
      const r = await request(`${api}/v1/events/${eventId}`, { headers: { authorization: `Bearer ${token}` } });
      if (r.statusCode === 200) shipped = (await r.body.json()) as typeof shipped;
      else await r.body.dump();
      if (!shipped) await new Promise((done) => setTimeout(done, 100));
    }
    expect(shipped).toMatchObject({ chain: 'brief-gw', event: { gateway_id: 'brief-gw' } });
    gw.child!.kill('SIGTERM');
  });

  it('a different KEEPTRUSTS_GATEWAY_ID stops the start, naming both ids and what to do', async () => {
    const gw = await start(await gatewayArgs(), { KEEPTRUSTS_API_URL: api, KEEPTRUSTS_GATEWAY_TOKEN: token, KEEPTRUSTS_GATEWAY_ID: 'other-gw' });
    expect(gw.child).toBeUndefined();
    expect(gw.code).not.toBe(0);
    expect(gw.stderr).toContain(
      `kt gateway run: the gateway cannot start: the gateway id is "other-gw" (--gateway-id / KEEPTRUSTS_GATEWAY_ID) but KEEPTRUSTS_GATEWAY_TOKEN belongs to gateway "brief-gw" on the control plane at ${api}: leave the gateway id unset (the token decides), or use a token created with kt server token create --gateway other-gw`,
    );
    expect(gw.stderr).not.toContain(token);
  });

  it('the same id given as well starts; a revoked or unknown token stops the start', async () => {
    const same = await start(await gatewayArgs(), { KEEPTRUSTS_API_URL: api, KEEPTRUSTS_GATEWAY_TOKEN: token, KEEPTRUSTS_GATEWAY_ID: 'brief-gw' });
    expect(same.child, same.stderr).toBeDefined();
    same.child!.kill('SIGTERM');
    const unknown = await start(await gatewayArgs(), { KEEPTRUSTS_API_URL: api, KEEPTRUSTS_GATEWAY_TOKEN: `ktgw_${'y'.repeat(32)}` });
    expect(unknown.child).toBeUndefined();
    expect(unknown.stderr).toContain(`the control plane at ${api} does not know KEEPTRUSTS_GATEWAY_TOKEN (unknown or revoked)`);
  });

  it('a control plane that cannot be reached stops a start that has no gateway id, and lets one with an id start', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const noId = await start(await gatewayArgs(), { KEEPTRUSTS_API_URL: down, KEEPTRUSTS_GATEWAY_TOKEN: token });
    expect(noId.child).toBeUndefined();
    expect(noId.stderr).toContain(`could not ask the control plane at ${down} who KEEPTRUSTS_GATEWAY_TOKEN belongs to (ECONNREFUSED)`);
    const withId = await start(await gatewayArgs(), { KEEPTRUSTS_API_URL: down, KEEPTRUSTS_GATEWAY_TOKEN: token, KEEPTRUSTS_GATEWAY_ID: 'brief-gw' });
    expect(withId.child, withId.stderr).toBeDefined();
    withId.child!.kill('SIGTERM');
  });
});
