/**
 * Builds data/injection-extra/extra.jsonl: extra training (and held-out) cases for the prompt-injection classifier,
 * from the public items in data/injection-extra/sources.json and the compositions of injection-extra-compose.ts
 * (carriers and payloads taken from ../shared/corpora/injection-train/train.jsonl only, never its dev split).
 *
 *   node --import tsx scripts/build-injection-extra.ts [--eval DIR]
 *
 * Every case whose normalised text (lower case, whitespace collapsed) shares a 40-character substring with any
 * `text` of DIR/*.jsonl (default ../shared/eval) is dropped: the eval set is read only to EXCLUDE overlapping cases,
 * and the counts of what was dropped go to data/injection-extra/README.md by hand. Deterministic (seeded).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../src/testing/mulberry32.js';
import { EXTRA_GOALS, composedPersuasion, cvInjections, latentInjections, latentJailbreaks, persuasiveBenign, persuasiveJailbreaks, suffixJailbreaks, sysPromptBenign, sysPromptExtraction } from './injection-extra-compose.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'data', 'injection-extra');
const args = process.argv.slice(2);
const evalDir = resolve(args[args.indexOf('--eval') + 1] && args.includes('--eval') ? args[args.indexOf('--eval') + 1]! : join(ROOT, '..', 'shared', 'eval'));
const corpus = join(ROOT, '..', 'shared', 'corpora', 'injection-train', 'train.jsonl');

interface Extra {
  text: string;
  label: 'injection' | 'benign';
  kind: string;
  source: string;
  license: string;
  split: 'train' | 'dev';
}

const norm = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();
const W = 40;

/** Two independent 32-bit FNV-1a hashes of s[i, i+W), as one number (collisions only ever drop an extra case). */
function gramHash(s: string, i: number): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let k = i; k < i + W; k++) {
    const c = s.charCodeAt(k);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return a * 0x100000 + (b & 0xfffff);
}

/** The 40-gram hashes of every eval text (and the short texts themselves, matched whole). */
function evalIndex(dir: string): { grams: Set<number>; short: string[] } {
  const grams = new Set<number>();
  const short: string[] = [];
  if (!existsSync(dir)) throw new Error(`no eval set at ${dir}: the overlap filter needs it (use --eval DIR)`);
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const t = norm((JSON.parse(line) as { text: string }).text);
      if (t.length < W) short.push(t);
      for (let i = 0; i + W <= t.length; i++) grams.add(gramHash(t, i));
    }
  }
  return { grams, short };
}

function overlaps(text: string, idx: { grams: Set<number>; short: string[] }): boolean {
  const t = norm(text);
  for (let i = 0; i + W <= t.length; i++) if (idx.grams.has(gramHash(t, i))) return true;
  return idx.short.some((s) => s.length >= 12 && t === s);
}

/** Stable 0..9 bucket of a key (dev = bucket 0), so held-out goals / documents never appear in training. */
function bucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h % 10;
}

interface Sources {
  pair: { source: string; license: string; injection: string[] };
  psfuzz: { source: string; license: string; injection: string[] };
  pap: { source: string; license: string; benign: string[] };
  advbench: { source: string; license: string; goals: string[] };
}

const COMPOSED = 'keeptrusts (scripts/injection-extra-compose.ts)';

function main(): void {
  const src = JSON.parse(readFileSync(join(OUT_DIR, 'sources.json'), 'utf8')) as Sources;
  const idx = evalIndex(evalDir);
  const dropped = new Map<string, number>();
  const out: Extra[] = [];
  const seen = new Set<string>();
  const add = (c: Extra): void => {
    const n = norm(c.text);
    if (seen.has(n)) return;
    seen.add(n);
    if (overlaps(c.text, idx)) {
      const k = `${c.kind}/${c.label}`;
      dropped.set(k, (dropped.get(k) ?? 0) + 1);
      return;
    }
    out.push(c);
  };

  // Goals overlapping the eval set are dropped before they are composed into anything.
  const publicGoals = src.advbench.goals.filter((g) => !overlaps(g, idx));
  dropped.set('advbench goal (not composed)', src.advbench.goals.length - publicGoals.length);
  const goals = [...publicGoals, ...EXTRA_GOALS.filter((g) => !overlaps(g, idx))];
  const trainGoals = goals.filter((g) => bucket(g) !== 0);
  const devGoals = goals.filter((g) => bucket(g) === 0);
  const goalLicence = 'MIT';

  // Public items, verbatim (PAIR's [TASK HERE] filled with a goal).
  const rand0 = mulberry32(0x9a17);
  for (const p of src.pair.injection) {
    const g = trainGoals[Math.floor(rand0() * trainGoals.length)]!;
    add({ text: p.replace('[TASK HERE]', g.toLowerCase()), label: 'injection', kind: 'persuasion_jailbreak', source: src.pair.source, license: src.pair.license, split: 'train' });
  }
  for (const p of src.psfuzz.injection) add({ text: p, label: 'injection', kind: 'sysprompt_extraction', source: src.psfuzz.source, license: src.psfuzz.license, split: 'train' });
  for (const p of src.pap.benign) add({ text: p, label: 'benign', kind: 'persuasive_text', source: src.pap.source, license: src.pap.license, split: 'train' });

  // Carriers and payloads for latent injections, from the training split of the shared corpus.
  const corpusCases = readFileSync(corpus, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { text: string; label: string; kind: string; lang: string; source: string; license: string });
  const docs = corpusCases.filter((c) => c.lang === 'en' && c.label === 'benign' && ['email_document', 'docs', 'user_request', 'table_document'].includes(c.kind) && c.text.length >= 150 && c.text.length <= 900 && !c.text.includes('```'));
  const payloads = corpusCases.filter((c) => c.lang === 'en' && c.label === 'injection' && ['direct_override', 'goal_hijacking', 'sysprompt_extraction'].includes(c.kind) && !c.text.includes('\n') && c.text.length >= 20 && c.text.length <= 220);
  const corpusLicence = 'see ../shared/corpora/injection-train (carrier and payload licences)';

  for (const split of ['train', 'dev'] as const) {
    const g = split === 'train' ? trainGoals : devGoals;
    const seed = split === 'train' ? 1 : 2;
    const n = (k: number) => (split === 'train' ? k : Math.max(8, Math.round(k / 8)));
    const dDocs = docs.filter((d) => (bucket(d.text) === 0) === (split === 'dev')).map((d) => d.text);
    const dPay = payloads.filter((d) => (bucket(d.text) === 0) === (split === 'dev')).map((d) => d.text);
    for (const t of persuasiveJailbreaks(mulberry32(0x5e1 * seed), g, n(520))) add({ text: t, label: 'injection', kind: 'persuasion_jailbreak', source: COMPOSED, license: goalLicence, split });
    for (const t of persuasiveBenign(mulberry32(0x5e2 * seed), n(320))) add({ text: t, label: 'benign', kind: 'persuasive_request', source: COMPOSED, license: 'MIT', split });
    for (const t of composedPersuasion(mulberry32(0x5ea * seed), g, n(400))) add({ text: t, label: 'injection', kind: 'persuasion_jailbreak', source: COMPOSED, license: goalLicence, split });
    for (const t of composedPersuasion(mulberry32(0x5eb * seed), g, n(260), true)) add({ text: t, label: 'benign', kind: 'persuasive_request', source: COMPOSED, license: 'MIT', split });
    for (const t of suffixJailbreaks(mulberry32(0x5e3 * seed), g, n(500))) add({ text: t, label: 'injection', kind: 'adversarial_suffix', source: COMPOSED, license: goalLicence, split });
    const lj = latentJailbreaks(mulberry32(0x5e4 * seed), g, n(120));
    for (const t of lj.injection) add({ text: t, label: 'injection', kind: 'latent_jailbreak', source: COMPOSED, license: goalLicence, split });
    for (const t of lj.benign) add({ text: t, label: 'benign', kind: 'latent_task', source: COMPOSED, license: 'MIT', split });
    const li = latentInjections(mulberry32(0x5e5 * seed), dDocs, dPay, n(360));
    for (const t of li.injection) add({ text: t, label: 'injection', kind: 'latent_injection', source: COMPOSED, license: corpusLicence, split });
    for (const t of li.benign) add({ text: t, label: 'benign', kind: 'latent_task', source: COMPOSED, license: corpusLicence, split });
    const cv = cvInjections(mulberry32(0x5e6 * seed), n(40));
    for (const t of cv.injection) add({ text: t, label: 'injection', kind: 'latent_injection', source: COMPOSED, license: 'MIT', split });
    for (const t of cv.benign) add({ text: t, label: 'benign', kind: 'latent_task', source: COMPOSED, license: 'MIT', split });
  }
  // Extraction requests and their twins: split by text (the parts are shared, so the dev figure is optimistic).
  for (const t of sysPromptExtraction(mulberry32(0x5e7), 240)) add({ text: t, label: 'injection', kind: 'sysprompt_extraction', source: COMPOSED, license: 'MIT', split: bucket(t) === 0 ? 'dev' : 'train' });
  for (const t of sysPromptBenign(mulberry32(0x5e8), 120)) add({ text: t, label: 'benign', kind: 'prompt_question', source: COMPOSED, license: 'MIT', split: bucket(t) === 0 ? 'dev' : 'train' });

  writeFileSync(join(OUT_DIR, 'extra.jsonl'), out.map((c) => JSON.stringify(c)).join('\n') + '\n');
  const counts = new Map<string, number>();
  for (const c of out) counts.set(`${c.split} ${c.label}/${c.kind}`, (counts.get(`${c.split} ${c.label}/${c.kind}`) ?? 0) + 1);
  process.stderr.write(`wrote ${out.length} cases\n${[...counts].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n')}\ndropped for eval overlap:\n${[...dropped].map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
}

main();
