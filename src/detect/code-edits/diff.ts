/** Unified diffs: making one from two texts, and parsing the ones models write. */
import { normPath, splitLines } from './util.js';

type Op = [' ' | '-' | '+', string];

/** Largest line-alignment table built for any change, and per line of a larger one (see lineOps). */
const LCS_MAX_CELLS = 65_536;
const LCS_CELLS_PER_LINE = 64;

function toLines(text: string): string[] {
  if (text === '') return [];
  const lines = splitLines(text);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Line operations turning `a` into `b` (LCS on the part between the common prefix and suffix). */
function lineOps(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: Op[] = a.slice(0, pre).map((l): Op => [' ', l]);
  const n = am.length;
  const m = bm.length;
  // The table costs n × m: beyond a fixed size it must stay within a multiple of the lines themselves, or a
  // reply of many 2,000-line edits costs 500 table cells per character (3.4 s for 1 MB). Larger changes are
  // shown as removed and added whole.
  if (n * m > Math.max(LCS_MAX_CELLS, LCS_CELLS_PER_LINE * (n + m))) {
    for (const l of am) ops.push(['-', l]);
    for (const l of bm) ops.push(['+', l]);
  } else {
    // dp[i][j] = LCS length of am[i..] and bm[j..]
    const w = m + 1;
    const dp = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        dp[i * w + j] = am[i] === bm[j] ? dp[(i + 1) * w + j + 1]! + 1 : Math.max(dp[(i + 1) * w + j]!, dp[i * w + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        ops.push([' ', am[i]!]);
        i++;
        j++;
      } else if (i < n && (j >= m || dp[(i + 1) * w + j]! >= dp[i * w + j + 1]!)) {
        ops.push(['-', am[i]!]);
        i++;
      } else {
        ops.push(['+', bm[j]!]);
        j++;
      }
    }
  }
  for (const l of a.slice(a.length - suf)) ops.push([' ', l]);
  return ops;
}

/** A unified diff (3 lines of context) from `before` to `after`; `before === undefined` means a new file. */
export function makeUnifiedDiff(before: string | undefined, after: string | undefined, file: string, context = 3): string {
  const a = toLines(before ?? '');
  const b = toLines(after ?? '');
  const oldName = before === undefined ? '/dev/null' : `a/${normPath(file)}`;
  const newName = after === undefined ? '/dev/null' : `b/${normPath(file)}`;
  const ops = lineOps(a, b);
  const out: string[] = [`--- ${oldName}`, `+++ ${newName}`];
  // Group changed ops into hunks with context.
  const changed = ops.map((o) => o[0] !== ' ');
  let k = 0;
  while (k < ops.length) {
    if (!changed[k]) {
      k++;
      continue;
    }
    let start = Math.max(0, k - context);
    let end = k;
    // extend while the next change is within 2*context
    for (;;) {
      while (end < ops.length && changed[end]) end++;
      let next = end;
      while (next < ops.length && !changed[next]) next++;
      if (next < ops.length && next - end <= 2 * context) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + context);
    let oldStart = 1;
    let newStart = 1;
    for (let t = 0; t < start; t++) {
      if (ops[t]![0] !== '+') oldStart++;
      if (ops[t]![0] !== '-') newStart++;
    }
    const body = ops.slice(start, stop);
    const oldCount = body.filter((o) => o[0] !== '+').length;
    const newCount = body.filter((o) => o[0] !== '-').length;
    out.push(`@@ -${oldCount === 0 ? oldStart - 1 : oldStart},${oldCount} +${newCount === 0 ? newStart - 1 : newStart},${newCount} @@`);
    for (const [op, l] of body) out.push(op + l);
    k = stop;
    start = stop;
  }
  return out.join('\n') + '\n';
}

export interface DiffHunk {
  header: string;
  oldStart?: number;
  oldCount?: number;
  newStart?: number;
  newCount?: number;
  lines: string[];
}
export interface DiffFile {
  oldPath?: string;
  newPath?: string;
  hunks: DiffHunk[];
}
export interface ParsedDiff {
  files: DiffFile[];
  problems: string[];
}

const GIT_META = /^(diff --git |index |new file mode|deleted file mode|similarity index|rename from|rename to|old mode|new mode|Binary files)/;
const HUNK = /^@@(?:\s+-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?\s+@@)?/;

function headerPath(s: string): string {
  return s.replace(/\t.*$/, '').trim();
}

/** Parse unified diff lines (`---`/`+++` headers, `@@` hunks). Problems are short and never quote code. */
export function parseUnifiedDiff(lines: string[]): ParsedDiff {
  const files: DiffFile[] = [];
  const problems: string[] = [];
  let cur: DiffFile | undefined;
  let hunk: DiffHunk | undefined;
  let strayReported = false;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (GIT_META.test(l)) {
      hunk = undefined;
      continue;
    }
    if (l.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ ')) {
      cur = { oldPath: headerPath(l.slice(4)), newPath: headerPath(lines[i + 1]!.slice(4)), hunks: [] };
      files.push(cur);
      hunk = undefined;
      i++;
      continue;
    }
    if (!hunk && l.startsWith('--- ')) {
      problems.push("diff '---' header without a '+++' line");
      continue;
    }
    if (!hunk && l.startsWith('+++ ')) {
      problems.push("diff '+++' header without a '---' line");
      continue;
    }
    const h = HUNK.exec(l);
    if (h) {
      if (!cur) {
        problems.push('diff hunk without ---/+++ file headers');
        cur = { hunks: [] };
        files.push(cur);
      }
      hunk = { header: l, lines: [] };
      if (h[1] !== undefined) {
        hunk.oldStart = Number(h[1]);
        hunk.oldCount = h[2] === undefined ? 1 : Number(h[2]);
        hunk.newStart = Number(h[3]);
        hunk.newCount = h[4] === undefined ? 1 : Number(h[4]);
      }
      cur.hunks.push(hunk);
      continue;
    }
    if (hunk && (l === '' || l[0] === ' ' || l[0] === '+' || l[0] === '-' || l[0] === '\\')) {
      hunk.lines.push(l);
      continue;
    }
    if (l.trim() === '') continue;
    if (!strayReported) {
      problems.push(hunk ? 'diff hunk line without a space/+/- prefix' : 'text in a diff outside any hunk');
      strayReported = true;
    }
  }
  if (files.length === 0) problems.push('diff without file headers or hunks');
  for (const f of files) {
    if (f.hunks.length === 0) problems.push('diff file section without hunks');
    for (const h of f.hunks) {
      while (h.lines.length > 0 && h.lines[h.lines.length - 1] === '') h.lines.pop();
      const body = h.lines.filter((x) => x[0] !== '\\');
      if (body.length === 0) {
        problems.push('empty diff hunk');
        continue;
      }
      if (!body.some((x) => x[0] === '+' || x[0] === '-')) problems.push('diff hunk changes nothing');
      if (h.oldCount !== undefined && h.newCount !== undefined) {
        const oldN = body.filter((x) => x[0] !== '+').length;
        const newN = body.filter((x) => x[0] !== '-').length;
        if (oldN !== h.oldCount || newN !== h.newCount) problems.push('diff hunk line counts do not match its @@ header');
      }
    }
  }
  return { files, problems };
}

/** Old side (context + removed) and new side (context + added) of a hunk. */
export function hunkSides(h: DiffHunk): { search: string; replace: string } {
  const search: string[] = [];
  const replace: string[] = [];
  for (const l of h.lines) {
    if (l[0] === '\\') continue;
    const op = l === '' ? ' ' : l[0];
    const body = l.slice(1);
    if (op !== '+') search.push(body);
    if (op !== '-') replace.push(body);
  }
  return { search: search.join('\n'), replace: replace.join('\n') };
}

export function isDevNull(p: string | undefined): boolean {
  return p === undefined || p.trim() === '/dev/null';
}
