/**
 * Writes `cases.jsonl`: a synthetic, deterministic corpus of model replies that edit code, for the code-edit
 * quality scorer. Each case is `{id, label, why, format, input}`: `good` replies make a correct, complete edit;
 * `bad` ones have lazy placeholders, SEARCH text that is not in the file, truncation, unterminated blocks,
 * syntax errors or malformed diffs/patches. Formats: Aider SEARCH/REPLACE, unified diff and whole file in text;
 * Claude Code Edit/Write/MultiEdit tool calls; Codex apply_patch (function and shell heredoc).
 *
 * Run: npx tsx test/corpus/edits/generate.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface EditCase {
  id: string;
  label: 'good' | 'bad';
  why: string;
  format: string;
  input: { text: string; toolCalls: Array<{ name: string; input: unknown }>; finishReason?: string; context: string };
}

let seed = 0xc0de2026;
function rnd(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)]!;
}

interface Change {
  search: string;
  replace: string;
}
interface Sample {
  path: string;
  fence: string;
  comment: string;
  content: string;
  changes: [Change, Change];
  /** c1.replace with a syntax error (or unbalanced brackets for py/go). */
  broken: string;
  /** c1.search altered so it is not in the file. */
  stale: string;
  /** c1.replace with one line of real code swapped for `{placeholder}`. */
  lazy: string;
}

const samples: Sample[] = [
  {
    path: 'src/math.ts',
    fence: 'ts',
    comment: '//',
    content: `export interface Stats {
  count: number;
  total: number;
}

export function add(a: number, b: number): number {
  return a + b;
}

export function mean(values: number[]): number {
  if (values.length === 0) return 0;
  let total = 0;
  for (const v of values) total += v;
  return total / values.length;
}

export function summarize(values: number[]): Stats {
  return { count: values.length, total: values.reduce((s, v) => s + v, 0) };
}
`,
    changes: [
      {
        search: `export function mean(values: number[]): number {
  if (values.length === 0) return 0;
  let total = 0;
  for (const v of values) total += v;
  return total / values.length;
}`,
        replace: `export function mean(values: number[]): number {
  if (values.length === 0) return 0;
  const total = values.reduce((s, v) => s + v, 0);
  return total / values.length;
}`,
      },
      {
        search: `export function add(a: number, b: number): number {`,
        replace: `/** Sum of two numbers. */
export function add(a: number, b: number): number {`,
      },
    ],
    broken: `export function mean(values: number[]): number {
  if (values.length === 0) return 0;
  const total = values.reduce((s, v) => s + v, 0;
  return total / values.length;
}`,
    stale: `export function mean(values: number[]): number {
  if (!values.length) return NaN;
  let total = 0;`,
    lazy: `export function mean(values: number[]): number {
{placeholder}
  return total / values.length;
}`,
  },
  {
    path: 'src/server.js',
    fence: 'js',
    comment: '//',
    content: `import http from 'node:http';

const PORT = Number(process.env.PORT ?? 3000);

function handle(req, res) {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
    return;
  }
  res.writeHead(404);
  res.end();
}

http.createServer(handle).listen(PORT, () => {
  console.log(\`listening on \${PORT}\`);
});
`,
    changes: [
      {
        search: `  res.writeHead(404);
  res.end();
}`,
        replace: `  if (req.url === '/version') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: '1.2.0' }));
    return;
  }
  res.writeHead(404);
  res.end();
}`,
      },
      {
        search: `const PORT = Number(process.env.PORT ?? 3000);`,
        replace: `const PORT = Number(process.env.PORT ?? 3000);
const HOST = process.env.HOST ?? '127.0.0.1';`,
      },
    ],
    broken: `  if (req.url === '/version') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: '1.2.0' }));
    return;
  res.writeHead(404);
  res.end();
}`,
    stale: `  res.statusCode = 404;
  res.end();
}`,
    lazy: `  if (req.url === '/version') {
{placeholder}
  }
  res.writeHead(404);
  res.end();
}`,
  },
  {
    path: 'config/settings.json',
    fence: 'json',
    comment: '//',
    content: `{
  "name": "widgets",
  "retries": 3,
  "features": {
    "search": true,
    "export": false
  },
  "servers": ["a.example.com", "b.example.com"]
}
`,
    changes: [
      {
        search: `    "search": true,
    "export": false
  },`,
        replace: `    "search": true,
    "export": true,
    "import": true
  },`,
      },
      {
        search: `  "retries": 3,`,
        replace: `  "retries": 5,
  "timeoutMs": 2000,`,
      },
    ],
    broken: `    "search": true,
    "export": true
    "import": true
  },`,
    stale: `    "search": false,
    "export": false
  },`,
    lazy: `    "search": true,
{placeholder}
  },`,
  },
  {
    path: 'app/utils.py',
    fence: 'python',
    comment: '#',
    content: `import re


def slugify(title):
    """Turn a title into a URL slug."""
    s = title.strip().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s)
    return s.strip("-")


def chunk(items, size):
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[i:i + size] for i in range(0, len(items), size)]
`,
    changes: [
      {
        search: `def slugify(title):
    """Turn a title into a URL slug."""
    s = title.strip().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s)
    return s.strip("-")`,
        replace: `def slugify(title, max_len=60):
    """Turn a title into a URL slug of at most max_len characters."""
    s = title.strip().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s)
    return s.strip("-")[:max_len].rstrip("-")`,
      },
      {
        search: `    if size <= 0:
        raise ValueError("size must be positive")`,
        replace: `    if size <= 0:
        raise ValueError(f"size must be positive, got {size}")`,
      },
    ],
    broken: `def slugify(title, max_len=60):
    """Turn a title into a URL slug of at most max_len characters."""
    s = title.strip().lower()
    s = re.sub(r"[^a-z0-9]+", "-", s
    return s.strip("-")[:max_len].rstrip("-")`,
    stale: `def slugify(text):
    """Turn a title into a URL slug."""
    s = text.strip().lower()`,
    lazy: `def slugify(title, max_len=60):
    """Turn a title into a URL slug of at most max_len characters."""
{placeholder}
    return s.strip("-")[:max_len].rstrip("-")`,
  },
  {
    path: 'cmd/main.go',
    fence: 'go',
    comment: '//',
    content: `package main

import (
	"fmt"
	"os"
)

func greet(name string) string {
	return fmt.Sprintf("hello, %s", name)
}

func main() {
	name := "world"
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Println(greet(name))
}
`,
    changes: [
      {
        search: `	if len(os.Args) > 1 {
		name = os.Args[1]
	}`,
        replace: `	if len(os.Args) > 1 && os.Args[1] != "" {
		name = os.Args[1]
	} else if env := os.Getenv("GREET_NAME"); env != "" {
		name = env
	}`,
      },
      {
        search: `	return fmt.Sprintf("hello, %s", name)`,
        replace: `	return fmt.Sprintf("Hello, %s!", name)`,
      },
    ],
    broken: `	if len(os.Args) > 1 && os.Args[1] != "" {
		name = os.Args[1]
	} else if env := os.Getenv("GREET_NAME"); env != "" {
		name = env`,
    stale: `	if len(os.Args) >= 2 {
		name = os.Args[1]
	}`,
    lazy: `	if len(os.Args) > 1 && os.Args[1] != "" {
{placeholder}
	}`,
  },
  {
    path: 'web/src/components/Button.tsx',
    fence: 'tsx',
    comment: '//',
    content: `import React from 'react';

export interface ButtonProps {
  label: string;
  onClick?: () => void;
}

export function Button({ label, onClick }: ButtonProps) {
  return (
    <button type="button" onClick={onClick}>
      {label}
    </button>
  );
}
`,
    changes: [
      {
        search: `export function Button({ label, onClick }: ButtonProps) {
  return (
    <button type="button" onClick={onClick}>
      {label}
    </button>
  );
}`,
        replace: `export function Button({ label, onClick, disabled = false }: ButtonProps) {
  return (
    <button type="button" onClick={onClick} disabled={disabled} aria-disabled={disabled}>
      {label}
    </button>
  );
}`,
      },
      {
        search: `  onClick?: () => void;
}`,
        replace: `  onClick?: () => void;
  disabled?: boolean;
}`,
      },
    ],
    broken: `export function Button({ label, onClick, disabled = false }: ButtonProps) {
  return (
    <button type="button" onClick={onClick} disabled={disabled}>
      {label}
  );
}`,
    stale: `export function Button(props: ButtonProps) {
  return (
    <button type="button" onClick={props.onClick}>`,
    lazy: `export function Button({ label, onClick, disabled = false }: ButtonProps) {
  return (
{placeholder}
  );
}`,
  },
];

function placeholders(c: string): string[] {
  const base = [
    `${c} ... rest of code ...`,
    `${c} existing code unchanged`,
    `${c} ... (rest unchanged)`,
    `${c} remaining code here`,
    `${c} ... existing implementation ...`,
    `${c} rest of the function stays the same`,
    '...',
  ];
  return c === '#' ? base : [...base, '/* ... */'];
}

function indentOf(text: string): string {
  const m = /\{placeholder\}/.exec(text);
  return m ? '    ' : '';
}
function lazyText(s: Sample): string {
  return s.lazy.replace('{placeholder}', indentOf(s.lazy) + pick(placeholders(s.comment)));
}

function applyChange(content: string, c: Change): string {
  if (!content.includes(c.search)) throw new Error('bad sample: search not in content');
  return content.replace(c.search, c.replace);
}

// ---- contexts -----------------------------------------------------------------------------------------------
function aiderContext(s: Sample): string {
  return `Act as an expert software developer. Always use best practices when coding.
Here are summaries of some files present in my git repository.

I have *added these files to the chat* so you can go ahead and edit them.

${s.path}
\`\`\`
${s.content}\`\`\`

Make the change described below.`;
}
function numbered(content: string, arrow: boolean): string {
  return content
    .replace(/\n$/, '')
    .split('\n')
    .map((l, i) => `${String(i + 1).padStart(6)}${arrow ? '→' : '\t'}${l}`)
    .join('\n');
}
function claudeContext(s: Sample): string {
  return `<system-reminder>You are a coding agent.</system-reminder>
Please make the change in ${s.path}.
[tool_use Read] {"file_path":"/repo/${s.path}"}
[tool_result]
${numbered(s.content, rnd() < 0.5)}
`;
}
function codexContext(s: Sample): string {
  return `developer: You are Codex, a coding agent.
user: Update ${s.path} as discussed.
[function_call exec_command] {"cmd":"cat ${s.path}"}
[function_call_output]
${s.content}
user: Go ahead.
`;
}

// ---- renderers ------------------------------------------------------------------------------------------------
function srBlock(s: Sample, c: Change, fenced: boolean, opts: { dropUpdate?: boolean; dropDivider?: boolean } = {}): string {
  const body = [
    '<<<<<<< SEARCH',
    c.search,
    ...(opts.dropDivider ? [] : ['=======']),
    c.replace,
    ...(opts.dropUpdate ? [] : ['>>>>>>> REPLACE']),
  ].join('\n');
  return fenced ? `${s.path}\n\`\`\`${s.fence}\n${body}\n\`\`\`\n` : `${s.path}\n${body}\n`;
}

function diffBody(before: string, after: string, numbers: boolean): string {
  const a = before.replace(/\n$/, '').split('\n');
  const b = after.replace(/\n$/, '').split('\n');
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ctxStart = Math.max(0, pre - 2);
  const ctxEndA = Math.min(a.length, a.length - suf + 2);
  const ctxEndB = Math.min(b.length, b.length - suf + 2);
  const lines: string[] = [];
  for (let i = ctxStart; i < pre; i++) lines.push(' ' + a[i]);
  for (let i = pre; i < a.length - suf; i++) lines.push('-' + a[i]);
  for (let i = pre; i < b.length - suf; i++) lines.push('+' + b[i]);
  for (let i = a.length - suf; i < ctxEndA; i++) lines.push(' ' + a[i]);
  const oldN = ctxEndA - ctxStart;
  const newN = ctxEndB - ctxStart;
  const header = numbers ? `@@ -${ctxStart + 1},${oldN} +${ctxStart + 1},${newN} @@` : '@@ ... @@';
  return [header, ...lines].join('\n');
}
function udiff(s: Sample, after: string, numbers: boolean): string {
  return `\`\`\`diff\n--- ${s.path}\n+++ ${s.path}\n${diffBody(s.content, after, numbers)}\n\`\`\`\n`;
}

function patchChunk(c: Change): string {
  const a = c.search.split('\n');
  const b = c.replace.split('\n');
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const out: string[] = ['@@'];
  for (let i = 0; i < pre; i++) out.push(' ' + a[i]);
  for (let i = pre; i < a.length - suf; i++) out.push('-' + a[i]);
  for (let i = pre; i < b.length - suf; i++) out.push('+' + b[i]);
  for (let i = a.length - suf; i < a.length; i++) out.push(' ' + a[i]);
  return out.join('\n');
}
function patch(s: Sample, chunks: Change[], end = true): string {
  return ['*** Begin Patch', `*** Update File: ${s.path}`, ...chunks.map(patchChunk), ...(end ? ['*** End Patch'] : [])].join('\n');
}
function patchCall(p: string): { name: string; input: unknown } {
  const v = pick([0, 1, 2]);
  if (v === 0) return { name: 'apply_patch', input: { input: p } };
  if (v === 1) return { name: 'exec_command', input: { cmd: `apply_patch <<'EOF'\n${p}\nEOF` } };
  return { name: 'shell', input: { command: ['bash', '-lc', `apply_patch <<'EOF'\n${p}\nEOF`], workdir: '/repo' } };
}

// ---- case generation -------------------------------------------------------------------------------------------
const cases: EditCase[] = [];
function add(format: string, s: Sample, label: 'good' | 'bad', why: string, input: EditCase['input']): void {
  const id = `${format}-${s.path.split('/').pop()!.replace(/\W/g, '_')}-${why.replace(/\W+/g, '_').toLowerCase()}`;
  cases.push({ id, label, why, format, input });
}
const intro = ['Here is the change.', 'I will make this edit:', 'Updating the file as requested.', 'Sure.'];
const full = (s: Sample, c: Change): string => applyChange(s.content, c);

for (const s of samples) {
  const [c1, c2] = s.changes;
  const both = applyChange(full(s, c1), c2);
  const lazyC: Change = { search: c1.search, replace: lazyText(s) };
  const brokenC: Change = { search: c1.search, replace: s.broken };
  const staleC: Change = { search: s.stale, replace: c1.replace };

  // Aider SEARCH/REPLACE
  const ctxA = aiderContext(s);
  const sr = (text: string, fr = 'stop'): EditCase['input'] => ({ text, toolCalls: [], finishReason: fr, context: ctxA });
  add('search-replace', s, 'good', 'fenced block', sr(`${pick(intro)}\n\n${srBlock(s, c1, true)}`));
  add('search-replace', s, 'good', 'two unfenced blocks', sr(`${pick(intro)}\n\n${srBlock(s, c1, false)}\n${srBlock(s, c2, false)}`));
  add('search-replace', s, 'good', 'file not in context', { text: srBlock(s, c1, true), toolCalls: [], finishReason: 'stop', context: 'Please improve the code.' });
  add('search-replace', s, 'bad', 'lazy placeholder', sr(srBlock(s, lazyC, true)));
  add('search-replace', s, 'bad', 'search text not in file', sr(srBlock(s, staleC, true)));
  add('search-replace', s, 'bad', 'syntax error', sr(srBlock(s, brokenC, true)));
  const whole = `${pick(intro)}\n\n${srBlock(s, c1, true)}`;
  add('search-replace', s, 'bad', 'truncated finish_reason length', sr(whole.slice(0, Math.floor(whole.length * 0.6)), 'length'));
  add('search-replace', s, 'bad', 'unterminated block', sr(`${srBlock(s, c1, true, { dropUpdate: true })}\nThat should do it.`));
  add('search-replace', s, 'bad', 'missing divider', sr(srBlock(s, c1, true, { dropDivider: true })));

  // Unified diff
  add('unified-diff', s, 'good', 'numbered hunk', sr(`${pick(intro)}\n\n${udiff(s, full(s, c1), true)}`));
  add('unified-diff', s, 'good', 'aider udiff hunk', sr(udiff(s, full(s, c2), false)));
  add('unified-diff', s, 'bad', 'lazy placeholder', sr(udiff(s, full(s, lazyC), false)));
  add('unified-diff', s, 'bad', 'syntax error', sr(udiff(s, full(s, brokenC), true)));
  add('unified-diff', s, 'bad', 'malformed missing plus header', sr(udiff(s, full(s, c1), true).replace(/^\+\+\+ .*\n/m, '')));
  add('unified-diff', s, 'bad', 'malformed hunk line prefix', sr(udiff(s, full(s, c1), false).replace(/\n\+([^\n]*)/, '\n$1')));
  add('unified-diff', s, 'bad', 'context not in file', sr(udiff(s, full(s, c1), false).replace(/\n [^\n]*/, '\n this line is not in the file')));

  // Whole file
  add('whole-file', s, 'good', 'full file', sr(`${pick(intro)}\n\n${s.path}\n\`\`\`${s.fence}\n${both}\`\`\`\n`));
  add('whole-file', s, 'bad', 'lazy placeholder', sr(`${s.path}\n\`\`\`${s.fence}\n${full(s, lazyC)}\`\`\`\n`));
  add('whole-file', s, 'bad', 'syntax error', sr(`${s.path}\n\`\`\`${s.fence}\n${full(s, brokenC)}\`\`\`\n`));
  const wf = `${s.path}\n\`\`\`${s.fence}\n${both}`;
  add('whole-file', s, 'bad', 'unterminated fence at end', sr(wf.slice(0, Math.floor(wf.length * 0.7)), 'stop'));

  // Claude Code Edit / MultiEdit / Write
  const ctxC = claudeContext(s);
  const fp = `/repo/${s.path}`;
  const cc = (calls: EditCase['input']['toolCalls'], fr = 'tool_use', context = ctxC): EditCase['input'] => ({
    text: pick(['', "I'll make the edit now.", 'Let me update the file.']),
    toolCalls: calls,
    finishReason: fr,
    context,
  });
  const edit = (c: Change) => ({ name: 'Edit', input: { file_path: fp, old_string: c.search, new_string: c.replace } });
  add('claude-edit', s, 'good', 'edit', cc([edit(c1)]));
  add('claude-edit', s, 'good', 'edit after bash', cc([{ name: 'Bash', input: { command: 'npm test' } }, edit(c2)]));
  add('claude-edit', s, 'bad', 'lazy placeholder', cc([edit(lazyC)]));
  add('claude-edit', s, 'bad', 'old_string not in file', cc([edit(staleC)]));
  add('claude-edit', s, 'bad', 'syntax error', cc([edit(brokenC)]));
  add('claude-edit', s, 'bad', 'identical old and new', cc([edit({ search: c1.search, replace: c1.search })]));
  const editJson = JSON.stringify(edit(c1).input);
  add('claude-edit', s, 'bad', 'truncated max_tokens', cc([{ name: 'Edit', input: editJson.slice(0, Math.floor(editJson.length / 2)) }], 'max_tokens'));
  const multi = (cs: Change[]) => ({ name: 'MultiEdit', input: { file_path: fp, edits: cs.map((c) => ({ old_string: c.search, new_string: c.replace })) } });
  add('claude-multiedit', s, 'good', 'two edits', cc([multi([c1, c2])]));
  add('claude-multiedit', s, 'bad', 'one lazy edit', cc([multi([c2, lazyC])]));
  add('claude-multiedit', s, 'bad', 'one stale edit', cc([multi([c2, staleC])]));
  add('claude-multiedit', s, 'bad', 'syntax error', cc([multi([brokenC, c2])]));
  const write = (content: string) => ({ name: 'Write', input: { file_path: fp, content } });
  add('claude-write', s, 'good', 'rewrite file', cc([write(both)]));
  add('claude-write', s, 'good', 'new file', cc([{ name: 'Write', input: { file_path: fp.replace(/(\.\w+)$/, '_copy$1'), content: s.content } }], 'tool_use', 'Create a copy of the module.'));
  add('claude-write', s, 'bad', 'lazy placeholder', cc([write(full(s, lazyC))]));
  add('claude-write', s, 'bad', 'syntax error', cc([write(full(s, brokenC))]));
  add('claude-write', s, 'bad', 'truncated max_tokens', cc([write(both.slice(0, Math.floor(both.length * 0.6)))], 'max_tokens'));

  // Codex apply_patch
  const ctxX = codexContext(s);
  const cx = (p: string, fr = 'stop'): EditCase['input'] => ({ text: '', toolCalls: [patchCall(p)], finishReason: fr, context: ctxX });
  add('apply-patch', s, 'good', 'update file', cx(patch(s, [c1])));
  add('apply-patch', s, 'good', 'two chunks', cx(patch(s, [c1, c2])));
  add('apply-patch', s, 'good', 'add file', {
    text: '',
    toolCalls: [patchCall(['*** Begin Patch', `*** Add File: ${s.path.replace(/(\.\w+)$/, '_v2$1')}`, ...s.content.replace(/\n$/, '').split('\n').map((l) => '+' + l), '*** End Patch'].join('\n'))],
    finishReason: 'stop',
    context: 'Add a second version of the module.',
  });
  add('apply-patch', s, 'bad', 'lazy placeholder', cx(patch(s, [lazyC])));
  add('apply-patch', s, 'bad', 'context not in file', cx(patch(s, [staleC])));
  add('apply-patch', s, 'bad', 'syntax error', cx(patch(s, [brokenC])));
  add('apply-patch', s, 'bad', 'missing end patch', cx(patch(s, [c1], false)));
  add('apply-patch', s, 'bad', 'truncated finish_reason length', cx(patch(s, [c1]), 'max_output_tokens'));
}

// A few replies that are good for reasons the checks must not trip on.
const ts = samples[0]!;
const legit: Change = {
  search: ts.changes[1].search,
  replace: `// Keep existing behaviour for legacy callers: no rounding.\n${ts.changes[1].search}`,
};
cases.push({
  id: 'search-replace-legit-existing-comment',
  label: 'good',
  why: 'a real comment mentioning existing behaviour',
  format: 'search-replace',
  input: { text: srBlock(ts, legit, true), toolCalls: [], finishReason: 'stop', context: aiderContext(ts) },
});
const reindented: Change = { search: ts.changes[0].search.replace(/^ {2}/gm, '\t'), replace: ts.changes[0].replace };
cases.push({
  id: 'search-replace-whitespace-tolerant',
  label: 'good',
  why: 'SEARCH differs from the file only in indentation',
  format: 'search-replace',
  input: { text: srBlock(ts, reindented, true), toolCalls: [], finishReason: 'stop', context: aiderContext(ts) },
});
const readme: Sample = { ...ts, path: 'README.md', fence: 'markdown', content: '# Widgets\n\nUsage:\n\n...\n' };
cases.push({
  id: 'whole-file-markdown-ellipsis',
  label: 'good',
  why: 'markdown may contain a bare ellipsis line',
  format: 'whole-file',
  input: { text: 'README.md\n```markdown\n# Widgets\n\nInstall, then run:\n\n...\n\nand wait.\n```\n', toolCalls: [], finishReason: 'stop', context: 'README.md\n```\n# Widgets\n```\n' },
});
for (const [i, text] of [
  'The bug is in `mean`: it divides by zero on an empty list. Guard the length first.',
  'Yes. Run `npm test` to check; no code change is needed because the retry count already comes from config.',
  'I looked at server.js and the 404 path is fine. The health route returns plain text.',
  'Here is an example of the syntax:\n\n```ts\nconst x = 1;\n```\n\nUse it in your config loader.',
  'Sure — which file do you want me to change?',
].entries()) {
  cases.push({ id: `prose-${i}`, label: 'good', why: 'prose only', format: 'prose', input: { text, toolCalls: [{ name: 'Bash', input: { command: 'ls' } }].slice(0, i % 2), finishReason: i === 4 ? 'length' : 'stop', context: 'What do you think?' } });
}
const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, 'cases.jsonl'), cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
console.log(`wrote ${cases.length} cases (${cases.filter((c) => c.label === 'good').length} good)`);
