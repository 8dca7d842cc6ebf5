import { KeywordAutomaton } from '../secrets/prefilter.js';
import { findEncodedRuns, MAX_ENCODED_RUN } from './decode.js';
import { findInvisible } from './invisible.js';
import { foldPatternSource, normalizeText, type NormView } from './normalize.js';
import { BUILTIN_SIGNALS, type Signal, type SignalFamily } from './signals.js';
import type { InjectionDetector, InjectionMatch, InjectionScannerOptions } from './types.js';

/** Longest region reported (UTF-16 units); hits further apart start a new region. */
export const INJECTION_MAX_MATCH_LENGTH = 2048;
/** Hits at most this far apart (end to start) belong to one region. */
const REGION_GAP = 240;
/** Decoded text is rescanned (and may itself hold an encoded run) up to this depth. */
const MAX_DEPTH = 2;
const CUSTOM_WEIGHT = 0.9;

interface Hit {
  start: number;
  end: number;
  signal: string;
  family: SignalFamily | 'marker';
  weight: number;
}

interface CompiledSignal {
  sig: Signal;
  re: RegExp;
}

/** Meta-discussion of attacks: security docs, detector tests, policies. */
const DISCUSSION =
  /prompt[\s-]+injections?|injection\s+(?:attacks?|attempts?|payloads?|phrases?|patterns?)|jailbreak\s+(?:attempts?|prompts?|attacks?|phrases?)|\battackers?\b(?!\.)|\badversar|\bfor\s+example\b|\be\.g\.|\bsuch\s+as\b|\bphrases?\s+(?:like|such)|\bred[\s-]team|\bOWASP\b|\bLLM01\b|\bmitigat|\bclassifier|\bdetectors?\b|\bguardrails?\b|\bexamples?\s+of\b|\bwatch\s+(?:out\s+)?for\b|\bbeware\b|\bmalicious\s+(?:prompts?|instructions?|inputs?|content|text)/i;
const OPEN_QUOTE = /["'`“‘«]\s{0,2}$/;

function discussionFactor(text: string, start: number, end: number): number {
  const quoted = OPEN_QUOTE.test(text.slice(Math.max(0, start - 3), start));
  const around = text.slice(Math.max(0, start - 250), Math.min(text.length, end + 250));
  const discussed = DISCUSSION.test(around);
  if (quoted && discussed) return 0.2;
  if (discussed) return 0.5;
  if (quoted) return 0.9;
  return 1;
}

function compileSignal(sig: Signal, fold: boolean): CompiledSignal {
  const flags = new Set(sig.pattern.flags.replace(/[gy]/g, ''));
  flags.add('g');
  const source = fold ? foldPatternSource(sig.pattern.source) : sig.pattern.source;
  return { sig, re: new RegExp(source, [...flags].join('')) };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Builds the prompt-injection detector. Everything is compiled once: one Aho-Corasick pass over the matching
 * view picks the signals whose keywords occur; each signal is one global regular expression with bounded
 * quantifiers. Hits within REGION_GAP of each other form a region scored 1 - Π(1 - w) over the strongest hit
 * of each signal family; regions at or above the threshold are reported with offsets into the original text.
 */
export function createInjectionScanner(opts: InjectionScannerOptions = {}): InjectionDetector {
  const threshold = opts.threshold ?? 0.5;
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`injection threshold must be within 0..1, got ${threshold}`);
  const decode = opts.decodeBase64 ?? true;
  const normOpts = { normalizeUnicode: opts.normalizeUnicode ?? true, detectHomoglyphs: opts.detectHomoglyphs ?? true };

  const compiled = BUILTIN_SIGNALS.map((s) => compileSignal(s, normOpts.normalizeUnicode));
  const custom: CompiledSignal[] = (opts.attackPatterns ?? []).map((p) => {
    let re: RegExp;
    try {
      re = new RegExp(p.pattern, 'gi');
    } catch (err) {
      throw new Error(`invalid injection attack pattern "${p.name}": ${(err as Error).message}`);
    }
    const sig: Signal = { id: p.name, family: 'custom', weight: CUSTOM_WEIGHT, keywords: [], pattern: re, discussable: false };
    return { sig, re };
  });

  const keywordIds = new Map<string, number>();
  const keywordSignals: number[][] = [];
  const nonAsciiSignals: number[] = [];
  compiled.forEach((c, si) => {
    if (c.sig.nonAscii) nonAsciiSignals.push(si);
    for (const kw of c.sig.keywords) {
      const k = kw.toLowerCase();
      let id = keywordIds.get(k);
      if (id === undefined) {
        id = keywordIds.size;
        keywordIds.set(k, id);
        keywordSignals.push([]);
      }
      keywordSignals[id]!.push(si);
    }
  });
  const automaton = new KeywordAutomaton([...keywordIds.keys()]);

  function runSignal(c: CompiledSignal, view: NormView, out: Hit[]): void {
    const re = c.re;
    const text = view.text;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      let start = m.index;
      const end = start + m[0].length;
      if (end === start) {
        re.lastIndex = start + 1;
        continue;
      }
      // Patterns anchored at a line start consume the newline: report from the first visible character.
      while (start < end && (text.charCodeAt(start) === 10 || text.charCodeAt(start) === 13)) start++;
      if (end - start > INJECTION_MAX_MATCH_LENGTH) continue;
      let w = c.sig.weight;
      if (c.sig.check !== undefined) w *= c.sig.check(text, start, end, m);
      if (w > 0 && c.sig.discussable !== false) w *= discussionFactor(text, start, end);
      if (w <= 0) continue;
      out.push({ start: view.toOrigStart(start), end: view.toOrigEnd(end), signal: c.sig.id, family: c.sig.family, weight: w });
    }
  }

  /** All signal hits in `text`, in its own offsets; decoded runs are reported over their encoded span. */
  function collect(text: string, depth: number): Hit[] {
    const view = normalizeText(text, normOpts);
    const hits: Hit[] = [];
    const found = new Uint8Array(keywordIds.size);
    const active = new Uint8Array(compiled.length);
    if (automaton.scan(view.text, found) > 0) {
      for (let k = 0; k < found.length; k++) if (found[k] === 1) for (const si of keywordSignals[k]!) active[si] = 1;
    }
    if (!view.identity || /[^\x00-\x7f]/.test(view.text)) for (const si of nonAsciiSignals) active[si] = 1;
    for (let si = 0; si < compiled.length; si++) if (active[si] === 1) runSignal(compiled[si]!, view, hits);
    for (const c of custom) runSignal(c, view, hits);

    if (depth < MAX_DEPTH) {
      const hidden: { start: number; end: number; text: string; marker: string }[] = [];
      if (decode) for (const r of findEncodedRuns(text)) hidden.push({ start: r.start, end: r.end, text: r.decoded, marker: `encoded-${r.kind}` });
      if (!view.identity) {
        for (const f of findInvisible(text)) {
          if (f.decoded !== undefined && f.decoded.length > 0) hidden.push({ start: f.start, end: f.end, text: f.decoded, marker: `encoded-${f.rule}` });
        }
      }
      for (const h of hidden) {
        if (h.end - h.start > MAX_ENCODED_RUN * 2) continue;
        const sub = collect(h.text, depth + 1);
        if (sub.length === 0) continue;
        for (const s of sub) hits.push({ start: h.start, end: h.end, signal: s.signal, family: s.family, weight: s.weight });
        hits.push({ start: h.start, end: h.end, signal: h.marker, family: 'marker', weight: 0 });
      }
    }
    return hits;
  }

  function regions(hits: Hit[]): InjectionMatch[] {
    if (hits.length === 0) return [];
    hits.sort((a, b) => a.start - b.start || b.end - a.end);
    const out: InjectionMatch[] = [];
    let group: Hit[] = [];
    let gStart = 0;
    let gEnd = 0;
    const flush = (): void => {
      if (group.length === 0) return;
      const famMax = new Map<string, number>();
      const sigMax = new Map<string, number>();
      for (const h of group) {
        if (h.family !== 'marker') famMax.set(h.family, Math.max(famMax.get(h.family) ?? 0, h.weight));
        sigMax.set(h.signal, Math.max(sigMax.get(h.signal) ?? 0, h.weight));
      }
      let keep = 1;
      for (const w of famMax.values()) keep *= 1 - Math.min(1, w);
      const score = round3(1 - keep);
      if (score >= threshold && score > 0) {
        const signals = [...sigMax.entries()].sort((a, b) => b[1] - a[1]).map(([s]) => s);
        const rule = [...sigMax.entries()].filter(([s]) => !s.startsWith('encoded-')).sort((a, b) => b[1] - a[1])[0]?.[0] ?? signals[0]!;
        out.push({ type: 'PROMPT_INJECTION', rule, start: gStart, end: gEnd, score, signals });
      }
      group = [];
    };
    for (const h of hits) {
      if (group.length > 0 && h.start - gEnd <= REGION_GAP && Math.max(gEnd, h.end) - gStart <= INJECTION_MAX_MATCH_LENGTH) {
        group.push(h);
        gEnd = Math.max(gEnd, h.end);
      } else {
        flush();
        group = [h];
        gStart = h.start;
        gEnd = h.end;
      }
    }
    flush();
    return out;
  }

  return {
    maxMatchLength: Math.max(INJECTION_MAX_MATCH_LENGTH, MAX_ENCODED_RUN),
    maxSpacedMatchLength: INJECTION_MAX_MATCH_LENGTH,
    scan(text: string): InjectionMatch[] {
      if (text.length === 0) return [];
      const out = regions(collect(text, 0));
      if (/[^\x00-\x7f]/.test(text)) {
        for (const f of findInvisible(text)) {
          if (f.score < threshold) continue;
          out.push({ type: 'INVISIBLE_UNICODE', rule: f.rule, start: f.start, end: f.end, score: f.score, signals: [f.rule] });
        }
      }
      return out.sort((a, b) => a.start - b.start || a.end - b.end);
    },
  };
}
