/**
 * The linear rewrites answer exactly what the simple (quadratic) versions answered: each is checked against a
 * straightforward reference on random inputs small enough for the reference to be fast.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyReplacement } from '../../src/detect/code-edits/index.js';
import { lastPathToken } from '../../src/detect/code-edits/context.js';
import { lineEndWithin, lineStartWithin } from '../../src/detect/lines.js';
import { keepPreferred } from '../../src/detect/overlap.js';
import { keyWords } from '../../src/detect/secrets/generic.js';

describe('keepPreferred', () => {
  /** The previous implementation: insert each kept span into a start-sorted array. */
  function reference<T extends { start: number; end: number }>(ranked: readonly T[]): T[] {
    const kept: T[] = [];
    for (const c of ranked) {
      let lo = 0;
      let hi = kept.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (kept[mid]!.end <= c.start) lo = mid + 1;
        else hi = mid;
      }
      const next = kept[lo];
      if (next && next.start < c.end) continue;
      kept.splice(lo, 0, c);
    }
    return kept;
  }

  it('keeps the same spans as inserting into a sorted array', () => {
    const span = fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 30 })).map(([start, len]) => ({ start, end: start + len }));
    fc.assert(
      fc.property(fc.array(span, { maxLength: 80 }), (ranked) => {
        expect(keepPreferred(ranked)).toEqual(reference(ranked));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('lastPathToken', () => {
  const PATH_TOKEN = /[\w@~+.\/\\-]*[\w-]\.[A-Za-z][\w]{0,9}\b/g;
  it('is the last match of the path-token expression', () => {
    const line = fc.array(fc.constantFrom('a', 'Z', '0', '_', '-', '.', '/', '\\', '@', '~', '+', ' ', ':', '(', 'é', 'ts', 'abcdefghijk'), { maxLength: 60 }).map((p) => p.join(''));
    fc.assert(
      fc.property(line, (l) => {
        const toks = l.match(PATH_TOKEN);
        expect(lastPathToken(l)).toBe(toks && toks.length > 0 ? toks[toks.length - 1] : undefined);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('applyReplacement', () => {
  /** The previous line search: compare the window at every start. */
  function reference(content: string, search: string, replace: string): string | undefined {
    const norm = (l: string) => l.trim().replace(/\s+/g, ' ');
    if (search === '' || content.includes(search)) return applyReplacement(content, search, replace);
    const lines = content.split(/\r?\n/);
    const want = search.split(/\r?\n/).map(norm);
    while (want.length > 0 && want[0] === '') want.shift();
    while (want.length > 0 && want[want.length - 1] === '') want.pop();
    if (want.length === 0) return undefined;
    const n = lines.map(norm);
    outer: for (let i = 0; i + want.length <= n.length; i++) {
      for (let k = 0; k < want.length; k++) if (n[i + k] !== want[k]) continue outer;
      return [...lines.slice(0, i), ...replace.split(/\r?\n/), ...lines.slice(i + want.length)].join('\n');
    }
    return undefined;
  }

  it('finds the same lines as comparing every window', () => {
    const lines = fc.array(fc.constantFrom('a', ' a', 'a ', 'b', '', 'a b', 'a  b'), { maxLength: 30 }).map((l) => l.join('\n'));
    fc.assert(
      fc.property(lines, lines, (content, search) => {
        expect(applyReplacement(content, search, 'R')).toBe(reference(content, search, 'R'));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('line bounds within a window', () => {
  it('equal the unbounded line search, capped at the window', () => {
    const text = fc.array(fc.constantFrom('a', '\n', 'b'), { maxLength: 40 }).map((p) => p.join(''));
    fc.assert(
      fc.property(text, fc.nat(40), fc.integer({ min: 1, max: 12 }), (t, p, limit) => {
        const pos = Math.min(p, t.length);
        const lineStart = pos === 0 ? 0 : t.lastIndexOf('\n', pos - 1) + 1;
        expect(lineStartWithin(t, pos, limit)).toBe(Math.max(lineStart, pos - limit));
        const nl = t.indexOf('\n', pos);
        expect(lineEndWithin(t, pos, limit)).toBe(Math.min(nl === -1 ? t.length : nl, pos + limit, t.length));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('keyWords', () => {
  it('splits an acronym before a word as the backtracking expression did', () => {
    const reference = (key: string) =>
      key
        .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
        .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
        .toLowerCase()
        .split(/[^a-z0-9]+/)
        .filter((w) => w.length > 0);
    const key = fc.array(fc.constantFrom('A', 'B', 'a', 'b', '0', '_', '-', '.'), { maxLength: 24 }).map((p) => p.join(''));
    fc.assert(
      fc.property(key, (k) => {
        expect(keyWords(k)).toEqual(reference(k));
      }),
      { numRuns: 5000 },
    );
  });
});
