/**
 * Phone numbers validated by libphonenumber-js (Google's metadata: number plans, lengths and prefixes of every
 * country), instead of hand-written patterns per country. Candidates are found in one linear pass (digit groups
 * with phone separators), filtered by shape (dates, versions, thousands, identifiers are not phones), then:
 * - international (`+` or `00`): a valid number of the country its calling code names;
 * - national (no country code): a valid number of one of the regions tried. Those are the configured regions
 *   (`phone_regions`, the first one being the default) plus hints from the text itself: the countries of the
 *   international numbers and of the country-code top-level domains it contains.
 * A national number written without any separator must start with the trunk prefix 0 (`0501234567`): a bare run
 * of ten digits is an id as often as a phone, and is left to the keyword path ("phone: 4155550132").
 */
import { type CountryCode, getCountries, Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** Regions tried for national numbers when the configuration names none: large or common in developer text. */
export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = Object.freeze([
  'US', 'GB', 'DE', 'FR', 'IN', 'CA', 'AU', 'ES', 'IT', 'NL', 'BR', 'MX', 'JP', 'CN', 'KR', 'RU', 'PL', 'SE', 'NO',
  'DK', 'FI', 'BE', 'CH', 'AT', 'IE', 'PT', 'GR', 'TR', 'IL', 'AE', 'SA', 'EG', 'ZA', 'NG', 'KE', 'AR', 'CL', 'CO',
  'PE', 'NZ', 'SG', 'MY', 'ID', 'PH', 'TH', 'VN', 'PK', 'BD', 'UA', 'CZ', 'HU', 'RO', 'IR', 'TW', 'HK',
] as CountryCode[]);

const KNOWN = new Set<string>(getCountries());

/** What the length prefilter needs of a region's numbering plan (the metadata has it; the typings omit some). */
interface PlanShape {
  possibleLengths(): number[];
  nationalPrefix?(): string | undefined;
}

/**
 * Per region: its trunk prefix and the lengths a national significant number can have. A parse with full
 * validation costs tens of microseconds; this check costs nothing and rules out most regions for a candidate.
 */
const PLANS = new Map<string, { prefix: string; lengths: Set<number> }>();
function planOf(region: CountryCode): { prefix: string; lengths: Set<number> } {
  let p = PLANS.get(region);
  if (p === undefined) {
    const meta = new Metadata();
    meta.selectNumberingPlan(region);
    const plan = meta.numberingPlan as unknown as PlanShape;
    p = { prefix: plan.nationalPrefix?.() ?? '', lengths: new Set(plan.possibleLengths()) };
    PLANS.set(region, p);
  }
  return p;
}

/** Whether `digits` (a national number as written) can have a valid length in `region`. */
function lengthFits(digits: string, region: CountryCode): boolean {
  const { prefix, lengths } = planOf(region);
  if (lengths.has(digits.length)) return true;
  return prefix.length > 0 && digits.startsWith(prefix) && lengths.has(digits.length - prefix.length);
}

/** Validity of recent national candidates (numbers repeat within a conversation and across turns). */
const verdicts = new Map<string, boolean>();
const VERDICT_CACHE = 4096;

/** True when `code` is a region libphonenumber knows (ISO 3166-1 alpha-2, upper case). */
export function isPhoneRegion(code: string): code is CountryCode {
  return KNOWN.has(code);
}

export interface PhoneSpan {
  start: number;
  end: number;
  rule: 'phone-e164' | 'phone-national';
}

/**
 * Digit groups with phone separators; starts at `+`, `(` or a digit not glued to a word, number or path, nor right
 * after a hex byte (`3e 01 23 …`, a dump) or before one (`01-23-45-67-89-AB`, a MAC address).
 */
const CANDIDATE = /(?<![\w+\-/.$@%#:,=]|\b(?:\d[0-9A-Fa-f]|[A-Fa-f]\d) )(?:\+|\(\+?)?\d[\d \-.()/\u00a0]{5,26}\d(?![\w@%]|[.\-/:]\d|[.\-:][0-9A-Fa-f]{2}(?!\w))/g;
const DATE_LIKE = /^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:$|[ T])/;
/** North American grouping. Led by a trunk 0 ("050 123 4567") it is another country's: no area code starts with 0. */
const NANP_SHAPE = /^(?:\([1-9]\d{2}\) ?|[1-9]\d{2}[-. ])\d{3}[-. ]\d{4}$/;
const NANP: readonly CountryCode[] = ['US'];
const THOUSANDS = /^\d{1,3}(?:([ .\u00a0])\d{3})(?:\1\d{3})*$/;
/** The country-code top-level domain of an e-mail address or URL host. */
const TLD = /(?:@|:\/\/)(?:[A-Za-z0-9-]{1,63}\.){1,8}([A-Za-z]{2})(?![A-Za-z0-9-])/g;

/** Candidate shape checks: one separator style between groups, groups of two or more digits, parentheses balanced. */
function shapeOk(v: string): boolean {
  if (DATE_LIKE.test(v)) return false;
  if (/^\d{3}([-. ])\d{2}\1\d{4}$/.test(v)) return false; // SSN-shaped, valid or not
  let open = false;
  const seps = new Set<string>();
  const groups: number[] = [];
  let run = 0;
  let sepRun = 0;
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    if (ch >= '0' && ch <= '9') {
      run++;
      sepRun = 0;
      continue;
    }
    if (run > 0) groups.push(run);
    run = 0;
    if (ch === '+') continue;
    if (ch === '(') {
      if (open) return false;
      open = true;
    } else if (ch === ')') {
      if (!open) return false;
      open = false;
    } else seps.add(ch === '\u00a0' ? ' ' : ch);
    // Two separators in a row only around a parenthesis: "(0) 20", "+44 (0)".
    if (++sepRun > 1 && !/[()]/.test(v.slice(i - 1, i + 1))) return false;
  }
  if (run > 0) groups.push(run);
  if (open) return false;
  // "." and "/" alone are versions, paths and dates more often than phones; mixed styles are ranges and lists.
  seps.delete(' ');
  if (seps.size > 1 || seps.has('/')) return false;
  // Single-digit groups only as a country code or trunk digit at the start.
  for (let i = 1; i < groups.length; i++) if (groups[i]! < 2) return false;
  // Two groups around a dot are a decimal number or a version; four short ones an (invalid) IPv4 address.
  if (seps.has('.') && (groups.length < 3 || (groups.length === 4 && groups.every((g) => g <= 3)))) return false;
  // 4-6-4 and 4-6-5 are how Diners and Amex cards are grouped.
  if (groups.length === 3 && groups[0] === 4 && groups[1] === 6 && groups[2]! >= 4) return false;
  return true;
}

/** ISSN check digit (mod 11 over the first seven digits, weights 8..2). */
function issnValid(v: string): boolean {
  const d = v.replace('-', '');
  let sum = 0;
  for (let i = 0; i < 7; i++) sum += (d.charCodeAt(i) - 48) * (8 - i);
  const check = (11 - (sum % 11)) % 11;
  return check === d.charCodeAt(7) - 48;
}

/** "1995-2013", "2014 - 2017": a span of years (copyright lines, changelogs), not an eight-digit number. */
function yearRange(v: string): boolean {
  const m = /^((?:1[89]|20)\d\d) ?[-\u2013] ?((?:1[89]|20)\d\d)$/.exec(v);
  return m !== null && +m[2]! >= +m[1]!;
}

/** Bytes printed in pairs ("<Buffer 88 13 70 17>", "[30 31 32 33]", "bytes: 01 02 03 04"). */
function byteDump(text: string, start: number, end: number, v: string): boolean {
  if (!/^\d\d(?: \d\d)+$/.test(v)) return false;
  return /^ ?[>\]]/.test(text.slice(end, end + 2)) || /(?:buffer|bytes?|hex|dump)[:=]? ?[<\[(]?$/i.test(text.slice(Math.max(0, start - 10), start));
}

/** Regions named by the text: countries of `+CC` numbers and ccTLDs (`.uk` → GB), for national numbers nearby. */
export function regionHints(text: string, intl: readonly string[]): CountryCode[] {
  const out = new Set<CountryCode>();
  for (const n of intl) {
    const p = parsePhoneNumberFromString(n);
    if (p?.country !== undefined) out.add(p.country);
  }
  if (text.length <= 1_000_000) {
    TLD.lastIndex = 0;
    let m: RegExpExecArray | null;
    let seen = 0;
    while ((m = TLD.exec(text)) !== null && seen < 64) {
      const cc = m[1]!.toUpperCase() === 'UK' ? 'GB' : m[1]!.toUpperCase();
      if (isPhoneRegion(cc)) {
        out.add(cc);
        seen++;
      }
    }
  }
  return [...out];
}

/**
 * Phone numbers in `text` that libphonenumber validates, skipping spans inside `exclude` (IBAN-shaped runs: their
 * digit groups are not phone numbers even when the IBAN itself is invalid). `regions`: national numbers are tried
 * in these, in order.
 */
export function findPhones(text: string, regions: readonly CountryCode[], exclude: (start: number, end: number) => boolean): PhoneSpan[] {
  const out: PhoneSpan[] = [];
  const national: Array<[number, number, string]> = [];
  const intl: string[] = [];
  CANDIDATE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = CANDIDATE.exec(text)) !== null) {
    let v = m[0];
    let start = m.index;
    // A parenthesis may close only what the candidate opened; trim a stray one at either end.
    while (v.endsWith(')') && v.split('(').length < v.split(')').length) v = v.slice(0, -1);
    if (v.startsWith('(') && !v.includes(')')) {
      v = v.slice(1);
      start++;
    }
    v = v.trimEnd();
    const end = start + v.length;
    if (exclude(start, end)) continue;
    // Book and serial numbers share phone shapes: not after their own name, and not an ISSN by its check digit.
    if (/\bIS[BS]N(?:-1[03])?:?[ \t]{0,2}$/i.test(text.slice(Math.max(0, start - 12), start))) continue;
    if (/^\d{4}-\d{4}$/.test(v) && issnValid(v)) continue;
    // An ISBN-10 whose check character is X ("3-401-01319-X"): the digits before it are not a phone number.
    if (/^[ -][Xx](?![\w-])/.test(text.slice(end, end + 3))) continue;
    const digits = v.replace(/\D/g, '');
    if (digits.length < 7 || digits.length > 15) continue;
    if (!shapeOk(v)) continue;
    if (yearRange(v) || byteDump(text, start, end, v)) continue;
    const plus = v.startsWith('+') || v.startsWith('(+');
    const idd = !plus && v.startsWith('00') && !v.startsWith('000');
    if (plus || idd) {
      const p = parsePhoneNumberFromString(plus ? v : '+' + v.slice(2).trimStart());
      if (p !== undefined && p.isValid()) {
        out.push({ start, end, rule: 'phone-e164' });
        intl.push(p.number);
      }
      continue;
    }
    const separated = /[ \-.()\u00a0]/.test(v);
    // Unseparated: only a trunk-prefixed number of 0 + 9–11 digits (nine digits starting with 0 are as often an
    // ABA routing number). A plain ten-digit ISBN starting with 0 stays a phone candidate: one in eleven phone
    // numbers passes the ISBN-10 check, and a missed phone number costs more than a redacted book number.
    if (!separated && (!digits.startsWith('0') || digits.startsWith('00') || digits.length < 10 || digits.length > 12)) continue;
    // Without a trunk prefix, seven digits are a local number or anything else: not without a keyword.
    if (!digits.startsWith('0') && digits.length < 8) continue;
    // Grouped like thousands ("1 234 567", "12.345.678") it is an amount, except eight or more digits grouped by
    // spaces and not round ("10 000 000"): the national format of Spain, Poland, Portugal, Czechia… ("612 345 678").
    if (THOUSANDS.test(v) && !digits.startsWith('0') && (digits.length < 8 || !/^[\d ]+$/.test(v) || digits.endsWith('000'))) continue;
    national.push([start, end, v]);
  }
  if (national.length === 0) return out;
  const tried = [...new Set<CountryCode>([...regions, ...regionHints(text, intl)])];
  const key = tried.join();
  for (const [start, end, v] of national) {
    const cacheKey = `${key}|${v}`;
    let ok = verdicts.get(cacheKey);
    if (ok === undefined) {
      ok = false;
      const digits = v.replace(/\D/g, '');
      // Written the North American way ((415) 555-0132, 415-555-0132), the number is North American or nothing.
      for (const region of NANP_SHAPE.test(v) ? NANP : tried) {
        if (!lengthFits(digits, region)) continue;
        const p = parsePhoneNumberFromString(v, region);
        if (p !== undefined && p.isValid()) {
          ok = true;
          break;
        }
      }
      if (verdicts.size >= VERDICT_CACHE) verdicts.clear();
      verdicts.set(cacheKey, ok);
    }
    if (ok) out.push({ start, end, rule: 'phone-national' });
  }
  return out;
}
