/**
 * Every detector is linear in its input. One request may carry up to --max-body-bytes (32 MiB) of text, and a
 * detector that rescans windows, restarts a decoder at every offset or backtracks through a run stalls the event
 * loop for minutes (a 1 MB run of `%41` took 17 s of CPU in the injection decoder). Each detector the policy
 * registry builds (defaults, every example config, and settings that switch optional paths on) reads 1 MB of
 * each worst-case family: its CPU time must stay within a generous budget per MB and grow no faster than
 * linearly from 256 KB, so that quadratic growth fails even on a machine fast enough to meet the budget.
 * The near-miss and edit families run in detectors-linear-near-miss.property.test.ts (a second file, so both
 * cores work).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { characterClassFamilies, describeCosts, detectorsUnderTest, type Family, overBudget, prefixRunFamilies, repeatTo, ruleKeywords } from '../helpers/adversarial.js';

const detectors = await detectorsUnderTest();

describe.each(detectors.map((d) => ({ name: d.name, d })))('$name is linear in its input', ({ d }) => {
  it('on runs of every character class and alternations of two', () => {
    expect(describeCosts(overBudget(d, characterClassFamilies()))).toEqual([]);
  }, 600_000);

  it('on one prefix that starts a match, then a long run (two quantifiers must not share the run)', () => {
    expect(describeCosts(overBudget(d, prefixRunFamilies()))).toEqual([]);
  }, 600_000);

  it('on repetitions of short strings built from the rules’ own keywords', () => {
    const keywords = ruleKeywords();
    const separator = fc.constantFrom('', ' ', '=', ':', '_', '-', '.', '/', '"', "'", '\n', '@', '%', '\\', '|', '[', '(', '<');
    const unit = fc
      .array(fc.tuple(fc.constantFrom(...keywords), separator, fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 4 })
      .map((parts) => parts.map(([k, s, x]) => k + s + x).join(''));
    fc.assert(
      fc.property(unit, (u) => {
        const family: Family = { name: `generated ${JSON.stringify(u)}`, make: (size) => repeatTo(u, size) };
        expect(describeCosts(overBudget(d, [family]))).toEqual([]);
      }),
      { numRuns: 8 },
    );
  }, 600_000);
});
