/**
 * Console sign-in on `kt server` through a real OIDC provider (oidc-provider, in process): the whole redirect
 * dance with cookies as a browser keeps them, the roles the claims map to, the session's lifetime and end,
 * CSRF on cookie-authenticated POSTs, and the checks that make a forged or replayed answer fail.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsDbFile } from '../../src/audit/paths.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startControlPlane, type RunningControlPlane } from '../../src/server/app.js';
import { OidcClient, oidcSettings } from '../../src/server/oidc.js';
import { SqliteSessionStore } from '../../src/server/sessions.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { openEscalationStore, type SqlEscalationStore } from '../../src/escalation/store.js';
import { Browser, listenTestProvider, type TestProvider } from '../helpers/oidc.js';

const dir = mkdtempSync(join(tmpdir(), 'kt-oidc-'));
const lines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  }),
);

let clock = Date.now();
const store = new SqliteEventStore(eventsDbFile(dir));
const tokens = new SqliteTokenStore(eventsDbFile(dir));
const sessions = new SqliteSessionStore(eventsDbFile(dir), () => clock);
let provider: TestProvider;
let plane: RunningControlPlane;
let base: string;
let callbackUrl: string;
const SESSION_TTL_MS = 3_600_000;

let escalations: SqlEscalationStore;

beforeAll(async () => {
  escalations = await openEscalationStore({ dataDir: dir });
  provider = await listenTestProvider({
    alice: { email: 'alice@corp.example', email_verified: true, name: 'Alice Admin', groups: ['kt-admins', 'staff'] },
    bob: { email: 'bob@corp.example', email_verified: true, name: 'Bob Reader', groups: ['staff'] },
    carol: { email: 'carol@elsewhere.example', email_verified: true, groups: ['staff'] },
    // Types an address in the reader domain without proving it: no role.
    mallory: { email: 'mallory@corp.example', email_verified: false },
  });
  const settingsFor = (port: number) =>
    oidcSettings(
      {
        oidcIssuer: provider.issuer,
        oidcClientId: provider.clientId,
        oidcRedirectUrl: `http://127.0.0.1:${port}/auth/callback`,
        oidcScopes: ['openid', 'email', 'profile', 'groups'],
        oidcAdminGroups: ['kt-admins'],
        oidcReaderDomains: ['corp.example'],
        sessionTtl: SESSION_TTL_MS,
      },
      { KEEPTRUSTS_OIDC_CLIENT_SECRET: provider.clientSecret },
    )!;
  // Discovery waits for the first sign-in, so the control plane can start before its redirect URL is final:
  // bind once to learn a free port, then start for real on it.
  const probe = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger });
  const port = probe.port;
  await probe.close();
  plane = await startControlPlane({ host: '127.0.0.1', port, store, tokens, escalations, logger, keepAliveMs: 200, oidc: { client: new OidcClient(settingsFor(port), logger), sessions } });
  base = plane.url;
  callbackUrl = `${base}/auth/callback`;
  provider.start(callbackUrl);
});

afterAll(async () => {
  await plane?.close();
  await provider?.close();
  await sessions.close();
  await escalations.close();
  await tokens.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Start at the control plane, go through the provider as `login`, come back: the callback's answer. */
async function signIn(login: string, browser = new Browser(), returnTo = '/console/events') {
  const start = await browser.fetch(`${base}/auth/login?return_to=${encodeURIComponent(returnTo)}`);
  expect(start.status).toBe(302);
  const back = await browser.throughProvider(start.location!, login, callbackUrl);
  const done = await browser.fetch(back);
  return { browser, done, back, sessionCookie: browser.jar(base).get('kt_session') };
}

async function api(browser: Browser, path: string, init: { method?: 'GET' | 'POST'; body?: unknown; csrf?: string } = {}) {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.method === 'POST') headers['content-type'] = 'application/json';
  if (init.csrf) headers['x-csrf-token'] = init.csrf;
  const res = await browser.fetch(`${base}${path}`, { method: init.method ?? 'GET', headers, ...(init.method === 'POST' ? { body: JSON.stringify(init.body ?? {}) } : {}) });
  return { status: res.status, json: res.text ? (JSON.parse(res.text) as Record<string, any>) : null };
}

describe('console sign-in through OIDC', () => {
  it('says sign-in is on, and refuses the API without a credential', async () => {
    const b = new Browser();
    expect((await api(b, '/auth/status')).json).toEqual({ oidc: true, login_url: '/auth/login' });
    const r = await api(b, '/v1/events');
    expect(r.status).toBe(401);
    expect(r.json!.error.message).toMatch(/sign in at \/auth\/login/);
  });

  it('signs an admin in through the redirect dance; admins manage tokens, with the CSRF token', async () => {
    const { browser, done, sessionCookie } = await signIn('alice');
    expect(done.status).toBe(302);
    expect(done.location).toBe(`${base}/console/events`);
    expect(sessionCookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const set = browser.setCookies.find((c) => c.startsWith('kt_session=') && !/Max-Age=0/.test(c))!;
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).toMatch(new RegExp(`Max-Age=${SESSION_TTL_MS / 1000}`));
    expect(set).not.toMatch(/Secure/); // plain http on loopback; https redirect URLs get Secure and __Host-
    // The login cookie is spent.
    expect(browser.jar(base).has('kt_login')).toBe(false);

    const me = await api(browser, '/v1/session');
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ kind: 'session', subject: 'alice', email: 'alice@corp.example', name: 'Alice Admin', role: 'admin' });
    expect((await api(browser, '/v1/events')).status).toBe(200);
    expect((await api(browser, '/v1/tokens')).status).toBe(200);

    // A cookie alone cannot change anything: a page elsewhere could make the browser send it.
    const noCsrf = await api(browser, '/v1/tokens', { method: 'POST', body: { gateway: 'gw-1' } });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.json!.error.message).toMatch(/X-CSRF-Token/);
    const wrongCsrf = await api(browser, '/v1/tokens', { method: 'POST', body: { gateway: 'gw-1' }, csrf: 'x'.repeat(32) });
    expect(wrongCsrf.status).toBe(403);

    const created = await api(browser, '/v1/tokens', { method: 'POST', body: { gateway: 'gw-1', role: 'gateway' }, csrf: me.json!.csrf_token });
    expect(created.status).toBe(200);
    expect(created.json!.token).toMatch(/^ktgw_/);
    // Machines keep using tokens: the new one works as a bearer, and cannot reach admin routes.
    const asMachine = await request(`${base}/v1/tokens`, { headers: { authorization: `Bearer ${created.json!.token}` } });
    expect(asMachine.statusCode).toBe(403);
    await asMachine.body.dump();
    const whoami = await request(`${base}/v1/whoami`, { headers: { authorization: `Bearer ${created.json!.token}` } });
    expect(await whoami.body.json()).toMatchObject({ gateway: 'gw-1', role: 'gateway' });

    const revoked = await api(browser, `/v1/tokens/${created.json!.record.id}/revoke`, { method: 'POST', csrf: me.json!.csrf_token });
    expect(revoked.status).toBe(200);
    expect(revoked.json!.record.revoked_at).not.toBeNull();
    const after = await request(`${base}/v1/whoami`, { headers: { authorization: `Bearer ${created.json!.token}` } });
    expect(after.statusCode).toBe(401);
    await after.body.dump();
  });

  it('signs a reader in by verified e-mail domain (claims from userinfo); readers read but are denied admin routes', async () => {
    const { browser, done } = await signIn('bob');
    expect(done.status).toBe(302);
    const me = await api(browser, '/v1/session');
    expect(me.json).toMatchObject({ role: 'reader', email: 'bob@corp.example' });
    expect((await api(browser, '/v1/events')).status).toBe(200);
    expect((await api(browser, '/v1/usage?by=developer')).status).toBe(200);
    const list = await api(browser, '/v1/tokens');
    expect(list.status).toBe(403);
    expect(list.json!.error.message).toMatch(/needs the admin role/);
    expect((await api(browser, '/v1/tokens', { method: 'POST', body: { gateway: 'gw-2' }, csrf: me.json!.csrf_token })).status).toBe(403);
  });

  it('escalations: a signed-in reader sees the queue but cannot decide; an admin decides under the signed-in name', async () => {
    const held = await escalations.open({
      gateway: 'gw-1',
      request_id: 'req-held',
      event_id: null,
      developer: 'dana',
      repository: 'acme/api',
      team: null,
      model: 'gpt-4o',
      policy: 'prompt-injection',
      finding_type: 'PROMPT_INJECTION',
      rule: 'override',
      holdSeconds: 300,
    });
    const reader = await signIn('bob');
    const readerCsrf = (await api(reader.browser, '/v1/session')).json!.csrf_token as string;
    const queue = await api(reader.browser, '/v1/escalations?state=open');
    expect(queue.status).toBe(200);
    expect((queue.json!.data as Array<{ id: string }>).map((e) => e.id)).toContain(held.id);
    const refused = await api(reader.browser, `/v1/escalations/${held.id}/decision`, { method: 'POST', body: { decision: 'approve', reason: 'looks fine' }, csrf: readerCsrf });
    expect(refused.status).toBe(403);
    expect(refused.json!.error.message).toMatch(/admin role/);

    const admin = await signIn('alice');
    const adminCsrf = (await api(admin.browser, '/v1/session')).json!.csrf_token as string;
    const noCsrf = await api(admin.browser, `/v1/escalations/${held.id}/decision`, { method: 'POST', body: { decision: 'approve', reason: 'ok' } });
    expect(noCsrf.status).toBe(403);
    // The name a request claims is not who decided: the provider vouched for alice.
    const decided = await api(admin.browser, `/v1/escalations/${held.id}/decision`, { method: 'POST', body: { decision: 'approve', reason: 'reviewed the diff', reviewer: 'somebody-else' }, csrf: adminCsrf });
    expect(decided.status).toBe(200);
    expect(decided.json).toMatchObject({ id: held.id, state: 'approved', reviewer: 'alice@corp.example', reason: 'reviewed the diff' });
  });

  it('refuses accounts no rule grants a role, and unverified e-mail addresses', async () => {
    for (const login of ['carol', 'mallory']) {
      const { done, sessionCookie } = await signIn(login);
      expect(done.status).toBe(403);
      expect(done.text).toMatch(/has no role/);
      expect(sessionCookie).toBeUndefined();
    }
  });

  it('logout ends the session: the same cookie is refused afterwards', async () => {
    const { browser, sessionCookie } = await signIn('bob');
    const me = await api(browser, '/v1/session');
    expect((await api(browser, '/auth/logout', { method: 'POST' })).status).toBe(403); // CSRF token needed here too
    const out = await api(browser, '/auth/logout', { method: 'POST', csrf: me.json!.csrf_token });
    expect(out.status).toBe(200);
    expect(browser.jar(base).has('kt_session')).toBe(false);
    const replay = await request(`${base}/v1/events`, { headers: { cookie: `kt_session=${sessionCookie}` } });
    expect(replay.statusCode).toBe(401);
    await replay.body.dump();
  });

  it('closes a live tail opened with the session cookie once the session is signed out', async () => {
    const { browser, sessionCookie } = await signIn('bob');
    const me = await api(browser, '/v1/session');
    const tail = await request(`${base}/v1/events/stream`, { headers: { cookie: `kt_session=${sessionCookie}`, accept: 'text/event-stream' } });
    expect(tail.statusCode).toBe(200);
    const ended = tail.body.text();
    expect((await api(browser, '/auth/logout', { method: 'POST', csrf: me.json!.csrf_token })).status).toBe(200);
    // The server ends the stream at its next keep-alive, when the session no longer checks out.
    expect(await ended).toMatch(/^retry: 2000/);
  });

  it('refuses a tampered session cookie and an expired session', async () => {
    const { sessionCookie } = await signIn('alice');
    const flip = (s: string) => s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    for (const cookie of [flip(sessionCookie!), `${sessionCookie}x`, 'not-a-session', '']) {
      const r = await request(`${base}/v1/events`, { headers: { cookie: `kt_session=${cookie}` } });
      expect(r.statusCode).toBe(401);
      await r.body.dump();
    }
    const ok = await request(`${base}/v1/events`, { headers: { cookie: `kt_session=${sessionCookie}` } });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    clock += SESSION_TTL_MS + 1_000;
    try {
      const late = await request(`${base}/v1/events`, { headers: { cookie: `kt_session=${sessionCookie}` } });
      expect(late.statusCode).toBe(401);
      expect(((await late.body.json()) as { error: { message: string } }).error.message).toMatch(/expired or was signed out/);
    } finally {
      clock = Date.now();
    }
  });

  it('refuses an answer with the wrong state, and the login cannot be retried after', async () => {
    const browser = new Browser();
    const start = await browser.fetch(`${base}/auth/login`);
    const back = new URL(await browser.throughProvider(start.location!, 'alice', callbackUrl));
    const forged = new URL(back);
    forged.searchParams.set('state', 'forged-state-value');
    const r = await browser.fetch(forged.href);
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/sign-in failed: .*state/i);
    expect(browser.jar(base).has('kt_session')).toBe(false);
    // The genuine answer is now useless: the login was taken by the first attempt.
    const replay = await browser.fetch(back.href);
    expect(replay.status).toBe(400);
    expect(replay.text).toMatch(/expired, was already used/);
  });

  it('refuses an ID token whose nonce is not the one this login sent', async () => {
    const browser = new Browser();
    const start = await browser.fetch(`${base}/auth/login`);
    const auth = new URL(start.location!);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    auth.searchParams.set('nonce', 'a-nonce-the-control-plane-never-issued');
    const back = await browser.throughProvider(auth.href, 'alice', callbackUrl);
    const r = await browser.fetch(back);
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/nonce/);
    expect(browser.jar(base).has('kt_session')).toBe(false);
  });

  it('refuses an answer brought by a browser that did not start the login', async () => {
    const { back } = await (async () => {
      const b = new Browser();
      const start = await b.fetch(`${base}/auth/login`);
      return { back: await b.throughProvider(start.location!, 'alice', callbackUrl) };
    })();
    const other = new Browser();
    const r = await other.fetch(back);
    expect(r.status).toBe(400);
    expect(other.jar(base).has('kt_session')).toBe(false);
  });

  it('returns only to console pages after sign-in', async () => {
    for (const returnTo of ['https://evil.example/', '//evil.example/console', '/v1/tokens', '/console/../auth']) {
      const { done } = await signIn('bob', new Browser(), returnTo);
      expect(done.status).toBe(302);
      expect(done.location).toBe(`${base}/console/`);
    }
  });

  it('never logs the client secret, a session cookie, a login cookie or an authorization code', async () => {
    const { browser, back } = await signIn('alice');
    const secrets = [provider.clientSecret, browser.jar(base).get('kt_session')!, new URL(back).searchParams.get('code')!];
    for (const c of browser.setCookies) secrets.push(c.split(';')[0]!.split('=')[1]!);
    const log = lines.join('\n');
    for (const s of secrets.filter((x) => x && x.length > 8)) expect(log).not.toContain(s);
    expect(log).toMatch(/console sign-in/);
  });
});

describe('without OIDC configured', () => {
  it('keeps the old behaviour: no sign-in routes, tokens only', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kt-oidc-off-'));
    const s = new SqliteEventStore(eventsDbFile(d));
    const t = new SqliteTokenStore(eventsDbFile(d));
    const p = await startControlPlane({ host: '127.0.0.1', port: 0, store: s, tokens: t, logger });
    try {
      const status = await request(`${p.url}/auth/status`);
      expect(await status.body.json()).toEqual({ oidc: false, login_url: null });
      const login = await request(`${p.url}/auth/login`);
      expect(login.statusCode).toBe(404);
      await login.body.dump();
      const missing = await request(`${p.url}/v1/events`, { headers: { cookie: 'kt_session=whatever' } });
      expect(missing.statusCode).toBe(401);
      expect(((await missing.body.json()) as { error: { message: string } }).error.message).toMatch(/missing token/);
      const { token } = await t.create({ gateway: 'console', role: 'reader' });
      const tokenAdmin = await request(`${p.url}/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
      expect(tokenAdmin.statusCode).toBe(403);
      await tokenAdmin.body.dump();
    } finally {
      await p.close();
      await t.close();
      await s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
