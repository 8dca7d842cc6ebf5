/**
 * The team view in a real browser: the console of `kt server` (startControlPlane over its SQLite store) with the
 * chains of three gateway replicas and a developer's own gateway, as shipping leaves them. A reader signs in with
 * a token and sees one overview over every replica, costs per developer across replicas and one line per gateway.
 * Screenshots go to test-results/screenshots/ (20-team-*).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsDbFile } from '../../src/audit/paths.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startControlPlane, type RunningControlPlane } from '../../src/server/app.js';
import { consoleDir } from '../../src/server/console.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { makeEvent, makePolicyResult } from '../helpers/events.js';
import { consolePage, haveBrowser, launchChromium, screenshot, SHOTS } from '../helpers/browser.js';



/** Requests per gateway chain; the replicas serve the same developers, round robin. */
const GATEWAYS: Array<[string, number]> = [
  ['gw-team-1', 14],
  ['gw-team-2', 12],
  ['gw-team-3', 10],
  ['gw-laptop-dana', 4],
];
const DEVELOPERS = ['alice', 'bob', 'carol'];

describe.skipIf(!haveBrowser)('team view of kt server in Chromium', { timeout: 120_000 }, () => {
  let dir: string;
  let store: SqliteEventStore;
  let tokens: SqliteTokenStore;
  let plane: RunningControlPlane;
  let reader: string;
  let browser: Browser;
  let page: Page;
  const shot = (name: string) => screenshot(page, name);

  beforeAll(async () => {
    if (!consoleDir()) throw new Error('dist/console is missing: run npm run build first (npm test does)');
    mkdirSync(SHOTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'kt-team-console-'));
    store = new SqliteEventStore(eventsDbFile(dir));
    tokens = new SqliteTokenStore(eventsDbFile(dir));
    const now = Date.now();
    let n = 0;
    for (const [gateway, count] of GATEWAYS) {
      const events = Array.from({ length: count }, (_, i) => {
        const k = n++;
        const developer = gateway === 'gw-laptop-dana' ? 'dana' : DEVELOPERS[k % DEVELOPERS.length]!;
        return makeEvent(
          {
            gateway_id: gateway,
            verdict: k % 7 === 0 ? 'block' : 'allow',
            identity: { developer, repository: k % 2 ? 'acme/api' : 'acme/web', client: 'aider' },
            model_requested: 'gpt-4o',
            target: { id: 'o', provider: 'openai', model: 'gpt-4o' },
            policies: [makePolicyResult('code-sanitizer', k % 7 === 0 ? 'block' : 'allow')],
            cost: { currency: 'USD', input: 0.01, output: 0.02, total: 0.03, priced: true },
          },
          now - (i + 1) * 60_000,
        );
      });
      await store.append(gateway, events);
    }
    reader = (await tokens.create({ gateway: 'console-lead', role: 'reader' })).token;
    plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger: pino({ level: 'silent' }) });
    browser = await launchChromium();
    page = await consolePage(browser);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await plane?.close();
    await tokens?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('one overview over every replica, and costs per gateway', async () => {
    const total = GATEWAYS.reduce((s, [, c]) => s + c, 0);
    await page.goto(`${plane.url}/console/`);
    const token = page.getByLabel('Token');
    await expect.poll(() => token.isVisible()).toBe(true);
    await token.fill(reader);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    const stats = page.getByTestId('overview-stats');
    await stats.waitFor();
    expect(await stats.textContent()).toMatch(new RegExp(`Requests\\s*${total}(?!\\d)`));
    expect(await page.getByRole('table').first().textContent()).toMatch(/alice.*|bob.*|carol.*/);
    await shot('20-team-overview');

    await page.getByRole('link', { name: 'Costs' }).click();
    await page.getByRole('heading', { name: 'Costs' }).waitFor();
    await page.getByRole('tab', { name: 'By gateway' }).click();
    const table = page.getByTestId('costs-table');
    await expect.poll(async () => (await table.textContent()) ?? '', { timeout: 10_000 }).toContain('gw-team-3');
    // One row per gateway chain: its name, then its requests.
    const cells = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th, td')].map((td) => (td.textContent ?? '').trim())));
    expect(cells.map((c) => [c[0], c[1]])).toEqual(expect.arrayContaining(GATEWAYS.map(([gateway, count]) => [gateway, String(count)])));
    expect(cells).toHaveLength(GATEWAYS.length);
    await shot('21-team-costs-gateway');

    // Per developer, the replicas add up: alice's requests on three replicas are one line.
    await page.getByRole('tab', { name: 'By developer' }).click();
    // (Not "contains dana": the gateway table before it has gw-laptop-dana.)
    const firstCells = () => table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => (tr.querySelector('th, td')?.textContent ?? '').trim()).sort());
    await expect.poll(firstCells, { timeout: 10_000 }).toEqual(['alice', 'bob', 'carol', 'dana']);
    await shot('22-team-costs-developer');
  });
});
