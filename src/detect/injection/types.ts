import type { Detector, DetectorMatch, NamedPattern } from '../types.js';
import type { InjectionModel, InjectionSource } from './model.js';
import type { Hit } from './scanner.js';

/** A scored region: type `PROMPT_INJECTION` or `INVISIBLE_UNICODE`; `rule` is the strongest signal's id. */
export interface InjectionMatch extends DetectorMatch {
  /** 0..1: 1 - Π(1 - w) over the strongest signal of each family in the region. */
  score: number;
  /** Ids of the signals in the region, strongest first (`encoded-*` marks a decoded run). */
  signals: string[];
}

export interface InjectionScannerOptions {
  /** 0..1, default 0.5: report only regions scoring at least this. */
  threshold?: number;
  /** Default true: decode base64 / hex / URL-encoded runs (>= 16 chars) and rescan the decoded text. */
  decodeBase64?: boolean;
  /** Default true: NFKC-style compatibility folding (fullwidth, mathematical letters, ligatures, diacritics). */
  normalizeUnicode?: boolean;
  /** Default true: fold Cyrillic/Greek look-alikes to ASCII inside mixed-script words before matching. */
  detectHomoglyphs?: boolean;
  /** Extra regular expressions from config (case-insensitive), each a strong signal named by its `name`. */
  attackPatterns?: NamedPattern[];
  /**
   * The trained classifier fused with the signals (default: the built-in model). `false` scores by the signals
   * alone, 1 - Π(1 - w) per region: what the scanner did before it had a model, kept for testing the signals.
   */
  model?: InjectionModel | false;
  /** Which calibration of the model applies: `direct` (user turns, the default) or `indirect` (tool output, files). */
  source?: InjectionSource;
  /**
   * With the model: signal-only regions scoring at least this (default: `threshold`) also count on their own, as a
   * noisy-OR with the model's probability. The trainer sets it apart from a threshold of 0 to read raw scores.
   */
  signalThreshold?: number;
}

export interface InjectionDetector extends Detector {
  scan(text: string): InjectionMatch[];
  /** The matching view and the raw signal hits (original offsets): the model's inputs, for the trainer. */
  analyze(text: string): { view: string; hits: Hit[] };
}
