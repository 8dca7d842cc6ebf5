/**
 * Measures pii-detector by class on data this project did not write, and on numbers generated from public format
 * definitions (libphonenumber's example numbers, card brand ranges with Luhn, ISBN / EAN / ISSN / ABA check digits).
 * Prints recall per class and format, the look-alike classes that are wrongly reported, and (with --misses) the
 * missed and extra values, so a change can be judged by class. Never reads ../shared/eval (a test set).
 *
 *   node --import tsx scripts/pii-corpora.ts [--misses]
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CountryCode, getCountries, getCountryCallingCode, getExampleNumber } from 'libphonenumber-js/max';
import examples from 'libphonenumber-js/examples.mobile.json';
import { createPiiScanner } from '../src/detect/pii/index.js';
import { luhnValid } from '../src/detect/pii/checksums.js';
import { mulberry32 } from '../src/testing/mulberry32.js';

const here = dirname(fileURLToPath(import.meta.url));
const showMisses = process.argv.includes('--misses');
const scanner = createPiiScanner();
const rnd = mulberry32(18);
const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(rnd() * 10))).join('');
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** Sentences a value is written into (ours): code, prose, config, a table row. */
const FRAMES = [
  (v: string) => v,
  (v: string) => `Reach me at ${v} after 5pm.`,
  (v: string) => `contact = "${v}"`,
  (v: string) => `| Jane Doe | ${v} | active |`,
  (v: string) => `{"name": "A. Smith", "value": "${v}"}`,
  (v: string) => `Her number is ${v}, thanks`,
];

interface Tally {
  n: number;
  hit: number;
  misses: string[];
}
function tally(map: Map<string, Tally>, key: string, hit: boolean, example: string): void {
  const t = map.get(key) ?? { n: 0, hit: 0, misses: [] };
  t.n++;
  if (hit) t.hit++;
  else if (t.misses.length < 6) t.misses.push(example);
  map.set(key, t);
}
function found(text: string, value: string, type: string): boolean {
  const at = text.indexOf(value);
  return scanner.scan(text).some((m) => m.type === type && m.start <= at && m.end >= at + value.length);
}
function flagged(text: string, types?: readonly string[]): string[] {
  return scanner.scan(text).filter((m) => !types || types.includes(m.type)).map((m) => `${m.type}/${m.rule}:${text.slice(m.start, m.end)}`);
}
function printTable(title: string, map: Map<string, Tally>, asFp = false): void {
  console.log(`\n${title}`);
  let n = 0;
  let hit = 0;
  for (const [k, t] of [...map].sort(([a], [b]) => a.localeCompare(b))) {
    n += t.n;
    hit += t.hit;
    const rate = t.hit / t.n;
    console.log(`  ${k.padEnd(44)} ${String(t.hit).padStart(5)}/${String(t.n).padEnd(5)} ${(rate * 100).toFixed(1).padStart(5)}%`);
    if (showMisses && t.misses.length > 0) for (const m of t.misses) console.log(`      ${asFp ? 'flag' : 'miss'} ${JSON.stringify(m)}`);
  }
  console.log(`  ${'TOTAL'.padEnd(44)} ${String(hit).padStart(5)}/${String(n).padEnd(5)} ${((hit / Math.max(1, n)) * 100).toFixed(1).padStart(5)}%`);
}

// ---- Presidio synthetic dataset (labelled spans) ----------------------------------------------------------------
const presidioPath = join(here, '..', '..', 'shared', 'corpora', 'pii', 'presidio-synth_dataset_v2.json');
if (existsSync(presidioPath)) {
  const map: Record<string, string> = {
    EMAIL_ADDRESS: 'EMAIL', PHONE_NUMBER: 'PHONE', CREDIT_CARD: 'CREDIT_CARD', IBAN_CODE: 'IBAN', US_SSN: 'SSN', IP_ADDRESS: 'IP_ADDRESS',
  };
  interface Span { entity_type: string; entity_value: string; start_position: number; end_position: number }
  const data = JSON.parse(readFileSync(presidioPath, 'utf8')) as Array<{ full_text: string; spans: Span[] }>;
  const recall = new Map<string, Tally>();
  const extra = new Map<string, Tally>();
  for (const d of data) {
    const ms = scanner.scan(d.full_text);
    for (const s of d.spans) {
      const type = map[s.entity_type];
      if (!type) continue;
      const hit = ms.some((m) => m.type === type && m.start <= s.start_position && m.end >= s.end_position);
      tally(recall, s.entity_type, hit, `${s.entity_value}  «${d.full_text.slice(Math.max(0, s.start_position - 30), s.end_position + 20)}»`);
    }
    for (const m of ms) {
      const labelled = d.spans.some((s) => m.start < s.end_position && s.start_position < m.end);
      if (!labelled) tally(extra, m.rule, false, `${d.full_text.slice(m.start, m.end)}  «${d.full_text.slice(Math.max(0, m.start - 30), m.end + 20)}»`);
    }
  }
  printTable(`Presidio synth_dataset_v2 (${data.length} texts): recall per label`, recall);
  printTable('Presidio: matches on spans no label covers (by rule; some are real PII the set leaves unlabelled)', extra, true);
}

// ---- Phones from libphonenumber's example mobile numbers, every region, many formats ----------------------------
{
  const byFormat = new Map<string, Tally>();
  const byRegion = new Map<string, Tally>();
  for (const region of getCountries() as CountryCode[]) {
    const ex = getExampleNumber(region, examples as never);
    if (!ex) continue;
    const cc = getCountryCallingCode(region);
    const nsn = ex.nationalNumber as string;
    const national = ex.formatNational();
    const formats: Record<string, string> = {
      'e164 +CCNSN': ex.number as string,
      'international formatted': ex.formatInternational(),
      'national formatted': national,
      'national digits (with trunk prefix)': national.replace(/\D/g, ''),
      'CC+NSN digits, no plus': `${cc}${nsn}`,
      '00 CC NSN digits': `00${cc}${nsn}`,
      'NSN digits only': nsn,
      'NSN digits, phone word words back': nsn,
      'NSN digits, country named before': nsn,
    };
    for (const [fmt, v] of Object.entries(formats)) {
      const frame = fmt === 'NSN digits, phone word words back'
        ? (x: string) => `Her mobile changed last week to ${x}.`
        : fmt === 'NSN digits, country named before'
          ? (x: string) => `${new Intl.DisplayNames(['en'], { type: 'region' }).of(region)} office: ${x}`
          : pick(FRAMES);
      const text = frame(v);
      const hit = found(text, v, 'PHONE');
      tally(byFormat, fmt, hit, `${region}: ${text}`);
      if (!fmt.startsWith('NSN digits') && fmt !== 'CC+NSN digits, no plus') tally(byRegion, region, hit, `${fmt}: ${v}`);
    }
  }
  printTable('Example mobile numbers of every region (libphonenumber), by format', byFormat);
  if (showMisses) {
    const bad = new Map([...byRegion].filter(([, t]) => t.hit < t.n));
    printTable('  regions with a missed format (separated formats, + and 00 forms)', bad);
  }
}

// ---- Payment cards by brand and grouping ------------------------------------------------------------------------
function withCheckDigit(body: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}
{
  const brands: Array<[string, () => string, number]> = [
    ['visa16', () => '4' + digits(14), 16],
    ['visa13', () => '4' + digits(11), 13],
    ['visa19', () => '4' + digits(17), 19],
    ['mastercard 51-55', () => String(51 + Math.floor(rnd() * 5)) + digits(13), 16],
    ['mastercard 2221-2720', () => String(2221 + Math.floor(rnd() * 500)) + digits(11), 16],
    ['amex', () => pick(['34', '37']) + digits(12), 15],
    ['discover 6011', () => '6011' + digits(11), 16],
    ['discover 65', () => '65' + digits(13), 16],
    ['diners 14', () => pick(['300', '301', '305', '36', '38']).padEnd(3, String(Math.floor(rnd() * 10))) + digits(10), 14],
    ['jcb', () => String(3528 + Math.floor(rnd() * 62)) + digits(11), 16],
    ['unionpay 62', () => '62' + digits(13), 16],
    ['maestro 6759', () => '6759' + digits(11), 16],
    ['mir', () => '220' + String(Math.floor(rnd() * 5)) + digits(11), 16],
  ];
  const groupings: Record<string, (d: string) => string> = {
    plain: (d) => d,
    'spaced 4s': (d) => d.replace(/(\d{4})(?=\d)/g, '$1 '),
    'dashed 4s': (d) => d.replace(/(\d{4})(?=\d)/g, '$1-'),
    'amex 4-6-5 / diners 4-6-4': (d) => (d.length === 15 || d.length === 14 ? `${d.slice(0, 4)} ${d.slice(4, 10)} ${d.slice(10)}` : d.replace(/(\d{4})(?=\d)/g, '$1 ')),
  };
  const cards = new Map<string, Tally>();
  for (const [brand, gen] of brands) {
    for (const [g, fmt] of Object.entries(groupings)) {
      for (let i = 0; i < 6; i++) {
        const v = fmt(withCheckDigit(gen()));
        const text = pick(FRAMES)(v);
        tally(cards, `${brand} / ${g}`, found(text, v, 'CREDIT_CARD'), text);
      }
    }
  }
  printTable('Payment cards (valid Luhn, brand ranges), by brand and grouping', cards);
}

// ---- Look-alikes: numbers with their own check digits or shapes, never PII --------------------------------------
function isbn10(): string {
  const body = digits(9);
  let s = 0;
  for (let i = 0; i < 9; i++) s += (10 - i) * +body[i]!;
  const c = (11 - (s % 11)) % 11;
  return body + (c === 10 ? 'X' : String(c));
}
function ean13(prefix: string): string {
  const body = prefix + digits(12 - prefix.length);
  let s = 0;
  for (let i = 0; i < 12; i++) s += +body[i]! * (i % 2 === 0 ? 1 : 3);
  return body + String((10 - (s % 10)) % 10);
}
function issn(): string {
  const b = digits(7);
  let s = 0;
  for (let i = 0; i < 7; i++) s += +b[i]! * (8 - i);
  const c = (11 - (s % 11)) % 11;
  return `${b.slice(0, 4)}-${b.slice(4)}${c === 10 ? 'X' : c}`;
}
function aba(): string {
  for (;;) {
    const b = digits(8);
    const w = [3, 7, 1, 3, 7, 1, 3, 7];
    let s = 0;
    for (let i = 0; i < 8; i++) s += +b[i]! * w[i]!;
    const c = (10 - (s % 10)) % 10;
    return b + c;
  }
}
/** ISBN hyphenation: registration group, registrant, publication, check digit (group widths vary by range). */
function hyphenIsbn(d: string): string {
  if (d.length === 10) {
    const g = pick([1, 1, 2, 3]);
    const r = 2 + Math.floor(rnd() * 4);
    return `${d.slice(0, g)}-${d.slice(g, g + r)}-${d.slice(g + r, 9)}-${d[9]}`;
  }
  const g = pick([1, 1, 2]);
  const r = 2 + Math.floor(rnd() * 4);
  return `${d.slice(0, 3)}-${d.slice(3, 3 + g)}-${d.slice(3 + g, 3 + g + r)}-${d.slice(3 + g + r, 12)}-${d[12]}`;
}
{
  const look = new Map<string, Tally>();
  const classes: Array<[string, () => string]> = [
    ['ISBN-10 plain', isbn10],
    ['ISBN-10 hyphenated', () => hyphenIsbn(isbn10())],
    ['ISBN-10 spaced', () => hyphenIsbn(isbn10()).replace(/-/g, ' ')],
    ['ISBN-13 plain', () => ean13(pick(['978', '979']))],
    ['ISBN-13 hyphenated', () => hyphenIsbn(ean13(pick(['978', '979'])))],
    ['ISBN-13 spaced', () => hyphenIsbn(ean13(pick(['978', '979']))).replace(/-/g, ' ')],
    ['EAN-13', () => ean13(String(Math.floor(rnd() * 10)))],
    ['EAN-8', () => digits(8)],
    ['ISSN', issn],
    ['ABA routing', aba],
    ['unix seconds', () => String(1_500_000_000 + Math.floor(rnd() * 300_000_000))],
    ['unix millis', () => String(1_500_000_000_000 + Math.floor(rnd() * 300_000_000_000))],
    ['decimal', () => `${digits(4)}.${digits(6)}`],
    ['invalid card (bad Luhn)', () => { const d = withCheckDigit('4' + digits(14)); return d.slice(0, 15) + ((+d[15]! + 1) % 10); }],
    ['ISIN', () => `${pick(['US', 'DE', 'GB', 'FR'])}${digits(9)}${digits(1)}`],
    ['semver', () => `${Math.floor(rnd() * 20)}.${Math.floor(rnd() * 40)}.${Math.floor(rnd() * 100)}`],
    ['ISO 8601', () => `20${digits(2)}-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)}T1${digits(1)}:3${digits(1)}:0${digits(1)}Z`],
    ['ISO 6346 container', () => `${pick(['CSQ', 'MSK', 'TGH'])}U ${digits(6)} ${digits(1)}`],
  ];
  const contexts = [
    (v: string) => v,
    (v: string) => `ISBN ${v}`,
    (v: string) => `"id": ${v},`,
    (v: string) => `| ${v} | in stock |`,
    (v: string) => `See ref ${v} for details.`,
  ];
  for (const [name, gen] of classes) {
    for (let i = 0; i < 60; i++) {
      const v = gen();
      const text = contexts[i % contexts.length]!(v);
      const f = flagged(text);
      tally(look, name, f.length === 0, `${text}  → ${f.join(', ')}`);
    }
  }
  printTable('Look-alikes left alone (higher is better)', look, true);
}
