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
const PATH_TOKEN = /[\w@~+.\/\\-]*[\w-]\.[A-Za-z][\w]{0,9}\b/g;

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
        const toks = lines[j]!.match(PATH_TOKEN);
        if (toks && toks.length > 0) p = toks[toks.length - 1];
      }
      if (p) {
        let j = i;
        const body: string[] = [];
        while (j < lines.length && NUMBERED.test(lines[j]!)) body.push(NUMBERED.exec(lines[j++]!)![2]!);
        files.push({ path: p, content: body.join('\n') });
      }
    }
  }
  for (const m of context.matchAll(/<file\s+(?:path|name)="([^"]+)"[^>]*>\r?\n?([\s\S]*?)<\/file>/g)) {
    files.push({ path: m[1]!, content: m[2]! });
  }
  return { files, normalized: normWs(denumbered.join('\n')), raw: context };
}

/** The content the context holds for `file` (the last copy sent: agents re-read files after editing). */
export function fileContent(ctx: ContextFiles, file: string | undefined): string | undefined {
  if (!file) return undefined;
  for (let i = ctx.files.length - 1; i >= 0; i--) if (samePath(ctx.files[i]!.path, file)) return ctx.files[i]!.content;
  return undefined;
}
