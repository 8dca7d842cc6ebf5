import { keepPreferred } from '../overlap.js';
import type { DetectorMatch, NamedPattern } from '../types.js';

/**
 * Longest match assumed for a custom pattern. A config regex can match anything; streamed enforcement holds
 * back this many characters for it, so a custom match longer than this may be missed across chunk boundaries.
 */
export const CUSTOM_PATTERN_MAX_MATCH = 256;

export interface CompiledPattern {
  type: string;
  rule: string;
  re: RegExp;
}

/** `employee-id` → `EMPLOYEE_ID`. */
export function customTypeName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Compiles config patterns once. Tries the `u` flag first (as config validation does), then plain; a leading
 * inline `(?i)` (common in patterns written for other engines) becomes the `i` flag. Throws an Error naming
 * the pattern when it is not a valid JavaScript regular expression.
 */
export function compileCustomPatterns(patterns: readonly NamedPattern[] | undefined): CompiledPattern[] {
  const out: CompiledPattern[] = [];
  for (const p of patterns ?? []) {
    let source = p.pattern;
    let flags = 'g';
    const inline = /^\(\?([ims]+)\)/.exec(source);
    if (inline) {
      source = source.slice(inline[0].length);
      for (const f of new Set(inline[1])) flags += f;
    }
    let re: RegExp | undefined;
    let error: unknown;
    for (const extra of ['u', '']) {
      try {
        re = new RegExp(source, flags + extra);
        break;
      } catch (e) {
        error ??= e;
      }
    }
    if (!re) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`detect pattern "${p.name}" is not a valid regular expression: ${reason}`);
    }
    out.push({ type: customTypeName(p.name), rule: `custom:${p.name}`, re });
  }
  return out;
}

/** All non-empty matches of compiled custom patterns in `text`. */
export function scanCustom(patterns: readonly CompiledPattern[], text: string, out: Candidate[], priority: number): void {
  for (const p of patterns) {
    const re = p.re;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex = m.index + 1; // avoid an endless loop on empty matches
        continue;
      }
      out.push({ type: p.type, rule: p.rule, start: m.index, end: m.index + m[0].length, priority });
    }
  }
}

export interface Candidate extends DetectorMatch {
  /** Lower wins when two candidates overlap. */
  priority: number;
}

/**
 * Removes overlapping candidates: the lower priority number wins, then the longer span, then the earlier one.
 * The result is sorted by start and carries no priority field.
 */
export function resolveOverlaps(cands: Candidate[]): DetectorMatch[] {
  if (cands.length === 0) return [];
  if (cands.length === 1) {
    const c = cands[0]!;
    return [{ type: c.type, rule: c.rule, start: c.start, end: c.end }];
  }
  const ranked = [...cands].sort((a, b) => a.priority - b.priority || b.end - b.start - (a.end - a.start) || a.start - b.start);
  const kept = keepPreferred(ranked);
  return kept.map((c) => ({ type: c.type, rule: c.rule, start: c.start, end: c.end }));
}

/** Escapes regex syntax characters (only those, so the result is also valid with the `u` flag). */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

type Trie = Map<string, Trie>;

/**
 * Phrases as a regular-expression trie (`p(?:hone|h\.)…`), for a case-insensitive regex. A flat alternation of
 * many phrases is tried one alternative at a time at every position (≈25 MB/s in V8 for ~130 phrases); sharing
 * prefixes makes it several times faster. Each space in a phrase becomes `space` (a regex source); other
 * characters are matched literally (compare lowercased phrases, and compile with `i`).
 */
export function trieSource(phrases: readonly string[], space: string): string {
  const root: Trie = new Map();
  for (const p of phrases) {
    let node = root;
    for (const ch of [...p.toLowerCase(), '\0']) {
      let next = node.get(ch);
      if (!next) node.set(ch, (next = new Map()));
      node = next;
    }
  }
  const emit = (t: Trie): string => {
    const alts: string[] = [];
    let end = false;
    for (const [ch, sub] of t) {
      if (ch === '\0') end = true;
      else alts.push((ch === ' ' ? space : escapeRegex(ch)) + emit(sub));
    }
    if (alts.length === 0) return '';
    const body = alts.length === 1 ? alts[0]! : `(?:${alts.join('|')})`;
    return end ? `(?:${body})?` : body;
  };
  return emit(root);
}
