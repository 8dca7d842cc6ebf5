/**
 * Hashed features of the prompt-injection classifier, shared by the trainer (scripts/train-injection.ts) and the
 * scanner, so that training and scoring cannot drift apart. One pass over the matching view (normalize.ts):
 * character 3-, 4- and 5-grams (case and digits folded, whitespace runs collapsed: works for any script without
 * a tokenizer), word unigrams and bigrams, and a little structure. Words inside a quoted string on their line get
 * their own buckets, so the model can learn that `"ignore previous instructions"` in a test fixture is data while
 * the same words in prose are an instruction; lines that read as code (ending in `;`, `{`, `}`, `(`, `)` or `,`)
 * add a feature. Every feature carries the view offset where it ends, so any window's features are a contiguous
 * run of the arrays and a window's score is a difference of prefix sums: linear time however windows overlap.
 */

import { CUE_LEXICON, CUE_SOUP, soupLine } from './cues.js';

/** Buckets of the hashed feature space: a power of two. */
export const FEATURE_BITS = 18;
export const FEATURE_BUCKETS = 1 << FEATURE_BITS;
const MASK = FEATURE_BUCKETS - 1;

const P = 0x01000193;
const P2 = Math.imul(P, P);
const P3 = Math.imul(P2, P);
const P4 = Math.imul(P3, P);
const SALT3 = 0x3c6ef372;
const SALT4 = 0xa54ff53a;
const SALT5 = 0x510e527f;
const SALT_W1 = 0x9b05688c;
const SALT_W2 = 0x1f83d9ab;
const SALT_QUOTED = 0x5be0cd19;
const CODE_LINE_BUCKET = fmix(0x6a09e667) & MASK;
const BIGRAM_MUL = 0x2545f491;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** Lower case for the Latin, Greek and Cyrillic blocks (the scripts with case); other code units stay. */
const LOWER = new Uint16Array(0x0530);
for (let c = 0; c < LOWER.length; c++) {
  const l = String.fromCharCode(c).toLowerCase();
  LOWER[c] = l.length === 1 ? l.charCodeAt(0) : c;
}

/** Cue categories (cues.ts bits) of the word and word-pair buckets of the cue lexicons, quoted or not. */
const CUE_TABLE = new Uint8Array(FEATURE_BUCKETS);
{
  const wordHash = (w: string): number => {
    let h = 0;
    for (let i = 0; i < w.length; i++) {
      const c = w.charCodeAt(i);
      h = Math.imul(h ^ (c < 0x530 ? LOWER[c]! : c), P);
    }
    return h;
  };
  for (const [bit, entries] of CUE_LEXICON) {
    for (const entry of entries) {
      const words = entry.split(' ').map(wordHash);
      for (const salt of [0, SALT_QUOTED]) {
        const b = words.length === 1 ? fmix(words[0]! ^ SALT_W1 ^ salt) & MASK : fmix(Math.imul(words[0]!, BIGRAM_MUL) ^ words[1]! ^ SALT_W2 ^ salt) & MASK;
        CUE_TABLE[b]! |= bit;
      }
    }
  }
}

/** Letters and digits of any script; ASCII punctuation, general punctuation and CJK punctuation are not. */
function isWordUnit(c: number): boolean {
  if (c < 0x80) return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  if (c < 0xc0) return false;
  if (c >= 0x2000 && c <= 0x2bff) return false;
  if (c >= 0x3000 && c <= 0x303f) return false;
  if (c >= 0xfe30 && c <= 0xfe4f) return false;
  if (c >= 0xff00 && c <= 0xff0f) return false;
  return true;
}

/** Growable feature arrays, reused between calls (the scanner keeps one per instance). */
export class FeatureBuffer {
  bucket = new Int32Array(4096);
  pos = new Int32Array(4096);
  length = 0;
  /** Cue words (cues.ts): category bits and the view offset where each ends, in order. */
  cueBits = new Uint8Array(256);
  cuePos = new Int32Array(256);
  cueLength = 0;

  pushCue(bits: number, at: number): void {
    if (this.cueLength === this.cueBits.length) {
      const b = new Uint8Array(this.cueLength * 2);
      b.set(this.cueBits);
      this.cueBits = b;
      const p = new Int32Array(this.cueLength * 2);
      p.set(this.cuePos);
      this.cuePos = p;
    }
    this.cueBits[this.cueLength] = bits;
    this.cuePos[this.cueLength++] = at;
  }

  /** Makes room for `size` features, keeping the first `length`. */
  reserve(size: number): void {
    if (size <= this.bucket.length) return;
    const cap = Math.max(size, this.bucket.length * 2);
    const b = new Int32Array(cap);
    b.set(this.bucket.subarray(0, this.length));
    this.bucket = b;
    const p = new Int32Array(cap);
    p.set(this.pos.subarray(0, this.length));
    this.pos = p;
  }
}

/**
 * Per-block sums for scoring: instead of listing the features, extractFeatures adds each feature's int8 weight
 * `q[bucket]` to `sums[block]` and counts it in `counts[block]`, where a feature ending at view offset p is in block
 * (p - 1) >> shift. The scanner only needs these sums, so it writes no feature lists at all.
 */
export interface BlockSums {
  q: Int8Array;
  shift: number;
  sums: Int32Array;
  counts: Int32Array;
}

/**
 * Fills `out` with the features of `text` (a matching view), in order of their (non-decreasing) offsets, or, given
 * `acc`, adds them to its block sums (out.length is then the feature count). Cue words go to `out` either way.
 */
export function extractFeatures(text: string, out: FeatureBuffer, acc?: BlockSums): void {
  if (acc) hashFeatures(text, out, acc);
  else listFeatures(text, out);
  markSoup(text, out);
}

/**
 * The per-character loop of extractFeatures, in a function of its own that ends with the loop. V8 compiles a loop
 * this long on its first call (on-stack replacement), before markSoup has ever run; with markSoup inlined after the
 * loop, that code gave up at markSoup's first line on every later call, so each scan paid a deoptimisation and ran
 * the rest unoptimised: 7.1 instead of about 4 ms per 200 KB (bench/context.ts, least of 6 processes). The scanner's
 * warm-up (scanner.ts) gives V8 feedback for the loop's other branches before it compiles it.
 */
function hashFeatures(text: string, out: FeatureBuffer, acc: BlockSums): void {
  const n = text.length;
  const q = acc.q;
  const shift = acc.shift;
  const sums = acc.sums;
  const counts = acc.counts;
  let len = 0;
  out.cueLength = 0;
  let p1 = 32;
  let p2 = 32;
  let p3 = 32;
  let p4 = 32;
  let kept = 0;
  let prevSpace = true;
  let wordH = 0;
  let wordLen = 0;
  let prevWord = 0;
  let havePrev = false;
  let quote = 0;
  let wordQuoted = false;
  let prevRaw = 10;
  let lastVisible = 0;
  // Character n-grams add to the block in locals, written to `sums` when the block changes: a load and a store per
  // character less. Integer sums, so the order of the additions does not matter.
  let block = 0;
  let blockSum = 0;
  let blockCount = 0;
  for (let i = 0; i <= n; i++) {
    const raw = i < n ? text.charCodeAt(i) : 10;
    const word = raw < 0x80 ? (raw >= 48 && raw <= 57) || (raw >= 97 && raw <= 122) || (raw >= 65 && raw <= 90) : isWordUnit(raw);
    if (word) {
      if (wordLen === 0) wordQuoted = quote !== 0;
      wordH = Math.imul(wordH ^ (raw < 0x530 ? LOWER[raw]! : raw), P);
      wordLen++;
    } else if (wordLen > 0) {
      const salt = wordQuoted ? SALT_QUOTED : 0;
      const u = fmix(wordH ^ SALT_W1 ^ salt) & MASK;
      let cue = CUE_TABLE[u]!;
      let bg = -1;
      if (havePrev) {
        bg = fmix(Math.imul(prevWord, BIGRAM_MUL) ^ wordH ^ SALT_W2 ^ salt) & MASK;
        cue |= CUE_TABLE[bg]!;
      }
      const b = (i - 1) >> shift;
      if (bg >= 0) {
        sums[b] = sums[b]! + q[u]! + q[bg]!;
        counts[b] = counts[b]! + 2;
        len += 2;
      } else {
        sums[b] = sums[b]! + q[u]!;
        counts[b] = counts[b]! + 1;
        len++;
      }
      if (cue !== 0) out.pushCue(cue, i);
      prevWord = wordH;
      havePrev = true;
      wordH = 0;
      wordLen = 0;
    }
    if (raw === 10) {
      if (lastVisible === 59 || lastVisible === 123 || lastVisible === 125 || lastVisible === 40 || lastVisible === 41 || lastVisible === 44) {
        const b = (i - 1) >> shift;
        sums[b] = sums[b]! + q[CODE_LINE_BUCKET]!;
        counts[b] = counts[b]! + 1;
        len++;
      }
      quote = 0;
      havePrev = false;
      lastVisible = 0;
    } else if (raw > 32) {
      lastVisible = raw;
      if (raw === 34 || raw === 39 || raw === 96) {
        if (quote === 0) {
          if (!isWordUnit(prevRaw)) quote = raw;
        } else if (quote === raw) quote = 0;
      }
    }
    prevRaw = raw;
    if (i === n) break;
    // Character n-grams on the folded text: case, digits and whitespace runs folded.
    let c = raw;
    if (c <= 32) {
      if (prevSpace) continue;
      c = 32;
      prevSpace = true;
    } else {
      prevSpace = false;
      if (c >= 48 && c <= 57) c = 48;
      else if (c < 0x530) c = LOWER[c]!;
    }
    kept++;
    const t3 = (Math.imul(p2, P2) + Math.imul(p1, P) + c) | 0;
    const t4 = (Math.imul(p3, P3) + t3) | 0;
    const b = i >> shift;
    if (kept >= 5) {
      if (b !== block) {
        sums[block] = sums[block]! + blockSum;
        counts[block] = counts[block]! + blockCount;
        block = b;
        blockSum = 0;
        blockCount = 0;
      }
      blockSum += q[fmix(t3 ^ SALT3) & MASK]! + q[fmix(t4 ^ SALT4) & MASK]! + q[fmix(((Math.imul(p4, P4) + t4) | 0) ^ SALT5) & MASK]!;
      blockCount += 3;
      len += 3;
    } else if (kept >= 3) {
      sums[b] = sums[b]! + q[fmix(t3 ^ SALT3) & MASK]! + (kept >= 4 ? q[fmix(t4 ^ SALT4) & MASK]! : 0);
      const k = kept >= 4 ? 2 : 1;
      counts[b] = counts[b]! + k;
      len += k;
    }

    p4 = p3;
    p3 = p2;
    p2 = p1;
    p1 = c;
  }
  if (blockCount > 0) {
    sums[block] = sums[block]! + blockSum;
    counts[block] = counts[block]! + blockCount;
  }
  out.length = len;
}

/**
 * The same features as hashFeatures, listed (for the trainer, and for the windows stage 2 rescores). A copy of
 * its own rather than a mode of hashFeatures: once the scanner also listed features, V8's code for the shared loop
 * carried both modes and scoring a 200 KB context took 5-8 % longer (least of 60 scans, four processes each).
 * test/unit/injection-features.test.ts checks that the two give the same features.
 */
function listFeatures(text: string, out: FeatureBuffer): void {
  const n = text.length;
  // At most 6 features per character (3 n-grams, 2 word features, 1 code line): room is made once per block, so the
  // loop writes straight into the arrays.
  let bucket = out.bucket;
  let pos = out.pos;
  let len = 0;
  out.cueLength = 0;
  let p1 = 32;
  let p2 = 32;
  let p3 = 32;
  let p4 = 32;
  let kept = 0;
  let prevSpace = true;
  let wordH = 0;
  let wordLen = 0;
  let prevWord = 0;
  let havePrev = false;
  let quote = 0;
  let wordQuoted = false;
  let prevRaw = 10;
  let lastVisible = 0;
  for (let i = 0; i <= n; i++) {
    if ((i & 1023) === 0 && len + 6 * 1024 + 8 > bucket.length) {
      out.length = len;
      out.reserve(len + 6 * 1024 + 8);
      bucket = out.bucket;
      pos = out.pos;
    }
    const raw = i < n ? text.charCodeAt(i) : 10;
    const word = raw < 0x80 ? (raw >= 48 && raw <= 57) || (raw >= 97 && raw <= 122) || (raw >= 65 && raw <= 90) : isWordUnit(raw);
    if (word) {
      if (wordLen === 0) wordQuoted = quote !== 0;
      wordH = Math.imul(wordH ^ (raw < 0x530 ? LOWER[raw]! : raw), P);
      wordLen++;
    } else if (wordLen > 0) {
      const salt = wordQuoted ? SALT_QUOTED : 0;
      const u = fmix(wordH ^ SALT_W1 ^ salt) & MASK;
      let cue = CUE_TABLE[u]!;
      let bg = -1;
      if (havePrev) {
        bg = fmix(Math.imul(prevWord, BIGRAM_MUL) ^ wordH ^ SALT_W2 ^ salt) & MASK;
        cue |= CUE_TABLE[bg]!;
      }
      bucket[len] = u;
      pos[len++] = i;
      if (bg >= 0) {
        bucket[len] = bg;
        pos[len++] = i;
      }
      if (cue !== 0) out.pushCue(cue, i);
      prevWord = wordH;
      havePrev = true;
      wordH = 0;
      wordLen = 0;
    }
    if (raw === 10) {
      if (lastVisible === 59 || lastVisible === 123 || lastVisible === 125 || lastVisible === 40 || lastVisible === 41 || lastVisible === 44) {
        bucket[len] = CODE_LINE_BUCKET;
        pos[len++] = i;
      }
      quote = 0;
      havePrev = false;
      lastVisible = 0;
    } else if (raw > 32) {
      lastVisible = raw;
      if (raw === 34 || raw === 39 || raw === 96) {
        if (quote === 0) {
          if (!isWordUnit(prevRaw)) quote = raw;
        } else if (quote === raw) quote = 0;
      }
    }
    prevRaw = raw;
    if (i === n) break;
    // Character n-grams on the folded text: case, digits and whitespace runs folded.
    let c = raw;
    if (c <= 32) {
      if (prevSpace) continue;
      c = 32;
      prevSpace = true;
    } else {
      prevSpace = false;
      if (c >= 48 && c <= 57) c = 48;
      else if (c < 0x530) c = LOWER[c]!;
    }
    kept++;
    const t3 = (Math.imul(p2, P2) + Math.imul(p1, P) + c) | 0;
    const t4 = (Math.imul(p3, P3) + t3) | 0;
    if (kept >= 5) {
      bucket[len] = fmix(t3 ^ SALT3) & MASK;
      pos[len++] = i + 1;
      bucket[len] = fmix(t4 ^ SALT4) & MASK;
      pos[len++] = i + 1;
      bucket[len] = fmix(((Math.imul(p4, P4) + t4) | 0) ^ SALT5) & MASK;
      pos[len++] = i + 1;
    } else {
      if (kept >= 3) {
        bucket[len] = fmix(t3 ^ SALT3) & MASK;
        pos[len++] = i + 1;
      }
      if (kept >= 4) {
        bucket[len] = fmix(t4 ^ SALT4) & MASK;
        pos[len++] = i + 1;
      }
    }
    p4 = p3;
    p3 = p2;
    p2 = p1;
    p1 = c;
  }
  out.length = len;
}


/** Longest line checked for an adversarial suffix. */
const SOUP_MAX_LINE = 4000;

/**
 * Adds a CUE_SOUP cue at the end of each line that reads as prose plus token soup (cues.ts soupLine). Only lines
 * that open like a sentence (a capital letter, then a lower-case one) or hold a lexicon cue are looked at:
 * suffixes ride on a request, and code lines rarely open that way, so the check costs little on a coding
 * agent's context.
 */
function markSoup(text: string, out: FeatureBuffer): void {
  const n = text.length;
  let k = 0;
  for (let ls = 0; ls < n; ) {
    let le = text.indexOf('\n', ls);
    if (le < 0) le = n;
    let cued = false;
    while (k < out.cueLength && out.cuePos[k]! <= le) {
      if (out.cuePos[k]! >= ls) cued = true;
      k++;
    }
    const c0 = text.charCodeAt(ls);
    const c1 = text.charCodeAt(ls + 1);
    const sentence = c0 >= 65 && c0 <= 90 && c1 >= 97 && c1 <= 122;
    if ((sentence || cued) && le - ls >= 40 && le - ls <= SOUP_MAX_LINE && soupLine(text, ls, le)) out.pushCue(CUE_SOUP, le);
    ls = le + 1;
  }
}
