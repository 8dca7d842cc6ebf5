import { type Dirent, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createPiiScanner } from '../../src/detect/pii/index.js';
import type { DetectorMatch } from '../../src/detect/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

interface Expected {
  type: string;
  value: string;
}
interface CorpusCase {
  id: string;
  text: string;
  expected: Expected[];
}

const cases: CorpusCase[] = readFileSync(join(repoRoot, 'test/corpus/pii/cases.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as CorpusCase);

/** All [start, end) spans where `value` occurs in `text`. */
function occurrences(text: string, value: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = text.indexOf(value); i !== -1; i = text.indexOf(value, i + 1)) out.push([i, i + value.length]);
  return out;
}

const covers = (m: DetectorMatch, [s, e]: [number, number]): boolean => m.start <= s && m.end >= e;
const overlaps = (m: DetectorMatch, [s, e]: [number, number]): boolean => m.start < e && s < m.end;

describe('PII corpus (synthetic, test/corpus/pii)', () => {
  const scanner = createPiiScanner({ healthcareMode: true });

  it('has enough cases', () => {
    expect(cases.filter((c) => c.expected.length > 0).length).toBeGreaterThanOrEqual(400);
    expect(cases.filter((c) => c.expected.length === 0).length).toBeGreaterThanOrEqual(200);
  });

  it('meets recall ≥ 0.95 per type and a false-positive rate ≤ 0.02', () => {
    const perType = new Map<string, { expected: number; found: number; fp: number }>();
    const row = (t: string) => {
      let r = perType.get(t);
      if (!r) perType.set(t, (r = { expected: 0, found: 0, fp: 0 }));
      return r;
    };
    let casesWithFp = 0;
    const misses: string[] = [];
    const falsePositives: string[] = [];
    for (const c of cases) {
      const matches = scanner.scan(c.text);
      for (const e of c.expected) {
        const r = row(e.type);
        r.expected++;
        if (matches.some((m) => m.type === e.type && occurrences(c.text, e.value).some((o) => covers(m, o)))) r.found++;
        else misses.push(`${c.id} ${e.type} ${JSON.stringify(e.value)}`);
      }
      let fpHere = false;
      for (const m of matches) {
        const expectedHere = c.expected.some((e) => e.type === m.type && occurrences(c.text, e.value).some((o) => overlaps(m, o)));
        if (!expectedHere) {
          row(m.type).fp++;
          fpHere = true;
          falsePositives.push(`${c.id} ${m.type}/${m.rule} ${JSON.stringify(c.text.slice(m.start, m.end))}`);
        }
      }
      if (fpHere) casesWithFp++;
    }
    const fpRate = casesWithFp / cases.length;
    const table = [...perType].sort(([a], [b]) => a.localeCompare(b)).map(([type, r]) => ({
      type,
      expected: r.expected,
      found: r.found,
      recall: r.expected ? Number((r.found / r.expected).toFixed(3)) : null,
      falsePositives: r.fp,
    }));
    console.log(`PII corpus: ${cases.length} cases, false-positive rate ${(fpRate * 100).toFixed(2)}% (${casesWithFp} cases)`);
    console.table(table);
    if (misses.length) console.log('misses:\n  ' + misses.slice(0, 40).join('\n  '));
    if (falsePositives.length) console.log('false positives:\n  ' + falsePositives.slice(0, 40).join('\n  '));

    for (const r of table) if (r.expected > 0) expect.soft(r.recall, `recall for ${r.type}`).toBeGreaterThanOrEqual(0.95);
    expect(fpRate).toBeLessThanOrEqual(0.02);
  });

  it('prints the scan throughput on ordinary source code', () => {
    const files = ['src', 'test'].flatMap((d) => listFiles(join(repoRoot, d)));
    let code = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    while (code.length < 4_000_000) code += '\n' + code;
    code = code.slice(0, 4_000_000);
    scanner.scan(code.slice(0, 200_000)); // warm up
    const t0 = performance.now();
    scanner.scan(code);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`PII scan throughput: ${(code.length / 1e6 / seconds).toFixed(1)} MB/s over ${(code.length / 1e6).toFixed(1)} MB of source`);
  });
});

describe('Presidio synthetic dataset (external, measured only)', () => {
  const path = join(repoRoot, '..', 'shared', 'corpora', 'pii', 'presidio-synth_dataset_v2.json');
  it.skipIf(!existsSync(path))('prints recall for the labels that map to our types', () => {
    interface Span {
      entity_type: string;
      entity_value: string;
      start_position: number;
      end_position: number;
    }
    const data = JSON.parse(readFileSync(path, 'utf8')) as Array<{ full_text: string; spans: Span[] }>;
    const map: Record<string, string> = {
      EMAIL_ADDRESS: 'EMAIL',
      PHONE_NUMBER: 'PHONE',
      CREDIT_CARD: 'CREDIT_CARD',
      IBAN_CODE: 'IBAN',
      US_SSN: 'SSN',
      IP_ADDRESS: 'IP_ADDRESS',
    };
    const scanner = createPiiScanner();
    const stats = new Map<string, { labelled: number; found: number }>();
    let unlabelled = 0;
    for (const d of data) {
      const matches = scanner.scan(d.full_text);
      for (const s of d.spans) {
        const type = map[s.entity_type];
        if (!type) continue;
        const r = stats.get(s.entity_type) ?? { labelled: 0, found: 0 };
        stats.set(s.entity_type, r);
        r.labelled++;
        if (matches.some((m) => m.type === type && m.start <= s.start_position && m.end >= s.end_position)) r.found++;
      }
      // Matches on text no mapped label covers (informational: the dataset does not label everything).
      for (const m of matches) {
        if (!d.spans.some((s) => map[s.entity_type] === m.type && m.start < s.end_position && s.start_position < m.end)) unlabelled++;
      }
    }
    console.log(`Presidio synth_dataset_v2: ${data.length} texts; matches outside mapped labels: ${unlabelled}`);
    console.table([...stats].map(([label, r]) => ({ label, ours: map[label], labelled: r.labelled, found: r.found, recall: Number((r.found / r.labelled).toFixed(3)) })));
    expect(stats.size).toBeGreaterThan(0);
  });
});

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSyncSafe(d)) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(ts|js|json|md|yaml|yml)$/.test(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

function readdirSyncSafe(d: string): Dirent[] {
  try {
    return readdirSync(d, { withFileTypes: true });
  } catch {
    return [];
  }
}
