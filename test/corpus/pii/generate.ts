/**
 * Writes `cases.jsonl`: a synthetic, deterministic corpus for the PII scanner. Every value is made up here (seeded
 * PRNG, check digits computed here, independently of the scanner). Positives embed values in the places coding
 * agents see them: source fixtures, CSV, JSON, logs, SQL, signatures, commit messages, YAML, prose. Negatives are
 * PII-shaped but not PII: bad check digits, invalid SSN areas, versions, timestamps, ids, hashes, ports, numbers.
 *
 * Run: npx tsx test/corpus/pii/generate.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Expected {
  type: string;
  value: string;
}
export interface CorpusCase {
  id: string;
  text: string;
  expected: Expected[];
}

// ---- deterministic randomness ---------------------------------------------------------------------------------
let seed = 0x5eed1234;
function rnd(): number {
  // mulberry32
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function int(min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}
function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}
function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(int(0, 9));
  return s;
}
function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}
function hex(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[int(0, 15)];
  return s;
}
function alnumUpper(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789'[int(0, 33)];
  return s;
}
function upper(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[int(0, 25)];
  return s;
}

// ---- check digits (independent implementations) ---------------------------------------------------------------
function luhnCheckDigit(body: string): string {
  // The digit that makes body+digit Luhn-valid.
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}
function luhnOk(num: string): boolean {
  return luhnCheckDigit(num.slice(0, -1)) === num.slice(-1);
}
function mod97(numeric: string): number {
  let r = 0;
  for (const ch of numeric) r = (r * 10 + Number(ch)) % 97;
  return r;
}
function ibanNumeric(s: string): string {
  return [...s].map((c) => (/[A-Z]/.test(c) ? String(c.charCodeAt(0) - 55) : c)).join('');
}
function ibanCheck(cc: string, bban: string): string {
  return pad(98 - mod97(ibanNumeric(bban + cc + '00')), 2);
}

// ---- people and places -----------------------------------------------------------------------------------------
const FIRST = ['ava', 'liam', 'noah', 'emma', 'olivia', 'mateo', 'sofia', 'yuki', 'priya', 'lukas', 'chloe', 'jonas', 'amara', 'diego', 'fatima', 'hannah', 'omar', 'mei', 'ines', 'kwame', 'tomasz', 'aiko', 'rahul', 'elena'];
const LAST = ['nguyen', 'schmidt', 'garcia', 'okafor', 'tanaka', 'kowalski', 'dubois', 'rossi', 'patel', 'johansson', 'oconnor', 'haddad', 'silva', 'murphy', 'novak', 'fischer', 'moreau', 'khan', 'larsen', 'costa'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.co.uk', 'contoso.com', 'fabrikam.io', 'northwind-traders.de', 'acme-corp.fr', 'uni.example.edu', 'health.example.org', 'tailspin.dev', 'dept.city.example.gov'];
const cap = (s: string): string => s[0]!.toUpperCase() + s.slice(1);

function person(): { first: string; last: string; name: string } {
  const first = pick(FIRST);
  const last = pick(LAST);
  return { first, last, name: `${cap(first)} ${cap(last)}` };
}

function email(p = person()): string {
  const d = pick(DOMAINS);
  switch (int(0, 5)) {
    case 0:
      return `${p.first}.${p.last}@${d}`;
    case 1:
      return `${p.first[0]}${p.last}${int(1, 99)}@${d}`;
    case 2:
      return `${p.first}_${p.last}+${pick(['billing', 'github', 'test', 'news'])}@${d}`;
    case 3:
      return `${cap(p.first)}.${cap(p.last)}@${d}`;
    case 4:
      return `${p.last}-${p.first}@${d}`;
    default:
      return `${p.first}${int(1970, 2005)}@${d}`;
  }
}

function usPhone(): string {
  const a = pick(['212', '312', '415', '646', '213', '617', '206', '305', '512', '720', '503', '404']);
  const e = rnd() < 0.5 ? '555' : String(int(201, 989));
  const l = pad(int(100, 9999), 4);
  switch (int(0, 6)) {
    case 0:
      return `(${a}) ${e}-${l}`;
    case 1:
      return `${a}-${e}-${l}`;
    case 2:
      return `${a}.${e}.${l}`;
    case 3:
      return `+1 ${a} ${e} ${l}`;
    case 4:
      return `+1-${a}-${e}-${l}`;
    case 5:
      return `+1${a}${e}${l}`;
    default:
      return `1-${a}-${e}-${l}`;
  }
}
function intlPhone(): string {
  const two = (): string => pad(int(10, 99), 2);
  switch (int(0, 17)) {
    case 0:
      return `020 7946 0${pad(int(0, 999), 3)}`;
    case 1:
      return `+44 20 7946 0${pad(int(0, 999), 3)}`;
    case 2:
      return `07700 900${pad(int(0, 999), 3)}`;
    case 3:
      return `+44 7700 900${pad(int(0, 999), 3)}`;
    case 4:
      return `0161 496 0${pad(int(0, 999), 3)}`;
    case 5:
      return `030 ${int(1000000, 99999999)}`;
    case 6:
      return `+49 30 ${int(10000000, 99999999)}`;
    case 7:
      return `+49 151 ${int(10000000, 99999999)}`;
    case 8:
      return `0${int(1, 9)} ${two()} ${two()} ${two()} ${two()}`;
    case 9:
      return `+33 ${int(1, 7)} ${two()} ${two()} ${two()} ${two()}`;
    case 10:
      return `+34 6${pad(int(0, 99), 2)} ${pad(int(0, 999), 3)} ${pad(int(0, 999), 3)}`;
    case 11:
      return `6${pad(int(0, 99), 2)} ${two()} ${two()} ${two()}`;
    case 12:
      return `+91 ${int(70000, 99999)} ${int(10000, 99999)}`;
    case 13:
      return `${int(70000, 99999)} ${int(10000, 99999)}`;
    case 14:
      return `+61 4${pad(int(0, 99), 2)} ${pad(int(0, 999), 3)} ${pad(int(0, 999), 3)}`;
    case 15:
      return `(02) 9${pad(int(0, 999), 3)} ${pad(int(0, 9999), 4)}`;
    case 16:
      return `+81 3-${pad(int(0, 9999), 4)}-${pad(int(0, 9999), 4)}`;
    default:
      return `+55 11 9${pad(int(0, 9999), 4)}-${pad(int(0, 9999), 4)}`;
  }
}

function ssn(): string {
  let area = int(1, 899);
  if (area === 666) area = 667;
  return `${pad(area, 3)}-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`;
}

const CARD_PREFIXES: Array<[string, number[]]> = [
  ['4', [16, 16, 16, 13, 19]],
  ['51', [16]], ['52', [16]], ['53', [16]], ['54', [16]], ['55', [16]], ['2221', [16]], ['2720', [16]], ['2305', [16]],
  ['34', [15]], ['37', [15]],
  ['6011', [16]], ['65', [16]], ['644', [16]],
  ['36', [14]], ['300', [14]], ['305', [14]],
  ['3528', [16]], ['3589', [16]], ['3566', [16]],
  ['62', [16, 19]],
  ['6759', [16, 18]], ['5018', [16]],
];
function cardNumber(): string {
  const [prefix, lens] = pick(CARD_PREFIXES);
  const len = pick(lens);
  const body = prefix + digits(len - prefix.length - 1);
  return body + luhnCheckDigit(body);
}
function formatCard(n: string): string {
  const style = int(0, 2);
  if (style === 0) return n;
  const sep = style === 1 ? ' ' : '-';
  if (n.length === 15) return [n.slice(0, 4), n.slice(4, 10), n.slice(10)].join(sep);
  if (n.length === 14) return [n.slice(0, 4), n.slice(4, 10), n.slice(10)].join(sep);
  return n.match(/.{1,4}/g)!.join(sep);
}

const IBAN_FORMATS: Record<string, string> = {
  DE: '18n', GB: '4a14n', FR: '10n11c2n', ES: '20n', IT: '1a10n12c', NL: '4a10n', BE: '12n', CH: '5n12c', AT: '16n',
  PL: '24n', SE: '20n', NO: '11n', DK: '14n', IE: '4a14n', PT: '21n', FI: '14n', LU: '3n13c', CZ: '20n', RO: '4a16c',
  HU: '24n', GR: '7n16c', TR: '6n16c', SA: '2n18c', AE: '19n',
};
function bban(fmt: string): string {
  let out = '';
  for (const [, count, cls] of fmt.matchAll(/(\d+)([nac])/g)) {
    const n = Number(count);
    out += cls === 'n' ? digits(n) : cls === 'a' ? upper(n) : alnumUpper(n);
  }
  return out;
}
function iban(): { compact: string; cc: string } {
  const cc = pick(Object.keys(IBAN_FORMATS));
  const b = bban(IBAN_FORMATS[cc]!);
  return { compact: cc + ibanCheck(cc, b) + b, cc };
}
const spaced = (s: string): string => s.match(/.{1,4}/g)!.join(' ');

function publicIpv4(): string {
  const first = pick([23, 31, 45, 52, 64, 81, 91, 104, 151, 185, 198, 203, 212, 217]);
  return `${first}.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
}
function privateIpv4(): string {
  switch (int(0, 3)) {
    case 0:
      return `10.${int(0, 255)}.${int(0, 255)}.${int(1, 254)}`;
    case 1:
      return `192.168.${int(0, 255)}.${int(1, 254)}`;
    case 2:
      return `172.${int(16, 31)}.${int(0, 255)}.${int(1, 254)}`;
    default:
      return '127.0.0.1';
  }
}
function ipv6(): string {
  const g = (): string => hex(int(1, 4)).replace(/^0+(?=.)/, '');
  switch (int(0, 4)) {
    case 0:
      return Array.from({ length: 8 }, () => hex(4)).join(':');
    case 1:
      return `2001:db8::${g()}:${g()}`;
    case 2:
      return `fe80::${g()}:${g()}:${g()}:${g()}`;
    case 3:
      return `2a00:1450:${g()}:${g()}::${g()}`;
    default:
      return `2606:4700:${g()}:${g()}:${g()}:${g()}:${g()}:${g()}`;
  }
}

function npi(): string {
  const body = String(int(1, 2)) + digits(8);
  return body + luhnCheckDigit('80840' + body);
}
function mrn(): string {
  switch (int(0, 3)) {
    case 0:
      return pad(int(1, 99999999), 8);
    case 1:
      return `MR${int(100000, 9999999)}`;
    case 2:
      return `${int(2015, 2025)}-${pad(int(0, 999999), 6)}`;
    default:
      return `A${digits(7)}`;
  }
}
function insuranceId(): string {
  switch (int(0, 3)) {
    case 0:
      return `${upper(3)}${digits(9)}`;
    case 1:
      return `W${digits(9)}`;
    case 2:
      return `${digits(1)}${upper(2)}${digits(1)}-${upper(2)}${digits(1)}-${upper(2)}${digits(2)}`; // MBI-like
    default:
      return `PLC-${digits(8)}`;
  }
}

// ---- noise that must not be flagged ----------------------------------------------------------------------------
function isoTime(): string {
  return `2024-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}T${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}.${pad(int(0, 999), 3)}Z`;
}
function uuid(): string {
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
}
function semver(): string {
  return `${int(0, 20)}.${int(0, 40)}.${int(0, 30)}`;
}

// ---- positive case builders ------------------------------------------------------------------------------------
const cases: CorpusCase[] = [];
let nextId = 0;
function add(kind: 'pos' | 'neg', text: string, expected: Expected[]): void {
  // Each expected value must occur exactly once, so the test can locate it without ambiguity.
  for (const e of expected) {
    const first = text.indexOf(e.value);
    if (first === -1 || text.indexOf(e.value, first + 1) !== -1) return; // regenerate by skipping
  }
  cases.push({ id: `${kind}-${pad(nextId++, 4)}`, text, expected });
}

type Builder = () => [string, Expected[]];

const emailContexts: Array<(v: string) => string> = [
  (v) => `const user = { id: ${int(1, 9999)}, email: '${v}', createdAt: '${isoTime()}' };`,
  (v) => `${int(1, 500)},${cap(pick(FIRST))},${cap(pick(LAST))},${v},${pick(['active', 'pending', 'disabled'])}`,
  (v) => `{"event":"signup","user":{"email":"${v}","plan":"pro"},"request_id":"${uuid()}"}`,
  (v) => `${isoTime()} INFO  auth: password reset requested for ${v} from session ${hex(12)}`,
  (v) => `INSERT INTO users (id, email, locale) VALUES (${int(1, 9999)}, '${v}', 'en-GB');`,
  (v) => `Best regards,\n${cap(pick(FIRST))} ${cap(pick(LAST))}\nSenior Engineer | Platform\n${v}`,
  (v) => `fix(mailer): retry on 451 responses\n\nReported-by: ${cap(pick(FIRST))} ${cap(pick(LAST))} <${v}>`,
  (v) => `notifications:\n  on_failure:\n    email: ${v}\n  retries: 3`,
  (v) => `Can you check why ${v} stopped receiving the weekly digest since v${semver()}?`,
  (v) => `    assert send_invite("${v}") is True  # fixture`,
  (v) => `<a href="mailto:${v}">Contact support</a>`,
];
const phoneContexts: Array<(v: string) => string> = [
  (v) => `const contact = { name: '${person().name}', phone: '${v}', ext: null };`,
  (v) => `${int(1, 900)},${person().name},"${v}",${pick(['London', 'Berlin', 'Austin', 'Lyon', 'Pune'])}`,
  (v) => `{"customer_id": ${int(1000, 99999)}, "phone": "${v}", "verified": true}`,
  (v) => `${isoTime()} WARN sms: delivery failed to ${v} (provider timeout after 3000ms)`,
  (v) => `INSERT INTO contacts (name, phone) VALUES ('${person().name}', '${v}');`,
  (v) => `--\n${person().name}\nHead of Support\nMobile: ${v}\nwww.example.com`,
  (v) => `Please call me back at ${v} after 3pm, I'm on build ${semver()} of the app.`,
  (v) => `twilio:\n  from: "${v}"\n  timeout_ms: 5000`,
  (v) => `    user.setPhoneNumber("${v}"); // test fixture`,
  (v) => `| ${person().name} | ${v} | on-call |`,
];
const cardContexts: Array<(v: string) => string> = [
  (v) => `const TEST_CARD = '${v}'; // charge succeeds`,
  (v) => `{"amount": ${int(100, 99999)}, "currency": "usd", "card": {"number": "${v}", "exp_month": ${int(1, 12)}, "exp_year": ${int(2026, 2031)}}}`,
  (v) => `${int(1, 999)},${person().name},${v},${pad(int(1, 12), 2)}/${int(26, 31)}`,
  (v) => `${isoTime()} DEBUG payments: tokenizing card ${v} for order ${int(100000, 999999)}`,
  (v) => `INSERT INTO payment_methods (user_id, pan) VALUES (${int(1, 9999)}, '${v}');`,
  (v) => `My card ${v} was charged twice on ${pad(int(1, 28), 2)}/${pad(int(1, 12), 2)}/2024, can you refund one?`,
  (v) => `    card_number = "${v}"  # from the sandbox docs`,
  (v) => `payment:\n  card: ${v}\n  holder: ${person().name}`,
];
const ibanContexts: Array<(v: string) => string> = [
  (v) => `Please wire the invoice total to IBAN ${v} (reference INV-${int(1000, 9999)}).`,
  (v) => `{"beneficiary": "${person().name}", "iban": "${v}", "amount": "${int(10, 9999)}.${pad(int(0, 99), 2)}"}`,
  (v) => `payout:\n  iban: ${v}\n  schedule: monthly`,
  (v) => `INSERT INTO bank_accounts (owner, iban) VALUES ('${person().name}', '${v}');`,
  (v) => `${int(1, 999)};${person().name};${v};EUR`,
  (v) => `    expect(validateIban('${v}')).toBe(true);`,
  (v) => `${isoTime()} INFO sepa: mandate created for ${v}`,
];
const ipContexts: Array<(v: string) => string> = [
  (v) => `${v} - - [15/Mar/2024:10:22:31 +0000] "GET /api/v2/users HTTP/1.1" 200 5120 "-" "curl/8.4.0"`,
  (v) => `Mar 15 10:22:31 bastion sshd[${int(1000, 65000)}]: Failed password for root from ${v} port ${int(1024, 65535)} ssh2`,
  (v) => `{"level":"info","msg":"request","client_ip":"${v}","latency_ms":${int(1, 900)}}`,
  (v) => `X-Forwarded-For: ${v}`,
  (v) => `const ALLOWED = ['${v}'];`,
  (v) => `upstream backend {\n  server ${v}:8080 weight=5;\n}`,
  (v) => `The user's address ${v} keeps getting rate-limited since release ${semver()}.`,
];
const ssnContexts: Array<(v: string) => string> = [
  (v) => `const applicant = { name: '${person().name}', ssn: '${v}', dob: '1987-04-12' };`,
  (v) => `${int(1, 999)},${person().name},${v},${pick(['TX', 'CA', 'NY', 'WA'])}`,
  (v) => `{"employee_id": ${int(1000, 9999)}, "ssn": "${v}", "hired": "2021-06-01"}`,
  (v) => `INSERT INTO employees (name, ssn) VALUES ('${person().name}', '${v}');`,
  (v) => `Here's my SSN for the background check: ${v}`,
  (v) => `${isoTime()} ERROR hr-sync: duplicate tax id ${v} for record ${int(1, 99999)}`,
];

const builders: Record<string, Builder> = {
  EMAIL: () => {
    const v = email();
    return [pick(emailContexts)(v), [{ type: 'EMAIL', value: v }]];
  },
  PHONE_US: () => {
    const v = usPhone();
    return [pick(phoneContexts)(v), [{ type: 'PHONE', value: v }]];
  },
  PHONE_INTL: () => {
    const v = intlPhone();
    return [pick(phoneContexts)(v), [{ type: 'PHONE', value: v }]];
  },
  PHONE_KEYWORD: () => {
    const v = pick([`${int(200, 999)} ${pad(int(0, 9999), 4)}`, `${int(2000000, 9999999)}`, `${int(20, 99)}-${int(10, 99)}-${int(10, 99)}-${int(10, 99)}`, `${int(200, 999)}${int(200, 999)}${pad(int(0, 9999), 4)}`]);
    const ctx = pick<(x: string) => string>([
      (x) => `Phone: ${x}`,
      (x) => `Tel.: ${x}`,
      (x) => `{"name": "${person().name}", "phone_number": "${x}"}`,
      (x) => `Personal info:\nPhone:\n${x}\n`,
      (x) => `Can someone call me on ${x}? Thanks`,
      (x) => `Fax: ${x}`,
    ]);
    return [ctx(v), [{ type: 'PHONE', value: v }]];
  },
  SSN: () => {
    const v = ssn();
    return [pick(ssnContexts)(v), [{ type: 'SSN', value: v }]];
  },
  SSN_KEYWORD: () => {
    const [a, g, s] = ssn().split('-') as [string, string, string];
    const v = rnd() < 0.6 ? `${a}${g}${s}` : `${a} ${g} ${s}`;
    const ctx = pick<(x: string) => string>([(x) => `SSN: ${x}`, (x) => `social security number ${x}`, (x) => `{"ssn": "${x}"}`, (x) => `applicant.ssn = "${x}"`]);
    return [ctx(v), [{ type: 'SSN', value: v }]];
  },
  CREDIT_CARD: () => {
    const v = formatCard(cardNumber());
    return [pick(cardContexts)(v), [{ type: 'CREDIT_CARD', value: v }]];
  },
  CARD_CVV: () => {
    const card = formatCard(cardNumber());
    let cvv = pad(int(100, 999), 3);
    while (card.includes(cvv)) cvv = pad(int(100, 999), 3);
    const text = pick<(c: string, v: string) => string>([
      (c, v) => `{"number": "${c}", "cvc": "${v}", "exp": "${pad(int(1, 12), 2)}/${int(26, 31)}"}`,
      (c, v) => `Card: ${c}\nCVV: ${v}`,
      (c, v) => `fill('#card', '${c}'); fill('#cvv', '${v}');`,
    ])(card, cvv);
    return [text, [{ type: 'CREDIT_CARD', value: card }, { type: 'CREDIT_CARD', value: cvv }]];
  },
  IBAN: () => {
    const { compact } = iban();
    const v = rnd() < 0.4 ? spaced(compact) : compact;
    return [pick(ibanContexts)(v), [{ type: 'IBAN', value: v }]];
  },
  IPV4: () => {
    const v = rnd() < 0.7 ? publicIpv4() : privateIpv4();
    return [pick(ipContexts)(v), [{ type: 'IP_ADDRESS', value: v }]];
  },
  IPV6: () => {
    const v = ipv6();
    return [pick(ipContexts)(v).replace(`${v}:8080`, `[${v}]:8080`), [{ type: 'IP_ADDRESS', value: v }]];
  },
  NPI: () => {
    const v = npi();
    const ctx = pick<(x: string) => string>([
      (x) => `Referring provider NPI: ${x}`,
      (x) => `{"provider": {"name": "Dr. ${cap(pick(LAST))}", "npi": "${x}"}}`,
      (x) => `INSERT INTO providers (npi, name) VALUES ('${x}', 'Dr. ${cap(pick(LAST))}');`,
      (x) => `NPI # ${x} | Taxonomy 207Q00000X`,
    ]);
    return [ctx(v), [{ type: 'NPI', value: v }]];
  },
  MRN: () => {
    const v = mrn();
    const ctx = pick<(x: string) => string>([
      (x) => `Patient: ${person().name}\nMRN: ${x}\nAdmitted: 2024-02-11`,
      (x) => `{"mrn": "${x}", "ward": "4B", "bed": ${int(1, 40)}}`,
      (x) => `Medical Record Number: ${x}`,
      (x) => `const patient = { patientId: '${x}', allergies: [] };`,
      (x) => `${isoTime()} INFO ehr: chart opened medical_record_no=${x}`,
    ]);
    return [ctx(v), [{ type: 'MRN', value: v }]];
  },
  INSURANCE_ID: () => {
    const v = insuranceId();
    const ctx = pick<(x: string) => string>([
      (x) => `Member ID: ${x}\nGroup: ${int(10000, 99999)}`,
      (x) => `{"subscriber_id": "${x}", "payer": "Example Health"}`,
      (x) => `Policy #: ${x}`,
      (x) => `claims.submit({ memberId: '${x}', cpt: '99213' })`,
      (x) => `insurance_id=${x} status=eligible`,
    ]);
    return [ctx(v), [{ type: 'INSURANCE_ID', value: v }]];
  },
  MIXED_CSV: () => {
    const p = person();
    const e = email(p);
    const ph = usPhone();
    const s = ssn();
    return [
      `id,name,email,phone,ssn,updated_at\n${int(1, 9999)},${p.name},${e},${ph},${s},${isoTime()}`,
      [{ type: 'EMAIL', value: e }, { type: 'PHONE', value: ph }, { type: 'SSN', value: s }],
    ];
  },
  MIXED_JSON: () => {
    const p = person();
    const e = email(p);
    const ip = publicIpv4();
    const c = cardNumber();
    return [
      `{"order_id": "${uuid()}", "customer": {"name": "${p.name}", "email": "${e}"}, "ip": "${ip}", "payment": {"pan": "${c}"}, "created": "${isoTime()}"}`,
      [{ type: 'EMAIL', value: e }, { type: 'IP_ADDRESS', value: ip }, { type: 'CREDIT_CARD', value: c }],
    ];
  },
  MIXED_LOG: () => {
    const e = email();
    const ip = rnd() < 0.5 ? publicIpv4() : ipv6();
    return [
      `${isoTime()} pid=${int(100, 99999)} req=${hex(16)} user=${e} ip=${ip} path=/v1/orders/${int(1, 99999)} status=201 dur=${int(1, 999)}ms`,
      [{ type: 'EMAIL', value: e }, { type: 'IP_ADDRESS', value: ip }],
    ];
  },
  MIXED_SIGNATURE: () => {
    const p = person();
    const e = email(p);
    const ph = intlPhone();
    return [
      `Thanks,\n${p.name}\nSolutions Architect, Example Ltd\nT: ${ph}\nE: ${e}\nThis message may contain confidential information.`,
      [{ type: 'PHONE', value: ph }, { type: 'EMAIL', value: e }],
    ];
  },
};

const POSITIVE_COUNTS: Record<string, number> = {
  EMAIL: 50, PHONE_US: 45, PHONE_INTL: 55, PHONE_KEYWORD: 20, SSN: 30, SSN_KEYWORD: 12, CREDIT_CARD: 55, CARD_CVV: 12,
  IBAN: 45, IPV4: 40, IPV6: 25, NPI: 15, MRN: 15, INSURANCE_ID: 15, MIXED_CSV: 15, MIXED_JSON: 15, MIXED_LOG: 15,
  MIXED_SIGNATURE: 12,
};
for (const [name, count] of Object.entries(POSITIVE_COUNTS)) {
  const before = cases.length;
  for (let guard = 0; cases.length - before < count && guard < count * 5; guard++) {
    const [text, expected] = builders[name]!();
    add('pos', text, expected);
  }
}

// ---- negatives -------------------------------------------------------------------------------------------------
function luhnInvalid(): string {
  for (;;) {
    const n = cardNumber();
    const bad = n.slice(0, -1) + String((Number(n.slice(-1)) + int(1, 9)) % 10);
    if (!luhnOk(bad)) return bad;
  }
}
function ibanBadCheck(): string {
  for (;;) {
    const { compact } = iban();
    const check = pad((Number(compact.slice(2, 4)) + int(1, 96)) % 97, 2);
    const bad = compact.slice(0, 2) + check + compact.slice(4);
    if (mod97(ibanNumeric(bad.slice(4) + bad.slice(0, 4))) !== 1) return bad;
  }
}
function badSsn(): string {
  switch (int(0, 4)) {
    case 0:
      return `000-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`;
    case 1:
      return `666-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`;
    case 2:
      return `9${pad(int(0, 99), 2)}-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`;
    case 3:
      return `${pad(int(1, 665), 3)}-00-${pad(int(1, 9999), 4)}`;
    default:
      return `${pad(int(1, 665), 3)}-${pad(int(1, 99), 2)}-0000`;
  }
}
function badNpi(): string {
  const body = String(int(1, 2)) + digits(8);
  const good = Number(luhnCheckDigit('80840' + body));
  return body + String((good + int(1, 9)) % 10);
}
function noBrandLuhn(): string {
  // Luhn-valid, 16 digits, but no issuer uses the prefix (1, 7, 8, 9).
  const body = pick(['1', '7', '9']) + digits(14);
  return body + luhnCheckDigit(body);
}

const negatives: Array<() => string> = [
  () => `const orderId = '${luhnInvalid()}'; // not a card: fails the checksum`,
  () => `{"transaction_ref": "${formatCard(luhnInvalid())}", "status": "settled"}`,
  () => `INSERT INTO orders (id, ref) VALUES (${int(1, 999)}, '${luhnInvalid()}');`,
  () => `${isoTime()} INFO batch ${noBrandLuhn()} processed ${int(1, 9999)} rows`,
  () => `tracking_number: ${noBrandLuhn()}`,
  () => `Transfer rejected: IBAN ${ibanBadCheck()} failed validation.`,
  () => `{"iban": "${spaced(ibanBadCheck())}", "valid": false}`,
  () => `    expect(isValidIban('${ibanBadCheck()}')).toBe(false);`,
  () => `Invalid SSN ${badSsn()} rejected by the validator.`,
  () => `ssn_blacklist = ['${badSsn()}', '${badSsn()}']`,
  () => `{"tax_id": "${badSsn()}", "error": "area number not issued"}`,
  () => `npi_candidate=${badNpi()} rejected (check digit)`,
  () => `AssemblyVersion("${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(0, 9)}")`,
  () => `"version": "${int(1, 9)}.${int(0, 9)}.${int(0, 99)}.${int(0, 99)}"`,
  () => `Installed v${int(1, 9)}.${int(0, 9)}.${int(0, 9)}.${int(0, 99)} of the agent; previous was v${semver()}.`,
  () => `pip install somepkg==${int(1, 9)}.${int(0, 20)}.${int(0, 9)}.${int(1, 9)}`,
  () => `Microsoft Windows [Version 10.0.${int(17000, 22631)}.${int(100, 3000)}]`,
  () => `"dependencies": { "react": "^${semver()}", "lodash": "~4.17.21", "typescript": "${semver()}-beta.${int(1, 9)}" }`,
  () => `Bump ${pick(['vite', 'eslint', 'undici'])} from ${semver()} to ${semver()} (#${int(100, 9999)})`,
  () => `${isoTime()} DEBUG scheduler tick ${int(1, 999999)} took ${int(1, 999)}.${pad(int(0, 999), 3)}ms`,
  () => `created_at=${int(1600000000, 1760000000)} updated_at=${int(1600000000000, 1760000000000)}`,
  () => `Mar ${int(10, 28)} ${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)} web-${int(1, 9)} systemd[1]: Started nightly job.`,
  () => `2024-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)} ${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)},${pad(int(0, 999), 3)} INFO worker ready`,
  () => `request_id=${uuid()} trace_id=${hex(32)} span_id=${hex(16)}`,
  () => `commit ${hex(40)}\nAuthor: CI Bot\nDate:   Fri Mar 15 10:22:31 2024 +0000`,
  () => `sha256:${hex(64)}`,
  () => `const ETAG = "W/\\"${hex(8)}-${hex(24)}\\"";`,
  () => `server.listen(${pick([3000, 8080, 5432, 6379, 27017, 9200, 41002])}, () => console.log('ready on http://localhost:${pick([3000, 8080, 5173])}'));`,
  () => `docker run -p ${int(1024, 65535)}:${int(1024, 65535)} -p 0.0.0.0:${int(1024, 9999)}:80 app:${semver()}`,
  () => `const PI = 3.${digits(15)}; const E = 2.${digits(15)};`,
  () => `"location": {"lat": ${int(-89, 89)}.${digits(8)}, "lng": ${int(-179, 179)}.${digits(8)}}`,
  () => `Total: $${int(1, 999)},${pad(int(0, 999), 3)},${pad(int(0, 999), 3)}.${pad(int(0, 99), 2)} across ${int(2, 99)} invoices`,
  () => `Population 1 ${pad(int(0, 999), 3)} ${pad(int(0, 999), 3)} (2021 census)`,
  () => `Date of report: ${pad(int(1, 28), 2)}/${pad(int(1, 12), 2)}/${int(2000, 2030)}, due ${int(2000, 2030)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`,
  () => `Valid from ${pad(int(1, 28), 2)}.${pad(int(1, 12), 2)}.${int(2000, 2030)} to ${pad(int(1, 28), 2)}.${pad(int(1, 12), 2)}.${int(2000, 2030)}`,
  () => `const MAX_INT = 2147483647; const MAX_SAFE = 9007199254740991;`,
  () => `for (let i = 0; i < ${int(100000, 99999999)}; i += ${int(2, 64)}) buf[i] = 0x${hex(2)};`,
  () => `ORDER-${int(2020, 2025)}-${pad(int(0, 999999), 6)} shipped; tracking 1Z${alnumUpper(6)}${digits(10)}`,
  () => `Ticket ${int(1000000000, 9999999999)} was merged into ${int(1000000000, 9999999999)}`,
  () => `aws_account_id = "${digits(12)}"`,
  () => `ISBN 978-${int(0, 1)}-${int(100, 999)}-${int(10000, 99999)}-${int(0, 9)}`,
  () => `mac: ${Array.from({ length: 6 }, () => hex(2)).join(':')}  bssid ${Array.from({ length: 6 }, () => hex(2).toUpperCase()).join('-')}`,
  () => `00000010  ${Array.from({ length: 8 }, () => hex(2)).join(' ')}  ${Array.from({ length: 8 }, () => hex(2)).join(' ')}  |................|`,
  () => `OID ${pick(['1.3.6.1.4.1.311.21.8', '2.5.29.17', '1.2.840.113549.1.1.11', '1.3.6.1.5.5.7.3.1'])} not supported`,
  () => `ip_candidates = ["${int(256, 999)}.${int(0, 255)}.${int(0, 255)}.${int(0, 255)}", "${int(0, 255)}.${int(256, 999)}.1.1"]`,
  () => `netmask 255.255.${pick(['255.0', '0.0', '255.128', '255.240'])} broadcast 255.255.255.255`,
  () => `See RFC ${int(1000, 9999)} §${int(1, 9)}.${int(1, 9)}.${int(1, 9)}.${int(1, 9)} for details.`,
  () => `Supported emails look like user@localhost or name@example (no TLD), and ${pick(['@types/node', '@media print', '@Override', '@decorator'])} is not one.`,
  () => `git clone git@github.com:example/${pick(['api', 'web', 'infra'])}.git && cp logo@2x.png dist/`,
  () => `npm i ${pick(['lodash', 'react', 'zod'])}@${semver()} ${pick(['@babel/core', '@types/node'])}@${semver()}`,
  () => `std::vector<int> v; auto x = Foo::bar(); f32::EPSILON; u8::MAX`,
  () => `duration=${pad(int(0, 23), 2)}:${pad(int(0, 59), 2)}:${pad(int(0, 59), 2)}.${pad(int(0, 999), 3)} elapsed=${int(1, 999)}s`,
  () => `Resolution ${int(640, 3840)}x${int(480, 2160)} @ ${int(30, 240)}Hz, color #${hex(6)}`,
  () => `Build ${int(2020, 2025)}${pad(int(1, 12), 2)}${pad(int(1, 28), 2)}.${int(1, 99)} (${hex(7)})`,
  () => `java version "${int(11, 21)}.0.${int(1, 20)}" ${int(2021, 2025)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)} LTS, build ${int(11, 21)}.0.${int(1, 20)}+${int(1, 12)}-LTS-${int(100, 999)}`,
  () => `cpu: 500m memory: ${int(128, 4096)}Mi replicas: ${int(1, 9)} port: ${int(1024, 65535)}`,
  () => `Latency p50=${int(1, 99)}.${digits(3)}ms p99=${int(100, 999)}.${digits(3)}ms over ${int(10000, 999999)} requests`,
  () => `MRN lookup failed: patient record not found (code ${int(400, 499)})`,
  () => `member id: required; policy number: (none)`,
  () => `chmod ${pick(['0644', '0755', '0600'])} file && umask 022 && ulimit -n ${int(1024, 65536)}`,
  () => `Matrix row: ${Array.from({ length: 12 }, () => int(0, 9)).join(' ')}`,
  () => `SELECT * FROM events WHERE ts BETWEEN ${int(1600000000, 1700000000)} AND ${int(1700000000, 1760000000)} LIMIT ${int(10, 1000)};`,
  () => `coordinates: ${int(-89, 89)}.${digits(6)}, ${int(-179, 179)}.${digits(6)}`,
  () => `Invoice INV-${digits(6)} total ${int(10, 9999)}.${pad(int(0, 99), 2)} EUR, due in ${int(7, 60)} days`,
];

const NEGATIVE_COUNT = 260;
for (let i = 0; i < NEGATIVE_COUNT; i++) add('neg', negatives[i % negatives.length]!(), []);

const out = join(dirname(fileURLToPath(import.meta.url)), 'cases.jsonl');
writeFileSync(out, cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
const pos = cases.filter((c) => c.expected.length > 0).length;
console.log(`wrote ${cases.length} cases (${pos} positive, ${cases.length - pos} negative) to ${out}`);
