import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { scoreCompletion, type QualityInput } from '../../src/detect/code-edits/index.js';

const here = dirname(fileURLToPath(import.meta.url));
interface EditCase {
  id: string;
  label: 'good' | 'bad';
  why: string;
  format: string;
  input: QualityInput;
}
const cases: EditCase[] = readFileSync(join(here, '..', 'corpus', 'edits', 'cases.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as EditCase);

describe('code-edit quality corpus (synthetic, test/corpus/edits)', () => {
  it('has at least 120 cases covering every format, good and bad', () => {
    expect(cases.length).toBeGreaterThanOrEqual(120);
    for (const f of ['search-replace', 'unified-diff', 'whole-file', 'claude-edit', 'claude-write', 'claude-multiedit', 'apply-patch']) {
      expect(cases.some((c) => c.format === f && c.label === 'good')).toBe(true);
      expect(cases.some((c) => c.format === f && c.label === 'bad')).toBe(true);
    }
  });

  it('scores at least 90% of cases the way they are labelled (default options)', () => {
    const rows = new Map<string, { n: number; ok: number; good: number; goodOk: number; bad: number; badOk: number }>();
    const misses: string[] = [];
    for (const c of cases) {
      const r = scoreCompletion(c.input);
      const ok = r.passed === (c.label === 'good');
      const row = rows.get(c.format) ?? { n: 0, ok: 0, good: 0, goodOk: 0, bad: 0, badOk: 0 };
      row.n++;
      if (ok) row.ok++;
      if (c.label === 'good') {
        row.good++;
        if (ok) row.goodOk++;
      } else {
        row.bad++;
        if (ok) row.badOk++;
      }
      rows.set(c.format, row);
      if (!ok) misses.push(`${c.id} (${c.label}) score=${r.score.toFixed(2)} ${JSON.stringify(r.checks)}`);
    }
    const table = [...rows].map(([format, r]) => ({
      format,
      cases: r.n,
      accuracy: (r.ok / r.n).toFixed(3),
      good: `${r.goodOk}/${r.good}`,
      bad: `${r.badOk}/${r.bad}`,
    }));
    const total = [...rows.values()].reduce((s, r) => s + r.ok, 0) / cases.length;
    console.table(table);
    console.log(`overall accuracy ${total.toFixed(3)} over ${cases.length} cases`);
    if (misses.length) console.log('misses:\n' + misses.join('\n'));
    expect(total).toBeGreaterThanOrEqual(0.9);
  });

  it('never puts code in reasons', () => {
    for (const c of cases) {
      for (const r of scoreCompletion(c.input).reasons) {
        expect(r.message).not.toMatch(/[{};]|=>|return |def |func /);
      }
    }
  });
});
