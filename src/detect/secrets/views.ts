/**
 * Decoded views for secret scanning. A token is still a token when it is split by zero-width characters or soft
 * hyphens, written in full-width letters and digits, JSON- or percent-escaped, split into concatenated string
 * literals, or base64/hex-encoded in a config value. Each view is built in three steps, each a `NormView` whose
 * offsets map back to its input (so a finding in the view redacts the right span of the original text):
 *   1. Unicode: invisible characters removed, compatibility forms folded (the prompt-injection normaliser).
 *   2. Escapes and joins: `\/`, `\uXXXX`, `\xXX` and `%XX` of printable ASCII decoded; `"ab" + "cd"`,
 *      `'ab' . 'cd'`, `"ab" "cd"` joined.
 *   3. Encoded runs: base64 (standard or URL-safe) and hex runs that decode to printable ASCII replaced by it.
 * Only windows around places where one of these applies are rebuilt and rescanned, so plain text costs one
 * linear pass to find no such place.
 */
import { isAscii } from '../ascii.js';
import { base64Runs } from '../base64-runs.js';
import { normalizeText, NormView } from '../injection/normalize.js';

/** Runs of characters the Unicode step changes: invisibles, soft hyphen, full-width forms, mathematical alphanumerics. */
const UNICODE_TRIGGER = /(?:[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufe00-\ufe0f\uff01-\uff5e\u3000]|\ud835[\udc00-\udfff]|\udb40[\udc00-\udc7f])+/g;
/**
 * Escapes (`\/`, `\uXXXX`, `\xXX`, `%XX`) and joins (a closing quote, an optional operator and line break, the
 * same quote opening the next literal). Every alternative starts with one of four characters, so the engine skips
 * to those; whether a join's quotes sit between token characters is checked after the match.
 */
const ESCAPES = /\\(?:\/|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2})|%[0-9a-fA-F]{2}|["'][ \t]{0,8}(?:(?:\+|\.\.?|&|\|\|)[ \t]{0,8})?(?:\r?\n[ \t]{0,40}(?:(?:\+|\.\.?|&)[ \t]{0,8})?)?["']/g;

/** A character a token is made of, on both sides of a join. */
function isTokenChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 43 || c === 47 ||
    c === 61 || c === 46 || c === 126 || c === 58 || c === 64 || c === 33 || c === 37 || c === 36 || c === 42
  );
}

/** Longest encoded run decoded (the shortest: base64-runs.ts BASE64_MIN_RUN). */
export const MAX_RUN = 4096;
/** Characters around a trigger rebuilt and rescanned (a key name before a value, the value after it). */
const WINDOW = 384;

/** base64 / URL-safe base64 alphabet (64 = padding), -1 elsewhere. */
const B64 = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64[c.charCodeAt(0)] = i));
B64[45] = 62; // -
B64[95] = 63; // _
const HEXV = new Int8Array(128).fill(-1);
'0123456789abcdef'.split('').forEach((c, i) => (HEXV[c.charCodeAt(0)] = i));
'ABCDEF'.split('').forEach((c, i) => (HEXV[c.charCodeAt(0)] = 10 + i));

function printable(b: number): boolean {
  return (b >= 0x20 && b <= 0x7e) || b === 9 || b === 10 || b === 13;
}

/** The printable ASCII text `s[start, end)` encodes in base64, or null (decoded byte by byte, stopping early). */
function decodeBase64(s: string, start: number, end: number): string | null {
  let bits = 0;
  let acc = 0;
  let out = '';
  for (let i = start; i < end; i++) {
    const v = B64[s.charCodeAt(i)]!;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      const b = (acc >> bits) & 0xff;
      if (!printable(b)) return null;
      out += String.fromCharCode(b);
    }
  }
  return out.length >= 8 ? out : null;
}

function decodeHex(s: string, start: number, end: number): string | null {
  let out = '';
  for (let i = start; i + 1 < end; i += 2) {
    const b = (HEXV[s.charCodeAt(i)]! << 4) | HEXV[s.charCodeAt(i + 1)]!;
    if (!printable(b)) return null;
    out += String.fromCharCode(b);
  }
  return out.length >= 8 ? out : null;
}

interface Replacement {
  start: number;
  end: number;
  text: string;
}

/**
 * Maximal base64/hex runs that decode to printable ASCII, with their decoding. The runs (at least 16 characters)
 * come from base64-runs.ts, which the prompt-injection decoder reads too.
 */
function encodedRuns(text: string, out: Replacement[]): void {
  const n = text.length;
  const runs = base64Runs(text);
  for (let r = 0; r < runs.length; r += 2) {
    const start = runs[r]!;
    const i = runs[r + 1]!;
    const len = i - start;
    if (len > MAX_RUN) continue;
    let allHex = true;
    for (let k = start; k < i && allHex; k++) if (HEXV[text.charCodeAt(k)]! < 0) allHex = false;
    let end = i;
    while (end < n && end - i < 2 && text.charCodeAt(end) === 61) end++; // '=' padding
    let decoded: string | null = null;
    if (allHex && len % 2 === 0) decoded = decodeHex(text, start, i);
    if (decoded === null && len % 4 !== 1) decoded = decodeBase64(text, start, i);
    if (decoded !== null) out.push({ start, end, text: decoded });
  }
}

function escapeReplacements(text: string, out: Replacement[]): void {
  ESCAPES.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = ESCAPES.exec(text)) !== null) {
    const s = m[0];
    const first = s.charCodeAt(0);
    let rep: string;
    if (first === 34 || first === 39) {
      // A join: the same quote on both sides, token characters around it.
      if (s.charCodeAt(s.length - 1) !== first || !isTokenChar(text.charCodeAt(m.index - 1)) || !isTokenChar(text.charCodeAt(m.index + s.length))) {
        ESCAPES.lastIndex = m.index + 1;
        continue;
      }
      rep = '';
    } else if (s === '\\/') rep = '/';
    else {
      const code = parseInt(s.charCodeAt(0) === 37 ? s.slice(1) : s.slice(2), 16);
      if (code < 0x21 || code > 0x7e) continue;
      rep = String.fromCharCode(code);
    }
    out.push({ start: m.index, end: m.index + s.length, text: rep });
  }
}

/** A view of `text` with non-overlapping, start-sorted replacements applied; null when there are none. */
function applyReplacements(text: string, reps: readonly Replacement[]): NormView | null {
  if (reps.length === 0) return null;
  const pieces: string[] = [];
  const normStart: number[] = [];
  const origStart: number[] = [];
  const origEnd: number[] = [];
  const ident: boolean[] = [];
  let len = 0;
  let at = 0;
  const push = (piece: string, from: number, to: number, same: boolean): void => {
    if (piece.length === 0) return;
    normStart.push(len);
    origStart.push(from);
    origEnd.push(to);
    ident.push(same);
    pieces.push(piece);
    len += piece.length;
  };
  for (const r of reps) {
    if (r.start < at) continue;
    push(text.slice(at, r.start), at, r.start, true);
    push(r.text, r.start, r.end, false);
    at = r.end;
  }
  push(text.slice(at), at, text.length, true);
  return new NormView(pieces.join(''), { normStart, origStart, origEnd, ident });
}

/** A view and how its spans map back to the text it was built from. */
export interface DecodedView {
  text: string;
  toOrigStart(p: number): number;
  toOrigEnd(e: number): number;
}

/** All three steps applied to `text`; null when none changes anything. */
export function decodedView(text: string): DecodedView | null {
  const views: NormView[] = [];
  let cur = text;
  UNICODE_TRIGGER.lastIndex = 0;
  if (!isAscii(cur) && UNICODE_TRIGGER.test(cur)) {
    const u = normalizeText(cur, { normalizeUnicode: true, detectHomoglyphs: false });
    if (u.text !== cur) {
      views.push(u);
      cur = u.text;
    }
  }
  const esc: Replacement[] = [];
  escapeReplacements(cur, esc);
  const e = applyReplacements(cur, esc);
  if (e !== null) {
    views.push(e);
    cur = e.text;
  }
  const runs: Replacement[] = [];
  encodedRuns(cur, runs);
  const r = applyReplacements(cur, runs);
  if (r !== null) {
    views.push(r);
    cur = r.text;
  }
  if (views.length === 0) return null;
  return {
    text: cur,
    toOrigStart(p: number): number {
      for (let i = views.length - 1; i >= 0; i--) p = views[i]!.toOrigStart(p);
      return p;
    },
    toOrigEnd(p: number): number {
      for (let i = views.length - 1; i >= 0; i--) p = views[i]!.toOrigEnd(p);
      return p;
    },
  };
}

/**
 * Windows of `text` worth a decoded view: around every place one of the steps would change, widened by WINDOW
 * and out to line ends (at most another WINDOW), merged. Sorted, disjoint [start, end) pairs.
 */
export function decodeWindows(text: string): Array<[number, number]> {
  const spots: Replacement[] = [];
  if (!isAscii(text)) {
    UNICODE_TRIGGER.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = UNICODE_TRIGGER.exec(text)) !== null) spots.push({ start: m.index, end: m.index + m[0].length, text: '' });
  }
  escapeReplacements(text, spots);
  encodedRuns(text, spots);
  if (spots.length === 0) return [];
  spots.sort((a, b) => a.start - b.start);
  const out: Array<[number, number]> = [];
  // Each spot's window runs from its line's start to its line's end, at most WINDOW beyond the spot either way.
  // Walking WINDOW characters per spot cost WINDOW × spots (a run of %41 is a spot every 3 characters), so the
  // walks skip what the window they merge into already covers: every character is walked at most once each way.
  // The windows are the same as walking in full: a newline the skipped part could hold lies before an earlier
  // spot's end, where that spot's walk would have stopped instead of going on to the current end.
  for (const s of spots) {
    const last = out[out.length - 1];
    const from = Math.max(0, s.start - WINDOW);
    const to = Math.min(text.length, s.end + WINDOW);
    if (last !== undefined && from <= last[1]) {
      const ceil = Math.min(text.length, to + WINDOW);
      if (last[1] < ceil) last[1] = Math.max(last[1], lineEnd(text, Math.max(to, last[1]), ceil));
      continue;
    }
    const floor = Math.max(0, from - WINDOW, last === undefined ? 0 : last[1]);
    let ws = from;
    while (ws > floor && text.charCodeAt(ws - 1) !== 10) ws--;
    if (last !== undefined && ws <= last[1]) last[1] = Math.max(last[1], lineBound(text, to, 1));
    else out.push([ws, lineBound(text, to, 1)]);
  }
  return out;
}

/** The first line end in [from, ceil), or ceil. */
function lineEnd(text: string, from: number, ceil: number): number {
  for (let i = from; i < ceil; i++) if (text.charCodeAt(i) === 10) return i;
  return ceil;
}

/** `pos` moved to the start (dir -1) or end (dir 1) of its line, by at most WINDOW characters. */
function lineBound(text: string, pos: number, dir: -1 | 1): number {
  if (dir < 0) {
    const floor = Math.max(0, pos - WINDOW);
    for (let i = pos; i > floor; i--) if (text.charCodeAt(i - 1) === 10) return i;
    return floor;
  }
  const ceil = Math.min(text.length, pos + WINDOW);
  for (let i = pos; i < ceil; i++) if (text.charCodeAt(i) === 10) return i;
  return ceil;
}
