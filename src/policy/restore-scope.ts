/**
 * Where a placeholder in a reply may become its value again. Restoring is only safe where the value goes back
 * into the developer's own files; anywhere a value could leave the machine (a command the agent runs, a URL it
 * fetches, an MCP server it calls) or be published (prose, which ends up in commit messages, PR bodies and chat
 * summaries), the placeholder stays and the decision event counts a withheld restore. Unknown is withheld: a
 * tool this table does not name restores nothing.
 *
 * Text (Aider writes its edits in the reply text) is read the way Aider's own parser reads it, so that a value
 * is restored exactly where Aider writes files and never where it offers to run a command:
 *
 * | region | decision |
 * |---|---|
 * | SEARCH and REPLACE sections of a `<<<<<<< SEARCH` … `>>>>>>> REPLACE` block | restored |
 * | a fenced block whose info is not a shell (whole-file edits, ```diff, code) | restored |
 * | a `*** Begin Patch` … `*** End Patch` region, except its `***` lines | restored |
 * | a shell fence (```bash, ```sh…, which Aider offers to run), marker and fence lines | withheld |
 * | prose outside all of these | withheld |
 *
 * Aider takes any line that starts (after whitespace) with ```bash, ```sh, ```cmd, … as the start of a command,
 * even inside another fence, and runs to the next line starting with ```; SEARCH/REPLACE sections are read
 * before that check. The scope follows the same order, with more shells and `~~~` fences on top.
 */

export type RestoredIn = 'text_edit' | 'tool_edit';
export type WithheldIn = 'prose' | 'shell_block' | 'markup' | 'patch_header' | 'tool_field' | 'command_tool' | 'fetch_tool' | 'mcp_tool' | 'unknown_tool';
export type Decision = { restore: true; where: RestoredIn } | { restore: false; where: WithheldIn };

/** The state of one text as the client reads it, and the decision for a placeholder at its current end. */
export interface TextScope {
  /** Text the client receives, in order (restored values included: they are what the client parses). */
  advance(text: string): void;
  decide(): Decision;
}

export const RESTORE_TEXT_EDIT: Decision = { restore: true, where: 'text_edit' };
export const RESTORE_TOOL_EDIT: Decision = { restore: true, where: 'tool_edit' };
const withheld = (where: WithheldIn): Decision => ({ restore: false, where });

/** The same decision everywhere in a text. */
export function fixedScope(decision: Decision): TextScope {
  return { advance() {}, decide: () => decision };
}

const HEAD = '<<<<<<< SEARCH';
const DIVIDER = '=======';
const UPDATED = '>>>>>>> REPLACE';
/** Aider's shell fence starts, plus other shells; compared as prefixes, case-insensitively, as Aider compares them. */
const SHELLS = ['bash', 'sh', 'cmd', 'batch', 'bat', 'powershell', 'ps1', 'pwsh', 'zsh', 'fish', 'ksh', 'csh', 'tcsh', 'console', 'terminal', 'dos'];
/** Aider's other fences, chosen when a file holds ```: `<source>`, `<code>`, … */
const TAG_FENCE = /^<(source|code|pre|codeblock|sourcecode)(?:\s[^>]*)?>$/i;
/** Lines beyond this are neither markers nor fences; only this much of a line is kept. */
const LINE_KEEP = 256;

function isShellStart(line: string): boolean {
  const lower = line.toLowerCase();
  if (!lower.startsWith('```') && !lower.startsWith('~~~')) return false;
  const info = lower.replace(/^[`~]+/, '');
  return SHELLS.some((s) => info.startsWith(s));
}

/**
 * The region state of one reply text (one text block, one choice's content): Aider's own reading of it
 * (AiderReading), which alone decides what Aider would run, and a markdown reading on top that withholds more
 * (prose, other shells, `~~~` fences, markup lines).
 */
export class ReplyTextScope implements TextScope {
  private readonly aider = new AiderReading();
  private mode: 'text' | 'search' | 'replace' | 'shell' | 'patch' = 'text';
  /** A non-shell fence open in text mode: ``` / ~~~ with its length, or a tag. */
  private fence: { char: string; len: number } | { tag: string } | null = null;
  /** What ends our own shell block: the fence it opened with. */
  private shellEnd = '```';
  /** The current line so far, leading whitespace dropped, its first LINE_KEEP characters. */
  private line = '';
  /** Something other than whitespace came after the part of the line kept. */
  private overflow = false;

  advance(text: string): void {
    let from = 0;
    while (from < text.length) {
      PY_BREAK.lastIndex = from;
      const m = PY_BREAK.exec(text);
      const end = m ? m.index : text.length;
      const piece = text.slice(from, end);
      this.aider.take(piece);
      this.take(piece);
      if (!m) return;
      // Python ends a line at any of these; markdown (and every other client) at \n only.
      this.aider.endLine();
      if (text[end] === '\n') this.endLine();
      else this.take(text[end]!);
      from = end + 1;
    }
  }

  decide(): Decision {
    if (this.aider.inShell) return withheld('shell_block');
    const lead = this.line;
    switch (this.mode) {
      case 'search':
      case 'replace':
        return RESTORE_TEXT_EDIT;
      case 'shell':
        return withheld('shell_block');
      case 'patch':
        return lead.startsWith('***') ? withheld('patch_header') : isShellStart(lead) ? withheld('markup') : RESTORE_TEXT_EDIT;
      default:
        if (lead.startsWith('```') || lead.startsWith('~~~')) return withheld('markup');
        return this.fence ? RESTORE_TEXT_EDIT : withheld('prose');
    }
  }

  private startShell(line: string): void {
    this.mode = 'shell';
    this.fence = null;
    this.shellEnd = line.startsWith('~') ? '~~~' : '```';
  }

  private take(piece: string): void {
    let p = piece;
    if (this.line.length === 0) {
      p = p.replace(LEAD_SPACE, '');
      if (p.length === 0) return;
    }
    const room = LINE_KEEP - this.line.length;
    if (room > 0) {
      this.line += p.slice(0, room);
      p = p.slice(room);
    }
    if (p.length > 0 && !this.overflow && !ALL_SPACE.test(p)) this.overflow = true;
  }

  private endLine(): void {
    const whole = !this.overflow;
    const s = whole ? this.line.replace(TRAIL_SPACE, '') : this.line;
    this.line = '';
    this.overflow = false;
    switch (this.mode) {
      case 'search':
        if (whole && s === DIVIDER) this.mode = 'replace';
        return;
      case 'replace':
        if (whole && s === UPDATED) this.mode = 'text';
        return;
      case 'shell':
        if (s.startsWith(this.shellEnd)) this.mode = 'text';
        return;
      case 'patch':
        if (isShellStart(s)) this.startShell(s);
        else if (whole && s === '*** End Patch') this.mode = 'text';
        return;
      default:
        if (isShellStart(s)) this.startShell(s);
        else if (whole && s === HEAD) this.mode = 'search';
        else if (whole && s === '*** Begin Patch') this.mode = 'patch';
        else if (this.fence) {
          if (whole && closes(this.fence, s)) this.fence = null;
        } else this.fence = opens(s);
    }
  }
}

/** Python's line boundaries (str.splitlines), which Aider splits a reply on. */
const PY_BREAK = /[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
/** Python's whitespace (str.isspace, what str.strip removes) and JavaScript's, together: stripping more only withholds more. */
const SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const LEAD_SPACE = new RegExp(`^[${SPACE}]+`);
const TRAIL_SPACE = new RegExp(`[${SPACE}]+$`);
const ALL_SPACE = new RegExp(`^[${SPACE}]*$`);
/** Python's whitespace exactly, for the reading that must agree with Aider's. */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_LEAD = new RegExp(`^[${PY_SPACE}]+`);
const PY_TRAIL = new RegExp(`[${PY_SPACE}]+$`);
const PY_ALL = new RegExp(`^[${PY_SPACE}]*$`);
/** Aider's shell fence starts (editblock_coder.py), compared as Aider compares them: prefixes of the stripped line, case and all. */
const AIDER_SHELLS = ['```bash', '```sh', '```shell', '```cmd', '```batch', '```powershell', '```ps1', '```zsh', '```fish', '```ksh', '```csh', '```tcsh'];
const AIDER_KEEP = 64;

/**
 * Aider's reading of a reply, as `find_original_update_blocks` reads it: lines split as Python splits them,
 * stripped of Python's whitespace; at the top, a line starting with one of the shell fences starts a command
 * that runs to the next line starting with ```, and `<<<<<<< SEARCH` starts an edit whose sections end at
 * `=======` and `>>>>>>> REPLACE` (read before any shell check). A restore is never made while this reading is
 * inside a command, whatever the markdown reading thinks (property-tested against a port of Aider's parser).
 */
class AiderReading {
  private state: 'top' | 'search' | 'replace' | 'shell' = 'top';
  private line = '';
  private overflow = false;

  get inShell(): boolean {
    return this.state === 'shell';
  }

  take(piece: string): void {
    let p = piece;
    if (this.line.length === 0) {
      p = p.replace(PY_LEAD, '');
      if (p.length === 0) return;
    }
    const room = AIDER_KEEP - this.line.length;
    if (room > 0) {
      this.line += p.slice(0, room);
      p = p.slice(room);
    }
    if (p.length > 0 && !this.overflow && !PY_ALL.test(p)) this.overflow = true;
  }

  endLine(): void {
    const head = this.line;
    const stripped = this.overflow ? undefined : head.replace(PY_TRAIL, '');
    this.line = '';
    this.overflow = false;
    switch (this.state) {
      case 'shell':
        if (head.startsWith('```')) this.state = 'top';
        return;
      case 'search':
        if (stripped === DIVIDER) this.state = 'replace';
        return;
      case 'replace':
        if (stripped === UPDATED) this.state = 'top';
        return;
      default:
        if (AIDER_SHELLS.some((start) => head.startsWith(start))) this.state = 'shell';
        else if (stripped === HEAD) this.state = 'search';
    }
  }
}

function opens(line: string): ReplyTextScope['fence'] {
  const m = /^(`{3,}|~{3,})/.exec(line);
  if (m) return { char: m[1]![0]!, len: m[1]!.length };
  const t = TAG_FENCE.exec(line);
  return t ? { tag: t[1]!.toLowerCase() } : null;
}

function closes(fence: NonNullable<ReplyTextScope['fence']>, line: string): boolean {
  if ('tag' in fence) return line.toLowerCase() === `</${fence.tag}>`;
  const m = /^(`{3,}|~{3,})$/.exec(line);
  return m !== null && m[1]![0] === fence.char && m[1]!.length >= fence.len;
}

/** Codex's patch language as a tool input: every line is file content except the `***` headers (paths, actions). */
export class PatchScope implements TextScope {
  private line = '';

  advance(text: string): void {
    const nl = text.lastIndexOf('\n');
    if (nl >= 0) this.line = text.slice(nl + 1, nl + 8);
    else if (this.line.length < 8) this.line = (this.line + text).slice(0, 8);
  }

  decide(): Decision {
    return this.line.trimStart().startsWith('***') ? withheld('patch_header') : RESTORE_TOOL_EDIT;
  }
}

type Path = readonly (string | number)[];

/** What a tool call's input may have restored: a scope per string value, by its path in the input. */
export interface ToolScope {
  /** Whether any field of this tool can be restored (when not, its text is only counted). */
  edits: boolean;
  field(path: Path): TextScope;
  /** The scope of an input that is plain text, not JSON (a custom tool's freeform input). */
  text(): TextScope;
}

/**
 * The agents' file-writing tools and the fields that carry file content, by exact name: Claude Code's Edit,
 * MultiEdit, Write and NotebookEdit, Anthropic's text editor tool, Codex's apply_patch (a function with
 * `input`, a freeform custom tool) and the Responses `apply_patch_call` item (`operation.diff`). Paths are
 * never restored: a path that held a value could name a network share.
 */
const EDIT_FIELDS: Record<string, (path: Path) => 'content' | 'patch' | undefined> = {
  Edit: (p) => (p.length === 1 && (p[0] === 'old_string' || p[0] === 'new_string') ? 'content' : undefined),
  MultiEdit: (p) => (p.length === 3 && p[0] === 'edits' && typeof p[1] === 'number' && (p[2] === 'old_string' || p[2] === 'new_string') ? 'content' : undefined),
  Write: (p) => (p.length === 1 && p[0] === 'content' ? 'content' : undefined),
  NotebookEdit: (p) => (p.length === 1 && p[0] === 'new_source' ? 'content' : undefined),
  str_replace_based_edit_tool: textEditorField,
  str_replace_editor: textEditorField,
  apply_patch: (p) => (p.length === 1 && (p[0] === 'input' || p[0] === 'patch') ? 'patch' : undefined),
  apply_patch_call: (p) => (p.length === 2 && p[0] === 'operation' && p[1] === 'diff' ? 'patch' : undefined),
};

function textEditorField(p: Path): 'content' | undefined {
  return p.length === 1 && (p[0] === 'old_str' || p[0] === 'new_str' || p[0] === 'file_text' || p[0] === 'insert_text') ? 'content' : undefined;
}

const COMMAND_TOOLS = new Set(['bash', 'bashoutput', 'killshell', 'exec_command', 'write_stdin', 'shell', 'shell_call', 'local_shell', 'local_shell_call', 'container.exec', 'run_terminal_cmd', 'execute_command', 'run_command', 'terminal', 'computer', 'computer_call', 'code_interpreter', 'code_execution']);
const FETCH_TOOLS = new Set(['webfetch', 'websearch', 'web_fetch', 'web_search', 'web_search_call', 'fetch', 'browser', 'open_url']);

/** How a tool's input is restored, by the tool's name (undefined: the name is not known, so nothing is). */
export function toolScope(name: string | undefined): ToolScope {
  const fields = name !== undefined && Object.hasOwn(EDIT_FIELDS, name) ? EDIT_FIELDS[name]! : undefined;
  if (fields) {
    const other = fixedScope(withheld('tool_field'));
    return {
      edits: true,
      field: (path) => {
        const kind = fields(path);
        return kind === 'content' ? fixedScope(RESTORE_TOOL_EDIT) : kind === 'patch' ? new PatchScope() : other;
      },
      // A freeform input is the patch itself (Codex's apply_patch as a custom tool, the built-in tool's streamed
      // diff); other edit tools take JSON.
      text: () => (name === 'apply_patch' || name === 'apply_patch_call' ? new PatchScope() : other),
    };
  }
  const all = fixedScope(withheld(toolClass(name)));
  return { edits: false, field: () => all, text: () => all };
}

function toolClass(name: string | undefined): WithheldIn {
  if (name === undefined) return 'unknown_tool';
  const lower = name.toLowerCase();
  if (lower.startsWith('mcp_') || lower.startsWith('mcp__') || lower === 'mcp_call') return 'mcp_tool';
  if (COMMAND_TOOLS.has(lower)) return 'command_tool';
  if (FETCH_TOOLS.has(lower)) return 'fetch_tool';
  return 'unknown_tool';
}
