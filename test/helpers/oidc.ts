/**
 * A real OpenID Connect provider for tests (oidc-provider, in process, on a free port) with a few accounts, and
 * a small browser: a cookie jar per origin, redirects followed by hand, the provider's login and consent forms
 * filled in. Nothing here talks to the network beyond 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { request } from 'undici';

export interface TestAccount {
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Attach the client once the control plane's callback URL is known. */
  start(redirectUri: string): void;
  close(): Promise<void>;
}

/** Listen first (the issuer URL needs the port), configure later (the client needs the control plane's port). */
export async function listenTestProvider(accounts: Record<string, TestAccount>): Promise<TestProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'keeptrusts-console';
  const clientSecret = 'oidc-test-client-secret-5f1c2a9e7d3b';
  return {
    issuer,
    clientId,
    clientSecret,
    start(redirectUri: string) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: clientId,
            client_secret: clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            token_endpoint_auth_method: 'client_secret_post',
          },
        ],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
        scopes: ['openid', 'email', 'profile', 'groups'],
        findAccount: async (_ctx, id) => {
          const account = accounts[id];
          if (!account) return undefined;
          return { accountId: id, claims: async () => ({ sub: id, ...account }) };
        },
        features: { devInteractions: { enabled: true } },
        pkce: { required: () => true },
        cookies: { keys: ['oidc-test-cookie-key'] },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
      });
      // The provider's warnings about its development keys and interactions are expected here.
      provider.on('server_error', () => {});
      server.on('request', provider.callback());
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Cookies by origin, as a browser keeps them (paths and expiry ignored: each test's flows are short). */
export class Browser {
  readonly jars = new Map<string, Map<string, string>>();
  /** Every Set-Cookie header seen, whole, to check attributes. */
  readonly setCookies: string[] = [];

  jar(origin: string): Map<string, string> {
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  async fetch(url: string, init: { method?: 'GET' | 'POST'; form?: Record<string, string>; headers?: Record<string, string>; body?: string } = {}) {
    const u = new URL(url);
    const jar = this.jar(u.origin);
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await request(url, { method: init.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.body.text();
    const raw = res.headers['set-cookie'];
    for (const c of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
      this.setCookies.push(c);
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0\b/i.test(c) || /expires=Thu, 01 Jan 1970/i.test(c) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.location;
    return { status: res.statusCode, text, location: typeof location === 'string' ? new URL(location, url).href : undefined, headers: res.headers };
  }

  /**
   * Follow redirects from `url`, submitting the provider's login form as `login` and its consent form, until
   * a redirect leads to `stopAt` (the control plane's callback): its URL is returned, not followed.
   */
  async throughProvider(url: string, login: string, stopAt: string): Promise<string> {
    let next: { url: string; method: 'GET' | 'POST'; form?: Record<string, string> } = { url, method: 'GET' };
    for (let hop = 0; hop < 20; hop++) {
      if (next.url.startsWith(stopAt)) return next.url;
      const res = await this.fetch(next.url, { method: next.method, ...(next.form ? { form: next.form } : {}) });
      if (res.location) {
        next = { url: res.location, method: 'GET' };
        continue;
      }
      if (res.status !== 200) throw new Error(`provider answered ${res.status} at ${next.url}: ${res.text.slice(0, 300)}`);
      const action = /<form[^>]*action="([^"]+)"/.exec(res.text)?.[1];
      if (!action) throw new Error(`no form at ${next.url}: ${res.text.slice(0, 300)}`);
      const form: Record<string, string> = {};
      for (const m of res.text.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) form[m[1]!] = m[2]!;
      if (form.prompt === 'login') Object.assign(form, { login, password: 'any' });
      next = { url: new URL(action.replaceAll('&amp;', '&'), next.url).href, method: 'POST', form };
    }
    throw new Error('too many redirects');
  }
}
