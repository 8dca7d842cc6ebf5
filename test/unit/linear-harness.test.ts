/**
 * The linearity harness the detector tests rely on tells quadratic growth from a one-off step. CI failed once on a
 * linear detector whose cost stepped up between 512 KB and 1 MB (the input leaving the cache) and then grew 2× per
 * doubling; the harness must pass that and still fail a detector whose cost keeps growing with the square.
 */
import { describe, expect, it } from 'vitest';
import { type Family, overBudget, repeatTo } from '../helpers/adversarial.js';

const MB = 1 << 20;
const family: Family = { name: 'letters', make: (size) => repeatTo('abcdefgh', size) };

function readAll(text: string, times: number): number {
  let sum = 0;
  for (let k = 0; k < times; k++) for (let i = 0; i < text.length; i++) sum = (sum + text.charCodeAt(i)) | 0;
  return sum;
}

function busyMs(ms: number): void {
  const end = process.cpuUsage().user + ms * 1000;
  while (process.cpuUsage().user < end);
}

describe('the linearity harness', () => {
  it('fails a detector whose cost grows with the square of its input', () => {
    // Work ∝ (n / 64)²: 256 KB ≈ 16 M steps, 1 MB ≈ 268 M, 2 MB ≈ 1 G.
    const quadratic = { name: 'quadratic', scan: (t: string) => readAll(t.slice(0, 64), (t.length / 64) ** 2 / 64) };
    expect(overBudget(quadratic, [family]).map((c) => c.family)).toEqual(['letters']);
  }, 120_000);

  it('passes a linear detector whose cost steps up once between 256 KB and 1 MB', () => {
    const stepped = {
      name: 'stepped',
      scan: (t: string) => {
        if (t.length >= MB) busyMs(150);
        return readAll(t, 1);
      },
    };
    expect(overBudget(stepped, [family])).toEqual([]);
  }, 120_000);
});
