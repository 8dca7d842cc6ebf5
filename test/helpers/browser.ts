/**
 * Debian's Chromium for the browser tests, driven by playwright-core (which never downloads a browser). Without a
 * browser locally those suites are skipped; in CI (.ci/run installs chromium) a missing one fails loudly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.KEEPTRUSTS_CHROMIUM ?? '/usr/bin/chromium';
/** Where the screenshots go (test-results/screenshots/NAME.png). */
export const SHOTS = join(process.cwd(), 'test-results', 'screenshots');

export const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install -y chromium)`);

/** Headless, no sandbox (root in CI), nothing fetched in the background; `extraArgs` after the defaults. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/** A page at the console's test size whose script errors fail the test. */
export async function consolePage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  page.on('pageerror', (err) => {
    throw err;
  });
  return page;
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
