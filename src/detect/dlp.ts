import {
  type Candidate,
  compileCustomPatterns,
  CUSTOM_PATTERN_MAX_MATCH,
  escapeRegex,
  resolveOverlaps,
  scanCustom,
  trieSource,
} from './pii/shared.js';
import type { Detector, DetectorMatch, NamedPattern } from './types.js';

export interface DlpScannerOptions {
  /** Custom patterns; type = name upper-cased with non-alphanumerics → `_`. An invalid regex throws. */
  detectPatterns?: NamedPattern[];
  /** Words or phrases, matched case-insensitively on Unicode word boundaries (`BLOCKED_TERM`). */
  blockedTerms?: string[];
  /** Also match blocked terms of 4+ characters within `maxDistance` edits (typos, obfuscation). */
  fuzzyMatching?: boolean;
  /** 0..8 Levenshtein edits for fuzzy matches (default 1); capped per term at a third of its length. */
  maxDistance?: number;
  /** `high` adds CONFIDENTIAL-style markers; `restricted` also INTERNAL ONLY, DO NOT DISTRIBUTE, banners, … */
  sensitivityLevel?: 'standard' | 'high' | 'restricted';
}

/**
 * Rule ids: `blocked-term`, `blocked-term-fuzzy` (type `BLOCKED_TERM`; the term itself is config, and the
 * matched span says which text it was); `marker-*` (type `CLASSIFICATION_MARKER`); `custom:<name>`.
 */
export const DLP_TYPES: readonly string[] = Object.freeze(['BLOCKED_TERM', 'CLASSIFICATION_MARKER']);

/** Overlap preference, lower wins. */
const PRIORITY = { custom: 0, term: 1, marker: 2, fuzzy: 3 } as const;

/** Longest whitespace run accepted between the words of a multi-word term or marker. */
const MAX_GAP = 16;
/** Word characters for boundaries and fuzzy tokenisation: letters, marks, numbers (and `_` for boundaries). */
const WORD_CLASS = '\\p{L}\\p{M}\\p{N}';
const GAP_SOURCE = `\\s{1,${MAX_GAP}}`;

interface Marker {
  rule: string;
  phrase: string;
  level: 'high' | 'restricted';
}

const MARKERS: readonly Marker[] = [
  { rule: 'marker-strictly-confidential', phrase: 'strictly confidential', level: 'high' },
  { rule: 'marker-confidential', phrase: 'confidential', level: 'high' },
  { rule: 'marker-proprietary', phrase: 'proprietary', level: 'high' },
  { rule: 'marker-trade-secret', phrase: 'trade secret', level: 'high' },
  { rule: 'marker-trade-secret', phrase: 'trade secrets', level: 'high' },
  { rule: 'marker-company-confidential', phrase: 'company confidential', level: 'restricted' },
  { rule: 'marker-internal-only', phrase: 'internal only', level: 'restricted' },
  { rule: 'marker-internal-use-only', phrase: 'internal use only', level: 'restricted' },
  { rule: 'marker-internal-use-only', phrase: 'for internal use only', level: 'restricted' },
  { rule: 'marker-do-not-distribute', phrase: 'do not distribute', level: 'restricted' },
  { rule: 'marker-not-for-distribution', phrase: 'not for distribution', level: 'restricted' },
  { rule: 'marker-restricted', phrase: 'restricted', level: 'restricted' },
  { rule: 'marker-top-secret', phrase: 'top secret', level: 'restricted' },
];

/** Every classification phrase, for tests that feed the scanner its own vocabulary. */
export const DLP_MARKER_PHRASES: readonly string[] = Object.freeze(MARKERS.map((m) => m.phrase));

/**
 * US-style classification banners and portion marks: `SECRET//NOFORN`, `TOP SECRET//SCI//REL TO USA, GBR`,
 * `UNCLASSIFIED//FOUO`, `(S//NF)`, `(TS//SI)`. Upper-case only: real markings are, and a case-insensitive
 * `secret//` would fire on code comments (`let secret // the key`).
 */
const BANNER_SOURCE =
  `(?<![${WORD_CLASS}_/])(?:TOP[ ]SECRET|SECRET|CONFIDENTIAL|RESTRICTED|UNCLASSIFIED|CUI)(?://[A-Z][A-Z0-9]*(?:[ ,\\-]{1,2}[A-Z0-9]+){0,6}){1,4}(?![${WORD_CLASS}_])` +
  `|\\((?:TS|S|C|U|R|CUI)//[A-Z][A-Z0-9]*(?:[ ,/\\-]{1,2}[A-Z0-9]+){0,6}\\)`;
const BANNER_MAX = 4 * (3 + 6 * 12) + 12;

const WORD_CHAR = new RegExp(`[${WORD_CLASS}]`, 'u');

function isWordCp(cp: number | undefined): boolean {
  if (cp === undefined) return false;
  if (cp < 128) return (cp >= 48 && cp <= 57) || (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) || cp === 95;
  return WORD_CHAR.test(String.fromCodePoint(cp));
}
function cpBefore(text: string, i: number): number | undefined {
  if (i <= 0) return undefined;
  const lo = text.charCodeAt(i - 1);
  if (lo >= 0xdc00 && lo <= 0xdfff && i >= 2) {
    const hi = text.charCodeAt(i - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return text.codePointAt(i - 2);
  }
  return lo;
}
function cpAt(text: string, i: number): number | undefined {
  return i < text.length ? text.codePointAt(i) : undefined;
}

/**
 * Unicode-aware word boundaries: `text[start, end)` does not continue a word on either side. Only checked on
 * a side where the match itself has a word character (a term like `#secret` or `C++` has no boundary there),
 * and not for scripts written without spaces (a Chinese or Japanese term matches inside a sentence).
 */
function bounded(text: string, start: number, end: number): boolean {
  const first = cpAt(text, start);
  if (isWordCp(first) && !isUnspaced(first!) && isWordCp(cpBefore(text, start))) return false;
  const last = cpBefore(text, end);
  if (isWordCp(last) && !isUnspaced(last!) && isWordCp(cpAt(text, end))) return false;
  return true;
}

/** Scripts written without spaces between words: a term ending in one of them needs no boundary on that side. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
function isUnspaced(cp: number): boolean {
  return cp >= 0x0e00 && UNSPACED.test(String.fromCodePoint(cp));
}

/**
 * The longest of `stickies` (sticky regexes, longest phrase first) that matches at `at` and is word-bounded;
 * used when the combined regex's greedy choice at a position fails the boundary check ("foo bar" in
 * "foo barn" while "foo" alone would do).
 */
function boundedAt(text: string, at: number, stickies: readonly RegExp[]): number | undefined {
  for (const re of stickies) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (m && m[0].length > 0 && bounded(text, at, at + m[0].length)) return at + m[0].length;
  }
  return undefined;
}

/**
 * Levenshtein distance between `a` and `b` if it is at most `max`, else `max + 1`. Banded (only cells within
 * `max` of the diagonal) with an early exit once a whole row exceeds `max`: O(len × (2·max + 1)).
 */
let rowA = new Int32Array(64);
let rowB = new Int32Array(64);

export function boundedLevenshtein(a: string, b: string, max: number): number {
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > max) return max + 1;
  if (la === 0 || lb === 0) return Math.max(la, lb);
  if (rowA.length <= lb) {
    rowA = new Int32Array(lb * 2 + 2);
    rowB = new Int32Array(lb * 2 + 2);
  }
  const inf = max + 1;
  let prev = rowA;
  let cur = rowB;
  for (let j = 0; j <= lb; j++) prev[j] = j <= max ? j : inf;
  for (let i = 1; i <= la; i++) {
    const lo = i - max > 1 ? i - max : 1;
    const hi = i + max < lb ? i + max : lb;
    cur[0] = i <= max ? i : inf;
    if (lo > 1) cur[lo - 1] = inf;
    let rowMin = cur[0]!;
    const ca = a.charCodeAt(i - 1);
    for (let j = lo; j <= hi; j++) {
      let v = prev[j - 1]! + (ca === b.charCodeAt(j - 1) ? 0 : 1);
      const del = prev[j]! + 1;
      const ins = cur[j - 1]! + 1;
      if (del < v) v = del;
      if (ins < v) v = ins;
      if (v > inf) v = inf;
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (hi < lb) cur[hi + 1] = inf;
    if (rowMin > max) return inf;
    const t = prev;
    prev = cur;
    cur = t;
  }
  const d = prev[lb]!;
  return d > max ? inf : d;
}

interface FuzzyTerm {
  norm: string;
  /** Allowed edits for this term. */
  max: number;
  /** Which characters occur (see charMask): a term and a candidate whose masks differ in more than `max` bits cannot be within `max` edits. */
  mask: number;
}

/** Bit per lowercase ASCII letter, one for digits, one for anything else. */
function charBit(c: number): number {
  if (c >= 97 && c <= 122) return 1 << (c - 97);
  if (c >= 65 && c <= 90) return 1 << (c - 65);
  if (c >= 48 && c <= 57) return 1 << 26;
  return c === 32 ? 0 : 1 << 27;
}
function charMask(s: string): number {
  let m = 0;
  for (let i = 0; i < s.length; i++) m |= charBit(s.charCodeAt(i));
  return m;
}
function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Non-ASCII word-character lookups, cached per UTF-16 unit (0 unknown, 1 word, 2 not). */
const NON_ASCII_WORD = new Uint8Array(65536);
function isWordUnit(c: number): boolean {
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  // Surrogates: judge the pair by its high half's plane (letters outside the BMP are rare; count them as word).
  if (c >= 0xd800 && c <= 0xdfff) return true;
  let v = NON_ASCII_WORD[c]!;
  if (v === 0) NON_ASCII_WORD[c] = v = WORD_CHAR.test(String.fromCharCode(c)) ? 1 : 2;
  return v === 1;
}

/** Allowed edits for a term: the configured distance, but never more than a third of the term's length. */
export function fuzzyBudget(termLength: number, maxDistance: number): number {
  return Math.min(maxDistance, Math.max(1, Math.floor(termLength / 3)));
}

const MIN_FUZZY_LENGTH = 4;

/** Lowercase, and NFC only when needed (ASCII is already normalised). */
function normalizeWord(w: string): string {
  const l = w.toLowerCase();
  return /[^\x00-\x7f]/.test(l) ? l.normalize('NFC') : l;
}

export function createDlpScanner(opts: DlpScannerOptions = {}): Detector {
  const level = opts.sensitivityLevel ?? 'standard';
  if (!['standard', 'high', 'restricted'].includes(level)) throw new Error(`unknown sensitivity level "${String(level)}"`);
  const maxDistance = opts.maxDistance ?? 1;
  if (!Number.isInteger(maxDistance) || maxDistance < 0 || maxDistance > 8) throw new Error(`maxDistance must be an integer from 0 to 8, got ${maxDistance}`);
  const custom = compileCustomPatterns(opts.detectPatterns);

  // ---- blocked terms: one case-insensitive trie regex, boundaries checked in code --------------------------
  const terms = [...new Set((opts.blockedTerms ?? []).map((t) => t.trim().replace(/\s+/g, ' ')).filter((t) => t !== ''))];
  const lowered = [...new Set(terms.map((t) => t.toLowerCase()))];
  const termRe = lowered.length > 0 ? new RegExp(trieSource(lowered, GAP_SOURCE), 'giu') : undefined;
  const termStickies = [...lowered]
    .sort((a, b) => b.length - a.length)
    .map((t) => new RegExp(t.split(' ').map(escapeRegex).join(GAP_SOURCE), 'iuy'));

  // ---- fuzzy: terms grouped by word count, then by normalised length -----------------------------------------
  const fuzzyByWords = new Map<number, { byLen: Map<number, FuzzyTerm[]>; byLenArray: Array<FuzzyTerm[] | undefined>; minLen: number; maxLen: number }>();
  let fuzzyMaxLen = 0;
  if (opts.fuzzyMatching) {
    for (const t of lowered) {
      // Tokenised like the text (punctuation separates words), so "acme-corp" compares with "acme corp".
      const norm = (normalizeWord(t).match(new RegExp(`[${WORD_CLASS}]+`, 'gu')) ?? []).join(' ');
      if ([...norm].length < MIN_FUZZY_LENGTH) continue;
      const words = norm.split(' ').length;
      const max = fuzzyBudget([...norm].length, maxDistance);
      let group = fuzzyByWords.get(words);
      if (!group) fuzzyByWords.set(words, (group = { byLen: new Map(), byLenArray: [], minLen: Infinity, maxLen: 0 }));
      const list = group.byLen.get(norm.length) ?? [];
      if (!list.some((x) => x.norm === norm)) list.push({ norm, max, mask: charMask(norm) });
      group.byLen.set(norm.length, list);
      group.minLen = Math.min(group.minLen, norm.length);
      group.maxLen = Math.max(group.maxLen, norm.length);
      fuzzyMaxLen = Math.max(fuzzyMaxLen, norm.length + max + (words - 1) * MAX_GAP);
    }
    for (const group of fuzzyByWords.values()) for (const [len, list] of group.byLen) group.byLenArray[len] = list;
  }
  const fuzzyBand = maxDistance;

  // ---- classification markers --------------------------------------------------------------------------------
  const markers = MARKERS.filter((m) => level === 'restricted' || (level === 'high' && m.level === 'high'));
  const markerRule = new Map(markers.map((m) => [m.phrase.replace(/ /g, ''), m.rule]));
  const markerRe =
    markers.length > 0 ? new RegExp(trieSource(markers.map((m) => m.phrase), `(?:[ \\t]{1,${MAX_GAP}}|\\r?\\n[ \\t]{0,${MAX_GAP}}|-)`), 'giu') : undefined;
  const bannerRe = level === 'restricted' ? new RegExp(BANNER_SOURCE, 'gu') : undefined;

  let maxMatchLength = 0;
  for (const t of terms) maxMatchLength = Math.max(maxMatchLength, t.length + (t.split(' ').length - 1) * (MAX_GAP - 1));
  maxMatchLength = Math.max(maxMatchLength, fuzzyMaxLen);
  for (const m of markers) maxMatchLength = Math.max(maxMatchLength, m.phrase.length + (m.phrase.split(' ').length - 1) * (MAX_GAP + 1));
  if (bannerRe) maxMatchLength = Math.max(maxMatchLength, BANNER_MAX);
  if (custom.length > 0) maxMatchLength = Math.max(maxMatchLength, CUSTOM_PATTERN_MAX_MATCH);
  // Only multi-word terms, markers and banners can contain whitespace (streaming holds a run without whitespace
  // until it ends), so they alone size the ordinary stream window.
  let maxSpacedMatchLength = 0;
  for (const t of terms) if (t.includes(' ')) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, t.length + (t.split(' ').length - 1) * (MAX_GAP - 1));
  for (const group of fuzzyByWords.entries()) {
    if (group[0] > 1) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, group[1].maxLen + maxDistance + (group[0] - 1) * MAX_GAP);
  }
  for (const m of markers) {
    if (m.phrase.includes(' ')) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, m.phrase.length + (m.phrase.split(' ').length - 1) * (MAX_GAP + 1));
  }
  if (bannerRe) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, BANNER_MAX);
  if (custom.length > 0) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, CUSTOM_PATTERN_MAX_MATCH);

  function scanTerms(text: string, out: Candidate[]): void {
    if (!termRe) return;
    termRe.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = termRe.exec(text)) !== null) {
      const start = m.index;
      const end = start + m[0].length;
      if (bounded(text, start, end)) {
        out.push({ type: 'BLOCKED_TERM', rule: 'blocked-term', start, end, priority: PRIORITY.term });
        continue;
      }
      const shorter = boundedAt(text, start, termStickies);
      if (shorter !== undefined) {
        out.push({ type: 'BLOCKED_TERM', rule: 'blocked-term', start, end: shorter, priority: PRIORITY.term });
        termRe.lastIndex = shorter;
      } else termRe.lastIndex = start + 1;
    }
  }

  function scanFuzzy(text: string, out: Candidate[]): void {
    if (fuzzyByWords.size === 0) return;
    // Words (runs of letters, marks and digits) as spans; `_` and punctuation separate words.
    const starts: number[] = [];
    const ends: number[] = [];
    const masks: number[] = [];
    /** Words with non-ASCII characters, whose lowercased NFC form may differ in length and letters. */
    const wide: boolean[] = [];
    for (let i = 0, n = text.length; i < n; ) {
      let c = text.charCodeAt(i);
      if (!isWordUnit(c)) {
        i++;
        continue;
      }
      const s = i;
      let mask = 0;
      let high = false;
      do {
        mask |= charBit(c);
        if (c >= 128) high = true;
        c = text.charCodeAt(++i);
      } while (i < n && isWordUnit(c));
      starts.push(s);
      ends.push(i);
      masks.push(mask);
      wide.push(high);
    }
    const count = starts.length;
    const lower = new Array<string | undefined>(count);
    const word = (j: number): string => (lower[j] ??= normalizeWord(text.slice(starts[j]!, ends[j]!)));
    for (const [k, group] of fuzzyByWords) {
      for (let i = 0; i + k <= count; i++) {
        // Cheap length bound before building the candidate (words joined by single spaces).
        let len = k - 1;
        let close = true;
        let anyWide = false;
        for (let j = i; j < i + k; j++) {
          len += ends[j]! - starts[j]!;
          if (j > i && starts[j]! - ends[j - 1]! > MAX_GAP) close = false;
          if (wide[j]) anyWide = true;
        }
        if (!close) continue;
        let candidate: string | undefined;
        // Which characters occur: each character a term has and the window lacks (or the reverse) costs at
        // least one edit, so most windows are rejected here without building a string.
        let mask = 0;
        if (anyWide) {
          // Lowercasing and NFC can change the length and the letters: measure the normalised candidate.
          candidate = word(i);
          for (let j = i + 1; j < i + k; j++) candidate += ' ' + word(j);
          len = candidate.length;
          mask = charMask(candidate);
        } else for (let j = i; j < i + k; j++) mask |= masks[j]!;
        if (len < group.minLen - fuzzyBand || len > group.maxLen + fuzzyBand) continue;
        let hit = false;
        const byLen = group.byLenArray;
        const lHi = Math.min(len + fuzzyBand, byLen.length - 1);
        for (let l = Math.max(0, len - fuzzyBand); l <= lHi && !hit; l++) {
          const list = byLen[l];
          if (!list) continue;
          for (const t of list) {
            if (Math.abs(l - len) > t.max) continue;
            if (popcount(t.mask & ~mask) > t.max || popcount(mask & ~t.mask) > t.max) continue;
            if (candidate === undefined) {
              candidate = word(i);
              for (let j = i + 1; j < i + k; j++) candidate += ' ' + word(j);
            }
            if (boundedLevenshtein(candidate, t.norm, t.max) <= t.max) {
              hit = true;
              break;
            }
          }
        }
        if (hit) out.push({ type: 'BLOCKED_TERM', rule: 'blocked-term-fuzzy', start: starts[i]!, end: ends[i + k - 1]!, priority: PRIORITY.fuzzy });
      }
    }
  }

  function scanMarkers(text: string, out: Candidate[]): void {
    let m: RegExpExecArray | null;
    if (markerRe) {
      markerRe.lastIndex = 0;
      while ((m = markerRe.exec(text)) !== null) {
        const start = m.index;
        const end = start + m[0].length;
        if (!bounded(text, start, end)) {
          markerRe.lastIndex = start + 1;
          continue;
        }
        const rule = markerRule.get(m[0].toLowerCase().replace(/[\s-]+/g, '')) ?? 'marker';
        out.push({ type: 'CLASSIFICATION_MARKER', rule, start, end, priority: PRIORITY.marker });
      }
    }
    if (bannerRe) {
      bannerRe.lastIndex = 0;
      while ((m = bannerRe.exec(text)) !== null) {
        const rule = m[0].startsWith('(') ? 'marker-portion' : 'marker-classification-banner';
        // A banner contains a plain marker ("SECRET//NOFORN"): the banner wins as the longer span.
        out.push({ type: 'CLASSIFICATION_MARKER', rule, start: m.index, end: m.index + m[0].length, priority: PRIORITY.marker });
      }
    }
  }

  return {
    maxMatchLength,
    maxSpacedMatchLength,
    scan(text: string): DetectorMatch[] {
      const out: Candidate[] = [];
      if (custom.length > 0) scanCustom(custom, text, out, PRIORITY.custom);
      scanTerms(text, out);
      scanMarkers(text, out);
      scanFuzzy(text, out);
      return resolveOverlaps(out);
    },
  };
}
