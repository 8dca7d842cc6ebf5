import type { DetectorMatch } from '../detect/types.js';
import type { DetectionRule, Finding } from '../policy/types.js';

/**
 * Characters of already-released text re-scanned as left context, so word boundaries and the key names that
 * context rules look for (`password = `, `aws_secret_access_key:`) are seen when the value arrives later.
 */
const LEFT_CONTEXT = 256;
/** Extra characters held after the longest match, for lookahead such as word boundaries. */
const LOOKAHEAD = 32;
/** Cap on the ordinary window; longer values are held by the token and key-block rules below. */
const MAX_WINDOW = 1024;
/** Longest run held for an unfinished token or private-key block. */
const MAX_HOLD = 16_384;
const KEY_BLOCK_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|PuTTY-User-Key-File-[23]:/g;
/** The end of a key block, followed by one more character so that a longer end line is not cut short. */
const KEY_BLOCK_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-{4,5}[\s\S]|Private-MAC: [a-f0-9]{40,64}[^a-f0-9]/g;

export interface RuleMatch {
  rule: DetectionRule;
  policy: string;
  match: DetectorMatch;
}

/**
 * Windowed enforcement for one stream of text (a message, a content block, a tool call's arguments).
 * Text is released as soon as no match can still cover it: everything before the last `window` characters,
 * except an unfinished token (a run without whitespace reaching the end) or an unterminated private-key
 * block. Redactions inside the released part are applied with the same overlap rule as non-streamed text,
 * so the concatenated output equals the non-streamed redaction of the whole text.
 */
export class TextWindow {
  private original = '';
  private released = 0;
  private readonly window: number;
  /** Everything released so far, after redaction. */
  output = '';

  /** Rules that change or stop the text; they are applied as text is released. */
  private readonly rules: ReadonlyArray<{ policy: string; rule: DetectionRule }>;
  /** Rules that only record (flag); they read the whole text once, at the end, and hold nothing back. */
  private readonly recordOnly: ReadonlyArray<{ policy: string; rule: DetectionRule }>;

  constructor(
    rules: ReadonlyArray<{ policy: string; rule: DetectionRule }>,
    private readonly onFinding: (f: RuleMatch, value: string) => void,
  ) {
    this.rules = rules.filter((r) => r.rule.action !== 'flag');
    this.recordOnly = rules.filter((r) => r.rule.action === 'flag');
    const longest = Math.max(0, ...this.rules.map((r) => r.rule.detector.maxSpacedMatchLength ?? r.rule.detector.maxMatchLength));
    this.window = Math.min(longest, MAX_WINDOW) + LOOKAHEAD;
  }

  /** Add text; returns the redacted text that can be released now ('' while everything is held). */
  push(text: string): string {
    this.original += text;
    return this.advance(false);
  }

  /** The stream of this text ended: release the rest, and let record-only rules read the whole text. */
  flush(): string {
    const out = this.advance(true);
    for (const r of this.recordOnly) {
      for (const match of r.rule.detector.scan(this.original)) this.onFinding({ rule: r.rule, policy: r.policy, match }, this.original.slice(match.start, match.end));
    }
    return out;
  }

  /** Whether a blocking rule has matched; the caller ends the stream. */
  blocked: RuleMatch | undefined;

  private advance(final: boolean): string {
    if (this.rules.length === 0) {
      const out = this.original.slice(this.released);
      this.released = this.original.length;
      this.output += out;
      return out;
    }
    const hold = final ? this.original.length : this.holdPoint();
    // Nothing can be released yet: scanning now would only be repeated later. A block in held text is
    // still found before any of it is released.
    if (hold <= this.released) return '';
    const scanFrom = Math.max(0, this.released - LEFT_CONTEXT);
    const region = this.original.slice(scanFrom);
    const matches: RuleMatch[] = [];
    for (const r of this.rules) {
      for (const m of r.rule.detector.scan(region)) {
        const start = m.start + scanFrom;
        if (start < this.released) continue; // decided when that text was released
        matches.push({ rule: r.rule, policy: r.policy, match: { ...m, start, end: m.end + scanFrom } });
      }
    }
    matches.sort((a, b) => a.match.start - b.match.start || b.match.end - a.match.end);

    let cut = hold;
    // A match that crosses the cut may still grow: hold from its start (repeat, as that can expose another).
    for (let moved = true; moved && !final; ) {
      moved = false;
      for (const { match } of matches) {
        if (match.start < cut && match.end > cut) {
          cut = match.start;
          moved = true;
        }
      }
    }
    cut = Math.max(cut, this.released);

    let out = '';
    let pos = this.released;
    for (const rm of matches) {
      const { match, rule } = rm;
      if (match.end > cut) continue;
      if (rule.action === 'block' || rule.action === 'escalate') {
        this.blocked ??= rm;
      }
      this.onFinding(rm, this.original.slice(match.start, match.end));
      if (rule.action !== 'redact' || match.start < pos) continue;
      out += this.original.slice(pos, match.start) + rule.marker(match, this.original.slice(match.start, match.end));
      pos = match.end;
    }
    // A block found in held text must stop the stream before anything else is released.
    for (const rm of matches) {
      if (rm.match.end > cut && (rm.rule.action === 'block' || rm.rule.action === 'escalate')) this.blocked ??= rm;
    }
    out += this.original.slice(pos, cut);
    this.released = cut;
    this.output += out;
    return out;
  }

  /** Where the held tail starts when the stream is not finished. */
  private holdPoint(): number {
    const len = this.original.length;
    let cut = len - this.window;
    // An unfinished token: a long secret arrives in many small deltas without whitespace.
    let i = len;
    while (i > 0 && len - i < MAX_HOLD && !isSpace(this.original.charCodeAt(i - 1))) i--;
    if (i < cut) cut = i;
    // A private-key block whose end has not arrived yet.
    KEY_BLOCK_BEGIN.lastIndex = Math.max(0, this.released - LEFT_CONTEXT, len - MAX_HOLD);
    let begin: RegExpExecArray | null;
    while ((begin = KEY_BLOCK_BEGIN.exec(this.original)) !== null) {
      if (begin.index >= cut) break;
      KEY_BLOCK_END.lastIndex = begin.index + begin[0].length;
      if (!KEY_BLOCK_END.test(this.original)) {
        cut = begin.index;
        break;
      }
    }
    return Math.max(cut, 0);
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export function findingOf(rm: RuleMatch, source: Finding['source'], segment: number): Finding {
  return { type: rm.match.type, rule: rm.match.rule, source, segment, start: rm.match.start, end: rm.match.end };
}
