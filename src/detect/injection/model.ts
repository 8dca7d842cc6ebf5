/**
 * The prompt-injection classifier: a logistic regression over the hashed features of features.ts plus the
 * signals of signals.ts as inputs (the strongest weight of each family in the window), so the trained weights
 * decide how much a rule's hit is worth next to the wording around it. Trained by scripts/train-injection.ts,
 * shipped as model-weights.ts (int8 weights, base64) and decoded once per process.
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

/** The committed file's shape. */
export interface InjectionModelFile {
  format: 'keeptrusts-injection-linear/1';
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
  /** Added to the logit per source, so that 0.5 is each source's operating point on the dev split. */
  calibration: Record<InjectionSource, number>;
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
}

export function decodeModel(file: InjectionModelFile): InjectionModel {
  if (file.format !== 'keeptrusts-injection-linear/1') throw new Error(`unknown injection model format ${String(file.format)}`);
  if (file.featureBits !== FEATURE_BITS) throw new Error(`injection model has ${file.featureBits} feature bits, the scanner ${FEATURE_BITS}`);
  const bytes = Buffer.from(file.weights, 'base64');
  if (bytes.length !== 1 << FEATURE_BITS) throw new Error(`injection model has ${bytes.length} weights, expected ${1 << FEATURE_BITS}`);
  if (file.window !== 2 * file.stride || (file.stride & (file.stride - 1)) !== 0) throw new Error('injection model: window must be twice a power-of-two stride');
  const weights = new Float32Array(bytes.length);
  const q = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < q.length; i++) weights[i] = q[i]! * file.scale;
  const dense = new Float64Array(DENSE_INPUTS.length);
  DENSE_INPUTS.forEach((k, i) => (dense[i] = file.dense[k] ?? 0));
  return { window: file.window, stride: file.stride, minFeatures: file.minFeatures, bias: file.bias, weights, quantized: q, scale: file.scale, dense, calibration: file.calibration };
}

/** Quantises trained weights into the committed file. */
export function encodeModel(m: Omit<InjectionModel, 'weights' | 'quantized' | 'scale'> & { weights: Float64Array | Float32Array }): InjectionModelFile {
  let max = 0;
  for (const w of m.weights) max = Math.max(max, Math.abs(w));
  const scale = max > 0 ? max / 127 : 1;
  const q = new Int8Array(m.weights.length);
  for (let i = 0; i < q.length; i++) q[i] = Math.max(-127, Math.min(127, Math.round(m.weights[i]! / scale)));
  const dense: Record<string, number> = {};
  DENSE_INPUTS.forEach((k, i) => (dense[k] = round6(m.dense[i]!)));
  return {
    format: 'keeptrusts-injection-linear/1',
    featureBits: FEATURE_BITS,
    window: m.window,
    stride: m.stride,
    minFeatures: m.minFeatures,
    bias: round6(m.bias),
    scale,
    weights: Buffer.from(q.buffer).toString('base64'),
    dense,
    calibration: { direct: round6(m.calibration.direct), indirect: round6(m.calibration.indirect) },
  };
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
