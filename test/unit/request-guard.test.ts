import { describe, expect, it } from 'vitest';
import { accessRules, hostName, isLoopbackListener, judge, shown, type GuardInput } from '../../src/gateway/request-guard.js';

const loopback = accessRules('127.0.0.1');
const at = (input: Partial<GuardInput>): GuardInput => ({ method: 'GET', host: '127.0.0.1:41002', ...input });
const decide = (input: Partial<GuardInput>, rules = loopback) => judge(rules, at(input));

describe('access rules', () => {
  it('a loopback listener serves listed names only; a wider one any name until names are listed', () => {
    for (const host of ['127.0.0.1', '127.0.0.5', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isLoopbackListener(host), host).toBe(true);
      expect(accessRules(host).hostMode, host).toBe('listed');
    }
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'fe80::1%eth0', '127.evil.example']) expect(isLoopbackListener(host), host).toBe(false);
    expect(accessRules('0.0.0.0').hostMode).toBe('any');
    expect(accessRules('0.0.0.0', { allowedHosts: ['gw.corp.example'] }).hostMode).toBe('listed');
    expect(accessRules('127.0.0.1', { allowedHosts: ['*'] }).hostMode).toBe('any');
  });

  it('parses names, subdomain suffixes and origins, and names the first bad entry', () => {
    const rules = accessRules('127.0.0.1', { allowedHosts: [' GW.corp.example ', '*.team.example', '.lab.example', ''], allowedOrigins: ['HTTPS://App.Example.com:443', 'http://localhost:5173/'] });
    expect([...rules.hostNames]).toEqual(['gw.corp.example']);
    expect(rules.hostSuffixes).toEqual(['.team.example', '.lab.example']);
    expect([...rules.origins]).toEqual(['https://app.example.com', 'http://localhost:5173']);
    for (const bad of ['http://gw.example', 'gw.example:80', 'gw example', '.', '*.', 'a/b']) {
      expect(() => accessRules('127.0.0.1', { allowedHosts: [bad] }), bad).toThrow(/is not a host name/);
    }
    for (const [bad, why] of [
      ['*', 'is not accepted'],
      ['null', 'is not accepted'],
      ['app.example.com', 'is not a URL'],
      ['ftp://app.example.com', 'must be http or https'],
      ['https://app.example.com/console', 'has more than an origin'],
      ['https://user@app.example.com', 'has more than an origin'],
      ['https://app.example.com?x=1', 'has more than an origin'],
    ] as const) {
      expect(() => accessRules('127.0.0.1', { allowedOrigins: [bad] }), bad).toThrow(why);
    }
  });

  it('reads the name of a Host header, or nothing from a malformed one', () => {
    expect(hostName('LocalHost:41002')).toBe('localhost');
    expect(hostName('[::1]:41002')).toBe('[::1]');
    expect(hostName('[::1]')).toBe('[::1]');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
    for (const bad of ['', 'a b', 'x:', 'x:123456', 'x:80:80', '[::1', '[nope]:80', 'evil@localhost', 'a'.repeat(301), 'localhost\r\n']) {
      expect(hostName(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});

describe('Host: DNS rebinding', () => {
  it('a loopback listener answers to localhost names and IP literals, and to nothing a DNS answer could point here', () => {
    for (const host of ['localhost', 'localhost:41002', 'app.localhost:41002', '127.0.0.1:41002', '127.9.9.9', '[::1]:41002', '10.0.0.5:41002']) {
      expect(decide({ host }).kind, host).toBe('pass');
    }
    for (const host of ['attacker.example:41002', 'localhost.attacker.example', '127.0.0.1.nip.io:41002', 'localhost.', '0x7f.1', undefined]) {
      const d = decide({ host });
      expect(d.kind, String(host)).toBe('refuse');
      if (d.kind === 'refuse') expect([d.status, d.reason, d.code]).toEqual([403, 'host', 'host_not_allowed']);
    }
  });

  it('listed names and subdomains are served; the bare parent of a suffix is not', () => {
    const rules = accessRules('0.0.0.0', { allowedHosts: ['gw.corp.example', '.team.example'] });
    for (const host of ['gw.corp.example', 'GW.corp.example:443', 'a.team.example', 'a.b.team.example:8080', 'localhost', '192.168.1.9']) expect(decide({ host }, rules).kind, host).toBe('pass');
    for (const host of ['team.example', 'evilteam.example', 'gw.corp.example.evil.com', 'corp.example']) expect(decide({ host }, rules).kind, host).toBe('refuse');
  });

  it('a network listener without a list serves any name', () => {
    expect(decide({ host: 'whatever.example' }, accessRules('0.0.0.0')).kind).toBe('pass');
  });

  it('the refusal says which flag serves the name, with the name cut to a printable form', () => {
    const d = decide({ host: 'attacker.example:41002' });
    expect(d.kind === 'refuse' && d.message).toContain('--allowed-hosts attacker.example');
    const long = decide({ host: `${'a'.repeat(250)}.example` });
    expect(long.kind === 'refuse' && long.message.length).toBeLessThan(400);
  });
});

describe('Origin and Sec-Fetch-Site: cross-site requests', () => {
  it('refuses the no-cors text/plain POST a page can send without a preflight (the headers Chromium sends)', () => {
    const d = decide({
      method: 'POST',
      origin: 'http://attacker.example:36413',
      secFetchSite: 'cross-site',
      secFetchMode: 'no-cors',
      contentType: 'text/plain',
    });
    expect(d).toMatchObject({ kind: 'refuse', status: 403, reason: 'origin', code: 'origin_not_allowed' });
    expect(d.kind === 'refuse' && d.message).toContain('--allowed-origins http://attacker.example:36413');
  });

  it("serves our own origin (the console's page) under a trusted name, without CORS headers", () => {
    expect(decide({ method: 'POST', origin: 'http://127.0.0.1:41002', secFetchSite: 'same-origin', contentType: 'application/json' })).toEqual({ kind: 'pass' });
    expect(decide({ host: 'localhost:41002', origin: 'http://localhost:41002' })).toEqual({ kind: 'pass' });
    expect(decide({ host: 'localhost:41002', origin: 'http://localhost:41003' }).kind).toBe('refuse');
  });

  it('a rebound name is not our origin, even where the listener serves any name', () => {
    const any = accessRules('0.0.0.0');
    expect(decide({ host: 'attacker.example:41002' }, any).kind).toBe('pass');
    const d = decide({ method: 'POST', host: 'attacker.example:41002', origin: 'http://attacker.example:41002', contentType: 'application/json' }, any);
    expect(d).toMatchObject({ kind: 'refuse', reason: 'origin' });
  });

  it('an allowed origin passes with CORS; null and lookalikes do not', () => {
    const rules = accessRules('127.0.0.1', { allowedOrigins: ['https://app.example.com'] });
    expect(decide({ method: 'POST', origin: 'https://app.example.com', contentType: 'application/json' }, rules)).toEqual({ kind: 'pass', corsOrigin: 'https://app.example.com' });
    for (const origin of ['null', 'https://app.example.com.evil.com', 'http://app.example.com', 'https://APP.example.com', 'https://app.example.com, https://evil.com', '']) {
      expect(decide({ method: 'POST', origin, contentType: 'application/json' }, rules).kind, origin).toBe('refuse');
    }
  });

  it('without Origin, a request a browser marks as from another site is refused, except a top-level navigation', () => {
    expect(decide({ secFetchSite: 'cross-site', secFetchMode: 'no-cors' }).kind).toBe('refuse'); // <img src=…/metrics>
    expect(decide({ secFetchSite: 'same-site', secFetchMode: 'no-cors' }).kind).toBe('refuse');
    expect(decide({ secFetchSite: 'something-new' }).kind).toBe('refuse');
    expect(decide({ secFetchSite: 'cross-site', secFetchMode: 'navigate' }).kind).toBe('pass'); // a link to the console
    expect(decide({ method: 'POST', secFetchSite: 'cross-site', secFetchMode: 'navigate', contentType: 'application/json' }).kind).toBe('refuse');
    expect(decide({ secFetchSite: 'none', secFetchMode: 'navigate' }).kind).toBe('pass'); // typed in the address bar
    expect(decide({ secFetchSite: 'same-origin' }).kind).toBe('pass');
  });

  it('answers a preflight from an allowed origin and refuses one from any other', () => {
    const rules = accessRules('127.0.0.1', { allowedOrigins: ['https://app.example.com'] });
    expect(decide({ method: 'OPTIONS', origin: 'https://app.example.com', preflightMethod: 'POST' }, rules)).toEqual({ kind: 'preflight', corsOrigin: 'https://app.example.com' });
    expect(decide({ method: 'OPTIONS', origin: 'https://evil.example', preflightMethod: 'POST' }, rules).kind).toBe('refuse');
    expect(decide({ method: 'OPTIONS', origin: 'https://app.example.com' }, rules)).toEqual({ kind: 'pass', corsOrigin: 'https://app.example.com' });
  });
});

describe('Content-Type of a POST', () => {
  it('accepts application/json with parameters, in any case; refuses everything else, and a missing one, with 415', () => {
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8', ' application/json ']) {
      expect(decide({ method: 'POST', contentType }).kind, contentType).toBe('pass');
    }
    for (const contentType of [undefined, '', 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/merge-patch+json', 'text/json']) {
      const d = decide({ method: 'POST', contentType });
      expect(d, String(contentType)).toMatchObject({ kind: 'refuse', status: 415, reason: 'content_type', code: 'unsupported_content_type' });
    }
    const d = decide({ method: 'POST', contentType: 'application/x-www-form-urlencoded' });
    expect(d.kind === 'refuse' && d.message).toContain("-H 'content-type: application/json'");
    expect(decide({ method: 'GET' }).kind).toBe('pass');
  });
});

describe('shown', () => {
  it('keeps header values in messages short and printable', () => {
    expect(shown('a"b\'c\\d`e\r\nf g')).toBe('a?b?c?d?e??f?g');
    expect(shown('x'.repeat(500))).toHaveLength(101);
  });
});
