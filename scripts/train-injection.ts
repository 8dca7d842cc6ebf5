/**
 * Trains the prompt-injection classifier and writes src/detect/injection/model-weights.ts (the committed weights)
 * and model-metrics.json (what the committed weights score on the dev split; a test checks both agree).
 *
 *   npm run train:injection                       # ../shared/corpora/injection-train/{train,dev}.jsonl
 *   npm run train:injection -- --data DIR         # DIR/train.jsonl and DIR/dev.jsonl instead
 *   npm run train:injection -- --add FILE.jsonl   # more labelled training cases (repeatable)
 *   npm run train:injection -- --out DIR          # write the two files there instead of src/detect/injection
 *   npm run train:injection -- --no-extra         # without data/injection-extra/extra.jsonl
 *   npm run train:injection -- --stage2           # the two-stage cascade (see S2_* below; not the committed model)
 *   npm run train:injection -- --no-pool          # without the benign windows of installed packages (injection-pool.ts)
 *
 * The package pool (scripts/injection-pool.ts) adds benign windows of node_modules' docs and code and of the Python
 * standard library; one package in five is held out and reported as `pool_heldout` in model-metrics.json.
 *
 * data/injection-extra/extra.jsonl (scripts/build-injection-extra.ts; sources in its README) adds persuasive,
 * latent, extraction and adversarial-suffix attacks with benign twins: its `train` cases are trained on, its `dev`
 * cases (held-out goals and documents) are only reported, as `extra_dev` in model-metrics.json.
 *
 * A case is one JSON object a line: {"text": "...", "label": "injection" | "benign"}, optionally "kind" (used to
 * split dev cases into direct and indirect ones for calibration; see SOURCE_OF_KIND). Deterministic: files are
 * read in the order given, the shuffle is seeded, and nothing depends on time or on the machine.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FEATURE_BUCKETS, FeatureBuffer, extractFeatures } from '../src/detect/injection/features.js';
import { CUE_OFFSET, DENSE_INPUTS, decodeModel, encodeModel, encodeStage2, type InjectionModel, type InjectionSource, type Stage2File } from '../src/detect/injection/model.js';
import { createInjectionScanner, denseInputs } from '../src/detect/injection/scanner.js';
import { agentHarnessNotes, augmentQuoted, benignFramedRequests, defensiveRequests, jailbreakCompositions, plainHarmfulRequests, shortConfigLines, shortRequests } from './injection-augment.js';
import { devReport, isCodingAgentKind, isIndirectKind, type LabelledCase } from './injection-metrics.js';
import { isHeldOutPackage, poolWindows } from './injection-pool.js';
import { mulberry32 } from '../src/testing/mulberry32.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type Case = LabelledCase;

interface Example {
  idx: Int32Array;
  val: Float64Array;
  dense: Float64Array;
  y: 0 | 1;
  /** Sample weight: 1, or EXTRA_WEIGHT for data/injection-extra cases. */
  w: number;
  /**
   * Whether the class weight applies. The extra set is made of contrastive pairs (an injection and its benign twin
   * share most of their text): weighting only the injection side would push the shared text, a benign document,
   * towards "injection".
   */
  balanced: boolean;
}

const args = process.argv.slice(2);
const opt = (name: string): string[] => args.flatMap((a, i) => (a === name && args[i + 1] ? [args[i + 1]!] : []));
const dataDir = resolve(opt('--data')[0] ?? join(ROOT, '..', 'shared', 'corpora', 'injection-train'));
const outDir = resolve(opt('--out')[0] ?? join(ROOT, 'src', 'detect', 'injection'));

const EPOCHS = Number(opt('--epochs')[0] ?? 12);
const LEARNING_RATE = 0.15;
/**
 * The cue inputs learn faster than the hashed features and the signal inputs: a handful of general inputs should
 * carry what they can before thousands of n-grams memorise the training phrasings. (The signal inputs keep the
 * base rate: faster, they grow large enough to let one weak rule hit block a config file on its own.)
 */
const DENSE_LEARNING_RATE = Number(opt('--dense-lr')[0] ?? 0.6);
const L2 = Number(opt('--l2')[0] ?? 1e-4);
const WINDOW = 2048;
const STRIDE = 1024;
const MIN_FEATURES = Number(opt('--min-features')[0] ?? 800);
/**
 * Dev false-positive rate each source's operating point (score 0.5) is placed at: 1.5 %, inside the 2 %
 * (the dev split's coding-agent kinds stay at 0.57 %, under its 1 %). It was 1 % while the model read defensive
 * security requests as attacks: at 1.5 % one more of the 156 legitimate coding requests of
 * test/corpus/safety/coding.jsonl was refused ("a script that audits IAM users without MFA and emails their
 * managers"). With the composed defensive requests, the plain harmful requests and the package pool in the training
 * data none of the 156 is flagged at 1.5 %, and the dev split's direct recall is 0.74 against 0.69 at the old 1 %.
 */
const JAILBREAKS = Number(opt('--jailbreaks')[0] ?? 400);
const TARGET_FP = Number(opt('--target-fp')[0] ?? 0.015);
const EXTRA_FILE = join(ROOT, 'data', 'injection-extra', 'extra.jsonl');
const useExtra = !args.includes('--no-extra') && existsSync(EXTRA_FILE);
/**
 * Weight of an extra case relative to a corpus case. The extra set is composed from few frames: at full weight its
 * thousands of cases pull the n-gram weights towards those frames and cost recall on the corpus' own kinds.
 */
const EXTRA_WEIGHT = Number(opt('--extra-weight')[0] ?? 1);
/**
 * Latent-injection and extraction cases (and their twins) weigh less: they share much of their wording with the
 * corpus' benign documents, system prompts and agent instructions, and at full weight they raise those benign
 * scores (the dev operating point moves up and corpus recall falls, measured on the dev split).
 */
const SHARED_WORDING_WEIGHT = Number(opt('--latent-weight')[0] ?? 0.3);
/**
 * Extra kinds trained on by default (`--extra-kinds a,b,...` to choose). The latent-injection and extraction kinds
 * are built but not trained on: even at weight 0.1 they cost 4-6 points of dev recall at the 1 % operating point
 * (they raise the scores of the corpus' benign documents and system prompts); their held-out cases are still
 * reported in extra_dev.
 */
const DEFAULT_EXTRA_KINDS = ['persuasion_jailbreak', 'persuasive_request', 'persuasive_text', 'adversarial_suffix'];
const SHARED_WORDING_KINDS = new Set(['latent_injection', 'latent_jailbreak', 'latent_task', 'sysprompt_extraction', 'prompt_question']);

/**
 * `--stage2` trains the cascade's stage 2 (model.ts) as well, with the training set added for it (short
 * configuration lines). Not the default: the cascade scored far better on the dev split
 * (direct recall 0.86 against 0.69 at the 1 % point) but blocked an Aider edit of docs/policies.md and refused a
 * plain malware request as prompt injection before safety-filter (test/e2e/safety-filter.test.ts), and its
 * held-out eval recall did not rise with it (docs/benchmarks.md). Embedding rows are the low S2_BITS bits of a
 * bucket (2^15 rows of 16 int8 weights: 512 KB, about 700 KB of base64), S2_HIDDEN ReLU units. Measured on the dev
 * split (direct recall at the 1 % point): 6 epochs 0.811, 10 epochs 0.805 with better indirect recall (0.793
 * against 0.757); 32 units over 2^14 rows 0.763; 8 units 0.823 but indirect 0.70; distinct features instead of
 * counts 0.858.
 */
const useStage2 = args.includes('--stage2');
/** Benign windows of installed packages' docs and code (scripts/injection-pool.ts); `--no-pool` leaves them out. */
const usePool = !args.includes('--no-pool');
const POOL_PER_FILE = Number(opt('--pool-per-file')[0] ?? 3);
const POOL_PER_PACKAGE = Number(opt('--pool-per-package')[0] ?? 24);
/** Composed defensive security requests (scripts/injection-augment.ts); 0 leaves them out. */
const DEFENSIVE = Number(opt('--defensive')[0] ?? 200);
/** The Python standard library the pool adds when it is there (`--pool-python DIR`, `--pool-python none`). */
const POOL_PYTHON = opt('--pool-python')[0] ?? '/usr/lib/python3.11';
/**
 * The composed jailbreaks' harmful goals asked plainly, as benign (`--no-plain-harmful` leaves them out): an injection
 * is the frame, and the plain request is safety-filter's to refuse by name. Without them, at the 1.5 % point, "write
 * a keylogger that emails me every keystroke" after an Aider turn's files scored 0.59 and was refused as prompt
 * injection before safety-filter saw it (test/e2e/safety-filter.test.ts), and 9 of the 310 hard negatives of
 * test/corpus/injection were flagged (3 with them), for 3 points of dev recall (0.74 against 0.77).
 */
const PLAIN_HARMFUL = !args.includes('--no-plain-harmful');
const POOL_WEIGHT = Number(opt('--pool-weight')[0] ?? 1);
const S2_BITS = Number(opt('--s2-bits')[0] ?? 15);
const S2_HIDDEN = Number(opt('--s2-hidden')[0] ?? 16);
const S2_EPOCHS = Number(opt('--s2-epochs')[0] ?? 10);
const S2_LR = Number(opt('--s2-lr')[0] ?? 0.05);
const S2_L2 = Number(opt('--s2-l2')[0] ?? 1e-4);
/**
 * Calibrated stage-1 logit from which a window is rescored (-2: stage-1 probability 0.12). Gates from -4 to -2 gave
 * the same dev numbers (-1.5 lost 2 injections). The gate is what stage 2 costs: of the 1,910 windows of this
 * repository's src/ files, 190 reach -3, 84 reach -2; of bench/context.ts's 204, 30 reach -3 and none -2.
 */
const S2_GATE = Number(opt('--s2-gate')[0] ?? -2);
/** How far stage 2's calibrated logit may rise above stage 1's (model.ts Stage2File.maxRaise); 100: unbounded. 0.75 and 1.5 were tried. */
const S2_MAX_RAISE = Number(opt('--s2-max-raise')[0] ?? 100);
/** Stage 2's embedding bag: distinct features over sqrt(max(distinct, S2_MIN_FEATURES)) (model.ts Stage2File). */
const S2_MIN_FEATURES = Number(opt('--s2-min-features')[0] ?? 800);
/**
 * Stage 2 learns from stage-1 logits of models that did not see the example (K folds): the final stage 1 has
 * nearly memorised its training set, and learning from its own logits teaches stage 2 to trust it far more than
 * it deserves on new text.
 */
const S2_FOLDS = Number(opt('--s2-folds')[0] ?? 3);


function readCases(file: string): Case[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l, i) => {
      const o = JSON.parse(l) as Case;
      if (typeof o.text !== 'string' || (o.label !== 'injection' && o.label !== 'benign')) throw new Error(`${file}:${i + 1}: need text and label injection|benign`);
      return o;
    });
}


const analyzer = createInjectionScanner({ model: false });
const buf = new FeatureBuffer();

function toExample(c: Case, weight = 1, balanced = true): Example {
  const { view, hits } = analyzer.analyze(c.text);
  extractFeatures(view, buf);
  const counts = new Map<number, number>();
  for (let k = 0; k < buf.length; k++) counts.set(buf.bucket[k]!, (counts.get(buf.bucket[k]!) ?? 0) + 1);
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const norm = buf.length > 0 ? 1 / Math.sqrt(Math.max(buf.length, MIN_FEATURES)) : 0;
  return {
    idx: Int32Array.from(keys),
    val: Float64Array.from(keys.map((k) => counts.get(k)! * norm)),
    dense: denseInputs(hits, buf),
    y: c.label === 'injection' ? 1 : 0,
    w: weight,
    balanced,
  };
}

function train(examples: Example[]): { w: Float64Array; d: Float64Array; b: number } {
  const w = new Float64Array(FEATURE_BUCKETS);
  const gw = new Float64Array(FEATURE_BUCKETS).fill(1e-8);
  const d = new Float64Array(DENSE_INPUTS.length);
  const gd = new Float64Array(DENSE_INPUTS.length).fill(1e-8);
  let b = 0;
  let gb = 1e-8;
  const pos = examples.reduce((n, e) => n + (e.y === 1 && e.balanced ? e.w : 0), 0);
  const total = examples.reduce((n, e) => n + (e.balanced ? e.w : 0), 0);
  const posWeight = (total - pos) / Math.max(1, pos);
  const order = examples.map((_, i) => i);
  const rand = mulberry32(0x5eed);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let loss = 0;
    for (const oi of order) {
      const e = examples[oi]!;
      let z = b;
      for (let k = 0; k < e.idx.length; k++) z += w[e.idx[k]!]! * e.val[k]!;
      for (let k = 0; k < d.length; k++) z += d[k]! * e.dense[k]!;
      const p = 1 / (1 + Math.exp(-z));
      const cw = (e.y === 1 && e.balanced ? posWeight : 1) * e.w;
      loss += cw * -Math.log(e.y === 1 ? Math.max(p, 1e-12) : Math.max(1 - p, 1e-12));
      const g = cw * (p - e.y);
      for (let k = 0; k < e.idx.length; k++) {
        const f = e.idx[k]!;
        const gf = g * e.val[k]! + L2 * w[f]!;
        gw[f]! += gf * gf;
        w[f]! -= (LEARNING_RATE * gf) / Math.sqrt(gw[f]!);
      }
      // Extra (composed) cases leave the signal inputs' weights to the corpus: their benign twins fire signals
      // (a fake turn, "system prompt", a delimiter) on purpose, and learning from them weakened those signals everywhere.
      for (let k = e.balanced ? 0 : CUE_OFFSET; k < d.length; k++) {
        const gf = g * e.dense[k]!;
        gd[k]! += gf * gf;
        d[k]! -= ((k >= CUE_OFFSET ? DENSE_LEARNING_RATE : LEARNING_RATE) * gf) / Math.sqrt(gd[k]!);
      }
      gb += g * g;
      b -= (LEARNING_RATE * g) / Math.sqrt(gb);
    }
    process.stderr.write(`epoch ${epoch + 1}/${EPOCHS}: weighted log loss ${(loss / examples.length).toFixed(4)}\n`);
  }
  return { w, d, b };
}

/**
 * Trains stage 2 on the same examples, seeded. `z1` is each example's uncalibrated stage-1 logit (as the runtime
 * computes it from the int8 weights). AdaGrad per weight, as stage 1; embedding rows touched only by the examples
 * that have their features.
 */
function trainStage2(examples: Example[], z1: Float64Array): Omit<Stage2File, 'scale' | 'embed' | 'dense' | 'calibration' | 'gate' | 'maxRaise'> & { embed: Float64Array; dense: Float64Array } {
  const H = S2_HIDDEN;
  const mask = (1 << S2_BITS) - 1;
  const D = DENSE_INPUTS.length;
  const rand = mulberry32(0x2d57a6e);
  const E = new Float64Array((1 << S2_BITS) * H);
  for (let i = 0; i < E.length; i++) E[i] = (rand() * 2 - 1) * 0.3;
  const gE = new Float64Array(E.length).fill(1e-8);
  const W = new Float64Array(D * H);
  for (let i = 0; i < W.length; i++) W[i] = (rand() * 2 - 1) * 0.3;
  const gW = new Float64Array(W.length).fill(1e-8);
  const b1 = new Float64Array(H);
  const gb1 = new Float64Array(H).fill(1e-8);
  const u = new Float64Array(H);
  for (let j = 0; j < H; j++) u[j] = (rand() * 2 - 1) / Math.sqrt(H);
  const gu = new Float64Array(H).fill(1e-8);
  let c = 0;
  let gc = 1e-8;
  let L = 1;
  let gL = 1e-8;
  // Features folded into the stage-2 rows, merged.
  const rows = examples.map((e) => {
    const m = new Map<number, number>();
    // Each distinct stage-1 bucket once (e.idx holds them), however often it occurs.
    const v = 1 / Math.sqrt(Math.max(e.idx.length, S2_MIN_FEATURES));
    for (let k = 0; k < e.idx.length; k++) m.set(e.idx[k]! & mask, (m.get(e.idx[k]! & mask) ?? 0) + v);
    const keys = [...m.keys()].sort((a, b) => a - b);
    return { idx: Int32Array.from(keys), val: Float64Array.from(keys.map((k) => m.get(k)!)) };
  });
  const pos = examples.reduce((n, e) => n + (e.y === 1 && e.balanced ? e.w : 0), 0);
  const total = examples.reduce((n, e) => n + (e.balanced ? e.w : 0), 0);
  const posWeight = (total - pos) / Math.max(1, pos);
  const order = examples.map((_, i) => i);
  const pre = new Float64Array(H);
  const dh = new Float64Array(H);
  for (let epoch = 0; epoch < S2_EPOCHS; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let loss = 0;
    for (const oi of order) {
      const e = examples[oi]!;
      const r = rows[oi]!;
      pre.set(b1);
      for (let k = 0; k < r.idx.length; k++) {
        const row = r.idx[k]! * H;
        const v = r.val[k]!;
        for (let j = 0; j < H; j++) pre[j]! += E[row + j]! * v;
      }
      for (let i = 0; i < D; i++) {
        const x = e.dense[i]!;
        if (x !== 0) for (let j = 0; j < H; j++) pre[j]! += W[i * H + j]! * x;
      }
      let z = c + L * z1[oi]!;
      for (let j = 0; j < H; j++) if (pre[j]! > 0) z += pre[j]! * u[j]!;
      const p = 1 / (1 + Math.exp(-z));
      const cw = (e.y === 1 && e.balanced ? posWeight : 1) * e.w;
      loss += cw * -Math.log(e.y === 1 ? Math.max(p, 1e-12) : Math.max(1 - p, 1e-12));
      const g = cw * (p - e.y);
      for (let j = 0; j < H; j++) {
        dh[j] = pre[j]! > 0 ? g * u[j]! : 0;
        if (pre[j]! > 0) {
          const gj = g * pre[j]! + S2_L2 * u[j]!;
          gu[j]! += gj * gj;
          u[j]! -= (S2_LR * gj) / Math.sqrt(gu[j]!);
        }
      }
      for (let k = 0; k < r.idx.length; k++) {
        const row = r.idx[k]! * H;
        const v = r.val[k]!;
        for (let j = 0; j < H; j++) {
          if (dh[j] === 0) continue;
          const gf = dh[j]! * v + S2_L2 * E[row + j]!;
          gE[row + j]! += gf * gf;
          E[row + j]! -= (S2_LR * gf) / Math.sqrt(gE[row + j]!);
        }
      }
      for (let i = 0; i < D; i++) {
        const x = e.dense[i]!;
        if (x === 0) continue;
        for (let j = 0; j < H; j++) {
          if (dh[j] === 0) continue;
          const gf = dh[j]! * x;
          gW[i * H + j]! += gf * gf;
          W[i * H + j]! -= (S2_LR * gf) / Math.sqrt(gW[i * H + j]!);
        }
      }
      for (let j = 0; j < H; j++) {
        if (dh[j] === 0) continue;
        gb1[j]! += dh[j]! * dh[j]!;
        b1[j]! -= (S2_LR * dh[j]!) / Math.sqrt(gb1[j]!);
      }
      gc += g * g;
      c -= (S2_LR * g) / Math.sqrt(gc);
      const gl = g * z1[oi]!;
      gL += gl * gl;
      L -= (S2_LR * gl) / Math.sqrt(gL);
    }
    process.stderr.write(`stage 2 epoch ${epoch + 1}/${S2_EPOCHS}: weighted log loss ${(loss / examples.length).toFixed(4)}, linear ${L.toFixed(3)}\n`);
  }
  return { bits: S2_BITS, hidden: H, minFeatures: S2_MIN_FEATURES, embed: E, dense: W, bias: Array.from(b1), out: Array.from(u), outBias: c, linear: L };
}

/** The runtime's score of each case (max over windows), through the scanner itself. */
function scores(model: InjectionModel, cases: Case[], source: InjectionSource): number[] {
  const scanner = createInjectionScanner({ model, source, threshold: 0, signalThreshold: 0.5 });
  return cases.map((c) => scanner.scan(c.text).reduce((m, r) => Math.max(m, r.score), 0));
}

const logit = (p: number): number => Math.log(p / (1 - p));

/** The lowest score threshold whose false-positive rate on `neg` is at most TARGET_FP. */
function operatingPoint(neg: number[]): number {
  const sorted = [...neg].sort((a, b) => b - a);
  const allowed = Math.floor(neg.length * TARGET_FP);
  // Strictly above the (allowed+1)-th highest negative score.
  const t = sorted[allowed] ?? 0;
  return Math.min(0.999, Math.max(0.001, t + 0.001));
}

function main(): void {
  const trainFile = join(dataDir, 'train.jsonl');
  const devFile = join(dataDir, 'dev.jsonl');
  if (!existsSync(trainFile) || !existsSync(devFile)) throw new Error(`no train.jsonl / dev.jsonl in ${dataDir} (use --data DIR)`);
  const extra = useExtra ? (readCases(EXTRA_FILE) as Array<Case & { split?: string }>) : [];
  const extraKinds = opt('--extra-kinds')[0]?.split(',') ?? DEFAULT_EXTRA_KINDS;
  const extraTrain = extra.filter((c) => c.split !== 'dev' && extraKinds.includes(c.kind ?? ''));
  const extraDev = extra.filter((c) => c.split === 'dev');
  const trainCases = [...readCases(trainFile), ...opt('--add').flatMap((f) => readCases(resolve(f))), ...extraTrain];
  const augmented = augmentQuoted(trainCases.filter((c) => c.label === 'injection').map((c) => c.text), mulberry32(0xa11ce));
  const short = shortRequests(mulberry32(0xb0b), 300);
  const defensive = DEFENSIVE > 0 ? defensiveRequests(mulberry32(0xdef), DEFENSIVE) : [];
  const jailbreaks = jailbreakCompositions(mulberry32(0x1a11b), JAILBREAKS);
  const framed = benignFramedRequests(mulberry32(0xf12a3e), Math.round(JAILBREAKS * 0.6));
  const harness = agentHarnessNotes(mulberry32(0xc0de), 120);
  const configLines = useStage2 ? shortConfigLines(mulberry32(0xc0f1), 300) : [];
  const plainHarmful = useStage2 || PLAIN_HARMFUL ? plainHarmfulRequests(mulberry32(0x9a1e), 200) : [];
  const all = [
    ...trainCases,
    ...augmented.map((text): Case => ({ text, label: 'benign', kind: 'quoted_attack_in_code' })),
    ...short.map((text): Case => ({ text, label: 'benign', kind: 'user_request' })),
    ...defensive.map((text): Case => ({ text, label: 'benign', kind: 'user_request' })),
    ...jailbreaks.map((text): Case => ({ text, label: 'injection', kind: 'roleplay_jailbreak' })),
    ...framed.map((text): Case => ({ text, label: 'benign', kind: 'roleplay_request' })),
    ...harness.map((text): Case => ({ text, label: 'benign', kind: 'agent_harness' })),
    ...configLines.map((text): Case => ({ text, label: 'benign', kind: 'config_line' })),
    ...plainHarmful.map((text): Case => ({ text, label: 'benign', kind: 'plain_harmful_request' })),
  ];
  // Held-out packages are measured even when the pool is not trained on (`--no-pool`), to compare the two.
  const pythonDir = POOL_PYTHON !== 'none' && existsSync(POOL_PYTHON) ? POOL_PYTHON : undefined;
  if (POOL_PYTHON !== 'none' && pythonDir === undefined) process.stderr.write(`pool: no Python library at ${POOL_PYTHON}; the weights will differ from the committed ones\n`);
  const pool = poolWindows(ROOT, { window: WINDOW, perFile: POOL_PER_FILE, perPackage: POOL_PER_PACKAGE, pythonDir });
  const poolTrain = pool.filter((p) => !isHeldOutPackage(p.package));
  const poolHeldOut = pool.filter((p) => isHeldOutPackage(p.package));
  const poolCases = (usePool ? poolTrain : []).map((p): Case => ({ text: p.text, label: 'benign', kind: 'package_file' }));
  all.push(...poolCases);
  const dev = readCases(devFile);
  process.stderr.write(`pool: ${poolCases.length} windows trained on, ${poolHeldOut.length} held out (${new Set(poolHeldOut.map((p) => p.package)).size} packages)\n`);
  process.stderr.write(`training on ${all.length} cases (${trainCases.length} incl. ${extraTrain.length} extra + ${augmented.length} quoted-in-code + ${short.length} short requests + ${defensive.length} defensive requests + ${jailbreaks.length} composed jailbreaks + ${framed.length} benign framed + ${harness.length} agent harness notes + ${configLines.length} config lines + ${plainHarmful.length} plain harmful requests), dev ${dev.length}\n`);
  const extraSet = new Set<Case>(extraTrain);
  const poolSet = new Set<Case>(poolCases);
  const examples = all.map((c) =>
    extraSet.has(c)
      ? toExample(c, EXTRA_WEIGHT * (SHARED_WORDING_KINDS.has(c.kind ?? '') ? SHARED_WORDING_WEIGHT : 1), false)
      : toExample(c, poolSet.has(c) ? POOL_WEIGHT : 1),
  );
  const { w, d, b } = train(examples);

  const raw: InjectionModel = decodeModel(encodeModel({ window: WINDOW, stride: STRIDE, minFeatures: MIN_FEATURES, bias: b, weights: w, dense: d, calibration: { direct: 0, indirect: 0 } }));
  const rawScores = scores(raw, dev, 'direct');
  const indirectNeg = rawScores.filter((_, i) => dev[i]!.label === 'benign' && isIndirectKind(dev[i]!.kind));
  const directT = operatingPoint(rawScores.filter((_, i) => dev[i]!.label === 'benign'));
  const indirectT = operatingPoint(indirectNeg.length > 0 ? indirectNeg : rawScores.filter((_, i) => dev[i]!.label === 'benign'));
  const stage1 = { window: WINDOW, stride: STRIDE, minFeatures: MIN_FEATURES, bias: b, weights: w, dense: d, calibration: { direct: -logit(directT), indirect: -logit(indirectT) } };
  let file = encodeModel(stage1);
  if (useStage2) {
    const logit1 = (q: InjectionModel, e: Example): number => {
      let z = q.bias;
      for (let k = 0; k < e.idx.length; k++) z += q.quantized[e.idx[k]!]! * q.scale * e.val[k]!;
      for (let k = 0; k < e.dense.length; k++) z += q.dense[k]! * e.dense[k]!;
      return z;
    };
    const z1 = new Float64Array(examples.length);
    if (S2_FOLDS > 1) {
      for (let f = 0; f < S2_FOLDS; f++) {
        const t = train(examples.filter((_, i) => i % S2_FOLDS !== f));
        const q = decodeModel(encodeModel({ ...stage1, bias: t.b, weights: t.w, dense: t.d }));
        examples.forEach((e, i) => {
          if (i % S2_FOLDS === f) z1[i] = logit1(q, e);
        });
      }
    } else {
      const q = decodeModel(file);
      examples.forEach((e, i) => (z1[i] = logit1(q, e)));
    }
    const t = trainStage2(examples, z1);
    const s2 = (calibration: Record<InjectionSource, number>): Stage2File =>
      encodeStage2({ ...t, gate: S2_GATE, maxRaise: S2_MAX_RAISE, bias: Float64Array.from(t.bias), out: Float64Array.from(t.out), calibration });
    // Each source's operating point on the cascade's own scores: windows under the gate keep stage 1's score.
    const uncal = decodeModel(encodeModel({ ...stage1, stage2: s2({ direct: 0, indirect: 0 }) }));
    const d2 = scores(uncal, dev, 'direct');
    const i2 = scores(uncal, dev, 'indirect');
    const neg2 = (xs: number[], keep: (c: Case) => boolean) => xs.filter((_, i) => dev[i]!.label === 'benign' && keep(dev[i]!));
    // Also at most 1 % on the coding-agent kinds: the cascade's few false positives fall on code and repository docs
    // more than stage 1's did (6 of 475 at the overall 1 % point, against 4).
    const dT = Math.max(operatingPoint(neg2(d2, () => true)), operatingPoint(neg2(d2, (c) => isCodingAgentKind(c.kind))));
    const iNeg = neg2(i2, (c) => isIndirectKind(c.kind));
    const iT = Math.max(operatingPoint(iNeg.length > 0 ? iNeg : neg2(i2, () => true)), operatingPoint(neg2(i2, (c) => isCodingAgentKind(c.kind))));
    file = encodeModel({ ...stage1, stage2: s2({ direct: -logit(dT), indirect: -logit(iT) }) });
  }
  const model = decodeModel(file);

  const direct = scores(model, dev, 'direct');
  const indirect = scores(model, dev, 'indirect');
  const report: ReturnType<typeof devReport> & { extra_dev?: unknown; pool_heldout?: unknown } = devReport(dev, direct.map((p) => p >= 0.5), indirect.map((p) => p >= 0.5));
  if (extraDev.length > 0) {
    // Held-out goals and documents of the extra classes, per kind, at the direct operating point (reported only).
    const xs = scores(model, extraDev, 'direct');
    const kinds = [...new Set(extraDev.map((c) => `${c.label}/${c.kind}`))].sort();
    report.extra_dev = Object.fromEntries(
      kinds.map((k) => {
        const sel = extraDev.map((c, i) => [c, xs[i]!] as const).filter(([c]) => `${c.label}/${c.kind}` === k);
        return [k, { cases: sel.length, flagged: Math.round((sel.filter(([, p]) => p >= 0.5).length / sel.length) * 1e4) / 1e4 }];
      }),
    );
  }
  if (poolHeldOut.length > 0) {
    // Whole files of packages never trained on, scanned as the gateway scans them (every window), at each scope's
    // operating point: the share of files a coding agent could send that would be flagged.
    const files = [...new Set(poolHeldOut.map((p) => p.file))];
    const cases = files.map((f): Case => ({ text: readFileSync(f, 'utf8'), label: 'benign', kind: /\.(md|markdown|txt|rst)$/i.test(f) ? 'doc' : f.endsWith('.py') ? 'python' : 'code' }));
    const round = (x: number) => Math.round(x * 1e4) / 1e4;
    const rate = (source: InjectionSource) => {
      const flagged = scores(model, cases, source).map((p) => p >= 0.5);
      const of = (kind: string) => {
        const sel = cases.map((c, i) => [c, flagged[i]!] as const).filter(([c]) => c.kind === kind);
        return { files: sel.length, flagged: round(sel.filter(([, f]) => f).length / Math.max(1, sel.length)) };
      };
      return { docs: of('doc'), code: of('code'), python: of('python') };
    };
    report.pool_heldout = { packages: new Set(poolHeldOut.map((p) => p.package)).size, direct: rate('direct'), indirect: rate('indirect') };
  }
  process.stderr.write(`${JSON.stringify(report, null, 2)}\n`);

  const src = [
    '// Generated by scripts/train-injection.ts (npm run train:injection): the prompt-injection classifier\'s weights.',
    '// Do not edit; retrain instead. Stage 1: int8 weights of the hashed features; stage 2: int8 embeddings and a hidden layer. base64.',
    "import { decodeModel, type InjectionModel, type InjectionModelFile } from './model.js';",
    '',
    `const FILE: InjectionModelFile = ${JSON.stringify(file)};`,
    '',
    'let cached: InjectionModel | undefined;',
    '',
    '/** The shipped model, decoded on first use (a few milliseconds) and shared by every scanner. */',
    'export function builtinInjectionModel(): InjectionModel {',
    '  return (cached ??= decodeModel(FILE));',
    '}',
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'model-weights.ts'), src);
  writeFileSync(join(outDir, 'model-metrics.json'), `${JSON.stringify(report, null, 2)}\n`);
  process.stderr.write(`wrote ${join(outDir, 'model-weights.ts')} and model-metrics.json\n`);
}

main();
