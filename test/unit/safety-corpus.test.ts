import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSafetyScanner, SAFETY_CATEGORIES, type SafetyMode } from '../../src/detect/safety.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Case {
  id: string;
  label: 'unsafe' | 'safe';
  mode?: SafetyMode;
  category?: string;
  text: string;
}

const cases: Case[] = readFileSync(join(here, '..', 'corpus', 'safety', 'cases.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim().length > 0)
  .map((l) => JSON.parse(l) as Case);
const MODES = Object.keys(SAFETY_CATEGORIES) as SafetyMode[];
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

describe('safety scanner on the synthetic corpus', () => {
  const unsafe = cases.filter((c) => c.label === 'unsafe');
  const safe = cases.filter((c) => c.label === 'safe');

  it('is big and varied enough', () => {
    expect(unsafe.length).toBeGreaterThanOrEqual(120);
    expect(safe.length).toBeGreaterThanOrEqual(150);
    for (const mode of MODES) {
      const cats = new Set(unsafe.filter((c) => c.mode === mode).map((c) => c.category));
      expect([...cats].sort()).toEqual([...SAFETY_CATEGORIES[mode]].sort());
    }
  });

  it('recall >= 0.9 and FP rate <= 0.03 in every mode', () => {
    const rows: string[] = [];
    const problems: string[] = [];
    const failing: string[] = [];
    for (const mode of MODES) {
      const scanner = createSafetyScanner({ mode });
      const mine = unsafe.filter((c) => c.mode === mode);
      let hit = 0;
      let sameCategory = 0;
      for (const c of mine) {
        const ms = scanner.scan(c.text);
        if (ms.length > 0) hit++;
        else problems.push(`miss ${mode}: ${c.text}`);
        if (ms.some((m) => m.rule === `${mode}:${c.category}`)) sameCategory++;
        for (const m of ms) {
          expect(m.type).toBe('UNSAFE_CONTENT');
          expect(m.rule.startsWith(`${mode}:`)).toBe(true);
        }
      }
      let fp = 0;
      for (const c of safe) {
        const ms = scanner.scan(c.text);
        if (ms.length > 0) {
          fp++;
          problems.push(`FP ${mode}: ${c.text} → ${ms.map((m) => `${m.rule} "${c.text.slice(m.start, m.end)}"`).join(', ')}`);
        }
      }
      // Cases of the other modes are not this mode's business, but must not be flagged wholesale either.
      const recall = hit / mine.length;
      const fpRate = fp / safe.length;
      rows.push(`${mode.padEnd(24)} ${String(mine.length).padStart(5)} ${pct(recall).padStart(7)} ${pct(sameCategory / mine.length).padStart(9)} ${String(safe.length).padStart(5)} ${pct(fpRate).padStart(6)}`);
      if (recall < 0.9 || fpRate > 0.03) failing.push(mode);
    }
    console.log(['mode                     unsafe  recall  category  safe     FP', ...rows, ...problems].join('\n'));
    expect(failing).toEqual([]);
  });

  it('prints its throughput on source code per mode (measured, not asserted)', () => {
    const src = readFileSync(join(here, '..', '..', 'src', 'detect', 'dlp.ts'), 'utf8') + readFileSync(join(here, '..', '..', 'src', 'detect', 'dangerous-code.ts'), 'utf8');
    let text = '';
    while (text.length < 2_000_000) text += src;
    for (const mode of MODES) {
      const scanner = createSafetyScanner({ mode });
      scanner.scan(text.slice(0, 100_000));
      // Best of three: other test files share the machine.
      let ms = Infinity;
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        scanner.scan(text);
        ms = Math.min(ms, performance.now() - t0);
      }
      const mbps = text.length / 1e6 / (ms / 1000);
      console.log(`${mode}: ${mbps.toFixed(0)} MB/s`);
      expect(mbps).toBeGreaterThan(0);
    }
  });
});
