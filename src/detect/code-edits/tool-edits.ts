/**
 * Agents' edit tool calls: Claude Code Edit / Write / MultiEdit (and the Anthropic text-editor tool), Codex
 * apply_patch (as its own function or inside a shell call `apply_patch <<'EOF' … EOF`).
 */
import { makeUnifiedDiff } from './diff.js';
import { withDiff } from './text-edits.js';
import type { ParsedEdits, ProposedEdit } from './types.js';
import { normPath, splitLines } from './util.js';

function asObject(input: unknown): Record<string, unknown> | undefined {
  if (typeof input === 'string') {
    const t = input.trim();
    if (t.startsWith('{')) {
      try {
        const v: unknown = JSON.parse(t);
        return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
  return input && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : undefined;
}

function str(o: Record<string, unknown>, ...keys: string[]): string | undefined {
  for (const k of keys) if (typeof o[k] === 'string') return o[k] as string;
  return undefined;
}

/** Every string inside a value (for finding a patch inside a shell call's arguments). */
function strings(v: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 6) return out;
  if (typeof v === 'string') out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out, depth + 1);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) strings(x, out, depth + 1);
  return out;
}

function pair(out: ParsedEdits, file: string | undefined, format: ProposedEdit['format'], oldS: unknown, newS: unknown, label: string): void {
  if (typeof oldS !== 'string' || typeof newS !== 'string') {
    out.problems.push({ check: 'well_formed', message: `${label} without string old/new text`, ...(file ? { file } : {}) });
    return;
  }
  if (oldS === newS) {
    out.problems.push({ check: 'well_formed', message: `${label} with identical old and new text`, ...(file ? { file } : {}) });
    return;
  }
  const e: ProposedEdit = { format, search: oldS, replace: newS };
  if (file) e.file = file;
  if (oldS === '') {
    delete e.search;
    delete e.replace;
    e.content = newS;
  }
  out.edits.push(withDiff(e));
}

export function parseToolEdits(toolName: string, input: unknown): ParsedEdits {
  const out: ParsedEdits = { edits: [], problems: [] };
  const name = toolName.trim();
  const lower = name.toLowerCase();
  const o = asObject(input);
  const noFile = (label: string): void => {
    out.problems.push({ check: 'well_formed', message: `${label} call without a file path` });
  };

  if (lower === 'edit' || lower === 'multiedit' || lower === 'write') {
    if (!o) {
      out.problems.push({ check: 'well_formed', message: `${name} call input is not an object` });
      return out;
    }
    const fp = str(o, 'file_path', 'path');
    const file = fp ? normPath(fp) : undefined;
    if (!file) noFile(name);
    if (lower === 'write') {
      const content = str(o, 'content');
      if (content === undefined) {
        out.problems.push({ check: 'well_formed', message: 'Write call without string content', ...(file ? { file } : {}) });
        return out;
      }
      const e: ProposedEdit = { format: 'claude-write', content };
      if (file) e.file = file;
      out.edits.push(withDiff(e));
    } else if (lower === 'edit') {
      pair(out, file, 'claude-edit', o['old_string'], o['new_string'], 'Edit');
    } else {
      const edits = o['edits'];
      if (!Array.isArray(edits) || edits.length === 0) {
        out.problems.push({ check: 'well_formed', message: 'MultiEdit call without an edits array', ...(file ? { file } : {}) });
        return out;
      }
      for (const item of edits) {
        const it = asObject(item) ?? {};
        pair(out, file, 'claude-multiedit', it['old_string'], it['new_string'], 'MultiEdit entry');
      }
    }
    return out;
  }

  if (lower === 'str_replace_based_edit_tool' || lower === 'str_replace_editor') {
    if (!o) return out;
    const fp = str(o, 'path', 'file_path');
    const file = fp ? normPath(fp) : undefined;
    const cmd = str(o, 'command');
    if (cmd === 'str_replace') pair(out, file, 'claude-edit', o['old_str'], o['new_str'] ?? '', 'str_replace');
    else if (cmd === 'create') {
      const content = str(o, 'file_text');
      if (content === undefined) out.problems.push({ check: 'well_formed', message: 'create call without file_text' });
      else out.edits.push(withDiff({ format: 'claude-write', content, ...(file ? { file } : {}) }));
    }
    return out;
  }

  if (lower === 'apply_patch') {
    const patch = typeof input === 'string' && !input.trim().startsWith('{') ? input : o ? str(o, 'input', 'patch') : undefined;
    if (patch === undefined) {
      out.problems.push({ check: 'well_formed', message: 'apply_patch call without patch text' });
      return out;
    }
    parseApplyPatch(patch, out);
    return out;
  }

  // Anything else (shell, exec_command, local_shell…): look for an apply_patch heredoc in its arguments.
  for (const s of strings(o ?? input)) {
    const at = s.indexOf('*** Begin Patch');
    if (at >= 0 && /apply_patch|applypatch/.test(s)) parseApplyPatch(s.slice(at), out);
  }
  return out;
}

/** Codex's patch language: `*** Begin Patch`, Add/Update/Delete File sections, `@@` chunks, `*** End Patch`. */
export function parseApplyPatch(text: string, out: ParsedEdits): void {
  const lines = splitLines(text);
  let i = lines.findIndex((l) => l.trim() === '*** Begin Patch');
  if (i < 0) {
    out.problems.push({ check: 'well_formed', message: 'apply_patch text without *** Begin Patch' });
    return;
  }
  type Sec = { kind: 'add' | 'update' | 'delete'; file: string; add: string[]; chunks: Array<{ lines: string[] }> };
  const secs: Sec[] = [];
  let sec: Sec | undefined;
  let ended = false;
  let stray = false;
  for (i++; i < lines.length; i++) {
    const l = lines[i]!;
    const t = l.trim();
    if (t === '*** End Patch') {
      ended = true;
      break;
    }
    const h = /^\*\*\* (Add|Update|Delete) File:\s*(.+)$/.exec(t);
    if (h) {
      sec = { kind: h[1]!.toLowerCase() as Sec['kind'], file: normPath(h[2]!), add: [], chunks: [] };
      secs.push(sec);
      continue;
    }
    if (/^\*\*\* Move to:/.test(t) || t === '*** End of File') continue;
    if (!sec) {
      if (t !== '' && !stray) {
        out.problems.push({ check: 'well_formed', message: 'apply_patch line outside any file section' });
        stray = true;
      }
      continue;
    }
    if (sec.kind === 'add') {
      if (l.startsWith('+')) sec.add.push(l.slice(1));
      else if (!stray) {
        out.problems.push({ check: 'well_formed', message: "apply_patch Add File line without '+' prefix", file: sec.file });
        stray = true;
      }
      continue;
    }
    if (sec.kind === 'delete') {
      if (t !== '' && !stray) {
        out.problems.push({ check: 'well_formed', message: 'apply_patch Delete File section with content', file: sec.file });
        stray = true;
      }
      continue;
    }
    if (l.startsWith('@@')) {
      sec.chunks.push({ lines: [] });
      continue;
    }
    if (l === '' || l[0] === ' ' || l[0] === '+' || l[0] === '-') {
      if (sec.chunks.length === 0) sec.chunks.push({ lines: [] });
      sec.chunks[sec.chunks.length - 1]!.lines.push(l);
      continue;
    }
    if (!stray) {
      out.problems.push({ check: 'well_formed', message: 'apply_patch line without a space/+/- prefix', file: sec.file });
      stray = true;
    }
  }
  if (!ended) out.problems.push({ check: 'well_formed', message: 'apply_patch without *** End Patch' });
  if (secs.length === 0) out.problems.push({ check: 'well_formed', message: 'apply_patch without file sections' });
  for (const s of secs) {
    if (s.kind === 'add') {
      out.edits.push(withDiff({ format: 'apply-patch', file: s.file, content: s.add.join('\n') }));
    } else if (s.kind === 'delete') {
      out.edits.push(withDiff({ format: 'apply-patch', file: s.file, diff: `--- a/${s.file}\n+++ /dev/null\n` }));
    } else {
      const chunks = s.chunks.filter((c) => c.lines.some((l) => l !== ''));
      if (chunks.length === 0) out.problems.push({ check: 'well_formed', message: 'apply_patch Update File without changes', file: s.file });
      for (const c of chunks) {
        while (c.lines.length > 0 && c.lines[c.lines.length - 1] === '') c.lines.pop();
        if (!c.lines.some((l) => l[0] === '+' || l[0] === '-')) {
          out.problems.push({ check: 'well_formed', message: 'apply_patch chunk changes nothing', file: s.file });
          continue;
        }
        const search: string[] = [];
        const replace: string[] = [];
        for (const l of c.lines) {
          const op = l === '' ? ' ' : l[0];
          if (op !== '+') search.push(l.slice(1));
          if (op !== '-') replace.push(l.slice(1));
        }
        const e: ProposedEdit = { format: 'apply-patch', file: s.file, search: search.join('\n'), replace: replace.join('\n') };
        e.diff = makeUnifiedDiff(e.search, e.replace, s.file);
        out.edits.push(withDiff(e));
      }
    }
  }
}
