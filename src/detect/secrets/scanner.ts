import { keepPreferred } from '../overlap.js';
import type { Detector, DetectorMatch, NamedPattern } from '../types.js';
import { isPlaceholder, isSelfNamed } from './allowlist.js';
import { keyAround } from './generic.js';
import { shannonEntropy } from './entropy.js';
import { findKubernetesSecretValues, MAX_MANIFEST_VALUE } from './kubernetes.js';
import { secretsOpenFrom } from './frontier.js';
import { SHARED_KEYWORDS } from './prefilter.js';
import { decodedView, decodeWindows } from './views.js';
import type { RuleMatchContext, SecretRule } from './rule.js';
import { SECRET_RULES } from './rules.js';

export interface SecretScannerOptions {
  /** Custom patterns from config; the named group `secret` (or the whole match) is the value. */
  additionalPatterns?: NamedPattern[];
  /** Extra literal substrings that mark a value as a placeholder. */
  allowlist?: string[];
}

/** Manifest values rank after provider rules (a token inside is named by its own rule) and before generic ones. */
const MANIFEST_RANK = 60_000;

/** Longest value a custom pattern may report (its regular expression gives no bound). */
export const CUSTOM_PATTERN_MAX_LENGTH = 1024;

interface Compiled {
  rule: SecretRule;
  re: RegExp;
  /** Tie-break among equal spans: provider rules before context rules before generic ones, then rule order. */
  rank: number;
  allowRuns: boolean;
}

interface Candidate {
  start: number;
  end: number;
  rule: string;
  rank: number;
}

function compile(rule: SecretRule, index: number): Compiled {
  const flags = new Set(rule.pattern.flags.replace(/[gy]/g, ''));
  flags.add('g');
  flags.add('d');
  const generic = rule.category === 'generic';
  return {
    rule,
    re: new RegExp(rule.pattern.source, [...flags].join('')),
    rank: (generic ? 100_000 : 0) + index,
    allowRuns: rule.allowRuns ?? rule.category === 'private-key',
  };
}

/**
 * Builds the secret detector. Everything is compiled here once: one Aho-Corasick automaton over all rule
 * keywords decides, in a single pass, which rules run on a text; each rule is one global regular expression
 * with bounded quantifiers. Overlapping findings keep the longest (then the most specific) span.
 */
export function createSecretScanner(opts: SecretScannerOptions = {}): Detector {
  const allow = (opts.allowlist ?? []).filter((s) => s.length > 0);
  const compiled = SECRET_RULES.map(compile);

  const keywordIds = new Map<string, number>();
  const keywordRules: number[][] = [];
  compiled.forEach((c, ri) => {
    for (const kw of c.rule.keywords) {
      const k = kw.toLowerCase();
      let id = keywordIds.get(k);
      if (id === undefined) {
        id = keywordIds.size;
        keywordIds.set(k, id);
        keywordRules.push([]);
      }
      keywordRules[id]!.push(ri);
    }
  });
  // The keyword pass is shared with the other detectors that scan the same text (prefilter.ts KeywordUnion).
  const unionIds = SHARED_KEYWORDS.add([...keywordIds.keys()]);
  const alwaysRun = compiled.map((c, i) => (c.rule.keywords.length === 0 ? i : -1)).filter((i) => i >= 0);

  const custom: Compiled[] = (opts.additionalPatterns ?? []).map((p, i) => {
    let re: RegExp;
    try {
      re = new RegExp(p.pattern, 'gd');
    } catch (err) {
      throw new Error(`invalid secret pattern "${p.name}": ${(err as Error).message}`);
    }
    const rule: SecretRule = { id: p.name, description: `custom pattern ${p.name}`, keywords: [], pattern: new RegExp(p.pattern), maxLength: CUSTOM_PATTERN_MAX_LENGTH, category: 'custom' };
    return { rule, re, rank: 50_000 + i, allowRuns: false };
  });

  /**
   * Room for a value and the few characters around it that some rules inspect, and for a token split into string
   * literals joined across lines (`"ghp_…" +\n  "…"`), the one built-in finding with whitespace inside.
   */
  const SPACED_CONTEXT = 256;
  let maxMatchLength = 0;
  for (const c of compiled) maxMatchLength = Math.max(maxMatchLength, c.rule.maxLength);
  if (custom.length > 0) maxMatchLength = Math.max(maxMatchLength, CUSTOM_PATTERN_MAX_LENGTH);
  maxMatchLength = Math.max(maxMatchLength, MAX_MANIFEST_VALUE);

  const active = new Uint8Array(compiled.length);

  function run(c: Compiled, text: string, out: Candidate[]): void {
    const re = c.re;
    const rule = c.rule;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const whole = m.indices![0]!;
      if (whole[1] === whole[0]) {
        re.lastIndex = whole[1] + 1;
        continue;
      }
      const span = m.indices!.groups?.['secret'] ?? m.indices!.groups?.['secret2'] ?? whole;
      const start = span[0];
      const end = span[1];
      if (end <= start || end - start > rule.maxLength) continue;
      const value = text.slice(start, end);
      if (isPlaceholder(value, allow, { allowRuns: c.allowRuns })) continue;
      // A value next to its key name must not just repeat the name (`API_KEY=api-key-here`).
      if (whole[0] < start && isSelfNamed(value, keyAround(text, whole[0]))) continue;
      if (rule.entropy !== undefined && shannonEntropy(value) < rule.entropy - 1e-9) continue;
      if (rule.validate !== undefined) {
        const ctx: RuleMatchContext = { text, matchStart: whole[0], matchEnd: whole[1], valueStart: start, valueEnd: end, groups: m.groups };
        if (!rule.validate(value, ctx)) continue;
      }
      out.push({ start, end, rule: rule.id, rank: c.rank });
    }
  }

  return {
    maxMatchLength,
    // Built-in values contain whitespace only in private-key blocks, which streaming holds whole, and in joins.
    maxSpacedMatchLength: custom.length > 0 ? CUSTOM_PATTERN_MAX_LENGTH : SPACED_CONTEXT,
    // A custom pattern may begin anywhere: then the fixed window.
    ...(custom.length === 0 ? { openFrom: secretsOpenFrom } : {}),
    scan(text: string): DetectorMatch[] {
      if (text.length === 0) return [];
      const candidates: Candidate[] = [];
      scanInto(text, candidates);
      // Encoded, escaped, split or full-width tokens: rescan decoded views of the windows around such places.
      // A finding there maps back to the original span it was decoded from (the whole encoded run).
      for (const [ws, we] of decodeWindows(text)) {
        const sub = text.slice(ws, we);
        const view = decodedView(sub);
        if (view === null) continue;
        const found: Candidate[] = [];
        scanInto(view.text, found);
        for (const f of found) {
          const start = ws + view.toOrigStart(f.start);
          const end = ws + view.toOrigEnd(f.end);
          if (end <= start || text.slice(start, end) === view.text.slice(f.start, f.end)) continue;
          candidates.push({ start, end, rule: f.rule, rank: f.rank });
        }
      }
      return resolveOverlaps(candidates);
    },
  };

  function scanInto(text: string, candidates: Candidate[]): void {
    active.fill(0);
    const found = SHARED_KEYWORDS.scan(text);
    for (let k = 0; k < unionIds.length; k++) if (found[unionIds[k]!] === 1) for (const ri of keywordRules[k]!) active[ri] = 1;
    for (const ri of alwaysRun) active[ri] = 1;
    for (let ri = 0; ri < compiled.length; ri++) if (active[ri] === 1) run(compiled[ri]!, text, candidates);
    for (const c of custom) run(c, text, candidates);
    for (const v of findKubernetesSecretValues(text)) if (!isPlaceholder(text.slice(v.start, v.end), allow)) candidates.push({ ...v, rank: MANIFEST_RANK });
  }
}

/** Longest span first, then the most specific rule; a span overlapping one already kept is dropped. */
function resolveOverlaps(candidates: Candidate[]): DetectorMatch[] {
  if (candidates.length === 0) return [];
  candidates.sort((a, b) => b.end - b.start - (a.end - a.start) || a.rank - b.rank || a.start - b.start);
  const kept = keepPreferred(candidates);
  return kept.map((k) => ({ type: 'SECRET', rule: k.rule, start: k.start, end: k.end }));
}
