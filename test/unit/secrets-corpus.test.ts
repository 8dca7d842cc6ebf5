import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSecretScanner } from '../../src/detect/secrets/index.js';
import type { DetectorMatch } from '../../src/detect/types.js';

const here = dirname(fileURLToPath(import.meta.url));
const corpusDir = join(here, '..', 'corpus', 'secrets');
/** `../shared/corpora/` relative to the repository root. */
const sharedCorpora = resolve(here, '..', '..', '..', 'shared', 'corpora');

interface Positive {
  id: string;
  rule: string;
  text: string;
  secret: string;
}
interface Negative {
  id: string;
  text: string;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(join(corpusDir, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as T);
}

const covers = (ms: DetectorMatch[], start: number, end: number): DetectorMatch | undefined => ms.find((m) => m.start <= start && m.end >= end);
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

describe('secret scanner on the synthetic corpus', () => {
  const scanner = createSecretScanner();
  const positives = readJsonl<Positive>('positives.jsonl');
  const negatives = readJsonl<Negative>('negatives.jsonl');

  it('is big and varied enough', () => {
    expect(positives.length).toBeGreaterThanOrEqual(400);
    expect(new Set(positives.map((p) => p.rule)).size).toBeGreaterThanOrEqual(60);
    expect(negatives.length).toBeGreaterThanOrEqual(400);
  });

  it('finds the secrets (recall >= 0.95) and leaves look-alikes alone (FP rate <= 0.02)', () => {
    const perRule = new Map<string, { n: number; hit: number; sameRule: number }>();
    const misses: string[] = [];
    let hits = 0;
    let sameRule = 0;
    for (const p of positives) {
      const start = p.text.indexOf(p.secret);
      expect(start, p.id).toBeGreaterThanOrEqual(0);
      const matches = scanner.scan(p.text);
      const m = covers(matches, start, start + p.secret.length);
      const row = perRule.get(p.rule) ?? { n: 0, hit: 0, sameRule: 0 };
      row.n++;
      if (m) {
        hits++;
        row.hit++;
        if (m.rule === p.rule) {
          sameRule++;
          row.sameRule++;
        }
      } else misses.push(`${p.id}: got ${JSON.stringify(matches.map((x) => [x.rule, p.text.slice(x.start, x.end).slice(0, 40)]))}`);
      perRule.set(p.rule, row);
    }
    const falsePositives: string[] = [];
    for (const n of negatives) {
      const matches = scanner.scan(n.text);
      if (matches.length > 0) falsePositives.push(`${n.id}: ${matches.map((m) => `${m.rule}=${JSON.stringify(n.text.slice(m.start, m.end).slice(0, 50))}`).join(', ')}`);
    }
    const recall = hits / positives.length;
    const fpRate = falsePositives.length / negatives.length;

    const rows = [...perRule.entries()].sort(([a], [b]) => a.localeCompare(b));
    const imperfect = rows.filter(([, r]) => r.hit < r.n);
    console.log(
      [
        `secret corpus: ${positives.length} positives over ${rows.length} rules, ${negatives.length} negatives`,
        `  recall            ${pct(recall)} (${hits}/${positives.length}); reported under the expected rule id: ${pct(sameRule / positives.length)}`,
        `  false positives   ${pct(fpRate)} (${falsePositives.length}/${negatives.length})`,
        `  per-rule recall below 100%: ${imperfect.length === 0 ? 'none' : ''}`,
        ...imperfect.map(([id, r]) => `    ${id.padEnd(40)} ${r.hit}/${r.n}`),
        `  rules with every sample found: ${rows.length - imperfect.length}/${rows.length}`,
        ...misses.slice(0, 20).map((m) => `  miss ${m}`),
        ...falsePositives.slice(0, 20).map((f) => `  FP   ${f}`),
      ].join('\n'),
    );
    expect(recall).toBeGreaterThanOrEqual(0.95);
    expect(fpRate).toBeLessThanOrEqual(0.02);
  });
});

/** secretlint's per-rule snapshot cases: input text plus the findings secretlint reports (ranges). */
const secretlintDir = join(sharedCorpora, 'secrets', 'secretlint');
/** Families that are not about secret values (file names, home directories, lint plumbing, demo rule). */
const NOT_SECRET_FAMILIES = new Set(['example', 'filter-comments', 'pattern', 'no-dotenv', 'no-homedir', 'no-k8s-kind-secret']);

describe.skipIf(!existsSync(secretlintDir))('secret scanner on the secretlint snapshots (measured, not asserted)', () => {
  it('reports recall on snapshot inputs that secretlint flags', () => {
    const scanner = createSecretScanner();
    const outputs: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (e === 'output.json') outputs.push(p);
      }
    };
    walk(secretlintDir);
    let total = 0;
    let found = 0;
    let secretTotal = 0;
    let secretFound = 0;
    let okCases = 0;
    let okFlagged = 0;
    const byFamily = new Map<string, { n: number; hit: number }>();
    const missed: string[] = [];
    for (const file of outputs) {
      const out = JSON.parse(readFileSync(file, 'utf8')) as { messages: { range: [number, number]; messageId: string }[]; sourceContent?: string };
      const family = file.slice(secretlintDir.length + 1).split(/[\\/]/)[0]!.replace(/^secretlint-rule-/, '');
      if (typeof out.sourceContent !== 'string') continue; // binary inputs (PKCS#12)
      const matches = scanner.scan(out.sourceContent);
      if (out.messages.length === 0) {
        okCases++;
        if (matches.length > 0) okFlagged++;
        continue;
      }
      for (const msg of out.messages) {
        const [a, b] = msg.range;
        const hit = matches.some((m) => m.start < b && m.end > a);
        total++;
        if (hit) found++;
        if (!NOT_SECRET_FAMILIES.has(family)) {
          secretTotal++;
          if (hit) secretFound++;
          else missed.push(`${family}/${msg.messageId}: ${JSON.stringify(out.sourceContent.slice(a, b).slice(0, 60))}`);
        }
        const row = byFamily.get(family) ?? { n: 0, hit: 0 };
        row.n++;
        if (hit) row.hit++;
        byFamily.set(family, row);
      }
    }
    console.log(
      [
        `secretlint snapshots: ${outputs.length} cases`,
        `  recall, all flagged findings        ${pct(found / Math.max(1, total))} (${found}/${total})`,
        `  recall, secret-value rule families  ${pct(secretFound / Math.max(1, secretTotal))} (${secretFound}/${secretTotal})`,
        `  "ok" cases where we still report something: ${okFlagged}/${okCases}`,
        ...[...byFamily.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([f, r]) => `    ${f.padEnd(30)} ${r.hit}/${r.n}`),
        ...missed.map((m) => `  miss ${m}`),
      ].join('\n'),
    );
    expect(total).toBeGreaterThan(0);
  });
});
