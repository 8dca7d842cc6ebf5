/**
 * Files the request showed the model, recovered from its text: aider's `path` line + fenced block, `<file path=…>`
 * tags, and line-numbered tool output (Claude Code's Read: `   12→code` or `   12\tcode`) under a line naming the path.
 */
import { normWs, pathFromLine, samePath, splitLines } from './util.js';

export interface ContextFiles {
  files: Array<{ path: string; content: string }>;
  /** The whole context with line-number prefixes removed, whitespace-normalised. */
  normalized: string;
  raw: string;
}

const NUMBERED = /^\s*(\d+)(?:→|\t)(.*)$/;
const READ_CMD = /\b(?:cat|sed -n \S+|head(?: -n ?\d+)?|tail(?: -n ?\d+)?|bat|Get-Content)\s+['"]?([\w@~+.\/\\-]+\.[A-Za-z]\w{0,9})\b/;
const MARKER = /^\s*(\[[\w .-]+\]|(user|assistant|system|developer|tool)\s*:)/i;
/** `<file path="…">` (or name=): a path and attributes of bounded length, so an unclosed tag costs little. */
const FILE_TAG = /<file\s+(?:path|name)="([^"]{1,1000})"[^>]{0,1000}>\r?\n?/g;
const FILE_END = '</file>';

export function extractContextFiles(context: string): ContextFiles {
  const files: Array<{ path: string; content: string }> = [];
  const lines = splitLines(context);
  const denumbered: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const num = NUMBERED.exec(l);
    denumbered.push(num ? num[2]! : l);
    // aider: path line, then a fence
    const fo = /^\s{0,3}(`{3,}|~{3,})/.exec(l);
    if (fo) {
      let p: string | undefined;
      for (let j = i - 1; j >= Math.max(0, i - 2); j--) {
        if (lines[j]!.trim() === '') continue;
        p = pathFromLine(lines[j]!);
        break;
      }
      const fence = fo[1]!;
      let j = i + 1;
      while (j < lines.length && !(lines[j]!.trim().startsWith(fence[0]!.repeat(fence.length)) && lines[j]!.trim().replace(/[`~]/g, '') === '')) j++;
      if (p) {
        const body = lines.slice(i + 1, j);
        files.push({ path: p, content: body.map((b) => NUMBERED.exec(b)?.[2] ?? b).join('\n') });
      }
      for (let k = i + 1; k <= j && k < lines.length; k++) {
        const n2 = NUMBERED.exec(lines[k]!);
        denumbered.push(n2 ? n2[2]! : lines[k]!);
      }
      i = j;
      continue;
    }
    // shell read (`cat path`, `sed -n 1,80p path`) followed by its output, up to the next marker line
    const rd = READ_CMD.exec(l);
    if (rd && !NUMBERED.test(lines[i + 1] ?? '')) {
      let j = i + 1;
      while (j < lines.length && lines[j]!.trim() === '') j++;
      if (/^\s*\[[\w .-]+\]/.test(lines[j] ?? '')) j++; // e.g. `[function_call_output]`
      const body: string[] = [];
      while (j < lines.length && !MARKER.test(lines[j]!) && !READ_CMD.test(lines[j]!)) body.push(lines[j++]!);
      files.push({ path: rd[1]!, content: body.join('\n') });
    }
    // numbered run: the path is the last path-like token within the 6 lines before it
    if (num && !NUMBERED.test(lines[i - 1] ?? '')) {
      let p: string | undefined;
      for (let j = i - 1; j >= Math.max(0, i - 6) && !p; j--) {
        p = lastPathToken(lines[j]!);
      }
      if (p) {
        let j = i;
        const body: string[] = [];
        while (j < lines.length && NUMBERED.test(lines[j]!)) body.push(NUMBERED.exec(lines[j++]!)![2]!);
        files.push({ path: p, content: body.join('\n') });
      }
    }
  }
  // Each tag's content runs to the next `</file>`; the search for a tag starts where the previous one ended, and
  // a tag with no end after it means no later tag has one either.
  FILE_TAG.lastIndex = 0;
  for (let m: RegExpExecArray | null; (m = FILE_TAG.exec(context)) !== null; ) {
    const bodyStart = m.index + m[0].length;
    const close = context.indexOf(FILE_END, bodyStart);
    if (close === -1) break;
    files.push({ path: m[1]!, content: context.slice(bodyStart, close) });
    FILE_TAG.lastIndex = close + FILE_END.length;
  }
  return { files, normalized: normWs(denumbered.join('\n')), raw: context };
}

/** The content the context holds for `file` (the last copy sent: agents re-read files after editing). */
export function fileContent(ctx: ContextFiles, file: string | undefined): string | undefined {
  if (!file) return undefined;
  for (let i = ctx.files.length - 1; i >= 0; i--) if (samePath(ctx.files[i]!.path, file)) return ctx.files[i]!.content;
  return undefined;
}

/**
 * The last path-like token of a line (`src/app.ts`, `./pkg/util.go:12`): a run of path characters holding a
 * `name.ext` (an extension of 1–10 word characters starting with a letter), up to its last such extension.
 * Written as a scan because the regular expression for it (`[\w@~+./\\-]*[\w-]\.[A-Za-z]\w{0,9}\b`) backtracks
 * through the whole run from every start: quadratic in a long line without an extension.
 */
export function lastPathToken(line: string): string | undefined {
  let runEnd = line.length;
  while (runEnd > 0) {
    while (runEnd > 0 && !isPathChar(line.charCodeAt(runEnd - 1))) runEnd--;
    let runStart = runEnd;
    while (runStart > 0 && isPathChar(line.charCodeAt(runStart - 1))) runStart--;
    // The last extension in the run: `[\w-]`, `.`, then a letter starting a word of at most 10 characters.
    for (let dot = runEnd - 2; dot > runStart; dot--) {
      if (line.charCodeAt(dot) !== 46) continue;
      let end = dot + 1;
      while (end < runEnd && isWordChar(line.charCodeAt(end))) end++;
      const before = line.charCodeAt(dot - 1);
      if (isAsciiLetter(line.charCodeAt(dot + 1)) && end - (dot + 1) <= 10 && (isWordChar(before) || before === 45)) return line.slice(runStart, end);
    }
    runEnd = runStart;
  }
  return undefined;
}

/** `[\w@~+./\\-]`: a character of a path-like token. */
function isPathChar(c: number): boolean {
  return isWordChar(c) || c === 64 || c === 126 || c === 43 || c === 46 || c === 47 || c === 92 || c === 45;
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}
