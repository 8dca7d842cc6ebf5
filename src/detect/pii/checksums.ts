/** Check-digit algorithms and brand tables used by the PII scanner. Pure, allocation-light. */

/** Luhn (mod 10) over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let n = digits.charCodeAt(i) - 48;
    if (n < 0 || n > 9) return false;
    if (double) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/**
 * US National Provider Identifier: 10 digits starting with 1 or 2 whose Luhn check is computed as if prefixed
 * with the card issuer prefix 80840 (CMS standard).
 */
export function npiValid(npi: string): boolean {
  return /^[12]\d{9}$/.test(npi) && luhnValid('80840' + npi);
}

/** ISO 13616 / ISO 7064 mod 97-10 over an uppercase alphanumeric IBAN (no spaces). Returns the remainder. */
export function ibanMod97(iban: string): number {
  const s = iban.slice(4) + iban.slice(0, 4);
  let r = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) r = (r * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) r = (r * 100 + (c - 55)) % 97;
    else return -1;
  }
  return r;
}

/**
 * The card brand for a digit string of a given length, or undefined when no known brand issues numbers with
 * this prefix and length. `maestro` also covers 12-digit numbers (callers decide whether to accept those).
 */
export function cardBrand(d: string): string | undefined {
  const n = d.length;
  if (n < 12 || n > 19) return undefined;
  const p1 = d.charCodeAt(0) - 48;
  const p2 = +d.slice(0, 2);
  const p3 = +d.slice(0, 3);
  const p4 = +d.slice(0, 4);
  const p6 = +d.slice(0, 6);
  if (p1 === 4) return n === 13 || n === 16 || n === 19 ? 'visa' : undefined;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16 ? 'mastercard' : undefined;
  if (p2 === 34 || p2 === 37) return n === 15 ? 'amex' : undefined;
  if (p4 >= 2200 && p4 <= 2204) return n >= 16 && n <= 19 ? 'mir' : undefined;
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) {
    return n >= 16 && n <= 19 ? 'discover' : undefined;
  }
  if (p2 === 62 || p2 === 81) return n >= 16 && n <= 19 ? 'unionpay' : undefined;
  if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) {
    return n >= 14 && n <= 19 ? 'diners' : undefined;
  }
  // JCB's registered range is 3528–3589; the rest of 35 is issued to nobody else, and test-data generators
  // (Faker, hence Presidio's data sets) draw JCB numbers from all of it.
  if (p2 === 35) return n >= 16 && n <= 19 ? 'jcb' : undefined;
  // Legacy 15-digit JCB ranges (still produced by test-data generators).
  if (p4 === 2131 || p4 === 1800) return n === 15 ? 'jcb' : undefined;
  if (
    p4 === 5018 || p4 === 5020 || p4 === 5038 || p4 === 5893 || p4 === 6304 || p4 === 6390 ||
    p4 === 6759 || p4 === 6761 || p4 === 6762 || p4 === 6763 || p4 === 604 /* 0604 */ ||
    (p2 >= 56 && p2 <= 58)
  ) {
    return 'maestro';
  }
  // The rest of Maestro's historic block (50, 56–69: RuPay 60, InstaPayment 637–639, Maestro UK 676770 … all
  // inside it), 16–19 digits only: a 13-digit number there is as likely an EAN-13 (country prefixes 600–699).
  if (p2 === 50 || (p2 >= 59 && p2 <= 69)) return n >= 16 ? 'maestro' : undefined;
  // UATP (airline cards): 15 digits starting with 1. Troy 9792, UzCard 8600, Humo 9860: 16 digits.
  if (p1 === 1) return n === 15 ? 'uatp' : undefined;
  if (p4 === 9792 || p4 === 8600 || p4 === 9860) return n === 16 ? 'domestic' : undefined;
  return undefined;
}
