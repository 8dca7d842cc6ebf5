/**
 * Where a built-in secret with whitespace in it could still be unfinished, for streamed replies
 * (Detector.openFrom). Built-in findings contain whitespace in three places only: private-key blocks (streaming
 * holds an open block whole, see stream/window.ts), tokens split into string literals joined across spaces and
 * lines (`"ghp_…" +\n  "…"`, see views.ts), and the values of a Kubernetes Secret manifest, which stay on one line
 * but need a `data:` / `stringData:` header somewhere before them.
 */

const QUOTES = new Set([34, 39, 0xff02, 0xff07]);
/** A manifest's data header: values under it are secret whatever they look like (kubernetes.ts). */
const DATA_HEADER = /(?:^|[\s"'{,])["']?(?:data|stringData)["']?[ \t]*:/g;
/** The gap of a join between two literals, from its closing quote (views.ts ESCAPES, loosened: any length). */
const JOIN_GAP = /["'\uff02\uff07][ \t]*(?:(?:\+|\.\.?|&|\|\|)[ \t]*)?(?:\r?\n[ \t]*(?:(?:\+|\.\.?|&)[ \t]*)?)?/y;

export function secretsOpenFrom(text: string, from: number): number {
  const n = text.length;
  let at = n;
  // A manifest value on the line still being written: from the first place a value can follow on it.
  const lineStart = Math.max(from, text.lastIndexOf('\n', n - 1) + 1);
  for (let i = lineStart; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 58 || QUOTES.has(c)) {
      at = i;
      break;
    }
  }
  // A data header in reach: every line after it may be a value, decided once `kind: Secret` is seen.
  DATA_HEADER.lastIndex = from;
  const header = DATA_HEADER.exec(text);
  if (header) at = Math.min(at, header.index);
  // Joined literals: from the start of the first literal's word, while the join can still go on.
  for (let i = from; i < at; i++) {
    if (!QUOTES.has(text.charCodeAt(i))) continue;
    const next = i + 1 < n ? text.charCodeAt(i + 1) : -1;
    if (next !== -1 && isWordChar(next)) continue; // an opening quote, or an apostrophe inside a word
    if (joinOpen(text, i)) return Math.min(at, wordStart(text, i, from));
  }
  return at;
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function wordStart(text: string, i: number, from: number): number {
  let s = i;
  while (s > from && !isSpace(text.charCodeAt(s - 1))) s--;
  return s;
}

/** From a closing quote at `i`: a chain of joins that reaches the end of the text (so may still grow). */
function joinOpen(text: string, i: number): boolean {
  const n = text.length;
  let pos = i;
  for (let links = 0; links < 64; links++) {
    JOIN_GAP.lastIndex = pos;
    const gap = JOIN_GAP.exec(text);
    if (!gap) return false;
    pos += gap[0].length;
    if (pos >= n) return true;
    if (!QUOTES.has(text.charCodeAt(pos))) return false;
    pos++;
    // The next literal's characters; a further quote may close it and start another join.
    while (pos < n && !isSpace(text.charCodeAt(pos)) && !QUOTES.has(text.charCodeAt(pos))) pos++;
    if (pos >= n) return true;
    if (!QUOTES.has(text.charCodeAt(pos))) return false;
  }
  return true;
}
