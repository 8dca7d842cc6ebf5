import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { canonicalJson, canonicalJsonReference } from '../../src/audit/canonical.js';
import { linkEvents, linkHash, GENESIS_HASH } from '../../src/audit/chain.js';
import { makeEvent } from '../helpers/events.js';

/** Shuffle an object's keys at every level: canonical JSON must not notice. */
function reorder(value: unknown, rnd: () => number): unknown {
  if (Array.isArray(value)) return value.map((v) => reorder(v, rnd));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(() => rnd() - 0.5);
    return Object.fromEntries(entries.map(([k, v]) => [k, reorder(v, rnd)]));
  }
  return value;
}

describe('canonical JSON', () => {
  it('is valid JSON equal to the value, independent of key order, and a fixed point', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        let s = seed;
        const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(reorder(value, rnd))).toBe(text);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('the fast path writes exactly what the reference definition writes', () => {
    // Keys that V8 enumerates specially (array indices, "__proto__") and values the native serializer treats
    // its own way (undefined members, holes, toJSON, class instances) are all in the mix.
    const key = fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('0', '1', '9', '10', '4294967294', '4294967295', '01', '-1', '__proto__', 'toJSON', 'é', 'Z', 'a'));
    const leaf = fc.oneof(fc.string({ maxLength: 6 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('dict')),
      array: fc.array(tie('tree'), { maxLength: 5 }),
      object: fc.dictionary(key, tie('tree'), { maxKeys: 6 }),
      // Built by assignment in a random order, so own keys are not sorted and "__proto__" is an ordinary key.
      dict: fc.array(fc.tuple(key, tie('tree')), { maxLength: 6 }).map((entries) => {
        const o = Object.create(null) as Record<string, unknown>;
        for (const [k, v] of entries) o[k] = v;
        return o;
      }),
    }));
    fc.assert(
      fc.property(tree, (value) => {
        fc.pre(value !== undefined);
        expect(canonicalJson(value)).toBe(canonicalJsonReference(value));
      }),
      { numRuns: 2000 },
    );
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    for (const odd of [{ d: new Date(0), b: Buffer.from('hi') }, { n: Object(5) as number, s: Object('x') as string }, sparse, { z: [undefined, { y: 1, x: 2 }] }]) {
      expect(canonicalJson(odd)).toBe(canonicalJsonReference(odd));
    }
    expect(() => canonicalJson({ a: NaN })).toThrow(/NaN/);
    expect(() => canonicalJson({ b: 1, a: () => 1 })).toThrow(/function/);
    expect(() => canonicalJson({ toJSON: () => 1, a: 2 })).toThrow(/function/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
  });

  it('sorts keys by code unit and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [1, undefined, 'x'], B: { z: null, y: undefined }, é: true })).toBe('{"B":{"z":null},"a":[1,null,"x"],"b":1,"é":true}');
  });
});

describe('chain links', () => {
  it('each link hashes the chain, place, previous hash and body; any change of one breaks it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.string({ minLength: 1, maxLength: 12 }), (n, chain) => {
        const events = Array.from({ length: n }, (_, i) => makeEvent({ request_id: `r${i}` }));
        const linked = linkEvents(chain, null, events);
        let prev = GENESIS_HASH;
        linked.forEach((l, i) => {
          expect(l.seq).toBe(i + 1);
          expect(l.prev_hash).toBe(prev);
          expect(linkHash(chain, l.seq, prev, l.body)).toBe(l.hash);
          expect(linkHash(chain, l.seq + 1, prev, l.body)).not.toBe(l.hash);
          expect(linkHash(`${chain}x`, l.seq, prev, l.body)).not.toBe(l.hash);
          expect(linkHash(chain, l.seq, prev, l.body.replace('"r', '"R'))).not.toBe(l.hash);
          prev = l.hash;
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe('link hash', () => {
  it('is SHA-256 over the UTF-8 of the link header and the body (a fixed vector)', () => {
    const body = '{"a":"é ✓ 𝄞"}';
    const expected = createHash('sha256').update(`keeptrusts-event/v1\ngw\n7\n${GENESIS_HASH}\n`).update(body).digest('hex');
    expect(linkHash('gw', 7, GENESIS_HASH, body)).toBe(expected);
  });
});

describe('event timestamps', () => {
  it('are RFC 3339 UTC with microseconds, the same as formatting a Date each time', async () => {
    const { timestampMicros } = await import('../../src/audit/event.js');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253_402_300_799_999 }), fc.integer({ min: 0, max: 999 }), (ms, micros) => {
        expect(timestampMicros(ms, micros)).toBe(`${new Date(ms).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`);
      }),
      { numRuns: 2000 },
    );
    // Consecutive calls within and across seconds (the cached part must follow).
    for (const ms of [1_764_000_000_999, 1_764_000_001_000, 1_764_000_000_500, 1_764_000_001_001]) {
      expect(timestampMicros(ms, 7)).toBe(`${new Date(ms).toISOString().slice(0, 23)}007Z`);
    }
  });
});

describe('event ids', () => {
  it('are evt_ + 26 Crockford base32 characters, sort by time, and do not repeat', async () => {
    const { newEventId } = await import('../../src/audit/event.js');
    const ids = Array.from({ length: 5000 }, (_, i) => newEventId(1_700_000_000_000 + Math.floor(i / 10)));
    for (const id of ids) expect(id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(new Set(ids).size).toBe(ids.length);
    const times = ids.map((id) => id.slice(4, 14));
    expect([...times].sort()).toEqual(times);
    expect([...ids].sort()).toEqual(ids);
    expect(newEventId(0).slice(4, 14)).toBe('0000000000');
  });

  it('count up by one within a millisecond, carrying, and start afresh in the next', async () => {
    const { newEventId } = await import('../../src/audit/event.js');
    const value = (id: string) => [...id.slice(14)].reduce((n, c) => n * 32n + BigInt('0123456789ABCDEFGHJKMNPQRSTVWXYZ'.indexOf(c)), 0n);
    for (let ms = 1_764_000_000_000; ms < 1_764_000_000_200; ms++) {
      const ids = Array.from({ length: 40 }, () => newEventId(ms));
      for (const id of ids) expect(id.slice(0, 14)).toBe(ids[0]!.slice(0, 14));
      for (let i = 1; i < ids.length; i++) expect(value(ids[i]!)).toBe((value(ids[i - 1]!) + 1n) % 2n ** 80n);
    }
  });
});
