/**
 * Encoded runs worth rescanning: base64 (standard and URL-safe), hex (plain and `\xNN` escapes) and
 * percent-encoding, each at least 16 characters and decoding to readable text with spaces in it.
 */

import { BASE64_MIN_RUN, base64Runs } from '../base64-runs.js';

export type EncodingKind = 'base64' | 'hex' | 'url';

export interface EncodedRun {
  start: number;
  end: number;
  kind: EncodingKind;
  decoded: string;
}

/** Longest encoded run that is decoded (and so the longest span such a finding can have). */
export const MAX_ENCODED_RUN = 2048;
const MIN_RUN = BASE64_MIN_RUN;

const HEX_ESCAPES = /(?:\\x[0-9a-fA-F]{2}){8,512}/g;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Readable prose: valid, few control characters, mostly letters, and at least two spaces. */
function readable(s: string): boolean {
  if (s.length < 8) return false;
  let letters = 0;
  let spaces = 0;
  let bad = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32) spaces++;
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c >= 0x80) letters++;
    else if (c < 32 && c !== 9 && c !== 10 && c !== 13) bad++;
    else if (c === 0x7f || c === 0xfffd) bad++;
  }
  return bad === 0 && spaces >= 2 && letters >= s.length * 0.5;
}

function decodeBytes(bytes: Uint8Array): string | null {
  // Quick reject: any C0 control other than whitespace means binary.
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 32 && b !== 9 && b !== 10 && b !== 13) return null;
  }
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Character classes: 1 = base64 (A-Z a-z 0-9 + /), 2 = hex digit, 4 = URL-safe base64 extra (- _), 8 = digit/+/. */
const CLS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9+/]/.test(ch)) CLS[c]! |= 1;
  if (/[0-9a-fA-F]/.test(ch)) CLS[c]! |= 2;
  if (ch === '-' || ch === '_') CLS[c]! |= 4;
  if (/[0-9+/]/.test(ch)) CLS[c]! |= 8;
}
/** Characters a percent-encoded run may contain besides `%XX`. */
const URL_CHAR = new Uint8Array(128);
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~!*'(),;:@&=+$/?#-%") URL_CHAR[ch.charCodeAt(0)] = 1;

function tryBase64(text: string, start: number, end: number, out: EncodedRun[]): void {
  let e = end;
  while (e < text.length && e - end < 2 && text.charCodeAt(e) === 61) e++; // '=' padding
  if ((end - start) % 4 === 1) return;
  // Cheap early reject: random identifiers decode to control bytes within the first few bytes.
  if (end - start > 24 && base64PrefixBinary(text, start)) return;
  const d = decodeBytes(Buffer.from(text.slice(start, end), 'base64'));
  if (d !== null && readable(d)) out.push({ start, end: e, kind: 'base64', decoded: d });
}

/** Values of the base64 digits, both alphabets (as Buffer.from(…, 'base64') reads them); -1 elsewhere. */
const B64 = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;
B64[45] = 62; // '-'
B64[95] = 63; // '_'

/** A C0 control other than whitespace, or DEL: binary, not text. */
const isBinaryByte = (b: number): boolean => (b < 32 && b !== 9 && b !== 10 && b !== 13) || b === 0x7f;

/**
 * Whether the first 18 bytes of a base64 run of more than 24 digits hold a binary byte, decoded in place: most runs
 * (long identifiers, hashes) fail here, and slicing and decoding each into a Buffer first cost more than the check.
 * Exported for its property test (held to Buffer's decoder).
 */
export function base64PrefixBinary(text: string, start: number): boolean {
  for (let i = start; i < start + 24; i += 4) {
    const v = (B64[text.charCodeAt(i)]! << 18) | (B64[text.charCodeAt(i + 1)]! << 12) | (B64[text.charCodeAt(i + 2)]! << 6) | B64[text.charCodeAt(i + 3)]!;
    if (isBinaryByte(v >>> 16) || isBinaryByte((v >>> 8) & 0xff) || isBinaryByte(v & 0xff)) return true;
  }
  return false;
}

/** Whether the first 8 bytes of a hex run (at least 16 digits) hold a binary byte, decoded in place. */
export function hexPrefixBinary(text: string, start: number): boolean {
  for (let i = start; i < start + 16; i += 2) if (isBinaryByte((hexValue(text.charCodeAt(i)) << 4) | hexValue(text.charCodeAt(i + 1)))) return true;
  return false;
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}

function tryHex(text: string, start: number, end: number, out: EncodedRun[]): void {
  const len = (end - start) & ~1;
  if (len < MIN_RUN) return;
  if (hexPrefixBinary(text, start)) return;
  const d = decodeBytes(Buffer.from(text.slice(start, start + len), 'hex'));
  if (d !== null && readable(d)) out.push({ start, end: start + len, kind: 'hex', decoded: d });
}

/**
 * One pass over the text finds base64 and hex runs (a table lookup per character); percent-encoded runs are
 * grown around each `%XX`. Only runs that decode to readable text are returned.
 */
export function findEncodedRuns(text: string): EncodedRun[] {
  const out: EncodedRun[] = [];
  findBase64AndHexRuns(text, out);
  findHexEscapes(text, out);
  findPercentRuns(text, out);
  return out.sort((a, b) => a.start - b.start);
}

/**
 * Hex digits are base64 digits, so a hex run lies inside a base64 run, and a run shorter than MIN_RUN holds none
 * worth decoding: only the maximal base64 runs of at least MIN_RUN characters (base64-runs.ts, shared with the
 * secret scanner's decoded views) are looked at closely, in tryRun.
 */
function findBase64AndHexRuns(text: string, out: EncodedRun[]): void {
  const runs = base64Runs(text);
  for (let k = 0; k < runs.length; k += 2) tryRun(text, runs[k]!, runs[k + 1]!, out);
}

/**
 * The maximal base64 run [start, end) (at least MIN_RUN long), and the hex runs inside it, tried in the order in
 * which a scan character by character ends them: hex runs that end earlier, the base64 run, then a hex run that
 * ends with it (their order in the result, for runs that start together).
 */
function tryRun(text: string, start: number, end: number, out: EncodedRun[]): void {
  let strong = false; // has a digit, '+' or '/': identifiers this long rarely qualify
  let url = false;
  let hexStart = -1;
  for (let i = start; i < end; i++) {
    const k = CLS[text.charCodeAt(i)]!;
    if ((k & 8) !== 0) strong = true;
    if ((k & 4) !== 0) url = true;
    if ((k & 2) !== 0) {
      if (hexStart < 0) hexStart = i;
    } else if (hexStart >= 0) {
      if (i - hexStart >= MIN_RUN && i - hexStart <= MAX_ENCODED_RUN) tryHex(text, hexStart, i, out);
      hexStart = -1;
    }
  }
  const len = end - start;
  if (len <= MAX_ENCODED_RUN && (strong || len >= 40) && !(url && !strong)) tryBase64(text, start, end, out);
  if (hexStart >= 0 && end - hexStart >= MIN_RUN && end - hexStart <= MAX_ENCODED_RUN) tryHex(text, hexStart, end, out);
}

function findHexEscapes(text: string, out: EncodedRun[]): void {
  if (!text.includes('\\x')) return;
  HEX_ESCAPES.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = HEX_ESCAPES.exec(text)) !== null) {
    const s = m[0];
    const d = decodeBytes(Buffer.from(s.replace(/\\x/g, ''), 'hex'));
    if (d !== null && readable(d)) out.push({ start: m.index, end: m.index + s.length, kind: 'hex', decoded: d });
  }
}

function findPercentRuns(text: string, out: EncodedRun[]): void {
  const n = text.length;
  // Percent-encoding: each maximal run of URL characters that holds a `%XX` is visited once, from where the
  // previous run ended. (Growing a window around every `%XX` instead re-read up to 2 × MAX_ENCODED_RUN
  // characters per escape: 17 s of CPU for a 1 MB run of `%41`.)
  for (let at = nextEscape(text, 0), next = 0; at >= 0; at = nextEscape(text, next)) {
    let s = at;
    while (s > 0 && isUrlChar(text.charCodeAt(s - 1))) s--;
    let e = at + 3;
    while (e < n && isUrlChar(text.charCodeAt(e))) e++;
    next = e;
    for (const [ws, we] of percentWindows(text, s, e)) tryPercent(text, ws, we, out);
  }
}

/**
 * Where the next `%XX` (two hex digits) starts at or after `from`, or -1: what /%[0-9A-Fa-f]{2}/g finds next, with
 * indexOf skipping to each `%` natively (code holds many: modulo, format strings), about twice as fast.
 */
function nextEscape(text: string, from: number): number {
  for (let p = text.indexOf('%', from); p >= 0; p = text.indexOf('%', p + 1)) {
    if (isHexUnit(text.charCodeAt(p + 1)) && isHexUnit(text.charCodeAt(p + 2))) return p;
  }
  return -1;
}

function isHexUnit(c: number): boolean {
  return c < 128 && (CLS[c]! & 2) !== 0;
}

function isUrlChar(c: number): boolean {
  return c < 128 && URL_CHAR[c] === 1;
}

/**
 * Windows of at most MAX_ENCODED_RUN characters covering the run `[s, e)`, each starting and ending on an
 * escape boundary. A longer run is covered by windows that overlap by half, so any stretch of up to half a
 * window lies whole inside one of them: padding a payload with a long harmless run does not hide it.
 */
function percentWindows(text: string, s: number, e: number): Array<[number, number]> {
  if (e - s <= MAX_ENCODED_RUN) return [[s, e]];
  const out: Array<[number, number]> = [];
  const half = MAX_ENCODED_RUN / 2;
  for (let ws = s; ; ) {
    const we = ws + MAX_ENCODED_RUN >= e ? e : escapeBoundary(text, ws, ws + MAX_ENCODED_RUN);
    out.push([ws, we]);
    if (we >= e) return out;
    const next = escapeBoundary(text, ws, ws + half);
    ws = next > ws ? next : we;
  }
}

/** `at`, moved back (by at most two characters, never below `floor`) so that it does not cut a `%XX` in half. */
function escapeBoundary(text: string, floor: number, at: number): number {
  if (at - 1 > floor && text.charCodeAt(at - 1) === 37) return at - 1;
  if (at - 2 > floor && text.charCodeAt(at - 2) === 37) return at - 2;
  return at;
}

function tryPercent(text: string, s: number, e: number, out: EncodedRun[]): void {
  if (e - s < MIN_RUN) return;
  const run = text.slice(s, e);
  const pct = run.match(/%[0-9A-Fa-f]{2}/g);
  if (pct === null || pct.length < 3) return;
  let d: string;
  try {
    d = decodeURIComponent(run.replace(/\+/g, ' '));
  } catch {
    return;
  }
  if (readable(d)) out.push({ start: s, end: e, kind: 'url', decoded: d });
}
