import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createDlpScanner } from '../../src/detect/dlp.js';
import { cardBrand, ibanMod97, luhnValid, npiValid } from '../../src/detect/pii/checksums.js';
import { createPiiScanner, PII_TYPES, type PiiScannerOptions } from '../../src/detect/pii/index.js';
import type { Detector, DetectorMatch } from '../../src/detect/types.js';
import type { DetectionRule } from '../../src/policy/types.js';
import { TextWindow } from '../../src/stream/window.js';

const here = dirname(fileURLToPath(import.meta.url));

/** `[type, rule, value]` for every match, in order. */
function found(text: string, opts?: PiiScannerOptions): Array<[string, string, string]> {
  return createPiiScanner(opts)
    .scan(text)
    .map((m) => [m.type, m.rule, text.slice(m.start, m.end)]);
}
function values(text: string, type?: string, opts?: PiiScannerOptions): string[] {
  return found(text, opts)
    .filter(([t]) => !type || t === type)
    .map(([, , v]) => v);
}

describe('checksums', () => {
  it('Luhn', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('378282246310005')).toBe(true);
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('4111a11111111111')).toBe(false);
  });

  it('NPI is Luhn over 80840 + the number', () => {
    expect(npiValid('1234567893')).toBe(true);
    expect(npiValid('1234567890')).toBe(false);
    expect(npiValid('3234567893')).toBe(false); // must start with 1 or 2
    expect(npiValid('123456789')).toBe(false);
  });

  it('IBAN mod 97', () => {
    expect(ibanMod97('GB82WEST12345698765432')).toBe(1);
    expect(ibanMod97('DE89370400440532013000')).toBe(1);
    expect(ibanMod97('DE88370400440532013000')).not.toBe(1);
  });

  it('card brands by prefix and length', () => {
    expect(cardBrand('4111111111111111')).toBe('visa');
    expect(cardBrand('4222222222222')).toBe('visa');
    expect(cardBrand('41111111111111')).toBeUndefined(); // Visa has no 14-digit numbers
    expect(cardBrand('5555555555554444')).toBe('mastercard');
    expect(cardBrand('2221000000000009')).toBe('mastercard');
    expect(cardBrand('2721000000000004')).toBeUndefined();
    expect(cardBrand('378282246310005')).toBe('amex');
    expect(cardBrand('6011111111111117')).toBe('discover');
    expect(cardBrand('30569309025904')).toBe('diners');
    expect(cardBrand('3530111333300000')).toBe('jcb');
    expect(cardBrand('3509413199654323')).toBe('jcb');
    expect(cardBrand('350941319965432')).toBeUndefined();
    expect(cardBrand('6200000000000005')).toBe('unionpay');
    expect(cardBrand('6759649826438453')).toBe('maestro');
    expect(cardBrand('1234567812345670')).toBeUndefined();
    // Maestro's historic block 50, 56–69 (RuPay 60, InstaPayment 63x inside it); UATP: 15 digits starting with 1.
    expect(cardBrand('6070123412341234')).toBe('maestro');
    expect(cardBrand('5044123412341234567')).toBe('maestro');
    expect(cardBrand('6901234567892')).toBeUndefined(); // 13 digits there: an EAN-13 as likely
    expect(cardBrand('190012341234123')).toBe('uatp');
    expect(cardBrand('1900123412341234')).toBeUndefined();
    expect(cardBrand('9792123412341234')).toBe('domestic');
  });
});

describe('EMAIL', () => {
  it('finds addresses with exact spans', () => {
    const text = 'Contact <jane.doe+test@mail.example.co.uk>, "ops@example.com" or mailto:x_y@example.org.';
    expect(values(text, 'EMAIL')).toEqual(['jane.doe+test@mail.example.co.uk', 'ops@example.com', 'x_y@example.org']);
    expect(found('a@b.io')[0]).toEqual(['EMAIL', 'email', 'a@b.io']);
  });

  it('skips look-alikes', () => {
    const text =
      'git@github.com:org/repo.git icon@2x.png user@localhost @types/node lodash@4.17.21 https://user:pass@host.example.com/ ' +
      'docker pull img@sha256:abcd @media print';
    expect(values(text, 'EMAIL')).toEqual([]);
  });
});

describe('PHONE', () => {
  it.each([
    ['(415) 555-0132', 'phone-us'],
    ['415-555-0132', 'phone-us'],
    ['415.555.0132', 'phone-us'],
    ['415 555 0132', 'phone-us'],
    ['1-800-555-0199', 'phone-us'],
    ['+14155550132', 'phone-e164'],
    ['+1 (415) 555-0132', 'phone-e164'],
    ['+44 20 7946 0958', 'phone-e164'],
    ['+49 30 12345678', 'phone-e164'],
    ['+33 1 23 45 67 89', 'phone-e164'],
    ['+41 (0)96 471 07 95', 'phone-e164'],
    ['+91 98765 43210', 'phone-e164'],
    ['020 7946 0958', 'phone-national'],
    ['07700 900123', 'phone-national'],
    ['030 12345678', 'phone-national'],
    ['01 23 45 67 89', 'phone-national'],
    ['06.12.34.56.78', 'phone-national'],
    ['(02) 9876 5432', 'phone-national'],
    ['98765 43210', 'phone-national'],
    ['612 34 56 78', 'phone-national'],
  ])('%s → %s', (value, rule) => {
    const text = `reach me on ${value}, thanks`;
    expect(found(text)).toEqual([['PHONE', rule, value]]);
  });

  it('after a keyword, any grouped number of 7–15 digits', () => {
    expect(values('Phone:\n467 3395\n', 'PHONE')).toEqual(['467 3395']);
    expect(values('{"phone_number": "5403926876"}', 'PHONE')).toEqual(['5403926876']);
    expect(values('homePhone: 4155550132', 'PHONE')).toEqual(['4155550132']);
    expect(values('Can someone call me on 9472 7916?', 'PHONE')).toEqual(['9472 7916']);
    expect(found('Tel.: 4155550132')[0]?.[1]).toBe('phone-context');
  });

  it('before a label such as office, fax, mobile', () => {
    expect(values('781 1704 office\n28-64-66-98 fax', 'PHONE')).toEqual(['781 1704', '28-64-66-98']);
  });

  it('keeps an extension inside the span', () => {
    expect(values('Fax: 345-899-3560x4587', 'PHONE')).toEqual(['345-899-3560x4587']);
    expect(values('call (415) 555-0132 ext. 12 now', 'PHONE')).toEqual(['(415) 555-0132 ext. 12']);
  });

  it('does not flag digit runs, timestamps, versions, ids, ports', () => {
    const text = [
      'id 4155550132',
      'ts 1710498151123',
      '2024-03-15 10:22:31',
      'v1.2.3',
      'order ORD-415-555-0132',
      'localhost:8080',
      '3.14159265358',
      '15/01/2024',
      'PI 3.1415926535',
      '123-456-7890', // NANP area codes do not start with 1
      '000-12-3456', // an invalid SSN is not a phone either
      'hex 3e 01 23 45 67 89',
      'mac 01-23-45-67-89-AB',
      'ISBN 0-306-40615-2',
      'cell count 12',
    ].join('\n');
    expect(found(text)).toEqual([]);
  });
});

describe('SSN', () => {
  it('AAA-GG-SSSS with valid area, group and serial', () => {
    expect(found('SSN 123-45-6789.')).toEqual([['SSN', 'ssn', '123-45-6789']]);
    expect(values('853-37-1694 and 772-01-0001', 'SSN')).toEqual(['853-37-1694', '772-01-0001']);
  });

  it('rejects area 000, 666 and 900–999, group 00, serial 0000', () => {
    expect(values('000-12-3456 666-12-3456 900-12-3456 999-12-3456 123-00-4567 123-45-0000', 'SSN')).toEqual([]);
  });

  it('unformatted only after an SSN keyword; spaced or dotted like dashed (Presidio accepts all three)', () => {
    expect(found('SSN: 123456789')).toEqual([['SSN', 'ssn-context', '123456789']]);
    expect(values('social security number 123 45 6789', 'SSN')).toEqual(['123 45 6789']);
    expect(values('on file: 123 45 6789 and 123.45.6789', 'SSN')).toEqual(['123 45 6789', '123.45.6789']);
    expect(values('applicant.ssn = "078051120"', 'SSN')).toEqual(['078051120']);
    expect(values('invoice 123456789', 'SSN')).toEqual([]);
    expect(values('SSN: 666123456', 'SSN')).toEqual([]);
  });

  it('not inside longer numbers', () => {
    expect(values('x1123-45-6789 123-45-67890 123-45-6789-1', 'SSN')).toEqual([]);
  });
});

describe('CREDIT_CARD', () => {
  it.each([
    '4111111111111111',
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '4222222222222',
    '5555555555554444',
    '2223003122003222',
    '378282246310005',
    '3782 822463 10005',
    '6011111111111117',
    '30569309025904',
    '3530111333300000',
    '6200000000000005',
    '6759649826438453',
    '4000056655665556',
    // Chunked four by four with a shorter last chunk: 14-digit Diners, 13-digit Visa.
    '3056 9309 0259 04',
    '3056-9309-0259-04',
    '4222 2222 2222 2',
    // The whole 35 range, as test-data generators issue JCB numbers.
    '3509413199654323',
  ])('%s', (value) => {
    expect(found(`charge "${value}" now`)).toEqual([['CREDIT_CARD', 'luhn-card', value]]);
  });

  it('rejects Luhn-invalid numbers, unknown prefixes and wrong lengths', () => {
    const text = ['4111111111111112', '4111 1111 1111 1112', '1234567812345670', '41111111111111', '9111111111111111'].join(', ');
    expect(values(text, 'CREDIT_CARD')).toEqual([]);
  });

  it('not inside identifiers, decimals or longer digit runs', () => {
    expect(values('id_4111111111111111 x4111111111111111 0.4111111111111111 41111111111111110000', 'CREDIT_CARD')).toEqual([]);
  });

  it('separates a card from neighbouring numbers', () => {
    expect(values('qty 2 4111 1111 1111 1111 12 25', 'CREDIT_CARD')).toEqual(['4111 1111 1111 1111']);
  });

  it('12-digit Maestro only after a card keyword', () => {
    expect(values('What is the limit for card 501864667909?', 'CREDIT_CARD')).toEqual(['501864667909']);
    expect(found('card 501864667909')[0]?.[1]).toBe('luhn-card-context');
    expect(values('batch 501864667909', 'CREDIT_CARD')).toEqual([]);
  });

  it('a CVV only near a detected card', () => {
    expect(found('Card: 4111 1111 1111 1111\nCVV: 123')).toEqual([
      ['CREDIT_CARD', 'luhn-card', '4111 1111 1111 1111'],
      ['CREDIT_CARD', 'card-cvv', '123'],
    ]);
    expect(values('{"cvc": "9876", "number": "5555555555554444"}', 'CREDIT_CARD')).toEqual(['9876', '5555555555554444']);
    expect(values('CVV: 123 (no card here)', 'CREDIT_CARD')).toEqual([]);
  });

  it('pciMode: false turns cards off', () => {
    expect(values('4111111111111111', 'CREDIT_CARD', { pciMode: false })).toEqual([]);
  });

  it('a Luhn-valid card beats an overlapping phone', () => {
    expect(found('Phone: 4111 1111 1111 1111')).toEqual([['CREDIT_CARD', 'luhn-card', '4111 1111 1111 1111']]);
  });
});

describe('IBAN', () => {
  it('compact, spaced and lower-case, with the right length and mod 97', () => {
    expect(found('IBAN DE89 3704 0044 0532 0130 00 ok')).toEqual([['IBAN', 'iban', 'DE89 3704 0044 0532 0130 00']]);
    expect(values('to GB82WEST12345698765432.', 'IBAN')).toEqual(['GB82WEST12345698765432']);
    expect(values('my iban is gb82west12345698765432', 'IBAN')).toEqual(['gb82west12345698765432']);
    expect(values('NO9386011117947 BE68539007547034 FR1420041010050500013M02606', 'IBAN')).toEqual([
      'NO9386011117947',
      'BE68539007547034',
      'FR1420041010050500013M02606',
    ]);
  });

  it('rejects wrong check digits, lengths, formats and unknown countries', () => {
    const text = 'DE88370400440532013000 DE8937040044053201300 DE893704004405320130001 GB82west12345698765432 XX82WEST12345698765432';
    expect(values(text, 'IBAN')).toEqual([]);
  });
});

describe('IP_ADDRESS', () => {
  it('IPv4 with rule ids for private and loopback ranges', () => {
    expect(found('from 203.0.113.7, 10.1.2.3, 172.16.0.1, 192.168.1.10, 169.254.1.1, 127.0.0.1 and 8.8.8.8')).toEqual([
      ['IP_ADDRESS', 'ipv4', '203.0.113.7'],
      ['IP_ADDRESS', 'ipv4-private', '10.1.2.3'],
      ['IP_ADDRESS', 'ipv4-private', '172.16.0.1'],
      ['IP_ADDRESS', 'ipv4-private', '192.168.1.10'],
      ['IP_ADDRESS', 'ipv4-private', '169.254.1.1'],
      ['IP_ADDRESS', 'ipv4-loopback', '127.0.0.1'],
      ['IP_ADDRESS', 'ipv4', '8.8.8.8'],
    ]);
    expect(values('http://10.0.0.5:8080/x and 192.168.0.0/24', 'IP_ADDRESS')).toEqual(['10.0.0.5', '192.168.0.0']);
  });

  it('not 0.0.0.0, netmasks, invalid octets, versions, OIDs or section numbers', () => {
    const text = [
      '0.0.0.0:3000',
      'netmask 255.255.255.0 255.255.0.0 255.255.255.255',
      '256.1.1.1 1.2.3.999',
      'v1.2.3.4',
      'version 1.2.3.4',
      'AssemblyVersion("1.0.0.0")',
      'pkg==1.2.3.4',
      'foo@1.2.3.4',
      '1.2.3.4-beta',
      '1.3.6.1.4.1.311',
      'OID 2.5.29.17',
      '§5.2.2.10',
    ].join('\n');
    expect(values(text, 'IP_ADDRESS')).toEqual([]);
  });

  it('IPv6 full, compressed, mapped, link-local and loopback', () => {
    expect(found('[2001:db8::1]:8080 fe80::1%eth0 ::1 ::ffff:192.0.2.128 2001:0db8:85a3:0000:0000:8a2e:0370:7334')).toEqual([
      ['IP_ADDRESS', 'ipv6', '2001:db8::1'],
      ['IP_ADDRESS', 'ipv6-private', 'fe80::1'],
      ['IP_ADDRESS', 'ipv6-loopback', '::1'],
      ['IP_ADDRESS', 'ipv6', '::ffff:192.0.2.128'],
      ['IP_ADDRESS', 'ipv6', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
    ]);
  });

  it('IPv6 look-alikes are not addresses', () => {
    const text = 'std::vector Foo::bar dead::beef f32::EPSILON 12:34:56 00:1a:2b:3c:4d:5e :: (?::443) 1:2:3:4:5:6:7:8:9';
    expect(values(text, 'IP_ADDRESS')).toEqual([]);
  });
});

describe('healthcare mode', () => {
  const hc = { healthcareMode: true };

  it('is off by default', () => {
    expect(values('NPI: 1234567893, MRN: 00123456, Member ID: XYZ123456789')).toEqual([]);
  });

  it('NPI with a valid check digit after its keyword (same line)', () => {
    expect(found('NPI: 1234567893', hc)).toEqual([['NPI', 'npi', '1234567893']]);
    expect(values("INSERT INTO providers (npi, name) VALUES ('1234567893', 'Dr. X');", 'NPI', hc)).toEqual(['1234567893']);
    expect(values('NPI: 1234567890', 'NPI', hc)).toEqual([]);
    expect(values('provider 1234567893', 'NPI', hc)).toEqual([]);
  });

  it('MRN and insurance ids only after their keywords', () => {
    expect(found('MRN: 00123456', hc)).toEqual([['MRN', 'mrn', '00123456']]);
    expect(values('Medical Record Number: 2019-004512', 'MRN', hc)).toEqual(['2019-004512']);
    expect(values("const p = { patientId: 'A1234567' }", 'MRN', hc)).toEqual(['A1234567']);
    expect(found('Member ID: XYZ123456789', hc)).toEqual([['INSURANCE_ID', 'insurance-id', 'XYZ123456789']]);
    expect(values('Policy #: PLC-88412345', 'INSURANCE_ID', hc)).toEqual(['PLC-88412345']);
    expect(values('MBI: 1EG4-TE5-MK73', 'INSURANCE_ID', hc)).toEqual(['1EG4-TE5-MK73']);
    expect(values('MRN lookup failed; member id: required; record 00123456', undefined, hc)).toEqual([]);
  });
});

describe('options', () => {
  it('exposes the built-in types', () => {
    expect(PII_TYPES).toEqual(['EMAIL', 'PHONE', 'SSN', 'CREDIT_CARD', 'IBAN', 'IP_ADDRESS', 'NPI', 'MRN', 'INSURANCE_ID']);
  });

  it('types selects a subset; unknown names throw', () => {
    const text = 'a@example.com 123-45-6789 10.0.0.1';
    expect(found(text, { types: ['SSN'] })).toEqual([['SSN', 'ssn', '123-45-6789']]);
    expect(() => createPiiScanner({ types: ['EMAIL', 'PASSPORT'] })).toThrow(/PASSPORT/);
  });

  it('custom patterns: type from the name, rule custom:<name>, priority over built-ins', () => {
    const s = createPiiScanner({ detectPatterns: [{ name: 'employee-id', pattern: 'EMP-\\d{6}' }, { name: 'corp mail', pattern: '(?i)[a-z.]+@corp\\.example' }] });
    const text = 'EMP-123456 wrote from Jane.Doe@CORP.example';
    expect(s.scan(text).map((m) => [m.type, m.rule, text.slice(m.start, m.end)])).toEqual([
      ['EMPLOYEE_ID', 'custom:employee-id', 'EMP-123456'],
      ['CORP_MAIL', 'custom:corp mail', 'Jane.Doe@CORP.example'],
    ]);
    expect(s.maxMatchLength).toBeGreaterThanOrEqual(256);
  });

  it('an invalid custom regex throws an Error naming the pattern', () => {
    expect(() => createPiiScanner({ detectPatterns: [{ name: 'broken-one', pattern: '([a-z' }] })).toThrow(/broken-one/);
  });

  it('empty custom matches do not loop', () => {
    const s = createPiiScanner({ detectPatterns: [{ name: 'empty', pattern: 'x*' }] });
    expect(s.scan('abc x def').map((m) => m.type)).toEqual(['EMPTY']);
  });

  it('maxMatchLength covers the longest value, and the keyword before a value found through one', () => {
    expect(createPiiScanner().maxMatchLength).toBe(254); // an e-mail address
    expect(createPiiScanner({ types: ['IBAN'] }).maxMatchLength).toBe(41); // 33 characters in groups of 4
    const ssn = createPiiScanner({ types: ['SSN'] }).maxMatchLength;
    expect(ssn).toBeGreaterThanOrEqual('social security number'.length + 11);
    expect(createPiiScanner({ types: ['NPI'], healthcareMode: true }).maxMatchLength).toBeGreaterThan(120);
  });

  it('maxSpacedMatchLength: only values and keyword spans with whitespace count', () => {
    expect(createPiiScanner({ types: ['EMAIL', 'IP_ADDRESS'] }).maxSpacedMatchLength).toBe(0);
    const all = createPiiScanner();
    expect(all.maxSpacedMatchLength).toBeLessThan(all.maxMatchLength);
    expect(all.maxSpacedMatchLength).toBeGreaterThanOrEqual('+1 (415) 555-0132 ext. 12345'.length);
    expect(createPiiScanner({ types: ['IBAN'] }).maxSpacedMatchLength).toBe('DE89 3704 0044 0532 0130 00'.length + 14);
  });
});

describe('scanner properties', () => {
  const cases = readFileSync(join(here, '../corpus/pii/cases.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { text: string });
  const scanner = createPiiScanner({ healthcareMode: true });

  it('matches are sorted, non-overlapping and within the text', () => {
    for (const { text } of cases) {
      const ms = scanner.scan(text);
      for (let i = 0; i < ms.length; i++) {
        const m = ms[i]!;
        expect(m.start).toBeGreaterThanOrEqual(0);
        expect(m.end).toBeLessThanOrEqual(text.length);
        expect(m.end).toBeGreaterThan(m.start);
        if (i > 0) expect(m.start).toBeGreaterThanOrEqual(ms[i - 1]!.end);
      }
    }
  });

  it('matches are local: unrelated text around a case does not change them', () => {
    const prefix = 'Notes follow.\n\n';
    const suffix = '\n\n-- end of notes';
    const shift = (ms: DetectorMatch[], by: number) => ms.map((m) => ({ ...m, start: m.start + by, end: m.end + by }));
    for (const { text } of cases) expect(scanner.scan(prefix + text + suffix)).toEqual(shift(scanner.scan(text), prefix.length));
  });

  it('every match is also found in the last maxMatchLength characters up to its end (what streaming holds back)', () => {
    for (const types of [undefined, ['SSN'], ['PHONE'], ['CREDIT_CARD'], ['NPI'], ['MRN', 'INSURANCE_ID'], ['IBAN', 'IP_ADDRESS']]) {
      const s = createPiiScanner({ healthcareMode: true, types });
      const text = cases.map((c) => c.text).join('\n\n' + 'filler words without any numbers at all. '.repeat(8) + '\n\n');
      for (const m of s.scan(text)) {
        const from = Math.max(0, m.end - s.maxMatchLength);
        const window = text.slice(from, m.end + 32);
        const again = s.scan(window).map((x) => ({ ...x, start: x.start + from, end: x.end + from }));
        expect(again, `${m.type} ${JSON.stringify(text.slice(m.start, m.end))} with types ${types}`).toContainEqual(m);
      }
    }
  });

  it('streamed redaction (TextWindow, random chunks) equals whole-text redaction: maxMatchLength and maxSpacedMatchLength are enough', () => {
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    const detectors: Detector[] = [
      createPiiScanner({ healthcareMode: true }),
      createPiiScanner({ types: ['SSN', 'PHONE', 'NPI'], healthcareMode: true }),
      createDlpScanner({ blockedTerms: ['project phoenix', 'nightingale'], fuzzyMatching: true, maxDistance: 2, sensitivityLevel: 'restricted' }),
    ];
    const extra = ' PROJECT  phoenix launch, nightingle memo, TOP SECRET//NOFORN, Internal Use Only. ';
    for (const detector of detectors) {
      const rule: DetectionRule = { name: 'r', detector, action: 'redact', phases: ['output'], marker: (m) => `[${m.type}]` };
      const text = cases.map((c) => c.text + (rnd() < 0.3 ? extra : '')).join('\n' + 'lorem ipsum '.repeat(Math.floor(rnd() * 6)) + '\n');
      let expected = '';
      let pos = 0;
      for (const m of detector.scan(text)) {
        expected += text.slice(pos, m.start) + `[${m.type}]`;
        pos = m.end;
      }
      expected += text.slice(pos);
      const window = new TextWindow([{ policy: 'p', rule }], () => {});
      let streamed = '';
      for (let i = 0; i < text.length; ) {
        const n = 1 + Math.floor(rnd() * 40);
        streamed += window.push(text.slice(i, i + n));
        i += n;
      }
      streamed += window.flush();
      expect(streamed === expected, 'streamed output differs from the whole-text redaction').toBe(true);
    }
  });

  it('the same scanner gives the same answer twice (no leaked regex state)', () => {
    const text = cases.map((c) => c.text).join('\n');
    expect(scanner.scan(text)).toEqual(scanner.scan(text));
  });

  it('stays linear on pathological input', () => {
    const inputs = [
      '1 '.repeat(50_000),
      '1'.repeat(100_000),
      '1-'.repeat(50_000),
      'a@'.repeat(50_000),
      'a.'.repeat(50_000) + '@',
      'x@' + 'a'.repeat(100_000),
      ':'.repeat(100_000),
      'ab:'.repeat(30_000),
      '+1 '.repeat(30_000),
      '(0) '.repeat(25_000),
      'DE89 '.repeat(20_000),
      '1.2.'.repeat(25_000),
      'phone: '.repeat(15_000),
      'SSN 1'.repeat(20_000),
    ];
    for (const input of inputs) {
      const t0 = performance.now();
      scanner.scan(input);
      const ms = performance.now() - t0;
      expect(ms, `pathological input ${JSON.stringify(input.slice(0, 12))}… took ${ms.toFixed(0)} ms`).toBeLessThan(20_000); // a guard against catastrophic backtracking, not a speed target
    }
  });
});
