/**
 * The quoted string literals of one text, found in a single pass the first time a hit asks.
 *
 * Two questions are asked of every signal hit: is it inside a string literal on its line (a template token in a
 * tokenizer's source), and is that literal a list item or a call argument (a detector's test fixture)? Answering
 * each by scanning the hit's own line cost up to 1,600 characters per hit: a text made of hits (`[INST]` repeated)
 * spent two seconds per MB there. Here the text is read once, and a hit looks its literal up by binary search.
 *
 * A literal opens at an unescaped `"`, `'` or backtick outside any literal and closes at the same quote on the same
 * line; a backslash escapes the next character; a newline ends an unclosed literal. A hit counts as inside a literal
 * only when the quote opens at most REACH characters before it and closes at most REACH after it, so one stray quote
 * does not turn the rest of a long line into data.
 */

const REACH = 400;
const NONE = -1;

const isQuote = (c: number): boolean => c === 34 || c === 39 || c === 96;
const isBlank = (c: number): boolean => c === 32 || c === 9;
const isLineEnd = (c: number): boolean => c === 10 || c === 13;

export class StringLiterals {
  private opens: Int32Array | undefined;
  private closes: Int32Array | undefined;
  /** Per literal: 0 not yet known, 1 stands as data (list item, argument), 2 does not. */
  private asData: Uint8Array | undefined;

  constructor(private readonly text: string) {}

  /** Whether [start, end) lies inside one string literal of its line. */
  contains(start: number, end: number): boolean {
    return this.holding(start, end) !== NONE;
  }

  /**
   * Whether [start, end) lies inside a string literal that stands as a list item or a call argument: `[`, `(`, `,`
   * or the line's start before the opening quote, `,`, `)`, `]` or the line's end after the closing one, as in
   * `ATTACKS = ['…', …]` or `expect(scan("…"))`. A value after `:` or `=` (a package description, a config entry)
   * is not: attackers put instructions there.
   */
  standsAsData(start: number, end: number): boolean {
    const k = this.holding(start, end);
    if (k === NONE) return false;
    const verdicts = this.asData!;
    if (verdicts[k] === 0) verdicts[k] = this.judge(this.opens![k]!, this.closes![k]!) ? 1 : 2;
    return verdicts[k] === 1;
  }

  /** Index of the literal holding [start, end), or NONE. */
  private holding(start: number, end: number): number {
    if (this.opens === undefined) this.index();
    const opens = this.opens!;
    // The last literal opening before `start`.
    let lo = 0;
    let hi = opens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (opens[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    const k = lo - 1;
    if (k < 0) return NONE;
    const close = this.closes![k]!;
    return close >= end && start - opens[k]! <= REACH && close - end < REACH ? k : NONE;
  }

  private judge(open: number, close: number): boolean {
    const text = this.text;
    let b = open - 1;
    while (b >= 0 && isBlank(text.charCodeAt(b))) b--;
    const before = b < 0 ? NONE : text.charCodeAt(b);
    let a = close + 1;
    while (a < text.length && isBlank(text.charCodeAt(a))) a++;
    const after = a >= text.length ? NONE : text.charCodeAt(a);
    const opensItem = before === NONE || isLineEnd(before) || before === 91 || before === 40 || before === 44;
    const closesItem = after === NONE || isLineEnd(after) || after === 44 || after === 41 || after === 93;
    return opensItem && closesItem;
  }

  private index(): void {
    const text = this.text;
    const opens: number[] = [];
    const closes: number[] = [];
    let quote = 0;
    let open = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (isLineEnd(c)) quote = 0;
      else if (c === 92) {
        if (i + 1 < text.length && !isLineEnd(text.charCodeAt(i + 1))) i++;
      } else if (quote === 0) {
        if (isQuote(c)) {
          quote = c;
          open = i;
        }
      } else if (c === quote) {
        opens.push(open);
        closes.push(i);
        quote = 0;
      }
    }
    this.opens = Int32Array.from(opens);
    this.closes = Int32Array.from(closes);
    this.asData = new Uint8Array(opens.length);
  }
}
