/**
 * Single sign-on into the console of `kt server`, in Debian's Chromium (playwright-core): the console's button,
 * the provider's own login and consent pages (oidc-provider in process, on another site: 127.0.0.1 against the
 * control plane's localhost, so SameSite=Lax is what lets the session through), the admin's Tokens page, a
 * reader without it, and sign-out. Screenshots go to test-results/screenshots/.
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
import { OidcClient, oidcSettings } from '../../src/server/oidc.js';
import { SqliteSessionStore } from '../../src/server/sessions.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { listenTestProvider, type TestProvider } from '../helpers/oidc.js';
import { haveBrowser, launchChromium, screenshot, SHOTS } from '../helpers/browser.js';


describe.skipIf(!haveBrowser)('console single sign-on in Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kt-oidc-browser-'));
  const logger = pino({ level: 'silent' });
  const store = new SqliteEventStore(eventsDbFile(dir));
  const tokens = new SqliteTokenStore(eventsDbFile(dir));
  const sessions = new SqliteSessionStore(eventsDbFile(dir));
  let provider: TestProvider;
  let plane: RunningControlPlane;
  let base: string;
  let browser: Browser;

  const shot = (page: Page, name: string) => screenshot(page, name);

  beforeAll(async () => {
    if (!consoleDir()) throw new Error('dist/console is missing: run npm run build first (npm test does)');
    mkdirSync(SHOTS, { recursive: true });
    provider = await listenTestProvider({
      alice: { email: 'alice@corp.example', email_verified: true, name: 'Alice Admin', groups: ['kt-admins'] },
      bob: { email: 'bob@corp.example', email_verified: true, name: 'Bob Reader', groups: [] },
    });
    const probe = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger });
    const port = probe.port;
    await probe.close();
    base = `http://localhost:${port}`;
    const settings = oidcSettings(
      {
        oidcIssuer: provider.issuer,
        oidcClientId: provider.clientId,
        oidcRedirectUrl: `${base}/auth/callback`,
        oidcScopes: ['openid', 'email', 'profile', 'groups'],
        oidcAdminGroups: ['kt-admins'],
        oidcReaderDomains: ['corp.example'],
      },
      { KEEPTRUSTS_OIDC_CLIENT_SECRET: provider.clientSecret },
    )!;
    plane = await startControlPlane({ host: '127.0.0.1', port, store, tokens, logger, oidc: { client: new OidcClient(settings, logger), sessions } });
    provider.start(`${base}/auth/callback`);
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await plane?.close();
    await provider?.close();
    await sessions.close();
    await tokens.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** From the console's sign-in page through the provider's login and consent pages, back into the console. */
  async function signIn(page: Page, login: string, shots?: string): Promise<void> {
    await page.goto(`${base}/console/`);
    const sso = page.getByRole('link', { name: 'Sign in with single sign-on' });
    await sso.waitFor();
    if (shots) await shot(page, `${shots}-1-signin`);
    await sso.click();
    await page.locator('input[name="login"]').waitFor();
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    if (shots) await shot(page, `${shots}-2-provider`);
    await page.locator('button[type="submit"]').click();
    // The provider asks for consent once per account and client.
    await page.waitForURL((u) => u.href.startsWith(base) || /\/interaction\//.test(u.pathname));
    if (!page.url().startsWith(base)) await page.locator('button[type="submit"]').click();
    await page.waitForURL((u) => u.href.startsWith(`${base}/console`));
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  }

  it('signs an admin in through the provider; the Tokens page creates and revokes a token; sign-out ends the session', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => {
      throw err;
    });
    await signIn(page, 'alice', '10-sso-admin');
    expect(await page.locator('.who').textContent()).toBe('alice@corp.example · admin');
    const cookie = (await context.cookies(base)).find((c) => c.name === 'kt_session')!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe('Lax');
    await shot(page, '10-sso-admin-3-overview');

    await page.getByRole('link', { name: 'Tokens' }).click();
    await page.getByRole('heading', { name: 'Tokens' }).waitFor();
    await page.getByLabel('Gateway id or label').fill('build-box-7');
    await page.getByLabel('Role').selectOption('reader');
    await page.getByRole('button', { name: 'Create' }).click();
    const once = page.locator('.token-once');
    await once.waitFor();
    const token = (await once.textContent())!;
    expect(token).toMatch(/^ktgw_[A-Za-z0-9_-]{32}$/);
    expect(await tokens.verify(token)).toMatchObject({ gateway: 'build-box-7', role: 'reader' });
    await shot(page, '10-sso-admin-4-tokens');
    page.once('dialog', (d) => void d.accept());
    const id = (await tokens.verify(token))!.id;
    await page.getByRole('button', { name: `Revoke ${id}` }).click();
    await expect.poll(() => tokens.verify(token)).toBeNull();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in with single sign-on' }).waitFor();
    // The cookie's value, replayed, is refused: the session was deleted on the server.
    const replay = await fetch(`${base}/v1/events`, { headers: { cookie: `kt_session=${cookie.value}` } });
    expect(replay.status).toBe(401);
    await context.close();
  });

  it('signs a reader in without the Tokens page', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    const page = await context.newPage();
    await signIn(page, 'bob');
    expect(await page.locator('.who').textContent()).toBe('bob@corp.example · reader');
    expect(await page.getByRole('link', { name: 'Tokens' }).count()).toBe(0);
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    await page.goto(`${base}/console/tokens`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await shot(page, '11-sso-reader');
    await context.close();
  });
});
