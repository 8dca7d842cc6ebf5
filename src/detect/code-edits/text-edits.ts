/**
 * Aider's edit formats in assistant text: SEARCH/REPLACE blocks under a file-name line (bare or inside ``` fences),
 * unified diffs (```diff with ---/+++ and @@), and whole files (a fenced block right after a file-path line).
 */
import { hunkSides, isDevNull, makeUnifiedDiff, parseUnifiedDiff } from './diff.js';
import type { EditProblem, ParsedEdits, ProposedEdit } from './types.js';
import { languageOf, normPath, pathFromLine, splitLines } from './util.js';

const HEAD = /^\s*<{5,9} SEARCH\b/;
const DIVIDER = /^\s*={5,9}\s*$/;
const UPDATE = /^\s*>{5,9} REPLACE\b/;
const FENCE_OPEN = /^\s{0,3}(`{3,}|~{3,})\s*([^\s`]*)(.*)$/;

interface Fence {
  char: string;
  len: number;
  start: number;
  info: string;
  path?: string;
  sr: boolean;
  body: string[];
}

function isClose(line: string, f: Fence): boolean {
  const m = /^\s{0,3}(`{3,}|~{3,})\s*$/.exec(line);
  return !!m && m[1]![0] === f.char && m[1]!.length >= f.len;
}

/** The path a fence's info string names (```` ```python:src/a.py ```` or ```` ```src/a.py ````). */
function pathFromInfo(info: string): string | undefined {
  const colon = info.indexOf(':');
  if (colon > 0) return pathFromLine(info.slice(colon + 1));
  return info.includes('/') || /\.[A-Za-z]\w*$/.test(info) ? pathFromLine(info) : undefined;
}

/** The file-name line before line `k`: up to 3 lines back, skipping blanks and fence lines, stopping at a block end. */
function lookBackPath(lines: string[], k: number, floor: number): string | undefined {
  for (let j = k - 1, seen = 0; j >= floor && seen < 3; j--) {
    const l = lines[j]!;
    if (l.trim() === '') continue;
    if (UPDATE.test(l)) return undefined;
    seen++;
    if (/^\s{0,3}(`{3,}|~{3,})/.test(l)) {
      const m = FENCE_OPEN.exec(l);
      const p = m && m[2] ? pathFromInfo(m[2]) : undefined;
      if (p) return p;
      continue;
    }
    const p = pathFromLine(l);
    if (p) return p;
    return undefined;
  }
  return undefined;
}

function withDiff(e: ProposedEdit): ProposedEdit {
  const file = e.file ?? 'unknown';
  if (e.diff === undefined) {
    e.diff = e.content !== undefined ? makeUnifiedDiff(undefined, e.content, file) : makeUnifiedDiff(e.search ?? '', e.replace ?? '', file);
  }
  const lang = languageOf(e.file);
  if (lang) e.language = lang;
  return e;
}

/** Edits from unified-diff lines (one edit per hunk; a new file becomes one edit with `content`). */
export function editsFromDiff(lines: string[], out: ParsedEdits): void {
  const d = parseUnifiedDiff(lines);
  for (const message of d.problems) out.problems.push({ check: 'well_formed', message });
  for (const f of d.files) {
    const isNew = f.oldPath !== undefined && isDevNull(f.oldPath);
    const isDelete = f.newPath !== undefined && isDevNull(f.newPath);
    const raw = isDelete ? f.oldPath : f.newPath ?? f.oldPath;
    const file = raw ? normPath(raw) : undefined;
    const head = `--- ${f.oldPath ?? 'a/' + (file ?? 'unknown')}\n+++ ${f.newPath ?? 'b/' + (file ?? 'unknown')}\n`;
    for (const h of f.hunks) {
      if (h.lines.length === 0) continue;
      const { search, replace } = hunkSides(h);
      const e: ProposedEdit = { format: 'unified-diff', diff: head + [h.header, ...h.lines].join('\n') + '\n' };
      if (file) e.file = file;
      if (isNew) e.content = replace;
      else if (isDelete) e.search = search;
      else {
        e.search = search;
        e.replace = replace;
      }
      out.edits.push(withDiff(e));
    }
  }
}

function fileProblem(out: ParsedEdits, p: EditProblem): void {
  out.problems.push(p.file === undefined ? { check: p.check, message: p.message } : p);
}

export function parseTextEdits(text: string): ParsedEdits {
  const out: ParsedEdits = { edits: [], problems: [] };
  const lines = splitLines(text);
  let fence: Fence | undefined;
  let lastFile: string | undefined;
  let floor = 0; // look-back never crosses the end of the previous block

  const prevPath = (i: number): string | undefined => {
    for (let j = i - 1; j >= Math.max(floor, i - 2); j--) {
      const l = lines[j]!;
      if (l.trim() === '') continue;
      return pathFromLine(l);
    }
    return undefined;
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (HEAD.test(line)) {
      const file = lookBackPath(lines, i, floor) ?? lastFile;
      if (fence) fence.sr = true;
      if (!file) fileProblem(out, { check: 'well_formed', message: 'SEARCH/REPLACE block without a file name line' });
      else lastFile = file;
      const search: string[] = [];
      const replace: string[] = [];
      let stage: 'search' | 'replace' = 'search';
      let j = i + 1;
      let ended: 'ok' | 'eof' | 'fence' | 'bad' = 'eof';
      for (; j < lines.length; j++) {
        const l = lines[j]!;
        if (fence && isClose(l, fence)) {
          ended = 'fence';
          break;
        }
        if (stage === 'search') {
          if (DIVIDER.test(l)) {
            stage = 'replace';
            continue;
          }
          if (HEAD.test(l) || UPDATE.test(l)) {
            ended = 'bad';
            break;
          }
          search.push(l);
        } else {
          if (UPDATE.test(l)) {
            ended = 'ok';
            break;
          }
          if (HEAD.test(l) || DIVIDER.test(l)) {
            ended = 'bad';
            break;
          }
          replace.push(l);
        }
      }
      const where = file ? { file } : {};
      if (ended === 'ok') {
        const e: ProposedEdit = { format: 'search-replace', search: search.join('\n'), replace: replace.join('\n') };
        if (file) e.file = file;
        out.edits.push(withDiff(e));
        i = j;
        floor = j + 1;
      } else if (ended === 'eof') {
        fileProblem(out, { check: 'well_formed', message: `unterminated SEARCH/REPLACE block (missing ${stage === 'search' ? '=======' : '>>>>>>> REPLACE'})`, ...where });
        fileProblem(out, { check: 'not_truncated', message: 'reply ends inside a SEARCH/REPLACE block', ...where });
        i = j;
      } else if (ended === 'fence') {
        fileProblem(out, { check: 'well_formed', message: `SEARCH/REPLACE block closed by a fence before ${stage === 'search' ? '=======' : '>>>>>>> REPLACE'}`, ...where });
        i = j - 1;
        floor = j;
      } else {
        fileProblem(out, { check: 'well_formed', message: 'mismatched SEARCH/REPLACE markers', ...where });
        const l = lines[j]!;
        i = HEAD.test(l) ? j - 1 : j;
        floor = j;
      }
      continue;
    }
    if (fence) {
      if (isClose(line, fence)) {
        finishFence(fence, out);
        fence = undefined;
        floor = i + 1;
      } else fence.body.push(line);
      continue;
    }
    const fo = FENCE_OPEN.exec(line);
    if (fo) {
      const info = fo[2] ?? '';
      fence = { char: fo[1]![0]!, len: fo[1]!.length, start: i, info, sr: false, body: [] };
      const p = pathFromInfo(info) ?? prevPath(i);
      if (p) fence.path = p;
      continue;
    }
    if (UPDATE.test(line)) {
      fileProblem(out, { check: 'well_formed', message: '>>>>>>> REPLACE marker without a matching SEARCH' });
      continue;
    }
    if (line.startsWith('--- ') && (lines[i + 1] ?? '').startsWith('+++ ')) {
      // An unfenced unified diff: take lines while they look like diff lines.
      let j = i;
      const body: string[] = [];
      for (; j < lines.length; j++) {
        const l = lines[j]!;
        if (l === '' && !/^[ +\-@\\]/.test(lines[j + 1] ?? 'x')) break;
        if (l !== '' && !/^([ +\-\\]|@@|diff --git |index )/.test(l)) break;
        body.push(l);
      }
      editsFromDiff(body, out);
      i = j - 1;
      floor = j;
    }
  }
  if (fence && !out.problems.some((p) => p.check === 'not_truncated')) {
    const editLike = fence.sr || isDiffFence(fence) || fence.path !== undefined;
    if (editLike) {
      const where = fence.path ? { file: fence.path } : {};
      fileProblem(out, { check: 'well_formed', message: 'unterminated code fence', ...where });
      fileProblem(out, { check: 'not_truncated', message: 'reply ends inside a code fence', ...where });
    }
  }
  return out;
}

function isDiffFence(f: Fence): boolean {
  if (/^(diff|patch|udiff)$/i.test(f.info)) return true;
  const first = f.body.find((l) => l.trim() !== '') ?? '';
  return /^(--- |diff --git |@@ )/.test(first) && f.body.some((l) => l.startsWith('@@'));
}

function finishFence(f: Fence, out: ParsedEdits): void {
  if (f.sr) return;
  if (isDiffFence(f)) {
    editsFromDiff(f.body, out);
    return;
  }
  if (f.path) {
    const e: ProposedEdit = { format: 'whole-file', file: normPath(f.path), content: f.body.join('\n') };
    out.edits.push(withDiff(e));
  }
}

export { withDiff };
