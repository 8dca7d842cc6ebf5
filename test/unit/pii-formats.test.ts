/**
 * PII by class (issue 18): phone numbers validated by libphonenumber (national formats without a country code,
 * international formats of many countries), internationalised and quoted e-mail addresses, IBANs of every
 * country using the format, SSNs in the shapes Presidio accepts with the SSA's invalid ranges rejected, and the
 * digit groups of an invalid IBAN never read as a phone number. Numbers are from the national numbering plans'
 * published shapes (or reserved fiction ranges), not real subscribers.
 */
import { describe, expect, it } from 'vitest';
import { createPiiScanner } from '../../src/detect/pii/index.js';
import { ibanMod97 } from '../../src/detect/pii/checksums.js';
import { keywordReach } from '../../src/detect/pii/keywords.js';
import { PHONE_CONTEXT_WINDOW } from '../../src/detect/pii/phones.js';

const scanner = createPiiScanner();
const found = (text: string, s = scanner): [string, string][] => s.scan(text).map((m) => [m.type, text.slice(m.start, m.end)]);
const ofType = (text: string, type: string, s = scanner): string[] => found(text, s).filter(([t]) => t === type).map(([, v]) => v);

/** An IBAN with correct check digits for a country and BBAN. */
function iban(cc: string, bban: string): string {
  const r = ibanMod97(`${cc}00${bban}`);
  return `${cc}${String(98 - r).padStart(2, '0')}${bban}`;
}

describe('phone numbers (libphonenumber)', () => {
  it('national formats without a country code, in the region that numbers them', () => {
    for (const n of ['020 7946 0958', '030 12345678', '01 23 45 67 89', '(02) 9876 5432', '03-1234-5678', '06 12345678', '0612 345 678', '91 123 45 67']) {
      expect(ofType(`Call ${n} today.`, 'PHONE'), n).toEqual([n]);
    }
  });

  it('a trunk-prefixed national number without separators', () => {
    expect(ofType('contact: 07700900123', 'PHONE')).toEqual(['07700900123']);
    expect(ofType('reach her at 0501234567 after six', 'PHONE')).toEqual(['0501234567']);
  });

  it('international formats of many countries, with + or 00', () => {
    for (const n of ['+44 20 7946 0958', '+49 30 12345678', '+33 1 23 45 67 89', '+81 3-1234-5678', '+971 50 123 4567', '+91 98765 43210', '+55 11 91234-5678', '0049 30 12345678', '+86 138 0013 8000']) {
      expect(ofType(`tel ${n}.`, 'PHONE'), n).toEqual([n]);
    }
  });

  it('regions can be configured; a region named by the text is tried too', () => {
    const usOnly = createPiiScanner({ phoneRegions: ['US'] });
    expect(ofType('Ring 030 12345678', 'PHONE', usOnly)).toEqual([]);
    expect(ofType('Berlin office: +49 30 901820. Sales: 030 12345678', 'PHONE', usOnly)).toEqual(['+49 30 901820', '030 12345678']);
    expect(() => createPiiScanner({ phoneRegions: ['XX'] })).toThrow(/unknown phone region/);
  });

  it('leaves numbers that are not phones alone: dates, versions, thousands, ids, SSN shapes', () => {
    for (const t of ['released 2024-03-15 10:30', 'version 10.2.3.4567', 'population 10 000 000', 'order 1234567890', 'id=0123456789', 'ssn 000-12-3456', 'build 20240315.1']) {
      expect(ofType(t, 'PHONE'), t).toEqual([]);
    }
  });

  it('a trunk 0 in North American grouping is another country, not an invalid US number', () => {
    // UAE and Afghan mobile numbers as their national plans group them.
    for (const n of ['050 123 4567', '070 123 4567']) expect(ofType(`Her number is ${n}, thanks`, 'PHONE'), n).toEqual([n]);
    expect(ofType('ticket 123-456-7890', 'PHONE')).toEqual([]);
  });

  it('nine digits in three spaced groups of three (Spain, Poland, Portugal) are a national number, round amounts are not', () => {
    expect(ofType('not answering at 612 345 678', 'PHONE')).toEqual(['612 345 678']);
    expect(ofType('budget 612 000 000', 'PHONE')).toEqual([]);
  });

  it('conversational phrases before a number work like a phone keyword', () => {
    for (const [t, v] of [['Reach me at 701234567 after 5pm.', '701234567'], ['my number is 9876543210', '9876543210'], ['text us on 971501234567', '971501234567'], ['Dial 2642351234.', '2642351234']]) {
      expect(ofType(t!, 'PHONE'), t).toEqual([v]);
    }
  });

  it('an international number written without + or 00: a calling code and a valid mobile number of that country', () => {
    // UK, German, French, Indian and Brazilian mobile plans.
    for (const n of ['447911123456', '4915123456789', '33612345678', '919876543210', '5511912345678', '49 151 23456789']) {
      expect(ofType(`| J. Doe | ${n} | active |`, 'PHONE'), n).toEqual([n]);
    }
    // Fixed-line plans accept too many runs; EAN-13 and ISBN-10 check digits mark identifiers; counting digits.
    for (const n of ['442079460958', '4006381333931', '0123456789', '9876543210']) expect(ofType(`| x | ${n} |`, 'PHONE'), n).toEqual([]);
  });

  it('a bare national number counts after a phone word a few words back on its line, or a country named there', () => {
    expect(ofType('Her mobile changed last week to 612345678 (Spain).', 'PHONE')).toEqual(['612345678']);
    expect(ofType('WhatsApp her directly on 5512345678', 'PHONE')).toEqual(['5512345678']);
    expect(ofType('Shanghai office, China: 13912345678', 'PHONE')).toEqual(['13912345678']);
    expect(ofType('[CN] 13912345678', 'PHONE')).toEqual(['13912345678']);
    // A trunk prefix other than 0 (Russia: 8) before a mobile number of a region tried.
    expect(ofType('| Ivan | 89123456789 |', 'PHONE')).toEqual(['89123456789']);
    // No phone word or country: an id. Another field or number between the word and the digits: not its value.
    for (const t of [
      'order 612345678 shipped', 'phone: n/a, order 612345678', 'phone 2, ticket 612345678', 'Call support.\nInvoice 612345678',
      'mobile: none; ref 612345678', 'phone_count = 61234567', 'const phoneRegexMax = 612345678', 'ID 81234567 merged',
      'PR 13912345678 merged', 'Shipped to China, order 13912345678', 'Germany office: 3012345678',
      'mobile limit 20000000', 'mobile build 20241231 failed', 'phone synced at 1712345678901',
    ]) {
      expect(ofType(t, 'PHONE'), t).toEqual([]);
    }
  });

  it('the context window fits in the left context streaming keeps for a phone keyword', () => {
    expect(PHONE_CONTEXT_WINDOW).toBeLessThanOrEqual(keywordReach('phone'));
  });

  it('year ranges and byte dumps are not phone numbers', () => {
    for (const t of ['Copyright (c) 2013-2019 contributors', '(C) 1995 - 2013 Jean-loup', '// Prints: <Buffer 88 13 70 17>', '[ <Buffer 30 31 32 33>, ', 'bytes: 01 02 03 04 05']) {
      expect(ofType(t, 'PHONE'), t).toEqual([]);
    }
  });

  it('digit groups inside an invalid IBAN are not a phone number', () => {
    const valid = iban('DE', '370400440532013000');
    const broken = valid.slice(0, 2) + (valid[2] === '9' ? '0' : String(+valid[2]! + 1)) + valid.slice(3);
    const spaced = broken.replace(/(.{4})/g, '$1 ').trim();
    expect(found(`IBAN: ${spaced}`)).toEqual([]);
    expect(found(`IBAN: ${broken}`)).toEqual([]);
  });
});

describe('e-mail addresses', () => {
  it('internationalised domains and local parts, quoted local parts, RFC 5322 specials', () => {
    for (const e of ['hans@müller.de', 'jürgen.groß@bücher.example', 'δοκιμή@παράδειγμα.δοκιμή', '用户@例子.广告', '"john doe"@example.com', 'o\'brien@example.ie', 'test|123@example.org', 'a~b^c@example.net']) {
      expect(ofType(`mail ${e} now`, 'EMAIL'), e).toEqual([e]);
    }
  });

  it('a label below the top level may hold an underscore', () => {
    expect(ofType('write to ops@build_farm.example.org today', 'EMAIL')).toEqual(['ops@build_farm.example.org']);
    expect(ofType('x@host.co_uk', 'EMAIL')).toEqual([]);
  });

  it('stops at delimiters that end values in code and URLs', () => {
    expect(ofType("const to='ops@example.com';", 'EMAIL')).toEqual(['ops@example.com']);
    expect(ofType('https://x.example/?to=ops@example.com&x=1', 'EMAIL')).toEqual(['ops@example.com']);
    expect(ofType('"quoted"@', 'EMAIL')).toEqual([]);
  });
});

describe('IBANs', () => {
  it('every registry country, and those using the format outside it, spaced, dashed or compact', () => {
    const cases: Array<[string, string]> = [
      ['HN', 'PISA00000000000000123124'],
      ['SN', 'A12345678901234567890123'],
      ['CI', 'A12345678901234567890123'],
      ['DZ', '0004001001001001001001'],
      ['MA', '011519000001205000534921'],
      ['BF', 'B12345678901234567890123'],
      ['MZ', '000100000011834194157'],
    ];
    for (const [cc, bban] of cases) {
      const v = iban(cc, bban);
      expect(ofType(`pay to ${v}`, 'IBAN'), v).toEqual([v]);
      const spaced = v.replace(/(.{4})/g, '$1 ').trim();
      expect(ofType(`pay to ${spaced}`, 'IBAN'), spaced).toEqual([spaced]);
      const dashed = v.replace(/(.{4})(?=.)/g, '$1-');
      expect(ofType(`pay to ${dashed}`, 'IBAN'), dashed).toEqual([dashed]);
    }
  });
});

describe('SSNs', () => {
  it('dashed, spaced or dotted with one delimiter; unformatted and other shapes after a keyword', () => {
    expect(ofType('SSN on file 536-22-8726', 'SSN')).toEqual(['536-22-8726']);
    expect(ofType('number 536 22 8726 on file', 'SSN')).toEqual(['536 22 8726']);
    expect(ofType('number 536.22.8726 on file', 'SSN')).toEqual(['536.22.8726']);
    expect(ofType('SSN: 536228726', 'SSN')).toEqual(['536228726']);
    expect(ofType('social security number 53622-8726', 'SSN')).toEqual(['53622-8726']);
  });

  it("Presidio's regrouped dashed shapes without a keyword, valid ranges only; a ZIP+4 after a state or label is not one", () => {
    expect(ofType('record 4 of 9: 536-228726', 'SSN')).toEqual(['536-228726']);
    expect(ofType('| Ann | 53622-8726 |', 'SSN')).toEqual(['53622-8726']);
    for (const t of ['000-228726', '536-008726', '91222-8726', '53622-0000', 'Albany, NY 12207-2345', 'zip: 12207-2345', 'ref 536-228726-4']) {
      expect(ofType(t, 'SSN'), t).toEqual([]);
    }
  });

  it('rejects the ranges never issued, one digit repeated and mixed delimiters', () => {
    for (const v of ['000-22-8726', '666-22-8726', '912-22-8726', '536-00-8726', '536-22-0000', '111-11-1111', '536-22.8726']) {
      expect(ofType(`SSN ${v}`, 'SSN'), v).toEqual([]);
    }
  });
});

describe('look-alikes of phone numbers', () => {
  it('ISBNs and ISSNs are not phone numbers', () => {
    expect(ofType('ISBN 0306406152', 'PHONE')).toEqual([]);
    expect(ofType('ISBN-10: 0 306 40615 2', 'PHONE')).toEqual([]);
    expect(ofType('journal 0378-5955', 'PHONE')).toEqual([]);
    // An ISBN-10 with the check character X, hyphenated or spaced, without the word ISBN.
    for (const t of ['see 3-401-01319-X', 'ref 93-9109-869-X.', '| 402 1234 08 X |']) expect(ofType(t, 'PHONE'), t).toEqual([]);
  });
});
