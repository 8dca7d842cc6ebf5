/** scoreCompletion: the quality checks over the edits in one model reply. */
import { extractContextFiles, type ContextFiles } from './context.js';
import { makeUnifiedDiff } from './diff.js';
import { lazyLinesNotIn } from './lazy.js';
import { bracketDelta, checkSyntax, parsesStandalone, syntaxSupported } from './syntax.js';
import { parseTextEdits } from './text-edits.js';
import { parseToolEdits } from './tool-edits.js';
import type { ParsedEdits, ProposedEdit, QualityCheck, QualityInput, QualityOptions, QualityScore } from './types.js';
import { normLine, normPath, normWs, samePath, splitLines } from './util.js';

const TRUNCATED_REASONS = new Set(['length', 'max_tokens', 'max_output_tokens', 'model_length', 'max_tokens_exceeded']);
/** Languages whose files must have balanced (), [], {} (checked when there is no full parser). */
const BRACKET_LANGS = new Set(['py', 'go', 'rs', 'java', 'kt', 'c', 'cpp', 'cs', 'php', 'swift', 'scala', 'css', 'scss', 'lua']);

type Reason = QualityScore['reasons'][number];

/** Characters of context the checks may read for the edits, per character of reply and context (see WorkBudget). */
const WORK_PER_INPUT_CHAR = 32;

/** All edits in a reply: from its text and from each tool call. */
export function collectEdits(input: Pick<QualityInput, 'text' | 'toolCalls'>): ParsedEdits {
  const all: ParsedEdits = parseTextEdits(input.text ?? '');
  for (const call of input.toolCalls ?? []) {
    const r = parseToolEdits(call.name, call.input);
    for (const e of r.edits) all.edits.push(e);
    for (const p of r.problems) all.problems.push(p);
  }
  return all;
}

/** Apply `search` → `replace` to `content`: exact first, then line-by-line ignoring whitespace. */
export function applyReplacement(content: string, search: string, replace: string): string | undefined {
  if (search === '') return content === '' ? replace : content.replace(/\n?$/, '\n') + replace;
  const at = content.indexOf(search);
  if (at >= 0) return content.slice(0, at) + replace + content.slice(at + search.length);
  const lines = splitLines(content);
  const want = splitLines(search).map(normLine);
  while (want.length > 0 && want[0] === '') want.shift();
  while (want.length > 0 && want[want.length - 1] === '') want.pop();
  if (want.length === 0) return undefined;
  const i = indexOfLines(lines.map(normLine), want);
  if (i >= 0) return [...lines.slice(0, i), ...splitLines(replace), ...lines.slice(i + want.length)].join('\n');
  // Partial-line search (Claude Code old_string may start or end mid-line): compare with whitespace collapsed.
  return undefined;
}

/**
 * First index where `want` occurs as consecutive lines of `lines` (Knuth–Morris–Pratt over lines). Comparing the
 * window at every start instead is quadratic when a long search text almost matches everywhere (a file of
 * identical lines and a search of the same lines but the last).
 */
function indexOfLines(lines: readonly string[], want: readonly string[]): number {
  const fail = new Int32Array(want.length);
  for (let i = 1, k = 0; i < want.length; i++) {
    while (k > 0 && want[i] !== want[k]) k = fail[k - 1]!;
    if (want[i] === want[k]) k++;
    fail[i] = k;
  }
  for (let i = 0, k = 0; i < lines.length; i++) {
    while (k > 0 && lines[i] !== want[k]) k = fail[k - 1]!;
    if (lines[i] === want[k]) k++;
    if (k === want.length) return i - want.length + 1;
  }
  return -1;
}

/**
 * Work allowed for comparing edits with the context: a fixed multiple of the input (reply and context). Each
 * comparison is bounded by the context, but a reply can hold thousands of edits, so without a shared allowance
 * the checks cost reply × context (every edit against a 1 MB file). Checks the allowance does not cover are left
 * unjudged; they never count as failures.
 */
class WorkBudget {
  constructor(private left: number) {}

  /** Whether `units` of work may be spent (and spends them). A refused check does not block cheaper ones. */
  spend(units: number): boolean {
    if (units > this.left) return false;
    this.left -= units;
    return true;
  }
}

/**
 * The context's files looked up by path, each answer computed once. Paths that `samePath` equates share their
 * last segment, which is the index key.
 */
class ContextIndex {
  private readonly byName = new Map<string, Array<{ path: string; content: string }>>();
  private readonly contentsOf = new Map<string, string[]>();
  private readonly normalized = new Map<string, string>();
  private readonly lineSets = new Map<string, Set<string>>();

  constructor(
    readonly ctx: ContextFiles,
    readonly budget: WorkBudget,
  ) {
    for (const f of ctx.files) {
      const key = lastSegment(f.path);
      const list = this.byName.get(key);
      if (list) list.push(f);
      else this.byName.set(key, [f]);
    }
  }

  /** Every copy of `file` the context holds, in order ([] when looking it up is over budget). */
  contents(file: string): string[] {
    let c = this.contentsOf.get(file);
    if (!c) {
      const bucket = this.byName.get(lastSegment(file)) ?? [];
      c = this.budget.spend(bucket.length) ? bucket.filter((f) => samePath(f.path, file)).map((f) => f.content) : [];
      this.contentsOf.set(file, c);
    }
    return c;
  }

  /** `normWs(content)`, once per distinct text. */
  normWs(content: string): string {
    let n = this.normalized.get(content);
    if (n === undefined) this.normalized.set(content, (n = normWs(content)));
    return n;
  }

  /** The normalised lines of `content`, once per distinct text. */
  lines(content: string): Set<string> {
    let set = this.lineSets.get(content);
    if (!set) {
      set = new Set(splitLines(content).map(normLine));
      this.lineSets.set(content, set);
    }
    return set;
  }
}

function lastSegment(path: string): string {
  const p = normPath(path);
  return p.slice(p.lastIndexOf('/') + 1);
}

function sentences(text: string): number {
  const prose = text.replace(/```[\s\S]*?```/g, ' ');
  const parts = prose.split(/[.!?]+(?=\s|$)/).filter((p) => (p.match(/[A-Za-z]{2,}/g) ?? []).length >= 2);
  return parts.length;
}

export function scoreCompletion(input: QualityInput, opts: QualityOptions = {}): QualityScore {
  const { edits, problems } = collectEdits(input);
  const checks: Partial<Record<QualityCheck, number>> = {};
  const reasons: Reason[] = [];
  const reason = (check: QualityCheck, message: string, file?: string): void => {
    reasons.push(file ? { check, message, file } : { check, message });
  };

  if (edits.length > 0 || problems.length > 0) {
    const context = (typeof input.context === 'function' ? input.context() : input.context) ?? '';
    const inputLength = (input.text ?? '').length + context.length;
    const ctx = new ContextIndex(extractContextFiles(context), new WorkBudget(WORK_PER_INPUT_CHAR * inputLength + 65_536));

    // well_formed
    const malformed = problems.filter((p) => p.check === 'well_formed');
    checks.well_formed = malformed.length === 0 ? 1 : edits.length / (edits.length + malformed.length);
    for (const p of malformed) reason('well_formed', p.message, p.file);

    // not_truncated
    const fr = (input.finishReason ?? '').toLowerCase();
    const cut = problems.filter((p) => p.check === 'not_truncated');
    if (TRUNCATED_REASONS.has(fr)) reason('not_truncated', `finish reason '${fr}': output was cut off`);
    for (const p of cut) reason('not_truncated', p.message, p.file);
    checks.not_truncated = TRUNCATED_REASONS.has(fr) || cut.length > 0 ? 0 : 1;

    // search_present
    let sTotal = 0;
    let sOk = 0;
    for (const e of edits) {
      if (e.search === undefined || e.search.trim() === '' || !e.file) continue;
      const copies = ctx.contents(e.file);
      const against = copies.length > 0 ? copies.reduce((n, c) => n + c.length, 0) : ctx.ctx.normalized.length;
      if (!ctx.budget.spend(against + e.search.length)) continue;
      const want = normWs(e.search);
      if (copies.length > 0) {
        sTotal++;
        if (copies.some((c) => ctx.normWs(c).includes(want))) sOk++;
        else reason('search_present', `${label(e)} text not found in the file as sent`, e.file);
      } else if (ctx.ctx.normalized.includes(want)) {
        sTotal++;
        sOk++;
      }
    }
    if (sTotal > 0) checks.search_present = sOk / sTotal;

    // no_lazy_placeholders
    let lTotal = 0;
    let lOk = 0;
    for (const e of edits) {
      const code = e.content ?? e.replace;
      if (code === undefined || code.trim() === '') continue;
      // Lines the SEARCH text or the file as sent already had are not blamed on the edit.
      const copies = e.file ? ctx.contents(e.file) : [];
      if (!ctx.budget.spend(code.length * (1 + copies.length) + (e.search?.length ?? 0))) continue;
      lTotal++;
      const searched = new Set(splitLines(e.search ?? '').map(normLine));
      const known = copies.map((c) => ctx.lines(c));
      const hits = lazyLinesNotIn(code, (l) => searched.has(l) || known.some((set) => set.has(l)), e.language);
      if (hits.length === 0) lOk++;
      else reason('no_lazy_placeholders', `lazy placeholder in the new code (line ${hits.slice(0, 3).join(', ')})`, e.file);
    }
    if (lTotal > 0) checks.no_lazy_placeholders = lOk / lTotal;

    // syntax_valid
    const syn = syntaxUnits(edits, ctx);
    for (const r of syn.reasons) reasons.push(r);
    if (syn.total > 0) checks.syntax_valid = syn.ok / syn.total;
  } else {
    const text = (input.text ?? '').trim();
    if (opts.minOutputChars && opts.minOutputChars > 0) {
      const v = text.length >= opts.minOutputChars ? 1 : (0.5 * text.length) / opts.minOutputChars;
      checks.min_output_chars = v;
      if (v < 1) reason('min_output_chars', `reply has ${text.length} characters, below ${opts.minOutputChars}`);
    }
    if (opts.minSentences && opts.minSentences > 0) {
      const n = sentences(text);
      const v = n >= opts.minSentences ? 1 : (0.5 * n) / opts.minSentences;
      checks.min_sentences = v;
      if (v < 1) reason('min_sentences', `reply has ${n} sentences, below ${opts.minSentences}`);
    }
  }

  let score = 1;
  for (const [k, v] of Object.entries(checks) as Array<[QualityCheck, number]>) {
    const w = opts.weights?.[k] ?? 1;
    if (w > 0) score *= Math.pow(Math.max(0, Math.min(1, v)), w);
  }
  const min = opts.minAggregate ?? 0.7;
  return { score, passed: score >= min, checks, reasons, edits };
}

function label(e: ProposedEdit): string {
  switch (e.format) {
    case 'search-replace':
      return 'SEARCH';
    case 'claude-edit':
    case 'claude-multiedit':
      return 'old_string';
    case 'unified-diff':
      return 'diff context';
    default:
      return 'patch context';
  }
}

interface SyntaxUnits {
  total: number;
  ok: number;
  reasons: Reason[];
}

/** Syntax validity per edited file (JS/TS/JSON fully, other bracket languages by bracket balance). */
function syntaxUnits(edits: ProposedEdit[], ctx: ContextIndex): SyntaxUnits {
  const res: SyntaxUnits = { total: 0, ok: 0, reasons: [] };
  const fail = (msg: string, file?: string): void => {
    res.total++;
    res.reasons.push(file ? { check: 'syntax_valid', message: msg, file } : { check: 'syntax_valid', message: msg });
  };
  const pass = (): void => {
    res.total++;
    res.ok++;
  };
  const byFile = new Map<string, ProposedEdit[]>();
  for (const e of edits) {
    const key = e.file ? normPath(e.file) : '';
    const list = byFile.get(key) ?? [];
    list.push(e);
    byFile.set(key, list);
  }
  for (const [file, list] of byFile) {
    const lang = list[0]!.language;
    const full = syntaxSupported(lang);
    const brackets = !full && lang !== undefined && BRACKET_LANGS.has(lang);
    if (!full && !brackets) continue;
    const langName = (lang ?? '').toUpperCase();
    // Whole contents: validate directly.
    for (const e of list) {
      if (e.content === undefined) continue;
      if (full) {
        const r = checkSyntax(e.content, lang, file)!;
        if (r.ok) pass();
        else fail(`${langName} syntax error in the new file content (${r.message})`, file || undefined);
      } else {
        const d = bracketDelta(e.content, lang);
        if (d.every((x) => x === 0)) pass();
        else fail('unbalanced brackets in the new file content', file || undefined);
      }
    }
    const pairs = list.filter((e) => e.content === undefined && e.search !== undefined && e.replace !== undefined);
    if (pairs.length === 0) continue;
    // Replacements: apply to the file as sent when possible.
    const copies = file ? ctx.contents(file) : [];
    const orig = copies[copies.length - 1];
    // Applying the edits one by one rewrites, diffs and parses the whole file for each: within the work budget,
    // or the edits are judged as fragments below.
    if (full && orig !== undefined && ctx.budget.spend(orig.length * (pairs.length + 2)) && checkSyntax(orig, lang, file)!.ok) {
      let cur: string | undefined = orig;
      const diffs: string[] = [];
      for (const e of pairs) {
        const next: string | undefined = cur === undefined ? undefined : applyReplacement(cur, e.search!, e.replace!);
        if (next !== undefined && cur !== undefined) diffs.push(makeUnifiedDiff(cur, next, file));
        cur = next;
      }
      if (cur !== undefined) {
        pairs.forEach((e, i) => {
          if (diffs[i] !== undefined) e.diff = diffs[i];
        });
        const r = checkSyntax(cur, lang, file)!;
        if (r.ok) pass();
        else fail(`${langName} syntax error after applying the edits (${r.message})`, file || undefined);
        continue;
      }
    }
    // Fragments: judge only what is clear.
    let failed = false;
    let judged = false;
    for (const e of pairs) {
      if (full && parsesStandalone(e.replace!, lang)) {
        judged = true;
        continue;
      }
      if (full && e.search!.trim() !== '' && e.replace!.trim() !== '' && parsesStandalone(e.search!, lang)) {
        failed = true;
        fail(`${langName} replacement does not parse where the replaced code did`, file || undefined);
        break;
      }
    }
    if (failed) continue;
    const sum = (k: 'search' | 'replace'): number[] => {
      const t = [0, 0, 0];
      for (const e of pairs) bracketDelta(e[k]!, lang).forEach((v, i) => (t[i]! += v));
      return t;
    };
    const ds = sum('search');
    const dr = sum('replace');
    if (ds.some((v, i) => v !== dr[i])) fail('the edit changes the bracket balance of the code it replaces', file || undefined);
    else if (judged || brackets) pass();
  }
  return res;
}
