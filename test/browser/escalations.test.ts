/**
 * The escalation queue in a real browser: the built `kt gateway run` holds a request a policy escalated while
 * an openai SDK client waits on it; a reviewer approves it in the console (Debian's Chromium driven by
 * playwright-core) and the waiting client gets the model's answer; a second one is denied. Screenshots go to
 * test-results/screenshots/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleDir } from '../../src/server/console.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { freePort, KT, ROOT } from '../helpers/processes.js';
import { consolePage, haveBrowser, launchChromium, screenshot, SHOTS } from '../helpers/browser.js';

const MARK = 'DEPLOY-OVERRIDE-4417';


describe.skipIf(!haveBrowser)('escalation queue in Chromium', { timeout: 120_000 }, () => {
  let fake: FakeUpstream;
  let gateway: ChildProcess;
  let base: string;
  let token: string;
  let browser: Browser;
  let page: Page;

  const ask = (developer: string) =>
    new OpenAI({ baseURL: `${base}/v1`, apiKey: 'k', maxRetries: 0, timeout: 90_000, defaultHeaders: { 'x-keeptrusts-developer': developer, 'x-keeptrusts-repository': 'acme/deploy' } }).chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: `please run the release with ${MARK}` }] })
      .catch((e: unknown) => e);

  async function shot(name: string): Promise<void> {
    await screenshot(page, name);
  }

  beforeAll(async () => {
    if (!consoleDir()) throw new Error('dist/console is missing: run npm run build first (npm test does)');
    mkdirSync(SHOTS, { recursive: true });
    fake = await startFakeUpstream();
    fake.setReplyText('release started');
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-esc-console-'));
    const file = join(dataDir, 'policy-config.yaml');
    writeFileSync(
      file,
      `pack: {name: escalation-console, version: "1"}
policies:
  chain: [prompt-injection, audit-logger]
policy:
  prompt-injection:
    detection:
      attack_patterns: [{name: deploy-override, pattern: "DEPLOY-OVERRIDE-\\\\d+"}]
    response: {action: escalate}
escalation: {hold_seconds: 90, poll_ms: 100}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`,
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) env[k] = v;
    gateway = spawn(process.execPath, [KT, 'gateway', 'run', '-c', file, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-format', 'json'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      gateway.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('listening on')) resolve();
      });
      gateway.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${stderr.slice(0, 2000)}`)));
    });
    token = readFileSync(join(dataDir, 'console-token'), 'utf8').trim();
    browser = await launchChromium();
    page = await consolePage(browser);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (gateway && gateway.exitCode === null) {
      gateway.kill('SIGTERM');
      await new Promise((r) => gateway.once('exit', r));
    }
    await fake?.close();
  });

  it('approves a held request from the queue while the openai client waits; the client gets the answer', async () => {
    await page.goto(`${base}/console/#token=${encodeURIComponent(token)}`);
    await page.getByRole('link', { name: 'Escalations' }).click();
    await page.getByRole('heading', { name: 'Escalations' }).waitFor();
    await page.getByText('No request is waiting for review.').waitFor();
    await shot('escalations-01-empty');
    await page.getByLabel('Reviewer name').fill('rita');

    const before = fake.requests.length;
    const waiting = ask('dana');
    const row = page.getByTestId('escalation-row').filter({ hasText: 'dana' });
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain('deploy-override');
    expect(await row.textContent()).not.toContain(MARK);
    expect(fake.requests.length).toBe(before);
    await shot('escalations-02-held');

    await row.getByPlaceholder('Reason (recorded)').fill('release drill, on-call approved');
    await row.getByRole('checkbox').check();
    await row.getByRole('button', { name: 'Approve' }).click();
    const status = page.getByRole('status').filter({ hasText: 'approved' });
    await status.waitFor();
    expect(await status.textContent()).toMatch(/esc_\w+ approved with exception exc_\w+/);

    const reply = (await waiting) as OpenAI.ChatCompletion;
    expect(reply.choices[0]!.message.content).toBe('release started');
    expect(fake.requests.length).toBe(before + 1);
    await page.getByTestId('exceptions-table').getByText('rita').waitFor();
    await page.getByText('No request is waiting for review.').waitFor();
    await shot('escalations-03-approved');
  });

  it('denies one: the waiting client gets a block naming the escalation', async () => {
    const waiting = ask('omar');
    const row = page.getByTestId('escalation-row').filter({ hasText: 'omar' });
    await row.waitFor({ timeout: 30_000 });
    const id = await row.getAttribute('data-id');
    // Without a reason the form says so and nothing is decided.
    await row.getByRole('button', { name: 'Deny' }).click();
    await row.getByRole('alert').waitFor();
    expect(await row.getByRole('alert').textContent()).toContain('Give a reason');
    await row.getByPlaceholder('Reason (recorded)').fill('not on the release rota');
    await row.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('status').filter({ hasText: 'denied' }).waitFor();
    const err = (await waiting) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({ code: 'escalation_denied', escalation_id: id });
    await shot('escalations-04-denied');
  });
});
