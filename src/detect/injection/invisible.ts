/**
 * Invisible Unicode: tag characters (U+E0000–E007F, "ASCII smuggling"), variation-selector smuggling (runs of
 * U+E0100–E01EF / U+FE00–FE0F carrying bytes), bidi embedding/override/isolate controls (U+202A–202E,
 * U+2066–2069, "Trojan Source") and zero-width characters inside words (U+200B–200D, U+2060–2064, U+FEFF).
 */

export interface InvisibleFinding {
  start: number;
  end: number;
  rule: 'unicode-tag-characters' | 'unicode-variation-selector-smuggling' | 'unicode-bidi-control' | 'zero-width-in-word';
  score: number;
  /** Hidden text carried by tag characters or variation selectors, rescanned for injections. */
  decoded?: string;
}

const INVISIBLE = /[\u200B-\u200D\u2060-\u2064\uFEFF\u202A-\u202E\u2066-\u2069\uFE00-\uFE0F]|\uDB40[\uDC00-\uDC7F\uDD00-\uDDEF]/g;
const ALNUM = /[\p{L}\p{N}]/u;

function isZeroWidth(c: number): boolean {
  return (c >= 0x200b && c <= 0x200d) || (c >= 0x2060 && c <= 0x2064) || c === 0xfeff;
}
function isAsciiAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
function isBidi(c: number): boolean {
  return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

/** Code point at i, or -1 past the end. */
function cpAt(text: string, i: number): number {
  return i < text.length ? text.codePointAt(i)! : -1;
}

function vsByte(cp: number): number {
  if (cp >= 0xfe00 && cp <= 0xfe0f) return cp - 0xfe00;
  if (cp >= 0xe0100 && cp <= 0xe01ef) return cp - 0xe0100 + 16;
  return -1;
}

export function findInvisible(text: string): InvisibleFinding[] {
  const out: InvisibleFinding[] = [];
  INVISIBLE.lastIndex = 0;
  let zw: { start: number; end: number; count: number; last: number } | null = null;
  const flushZw = (): void => {
    if (zw === null) return;
    const score = zw.count >= 4 ? 0.9 : zw.count >= 2 ? 0.6 : 0.3;
    out.push({ start: zw.start, end: zw.end, rule: 'zero-width-in-word', score });
    zw = null;
  };
  let m: RegExpExecArray | null;
  while ((m = INVISIBLE.exec(text)) !== null) {
    const i = m.index;
    const cp = text.codePointAt(i)!;
    if (cp >= 0xe0000 && cp <= 0xe007f) {
      let j = i;
      let decoded = '';
      while (j < text.length) {
        const c = cpAt(text, j);
        if (c < 0xe0000 || c > 0xe007f) break;
        const a = c - 0xe0000;
        if (a >= 0x20 && a <= 0x7e) decoded += String.fromCharCode(a);
        j += 2;
      }
      INVISIBLE.lastIndex = j;
      // Emoji subdivision flags (🏴 + tag letters + CANCEL TAG) are the one legitimate use of tag characters.
      const flag = i >= 2 && text.codePointAt(i - 2) === 0x1f3f4 && cpAt(text, j - 2) === 0xe007f && /^[a-z0-9]{2,7}$/.test(decoded);
      if (!flag) out.push({ start: i, end: j, rule: 'unicode-tag-characters', score: 1, decoded });
      continue;
    }
    if (vsByte(cp) >= 0) {
      let j = i;
      const bytes: number[] = [];
      while (j < text.length) {
        const c = cpAt(text, j);
        const b = vsByte(c);
        if (b < 0) break;
        bytes.push(b);
        j += c > 0xffff ? 2 : 1;
      }
      INVISIBLE.lastIndex = j;
      if (bytes.length >= 4) {
        let decoded = '';
        try {
          decoded = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
        } catch {
          decoded = '';
        }
        out.push({ start: i, end: j, rule: 'unicode-variation-selector-smuggling', score: 1, decoded });
      }
      continue;
    }
    if (isBidi(cp)) {
      let j = i + 1;
      while (j < text.length && isBidi(text.charCodeAt(j))) j++;
      out.push({ start: i, end: j, rule: 'unicode-bidi-control', score: 1 });
      INVISIBLE.lastIndex = j;
      continue;
    }
    if (isZeroWidth(cp)) {
      // A run of zero-width characters, judged by the visible characters on both sides.
      let j = i + 1;
      while (j < text.length && isZeroWidth(text.charCodeAt(j))) j++;
      INVISIBLE.lastIndex = j;
      const before = i > 0 ? text.charCodeAt(i - 1) : -1;
      const after = j < text.length ? text.charCodeAt(j) : -1;
      if (before < 0 || after < 0) continue;
      const bs = String.fromCharCode(before);
      const as = String.fromCharCode(after);
      if (!ALNUM.test(bs) || !ALNUM.test(as)) continue;
      // ZWNJ/ZWJ are ordinary in Indic, Arabic and Persian words: only count them next to ASCII.
      const joinerOnly = [...text.slice(i, j)].every((ch) => ch === '\u200C' || ch === '\u200D');
      if (joinerOnly && !isAsciiAlnum(before) && !isAsciiAlnum(after)) continue;
      const count = j - i;
      if (zw !== null && i - zw.last <= 64) {
        zw.end = j;
        zw.count += count;
        zw.last = j;
      } else {
        flushZw();
        zw = { start: i, end: j, count, last: j };
      }
      continue;
    }
  }
  flushZw();
  return out.sort((a, b) => a.start - b.start);
}
