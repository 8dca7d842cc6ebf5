/**
 * Phone numbers validated by libphonenumber-js (Google's metadata: number plans, lengths and prefixes of every
 * country), instead of hand-written patterns per country. Candidates are found in one linear pass (digit groups
 * with phone separators), filtered by shape (dates, versions, thousands, identifiers are not phones), then:
 * - international (`+` or `00`): a valid number of the country its calling code names;
 * - national (no country code): a valid number of one of the regions tried. Those are the configured regions
 *   (`phone_regions`, the first one being the default) plus hints from the text itself: the countries of the
 *   international numbers and of the country-code top-level domains it contains.
 * A national number written without any separator must start with the trunk prefix 0 (`0501234567`): a bare run
 * of ten digits is an id as often as a phone (with 55 regions tried, nearly every run of 8–10 digits is valid in
 * one of them). Such weak candidates (no separator and no trunk 0, or seven digits) count only
 * - with context on their line: a phone word a few words before ("mobile (new) 612345678"), or a country named
 *   there ("China", "CN"; not codes that are common words such as ID or IT) whose mobile plan it fits;
 * - or as an international number written without its `+` (`447911123456`): digits that start with a calling
 *   code and form a valid mobile number of that country. Fewer than 2 % of random 10- or 12-digit runs do.
 */
import { type CountryCode, getCountries, getCountryCallingCode, Metadata, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { KEYWORDS } from './keywords.js';
import { trieSource } from './shared.js';

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
  nationalPrefixForParsing?(): string | undefined;
  nationalPrefixTransformRule?(): string | undefined;
  nationalNumberPattern(): string;
  type(t: string): { pattern(): string } | undefined;
}

interface Plan {
  prefix: string;
  lengths: Set<number>;
  /** The plan's national number pattern, whole. */
  general: RegExp;
  /** How the parser finds a trunk prefix (a pattern at the start) and what it turns the number into, if anything. */
  prefixRe: RegExp | undefined;
  transform: string | undefined;
  /** The plan's mobile and fixed-line patterns, whole (a prefilter for mobile numbers: the parse tells them apart). */
  mobile: RegExp | undefined;
  /** The patterns of every number type the plan has (a valid number matches one). */
  types: RegExp[];
}
const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'TOLL_FREE', 'PREMIUM_RATE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'];

/**
 * Per region: its trunk prefix, the lengths a national significant number can have, and its number patterns.
 * A parse with full validation costs tens of microseconds; these checks cost little and rule out most regions
 * for a candidate (a valid number always has a valid length and matches the plan's pattern).
 */
const PLANS = new Map<string, Plan>();
function planOf(region: CountryCode): Plan {
  let p = PLANS.get(region);
  if (p === undefined) {
    const meta = new Metadata();
    meta.selectNumberingPlan(region);
    const plan = meta.numberingPlan as unknown as PlanShape;
    const prefix = String(plan.nationalPrefix?.() ?? '');
    const forParsing = plan.nationalPrefixForParsing?.();
    // Mobile, or fixed line where the plan does not tell them apart (North America: FIXED_LINE_OR_MOBILE).
    const mobile = [plan.type('MOBILE')?.pattern(), plan.type('FIXED_LINE')?.pattern()].filter((x) => x !== undefined).join('|') || undefined;
    p = {
      prefix,
      lengths: new Set(plan.possibleLengths()),
      general: new RegExp(`^(?:${plan.nationalNumberPattern()})$`),
      prefixRe: forParsing !== undefined ? new RegExp(`^(?:${forParsing})`) : prefix !== '' ? new RegExp(`^${prefix}`) : undefined,
      transform: plan.nationalPrefixTransformRule?.() ?? undefined,
      mobile: mobile === undefined ? undefined : new RegExp(`^(?:${mobile})$`),
      types: NUMBER_TYPES.flatMap((t) => {
        const src = plan.type(t)?.pattern();
        return src === undefined ? [] : [new RegExp(`^(?:${src})$`)];
      }),
    };
    PLANS.set(region, p);
  }
  return p;
}

/**
 * Whether `digits` can be a valid number of `region`, with or without its trunk prefix: it matches the plan's
 * pattern and one of its number types' (what validation checks, here with patterns compiled once: the library
 * compiles them per call). Only a prefilter: a match is still parsed and validated.
 */
function patternFits(digits: string, region: CountryCode): boolean {
  const { general, types, prefixRe, transform } = planOf(region);
  const fits = (nsn: string): boolean => general.test(nsn) && types.some((t) => t.test(nsn));
  if (fits(digits)) return true;
  // The national number as the parser extracts it: the trunk prefix dropped, or replaced by its transform rule.
  const m = prefixRe?.exec(digits);
  if (!m || m[0].length === 0 && m[1] === undefined) return false;
  const nsn = transform !== undefined && m[1] !== undefined ? digits.replace(prefixRe!, transform) : digits.slice(m[0].length);
  return fits(nsn);
}

/** Regions per calling code ("44" → GB, GG, IM, JE). */
let byCallingCode: Map<string, CountryCode[]> | undefined;
function regionsOfCallingCode(cc: string): readonly CountryCode[] {
  if (byCallingCode === undefined) {
    byCallingCode = new Map();
    for (const r of getCountries()) {
      const code = getCountryCallingCode(r) as string;
      const list = byCallingCode.get(code);
      if (list) list.push(r);
      else byCallingCode.set(code, [r]);
    }
  }
  return byCallingCode.get(cc) ?? [];
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
  rule: 'phone-e164' | 'phone-national' | 'phone-context';
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

/** How far before a weak candidate its context may start (within the keyword reach streaming already keeps). */
export const PHONE_CONTEXT_WINDOW = 48;
/**
 * A phone word ("phone", "mobile number", "call me", …: the keyword path's phrases), as a whole word or
 * identifier: not the start of `phoneRegex`, `phone_count` or `phone2`.
 */
const PHONE_WORD = new RegExp(`(?<![A-Za-z0-9_])${trieSource(KEYWORDS.phone, '[\\s_-]?')}(?![a-z0-9_])`, 'gi');
/**
 * Between the phone word and the number: at most four words, no other number, no comma (a list of fields) and no
 * `:` or `=` followed by more words ("phone: n/a, order 612345678" names no phone number).
 */
const PHONE_WORD_GAP = /^[^\d\n,]{0,40}$/;
const ANOTHER_FIELD = /[:=][^:=]*\p{L}/u;

/** Whether the text between a phone word (or a country) and a number lets the number be its value. */
function closeEnough(gap: string): boolean {
  return PHONE_WORD_GAP.test(gap) && !ANOTHER_FIELD.test(gap) && gap.split(/\s+/).filter((x) => x !== '').length <= 4;
}

/** Folds a name for lookup: lower case, accents dropped, typographic apostrophe as ASCII. */
function fold(s: string): string {
  const lower = s.toLowerCase();
  return /^[\x00-\x7f]*$/.test(lower) ? lower : lower.normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/\u2019/g, "'");
}

/**
 * Country names (English, as Intl names them: "Germany", "Congo - Kinshasa" → also "Congo", "Kinshasa", plus a few
 * common aliases) → region, and one regex finding them (as written or without accents). Built on first use.
 */
let countries: { byName: Map<string, CountryCode>; re: RegExp } | undefined;
function countryNames(): { byName: Map<string, CountryCode>; re: RegExp } {
  if (countries) return countries;
  const byName = new Map<string, CountryCode>();
  let display: Intl.DisplayNames | undefined;
  try {
    display = new Intl.DisplayNames(['en'], { type: 'region' });
  } catch {
    display = undefined; // a runtime without ICU region names: codes only
  }
  for (const cc of getCountries()) {
    const name = display?.of(cc);
    if (name === undefined || name === cc) continue;
    for (const n of [name, ...name.split(/ - |\s*&\s*/)]) {
      const key = fold(n.trim());
      if (key.length >= 4 && !byName.has(key)) byName.set(key, cc);
    }
  }
  for (const [alias, cc] of [['uk', 'GB'], ['usa', 'US'], ['america', 'US'], ['britain', 'GB'], ['england', 'GB'], ['holland', 'NL'], ['turkey', 'TR'], ['czech republic', 'CZ'], ['ivory coast', 'CI'], ['drc', 'CD']] as const) {
    byName.set(alias, cc);
  }
  const spellings = new Set<string>();
  for (const key of byName.keys()) spellings.add(key);
  if (display) for (const cc of getCountries()) for (const n of (display.of(cc) ?? '').split(/ - |\s*&\s*/)) spellings.add(n.trim().toLowerCase());
  const re = new RegExp(`(?<![\\p{L}\\p{M}])${trieSource([...spellings].filter((x) => x.length >= 2), '\\s+')}(?![\\p{L}\\p{M}])`, 'giu');
  countries = { byName, re };
  return countries;
}
/** An upper-case ISO code as a word of its own ("CN number", "phone (DE)"), not inside a run of capitals. */
const ISO_CODE = /(?<![\p{L}\p{N}])[A-Z]{2}(?![\p{L}\p{N}]|\W{1,3}[A-Z]{2})/gu;
/**
 * Codes that are as often a word or an abbreviation in technical text (ID, IT, PR, CI, PM, MS, TV, IO, …): not
 * read as a country.
 */
const AMBIGUOUS_CODES = new Set([
  'AD', 'AI', 'AM', 'AS', 'AT', 'BE', 'BY', 'CC', 'CD', 'CI', 'CO', 'DO', 'GA', 'GO', 'HR', 'ID', 'IM', 'IN', 'IO', 'IS',
  'IT', 'LA', 'MD', 'ME', 'ML', 'MO', 'MS', 'MY', 'NA', 'NO', 'OR', 'PA', 'PE', 'PM', 'PR', 'PS', 'RE', 'SA', 'SE',
  'SO', 'SS', 'ST', 'TC', 'TM', 'TO', 'TV', 'VA', 'VC', 'WS',
]);

/** Positions in one text where phone words end and countries are named; found in one pass each, on first need. */
interface TextContext {
  wordStarts: number[];
  wordEnds: number[];
  /** Country mentions: start, end, region (ascending by start), and their starts alone for the binary search. */
  places: Array<[number, number, CountryCode]>;
  placeStarts: number[];
}
function textContext(text: string, lo: number, hi: number): TextContext {
  // Only the stretch the candidates' windows cover (a lone candidate in a long text costs its window, not the
  // text), with a little more on either side for the patterns' look-around.
  const part = text.slice(lo, hi);
  const wordStarts: number[] = [];
  const wordEnds: number[] = [];
  PHONE_WORD.lastIndex = 0;
  for (let m = PHONE_WORD.exec(part); m !== null; m = PHONE_WORD.exec(part)) {
    wordStarts.push(lo + m.index);
    wordEnds.push(lo + m.index + m[0].length);
  }
  const places: Array<[number, number, CountryCode]> = [];
  const { byName, re } = countryNames();
  re.lastIndex = 0;
  for (let m = re.exec(part); m !== null; m = re.exec(part)) {
    const cc = byName.get(fold(m[0]).replace(/\s+/g, ' '));
    if (cc !== undefined) places.push([lo + m.index, lo + m.index + m[0].length, cc]);
  }
  ISO_CODE.lastIndex = 0;
  for (let m = ISO_CODE.exec(part); m !== null; m = ISO_CODE.exec(part)) {
    if (isPhoneRegion(m[0]) && !AMBIGUOUS_CODES.has(m[0])) places.push([lo + m.index, lo + m.index + 2, m[0]]);
  }
  places.sort((x, y) => x[0] - y[0]);
  return { wordStarts, wordEnds, places, placeStarts: places.map((p) => p[0]) };
}

/** First index in the ascending `xs` whose value is >= `v`. */
function lowerBound(xs: readonly number[], v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What the text right before a weak candidate says about it: a phone word, and countries named there. */
interface Context {
  phoneWord: boolean;
  countries: CountryCode[];
}

/**
 * The context of the candidate at `start`: its line or sentence (not across a line break, `;`, `!`, `?` or a
 * full stop before a space), at most PHONE_CONTEXT_WINDOW characters back.
 */
function contextBefore(text: string, start: number, tc: TextContext): Context {
  let from = Math.max(0, start - PHONE_CONTEXT_WINDOW);
  for (let i = start - 1; i >= from; i--) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13 || c === 59 || c === 33 || c === 63 || (c === 46 && /\s/.test(text[i + 1] ?? ''))) {
      from = i + 1;
      break;
    }
  }
  let phoneWord = false;
  // The last phone word ending before the candidate, wholly inside the window.
  const k = lowerBound(tc.wordEnds, start + 1) - 1;
  if (k >= 0 && tc.wordStarts[k]! >= from) phoneWord = closeEnough(text.slice(tc.wordEnds[k], start));
  const found: CountryCode[] = [];
  for (let i = lowerBound(tc.placeStarts, from); i < tc.places.length && tc.places[i]![1] <= start; i++) {
    if (closeEnough(text.slice(tc.places[i]![1], start))) found.push(tc.places[i]![2]);
  }
  return { phoneWord, countries: found };
}

/**
 * A mobile number written with a trunk prefix other than 0 (Russia and Kazakhstan dial 8, `89123456789`) in one of
 * `regions`: the prefix is as telling as a 0 elsewhere, and the mobile plan behind it is narrow.
 */
function trunkMobile(digits: string, regions: readonly CountryCode[]): boolean {
  for (const region of regions) {
    const { prefix } = planOf(region);
    if (prefix === '' || prefix.startsWith('0') || !digits.startsWith(prefix) || digits.length - prefix.length < 9) continue;
    if (validIn(digits, digits, [region], true)) return true;
  }
  return false;
}

/**
 * A weak candidate that reads as a quantity, a date or a time rather than a phone number, even after a phone word
 * ("mobile limit 20000000", "mobile build 20241231", "phone synced at 1712345678901"): round (five trailing
 * zeros, or two non-zero digits in all), YYYYMMDD, or Unix time in milliseconds (thirteen digits from 1). Ten
 * digits from 1 stay: Bangladeshi, Egyptian and Korean mobile numbers look like Unix seconds without their 0.
 */
function numberLike(digits: string): boolean {
  if (/0{5}$/.test(digits) || digits.replace(/0/g, '').length <= 2) return true;
  if (digits.length === 8 && /^(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$/.test(digits)) return true;
  return digits.length === 13 && digits.startsWith('1');
}

/** Whether `digits` is an EAN-13 / ISBN-13 (13 digits) or an ISBN-10 (10 digits) by its check digit. */
function checkDigitId(digits: string): boolean {
  if (digits.length === 13) {
    let s = 0;
    for (let i = 0; i < 12; i++) s += (digits.charCodeAt(i) - 48) * (i % 2 === 0 ? 1 : 3);
    return (10 - (s % 10)) % 10 === digits.charCodeAt(12) - 48;
  }
  if (digits.length === 10) {
    let s = 0;
    for (let i = 0; i < 10; i++) s += (10 - i) * (digits.charCodeAt(i) - 48);
    return s % 11 === 0;
  }
  return false;
}

/** A run of digits counting up or down ("0123456789", "987654321"): an alphabet or a placeholder. */
function sequential(digits: string): boolean {
  let up = true;
  let down = true;
  for (let i = 1; i < digits.length; i++) {
    const d = digits.charCodeAt(i) - digits.charCodeAt(i - 1);
    if (d !== 1 && d !== -9) up = false;
    if (d !== -1 && d !== 9) down = false;
  }
  return up || down;
}

/**
 * An international number written without `+` or `00` ("447911123456", "49 151 23456789"): a calling code and
 * a valid mobile number of its country. Mobile only: fixed-line plans accept far more digit runs.
 */
function validWithoutPlus(digits: string): boolean {
  if (digits.length < 10 || digits.startsWith('0')) return false;
  const cached = verdicts.get('+' + digits);
  if (cached !== undefined) return cached;
  const ok = mobileWithCallingCode(digits);
  if (verdicts.size >= VERDICT_CACHE) verdicts.clear();
  verdicts.set('+' + digits, ok);
  return ok;
}
function mobileWithCallingCode(digits: string): boolean {
  // Parse only when some region of a calling code the digits start with has a mobile pattern the rest matches.
  let plausible = false;
  for (let n = 1; n <= 3 && !plausible; n++) {
    const rest = digits.slice(n);
    for (const r of regionsOfCallingCode(digits.slice(0, n))) {
      if (planOf(r).mobile?.test(rest) === true) {
        plausible = true;
        break;
      }
    }
  }
  if (!plausible) return false;
  const p = parsePhoneNumberFromString('+' + digits);
  if (p === undefined || !p.isValid()) return false;
  const type = p.getType();
  return type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE';
}

/** Whether the national number `v` is valid (a mobile number, with `mobileOnly`) in one of `regions`. */
function validIn(v: string, digits: string, regions: readonly CountryCode[], mobileOnly = false): boolean {
  for (const region of regions) {
    if (!lengthFits(digits, region) || !patternFits(digits, region)) continue;
    const p = parsePhoneNumberFromString(v, region);
    if (p === undefined || !p.isValid()) continue;
    if (!mobileOnly) return true;
    const type = p.getType();
    if (type === 'MOBILE' || type === 'FIXED_LINE_OR_MOBILE') return true;
  }
  return false;
}

/**
 * Phone numbers in `text` that libphonenumber validates, skipping spans inside `exclude` (IBAN-shaped runs: their
 * digit groups are not phone numbers even when the IBAN itself is invalid). `regions`: national numbers are tried
 * in these, in order.
 */
export function findPhones(text: string, regions: readonly CountryCode[], exclude: (start: number, end: number) => boolean): PhoneSpan[] {
  const out: PhoneSpan[] = [];
  const national: Array<[number, number, string, boolean]> = [];
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
    // "0123456789" unseparated: a digit alphabet or a placeholder, whatever plan it fits.
    if (!/\D/.test(v) && sequential(digits)) continue;
    const separated = /[ \-.()\u00a0]/.test(v);
    // Grouped like thousands ("1 234 567", "12.345.678") it is an amount, except eight or more digits grouped by
    // spaces and not round ("10 000 000"): the national format of Spain, Poland, Portugal, Czechia… ("612 345 678").
    if (THOUSANDS.test(v) && !digits.startsWith('0') && (digits.length < 8 || !/^[\d ]+$/.test(v) || digits.endsWith('000'))) continue;
    // Strong: separated with eight or more digits or a trunk 0, or unseparated 0 + 9–11 digits (nine digits
    // starting with 0 are as often an ABA routing number). A plain ten-digit ISBN starting with 0 stays a phone
    // candidate: one in eleven phone numbers passes the ISBN-10 check, and a missed phone number costs more than a
    // redacted book number. Everything else is weak and needs context (see the header).
    const strong = separated
      ? digits.startsWith('0') || digits.length >= 8
      : digits.startsWith('0') && !digits.startsWith('00') && digits.length >= 10 && digits.length <= 12;
    national.push([start, end, v, strong]);
  }
  if (national.length === 0) return out;
  const tried = [...new Set<CountryCode>([...regions, ...regionHints(text, intl)])];
  const key = tried.join();
  let tc: TextContext | undefined;
  const lo = Math.max(0, national[0]![0] - PHONE_CONTEXT_WINDOW - 2);
  const hi = Math.min(text.length, national[national.length - 1]![0] + 8);
  for (const [start, end, v, strong] of national) {
    const digits = v.replace(/\D/g, '');
    let ok = false;
    let rule: PhoneSpan['rule'] = 'phone-national';
    if (strong) {
      const cacheKey = `${key}|${v}`;
      const cached = verdicts.get(cacheKey);
      if (cached === undefined) {
        // Written the North American way ((415) 555-0132, 415-555-0132), the number is North American or nothing.
        ok = validIn(v, digits, NANP_SHAPE.test(v) ? NANP : tried);
        if (verdicts.size >= VERDICT_CACHE) verdicts.clear();
        verdicts.set(cacheKey, ok);
      } else ok = cached;
      // Not valid in the regions tried: a country named right before it, or a calling code without its "+".
      if (!ok && !NANP_SHAPE.test(v)) {
        const ctx = contextBefore(text, start, (tc ??= textContext(text, lo, hi)));
        ok = (ctx.countries.length > 0 && validIn(v, digits, ctx.countries)) || validWithoutPlus(digits);
      }
    } else if (!numberLike(digits)) {
      const ctx = contextBefore(text, start, (tc ??= textContext(text, lo, hi)));
      if (ctx.phoneWord) {
        // Named a phone: like a value right after a phone keyword, any number of 7–15 digits in a phone shape.
        // (Validating it would add little: nearly every run of 7–10 digits is valid in one of 55 regions.)
        rule = 'phone-context';
        ok = true;
      } else if (ctx.countries.length > 0) {
        // A mobile number of a country named right before it (fixed-line plans accept far more digit runs).
        ok = validIn(v, digits, ctx.countries, true);
      } else {
        ok = !checkDigitId(digits) && (validWithoutPlus(digits) || (v === digits && trunkMobile(digits, tried)));
      }
    }
    if (ok) out.push({ start, end, rule });
  }
  return out;
}
