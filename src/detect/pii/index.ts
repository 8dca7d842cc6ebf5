import type { Detector, DetectorMatch, NamedPattern } from '../types.js';
import { cardBrand, ibanMod97, luhnValid, npiValid } from './checksums.js';
import { IBAN_COUNTRIES, IBAN_MAX_LENGTH } from './iban-registry.js';
import type { CountryCode } from 'libphonenumber-js/max';
import { DEFAULT_PHONE_REGIONS, findPhones, isPhoneRegion } from './phones.js';
import { compileKeywordFinder, type KeywordKind, keywordReach, type KeywordValue } from './keywords.js';
import { type Candidate, compileCustomPatterns, CUSTOM_PATTERN_MAX_MATCH, resolveOverlaps, scanCustom } from './shared.js';

import { piiOpenFrom } from './frontier.js';

export { customTypeName } from './shared.js';

export interface PiiScannerOptions {
  /** Payment cards (Luhn and brand checked) and a CVV next to a detected card. Default true. */
  pciMode?: boolean;
  /** Adds NPI, MRN and insurance member/policy numbers, each only after a keyword naming it. Default false. */
  healthcareMode?: boolean;
  /** Custom patterns; type = name upper-cased with non-alphanumerics → `_`. An invalid regex throws. */
  detectPatterns?: NamedPattern[];
  /** Only these built-in types (custom pattern types are always on). Unknown names throw. */
  types?: string[];
  /**
   * Regions (ISO 3166 alpha-2) whose national formats are recognised for numbers written without a country
   * code, the first one the default; hints from the text are added. Default: DEFAULT_PHONE_REGIONS.
   */
  phoneRegions?: string[];
}

/**
 * The built-in types. Rule ids per type:
 * - EMAIL: `email`
 * - PHONE: `phone-e164` (`+` or `00` and a country code: valid for that country, or E.164-shaped), `phone-us`
 *   (NANP with separators), `phone-national` (no country code: valid in one of the phone regions, by
 *   libphonenumber; unseparated without a trunk 0 only with a country named before it or as a calling code and a
 *   valid mobile number), `phone-context` (any grouped number after a phone keyword, or up to four words after
 *   one on its line, or before "office"/"fax"/"mobile")
 * - SSN: `ssn` (AAA-GG-SSSS), `ssn-regrouped` (AAAAA-SSSS or AAA-GGSSSS, Presidio's weaker shapes; a ZIP+4
 *   after a state code or ZIP label is not one), `ssn-context` (unformatted or spaced, after an SSN keyword)
 * - CREDIT_CARD: `luhn-card` (13–19 digits), `luhn-card-context` (12-digit Maestro after a card keyword),
 *   `card-cvv` (a CVV/CVC value after its keyword, only near a detected card)
 * - IBAN: `iban`
 * - IP_ADDRESS: `ipv4`, `ipv4-private`, `ipv4-loopback`, `ipv6`, `ipv6-private`, `ipv6-loopback`
 * - NPI: `npi`; MRN: `mrn`; INSURANCE_ID: `insurance-id` (healthcare mode only)
 */
export const PII_TYPES: readonly string[] = Object.freeze([
  'EMAIL',
  'PHONE',
  'SSN',
  'CREDIT_CARD',
  'IBAN',
  'IP_ADDRESS',
  'NPI',
  'MRN',
  'INSURANCE_ID',
]);

const HEALTHCARE_TYPES = new Set(['NPI', 'MRN', 'INSURANCE_ID']);

/** Overlap preference (lower wins): custom patterns are the operator's explicit intent, then checksummed types. */
const PRIORITY: Record<string, number> = {
  CREDIT_CARD: 1,
  IBAN: 2,
  SSN: 3,
  NPI: 4,
  MRN: 5,
  INSURANCE_ID: 6,
  EMAIL: 7,
  IP_ADDRESS: 8,
  PHONE: 9,
};
const CUSTOM_PRIORITY = 0;

/** Longest value per type (UTF-16 units). */
const MAX_LEN: Record<string, number> = {
  EMAIL: 254, // RFC 5321 path limit
  PHONE: 48, // 15 digits with separators, "(0)" and an extension
  SSN: 11,
  CREDIT_CARD: 25, // 19 digits in groups of at least 3 (+6 separators)
  IBAN: IBAN_MAX_LENGTH + Math.ceil(IBAN_MAX_LENGTH / 4) - 1, // groups of 4 separated by single spaces
  IP_ADDRESS: 45, // IPv6 with embedded IPv4
  NPI: 10,
  MRN: 20,
  INSURANCE_ID: 20,
};

/** Longest value that can contain whitespace, per type (e-mail and IP addresses never do; SSNs only after a keyword). */
const SPACED_MAX_LEN: Record<string, number> = {
  PHONE: MAX_LEN.PHONE!,
  CREDIT_CARD: MAX_LEN.CREDIT_CARD!,
  IBAN: MAX_LEN.IBAN!,
};

/** Longest value each keyword kind yields (phoneLabel: the number before the label plus the label). */
const CONTEXT_VALUE_MAX: Record<KeywordKind, number> = {
  phone: 48,
  phoneLabel: 48,
  ssn: 11,
  card: 12,
  cvv: 4 + 64 + 25, // the CVV and a card up to 64 characters away
  npi: 10,
  mrn: 20,
  insurance: 20,
};

// ---------------------------------------------------------------------------------------------------------------
// Regular expressions. Everything is bounded (no nested unbounded quantifiers over the same characters), so the
// worst case stays linear; most start on a digit and fail on the first character elsewhere.
// ---------------------------------------------------------------------------------------------------------------

/** Not preceded by a character that makes a number part of something else (identifier, decimal, path, range). */
const NUM_START = '(?<![\\w+\\-/.$@])';
/** Not followed by a word character, or by a separator that continues the number. */
const NUM_END = '(?![\\w@]|[.\\-/]\\d)';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_SRC = `${OCTET}(?:\\.${OCTET}){3}`;

const RE = {
  card: /(?<![\w.+\-/@$#])\d(?:[ -]?\d){11,}/g,
  // AAA-GG-SSSS, AAA GG SSSS or AAA.GG.SSSS, one delimiter throughout (the shapes Presidio's recogniser scores).
  ssn: new RegExp(`${NUM_START}(\\d{3})([\\-. ])(\\d{2})\\2(\\d{4})${NUM_END}`, 'g'),
  // Presidio's weaker dashed shapes AAAAA-SSSS and AAA-GGSSSS (area, group, serial regrouped).
  ssnRegrouped: new RegExp(`${NUM_START}(?:(\\d{3})(\\d{2})-(\\d{4})|(\\d{3})-(\\d{2})(\\d{4}))${NUM_END}`, 'g'),
  ibanStart: /(?<![A-Za-z0-9])(?:[A-Z]{2}\d{2}|[a-z]{2}\d{2})(?=[ -]?[A-Za-z0-9])/g,
  ipv4: new RegExp(`(?<![\\w.\\-])${IPV4_SRC}(?![\\w\\-+]|\\.\\d)`, 'g'),
  phoneE164: /(?<![\w+\-/.$@])\+[1-9][\d ().\-]{6,24}\d/g,
  phoneUs: new RegExp(
    `${NUM_START}(?:(?:\\+?1|001)[ .\\-]?)?(?:\\([2-9]\\d\\d\\)[ ]?[2-9]\\d\\d[ .\\-]|[2-9]\\d\\d([ .\\-])[2-9]\\d\\d\\1)\\d{4}${NUM_END}`,
    'g',
  ),
  ibanLike: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,8}(?:[ -]?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g,
  phoneExtension: /[ ]?(?:x|ext\.?|extension|#)[ ]?\d{1,5}(?![\w])/y,
};

/**
 * Text right before an IPv4-looking value that marks it as a version ("v", "version", "@", "==", …) or a section
 * number ("§5.2.2.10", "section 19.6.1.2").
 */
const VERSION_BEFORE =
  /(?:version|(?<![A-Za-z])(?:v|ver\.?|release|rev|build|firmware|oid|section|sect?\.|chapter|clause|step|para(?:graph)?\.?)|§|@|==|>=|<=|~=|!=|\^|~)["']?[ \t]*[:=]?[ \t]*["'(]{0,2}$/i;

/** File extensions that are not TLDs: `icon@2x.png`, `font@latest.js`. */
const NOT_TLD = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'css', 'scss',
  'less', 'json', 'html', 'htm', 'xml', 'yml', 'yaml', 'txt', 'lock', 'wasm', 'pdf', 'map', 'toml', 'ini', 'cfg', 'jar', 'class',
]);
/**
 * Domain labels in any script (internationalised domain names as written, or their xn-- form). Below the top
 * level a label may hold `_` (host names such as `my_store.example.com` exist and mail to them is written).
 */
const EMAIL_DOMAIN = /(?:[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}_-]{0,61}[\p{L}\p{N}\p{M}])?\.){1,10}(?:\p{L}[\p{L}\p{M}]{1,23}|xn--[A-Za-z0-9-]{1,59})(?![\p{L}\p{N}\p{M}_-]|\.[\p{L}\p{N}])/uy;
const NON_ASCII_LETTER = /[\p{L}\p{N}\p{M}]/u;

/**
 * Characters of an unquoted local part: RFC 5322 atext that does not also delimit values in code and URLs
 * (`=`, `/`, `?`, `&`, `#` end it), and letters of any script (RFC 6531).
 */
function isLocalChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 46 /* . */ || c === 95 /* _ */ ||
    c === 45 /* - */ || c === 43 /* + */ || c === 37 /* % */ || c === 39 /* ' */ || c === 124 /* | */ || c === 126 /* ~ */ ||
    c === 94 /* ^ */ || c === 33 /* ! */ || c === 42 /* * */ || c === 36 /* $ */ || c === 123 /* { */ || c === 125 /* } */ ||
    (c >= 0x80 && c !== 0xa0 && NON_ASCII_LETTER.test(String.fromCharCode(c)))
  );
}
/** A local part starts and ends with a letter or digit of any script, or `_`. */
function isLocalEdge(c: number): boolean {
  return isAlnum(c) || c === 95 || (c >= 0x80 && NON_ASCII_LETTER.test(String.fromCharCode(c)));
}
function isHexOrColon(c: number): boolean {
  return (c >= 48 && c <= 58) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
function isHexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
/**
 * Where the next colon pair starts at or after `from` (a `:`, at most four hex digits, a `:`), or -1: what
 * /:[0-9A-Fa-f]{0,4}:/g finds next. Only the character after a colon's run of hex digits can close it, so each colon
 * is one check. indexOf skips to the colons natively: the regular expression, trying every colon of a TypeScript
 * context in turn, took about twice as long.
 */
function colonPair(text: string, from: number): number {
  for (let p = text.indexOf(':', from); p >= 0; p = text.indexOf(':', p + 1)) {
    let k = p + 1;
    while (k - p <= 4 && isHexDigit(text.charCodeAt(k))) k++;
    if (text.charCodeAt(k) === 58) return p;
  }
  return -1;
}
const IPV4_ONLY = new RegExp(`^${IPV4_SRC}$`);
function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isWordChar(c: number): boolean {
  return isAlnum(c) || c === 95;
}
/** Whether the ascending `sorted` has a value within [lo, hi]. */
function anyWithin(sorted: readonly number[], lo: number, hi: number): boolean {
  let a = 0;
  let b = sorted.length;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (sorted[mid]! < lo) a = mid + 1;
    else b = mid;
  }
  return a < sorted.length && sorted[a]! <= hi;
}
function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

// ---------------------------------------------------------------------------------------------------------------

export function createPiiScanner(opts: PiiScannerOptions = {}): Detector {
  const pciMode = opts.pciMode ?? true;
  const healthcareMode = opts.healthcareMode ?? false;
  if (opts.types) {
    for (const t of opts.types) if (!PII_TYPES.includes(t)) throw new Error(`unknown PII type "${t}" (known: ${PII_TYPES.join(', ')})`);
  }
  const wanted = new Set(opts.types ?? PII_TYPES);
  const enabled = new Set(
    PII_TYPES.filter((t) => wanted.has(t) && (t !== 'CREDIT_CARD' || pciMode) && (!HEALTHCARE_TYPES.has(t) || healthcareMode)),
  );
  const custom = compileCustomPatterns(opts.detectPatterns);
  const phoneRegions: CountryCode[] = [];
  for (const r of opts.phoneRegions ?? DEFAULT_PHONE_REGIONS) {
    const code = r.toUpperCase();
    if (!isPhoneRegion(code)) throw new Error(`unknown phone region "${r}" (use ISO 3166-1 alpha-2 codes such as US, GB, DE)`);
    phoneRegions.push(code);
  }
  const on = (t: string): boolean => enabled.has(t);

  // Fresh RegExp objects per scanner: `lastIndex` is per object, and scanners may be used concurrently in one
  // process (each scan runs to completion synchronously, so per-scanner state is enough).
  const re = Object.fromEntries(Object.entries(RE).map(([k, v]) => [k, new RegExp(v.source, v.flags)])) as typeof RE;

  const kinds = new Set<KeywordKind>();
  if (on('PHONE')) kinds.add('phone').add('phoneLabel');
  if (on('SSN')) kinds.add('ssn');
  if (on('CREDIT_CARD')) kinds.add('card').add('cvv');
  if (on('NPI')) kinds.add('npi');
  if (on('MRN')) kinds.add('mrn');
  if (on('INSURANCE_ID')) kinds.add('insurance');
  const findKeywords = compileKeywordFinder(kinds);

  // A value found through a keyword needs the keyword in view too (see keywordReach).
  let maxMatchLength = 0;
  for (const t of enabled) maxMatchLength = Math.max(maxMatchLength, MAX_LEN[t] ?? 0);
  for (const kind of kinds) maxMatchLength = Math.max(maxMatchLength, keywordReach(kind) + CONTEXT_VALUE_MAX[kind]);
  if (custom.length > 0) maxMatchLength = Math.max(maxMatchLength, CUSTOM_PATTERN_MAX_MATCH);
  // Streaming holds a run without whitespace until it ends, so only values that can contain whitespace (and
  // keyword-to-value spans, which always do) size the ordinary window.
  let maxSpacedMatchLength = 0;
  for (const t of enabled) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, SPACED_MAX_LEN[t] ?? 0);
  for (const kind of kinds) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, keywordReach(kind) + CONTEXT_VALUE_MAX[kind]);
  if (custom.length > 0) maxSpacedMatchLength = Math.max(maxSpacedMatchLength, CUSTOM_PATTERN_MAX_MATCH);
  maxSpacedMatchLength = Math.min(maxSpacedMatchLength, maxMatchLength);

  function push(out: Candidate[], type: string, rule: string, start: number, end: number): void {
    out.push({ type, rule, start, end, priority: PRIORITY[type] ?? 10 });
  }

  // ---- EMAIL ------------------------------------------------------------------------------------------------
  function scanEmail(text: string, out: Candidate[]): void {
    const dom = EMAIL_DOMAIN;
    let at = text.indexOf('@');
    while (at !== -1) {
      let s = at;
      let localOk: boolean;
      const quoted = text.charCodeAt(at - 1) === 34 ? quotedLocalStart(text, at - 1) : -1;
      if (quoted >= 0) {
        // A quoted local part ("john doe"@example.com): anything but quotes and line breaks, escapes allowed.
        s = quoted;
        localOk = true;
      } else {
        while (s > 0 && at - s < 65 && isLocalChar(text.charCodeAt(s - 1))) s--;
        const tooLong = s > 0 && isLocalChar(text.charCodeAt(s - 1));
        // The local part starts and ends with a letter or digit (trim leading dots/dashes, e.g. "--user@…").
        while (s < at && !isLocalEdge(text.charCodeAt(s))) s++;
        localOk = s < at && !tooLong && isLocalEdge(text.charCodeAt(at - 1)) && !text.slice(s, at).includes('..');
      }
      let next = at + 1;
      if (localOk) {
        dom.lastIndex = at + 1;
        const m = dom.exec(text);
        if (m) {
          const end = at + 1 + m[0].length;
          const domain = m[0];
          const labels = domain.split('.');
          const tld = labels[labels.length - 1]!.toLowerCase();
          const after = text.charCodeAt(end);
          const userinfo = s > 0 && text.charCodeAt(s - 1) === 58 /* : */ && /\/\/[^\s/]*$/.test(text.slice(Math.max(0, s - 256), s - 1));
          const scpLike = after === 58 && end + 1 < text.length && /[\w~/]/.test(text[end + 1]!); // git@github.com:org/repo
          const retina = /^\d+(?:\.\d+)?x$/i.test(labels[0]!) || (labels.length === 2 && NOT_TLD.has(tld));
          if (!userinfo && !scpLike && !retina && end - s <= 254) {
            push(out, 'EMAIL', 'email', s, end);
            next = end;
          }
        }
      }
      at = text.indexOf('@', next);
    }
  }

  /** Start of a quoted local part whose closing quote is at `close`, or -1 (at most 64 characters, one line). */
  function quotedLocalStart(text: string, close: number): number {
    for (let i = close - 1; i >= 0 && close - i <= 64; i--) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) return -1;
      if (c === 34 && text.charCodeAt(i - 1) !== 92) {
        if (i === close - 1) return -1;
        const before = text.charCodeAt(i - 1);
        return i > 0 && (isAlnum(before) || before === 64) ? -1 : i;
      }
    }
    return -1;
  }

  // ---- CREDIT_CARD ------------------------------------------------------------------------------------------
  function scanCards(text: string, out: Candidate[]): void {
    const r = re.card;
    r.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = r.exec(text)) !== null) {
      const run = m[0];
      const base = m.index;
      // Split into digit groups with the separator (its char code; 0 for the first) before each. Plain arrays of
      // numbers: a 1 MB run of "0 0 0 …" has half a million groups, and an object per group was mostly GC work.
      const starts: number[] = [];
      const ends: number[] = [];
      const seps: number[] = [];
      for (let k = 0; k < run.length; ) {
        const sep = k === 0 ? 0 : run.charCodeAt(k++);
        const start = k;
        while (k < run.length && isDigit(run.charCodeAt(k))) k++;
        starts.push(start);
        ends.push(k);
        seps.push(sep);
      }
      const runEnd = base + run.length;
      const afterRun = text.charCodeAt(runEnd);
      const runEndOk = !(isWordChar(afterRun) || (afterRun === 46 && isDigit(text.charCodeAt(runEnd + 1))));
      const count = starts.length;
      let i = 0;
      while (i < count) {
        let best = -1;
        let digits = 0;
        let allFour = true;
        for (let j = i; j < count; j++) {
          const len = ends[j]! - starts[j]!;
          digits += len;
          if (digits > 19) break;
          let remainder = false;
          if (j > i) {
            // Grouped form: first group of 4, others of 3–8, one separator style; or chunked by four with a
            // shorter last chunk ("3056 7551 5604 20", a 14-digit Diners number printed four by four).
            if (ends[i]! - starts[i]! !== 4 || len > 8) break;
            if (len < 3) {
              if (!allFour || digits < 13) break;
              remainder = true;
            }
            if (seps[j] !== seps[i + 1]) break;
          }
          if (len !== 4) allFour = false;
          if (digits < 13) continue;
          if (j === count - 1 && !runEndOk) continue;
          const num = digitsOf(run.slice(starts[i]!, ends[j]!));
          if (cardBrand(num) && luhnValid(num)) best = j;
          if (remainder) break;
        }
        if (best >= 0) {
          push(out, 'CREDIT_CARD', 'luhn-card', base + starts[i]!, base + ends[best]!);
          i = best + 1;
        } else i++;
      }
    }
  }

  /** Values after keywords, by kind. */
  function scanContext(text: string, out: Candidate[], hits: readonly KeywordValue[]): void {
    for (const h of hits) {
      const v = text.slice(h.start, h.end);
      switch (h.kind) {
        case 'card': // 12-digit Maestro only after a card keyword (13–19 digits need no keyword)
          if (cardBrand(v) === 'maestro' && luhnValid(v)) push(out, 'CREDIT_CARD', 'luhn-card-context', h.start, h.end);
          break;
        case 'ssn': {
          const d = digitsOf(v);
          if (ssnValid(d.slice(0, 3), d.slice(3, 5), d.slice(5))) push(out, 'SSN', 'ssn-context', h.start, h.end);
          break;
        }
        case 'phone':
        case 'phoneLabel': {
          const len = phonePrefix(v, 7, 15);
          // Before a label the whole value must be the number (nothing left over but separators).
          if (len > 0 && (h.kind === 'phone' || len === v.length)) pushPhone(out, text, 'phone-context', h.start, h.start + len);
          break;
        }
        case 'npi':
          if (npiValid(v)) push(out, 'NPI', 'npi', h.start, h.end);
          break;
        case 'mrn':
          if (digitsOf(v).length >= 4) push(out, 'MRN', 'mrn', h.start, h.end);
          break;
        case 'insurance':
          if (digitsOf(v).length >= 3) push(out, 'INSURANCE_ID', 'insurance-id', h.start, h.end);
          break;
        case 'cvv':
          break; // after cards, below
      }
    }
    // A CVV only next to a detected card: within 64 characters either side (the stream window keeps that much
    // left context, so streamed and whole-text results agree).
    let cards: { ends: number[]; starts: number[] } | undefined;
    for (const h of hits) {
      if (h.kind !== 'cvv') continue;
      if (!cards) {
        const found = out.filter((c) => c.type === 'CREDIT_CARD');
        cards = { ends: found.map((c) => c.end).sort((a, b) => a - b), starts: found.map((c) => c.start).sort((a, b) => a - b) };
      }
      // Sorted bounds, so a text with many cards and many CVV keywords costs a binary search per keyword.
      if (anyWithin(cards.ends, h.start - 64, h.start) || anyWithin(cards.starts, h.end, h.end + 64)) {
        push(out, 'CREDIT_CARD', 'card-cvv', h.start, h.end);
      }
    }
  }

  // ---- SSN ----------------------------------------------------------------------------------------------------
  /**
   * SSA rules: no area 000, 666 or 900–999 (never issued), no group 00, no serial 0000; nor one digit repeated.
   */
  function ssnValid(area: string, group: string, serial: string): boolean {
    const a = +area;
    if (a === 0 || a === 666 || a >= 900 || group === '00' || serial === '0000') return false;
    return !/^(\d)\1{8}$/.test(area + group + serial);
  }
  function scanSsn(text: string, out: Candidate[]): void {
    const r = re.ssn;
    r.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = r.exec(text)) !== null) {
      const end = m.index + m[0].length;
      // Spaced or dotted, the three groups must stand alone, not be part of a longer run of digit groups.
      if (m[2] !== '-' && (/^[ .]\d/.test(text.slice(end, end + 2)) || /\d[ .]$/.test(text.slice(Math.max(0, m.index - 2), m.index)))) continue;
      if (ssnValid(m[1]!, m[3]!, m[4]!)) push(out, 'SSN', 'ssn', m.index, end);
    }
    // AAAAA-SSSS is also a ZIP+4 code: not after a state code ("CA 94105-1234") or a ZIP / postal code label.
    const g = re.ssnRegrouped;
    g.lastIndex = 0;
    while ((m = g.exec(text)) !== null) {
      const end = m.index + m[0].length;
      if (/-\d/.test(text.slice(end, end + 2)) || /\d-$/.test(text.slice(Math.max(0, m.index - 2), m.index))) continue;
      if (m[1] !== undefined) {
        const before = text.slice(Math.max(0, m.index - 24), m.index);
        if (/\b[A-Z]{2},?[ \t]{1,2}$/.test(before) || /(?:zip|postal|post)[\w ]{0,6}[:=#"' \t]{1,4}$/i.test(before)) continue;
        if (ssnValid(m[1], m[2]!, m[3]!)) push(out, 'SSN', 'ssn-regrouped', m.index, end);
      } else if (ssnValid(m[4]!, m[5]!, m[6]!)) push(out, 'SSN', 'ssn-regrouped', m.index, end);
    }
  }

  // ---- IBAN ---------------------------------------------------------------------------------------------------
  function scanIban(text: string, out: Candidate[]): void {
    const r = re.ibanStart;
    r.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = r.exec(text)) !== null) {
      const upper = m[0].charCodeAt(0) < 97;
      const cc = m[0].slice(0, 2).toUpperCase();
      const country = IBAN_COUNTRIES.get(cc);
      if (!country) continue;
      // Walk exactly `length` alphanumerics, allowing single spaces only between groups of four.
      let compact = '';
      let i = m.index;
      let spaced: boolean | undefined;
      let sep = 0;
      let ok = true;
      while (compact.length < country.length && i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 32 || c === 45) {
          // Groups of four separated by single spaces or dashes, one style throughout.
          if (compact.length % 4 !== 0 || spaced === false || (sep !== 0 && sep !== c) || text.charCodeAt(i + 1) === c) {
            ok = false;
            break;
          }
          sep = c;
          spaced = true;
          i++;
          continue;
        }
        const isUp = c >= 65 && c <= 90;
        const isLow = c >= 97 && c <= 122;
        if (!(isDigit(c) || (upper ? isUp : isLow))) {
          ok = false;
          break;
        }
        if (compact.length > 0 && compact.length % 4 === 0 && spaced === undefined) spaced = false;
        compact += text[i];
        i++;
      }
      if (!ok || compact.length !== country.length || isAlnum(text.charCodeAt(i))) continue;
      // A spaced IBAN must not continue with another group after its last one (it would be a different value).
      if (spaced && text.charCodeAt(i) === sep && isAlnum(text.charCodeAt(i + 1)) && /^[A-Za-z0-9]{1,4}(?![A-Za-z0-9])/.test(text.slice(i + 1, i + 6)) && /\d/.test(text.slice(i + 1, i + 5))) continue;
      const value = compact.toUpperCase();
      if (!country.bban.test(value.slice(4)) || ibanMod97(value) !== 1) continue;
      push(out, 'IBAN', 'iban', m.index, i);
      r.lastIndex = i;
    }
  }

  // ---- IP_ADDRESS ---------------------------------------------------------------------------------------------
  /**
   * Which addresses count. Private and loopback addresses are PII-adjacent (they map a developer's network and
   * end up next to user names in logs), so they are still reported, under their own rule ids so a policy can
   * let them through: `ipv4-loopback` (127/8), `ipv4-private` (10/8, 172.16/12, 192.168/16, link-local
   * 169.254/16, carrier-grade NAT 100.64/10); `ipv6-loopback` (::1), `ipv6-private` (fe80::/10, fc00::/7).
   * Not reported at all, as they identify nobody: 0.0.0.0 and `::` (unspecified), 255.255.255.255 and netmasks
   * (255.255.255.0, …). Everything else, documentation ranges included, is `ipv4` / `ipv6`.
   */
  function ipv4Rule(v: string): string | undefined {
    const o = v.split('.').map(Number) as [number, number, number, number];
    const [a, b] = o;
    // Not addresses of anyone: the unspecified address, broadcast and netmasks (255.255.255.0, 255.255.0.0, …).
    if (o.every((x) => x === 0)) return undefined;
    if (a === 255) {
      const bits = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
      const inv = ~bits >>> 0;
      if ((inv & (inv + 1)) === 0) return undefined;
    }
    if (a === 127) return 'ipv4-loopback';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127)) {
      return 'ipv4-private';
    }
    return 'ipv4';
  }

  function ipv6Valid(s: string): boolean {
    let head = s;
    let extra = 0;
    if (s.includes('.')) {
      // Embedded IPv4 ("::ffff:192.0.2.1") counts as two groups; keep a "::" right before it.
      const lastColon = s.lastIndexOf(':');
      extra = 2;
      head = s.charCodeAt(lastColon - 1) === 58 ? s.slice(0, lastColon + 1) : s.slice(0, lastColon);
    }
    const dbl = head.indexOf('::');
    if (dbl !== -1 && head.indexOf('::', dbl + 1) !== -1) return false;
    const part = (p: string): number => {
      if (p === '') return 0;
      const gs = p.split(':');
      for (const g of gs) if (g.length < 1 || g.length > 4) return -1;
      return gs.length;
    };
    if (dbl === -1) {
      const n = part(head);
      return n >= 0 && n + extra === 8;
    }
    const left = part(head.slice(0, dbl));
    const right = part(head.slice(dbl + 2));
    if (left < 0 || right < 0) return false;
    return left + right + extra <= 7;
  }

  function scanIp(text: string, out: Candidate[]): void {
    let m: RegExpExecArray | null;
    const r4 = re.ipv4;
    r4.lastIndex = 0;
    while ((m = r4.exec(text)) !== null) {
      const rule = ipv4Rule(m[0]);
      if (!rule) continue;
      if (VERSION_BEFORE.test(text.slice(Math.max(0, m.index - 16), m.index))) continue;
      push(out, 'IP_ADDRESS', rule, m.index, m.index + m[0].length);
    }
    // IPv6: anchored on a colon pair (":…:" is rare outside addresses and scope operators), then grown to the
    // whole run of hex digits, colons and (for an embedded IPv4) dots.
    for (let at = colonPair(text, 0), next = 0; at >= 0; at = colonPair(text, next)) {
      let s = at;
      while (s > 0 && at - s < 40 && isHexOrColon(text.charCodeAt(s - 1))) s--;
      // Past the pair's hex digits and its closing colon.
      let e = at + 1;
      while (e - at <= 4 && isHexDigit(text.charCodeAt(e))) e++;
      e++;
      while (e < text.length && e - s < 46 && (isHexOrColon(text.charCodeAt(e)) || text.charCodeAt(e) === 46)) e++;
      next = e;
      const before = text.charCodeAt(s - 1);
      if (isWordChar(before) || before === 46 || before === 58) continue;
      if (isWordChar(text.charCodeAt(e)) || text.charCodeAt(e) === 58) continue;
      let v = text.slice(s, e);
      while (v.endsWith('.')) v = v.slice(0, -1); // sentence punctuation
      // A trailing single colon is punctuation ("at fe80::1: …"), not part of the address.
      if (v.endsWith(':') && !v.endsWith('::')) v = v.slice(0, -1);
      if (v.includes('.')) {
        const tail = v.slice(v.lastIndexOf(':') + 1);
        if (!IPV4_ONLY.test(tail)) continue;
      }
      if (!ipv6Valid(v)) continue;
      if (v.includes('::')) {
        // `a::b` is more often a scope operator than an address: require a digit.
        if (!/\d/.test(v)) continue;
        // Unspecified (all zeros); and "::443"-style fragments (regex sources, C++ scopes): an address starting
        // with "::" is the loopback or has at least two groups after it ("::ffff:192.0.2.1").
        if (/^[0:]*$/.test(v)) continue;
        if (v.startsWith('::') && v !== '::1' && !/^::[0-9A-Fa-f]{1,4}:/.test(v)) continue;
      }
      const lower = v.toLowerCase();
      let rule = 'ipv6';
      if (lower === '::1' || /^0{1,4}(?::0{1,4}){6}:0{0,3}1$/.test(lower)) rule = 'ipv6-loopback';
      else if (/^fe[89ab][0-9a-f]?:/.test(lower) || /^f[cd][0-9a-f]{0,2}:/.test(lower)) rule = 'ipv6-private';
      push(out, 'IP_ADDRESS', rule, s, s + v.length);
    }
  }

  // ---- PHONE --------------------------------------------------------------------------------------------------
  /**
   * The longest acceptable prefix of a phone-shaped string: digit groups separated by at most two separator
   * characters, balanced parentheses, `min`–`max` digits ("(0)" trunk digits not counted). Returns its length.
   */
  function phonePrefix(s: string, min: number, max: number): number {
    let digits = 0;
    let sepRun = 0;
    let open = false;
    let openDigits = 0;
    let best = -1;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (isDigit(c)) {
        digits++;
        if (open) openDigits++;
        sepRun = 0;
        if (!open && digits >= min && digits <= max && !isDigit(s.charCodeAt(i + 1))) best = i + 1;
        if (digits > max) break;
      } else if (c === 40 /* ( */) {
        if (open) break;
        open = true;
        openDigits = 0;
        sepRun++;
      } else if (c === 41 /* ) */) {
        if (!open || openDigits === 0) break;
        open = false;
        if (s.slice(i - 2, i) === '(0' || (openDigits === 1 && s.charCodeAt(i - 1) === 48)) digits--; // "(0)"
        sepRun++;
      } else {
        sepRun++;
        if (c === 43 /* + */ && i > 0) break;
      }
      if (sepRun > 2) break;
    }
    return best;
  }

  function withExtension(text: string, end: number): number {
    const x = re.phoneExtension;
    x.lastIndex = end;
    const m = x.exec(text);
    return m ? end + m[0].length : end;
  }

  function pushPhone(out: Candidate[], text: string, rule: string, start: number, end: number): void {
    push(out, 'PHONE', rule, start, withExtension(text, end));
  }

  /** IBAN-shaped runs, valid or not: their digit groups are never phone numbers. */
  function ibanLikeSpans(text: string): number[] {
    const spans: number[] = [];
    const r = re.ibanLike;
    r.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = r.exec(text)) !== null) spans.push(m.index, m.index + m[0].length);
    return spans;
  }

  function scanPhone(text: string, out: Candidate[]): void {
    const iban = ibanLikeSpans(text);
    /** Whether [start, end) overlaps an IBAN-shaped run (spans are start-sorted and disjoint). */
    const inIban = (start: number, end: number): boolean => {
      for (let lo = 0, hi = iban.length / 2; lo < hi; ) {
        const mid = (lo + hi) >>> 1;
        if (iban[2 * mid + 1]! <= start) lo = mid + 1;
        else if (iban[2 * mid]! >= end) hi = mid;
        else return true;
      }
      return false;
    };
    let m: RegExpExecArray | null;
    const e = re.phoneE164;
    e.lastIndex = 0;
    while ((m = e.exec(text)) !== null) {
      const len = phonePrefix(m[0], 8, 15);
      if (len > 0 && !inIban(m.index, m.index + len)) pushPhone(out, text, 'phone-e164', m.index, m.index + len);
    }
    // NANP with separators, including the fictional 555 range that libphonenumber does not call valid.
    const us = re.phoneUs;
    us.lastIndex = 0;
    while ((m = us.exec(text)) !== null) if (!inIban(m.index, m.index + m[0].length)) pushPhone(out, text, 'phone-us', m.index, m.index + m[0].length);
    for (const p of findPhones(text, phoneRegions, inIban)) pushPhone(out, text, p.rule, p.start, p.end);
  }

  return {
    maxMatchLength,
    maxSpacedMatchLength,
    // A custom pattern may begin anywhere: then the fixed window.
    ...(custom.length === 0 ? { openFrom: piiOpenFrom } : {}),
    scan(text: string): DetectorMatch[] {
      const out: Candidate[] = [];
      if (custom.length > 0) scanCustom(custom, text, out, CUSTOM_PRIORITY);
      const hasDigit = /\d/.test(text);
      if (on('EMAIL') && text.includes('@')) scanEmail(text, out);
      if (hasDigit) {
        if (on('CREDIT_CARD')) scanCards(text, out);
        if (on('SSN')) scanSsn(text, out);
        if (on('IBAN')) scanIban(text, out);
        if (on('IP_ADDRESS')) scanIp(text, out);
        if (on('PHONE')) scanPhone(text, out);
        if (findKeywords) scanContext(text, out, findKeywords(text));
      }
      return resolveOverlaps(out);
    },
  };
}
