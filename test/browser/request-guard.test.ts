/**
 * The attacks of issue 16 in a real browser: Debian's Chromium (playwright-core) with `attacker.example`
 * resolved to 127.0.0.1 by the browser itself, so a page on that name is another site, as on the web. The
 * gateway holds the provider key (secret_key_ref), which is what a forged request would spend.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { consoleDir } from '../../src/server/console.js';
import type { LocalConsole } from '../../src/server/local-console.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { haveBrowser, launchChromium } from '../helpers/browser.js';


const CONFIG = `pack: {name: browser-guard, version: "1.0.0"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1", secret_key_ref: {env: GW_KEY}}
`;
const BODY = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'spend the gateway key' }] });

/** A site serving one page; the page's script leaves what it saw in `window.result`. */
async function site(script: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><html><body><script>window.result = (async () => { ${script} })();</script></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe.skipIf(!haveBrowser)('request guard in Chromium', () => {
  let stack: Stack;
  let dataDir: string;
  let local: LocalConsole;
  let browser: Browser;
  const servers: Server[] = [];
  let appPort = 0;

  beforeAll(async () => {
    if (!consoleDir()) throw new Error('dist/console is missing: run npm run build first (npm test does)');
    dataDir = mkdtempSync(join(tmpdir(), 'kt-browser-guard-'));
    // The allowed app's port is known only once its server listens, so it starts first.
    const app = await site(`
      const res = await fetch(window.GATEWAY + '/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer unused' }, body: ${JSON.stringify(BODY)},
      });
      return { status: res.status, id: res.headers.get('x-keeptrusts-request-id'), body: await res.json() };`);
    servers.push(app.server);
    appPort = app.port;
    stack = await startStack({
      config: CONFIG,
      env: { GW_KEY: 'sk-gateway-owned' },
      audit: { dataDir },
      console: {},
      gateway: { access: { allowedOrigins: [`http://app.localhost:${app.port}`] } },
    });
    local = stack.console!;
    browser = await launchChromium(['--host-resolver-rules=MAP attacker.example 127.0.0.1']);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
    await stack?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(() => stack.fake.reset());

  async function refusals(): Promise<Record<string, number>> {
    const text = await (await fetch(`${stack.gateway.url}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/keeptrusts_refused_requests_total\{reason="(\w+)"\} (\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
  }

  it('a page on another site cannot make the gateway call the provider: no-cors text/plain POST, CORS POST, <img>', async () => {
    const gw = stack.gateway.url;
    const attacker = await site(`
      const out = {};
      const opaque = await fetch('${gw}/v1/chat/completions', { method: 'POST', mode: 'no-cors', headers: { 'Content-Type': 'text/plain' }, body: ${JSON.stringify(BODY)} });
      out.noCors = opaque.type;
      out.cors = await fetch('${gw}/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(BODY)} })
        .then((r) => 'read ' + r.status, (e) => 'blocked: ' + e.name);
      out.img = await new Promise((resolve) => { const i = new Image(); i.onload = () => resolve('loaded'); i.onerror = () => resolve('error'); i.src = '${gw}/metrics'; });
      return out;`);
    servers.push(attacker.server);
    const before = await refusals();
    const page = await browser.newPage();
    await page.goto(`http://attacker.example:${attacker.port}/`);
    const result = await page.evaluate('window.result');
    await page.close();
    expect(result).toEqual({ noCors: 'opaque', cors: 'blocked: TypeError', img: 'error' });
    expect(stack.fake.requests).toEqual([]);
    const after = await refusals();
    // The no-cors POST and the preflight of the CORS one carry Origin; the image only Sec-Fetch-Site.
    expect((after.origin ?? 0) - (before.origin ?? 0)).toBe(3);
  });

  it('a page under a rebound name gets 403 for every route', async () => {
    const page = await browser.newPage();
    for (const path of ['/v1/models', '/health', '/metrics', '/console/']) {
      const res = await page.goto(`http://attacker.example:${stack.gateway.port}${path}`);
      expect(res?.status(), path).toBe(403);
      expect(await res?.text()).toContain('host_not_allowed');
    }
    await page.close();
    expect(stack.fake.requests).toEqual([]);
  });

  it('an allowed origin calls the gateway with CORS and reads the reply and its request id', async () => {
    const page = await browser.newPage();
    await page.addInitScript(`window.GATEWAY = ${JSON.stringify(stack.gateway.url)};`);
    await page.goto(`http://app.localhost:${appPort}/`);
    const result = (await page.evaluate('window.result')) as { status: number; id: string | null; body: { choices: Array<{ message: { content: string } }> } };
    await page.close();
    expect(result.status).toBe(200);
    expect(result.id).toMatch(/\S/);
    expect(result.body.choices[0]!.message.content).toBe('Hello from fake upstream!');
    expect(stack.fake.requests).toHaveLength(1);
    expect(stack.fake.requests[0]!.headers.authorization).toBe('Bearer sk-gateway-owned');
  });

  it("the console on the gateway still signs in and loads its data (its own origin's requests pass)", async () => {
    const page = await browser.newPage();
    await page.goto(local.signInUrl(stack.gateway.url));
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByTestId('overview-stats').waitFor();
    expect(await page.getByTestId('overview-stats').textContent()).toMatch(/Requests\s*\d/);
    await page.close();
  });
});
