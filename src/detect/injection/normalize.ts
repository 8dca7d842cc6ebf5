/**
 * A matching view of a text: invisible characters removed, compatibility forms and Latin diacritics folded
 * (NFKD without combining marks U+0300–U+036F, so `ｉｇｎｏｒｅ`, `𝐢𝐠𝐧𝐨𝐫𝐞` and `précédentes` match plain patterns), typographic
 * quotes and dashes folded, and Cyrillic/Greek look-alikes folded to ASCII inside words that also contain ASCII
 * letters (`ignоre` with a Cyrillic `о`). Offsets map back to the original text through a short segment list.
 * Pure ASCII text is its own view (no copy, identity map).
 */

import { isAscii } from '../ascii.js';

export interface NormalizeOptions {
  normalizeUnicode: boolean;
  detectHomoglyphs: boolean;
}

/** The matching view and how to map its offsets back to the original text. */
export class NormView {
  /** Segment starts in the view, their starts/ends in the original, and whether the segment is a 1:1 copy. */
  private readonly normStart: number[];
  private readonly origStart: number[];
  private readonly origEnd: number[];
  private readonly ident: boolean[];

  constructor(
    readonly text: string,
    segs: { normStart: number[]; origStart: number[]; origEnd: number[]; ident: boolean[] } | null,
  ) {
    this.normStart = segs?.normStart ?? [];
    this.origStart = segs?.origStart ?? [];
    this.origEnd = segs?.origEnd ?? [];
    this.ident = segs?.ident ?? [];
    this.identity = segs === null;
  }

  readonly identity: boolean;

  private seg(p: number): number {
    let lo = 0;
    let hi = this.normStart.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.normStart[mid]! <= p) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Original offset of the view character at `p`. */
  toOrigStart(p: number): number {
    if (this.identity || this.normStart.length === 0) return p;
    const i = this.seg(p);
    return this.ident[i]! ? this.origStart[i]! + (p - this.normStart[i]!) : this.origStart[i]!;
  }

  /** Original (exclusive) end offset for a view span ending (exclusive) at `e`. */
  toOrigEnd(e: number): number {
    if (this.identity || this.normStart.length === 0) return e;
    if (e <= 0) return 0;
    const i = this.seg(e - 1);
    return this.ident[i]! ? this.origStart[i]! + (e - this.normStart[i]!) : this.origEnd[i]!;
  }
}

/** Characters that are removed from the view: zero-width, bidi controls, tags, variation selectors, soft hyphen. */
export function isInvisible(cp: number): boolean {
  return (
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2064) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0xfeff ||
    cp === 0x00ad ||
    cp === 0x180e ||
    cp === 0x034f ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xe0000 && cp <= 0xe007f) ||
    (cp >= 0xe0100 && cp <= 0xe01ef)
  );
}

/** Cyrillic, Greek, Armenian and IPA letters that look like ASCII letters. */
const HOMOGLYPHS: Record<string, string> = {
  // Cyrillic lower
  а: 'a', в: 'b', е: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', і: 'i', ї: 'i', ј: 'j',
  ԁ: 'd', ԛ: 'q', ԝ: 'w', һ: 'h', ӏ: 'l', ɡ: 'g', ʏ: 'y', ɪ: 'i', ո: 'n', ս: 'u', ց: 'g', ѵ: 'v', ԍ: 'g', ү: 'y', ɑ: 'a',
  // Cyrillic upper
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', Х: 'X', Ѕ: 'S', І: 'I', Ј: 'J', Ү: 'Y', Ԛ: 'Q', Ԝ: 'W', Ӏ: 'I',
  // Greek
  α: 'a', ε: 'e', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y', ϲ: 'c', ϳ: 'j',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X', Ϲ: 'C',
};
const HOMO = new Map<number, string>(Object.entries(HOMOGLYPHS).map(([k, v]) => [k.codePointAt(0)!, v]));

const PUNCT: Record<number, string> = {
  0x2018: "'", 0x2019: "'", 0x201a: "'", 0x201b: "'", 0x2032: "'", 0x02bc: "'",
  0x201c: '"', 0x201d: '"', 0x201e: '"', 0x201f: '"', 0x00ab: '"', 0x00bb: '"',
  0x2010: '-', 0x2011: '-', 0x2012: '-', 0x2013: '-', 0x2014: '-', 0x2212: '-',
  0x3000: ' ', 0x00a0: ' ',
};

const COMBINING = /[\u0300-\u036f]/g;
const foldCache = new Map<number, string | null>();

/** Compatibility fold of one code point; null when it folds to itself. */
function compatFold(cp: number): string | null {
  const cached = foldCache.get(cp);
  if (cached !== undefined) return cached;
  const p = PUNCT[cp];
  let r: string | null;
  if (p !== undefined) r = p;
  else if ((cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf)) r = null;
  else {
    const ch = String.fromCodePoint(cp);
    const f = ch.normalize('NFKD').replace(COMBINING, '');
    r = f === ch ? null : f;
  }
  if (foldCache.size < 50_000) foldCache.set(cp, r);
  return r;
}

/** Folds a pattern source (or any text) the same way the view folds text, minus homoglyphs. */
export function foldPatternSource(source: string): string {
  let out = '';
  for (const ch of source) {
    const cp = ch.codePointAt(0)!;
    if (cp < 128) out += ch;
    else out += compatFold(cp) ?? ch;
  }
  return out;
}

const LETTER = /[\p{L}\p{M}]/u;

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isLetterUnit(c: number): boolean {
  if ((c >= 0xc0 && c <= 0x24f) || (c >= 0x370 && c <= 0x58f)) return c !== 0xd7 && c !== 0xf7;
  return LETTER.test(String.fromCharCode(c));
}

/** The word around a look-alike, cached: its end and whether it has ASCII letters. */
let wordCacheText = '';
let wordCacheEnd = -1;
let wordCacheStart = -1;
let wordCacheResult = false;

/** True when the word around `pos` contains at least one ASCII letter (a mixed-script word). */
function wordHasAscii(text: string, pos: number, width: number): boolean {
  if (text === wordCacheText && pos >= wordCacheStart && pos < wordCacheEnd) return wordCacheResult;
  let s = pos;
  let e = pos + width;
  let has = false;
  for (let i = pos - 1, k = 0; i >= 0 && k < 48; i--, k++) {
    const c = text.charCodeAt(i);
    if (isAsciiLetter(c)) has = true;
    else if (c < 128) break;
    else if (!(c >= 0xdc00 && c <= 0xdfff) && !isLetterUnit(c) && !isInvisible(text.codePointAt(i)!)) break;
    s = i;
  }
  for (let i = pos + width, k = 0; i < text.length && k < 48; i++, k++) {
    const c = text.charCodeAt(i);
    if (isAsciiLetter(c)) has = true;
    else if (c < 128) break;
    else if (!(c >= 0xd800 && c <= 0xdfff) && !isLetterUnit(c) && !isInvisible(c)) break;
    e = i + 1;
  }
  wordCacheText = text;
  wordCacheStart = s;
  wordCacheEnd = e;
  wordCacheResult = has;
  return has;
}

const NON_ASCII = /[^\x00-\x7f]/g;

export function normalizeText(text: string, opts: NormalizeOptions): NormView {
  if (isAscii(text)) return new NormView(text, null);
  const pieces: string[] = [];
  const normStart: number[] = [];
  const origStart: number[] = [];
  const origEnd: number[] = [];
  const ident: boolean[] = [];
  let normLen = 0;
  const pushIdent = (s: string, from: number, to: number): void => {
    const k = ident.length - 1;
    if (k >= 0 && ident[k]! && origEnd[k] === from && normStart[k]! + (origEnd[k]! - origStart[k]!) === normLen) {
      origEnd[k] = to;
    } else {
      normStart.push(normLen);
      origStart.push(from);
      origEnd.push(to);
      ident.push(true);
    }
    pieces.push(s);
    normLen += to - from;
  };
  let i = 0;
  const n = text.length;
  for (;;) {
    NON_ASCII.lastIndex = i;
    const m = NON_ASCII.exec(text);
    const j = m === null ? n : m.index;
    if (j > i) pushIdent(text.slice(i, j), i, j);
    if (m === null) break;
    const cp = text.codePointAt(j)!;
    const w = cp > 0xffff ? 2 : 1;
    let rep: string | null = null;
    if (isInvisible(cp)) rep = '';
    else {
      if (opts.detectHomoglyphs) {
        const h = HOMO.get(cp);
        if (h !== undefined && wordHasAscii(text, j, w)) rep = h;
      }
      if (rep === null && opts.normalizeUnicode) rep = compatFold(cp);
    }
    if (rep === null) pushIdent(text.slice(j, j + w), j, j + w);
    else if (rep.length > 0) {
      normStart.push(normLen);
      origStart.push(j);
      origEnd.push(j + w);
      ident.push(false);
      pieces.push(rep);
      normLen += rep.length;
    }
    i = j + w;
  }
  return new NormView(pieces.join(''), { normStart, origStart, origEnd, ident });
}
