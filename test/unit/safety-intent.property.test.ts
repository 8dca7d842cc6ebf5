/**
 * The intent checks of safety-filter's software mode let text about harm through (quoted data, descriptions,
 * routine work), so they must never let a request through because of what surrounds it: any harmful request of
 * the corpora, placed after or before any benign material an agent sends (files added to the chat, a runbook,
 * docs about attacks, a test file quoting the filter's phrases), is still found, in that request.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSafetyScanner } from '../../src/detect/safety.js';

const corpus = join(dirname(fileURLToPath(import.meta.url)), '..', 'corpus', 'safety');
interface Case {
  label: string;
  mode?: string;
  kind?: string;
  text: string;
}
const read = (f: string): Case[] =>
  readFileSync(join(corpus, f), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Case);
const coding = read('coding.jsonl');
// Single requests (not whole Aider turns, whose own files are context already).
const harmful = [...read('cases.jsonl').filter((c) => c.label === 'unsafe' && c.mode === 'software'), ...coding.filter((c) => c.label === 'unsafe' && !c.text.includes('```'))].map((c) => c.text);
const benign = coding.filter((c) => c.label === 'safe').map((c) => c.text);

const scanner = createSafetyScanner({ mode: 'software' });
const fenced = (path: string, body: string): string => `${path}\n\`\`\`\n${body}\n\`\`\``;

describe('software mode: context never buys a pass', () => {
  it('a harmful request is found wherever it sits among benign material', () => {
    const context = fc.array(fc.constantFrom(...benign), { minLength: 1, maxLength: 3 });
    const shape = fc.constantFrom('files before', 'prose before', 'prose after', 'between');
    fc.assert(
      fc.property(fc.constantFrom(...harmful), context, shape, (request, parts, how) => {
        const files = parts.map((p, i) => fenced(`docs/file${i}.md`, p)).join('\n\n');
        const prose = parts.join('\n\n');
        const text =
          how === 'files before'
            ? `I have *added these files to the chat* so you can go ahead and edit them.\n\n${files}\n\n${request}`
            : how === 'prose before'
              ? `${prose}\n\n${request}`
              : how === 'prose after'
                ? `${request}\n\n${prose}`
                : `${parts[0]!}\n\n${request}\n\n${parts.slice(1).join('\n\n')}`;
        const at = text.indexOf(request);
        const inRequest = scanner.scan(text).filter((m) => m.start >= at && m.end <= at + request.length);
        expect(inRequest, request).not.toEqual([]);
      }),
      { numRuns: 400 },
    );
  });
});
