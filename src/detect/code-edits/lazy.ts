/** Lazy placeholders: comments or lines standing in for code the model did not write out. */
import { normLine, splitLines } from './util.js';

const PROSE_LANGS = new Set(['md', 'txt', 'rst']);

/** The comment part of a line: from `//`, `#`, `/*`, `<!--`, `--` (at line start or after whitespace). */
function commentOf(line: string): string | undefined {
  const m = /(?:^|\s)(\/\/+|#+|\/\*+|<!--|--|;+|\{\/\*+)(.*)$/.exec(line);
  if (!m) {
    const star = /^\s*\*+\s(.*)$/.exec(line); // inside a block comment
    return star ? star[1] : undefined;
  }
  return m[2]!.replace(/(\*\/\}?|-->)\s*$/, '').trim();
}

const ELLIPSIS = /(\.{3}|…)/;
const KEYWORD =
  /\b(rest|remaining|existing|unchanged|same|other|others|previous|etc|omitted|elided|more|code|here|implementation|methods?|functions?|as before|logic|lines|stays|remains)\b/i;
const PHRASES: RegExp[] = [
  /\brest of (the |this |your )?(\w+ )?(code|file|class|function|method|methods|functions|implementation|module|component|logic|body|imports|config|content|tests?|script|handlers?|routes?|cases|fields|properties|program)\b/i,
  /\b(existing|remaining|other|previous|original|unchanged|old) (code|methods|functions|implementation|logic|imports|content|lines|tests|properties|fields|handlers|routes|cases|exports|statements|config)\b.{0,30}\b(unchanged|here|remains?|stays?|as (is|before)|omitted|goes here|untouched|not shown|the same|below|above)\b/i,
  /^(existing|remaining|previous|original|unchanged|same|other) (code|methods|functions|implementation|logic|imports|content|lines|tests)$/i,
  /\b(omitted|elided|truncated|abbreviated|skipped) for (brevity|clarity|space)\b/i,
  /\b(rest|everything else|remainder|the others?) (is |are |remains? |stays? )?(unchanged|the same|as (is|before)|omitted)\b/i,
  /\bsame as (before|above|original|previous|existing)\b/i,
  /\b(your|the) (existing |original )?(code|implementation|logic) (goes )?here\b/i,
  /\b(no changes?|unchanged) (below|above|here|to the rest)\b/i,
  /^\(?\s*(unchanged|rest unchanged|no changes|omitted)\s*\)?$/i,
];

/** Is this single line a lazy placeholder? */
export function isLazyLine(line: string, language?: string): boolean {
  const t = line.trim();
  if (t === '') return false;
  if ((t === '...' || t === '…' || t === '[...]') && !PROSE_LANGS.has(language ?? '')) return true;
  const c = commentOf(line);
  if (c === undefined) return false;
  if (c === '' ) return false;
  if (/^(\.{3}|…)/.test(c)) return true;
  if (ELLIPSIS.test(c) && KEYWORD.test(c)) return true;
  return PHRASES.some((re) => re.test(c));
}

/**
 * 1-based line numbers of lazy placeholders in `code`, ignoring lines that already exist in `original`
 * (the SEARCH text or the file as sent), so a placeholder comment the file already had is not blamed on the edit.
 */
export function findLazyPlaceholders(code: string, original?: string, language?: string): number[] {
  const known = new Set(original ? splitLines(original).map(normLine) : []);
  return lazyLinesNotIn(code, (line) => known.has(line), language);
}

/** As findLazyPlaceholders, with the lines to ignore given by `known` (called with each line normalised by normLine). */
export function lazyLinesNotIn(code: string, known: (normalizedLine: string) => boolean, language?: string): number[] {
  const hits: number[] = [];
  splitLines(code).forEach((l, idx) => {
    if (known(normLine(l))) return;
    if (isLazyLine(l, language)) hits.push(idx + 1);
  });
  return hits;
}
