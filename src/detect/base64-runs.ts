/**
 * The maximal runs of base64 digits (standard and URL-safe: A-Z a-z 0-9 + / - _) of at least BASE64_MIN_RUN
 * characters in a text: where an encoded value can hide. Both the secret scanner's decoded views and the
 * prompt-injection scanner's decoder look at exactly these runs of the texts the chain hands them, so the runs of
 * the last long text are remembered (by the text itself: the chain hands every detector the same string) and the
 * second detector does not read the text again.
 */

export const BASE64_MIN_RUN = 16;

/** Texts shorter than this are read again rather than remembered: cheap, and many. */
const MEMO_MIN_LENGTH = 4096;

const DIGIT = new Uint8Array(128);
for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') DIGIT[ch.charCodeAt(0)] = 1;

function isDigit(c: number): boolean {
  return c < 128 && DIGIT[c] === 1;
}

let lastText: string | undefined;
let lastRuns: Int32Array = new Int32Array(0);

/**
 * Start and end (exclusive) of each maximal run of at least BASE64_MIN_RUN base64 digits, in order, as
 * [start0, end0, start1, end1, …]. Read-only: the array may be handed out again for the same text.
 *
 * Such a run covers a position that is a multiple of BASE64_MIN_RUN (less one), so only those positions are
 * probed, and a probe that lands on a digit is grown both ways to its maximal run: on code, where most runs are
 * short words, this reads a fraction of the characters. The runs are those of a pass over every character.
 */
export function base64Runs(text: string): Int32Array {
  if (text.length >= MEMO_MIN_LENGTH && text === lastText) return lastRuns;
  const runs = findRuns(text);
  if (text.length >= MEMO_MIN_LENGTH) {
    lastText = text;
    lastRuns = runs;
  }
  return runs;
}

function findRuns(text: string): Int32Array {
  const n = text.length;
  const out: number[] = [];
  // Everything before `from` is already classified (it ends at a character outside the alphabet, or at 0).
  let from = 0;
  for (let probe = BASE64_MIN_RUN - 1; probe < n; probe += BASE64_MIN_RUN) {
    if (probe < from || !isDigit(text.charCodeAt(probe))) continue;
    let start = probe;
    while (start > from && isDigit(text.charCodeAt(start - 1))) start--;
    let end = probe + 1;
    while (end < n && isDigit(text.charCodeAt(end))) end++;
    from = end;
    if (end - start >= BASE64_MIN_RUN) out.push(start, end);
  }
  return Int32Array.from(out);
}
