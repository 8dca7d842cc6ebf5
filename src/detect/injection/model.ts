/**
 * The prompt-injection classifier, a two-stage cascade. Stage 1 is a logistic regression over the hashed features
 * of features.ts plus the signals of signals.ts as inputs (the strongest weight of each family in the window), so
 * the trained weights decide how much a rule's hit is worth next to the wording around it; it scores every window
 * from per-block sums and costs one table look-up per feature. Stage 2, a network with one hidden ReLU layer over
 * the same features (an embedding bag) and dense inputs, rescores only the windows stage 1 puts above a low gate:
 * it can weigh words together (a request for harmful output *and* a role-play frame; an instruction to the
 * assistant *inside* a document it is asked to summarise), which a sum of per-feature weights cannot. Trained by
 * scripts/train-injection.ts, shipped as model-weights.ts (int8 weights, base64) and decoded once per process.
 */
import type { SignalFamily } from './signals.js';
import { FEATURE_BITS } from './features.js';
import { CUE_INPUTS } from './cues.js';

/** Signal families that are model inputs, then "a decoded run hit". */
export const SIGNAL_INPUTS: readonly (Exclude<SignalFamily, 'custom'> | 'encoded')[] = [
  'override',
  'persona',
  'exfil-prompt',
  'template',
  'exfil-markdown',
  'agent-address',
  'agent-secrecy',
  'agent-action',
  'agent-exfil',
  'urgency',
  'encoded',
];

/**
 * Dense inputs besides the hashed features, in weight order: the signal inputs, then the word-cue inputs of
 * cues.ts (a model file without a name's weight gives it 0).
 */
export const DENSE_INPUTS: readonly string[] = [...SIGNAL_INPUTS, ...CUE_INPUTS];
/** Where the cue inputs start in DENSE_INPUTS. */
export const CUE_OFFSET = SIGNAL_INPUTS.length;

/** Where the scanned text came from; each has its own calibration offset (see scope.direct / scope.indirect). */
export type InjectionSource = 'direct' | 'indirect';

/** The format string of the committed file; decodeModel refuses any other. */
export const MODEL_FORMAT = 'keeptrusts-injection-cascade/2';

/** The committed stage-2 network. */
export interface Stage2File {
  /** A feature's embedding row is the low `bits` bits of its bucket. */
  bits: number;
  hidden: number;
  /**
   * The embedding bag sums the rows of the window's distinct features (a feature counts once however often it
   * occurs) and divides by sqrt(max(distinct features, minFeatures)). With counts, as stage 1 has them, a window of
   * one repeated line took the hidden units far past anything seen in training: 40 copies of a three-line function
   * scored 1.0. Short texts stay near the prior, as in stage 1.
   */
  minFeatures: number;
  /** Windows whose calibrated stage-1 logit is at least this are rescored by stage 2. */
  gate: number;
  /**
   * Stage 2's calibrated logit may exceed stage 1's by at most this much (it may lower a window's score freely). A
   * bound keeps text unlike stage 2's training data from being blocked by stage 2 alone; the trainer leaves it
   * effectively unbounded (100) because 0.75 and 1.5 cost dev recall without fixing the false positives measured.
   */
  maxRaise: number;
  /** int8 embeddings times `scale`; row-major, `hidden` per row, base64. */
  scale: number;
  embed: string;
  /** Per dense input (DENSE_INPUTS name), its weight into each hidden unit. */
  dense: Record<string, number[]>;
  bias: number[];
  out: number[];
  outBias: number;
  /** Weight of the (uncalibrated) stage-1 logit in the output: stage 2 corrects stage 1 rather than replacing it. */
  linear: number;
  /** Added to the stage-2 logit per source, so that 0.5 is each source's operating point on the dev split. */
  calibration: Record<InjectionSource, number>;
}

export interface Stage2 {
  bits: number;
  mask: number;
  hidden: number;
  minFeatures: number;
  gate: number;
  maxRaise: number;
  scale: number;
  embed: Int8Array;
  /** DENSE_INPUTS.length rows of `hidden`. */
  dense: Float64Array;
  bias: Float64Array;
  out: Float64Array;
  outBias: number;
  linear: number;
  calibration: Record<InjectionSource, number>;
}

/** The committed file's shape. */
export interface InjectionModelFile {
  format: typeof MODEL_FORMAT;
  featureBits: number;
  /** Texts up to `window` view characters are scored whole; longer ones in windows `stride` apart. */
  window: number;
  stride: number;
  /**
   * A window's feature sum is divided by sqrt(max(features, minFeatures)): a two-word text has too few features
   * to say much, so it stays near the prior instead of being decided by whichever n-grams it happens to have.
   */
  minFeatures: number;
  bias: number;
  /** int8 weights times `scale` are the hashed features' weights. */
  scale: number;
  weights: string;
  dense: Record<string, number>;
  /** Added to the stage-1 logit per source, so that 0.5 is each source's stage-1 operating point on the dev split. */
  calibration: Record<InjectionSource, number>;
  stage2: Stage2File | null;
}

export interface InjectionModel {
  window: number;
  stride: number;
  minFeatures: number;
  bias: number;
  weights: Float32Array;
  /** The same weights as stored: int8 steps of `scale`. Scoring sums these (a quarter of the memory traffic). */
  quantized: Int8Array;
  scale: number;
  dense: Float64Array;
  calibration: Record<InjectionSource, number>;
  stage2: Stage2 | null;
}

export function decodeModel(file: InjectionModelFile): InjectionModel {
  if (file.format !== MODEL_FORMAT) {
    throw new Error(`unknown injection model format ${JSON.stringify(String((file as { format?: unknown }).format))}: this scanner reads ${MODEL_FORMAT} (retrain with npm run train:injection)`);
  }
  if (file.featureBits !== FEATURE_BITS) throw new Error(`injection model has ${file.featureBits} feature bits, the scanner ${FEATURE_BITS}`);
  const bytes = Buffer.from(file.weights, 'base64');
  if (bytes.length !== 1 << FEATURE_BITS) throw new Error(`injection model has ${bytes.length} weights, expected ${1 << FEATURE_BITS}`);
  if (file.window !== 2 * file.stride || (file.stride & (file.stride - 1)) !== 0) throw new Error('injection model: window must be twice a power-of-two stride');
  const weights = new Float32Array(bytes.length);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < q.length; i++) weights[i] = q[i]! * file.scale;
  const dense = new Float64Array(DENSE_INPUTS.length);
  DENSE_INPUTS.forEach((k, i) => (dense[i] = file.dense[k] ?? 0));
  return {
    window: file.window,
    stride: file.stride,
    minFeatures: file.minFeatures,
    bias: file.bias,
    weights,
    quantized: q,
    scale: file.scale,
    dense,
    calibration: file.calibration,
    stage2: file.stage2 ? decodeStage2(file.stage2) : null,
  };
}

function decodeStage2(f: Stage2File): Stage2 {
  if (!(f.minFeatures >= 1)) throw new Error('injection model: stage 2 needs minFeatures of at least 1');
  if (!(f.bits >= 8 && f.bits <= FEATURE_BITS) || !(f.hidden >= 1 && f.hidden <= 256)) throw new Error(`injection model: stage 2 has ${f.bits} bits and ${f.hidden} hidden units`);
  const bytes = Buffer.from(f.embed, 'base64');
  if (bytes.length !== (1 << f.bits) * f.hidden) throw new Error(`injection model: stage 2 has ${bytes.length} embedding weights, expected ${(1 << f.bits) * f.hidden}`);
  if (f.bias.length !== f.hidden || f.out.length !== f.hidden) throw new Error('injection model: stage 2 bias and output need one weight per hidden unit');
  const dense = new Float64Array(DENSE_INPUTS.length * f.hidden);
  DENSE_INPUTS.forEach((k, i) => {
    const row = f.dense[k];
    if (row) for (let j = 0; j < f.hidden; j++) dense[i * f.hidden + j] = row[j] ?? 0;
  });
  return {
    bits: f.bits,
    mask: (1 << f.bits) - 1,
    hidden: f.hidden,
    minFeatures: f.minFeatures,
    gate: f.gate,
    maxRaise: f.maxRaise,
    scale: f.scale,
    embed: new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length),
    dense,
    bias: Float64Array.from(f.bias),
    out: Float64Array.from(f.out),
    outBias: f.outBias,
    linear: f.linear,
    calibration: f.calibration,
  };
}

/** Scratch for stage2Logit: which feature buckets the current window has seen (stamped, so never cleared). */
export class Stage2Scratch {
  acc: Int32Array;
  seen = new Int32Array(1 << FEATURE_BITS);
  stamp = 0;
  constructor(hidden: number) {
    this.acc = new Int32Array(hidden);
  }
}

/**
 * The stage-2 logit (without calibration) of a window with features `buckets[0..n)`, dense inputs `dense` and
 * uncalibrated stage-1 logit `z1`.
 */
export function stage2Logit(s: Stage2, buckets: Int32Array, n: number, dense: Float64Array, z1: number, scratch: Stage2Scratch): number {
  const H = s.hidden;
  const e = s.embed;
  const mask = s.mask;
  const acc = scratch.acc;
  const seen = scratch.seen;
  if (++scratch.stamp === 0x7fffffff) {
    seen.fill(0);
    scratch.stamp = 1;
  }
  const stamp = scratch.stamp;
  acc.fill(0, 0, H);
  let distinct = 0;
  for (let k = 0; k < n; k++) {
    const b = buckets[k]!;
    if (seen[b] === stamp) continue;
    seen[b] = stamp;
    distinct++;
    const row = (b & mask) * H;
    for (let j = 0; j < H; j++) acc[j] = acc[j]! + e[row + j]!;
  }
  const norm = distinct > 0 ? s.scale / Math.sqrt(Math.max(distinct, s.minFeatures)) : 0;
  let z = s.outBias + s.linear * z1;
  for (let j = 0; j < H; j++) {
    let pre = s.bias[j]! + acc[j]! * norm;
    for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) pre += dense[i]! * s.dense[i * H + j]!;
    if (pre > 0) z += pre * s.out[j]!;
  }
  return z;
}

/** Quantises trained weights into the committed file. */
export function encodeModel(m: Omit<InjectionModel, 'weights' | 'quantized' | 'scale' | 'stage2'> & { weights: Float64Array | Float32Array; stage2?: Stage2File | null }): InjectionModelFile {
  let max = 0;
  for (const w of m.weights) max = Math.max(max, Math.abs(w));
  const scale = max > 0 ? max / 127 : 1;
  const q = new Int8Array(m.weights.length);
  for (let i = 0; i < q.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(m.weights[i]! / scale)));
  const dense: Record<string, number> = {};
  DENSE_INPUTS.forEach((k, i) => (dense[k] = round6(m.dense[i]!)));
  return {
    format: MODEL_FORMAT,
    featureBits: FEATURE_BITS,
    window: m.window,
    stride: m.stride,
    minFeatures: m.minFeatures,
    bias: round6(m.bias),
    scale,
    weights: Buffer.from(q.buffer).toString('base64'),
    dense,
    calibration: { direct: round6(m.calibration.direct), indirect: round6(m.calibration.indirect) },
    stage2: m.stage2 ?? null,
  };
}

/** Quantises a trained stage-2 network (`embed`: 2^bits rows of `hidden`; `dense`: DENSE_INPUTS rows). */
export function encodeStage2(s: Omit<Stage2, 'mask' | 'scale' | 'embed' | 'dense'> & { embed: Float64Array; dense: Float64Array }): Stage2File {
  let max = 0;
  for (const w of s.embed) max = Math.max(max, Math.abs(w));
  const scale = max > 0 ? max / 127 : 1;
  const q = new Int8Array(s.embed.length);
  for (let i = 0; i < q.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(s.embed[i]! / scale)));
  const dense: Record<string, number[]> = {};
  DENSE_INPUTS.forEach((k, i) => (dense[k] = Array.from(s.dense.subarray(i * s.hidden, (i + 1) * s.hidden), round6)));
  return {
    bits: s.bits,
    hidden: s.hidden,
    minFeatures: s.minFeatures,
    gate: s.gate,
    maxRaise: s.maxRaise,
    scale,
    embed: Buffer.from(q.buffer).toString('base64'),
    dense,
    bias: Array.from(s.bias, round6),
    out: Array.from(s.out, round6),
    outBias: round6(s.outBias),
    linear: round6(s.linear),
    calibration: { direct: round6(s.calibration.direct), indirect: round6(s.calibration.indirect) },
  };
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
