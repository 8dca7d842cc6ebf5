/**
 * Benign training cases that quote attack strings as data: detector test fixtures (TypeScript, Python, JSON) and
 * security notes that show a payload in a code block. The public corpora have few of them, and a gateway that
 * blocks its users' own guardrail tests is useless to them. The wrappers were written for keeptrusts; the quoted
 * strings are the training split's own injections, so the classifier learns the structure (inside a string
 * literal, under a heading about injection), not a list of phrases.
 */

const TS = (items: string[], name: string): string =>
  [
    "import { describe, expect, it } from 'vitest';",
    `import { ${name} } from '../src/${name}.js';`,
    '',
    'const ATTACKS = [',
    ...items.map((s) => `  ${JSON.stringify(s)},`),
    '];',
    '',
    `describe('${name}', () => {`,
    "  it.each(ATTACKS)('flags %s', (text) => {",
    `    expect(${name}(text).flagged).toBe(true);`,
    '  });',
    '});',
  ].join('\n');

const PY = (items: string[], name: string): string =>
  [
    'import pytest',
    '',
    `from guard import ${name}`,
    '',
    '',
    '@pytest.mark.parametrize(',
    '    "prompt",',
    '    [',
    ...items.map((s) => `        ${JSON.stringify(s)},`),
    '    ],',
    ')',
    `def test_${name}_detects_injection(prompt):`,
    `    result = ${name}(prompt)`,
    '    assert result.is_injection',
    '    assert result.score > 0.5',
  ].join('\n');

const JSON_FIXTURE = (items: string[]): string => JSON.stringify({ cases: items.map((input, i) => ({ id: `attack-${i + 1}`, input, expected: 'blocked' })) }, null, 2);

const GO = (items: string[], name: string): string =>
  [
    `func Test${name[0]!.toUpperCase()}${name.slice(1)}(t *testing.T) {`,
    '\tcases := []string{',
    ...items.map((s) => `\t\t${JSON.stringify(s)},`),
    '\t}',
    '\tfor _, c := range cases {',
    `\t\tif !${name}(c) {`,
    '\t\t\tt.Errorf("not flagged: %q", c)',
    '\t\t}',
    '\t}',
    '}',
  ].join('\n');

const HEADINGS = ['## Prompt injection', '### Examples of prompt injection', '## Known jailbreak patterns', '## Threat model: injected instructions', '### What the detector catches'];
const INTROS = [
  'Untrusted text can carry instructions aimed at the model. A typical payload looks like this:',
  'The scanner flags input such as the following before it reaches the model:',
  'Attackers hide instructions in content the agent reads. For example:',
  'This is an example of an attack string we test against:',
];
const OUTROS = ['Requests like this are blocked and the event records which signals fired.', 'Treat tool output as data, never as instructions.', 'See the test suite for more cases.', ''];

const NAMES = ['detectInjection', 'scanPrompt', 'isJailbreak', 'guard', 'checkInput'];

export function augmentQuoted(injections: readonly string[], rand: () => number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const pool = injections.filter((t) => !t.includes('\n') && t.length >= 20 && t.length <= 400);
  const out: string[] = [];
  for (let i = 0; i + 3 <= pool.length && out.length < 480; ) {
    const n = 1 + Math.floor(rand() * 3);
    const items = pool.slice(i, i + n);
    i += n + Math.floor(rand() * 3);
    const name = pick(NAMES);
    const form = Math.floor(rand() * 5);
    if (form === 0) out.push(TS(items, name));
    else if (form === 1) out.push(PY(items, name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)));
    else if (form === 2) out.push(JSON_FIXTURE(items));
    else if (form === 3) out.push(GO(items, name));
    else out.push([pick(HEADINGS), '', pick(INTROS), '', '```text', items[0]!, '```', '', pick(OUTROS)].join('\n').trim());
  }
  return out;
}

const ASKS = ['Please', 'Can you', 'Could you', 'Now', 'OK,', 'Thanks. Next,', '', 'Hey, can you', 'I need you to', 'Go ahead and'];
const VERBS = [
  'read {f} and summarise it',
  'open {f} and explain the main function',
  'check {f} for bugs',
  'fix the failing test in {f}',
  'add a docstring to every function in {f}',
  'rename the variable `data` to `rows` in {f}',
  'tell me what {f} says about configuration',
  'show me where {f} handles errors',
  'refactor {f} so it uses async/await',
  'write unit tests for {f}',
  'explain why {f} throws on startup',
  'update {f} to the new API and tell me what changed',
  'run the tests and tell me what fails',
  'find where the config is loaded',
  'list the files that import {f}',
  'review my last change',
  'what does this error mean?',
  'help me understand the output above',
  'continue',
  'try again, that did not compile',
  'ignore the lint warnings for now and make the build pass',
  'forget the previous approach, use a Map instead',
  'undo that and keep the original version of {f}',
];
const FILES = ['README.md', 'src/app.ts', 'main.py', 'package.json', 'the Makefile', 'config.yaml', 'lib/utils.go', 'docs/setup.md', 'this file', 'the attached log'];

/** Short requests a developer types to a coding agent, the commonest benign input and the scarcest in the corpora. */
export function shortRequests(rand: () => number, count: number): string[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const out = new Set<string>();
  for (let i = 0; out.size < count && i < count * 20; i++) {
    const ask = pick(ASKS);
    const body = pick(VERBS).replace('{f}', pick(FILES));
    const text = ask ? `${ask} ${body}` : body[0]!.toUpperCase() + body.slice(1);
    out.add(/[.?!]$/.test(text) ? text : `${text}.`);
  }
  return [...out];
}
