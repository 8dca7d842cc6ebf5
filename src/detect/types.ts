/**
 * Detectors are pure functions over strings: no I/O, no config parsing, compiled once and reused for
 * input, output and streamed text. A match carries where it is and what it is, never a copy of the value.
 */
export interface DetectorMatch {
  /** Category for markers and events, e.g. `SECRET`, `EMAIL`, `CREDIT_CARD`, or a custom pattern's name. */
  type: string;
  /** The specific rule that matched, e.g. `aws-access-key-id`, `email`, `luhn-card`. */
  rule: string;
  /** UTF-16 offsets into the scanned string; `text.slice(start, end)` is exactly the sensitive value. */
  start: number;
  end: number;
  /** For scoring detectors (prompt injection): how strongly the region matched, 0..1, and why. */
  score?: number;
  signals?: string[];
}

export interface Detector {
  /**
   * The longest match this detector can produce (in UTF-16 code units). Streaming enforcement holds back
   * this many characters so that a value split across chunks is still caught.
   */
  readonly maxMatchLength: number;
  /**
   * The longest match that can contain whitespace, when smaller than `maxMatchLength`. Streaming holds a
   * run without whitespace until it ends anyway (up to 16 KB), and private-key blocks until their END line,
   * so only matches with whitespace in them set the ordinary window.
   */
  readonly maxSpacedMatchLength?: number;
  /**
   * Streaming: the earliest index in [from, text.length] at which a match that contains whitespace could begin
   * and still be unfinished (or still appear or change) when more text is appended; text.length when there is
   * none. `from` is never more than maxSpacedMatchLength (plus a small look-ahead) before the end. Without it,
   * streaming holds the last maxSpacedMatchLength characters whatever they are; with it, only from that point.
   * It must be a bound for every continuation: an index too late lets part of a value out before it is matched.
   */
  openFrom?(text: string, from: number): number;
  scan(text: string): DetectorMatch[];
}

/** A named custom regular expression from config (`detect_patterns`, `additional_patterns`). */
export interface NamedPattern {
  name: string;
  pattern: string;
}
