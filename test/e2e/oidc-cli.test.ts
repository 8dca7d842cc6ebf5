/**
 * `kt server` with OIDC sign-in, as a process: an incomplete configuration stops the start with what is missing;
 * a complete one starts without reaching the provider (discovery waits for the first sign-in), never prints the
 * client secret, and answers sign-ins with 503 while the provider is down.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, KT, ROOT, runKt } from '../helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-oidc-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'cli-test-oidc-secret-9d8f7e6a5b4c';

describe('kt server --oidc-*', () => {
  it('refuses to start without the client secret, or with --oidc-* flags but no issuer', async () => {
    const common = ['server', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'a')];
    const noSecret = await runKt([...common, '--oidc-issuer', 'https://sso.corp.example', '--oidc-client-id', 'kt', '--oidc-redirect-url', 'https://kt.corp.example/auth/callback', '--oidc-admin-groups', 'kt-admins']);
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toMatch(/KEEPTRUSTS_OIDC_CLIENT_SECRET or a file named by --oidc-client-secret-file/);
    const noIssuer = await runKt([...common, '--oidc-admin-groups', 'kt-admins']);
    expect(noIssuer.code).toBe(1);
    expect(noIssuer.stderr).toMatch(/need --oidc-issuer/);
  });

  it('starts from the environment, logs the issuer but never the secret, and answers 503 while the provider is down', async () => {
    const [port, deadPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir };
    Object.assign(env, {
      KEEPTRUSTS_OIDC_ISSUER: `http://127.0.0.1:${deadPort}`,
      KEEPTRUSTS_OIDC_CLIENT_ID: 'kt-console',
      KEEPTRUSTS_OIDC_CLIENT_SECRET: SECRET,
      KEEPTRUSTS_OIDC_REDIRECT_URL: `http://127.0.0.1:${port}/auth/callback`,
      KEEPTRUSTS_OIDC_ADMIN_GROUPS: 'kt-admins,platform',
      KEEPTRUSTS_OIDC_READER_DOMAINS: 'corp.example',
    });
    const child = spawn(process.execPath, [KT, 'server', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'b'), '--log-format', 'json'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await expect.poll(() => out.includes('listening on') || child.exitCode !== null, { timeout: 30_000 }).toBe(true);
      expect(out).toContain('listening on');
      expect(out).toContain(`"issuer":"http://127.0.0.1:${deadPort}/"`);
      const status = await fetch(`http://127.0.0.1:${port}/auth/status`);
      expect(await status.json()).toEqual({ oidc: true, login_url: '/auth/login' });
      for (let i = 0; i < 2; i++) {
        const login = await fetch(`http://127.0.0.1:${port}/auth/login`, { redirect: 'manual' });
        expect(login.status).toBe(503);
        expect(((await login.json()) as { error: { message: string } }).error.message).toMatch(/cannot be reached/);
      }
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toMatch(/OIDC discovery failed/);
    expect(out).not.toContain(SECRET);
  });
});
