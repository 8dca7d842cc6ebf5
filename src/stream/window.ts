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
 * Scan work a stream may spend per character it delivers. Each scan reads the held text again (a region of
 * LEFT_CONTEXT + the window + what is new), so a stream of 1-character deltas scanned on every delta would cost
 * O(length × region): 16 GB of scanning per rule for a 1 MB run without whitespace, held whole up to MAX_HOLD.
 * Every delivered character earns this much credit and a scan spends its region's length, so the scans of a
 * whole stream read at most SCAN_CREDIT × its length (plus the final flush). Holding only from where a match
 * could still begin (Detector.openFrom) makes the region about LEFT_CONTEXT + 40, so with 4-character tokens a
 * scan comes every four or five tokens: measured with the brief chain, 36 characters arrive before the first is
 * released, the client is 39 behind on average and 48 at most, and a long reply costs no more scanning than the
 * fixed window did (32 credits spent the same work on twice as many, smaller scans).
 */
const SCAN_CREDIT = 16;

/**
 * Windowed enforcement for one stream of text (a message, a content block, a tool call's arguments).
 * Text is released as soon as no match can still cover it: everything before the last `window` characters,
 * except an unfinished token (a run without whitespace reaching the end) or an unterminated private-key
 * block. Redactions inside the released part are applied with the same overlap rule as non-streamed text,
 * so the concatenated output equals the non-streamed redaction of the whole text. Released text no scan needs
 * any more is dropped, and pushed pieces are joined only when a scan reads them: the work and the memory per
 * delta do not grow with what was streamed before it.
 */
export class TextWindow {
  /** The text from `base` on: what is held, plus LEFT_CONTEXT characters of released text before it. */
  private tail = '';
  private base = 0;
  /** Pushed text after `tail`, joined when a scan reads it. */
  private pending: string[] = [];
  /** Characters pushed so far. */
  private length = 0;
  private released = 0;
  /** Index just after the last whitespace character pushed (0 when there was none). */
  private lastSpaceEnd = 0;
  private credit = 0;
  /** The whole text, kept only for record-only rules, which read it once at the end. */
  private readonly whole: string[] | undefined;
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
    const setup = setupOf(rules);
    this.rules = setup.rules;
    this.recordOnly = setup.recordOnly;
    if (this.recordOnly.length > 0) this.whole = [];
    this.frontiers = setup.frontiers;
    this.window = setup.window;
  }

  /** Rules whose detector has a frontier (Detector.openFrom), with how far back an open match can start. */
  private readonly frontiers: ReadonlyArray<{ open: (text: string, from: number) => number; reach: number }>;

  /** Add text; returns the redacted text that can be released now ('' while everything is held). */
  push(text: string): string {
    if (text.length > 0) {
      this.pending.push(text);
      this.whole?.push(text);
      for (let i = text.length - 1; i >= 0; i--) {
        if (isSpace(text.charCodeAt(i))) {
          this.lastSpaceEnd = this.length + i + 1;
          break;
        }
      }
      this.length += text.length;
      this.credit += SCAN_CREDIT * text.length;
    }
    return this.advance(false);
  }

  /** The stream of this text ended: release the rest, and let record-only rules read the whole text. */
  flush(): string {
    const out = this.advance(true);
    if (this.whole) {
      const all = this.whole.join('');
      for (const r of this.recordOnly) {
        for (const match of r.rule.detector.scan(all)) this.onFinding({ rule: r.rule, policy: r.policy, match }, all.slice(match.start, match.end));
      }
    }
    return out;
  }

  /** Whether a blocking rule has matched; the caller ends the stream. */
  blocked: RuleMatch | undefined;

  /** `tail` with the pending pieces appended: the text from `base` to the end. */
  private text(): string {
    if (this.pending.length > 0) {
      this.tail += this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
      this.pending = [];
    }
    return this.tail;
  }

  private advance(final: boolean): string {
    if (this.rules.length === 0) {
      const out = this.text();
      this.tail = '';
      this.base = this.released = this.length;
      this.output += out;
      return out;
    }
    let hold = final ? this.length : this.tokenHold();
    // Nothing can be released yet: scanning now would only be repeated later. A block in held text is
    // still found before any of it is released.
    if (hold <= this.released) return '';
    const scanFrom = Math.max(0, this.released - LEFT_CONTEXT);
    if (!final) {
      const cost = this.length - scanFrom;
      if (this.credit < cost) return '';
      this.credit -= cost;
    }
    const text = this.text();
    const base = this.base;
    if (!final) hold = Math.min(hold, this.keyBlockHold(text), this.frontierHold(text, hold));
    if (hold <= this.released) return '';
    const region = text.slice(scanFrom - base);
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
    // A match that crosses the cut may still grow: hold from its start. Visiting matches from the last start
    // back finds every chain of overlapping matches in one pass (a match seen earlier starts at or after the
    // new cut, so it cannot cross it).
    if (!final) {
      for (let i = matches.length - 1; i >= 0; i--) {
        const { match } = matches[i]!;
        if (match.start < cut && match.end > cut) cut = match.start;
      }
    }
    cut = Math.max(cut, this.released);

    const value = (m: DetectorMatch): string => text.slice(m.start - base, m.end - base);
    const parts: string[] = [];
    let pos = this.released;
    for (const rm of matches) {
      const { match, rule } = rm;
      if (match.end > cut) continue;
      if (rule.action === 'block' || rule.action === 'escalate') {
        this.blocked ??= rm;
      }
      this.onFinding(rm, value(match));
      if (rule.action !== 'redact' || match.start < pos) continue;
      parts.push(text.slice(pos - base, match.start - base), rule.marker(match, value(match)));
      pos = match.end;
    }
    // A block found in held text must stop the stream before anything else is released.
    // It is recorded like any finding, so the event's verdict is the block the client got.
    for (const rm of matches) {
      if (this.blocked) break;
      if (rm.match.end > cut && (rm.rule.action === 'block' || rm.rule.action === 'escalate')) {
        this.blocked = rm;
        this.onFinding(rm, value(rm.match));
      }
    }
    parts.push(text.slice(pos - base, cut - base));
    const out = parts.join('');
    this.released = cut;
    this.output += out;
    // Only the left context of what was released is read again.
    const keep = Math.max(0, cut - LEFT_CONTEXT);
    if (keep > base) {
      this.tail = text.slice(keep - base);
      this.base = keep;
    }
    return out;
  }

  /**
   * Where the held tail starts when the stream is not finished, before private-key blocks are considered: the
   * last `window` characters, or an unfinished token (a long secret arrives in many small deltas without
   * whitespace), up to MAX_HOLD of it.
   */
  private tokenHold(): number {
    const len = this.length;
    return Math.max(0, Math.min(len - this.window, Math.max(this.lastSpaceEnd, len - MAX_HOLD)));
  }

  /**
   * Where the earliest match with whitespace that could still be unfinished begins, for detectors that can tell
   * (Detector.openFrom), each looking from the furthest back such a match of its own could start.
   */
  private frontierHold(text: string, hold: number): number {
    let at = hold;
    const base = this.base;
    for (const f of this.frontiers) {
      const from = Math.max(this.released, this.length - f.reach, base);
      if (from >= at) continue;
      at = Math.min(at, f.open(text, from - base) + base);
    }
    return at;
  }

  /**
   * Where a private-key block whose end has not arrived yet starts (or the text's end when there is none),
   * looking at the last MAX_HOLD characters. One pass for the END lines and one for the BEGIN lines: a block
   * is open when no END line starts after its BEGIN line.
   */
  private keyBlockHold(text: string): number {
    const len = this.length;
    const from = Math.max(0, this.released - LEFT_CONTEXT, len - MAX_HOLD) - this.base;
    let lastEnd = -1;
    KEY_BLOCK_END.lastIndex = from;
    for (let m: RegExpExecArray | null; (m = KEY_BLOCK_END.exec(text)) !== null; ) {
      lastEnd = m.index;
      // Overlapping END lines count too: the next search starts one character after this one's start.
      KEY_BLOCK_END.lastIndex = m.index + 1;
    }
    KEY_BLOCK_BEGIN.lastIndex = from;
    for (let b: RegExpExecArray | null; (b = KEY_BLOCK_BEGIN.exec(text)) !== null; ) {
      if (b.index + b[0].length > lastEnd) return b.index + this.base;
    }
    return len;
  }
}

interface WindowSetup {
  rules: ReadonlyArray<{ policy: string; rule: DetectionRule }>;
  recordOnly: ReadonlyArray<{ policy: string; rule: DetectionRule }>;
  frontiers: ReadonlyArray<{ open: (text: string, from: number) => number; reach: number }>;
  window: number;
}

/**
 * What a window makes of its rules, made once per rule list (StreamGuard passes its chain's list to every
 * window of every stream, several windows a reply) rather than once per window.
 */
const setups = new WeakMap<ReadonlyArray<{ policy: string; rule: DetectionRule }>, WindowSetup>();

function setupOf(all: ReadonlyArray<{ policy: string; rule: DetectionRule }>): WindowSetup {
  let setup = setups.get(all);
  if (setup) return setup;
  const rules = all.filter((r) => r.rule.action !== 'flag');
  const reach = (r: { rule: DetectionRule }) => Math.min(r.rule.detector.maxSpacedMatchLength ?? r.rule.detector.maxMatchLength, MAX_WINDOW);
  setup = {
    rules,
    recordOnly: all.filter((r) => r.rule.action === 'flag'),
    // Detectors that say where an unfinished match could begin hold from there; the others, their whole reach.
    frontiers: rules.filter((r) => r.rule.detector.openFrom !== undefined).map((r) => ({ open: r.rule.detector.openFrom!.bind(r.rule.detector), reach: reach(r) + LOOKAHEAD })),
    window: Math.max(0, ...rules.filter((r) => r.rule.detector.openFrom === undefined).map(reach)) + LOOKAHEAD,
  };
  setups.set(all, setup);
  return setup;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

export function findingOf(rm: RuleMatch, source: Finding['source'], segment: number): Finding {
  return { type: rm.match.type, rule: rm.match.rule, source, segment, start: rm.match.start, end: rm.match.end };
}
