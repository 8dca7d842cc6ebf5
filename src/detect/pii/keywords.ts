import { lineEndWithin } from '../lines.js';
import { trieSource } from './shared.js';

/**
 * Context keywords: values that are only PII-shaped next to a word naming them ("SSN: 123456789",
 * "Phone:\n467 3395", "MRN 00123456"). All enabled keywords are found in one case-insensitive pass over the text;
 * each hit then tries a sticky value pattern right after it (or, for trailing labels, checks right before it).
 */

export type KeywordKind = 'phone' | 'phoneLabel' | 'ssn' | 'card' | 'cvv' | 'npi' | 'mrn' | 'insurance';

/** Phrases per kind. A space matches nothing, a space, `_` or `-` (so `phone number`, `phone_number`, `phoneNumber`). */
export const KEYWORDS: Readonly<Record<KeywordKind, readonly string[]>> = {
  phone: [
    'phone', 'phone number', 'phone no', 'phone #', 'telephone', 'telephone number', 'tel', 'tel.', 'tel no', 'mobile',
    'mobile number', 'mobile phone', 'mob', 'mob.', 'cell', 'cell phone', 'cell number', 'fax', 'fax number', 'whatsapp',
    'sms', 'contact number', 'contact no', 'ph',
    'ph.', 'téléphone', 'tél', 'tél.', 'telefon', 'telefono', 'teléfono', 'telefonnummer', 'handy', 'landline',
    'hotline', 'desk', 'direct line', 'home phone', 'work phone', 'office phone',
    // Conversational: "reach me at", "text us on", "my number is" (the gap takes "at", "on", "is").
    'call me', 'call us', 'reach me', 'reach us', 'contact me', 'contact us', 'text me', 'text us', 'ring me', 'ring us',
    'dial', 'my number', 'her number', 'his number', 'your number', 'our number', 'their number', 'number to call',
  ],
  // A label after the number: "415 555 0132 (office)", "0161 496 0000 - fax", "07700 900123 mobile".
  phoneLabel: ['office', 'fax', 'mobile', 'cell', 'home', 'work', 'tel', 'phone', 'direct'],
  ssn: ['ssn', 'ss#', 'ss #', 'ss no', 'social security', 'social security number', 'social security no', 'social sec', 'soc sec', 'soc. sec.'],
  card: ['card', 'card number', 'card no', 'card #', 'card num', 'credit card', 'debit card', 'cc', 'cc number', 'pan', 'maestro'],
  cvv: ['cvv', 'cvv2', 'cvc', 'cvc2', 'cvn', 'csc', 'card security code', 'security code', 'card verification value', 'card verification code'],
  npi: ['npi', 'npi number', 'npi no', 'npi #', 'national provider identifier', 'national provider id', 'provider npi'],
  mrn: [
    'mrn', 'mrn #', 'medical record', 'medical record number', 'medical record no', 'medical record #', 'med rec no',
    'patient id', 'patient number', 'patient no', 'chart number', 'chart no', 'hospital number', 'health record number',
  ],
  insurance: [
    'member id', 'member number', 'member no', 'member #', 'subscriber id', 'subscriber number', 'subscriber no',
    'policy number', 'policy no', 'policy #', 'policy id', 'insurance id', 'insurance number', 'insurance no',
    'insurance policy number', 'medicare number', 'medicare id', 'medicare no', 'medicare beneficiary identifier', 'mbi',
    'medicaid id', 'medicaid number', 'medicaid no', 'group number', 'group no', 'health plan id', 'plan member id',
    'beneficiary id', 'insured id',
  ],
};

/** A phone number as written after a keyword: optional +, parenthesised area code, digits and separators. */
export const PHONE_VALUE = '\\+?\\(?\\d[\\d ().\\-/]{4,24}\\d';

/** What follows each kind's keyword (the value is the last capture group and ends the match). */
const VALUES: Readonly<Record<Exclude<KeywordKind, 'phoneLabel'>, string>> = {
  phone: PHONE_VALUE,
  // After a keyword also Presidio's weaker shapes: unformatted, AAAAA-SSSS and AAA-GGSSSS.
  ssn: '(?:\\d{3}(?<sep>[ .\\-]?)\\d{2}\\k<sep>\\d{4}|\\d{5}-\\d{4}|\\d{3}-\\d{6})(?![\\w\\-]|\\.\\d)',
  card: '\\d{12}(?![\\w\\-]|[.,]\\d)',
  cvv: '\\d{3,4}(?![\\w\\-]|[.,]\\d)',
  npi: '[12]\\d{9}(?![\\w\\-]|[.,]\\d)',
  mrn: '[A-Za-z0-9][A-Za-z0-9\\-]{3,18}[A-Za-z0-9](?![\\w\\-])',
  insurance: '[A-Za-z0-9][A-Za-z0-9\\-]{4,18}[A-Za-z0-9](?![\\w\\-])',
};

/**
 * Kinds whose value may also sit further along the same line (within this many characters), as in
 * `INSERT INTO providers (npi, name) VALUES ('1234567893', …)`. Only for checksummed values (NPI), where a
 * keyword plus a valid check digit is strong evidence.
 */
const SAME_LINE: Partial<Record<KeywordKind, { source: string; window: number }>> = {
  npi: { source: '(?<![\\w\\-.])[12]\\d{9}(?![\\w\\-]|[.,]\\d)', window: 120 },
};

/**
 * How far before the start of a value its keyword can begin: the longest phrase plus the longest gap (or, for
 * same-line kinds, the line window). Streamed enforcement must hold this much besides the value itself, so a
 * detector's `maxMatchLength` includes it.
 */
export function keywordReach(kind: KeywordKind): number {
  const longestPhrase = Math.max(...KEYWORDS[kind].map((p) => p.length + p.split(' ').length - 1));
  return longestPhrase + GAP_MAX + (SAME_LINE[kind]?.window ?? 0);
}

/** Between a keyword and its value: quotes, `:`/`=`/`#`/`,`, one line break, and filler words ("is", "number", …). */
const GAP =
  '[ \\t"\'`\\]),:=#>|\\-]{0,8}(?:\\r?\\n[ \\t]{0,8})?' +
  '(?:(?:is|was|are|at|on|no\\.|no|nr|num|number|of)(?![A-Za-z])[ \\t:#.=]{1,3}){0,2}';
// Compiled with `i` for the filler words; the value patterns list both cases where letters are allowed anyway.
/** Longest text GAP can match: 8 punctuation/space, a line break with indentation, two filler words. */
const GAP_MAX = 8 + 2 + 8 + 2 * ('number'.length + 3);

export interface KeywordValue {
  kind: KeywordKind;
  start: number;
  end: number;
}

/** Non-ASCII letter lookups, cached per UTF-16 unit (0 unknown, 1 letter, 2 not). */
const NON_ASCII_LETTER = new Uint8Array(65536);
function isLetter(c: number): boolean {
  if (c < 128) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
  if (c !== c) return false; // NaN: outside the string
  let v = NON_ASCII_LETTER[c]!;
  if (v === 0) NON_ASCII_LETTER[c] = v = /\p{L}/u.test(String.fromCharCode(c)) ? 1 : 2;
  return v === 1;
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** Lowercase with separators removed: the key a matched keyword is looked up by. */
function norm(s: string): string {
  return s.toLowerCase().replace(/[\s_-]+/g, '');
}

/**
 * Compiles one scanner for the given kinds. `find(text)` returns values found after (or, for `phoneLabel`, the
 * candidate span just before) each keyword that stands on its own: it starts at a word boundary or after `_`
 * and ends at a word end or a camelCase hump (`phoneNumber`, `homePhone`
 * are phrases of their own). All keywords are found in one pass of a case-insensitive trie regex.
 */
export function compileKeywordFinder(kinds: ReadonlySet<KeywordKind>): ((text: string) => KeywordValue[]) | undefined {
  const byPhrase = new Map<string, KeywordKind[]>();
  const phrases: string[] = [];
  for (const kind of kinds) {
    if (kind === 'phoneLabel') continue; // found from the digits side, see below
    for (const p of KEYWORDS[kind]) {
      const key = norm(p);
      const list = byPhrase.get(key);
      if (!list) {
        byPhrase.set(key, [kind]);
        phrases.push(p);
      } else if (!list.includes(kind)) list.push(kind);
    }
  }
  // `\b` (or `_` for snake_case) before the keyword keeps the regex fast; camelCase is covered by phrases such
  // as "phone number" (`phoneNumber`) and "home phone" (`homePhone`).
  const keywordRe = phrases.length > 0 ? new RegExp(`(?:\\b|_)${trieSource(phrases, '[\\s_-]?')}`, 'gi') : undefined;
  const valueRe = new Map<KeywordKind, RegExp>();
  for (const kind of kinds) {
    if (kind !== 'phoneLabel') valueRe.set(kind, new RegExp(`${GAP}(${VALUES[kind]})`, 'iy'));
  }
  const lineRe = new Map<KeywordKind, { re: RegExp; window: number }>();
  for (const kind of kinds) {
    const l = SAME_LINE[kind];
    if (l) lineRe.set(kind, { re: new RegExp(l.source, 'g'), window: l.window });
  }
  const labelRe = kinds.has('phoneLabel')
    ? new RegExp(`[\\d)][ \\t]{0,2}[\\-,(]?[ \\t]{0,2}(?:${KEYWORDS.phoneLabel.join('|')})(?![A-Za-z])`, 'gi')
    : undefined;
  const beforeLabel = new RegExp(`(?<![\\w+\\-/.$@])(${PHONE_VALUE})(?:[ ]?(?:x|ext\\.?)[ ]?\\d{1,5})?[ \\t]{0,2}[\\-,(]?[ \\t]{0,2}$`);
  if (!keywordRe && !labelRe) return undefined;

  return (text: string): KeywordValue[] => {
    const out: KeywordValue[] = [];
    let m: RegExpExecArray | null;
    if (keywordRe) {
      keywordRe.lastIndex = 0;
      while ((m = keywordRe.exec(text)) !== null) {
        const start = m.index + (m[0].charCodeAt(0) === 95 ? 1 : 0);
        // The longest phrase that ends at a word end ("phone" in "Phone Norway", where "phone no" does not).
        let end = m.index + m[0].length;
        let kindsHere: KeywordKind[] | undefined;
        for (; end > start; end--) {
          const next = text.charCodeAt(end);
          if (isLetter(next) && !(isLower(text.charCodeAt(end - 1)) && isUpper(next))) continue;
          kindsHere = byPhrase.get(norm(text.slice(start, end)));
          if (kindsHere) break;
        }
        if (!kindsHere) continue;
        for (const kind of kindsHere) {
          const v = valueRe.get(kind)!;
          v.lastIndex = end;
          const vm = v.exec(text);
          if (!vm) {
            const line = lineRe.get(kind);
            if (line) {
              const segment = text.slice(end, lineEndWithin(text, end, line.window));
              line.re.lastIndex = 0;
              for (const lm of segment.matchAll(line.re)) out.push({ kind, start: end + lm.index, end: end + lm.index + lm[0].length });
            }
            continue;
          }
          const value = vm[1]!;
          const vend = end + vm[0].length;
          out.push({ kind, start: vend - value.length, end: vend });
        }
      }
    }
    if (labelRe) {
      labelRe.lastIndex = 0;
      while ((m = labelRe.exec(text)) !== null) {
        const labelAt = m.index + 1;
        const from = Math.max(0, labelAt - 40);
        const b = beforeLabel.exec(text.slice(from, labelAt));
        if (b) out.push({ kind: 'phoneLabel', start: from + b.index, end: from + b.index + b[1]!.length });
      }
    }
    return out;
  };
}
