/**
 * The request guard's decision over arbitrary headers: it never throws, never lets a name a DNS answer could
 * point here through a listed-mode listener, never lets a foreign origin through, and lets only JSON POSTs in.
 * The oracle below is written apart from the guard (a regular expression per rule), so one mistake cannot
 * hide in both.
 */
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accessRules, judge, type AccessRules, type GuardInput } from '../../src/gateway/request-guard.js';

const ALLOWED_HOST_ENTRIES = ['gw.corp.example', '.team.example', '*.lab.example', '*'];
const ALLOWED_ORIGINS = ['https://app.example.com', 'http://localhost:5173'];
const NAMES = [
  'localhost', 'app.localhost', 'localhost.evil.example', 'evil.example', 'attacker.example', '127.0.0.1', '127.0.0.1.nip.io',
  '10.0.0.5', '[::1]', '[::ffff:7f00:1]', 'gw.corp.example', 'gw.corp.example.evil.example', 'team.example', 'a.team.example',
  'evilteam.example', 'x.lab.example', '0x7f.1', 'localhost.', 'GW.Corp.Example', 'LOCALHOST',
];

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 2000 }));
const port = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 70000 }).map((p) => `:${p}`), fc.constantFrom(':', ':x', ':41002:1'));
const host = fc.oneof(
  fc.tuple(fc.constantFrom(...NAMES), port).map(([n, p]) => n + p),
  text,
  fc.constant(undefined),
);
const origin = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(...ALLOWED_ORIGINS, 'null', 'https://evil.example', 'http://attacker.example:41002', 'https://app.example.com.evil.example', 'http://127.0.0.1:41002', 'http://localhost:41002', 'HTTPS://APP.EXAMPLE.COM'),
  fc.tuple(fc.constantFrom('http://', 'https://'), fc.constantFrom(...NAMES), port).map(([s, n, p]) => s + n + p),
  text,
);
const contentType = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json, text/plain'),
  text,
);
const input: fc.Arbitrary<GuardInput> = fc.record({
  method: fc.constantFrom('GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'post'),
  host,
  origin,
  secFetchSite: fc.oneof(fc.constant(undefined), fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none'), text),
  secFetchMode: fc.oneof(fc.constant(undefined), fc.constantFrom('navigate', 'cors', 'no-cors'), text),
  contentType,
  preflightMethod: fc.oneof(fc.constant(undefined), fc.constantFrom('POST', 'GET')),
});
const rules: fc.Arbitrary<{ listen: string; rules: AccessRules }> = fc
  .record({
    listen: fc.constantFrom('127.0.0.1', '::1', 'localhost', '0.0.0.0', '10.0.0.5'),
    hosts: fc.subarray(ALLOWED_HOST_ENTRIES),
    origins: fc.subarray(ALLOWED_ORIGINS),
  })
  .map(({ listen, hosts, origins }) => ({ listen, rules: accessRules(listen, { allowedHosts: hosts, allowedOrigins: origins }) }));

/** The oracle's own reading of a Host header: the name, when the header is `name[:port]`. */
function oracleName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::[0-9]{1,5})?$/.exec(header);
  return m ? m[1]!.toLowerCase() : undefined;
}

function oracleTrusted(r: AccessRules, header: string | undefined): boolean {
  const name = oracleName(header);
  if (name === undefined) return false;
  if (name === 'localhost' || /\.localhost$/.test(name)) return true;
  if (name.startsWith('[') ? isIP(name.slice(1, -1)) === 6 : isIP(name) === 4) return true;
  return r.hostNames.has(name) || r.hostSuffixes.some((s) => name.length > s.length && name.endsWith(s));
}

describe('request guard decision (property)', () => {
  it('never throws, and whatever it lets through satisfies every rule', () => {
    fc.assert(
      fc.property(rules, input, ({ rules: r }, req) => {
        const d = judge(r, req);
        if (d.kind === 'refuse') {
          expect(d.message.length).toBeLessThan(600);
          expect(d.message).not.toMatch(/[\r\n]/);
          return;
        }
        // Host: a listed-mode listener serves only names the oracle trusts.
        if (r.hostMode === 'listed') expect(oracleTrusted(r, req.host)).toBe(true);
        // Origin: allowed, or our own page under a name only we answer to.
        if (req.origin !== undefined) {
          const own = oracleTrusted(r, req.host) && [`http://${req.host!.toLowerCase()}`, `https://${req.host!.toLowerCase()}`].includes(req.origin);
          expect(r.origins.has(req.origin) || own).toBe(true);
          if (d.corsOrigin !== undefined) expect(r.origins.has(d.corsOrigin)).toBe(true);
        } else {
          expect(d.kind === 'pass' && d.corsOrigin).toBeFalsy();
          // No Origin: only a browser's own navigation may come from another site.
          if (req.secFetchSite !== undefined && req.secFetchSite !== 'same-origin' && req.secFetchSite !== 'none') {
            expect(['GET', 'HEAD']).toContain(req.method);
            expect(req.secFetchMode).toBe('navigate');
          }
        }
        if (d.kind === 'preflight') expect([req.method, typeof req.preflightMethod]).toEqual(['OPTIONS', 'string']);
        // A POST that gets through is JSON.
        if (req.method === 'POST' && d.kind === 'pass') expect(req.contentType?.split(';')[0]!.trim().toLowerCase()).toBe('application/json');
      }),
      { numRuns: 20_000 },
    );
  });

  it('a name outside the lists never passes a listed-mode listener, whatever else the request carries', () => {
    const attackerNames = fc.constantFrom('evil.example', 'attacker.example', 'localhost.evil.example', '127.0.0.1.nip.io', 'gw.corp.example.evil.example', 'evilteam.example', 'team.example');
    fc.assert(
      fc.property(rules, input, attackerNames, port, ({ rules: r }, req, name, p) => {
        if (r.hostMode !== 'listed') return;
        expect(judge(r, { ...req, host: name + p })).toMatchObject({ kind: 'refuse', reason: 'host' });
      }),
      { numRuns: 5_000 },
    );
  });

  it('an origin that is not allowed and not our own is refused, whatever else the request carries', () => {
    const foreign = fc.constantFrom('null', 'https://evil.example', 'http://attacker.example:41002', 'https://app.example.com.evil.example', 'http://app.example.com', 'https://app.example.com:8443');
    fc.assert(
      fc.property(rules, input, foreign, ({ rules: r }, req, o) => {
        const d = judge(r, { ...req, origin: o });
        expect(d.kind).toBe('refuse');
      }),
      { numRuns: 5_000 },
    );
  });
});
