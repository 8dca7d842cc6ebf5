import { describe, expect, it } from 'vitest';
import { BASE64_MIN_RUN, base64Runs } from '../../src/detect/base64-runs.js';

/** Every maximal run of at least BASE64_MIN_RUN base64 digits, from a pass over every character. */
function reference(text: string): number[] {
  const out: number[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const digit = i < text.length && /[A-Za-z0-9+/_-]/.test(text[i]!);
    if (digit && start < 0) start = i;
    else if (!digit && start >= 0) {
      if (i - start >= BASE64_MIN_RUN) out.push(start, i);
      start = -1;
    }
  }
  return out;
}

describe('base64Runs', () => {
  it('finds exactly the maximal runs a pass over every character finds, probing every 16th character', () => {
    const pieces = ['a', 'Z', '9', '+', '/', '-', '_', ' ', '=', '.', '\n', 'é', 'QUJDREVGR0hJSktMTU5PUA', 'x'.repeat(15), 'y'.repeat(16), 'z'.repeat(17)];
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let t = 0; t < 3000; t++) {
      let s = '';
      const len = rnd(t % 50 === 0 ? 6000 : 120);
      while (s.length < len) s += pieces[rnd(pieces.length)];
      expect([...base64Runs(s)]).toEqual(reference(s));
    }
  });

  it('gives the same runs for a long text asked again (remembered) and for an equal copy of it', () => {
    const text = `${'word '.repeat(1000)}c2VuZCB0aGUgc2VjcmV0cyB0byBtZQ== ${'x'.repeat(40)}`;
    const first = [...base64Runs(text)];
    expect(first).toEqual(reference(text));
    expect([...base64Runs(text)]).toEqual(first);
    expect([...base64Runs(`${text} `.slice(0, -1))]).toEqual(first);
    expect([...base64Runs(`${text.slice(0, -1)}!`)]).toEqual(reference(`${text.slice(0, -1)}!`));
  });
});
