import { isDefaultPassword, isPlaceholder } from './allowlist.js';

/**
 * Values of a Kubernetes Secret manifest. Everything under a Secret's `data:` (base64) and `stringData:` (plain)
 * is secret by the API's own definition, whatever the key is called, so no key-name or entropy gate applies: a
 * value is reported unless it decodes to a placeholder, a sample default or a certificate (public by design).
 * YAML (one or more `---` documents) and JSON manifests are read; one pass over the lines, no YAML parser.
 */

export interface ManifestValue {
  start: number;
  end: number;
  rule: 'kubernetes-secret-data' | 'kubernetes-secret-string-data';
}

/** Longest value reported (a base64 value of a large key file still fits the scanner's window). */
export const MAX_MANIFEST_VALUE = 16384;

const KIND_SECRET = /^[ \t]*-?[ \t]*["']?kind["']?[ \t]*:[ \t]*["']?Secret["']?[ \t]*(?:#[^\n]*)?\r?$/gm;
const DOC_SEPARATOR = /^---/gm;
const HEADER = /^([ \t]*)(data|stringData)[ \t]*:[ \t]*(?:#[^\n]*)?\r?$/gm;
/** `  key: value` (quoted or bare, a trailing comment allowed). */
const ENTRY = /([ \t]+)(?:[\w.-]{1,253}|"[^"\n]{1,253}"|'[^'\n]{1,253}')[ \t]*:[ \t]*(?:"([^"\n]{1,16384})"|'([^'\n]{1,16384})'|([^\s"'#][^\n#]{0,16383}?))[ \t]*(?:#[^\n]*)?\r?(?=\n|$)/dy;
const JSON_KIND = /"kind"[ \t\r\n]*:[ \t\r\n]*"Secret"/g;
const JSON_DATA = /"(data|stringData)"[ \t\r\n]*:[ \t\r\n]*\{/g;
const JSON_ENTRY = /[ \t\r\n]*"[^"\\\n]{1,253}"[ \t\r\n]*:[ \t\r\n]*"([^"\\\n]{1,16384})"[ \t\r\n]*,?/y;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** A line that holds nothing or only a comment: skipped inside a `data:` block, not its end. */
const BLANK_OR_COMMENT = /[ \t]*(?:#[^\n]*)?\r?(?=\n|$)/y;
/** A block scalar indicator in place of a value: `key: |`, `key: >-`. */
const BLOCK_SCALAR = /^[|>][-+]?\d?$/;
/** The lines of a block scalar: each indented deeper than `indent` (checked by the caller). */
const BLOCK_LINE = /\n([ \t]+)([^\n]*?)\r?(?=\n|$)/y;

/** True when a decoded (or plain) value is not worth reporting. */
function notSecret(plain: string): boolean {
  const v = plain.trim();
  if (v.length < 4) return true;
  if (v.startsWith('-----BEGIN CERTIFICATE') || v.startsWith('-----BEGIN PUBLIC KEY')) return true;
  if (/^(?:true|false|yes|no|on|off|\d{1,6})$/i.test(v)) return true;
  return isPlaceholder(v, []) || isDefaultPassword(v);
}

function report(out: ManifestValue[], text: string, start: number, end: number, data: boolean): void {
  if (end - start > MAX_MANIFEST_VALUE) return;
  // A block scalar's lines are one value: base64 wrapped over lines, or a multi-line string.
  const value = data ? text.slice(start, end).replace(/\s+/g, '') : text.slice(start, end);
  if (data) {
    if (!BASE64.test(value) || value.length % 4 === 1) return;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    if (notSecret(decoded)) return;
  } else if (notSecret(value) || value.startsWith('$')) return;
  out.push({ start, end, rule: data ? 'kubernetes-secret-data' : 'kubernetes-secret-string-data' });
}

function sortedMatches(re: RegExp, text: string): number[] {
  re.lastIndex = 0;
  const at: number[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) at.push(m.index);
  return at;
}

/** Index of the last value <= x in ascending `xs`, or -1. */
function lastAtOrBefore(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

export function findKubernetesSecretValues(text: string): ManifestValue[] {
  const out: ManifestValue[] = [];
  if (!text.includes('Secret')) return out;
  findYaml(text, out);
  findJson(text, out);
  return out;
}

function findYaml(text: string, out: ManifestValue[]): void {
  const kinds = sortedMatches(KIND_SECRET, text);
  if (kinds.length === 0) return;
  const separators = sortedMatches(DOC_SEPARATOR, text);
  /** The document (index of the `---` before it, -1 for the first) holding `pos`. */
  const doc = (pos: number): number => lastAtOrBefore(separators, pos);
  const secretDocs = new Set(kinds.map(doc));
  HEADER.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = HEADER.exec(text)) !== null) {
    if (!secretDocs.has(doc(m.index))) continue;
    const indent = m[1]!.length;
    const data = m[2] === 'data';
    let pos = m.index + m[0].length + 1;
    // Child entries: each on its own line, indented deeper than the header.
    while (pos < text.length) {
      // Comment and blank lines between entries (`# base64 of the password`) do not end the block.
      BLANK_OR_COMMENT.lastIndex = pos;
      const skip = BLANK_OR_COMMENT.exec(text);
      if (skip !== null && pos + skip[0].length < text.length && (skip[0].length > 0 || text[pos] === '\n')) {
        pos += skip[0].length + 1;
        continue;
      }
      ENTRY.lastIndex = pos;
      const e = ENTRY.exec(text);
      if (e === null) break;
      const entryIndent = e[1]!.replace(/\t/g, '  ').length;
      if (entryIndent <= indent) break;
      const group = e[2] !== undefined ? 2 : e[3] !== undefined ? 3 : 4;
      const [valueStart] = e.indices![group]!;
      let valueEnd = valueStart + e[group]!.trimEnd().length;
      pos = e.index + e[0].length + 1;
      if (group === 4 && BLOCK_SCALAR.test(e[4]!.trim())) {
        // `key: |` then lines indented deeper than the key: the value is those lines.
        let blockStart = -1;
        BLOCK_LINE.lastIndex = e.index + e[0].length;
        let b: RegExpExecArray | null;
        while ((b = BLOCK_LINE.exec(text)) !== null && b[2]!.length > 0 && b[1]!.replace(/\t/g, '  ').length > entryIndent) {
          if (blockStart < 0) blockStart = b.index + 1 + b[1]!.length;
          valueEnd = b.index + b[0].length;
          pos = valueEnd + 1;
        }
        if (blockStart < 0) continue;
        report(out, text, blockStart, text.slice(blockStart, valueEnd).trimEnd().length + blockStart, data);
        continue;
      }
      report(out, text, valueStart, valueEnd, data);
    }
    HEADER.lastIndex = Math.max(HEADER.lastIndex, pos - 1);
  }
}

function findJson(text: string, out: ManifestValue[]): void {
  JSON_KIND.lastIndex = 0;
  if (!JSON_KIND.test(text)) return;
  JSON_DATA.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = JSON_DATA.exec(text)) !== null) {
    const data = m[1] === 'data';
    let pos = m.index + m[0].length;
    for (;;) {
      JSON_ENTRY.lastIndex = pos;
      const e = JSON_ENTRY.exec(text);
      if (e === null) break;
      const valueEnd = e.index + e[0].lastIndexOf('"');
      report(out, text, valueEnd - e[1]!.length, valueEnd, data);
      pos = e.index + e[0].length;
    }
    JSON_DATA.lastIndex = Math.max(JSON_DATA.lastIndex, pos);
  }
}
