/**
 * safety-filter's `software` mode on a coding agent's daily work: false positives on benign coding material
 * (our own migrations, runbooks, security tooling and docs about attacks; the docs, scripts and source of every
 * installed package; this repository; the benign side of ../shared/corpora when it is there) and recall on
 * requests for malware and sabotage of production (the synthetic corpus, and the same requests inside coding
 * contexts). Sources: test/corpus/safety/README.md.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSafetyScanner } from '../../src/detect/safety.js';
import { type Group, nodeModulesGroups, projectGroup, sharedCorporaGroups } from '../corpus/safety/public.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const corpus = join(repo, 'test', 'corpus', 'safety');

interface Case {
  id: string;
  label: 'safe' | 'unsafe';
  mode?: string;
  kind?: string;
  text: string;
}
const read = (file: string): Case[] =>
  readFileSync(join(corpus, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Case);

const coding = read('coding.jsonl');
const synthetic = read('cases.jsonl');

/**
 * Recall of the detector before intent was scored (commit 18d2137), measured on these same harmful cases: the
 * synthetic software requests 46/46, the coding-context requests 47/58. Recall must not fall below it.
 */
const RECALL_BEFORE = { synthetic: 46 / 46, coding: 47 / 58 };
const MAX_FP = 0.01;

const scanner = createSafetyScanner({ mode: 'software' });
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

describe('safety-filter software mode on a coding agent’s work', () => {
  const groups: Group[] = [
    { name: 'ours: migrations, ops, security tooling, docs about attacks, quoted data, Aider turns', units: coding.filter((c) => c.label === 'safe').map((c) => ({ id: c.id, text: c.text })) },
    { name: 'ours: hard negatives of the synthetic corpus', units: synthetic.filter((c) => c.label === 'safe').map((c) => ({ id: c.id, text: c.text })) },
    ...nodeModulesGroups(repo),
    projectGroup(repo),
    ...sharedCorporaGroups(repo),
  ];

  it(`false positives are at most ${pct(MAX_FP)} in every group of benign material`, () => {
    const rows: string[] = [];
    const flagged: string[] = [];
    const over: string[] = [];
    let units = 0;
    let fps = 0;
    let chars = 0;
    for (const g of groups) {
      let fp = 0;
      for (const u of g.units) {
        chars += u.text.length;
        const ms = scanner.scan(u.text);
        if (ms.length === 0) continue;
        fp++;
        flagged.push(`  ${u.id}: ${ms.map((m) => `${m.rule} "${u.text.slice(m.start, m.end)}"`).join(', ')}`);
      }
      units += g.units.length;
      fps += fp;
      const rate = fp / Math.max(1, g.units.length);
      rows.push(`${String(fp).padStart(4)} / ${String(g.units.length).padEnd(5)} ${pct(rate).padStart(7)}  ${g.name}`);
      if (rate > MAX_FP) over.push(g.name);
    }
    rows.push(`${String(fps).padStart(4)} / ${String(units).padEnd(5)} ${pct(fps / units).padStart(7)}  all (${(chars / 1e6).toFixed(1)} MB)`);
    console.log(['false positives', ...rows, ...(flagged.length > 0 ? ['flagged:', ...flagged] : [])].join('\n'));
    // node_modules and this repository are always there; ../shared/corpora may not be (then its groups are skipped).
    expect(units).toBeGreaterThan(4000);
    expect(over).toEqual([]);
    expect(fps / units).toBeLessThanOrEqual(MAX_FP);
  });

  it('recall on requests for harm does not fall below what it was before intent was scored', () => {
    const sets = {
      synthetic: synthetic.filter((c) => c.label === 'unsafe' && c.mode === 'software'),
      coding: coding.filter((c) => c.label === 'unsafe'),
    };
    const misses: string[] = [];
    const rows: string[] = [];
    for (const [name, cases] of Object.entries(sets) as Array<[keyof typeof sets, Case[]]>) {
      let hit = 0;
      for (const c of cases) {
        if (scanner.scan(c.text).length > 0) hit++;
        else misses.push(`  ${c.id}: ${c.text.slice(-120)}`);
      }
      rows.push(`${name}: ${hit}/${cases.length} = ${pct(hit / cases.length)} (before: ${pct(RECALL_BEFORE[name])})`);
      expect(hit / cases.length, name).toBeGreaterThanOrEqual(RECALL_BEFORE[name]);
    }
    console.log(['recall', ...rows, ...(misses.length > 0 ? ['missed:', ...misses] : [])].join('\n'));
  });
});
