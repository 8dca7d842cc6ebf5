/**
 * Where a PII value with whitespace in it could still be unfinished, for streamed replies (Detector.openFrom).
 *
 * Built-in PII values that can contain whitespace are numbers written with separators (phones, cards, SSNs and
 * keyword values) and IBANs in groups. A number begins at a digit (or a `+` / `(` right before one) and an IBAN
 * at two letters and two digits at a word start; a number's match can still change while its run of number
 * characters reaches the end of the text, and for a little while after it (an extension, a trailing label such
 * as "(office)"), or for much longer after a CVV keyword (a CVV counts only beside a card up to 64 characters
 * away). Everything else the detector finds has no whitespace in it, and streaming holds an unfinished run
 * without whitespace anyway.
 */

/** Characters a written number is made of (digits and the separators phones and cards use). */
function isNumberChar(c: number): boolean {
  return (c >= 48 && c <= 57) || c === 32 || c === 40 || c === 41 || c === 46 || c === 45 || c === 47 || c === 43;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** After a finished number: room for an extension ("ext. 12345") or a label after it ("- mobile", "(office)"). */
const AFTER_NUMBER = 24;
/** After a finished number that a CVV keyword precedes: the card it needs may come up to 64 characters later. */
const AFTER_CVV = 4 + 64 + 25 + 8;
/** Longest IBAN written in groups (34 characters and single separators), plus slack. */
const IBAN_REACH = 48;
const CVV_KEYWORD = /cvv|cvc|cvn|csc|security code|verification (?:value|code)/i;

export function piiOpenFrom(text: string, from: number): number {
  const n = text.length;
  for (let i = from; i < n; i++) {
    const c = text.charCodeAt(i);
    if (isDigit(c)) {
      // Only where a run of digits starts: the run's first digit is the earliest start of a value in it.
      if (i > from && isDigit(text.charCodeAt(i - 1))) continue;
      let start = i;
      while (start > from && (text.charCodeAt(start - 1) === 43 || text.charCodeAt(start - 1) === 40)) start--;
      if (numberOpen(text, i)) return start;
    } else if (isAsciiLetter(c) && !(i > 0 && isAlnum(text.charCodeAt(i - 1)))) {
      // An IBAN's country code and check digits; a shorter rest of the text may still become one.
      if (ibanStartAt(text, i) && n - i < IBAN_REACH) return i;
    }
  }
  return n;
}

/** Whether a number whose run starts at `at` may still become (or stop being) a match as text is added. */
function numberOpen(text: string, at: number): boolean {
  const n = text.length;
  let end = at;
  while (end < n && isNumberChar(text.charCodeAt(end))) end++;
  if (end === n) return true;
  const reach = CVV_KEYWORD.test(text.slice(Math.max(0, at - 48), at)) ? AFTER_CVV : AFTER_NUMBER;
  return n - end < reach;
}

function isAlnum(c: number): boolean {
  return isDigit(c) || isAsciiLetter(c);
}

/** Two letters then two digits from `i`, as far as the text goes (a prefix of that shape counts). */
function ibanStartAt(text: string, i: number): boolean {
  for (let k = 0; k < 4; k++) {
    if (i + k >= text.length) return true;
    const c = text.charCodeAt(i + k);
    if (k < 2 ? !isAsciiLetter(c) : !isDigit(c)) return false;
  }
  return true;
}
