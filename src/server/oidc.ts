/**
 * OIDC sign-in for the console on `kt server`: the settings, the claim-to-role mapping, and the authorization
 * code flow (PKCE, state, nonce, discovery, ID-token validation) through openid-client. Routes, cookies and
 * sessions are the control plane's (src/server/app.ts, src/server/sessions.ts); this module never sees a cookie.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type * as OpenId from 'openid-client';
import type { Logger } from '../gateway/logger.js';
import type { ConsoleRole, PendingLogin } from './sessions.js';

/** Who is admin or reader: any match grants the role; admin is checked first. */
export interface RoleRule {
  /** Values of the groups claim (e.g. Keycloak group paths `/kt-admins`, Okta group names). */
  groups: readonly string[];
  /** Verified e-mail addresses in these domains (exact domain, no subdomains). */
  emailDomains: readonly string[];
  /** Verified e-mail addresses. */
  emails: readonly string[];
}

export interface OidcSettings {
  issuer: URL;
  clientId: string;
  /** Never logged, never in an error message. */
  clientSecret: string;
  /** This control plane's /auth/callback as the provider knows it (registered there). */
  redirectUrl: URL;
  scopes: readonly string[];
  groupsClaim: string;
  admin: RoleRule;
  reader: RoleRule;
  sessionTtlMs: number;
}

export const DEFAULT_SCOPES = ['openid', 'email', 'profile'];
export const DEFAULT_SESSION_TTL_MS = 8 * 3_600_000;
export const LOGIN_TTL_MS = 10 * 60_000;
export const CALLBACK_PATH = '/auth/callback';
const DISCOVERY_RETRY_MS = 5_000;

export class OidcConfigError extends Error {
  override name = 'OidcConfigError';
}

/** A sign-in that must not go on: status and a message that is safe to show (no codes, no tokens). */
export class OidcLoginError extends Error {
  override name = 'OidcLoginError';
  constructor(
    readonly status: 400 | 403 | 502 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** What `kt server` reads: flags, with the secret from the environment or a file. */
export interface OidcFlags {
  oidcIssuer?: string;
  oidcClientId?: string;
  oidcClientSecretFile?: string;
  oidcRedirectUrl?: string;
  oidcScopes?: string[];
  oidcGroupsClaim?: string;
  oidcAdminGroups?: string[];
  oidcReaderGroups?: string[];
  oidcAdminDomains?: string[];
  oidcReaderDomains?: string[];
  oidcAdminEmails?: string[];
  oidcReaderEmails?: string[];
  sessionTtl?: number;
}

const isLoopbackHost = (hostname: string): boolean => {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
};

function httpsOrLoopback(text: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new OidcConfigError(`${flag} is not a URL: ${JSON.stringify(text.slice(0, 200))}`);
  }
  if (url.username || url.password) throw new OidcConfigError(`${flag} must not carry credentials`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new OidcConfigError(`${flag} must be an https:// URL (plain http only on localhost, for a provider on this machine)`);
  }
  return url;
}

const lower = (xs: readonly string[] | undefined) => (xs ?? []).map((x) => x.trim().toLowerCase()).filter(Boolean);
const trimmed = (xs: readonly string[] | undefined) => (xs ?? []).map((x) => x.trim()).filter(Boolean);

/**
 * The settings from `kt server`'s flags, or null when OIDC is not configured (the console then signs in with
 * reader tokens only, as before). Throws OidcConfigError on anything incomplete: a half-configured sign-in
 * never starts.
 */
export function oidcSettings(flags: OidcFlags, env: NodeJS.ProcessEnv = process.env): OidcSettings | null {
  const anyOidc = Object.entries(flags).some(([k, v]) => k.startsWith('oidc') && v !== undefined && !(Array.isArray(v) && v.length === 0));
  if (!flags.oidcIssuer) {
    if (anyOidc) throw new OidcConfigError('--oidc-* options need --oidc-issuer (KEEPTRUSTS_OIDC_ISSUER)');
    return null;
  }
  const issuer = httpsOrLoopback(flags.oidcIssuer, '--oidc-issuer');
  const clientId = flags.oidcClientId?.trim();
  if (!clientId) throw new OidcConfigError('--oidc-issuer needs --oidc-client-id (KEEPTRUSTS_OIDC_CLIENT_ID)');
  let clientSecret = env.KEEPTRUSTS_OIDC_CLIENT_SECRET ?? '';
  if (flags.oidcClientSecretFile) {
    if (clientSecret) throw new OidcConfigError('give the client secret once: KEEPTRUSTS_OIDC_CLIENT_SECRET or --oidc-client-secret-file, not both');
    try {
      clientSecret = readFileSync(flags.oidcClientSecretFile, 'utf8').trim();
    } catch (err) {
      throw new OidcConfigError(`cannot read --oidc-client-secret-file ${flags.oidcClientSecretFile}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  if (!clientSecret) throw new OidcConfigError('--oidc-issuer needs the client secret in KEEPTRUSTS_OIDC_CLIENT_SECRET or a file named by --oidc-client-secret-file');
  if (!flags.oidcRedirectUrl) throw new OidcConfigError(`--oidc-issuer needs --oidc-redirect-url: this control plane's ${CALLBACK_PATH} as browsers reach it, registered with the provider`);
  const redirectUrl = httpsOrLoopback(flags.oidcRedirectUrl, '--oidc-redirect-url');
  if (redirectUrl.pathname !== CALLBACK_PATH || redirectUrl.search || redirectUrl.hash) {
    throw new OidcConfigError(`--oidc-redirect-url must end in ${CALLBACK_PATH} with no query, e.g. https://keeptrusts.corp.example${CALLBACK_PATH}`);
  }
  const scopes = flags.oidcScopes?.length ? [...new Set(trimmed(flags.oidcScopes))] : DEFAULT_SCOPES;
  if (!scopes.includes('openid')) throw new OidcConfigError('--oidc-scopes must include openid');
  const admin: RoleRule = { groups: trimmed(flags.oidcAdminGroups), emailDomains: lower(flags.oidcAdminDomains), emails: lower(flags.oidcAdminEmails) };
  const reader: RoleRule = { groups: trimmed(flags.oidcReaderGroups), emailDomains: lower(flags.oidcReaderDomains), emails: lower(flags.oidcReaderEmails) };
  const empty = (r: RoleRule) => r.groups.length + r.emailDomains.length + r.emails.length === 0;
  if (empty(admin) && empty(reader)) {
    throw new OidcConfigError('nobody could sign in: give --oidc-admin-groups/--oidc-admin-domains/--oidc-admin-emails or the --oidc-reader-* equivalents');
  }
  for (const d of [...admin.emailDomains, ...reader.emailDomains]) {
    if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(d)) throw new OidcConfigError(`e-mail domain ${JSON.stringify(d.slice(0, 100))} is not a domain name (give corp.example, without @)`);
  }
  const sessionTtlMs = flags.sessionTtl ?? DEFAULT_SESSION_TTL_MS;
  if (sessionTtlMs < 60_000 || sessionTtlMs > 30 * 86_400_000) throw new OidcConfigError('--session-ttl must be from 1m to 30d');
  return { issuer, clientId, clientSecret, redirectUrl, scopes, groupsClaim: flags.oidcGroupsClaim?.trim() || 'groups', admin, reader, sessionTtlMs };
}

// ---- roles ------------------------------------------------------------------------------------------------------

export type Claims = Record<string, unknown>;

function groupsOf(claims: Claims, claim: string): string[] {
  const v = claims[claim];
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((g): g is string => typeof g === 'string') : [];
}

/** The verified e-mail, lowercase, or null: an unverified address grants nothing (anyone can type one). */
export function verifiedEmail(claims: Claims): string | null {
  const email = claims.email;
  if (typeof email !== 'string' || claims.email_verified !== true) return null;
  const e = email.trim().toLowerCase();
  return /^[^@\s]+@[^@\s]+$/.test(e) ? e : null;
}

function matches(rule: RoleRule, groups: readonly string[], email: string | null): boolean {
  if (groups.some((g) => rule.groups.includes(g))) return true;
  if (email === null) return false;
  if (rule.emails.includes(email)) return true;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  return rule.emailDomains.includes(domain);
}

/** admin, reader, or null (no role: the sign-in is refused). */
export function roleFor(claims: Claims, settings: Pick<OidcSettings, 'groupsClaim' | 'admin' | 'reader'>): ConsoleRole | null {
  const groups = groupsOf(claims, settings.groupsClaim);
  const email = verifiedEmail(claims);
  if (matches(settings.admin, groups, email)) return 'admin';
  if (matches(settings.reader, groups, email)) return 'reader';
  return null;
}

/** Whether the claims a role needs could be in userinfo rather than the ID token. */
function needsUserinfo(claims: Claims, settings: OidcSettings): boolean {
  const wantsGroups = settings.admin.groups.length + settings.reader.groups.length > 0;
  const wantsEmail = settings.admin.emails.length + settings.admin.emailDomains.length + settings.reader.emails.length + settings.reader.emailDomains.length > 0;
  return (wantsGroups && claims[settings.groupsClaim] === undefined) || (wantsEmail && claims.email === undefined);
}

/**
 * What went wrong, without values: the provider's own refusal (access_denied …), or which check failed (state,
 * nonce, audience, signature …). oauth4webapi's messages are generic; its causes name the parameter or claim.
 */
export function loginFailure(err: unknown): string {
  // openid-client wraps oauth4webapi's error, whose message names the parameter or claim (never its value).
  let e = err as (Error & { error?: unknown; cause?: unknown }) | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.error === 'string') return `the provider answered ${e.error.slice(0, 100)}`;
    if (!(e.cause instanceof Error)) break;
    e = e.cause as Error & { error?: unknown; cause?: unknown };
  }
  return (e?.message || 'invalid response').slice(0, 200);
}

// Loaded at the first sign-in: a gateway, or a control plane without OIDC, never loads the protocol library.
let loaded: Promise<typeof OpenId> | undefined;
const openid = (): Promise<typeof OpenId> => (loaded ??= import('openid-client'));

// ---- the flow ---------------------------------------------------------------------------------------------------

export interface SignedIn {
  subject: string;
  email: string | null;
  name: string | null;
  role: ConsoleRole;
}

/** Keeps the provider's discovered configuration; discovery runs at the first sign-in and again after a failure. */
export class OidcClient {
  private config: Promise<OpenId.Configuration> | undefined;
  /** When discovery last failed: sign-in attempts within DISCOVERY_RETRY_MS of it do not reach the provider again. */
  private failedAt = -Infinity;

  constructor(
    readonly settings: OidcSettings,
    private readonly logger: Logger,
  ) {}

  private configuration(): Promise<OpenId.Configuration> {
    // /auth/login is public: a flood of it while the provider is down must not become a flood of discovery requests.
    if (!this.config && Date.now() - this.failedAt < DISCOVERY_RETRY_MS) return Promise.reject(this.unreachable());
    if (!this.config) {
      const insecure = this.settings.issuer.protocol === 'http:';
      this.config = openid()
        .then((client) => client.discovery(this.settings.issuer, this.settings.clientId, undefined, client.ClientSecretPost(this.settings.clientSecret), insecure ? { execute: [client.allowInsecureRequests] } : {}))
        .catch((err: unknown) => {
          this.config = undefined;
          this.failedAt = Date.now();
          this.logger.warn({ issuer: this.settings.issuer.href, err: loginFailure(err) }, 'OIDC discovery failed');
          throw this.unreachable();
        });
    }
    return this.config;
  }

  private unreachable(): OidcLoginError {
    return new OidcLoginError(503, `the sign-in provider at ${this.settings.issuer.href} cannot be reached or did not answer discovery; try again later`);
  }

  /** Where to send the browser, and what to keep until it comes back. */
  async begin(returnTo: string): Promise<{ url: URL; pending: Omit<PendingLogin, 'expires_at'> }> {
    const config = await this.configuration();
    const client = await openid();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl.href,
      scope: this.settings.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, pending: { state, nonce, code_verifier: codeVerifier, return_to: returnTo } };
  }

  /** The provider's answer (the callback's query) checked against the login it belongs to. */
  async finish(query: URLSearchParams, pending: PendingLogin): Promise<SignedIn> {
    const config = await this.configuration();
    const client = await openid();
    const current = new URL(this.settings.redirectUrl.href);
    current.search = query.toString();
    let tokens: Awaited<ReturnType<typeof OpenId.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.code_verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      const why = loginFailure(err);
      const e = err as { code?: string };
      this.logger.warn({ err: why, code: e.code }, 'OIDC sign-in refused');
      throw new OidcLoginError(400, `sign-in failed: ${why}`);
    }
    let claims: Claims = { ...(tokens.claims() ?? {}) };
    const subject = claims.sub;
    if (typeof subject !== 'string' || subject === '') throw new OidcLoginError(400, 'sign-in failed: the ID token has no subject');
    if (needsUserinfo(claims, this.settings) && config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await client.fetchUserInfo(config, tokens.access_token, subject);
        // The ID token's claims win: they are signed, the userinfo answer only rides TLS.
        claims = { ...info, ...claims };
      } catch (err) {
        this.logger.warn({ err: (err as Error).message.slice(0, 200) }, 'OIDC userinfo request failed');
        throw new OidcLoginError(502, 'sign-in failed: the provider did not answer the userinfo request');
      }
    }
    const email = typeof claims.email === 'string' ? claims.email.slice(0, 320) : null;
    const role = roleFor(claims, this.settings);
    if (!role) {
      this.logger.warn({ subject: subject.slice(0, 200), email }, 'OIDC sign-in refused: no role for this account');
      throw new OidcLoginError(403, `signed in as ${email ?? subject}, but this account has no role on this control plane: ask an administrator to add it to an admin or reader group`);
    }
    const name = typeof claims.name === 'string' ? claims.name.slice(0, 200) : null;
    return { subject: subject.slice(0, 255), email, name, role };
  }
}
