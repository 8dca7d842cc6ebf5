import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createInjectionScanner } from '../../src/detect/injection/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const corpusFile = join(here, '..', 'corpus', 'injection', 'cases.jsonl');
/** `../shared/corpora/injection/` relative to the repository root. */
const sharedDir = resolve(here, '..', '..', '..', 'shared', 'corpora', 'injection');

interface Case {
  id: string;
  label: 'injection' | 'benign';
  style: string;
  text: string;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

describe('injection scanner on the synthetic corpus', () => {
  const scanner = createInjectionScanner();
  const cases = readFileSync(corpusFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as Case);
  const injections = cases.filter((c) => c.label === 'injection');
  const benign = cases.filter((c) => c.label === 'benign');

  it('is big and varied enough', () => {
    expect(injections.length).toBeGreaterThanOrEqual(300);
    expect(benign.length).toBeGreaterThanOrEqual(300);
    expect(new Set(injections.map((c) => c.style)).size).toBeGreaterThanOrEqual(15);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  it('finds injections (recall >= 0.9) and leaves hard negatives alone (FP rate <= 0.03)', () => {
    const rows = new Map<string, { label: string; n: number; flagged: number }>();
    const misses: string[] = [];
    const fps: string[] = [];
    let tp = 0;
    let fp = 0;
    for (const c of cases) {
      const matches = scanner.scan(c.text);
      for (const m of matches) {
        expect(m.start, c.id).toBeGreaterThanOrEqual(0);
        expect(m.end, c.id).toBeLessThanOrEqual(c.text.length);
        expect(m.end - m.start, c.id).toBeLessThanOrEqual(scanner.maxMatchLength);
      }
      const key = `${c.label}/${c.style}`;
      const row = rows.get(key) ?? { label: c.label, n: 0, flagged: 0 };
      row.n++;
      if (matches.length > 0) row.flagged++;
      rows.set(key, row);
      if (c.label === 'injection') {
        if (matches.length > 0) tp++;
        else misses.push(c.id);
      } else if (matches.length > 0) {
        fp++;
        fps.push(`${c.id}: ${matches.map((m) => `${m.rule}@${m.score}`).join(', ')}`);
      }
    }
    const recall = tp / injections.length;
    const fpRate = fp / benign.length;
    const table = [...rows.entries()]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([k, r]) => `  ${k.padEnd(34)} ${String(r.n).padStart(4)}  flagged ${String(r.flagged).padStart(4)}  ${pct(r.flagged / r.n)}`);
    console.log(
      [`injection corpus: recall ${pct(recall)} (${tp}/${injections.length}), FP rate ${pct(fpRate)} (${fp}/${benign.length})`, ...table]
        .concat(misses.length ? [`  misses: ${misses.join(', ')}`] : [])
        .concat(fps.length ? [`  false positives: ${fps.join('; ')}`] : [])
        .join('\n'),
    );
    expect(recall).toBeGreaterThanOrEqual(0.9);
    expect(fpRate).toBeLessThanOrEqual(0.03);
  });
});

describe.skipIf(!existsSync(sharedDir))('injection scanner on the shared public corpora (measured, not gated)', () => {
  const scanner = createInjectionScanner();
  const files = existsSync(sharedDir) ? readdirSync(sharedDir) : [];

  it('PIGuard NotInject hard negatives: FP rate', () => {
    let n = 0;
    let fp = 0;
    const examples: string[] = [];
    for (const f of files.filter((f) => /^piguard-NotInject_.*\.json$/.test(f))) {
      const rows = JSON.parse(readFileSync(join(sharedDir, f), 'utf8')) as { prompt: string; category?: string }[];
      for (const r of rows) {
        if (typeof r.prompt !== 'string') continue;
        n++;
        const m = scanner.scan(r.prompt);
        if (m.length > 0) {
          fp++;
          if (examples.length < 5) examples.push(`${m[0]!.rule}: ${r.prompt.slice(0, 100)}`);
        }
      }
    }
    console.log(`PIGuard NotInject: ${n} benign prompts, ${fp} flagged (FP rate ${n ? pct(fp / n) : 'n/a'})${examples.length ? `\n  ${examples.join('\n  ')}` : ''}`);
    expect(n).toBeGreaterThan(0);
  });

  it('BIPIA attack payloads: recall per file and category', () => {
    const lines: string[] = [];
    let total = 0;
    let hit = 0;
    for (const f of files.filter((f) => /^bipia-.*_attack_.*\.json$/.test(f)).sort()) {
      const byCategory = JSON.parse(readFileSync(join(sharedDir, f), 'utf8')) as Record<string, string[]>;
      let fn = 0;
      let fh = 0;
      for (const [cat, payloads] of Object.entries(byCategory)) {
        let ch = 0;
        for (const p of payloads) {
          if (typeof p !== 'string') continue;
          fn++;
          if (scanner.scan(p).length > 0) {
            fh++;
            ch++;
          }
        }
        lines.push(`    ${cat.slice(0, 50).padEnd(50)} ${ch}/${payloads.length}`);
      }
      lines.push(`  ${f}: recall ${fn ? pct(fh / fn) : 'n/a'} (${fh}/${fn})`);
      total += fn;
      hit += fh;
    }
    console.log(`BIPIA attacks: recall ${total ? pct(hit / total) : 'n/a'} (${hit}/${total})\n${lines.join('\n')}`);
    expect(total).toBeGreaterThan(0);
  });
});
