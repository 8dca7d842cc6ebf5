import { describe, expect, it } from 'vitest';
import {
  applyReplacement,
  checkSyntax,
  extractContextFiles,
  findLazyPlaceholders,
  isLazyLine,
  makeUnifiedDiff,
  parseTextEdits,
  parseToolEdits,
  scoreCompletion,
} from '../../src/detect/code-edits/index.js';

const FILE = 'export function add(a: number, b: number) {\n  return a + b;\n}\n';
const CTX = `I have added these files:\n\nsrc/a.ts\n\`\`\`\n${FILE}\`\`\`\n`;
const sr = (search: string, replace: string, path = 'src/a.ts'): string =>
  `${path}\n\`\`\`ts\n<<<<<<< SEARCH\n${search}\n=======\n${replace}\n>>>>>>> REPLACE\n\`\`\`\n`;

describe('parseTextEdits', () => {
  it('parses fenced and unfenced SEARCH/REPLACE blocks, carrying the file name over', () => {
    const text = `${sr('  return a + b;', '  return b + a;')}\nsrc/b.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n<<<<<<< SEARCH\ny = 1\n=======\ny = 2\n>>>>>>> REPLACE\n`;
    const r = parseTextEdits(text);
    expect(r.problems).toEqual([]);
    expect(r.edits.map((e) => [e.file, e.format, e.search, e.replace, e.language])).toEqual([
      ['src/a.ts', 'search-replace', '  return a + b;', '  return b + a;', 'ts'],
      ['src/b.py', 'search-replace', 'x = 1', 'x = 2', 'py'],
      ['src/b.py', 'search-replace', 'y = 1', 'y = 2', 'py'],
    ]);
    expect(r.edits[0]!.diff).toContain('-  return a + b;\n+  return b + a;');
  });

  it('accepts decorated file-name lines', () => {
    for (const line of ['**src/a.ts**', '`src/a.ts`:', '### src/a.ts', 'File: src/a.ts']) {
      const r = parseTextEdits(`${line}\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n`);
      expect(r.edits[0]?.file).toBe('src/a.ts');
    }
  });

  it('reports unterminated, mismatched and stray markers', () => {
    const unterminated = parseTextEdits('src/a.ts\n<<<<<<< SEARCH\na\n=======\nb\n');
    expect(unterminated.problems.map((p) => p.check).sort()).toEqual(['not_truncated', 'well_formed']);
    const mismatched = parseTextEdits('src/a.ts\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n');
    expect(mismatched.problems).toEqual([{ check: 'well_formed', message: 'mismatched SEARCH/REPLACE markers', file: 'src/a.ts' }]);
    const closedByFence = parseTextEdits('src/a.ts\n```\n<<<<<<< SEARCH\na\n=======\nb\n```\nDone.');
    expect(closedByFence.problems.map((p) => p.check)).toEqual(['well_formed']);
    expect(parseTextEdits('text\n>>>>>>> REPLACE\n').problems[0]!.check).toBe('well_formed');
    expect(parseTextEdits('<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n').problems[0]!.message).toMatch(/file name/);
  });

  it('parses fenced unified diffs, one edit per hunk, with new files as content', () => {
    const text = '```diff\n--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,3 +1,3 @@\n export function add(a: number, b: number) {\n-  return a + b;\n+  return b + a;\n }\n```\n\n```diff\n--- /dev/null\n+++ b/src/new.ts\n@@ -0,0 +1,1 @@\n+export const x = 1;\n```\n';
    const r = parseTextEdits(text);
    expect(r.problems).toEqual([]);
    expect(r.edits).toHaveLength(2);
    expect(r.edits[0]).toMatchObject({ format: 'unified-diff', file: 'src/a.ts', search: FILE.trimEnd(), replace: FILE.trimEnd().replace('a + b', 'b + a') });
    expect(r.edits[1]).toMatchObject({ file: 'src/new.ts', content: 'export const x = 1;' });
  });

  it('reports malformed diffs', () => {
    const msgs = (t: string): string[] => parseTextEdits(t).problems.map((p) => p.message);
    expect(msgs('```diff\n--- a/x.ts\n@@ -1 +1 @@\n-a\n+b\n```\n')).toContain("diff '---' header without a '+++' line");
    expect(msgs('```diff\n--- a/x.ts\n+++ b/x.ts\n@@ -1,2 +1,2 @@\n-a\n+b\n```\n')).toContain('diff hunk line counts do not match its @@ header');
    expect(msgs('```diff\n--- a/x.ts\n+++ b/x.ts\n@@ ... @@\n-a\nb\n```\n')).toContain('diff hunk line without a space/+/- prefix');
    expect(msgs('```diff\n--- a/x.ts\n+++ b/x.ts\n```\n')).toContain('diff file section without hunks');
  });

  it('parses whole-file blocks only after a path line', () => {
    const r = parseTextEdits('src/a.ts\n```ts\nexport const a = 1;\n```\n\nRun this:\n```sh\nnpm test\n```\n');
    expect(r.edits).toEqual([expect.objectContaining({ format: 'whole-file', file: 'src/a.ts', content: 'export const a = 1;', language: 'ts' })]);
    expect(r.edits[0]!.diff).toBe('--- /dev/null\n+++ b/src/a.ts\n@@ -0,0 +1,1 @@\n+export const a = 1;\n');
    const cut = parseTextEdits('src/a.ts\n```ts\nexport const a = 1;\n');
    expect(cut.edits).toEqual([]);
    expect(cut.problems.map((p) => p.check)).toEqual(['well_formed', 'not_truncated']);
  });

  it('finds nothing in prose', () => {
    expect(parseTextEdits('Use `npm test`. Then:\n```ts\nconst x = 1;\n```\n')).toEqual({ edits: [], problems: [] });
  });
});

describe('parseToolEdits', () => {
  it('reads Claude Code Edit, Write and MultiEdit', () => {
    expect(parseToolEdits('Edit', { file_path: '/r/a.ts', old_string: 'a', new_string: 'b' }).edits[0]).toMatchObject({ format: 'claude-edit', file: '/r/a.ts', search: 'a', replace: 'b', language: 'ts' });
    expect(parseToolEdits('Write', { file_path: '/r/a.json', content: '{}' }).edits[0]).toMatchObject({ format: 'claude-write', content: '{}', language: 'json' });
    const m = parseToolEdits('MultiEdit', JSON.stringify({ file_path: 'a.go', edits: [{ old_string: 'x', new_string: 'y' }, { old_string: 'p', new_string: 'q' }] }));
    expect(m.edits.map((e) => [e.format, e.search, e.replace])).toEqual([
      ['claude-multiedit', 'x', 'y'],
      ['claude-multiedit', 'p', 'q'],
    ]);
  });

  it('reports malformed Claude Code calls', () => {
    expect(parseToolEdits('Edit', { file_path: 'a.ts', old_string: 'a', new_string: 'a' }).problems[0]!.message).toMatch(/identical/);
    expect(parseToolEdits('Edit', { file_path: 'a.ts', old_string: 'a' }).problems[0]!.check).toBe('well_formed');
    expect(parseToolEdits('Write', '{"file_path": "a.ts", "content": "x').problems[0]!.message).toMatch(/not an object/);
    expect(parseToolEdits('MultiEdit', { file_path: 'a.ts', edits: [] }).problems).toHaveLength(1);
  });

  const PATCH = '*** Begin Patch\n*** Update File: src/a.ts\n@@\n export function add(a: number, b: number) {\n-  return a + b;\n+  return b + a;\n }\n*** Add File: src/n.ts\n+export const n = 1;\n*** Delete File: src/old.ts\n*** End Patch';

  it('reads Codex apply_patch as a function and inside shell heredocs', () => {
    for (const [name, input] of [
      ['apply_patch', { input: PATCH }],
      ['apply_patch', PATCH],
      ['exec_command', { cmd: `apply_patch <<'EOF'\n${PATCH}\nEOF` }],
      ['shell', JSON.stringify({ command: ['bash', '-lc', `apply_patch <<'EOF'\n${PATCH}\nEOF`] })],
    ] as const) {
      const r = parseToolEdits(name, input);
      expect(r.problems).toEqual([]);
      expect(r.edits.map((e) => [e.format, e.file])).toEqual([
        ['apply-patch', 'src/a.ts'],
        ['apply-patch', 'src/n.ts'],
        ['apply-patch', 'src/old.ts'],
      ]);
      expect(r.edits[0]).toMatchObject({ search: 'export function add(a: number, b: number) {\n  return a + b;\n}' });
      expect(r.edits[1]!.content).toBe('export const n = 1;');
    }
    expect(parseToolEdits('Bash', { command: 'ls -la' })).toEqual({ edits: [], problems: [] });
  });

  it('reports malformed patches', () => {
    const msgs = (p: string): string[] => parseToolEdits('apply_patch', { input: p }).problems.map((x) => x.message);
    expect(msgs(PATCH.replace('\n*** End Patch', ''))).toContain('apply_patch without *** End Patch');
    expect(msgs('*** Update File: a.ts\n')).toContain('apply_patch text without *** Begin Patch');
    expect(msgs('*** Begin Patch\n*** Add File: a.ts\nno plus\n*** End Patch')).toContain("apply_patch Add File line without '+' prefix");
    expect(msgs('*** Begin Patch\n*** Update File: a.ts\n@@\n context only\n*** End Patch')).toContain('apply_patch chunk changes nothing');
  });
});

describe('lazy placeholders', () => {
  it('flags the usual placeholder comments and bare ellipses', () => {
    for (const l of [
      '# ... rest of code ...',
      '// existing code unchanged',
      '// ... (rest unchanged)',
      '    /* ... */',
      '# remaining code here',
      '...',
      '  // rest of the function stays the same',
      '{/* ... */}',
      '<!-- ... -->',
      '  return x; // ... other methods omitted for brevity',
      '// Existing code',
    ]) {
      expect(isLazyLine(l, 'ts'), l).toBe(true);
    }
  });

  it('leaves real comments and code alone', () => {
    for (const l of [
      '// Keep existing behaviour for legacy callers.',
      '// Loading...',
      'const rest = [...items];',
      '# Remove the rest of the whitespace from the input',
      'foo(...args);',
      '// TODO: handle the remaining edge cases in a follow-up',
      'url = "http://example.com/..."',
    ]) {
      expect(isLazyLine(l, 'ts'), l).toBe(false);
    }
    expect(isLazyLine('...', 'md')).toBe(false);
  });

  it('ignores placeholders the original already had', () => {
    expect(findLazyPlaceholders('a\n// ... rest of code ...\nb', 'x\n// ... rest of code ...')).toEqual([]);
    expect(findLazyPlaceholders('a\n// ... rest of code ...\nb')).toEqual([2]);
  });
});

describe('syntax and context helpers', () => {
  it('checks JS/TS/TSX/JSON and reports no code', () => {
    expect(checkSyntax('const a: number = 1;', 'ts')).toEqual({ ok: true });
    expect(checkSyntax('const a = <b>{x}</b>;', 'tsx')).toEqual({ ok: true });
    expect(checkSyntax('function (', 'js')).toMatchObject({ ok: false, message: expect.stringMatching(/^line 1:\d+/) });
    expect(checkSyntax('{"a": 1,}', 'json')).toMatchObject({ ok: false, message: expect.stringMatching(/^invalid JSON/) });
    expect(checkSyntax('{"a": 1, // c\n}', 'json', 'tsconfig.json')).toEqual({ ok: true });
    expect(checkSyntax('x = 1', 'py')).toBeUndefined();
  });

  it('applies replacements exactly or ignoring whitespace', () => {
    expect(applyReplacement(FILE, '  return a + b;', '  return 0;')).toBe(FILE.replace('a + b', '0'));
    expect(applyReplacement(FILE, '\treturn a  +  b;', '  return 0;')).toBe(FILE.replace('a + b', '0'));
    expect(applyReplacement(FILE, 'nope', 'x')).toBeUndefined();
  });

  it('makes unified diffs with line numbers', () => {
    expect(makeUnifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'f.txt')).toBe('--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
  });

  it('recovers files from aider fences, numbered Read output and shell reads', () => {
    const ctx = extractContextFiles(
      `${CTX}\n[tool_use Read] {"file_path":"/repo/src/b.ts"}\n     1→const b = 1;\n     2→export { b };\n[function_call exec_command] {"cmd":"cat src/c.py"}\n[function_call_output]\nx = 1\nuser: thanks\n`,
    );
    expect(ctx.files.map((f) => [f.path, f.content])).toEqual([
      ['src/a.ts', FILE.trimEnd()],
      ['/repo/src/b.ts', 'const b = 1;\nexport { b };'],
      ['src/c.py', 'x = 1'],
    ]);
  });
});

describe('scoreCompletion', () => {
  const score = (text: string, extra: Partial<Parameters<typeof scoreCompletion>[0]> = {}) =>
    scoreCompletion({ text, toolCalls: [], context: CTX, finishReason: 'stop', ...extra });

  it('passes a clean edit with every check at 1 and a line-numbered diff', () => {
    const r = score(sr('  return a + b;', '  return b + a;'));
    expect(r).toMatchObject({ score: 1, passed: true, reasons: [] });
    expect(r.checks).toEqual({ well_formed: 1, not_truncated: 1, search_present: 1, no_lazy_placeholders: 1, syntax_valid: 1 });
    expect(r.edits[0]!.diff).toContain('@@ -1,3 +1,3 @@');
  });

  it('fails each defect on its own check', () => {
    const failing = (r: ReturnType<typeof score>): string[] => Object.entries(r.checks).filter(([, v]) => v < 1).map(([k]) => k);
    expect(failing(score(sr('  return a - b;', '  return b + a;')))).toEqual(['search_present']);
    expect(failing(score(sr('  return a + b;', '  // ... rest of code ...')))).toEqual(['no_lazy_placeholders']);
    expect(failing(score(sr('  return a + b;', '  return (a + b;')))).toEqual(['syntax_valid']);
    expect(failing(score(sr('  return a + b;', '  return b + a;'), { finishReason: 'length' }))).toEqual(['not_truncated']);
    expect(failing(score('src/a.ts\n<<<<<<< SEARCH\n  return a + b;\n=======\n'))).toEqual(['well_formed', 'not_truncated']);
    for (const r of [score(sr('x', 'y')), score(sr('  return a + b;', '  // ... rest of code ...'))]) expect(r.passed).toBe(false);
  });

  it('skips search_present when the file was not sent and does not penalise fragments', () => {
    const r = score(sr('  if (x) {', '  if (x && y) {', 'src/other.ts'), { context: 'fix it' });
    expect(r.checks.search_present).toBeUndefined();
    expect(r.checks.syntax_valid).toBeUndefined();
    expect(r.passed).toBe(true);
  });

  it('judges fragments when the replaced code parsed or the brackets change', () => {
    const complete = score(sr('foo(1);', 'foo(1;', 'src/other.ts'), { context: '' });
    expect(complete.checks.syntax_valid).toBe(0);
    const unbalanced = score(sr('  if (x) {\n    go();', '  if (x) {\n    go();\n  }\n  }', 'src/other.py'), { context: '' });
    expect(unbalanced.checks.syntax_valid).toBe(0);
  });

  it('scores Claude Code and Codex tool calls against Read/cat output', () => {
    const ctx = `[tool_use Read] {"file_path":"/repo/src/a.ts"}\n${FILE.trimEnd().split('\n').map((l, i) => `     ${i + 1}\t${l}`).join('\n')}\n`;
    const ok = scoreCompletion({ text: '', toolCalls: [{ name: 'Edit', input: { file_path: '/repo/src/a.ts', old_string: 'a + b', new_string: 'b + a' } }], context: ctx });
    expect(ok.checks).toMatchObject({ search_present: 1, syntax_valid: 1 });
    const stale = scoreCompletion({ text: '', toolCalls: [{ name: 'Edit', input: { file_path: '/repo/src/a.ts', old_string: 'a * b', new_string: 'b + a' } }], context: ctx });
    expect(stale.passed).toBe(false);
    expect(stale.reasons).toEqual([{ check: 'search_present', message: 'old_string text not found in the file as sent', file: '/repo/src/a.ts' }]);
  });

  it('reads a context given as a function only for a reply with edits, and scores as with the string', () => {
    let calls = 0;
    const lazy = () => {
      calls++;
      return CTX;
    };
    const prose = scoreCompletion({ text: 'Looks fine.', toolCalls: [], context: lazy, finishReason: 'stop' });
    expect(calls).toBe(0);
    expect(prose).toEqual(scoreCompletion({ text: 'Looks fine.', toolCalls: [], context: CTX, finishReason: 'stop' }));
    for (const text of [sr('  return a + b;', '  return b + a;'), sr('  return a - b;', '  // ... rest of code ...'), 'src/a.ts\n<<<<<<< SEARCH\n  return a + b;\n=======\n']) {
      calls = 0;
      expect(score(text, { context: lazy })).toEqual(score(text));
      expect(calls).toBe(1);
    }
  });

  it('scores prose-only replies on prose checks only', () => {
    expect(scoreCompletion({ text: 'Looks fine.', toolCalls: [], context: '', finishReason: 'length' })).toMatchObject({ score: 1, passed: true, checks: {} });
    const short = scoreCompletion({ text: 'Fine.', toolCalls: [], context: '' }, { minOutputChars: 40, minSentences: 2 });
    expect(short.passed).toBe(false);
    expect(Object.keys(short.checks).sort()).toEqual(['min_output_chars', 'min_sentences']);
    const long = scoreCompletion({ text: 'The function is correct. It handles the empty case too.', toolCalls: [], context: '' }, { minOutputChars: 40, minSentences: 2 });
    expect(long.passed).toBe(true);
  });

  it('honours weights and the threshold', () => {
    const lazy = sr('  return a + b;', '  // ... rest of code ...');
    expect(score(lazy).passed).toBe(false);
    const off = scoreCompletion({ text: lazy, toolCalls: [], context: CTX }, { weights: { no_lazy_placeholders: 0, syntax_valid: 0 } });
    expect(off.passed).toBe(true);
    const two = `${sr('  return a + b;', '  return b + a;')}\n${sr('nope', 'x')}`;
    expect(score(two).checks.search_present).toBe(0.5);
    expect(scoreCompletion({ text: two, toolCalls: [], context: CTX }, { minAggregate: 0.4 }).passed).toBe(true);
  });
});
