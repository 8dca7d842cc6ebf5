import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCapture } from '../../src/audit/blobs.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { PLACEHOLDER } from '../../src/policy/placeholders.js';
import type { FakeReply, RecordedRequest } from '../../src/testing/fake-upstream.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The permanent record never holds what the chain found, whatever the chain did with it and whichever way the
 * request went: values planted in any part of a request (turns, tool calls, tool results, long segments stored
 * as blobs) and of a reply (text, edits, tool-call inputs), with policies that redact (masking or reversibly),
 * flag or block, streamed or not, in all three API families. Checked on each event as `kt events show` reads it
 * (captured texts resolved), and at the end on every byte of the data dir.
 */

const VALUES = {
  email: 'dana.whitfield@northwind-labs.com',
  github: 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8',
  aws: 'AKIAQ4ZRX7T2MPLW6KDN',
  ssn: '512-44-7193',
  card: '4539 1488 0343 6467',
  stripe: 'sk_live_51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No',
};
const ALL = Object.values(VALUES);

const targets = `providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
    - {id: a, provider: anthropic, base_url: "FAKE_URL"}
`;
/** Redacting, flagging, blocking and reversible chains; each captures what it may. */
const CONFIGS: Record<string, string> = {
  mask: `policies: {chain: [pii-detector, code-sanitizer, audit-logger]}\npolicy: {audit-logger: {capture: redacted}}\n`,
  flag: `policies: {chain: [pii-detector, dlp-filter, audit-logger]}\npolicy:\n  pii-detector: {action: flag}\n  dlp-filter: {action: flag, detect_patterns: [{name: GITHUB, pattern: "ghp_[A-Za-z0-9]{36}"}, {name: AWS, pattern: "AKIA[A-Z0-9]{16}"}, {name: STRIPE, pattern: "sk_live_[A-Za-z0-9]{20,}"}]}\n  audit-logger: {capture: redacted}\n`,
  block: `policies: {chain: [code-sanitizer, pii-detector, audit-logger]}\npolicy:\n  code-sanitizer: {block_on_match: true}\n  pii-detector: {action: block}\n  audit-logger: {capture: redacted}\n`,
  reversible: `policies: {chain: [pii-detector, code-sanitizer, audit-logger]}\npolicy:\n  pii-detector: {redaction: {mode: reversible}}\n  code-sanitizer: {redaction: {mode: reversible}}\n  audit-logger: {capture: redacted}\n`,
};

type Family = 'chat' | 'messages' | 'responses';
type Where = 'user' | 'system' | 'tool_call' | 'tool_result' | 'long';

interface Case {
  family: Family;
  stream: boolean;
  /** Values planted in the request, each at a place. */
  request: Array<{ value: string; where: Where }>;
  /** The reply: text (with an edit) or a tool call; with request placeholders quoted and values of its own. */
  reply: { kind: 'text' | 'edit-tool' | 'command-tool'; values: string[]; quotePlaceholders: boolean };
}

const value = fc.constantFrom(...ALL);
const caseArb: fc.Arbitrary<Case> = fc.record({
  family: fc.constantFrom<Family>('chat', 'messages', 'responses'),
  stream: fc.boolean(),
  request: fc.array(fc.record({ value, where: fc.constantFrom<Where>('user', 'system', 'tool_call', 'tool_result', 'long') }), { maxLength: 4 }),
  reply: fc.record({ kind: fc.constantFrom<Case['reply']['kind']>('text', 'edit-tool', 'command-tool'), values: fc.array(value, { maxLength: 3 }), quotePlaceholders: fc.boolean() }),
});

const LONG = 'lorem ipsum dolor sit amet, '.repeat(50);

function planted(c: Case, where: Where): string {
  const here = c.request.filter((p) => p.where === where).map((p) => ` ${p.value} `);
  return here.length === 0 ? 'nothing here' : `${where === 'long' ? LONG : ''}see${here.join('and')}done`;
}

/** The request body for a case, in its family's shape. */
function requestBody(c: Case): { path: string; body: Record<string, unknown> } {
  const args = JSON.stringify({ command: planted(c, 'tool_call') });
  if (c.family === 'chat') {
    return {
      path: '/v1/chat/completions',
      body: {
        model: 'gpt-4o',
        stream: c.stream,
        messages: [
          { role: 'system', content: planted(c, 'system') },
          { role: 'user', content: `${planted(c, 'user')}\n${planted(c, 'long')}` },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'Bash', arguments: args } }] },
          { role: 'tool', tool_call_id: 'c1', content: planted(c, 'tool_result') },
        ],
      },
    };
  }
  if (c.family === 'messages') {
    return {
      path: '/v1/messages',
      body: {
        model: 'claude-sonnet-4-20250514',
        max_tokens: 1024,
        stream: c.stream,
        system: [{ type: 'text', text: planted(c, 'system') }],
        tools: [{ name: 'Bash', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: [{ type: 'text', text: `${planted(c, 'user')}\n${planted(c, 'long')}` }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: JSON.parse(args) }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: planted(c, 'tool_result') }] },
        ],
      },
    };
  }
  return {
    path: '/v1/responses',
    body: {
      model: 'gpt-5',
      stream: c.stream,
      store: false,
      tools: [{ type: 'function', name: 'Bash', parameters: {} }],
      input: [
        { role: 'developer', content: planted(c, 'system') },
        { role: 'user', content: `${planted(c, 'user')}\n${planted(c, 'long')}` },
        { type: 'function_call', call_id: 'c1', name: 'Bash', arguments: args },
        { type: 'function_call_output', call_id: 'c1', output: planted(c, 'tool_result') },
      ],
    },
  };
}

/** The model's answer: what the case asks for, quoting the placeholders it was sent when asked to. */
function replyFor(c: Case, req: RecordedRequest): FakeReply {
  const quoted = c.reply.quotePlaceholders ? [...req.rawBody.matchAll(PLACEHOLDER)].map((m) => m[0]) : [];
  const items = [...c.reply.values, ...quoted].map((v) => ` ${v} `).join('and');
  if (c.reply.kind === 'text') return { text: `Here:\n\napp/config.py\n\`\`\`python\n<<<<<<< SEARCH\nA = "${items}"\n=======\nA = "x${items}"\n>>>>>>> REPLACE\n\`\`\`\nThen run\n\`\`\`bash\necho ${items}\n\`\`\`\n` };
  if (c.reply.kind === 'edit-tool') return { tool: { name: 'Edit', input: { file_path: '/r/app/config.py', old_string: `A = "${items}"`, new_string: `A = "x${items}"` } } };
  return { tool: { name: 'Bash', input: { command: `echo ${items}` } } };
}

const stacks = new Map<string, { stack: Stack; dataDir: string }>();
let current: Case | undefined;

beforeAll(async () => {
  for (const [name, policies] of Object.entries(CONFIGS)) {
    const dataDir = mkdtempSync(join(tmpdir(), `kt-capture-${name}-`));
    const stack = await startStack({
      config: `pack: {name: capture-${name}, version: "1"}\n${policies}${targets}`,
      audit: { dataDir },
      fake: { chunkSize: 7, respond: (req) => (current ? replyFor(current, req) : undefined) },
    });
    stacks.set(name, { stack, dataDir });
  }
}, 60_000);

afterAll(async () => {
  for (const { stack } of stacks.values()) await stack.close();
});

async function recorded(name: string, requestId: string): Promise<{ event: DecisionEvent; text: string }> {
  const { stack, dataDir } = stacks.get(name)!;
  await stack.trail!.recorder.caughtUp();
  const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
  try {
    const found = (await store.query({ order: 'desc', limit: 50 })).find((e) => e.event.request_id === requestId);
    if (!found) throw new Error(`no event for ${requestId}`);
    const event = await resolveCapture(found.event, (h) => store.getBlobs(h));
    return { event, text: JSON.stringify(event) };
  } finally {
    await store.close();
  }
}

describe('captures mask whatever the chain found, on every path', () => {
  let n = 0;
  for (const name of Object.keys(CONFIGS)) {
    it(`${name}: no planted value in the event as read back, captured texts and proposed edits included`, async () => {
      const { stack } = stacks.get(name)!;
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          current = c;
          const requestId = `cap-${name}-${++n}`;
          const { path, body } = requestBody(c);
          const res = await fetch(`${stack.gateway.url}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'x-request-id': requestId },
            body: JSON.stringify(body),
          });
          await res.text();
          const { event, text } = await recorded(name, requestId);
          for (const v of ALL) expect(text.includes(v), `${v} in the ${name} event (${event.verdict}, status ${event.status})`).toBe(false);
          // Long segments really went through the blob path when planted there.
          if (c.request.some((p) => p.where === 'long') && event.capture?.request) expect(event.capture.request.some((s) => s.text?.includes('lorem ipsum') && s.text.length >= 1024)).toBe(true);
        }),
        { numRuns: 40 },
      );
    }, 120_000);
  }

  it('and no planted value anywhere in any data dir: databases, WAL files, journals', async () => {
    for (const { stack, dataDir } of stacks.values()) {
      await stack.trail!.recorder.caughtUp();
      const files = readdirSync(dataDir, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => join(d.parentPath, d.name));
      for (const f of files) {
        const bytes = readFileSync(f).toString('latin1');
        for (const v of ALL) expect(bytes.includes(v), `${f} holds ${v.slice(0, 8)}…`).toBe(false);
      }
    }
  });
});
