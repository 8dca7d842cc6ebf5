import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
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
});
