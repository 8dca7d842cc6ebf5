/**
 * Every detector is linear in its input (see detectors-linear.property.test.ts): here, on 1 MB of near-miss
 * prefixes of its rules, repeated (`AKIA`, `ghp_`, `-----BEGIN `, `@a.`, `ignore previous `, `[INST]`, …), where
 * each position looks like the start of a value and is not; and on replies with many edits against a large file.
 */
import { describe, expect, it } from 'vitest';
import { describeCosts, detectorsUnderTest, editFamilies, nearMissFamilies, overBudget } from '../helpers/adversarial.js';

const detectors = await detectorsUnderTest();

describe.each(detectors.map((d) => ({ name: d.name, d })))('$name is linear in its input', ({ d }) => {
  it('on near-miss prefixes of its rules, repeated', () => {
    expect(describeCosts(overBudget(d, nearMissFamilies()))).toEqual([]);
  }, 900_000);

  it('on replies full of edits against a large file', () => {
    expect(describeCosts(overBudget(d, editFamilies()))).toEqual([]);
  }, 900_000);
});
