import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cookieNames, parseCookies, serializeCookie } from '../../src/server/cookies.js';
import { oidcSettings, roleFor, type OidcFlags } from '../../src/server/oidc.js';

const ENV = { KEEPTRUSTS_OIDC_CLIENT_SECRET: 's3cret-value' };
const base: OidcFlags = {
  oidcIssuer: 'https://idp.example/realms/corp',
  oidcClientId: 'keeptrusts',
  oidcRedirectUrl: 'https://kt.corp.example/auth/callback',
  oidcAdminGroups: ['kt-admins'],
};

describe('oidcSettings', () => {
  it('is off without an issuer, and refuses other --oidc-* flags alone', () => {
    expect(oidcSettings({}, {})).toBeNull();
    expect(oidcSettings({ oidcAdminGroups: [] }, {})).toBeNull();
    expect(() => oidcSettings({ oidcClientId: 'x' }, {})).toThrow(/need --oidc-issuer/);
  });

  it('reads a complete configuration with defaults', () => {
    const s = oidcSettings(base, ENV)!;
    expect(s.scopes).toEqual(['openid', 'email', 'profile']);
    expect(s.groupsClaim).toBe('groups');
    expect(s.sessionTtlMs).toBe(8 * 3_600_000);
    expect(s.clientSecret).toBe('s3cret-value');
  });

  it('reads the secret from a file, and refuses both sources or neither', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-oidc-secret-'));
    try {
      writeFileSync(join(dir, 'secret'), 'from-file\n');
      expect(oidcSettings({ ...base, oidcClientSecretFile: join(dir, 'secret') }, {})!.clientSecret).toBe('from-file');
      expect(() => oidcSettings({ ...base, oidcClientSecretFile: join(dir, 'secret') }, ENV)).toThrow(/not both/);
      expect(() => oidcSettings(base, {})).toThrow(/client secret/);
      // A missing file is named, its error code given, and no content is ever echoed.
      expect(() => oidcSettings({ ...base, oidcClientSecretFile: join(dir, 'nope') }, {})).toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each<[string, OidcFlags, RegExp]>([
    ['plain http issuer beyond loopback', { ...base, oidcIssuer: 'http://idp.example' }, /https/],
    ['redirect to another path', { ...base, oidcRedirectUrl: 'https://kt.corp.example/callback' }, /\/auth\/callback/],
    ['plain http redirect beyond loopback', { ...base, oidcRedirectUrl: 'http://kt.corp.example/auth/callback' }, /https/],
    ['scopes without openid', { ...base, oidcScopes: ['email'] }, /openid/],
    ['no role rule', { ...base, oidcAdminGroups: [] }, /nobody could sign in/],
    ['a domain with @', { ...base, oidcReaderDomains: ['@corp.example'] }, /not a domain/],
    ['a session of a few seconds', { ...base, sessionTtl: 5_000 }, /session-ttl/],
    ['no client id', { ...base, oidcClientId: '' }, /client-id/],
  ])('refuses %s', (_what, flags, message) => {
    expect(() => oidcSettings(flags, ENV)).toThrow(message);
  });

  it('never puts the secret in an error message', () => {
    for (const flags of [{ ...base, oidcIssuer: 'nonsense' }, { ...base, oidcRedirectUrl: 'x' }, { ...base, oidcAdminGroups: [] }]) {
      try {
        oidcSettings(flags, ENV);
      } catch (err) {
        expect((err as Error).message).not.toContain('s3cret-value');
      }
    }
  });
});

describe('roleFor', () => {
  const rules = {
    groupsClaim: 'groups',
    admin: { groups: ['kt-admins'], emailDomains: [], emails: ['boss@corp.example'] },
    reader: { groups: ['staff'], emailDomains: ['corp.example'], emails: [] },
  };

  it('maps groups, verified addresses and domains; admin first', () => {
    expect(roleFor({ groups: ['staff', 'kt-admins'] }, rules)).toBe('admin');
    expect(roleFor({ groups: 'staff' }, rules)).toBe('reader');
    expect(roleFor({ email: 'Boss@Corp.Example', email_verified: true }, rules)).toBe('admin');
    expect(roleFor({ email: 'someone@corp.example', email_verified: true }, rules)).toBe('reader');
    expect(roleFor({ email: 'someone@sub.corp.example', email_verified: true }, rules)).toBeNull();
    expect(roleFor({ email: 'someone@corp.example.evil', email_verified: true }, rules)).toBeNull();
    expect(roleFor({ email: 'someone@corp.example', email_verified: 'true' }, rules)).toBeNull();
    expect(roleFor({ groups: ['KT-ADMINS'] }, rules)).toBeNull();
  });

  it('grants nothing through an unverified address, whatever the other claims (property)', () => {
    fc.assert(
      fc.property(fc.emailAddress(), fc.constantFrom(false, undefined, 'true', 1), fc.array(fc.string(), { maxLength: 4 }), (email, verified, groups) => {
        const role = roleFor({ email, email_verified: verified, groups }, rules);
        const byGroup = groups.includes('kt-admins') ? 'admin' : groups.includes('staff') ? 'reader' : null;
        expect(role).toBe(byGroup);
      }),
    );
  });

  it('admin is never granted without an admin rule matching (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('email', 'email_verified', 'groups', 'sub', 'name'), fc.oneof(fc.string(), fc.boolean(), fc.array(fc.string()))), (claims) => {
        const role = roleFor(claims, rules);
        if (role === 'admin') {
          const groups = Array.isArray(claims.groups) ? claims.groups : [claims.groups];
          const byEmail = claims.email_verified === true && typeof claims.email === 'string' && claims.email.trim().toLowerCase() === 'boss@corp.example';
          expect(groups.includes('kt-admins') || byEmail).toBe(true);
        }
      }),
    );
  });
});

describe('cookies', () => {
  it('round-trips base64url values and keeps the first of a repeated name (property)', () => {
    fc.assert(
      fc.property(fc.base64String().map((s) => s.replace(/[+/=]/g, '')), fc.base64String().map((s) => s.replace(/[+/=]/g, '')), (a, b) => {
        const set = serializeCookie('kt_session', a, { maxAge: 60, secure: false }).split(';')[0]!;
        const got = parseCookies(`${set}; other=1; kt_session=${b}`);
        expect(got.get('kt_session')).toBe(a);
      }),
    );
  });

  it('sets HttpOnly, SameSite=Lax, Path=/ and, over HTTPS, Secure with the __Host- prefix', () => {
    const names = cookieNames(true);
    expect(names.session).toBe('__Host-kt_session');
    const c = serializeCookie(names.session, 'abc', { maxAge: 3600, secure: true });
    expect(c).toBe('__Host-kt_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure');
    expect(() => serializeCookie('x', 'a;b', { maxAge: 1, secure: false })).toThrow();
  });
});
