import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { PLACEHOLDER } from '../../src/policy/placeholders.js';
import type { RecordedRequest } from '../../src/testing/fake-upstream.js';
import { priceFor } from '../../src/usage/pricing.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * Aider replayed through the brief's configs (examples/aider-openai and examples/aider-anthropic, with the
 * reversible redaction they document switched on), request for request as the real Aider CLI sends them
 * (/work/shared/research/aider.md: message layout, headers, the weak model's commit-message call, retries), and
 * the replies read as Aider reads them. Aider itself cannot be installed from npm; this is what CI can run.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The brief's config for a route, pointed at the fake provider, with reversible redaction as the comments say. */
function briefConfig(example: 'aider-openai' | 'aider-anthropic'): string {
  const text = readFileSync(`${ROOT}examples/${example}/policy-config.yaml`, 'utf8');
  const reversible = text.replaceAll('# redaction: {mode: reversible}', 'redaction: {mode: reversible}');
  expect(reversible.match(/redaction: \{mode: reversible\}/g)).toHaveLength(2);
  const base = example === 'aider-openai' ? 'FAKE_URL/v1' : 'FAKE_URL';
  return reversible.replace(/(\n {6}provider: \w+\n)/, `$1      base_url: ${base}\n`);
}

// ---- What Aider sends --------------------------------------------------------------------------------------------

const EMAIL = 'dana.whitfield@northwind-labs.com';
const TOKEN = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const FILE = ['# service settings', `SUPPORT_CONTACT = "${EMAIL}"`, `GITHUB_TOKEN = "${TOKEN}"`, 'RETRIES = 3', 'TIMEOUT_SECONDS = 30', ''].join('\n');
const EDITED = FILE.replace('RETRIES = 3', 'RETRIES = 5');
const PATH = 'config/settings.py';

const MAIN_PROMPT =
  'Act as an expert software developer.\nAlways use best practices when coding.\nRespect and use existing conventions, libraries, etc that are already present in the code base.\n' +
  'Once you understand the request you MUST:\n1. Decide if you need to propose *SEARCH/REPLACE* edits to any files that haven\'t been added to the chat.\n' +
  '2. Think step-by-step and explain the needed changes in a few short sentences.\n3. Describe each change with a *SEARCH/REPLACE block* per the examples below.\n' +
  'All changes to files must use this *SEARCH/REPLACE block* format.\nONLY EVER RETURN CODE IN A *SEARCH/REPLACE BLOCK*!\n';
const REMINDER =
  '# *SEARCH/REPLACE block* Rules:\n\nEvery *SEARCH/REPLACE block* must use this format:\n1. The *FULL* file path alone on a line, verbatim.\n2. The opening fence and code language, eg: ```python\n' +
  '3. The start of search block: <<<<<<< SEARCH\n4. A contiguous chunk of lines to search for in the existing source code\n5. The dividing line: =======\n6. The lines to replace into the source code\n' +
  '7. The end of the replace block: >>>>>>> REPLACE\n8. The closing fence: ```\n\nEvery *SEARCH* section must *EXACTLY MATCH* the existing file content, character for character, including all comments, docstrings, etc.\n';
const COMMIT_PROMPT =
  'You are an expert software engineer that generates concise, one-line Git commit messages based on the provided diffs.\nReview the provided context and diffs which are about to be committed to a git repo.\n' +
  'Generate a one-line commit message for those changes.\nReply only with the one-line commit message, without any additional text, explanations, or line breaks.\n';

type Msg = { role: 'system' | 'user' | 'assistant'; content: string };

/** Aider's chat on the OpenAI route (§2a): 7 messages, the file fenced in a user message, the rules reminder last. */
function openaiChat(file: string, ask: string, history: Msg[] = []): Msg[] {
  return [
    { role: 'system', content: MAIN_PROMPT },
    { role: 'user', content: `Here are summaries of some files present in my git repository.\nDo not propose changes to these files, treat them as *read-only*.\n\nservice/app.py:\n│def main(): ...\n` },
    { role: 'assistant', content: "Ok, I won't try and edit those files without asking first." },
    { role: 'user', content: `I have *added these files to the chat* so you can go ahead and edit them.\n\n*Trust this message as the true contents of these files!*\nAny other messages in the chat may contain outdated versions of the files' contents.\n\n${PATH}\n\`\`\`\n${file}\`\`\`\n` },
    { role: 'assistant', content: 'Ok, any changes I propose will be to those files.' },
    { role: 'user', content: ask },
    ...history,
    { role: 'system', content: REMINDER },
  ];
}

const OPENAI_HEADERS = {
  authorization: 'Bearer unused',
  'content-type': 'application/json',
  accept: 'application/json',
  'accept-encoding': 'gzip, deflate',
  'user-agent': 'OpenAI/Python 2.54.0',
  'x-stainless-lang': 'python',
  'x-stainless-package-version': '2.54.0',
  'x-stainless-runtime': 'CPython',
  'x-stainless-raw-response': 'true',
  'x-stainless-retry-count': '0',
  'x-stainless-read-timeout': '600.0',
};

const ANTHROPIC_HEADERS = {
  'x-api-key': 'unused',
  'anthropic-version': '2023-06-01',
  'user-agent': 'litellm/1.81.15',
  accept: 'application/json',
  'content-type': 'application/json',
};

/** The same chat on the Anthropic route (§2b): system as a list, every content a list of text blocks, the rules appended to the last user turn. */
function anthropicBody(model: string, chat: Msg[], extra: Record<string, unknown>): Record<string, unknown> {
  const system = chat.filter((m) => m.role === 'system');
  const turns = chat.filter((m) => m.role !== 'system');
  const last = turns.at(-1)!;
  const reminder = system.length > 1 ? `\n\n${system.at(-1)!.content}` : '';
  const messages = [
    { role: 'user', content: [{ type: 'text', text: 'I switched to a new code base. Please don\'t consider the above files or try to edit them any longer.' }] },
    { role: 'assistant', content: [{ type: 'text', text: 'Ok.' }] },
    ...turns.slice(0, -1).map((m) => ({ role: m.role, content: [{ type: 'text', text: m.content }] })),
    { role: last.role, content: [{ type: 'text', text: last.content + reminder }] },
  ];
  return { model, temperature: 0, system: [{ type: 'text', text: system[0]!.content }], messages, ...extra };
}

/** The weak model's commit-message call: not streamed, a system prompt and one user turn with the transcript and `# Diffs:`. */
function commitChat(diff: string): Msg[] {
  return [
    { role: 'system', content: COMMIT_PROMPT },
    { role: 'user', content: `USER: raise the retries to 5\nASSISTANT: I raised the retries.\n# Diffs:\n${diff}` },
  ];
}

// ---- How Aider reads a reply -------------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

async function send(url: string, headers: Record<string, string>, body: unknown): Promise<Reply> {
  const res = await request(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const raw = await res.body.text();
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/event-stream')) return { status: res.statusCode, headers: res.headers, text: sseText(raw), json: undefined };
  const json = JSON.parse(raw);
  const text = json.choices?.[0]?.message?.content ?? (Array.isArray(json.content) ? json.content.map((b: { text?: string }) => b.text ?? '').join('') : '');
  return { status: res.statusCode, headers: res.headers, text, json };
}

/** The text of a stream, as litellm joins it: OpenAI `delta.content`, Anthropic `text_delta`s. */
function sseText(raw: string): string {
  let out = '';
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const frame = JSON.parse(line.slice(6));
    out += frame.choices?.[0]?.delta?.content ?? '';
    if (frame.type === 'content_block_delta' && frame.delta?.type === 'text_delta') out += frame.delta.text;
    if (frame.type === 'error' || frame.error) throw new Error(`stream ended with an error: ${line}`);
  }
  return out;
}

/** Aider's SEARCH/REPLACE application: each SEARCH text must occur in the file exactly once. */
function applySearchReplace(file: string, reply: string): string {
  const blocks = [...reply.matchAll(/<<<<<<< SEARCH\n([\s\S]*?)\n=======\n([\s\S]*?)\n>>>>>>> REPLACE/g)];
  if (blocks.length === 0) throw new Error('no SEARCH/REPLACE block in the reply');
  let out = file;
  for (const [, search, replace] of blocks) {
    const at = out.indexOf(search!);
    if (at < 0 || out.indexOf(search!, at + 1) >= 0) throw new Error(`SEARCH block does not match the file exactly once:\n${search}`);
    out = out.slice(0, at) + replace! + out.slice(at + search!.length);
  }
  return out;
}

// ---- A model that reads what it was sent -------------------------------------------------------------------------

function messagesText(req: RecordedRequest): string[] {
  const body = req.body as { messages: Array<{ content: string | Array<{ text?: string }> }> };
  return body.messages.map((m) => (typeof m.content === 'string' ? m.content : m.content.map((b) => b.text ?? '').join('')));
}

/** The file as the model saw it (placeholders in it). */
function fileAsSeen(req: RecordedRequest): string {
  const text = messagesText(req).find((t) => t.includes(`${PATH}\n\`\`\``))!;
  const start = text.indexOf(`${PATH}\n\`\`\`\n`) + PATH.length + 5;
  return text.slice(start, text.indexOf('```', start));
}

/** One SEARCH block quoting the first four lines as seen (the e-mail and token lines among them), changing the retries. */
function editReply(req: RecordedRequest): { text: string } {
  const search = fileAsSeen(req).split('\n').slice(0, 4).join('\n');
  return { text: `I'll raise the retries.\n\n${PATH}\n\`\`\`python\n<<<<<<< SEARCH\n${search}\n=======\n${search.replace('RETRIES = 3', 'RETRIES = 5')}\n>>>>>>> REPLACE\n\`\`\`\n` };
}

// ---- The two routes ----------------------------------------------------------------------------------------------

interface Route {
  name: string;
  example: 'aider-openai' | 'aider-anthropic';
  main: string;
  weak: string;
  url: (s: Stack) => string;
  /** The main model's streamed request for a chat. */
  main_request: (chat: Msg[]) => { headers: Record<string, string>; body: unknown };
  /** The weak model's commit-message request; `extraHeaders` as `.aider.model.settings.yml` adds them. */
  weak_request: (chat: Msg[], extraHeaders?: Record<string, string>) => { headers: Record<string, string>; body: unknown };
}

const ROUTES: Route[] = [
  {
    name: 'OpenAI route (gpt-4o, weak model gpt-4o-mini)',
    example: 'aider-openai',
    main: 'gpt-4o',
    weak: 'gpt-4o-mini',
    url: (s) => `${s.openaiBase}/chat/completions`,
    main_request: (chat) => ({ headers: OPENAI_HEADERS, body: { model: 'gpt-4o', stream: true, temperature: 0, messages: chat } }),
    weak_request: (chat, extra = {}) => ({ headers: { ...OPENAI_HEADERS, ...extra }, body: { model: 'gpt-4o-mini', temperature: 0, messages: chat } }),
  },
  {
    name: 'Anthropic route (claude-sonnet-4, weak model claude-3-5-haiku)',
    example: 'aider-anthropic',
    main: 'claude-sonnet-4-20250514',
    weak: 'claude-3-5-haiku-20241022',
    url: (s) => `${s.anthropicBase}/v1/messages`,
    main_request: (chat) => ({
      headers: { ...ANTHROPIC_HEADERS, 'anthropic-beta': 'output-128k-2025-02-19' },
      body: anthropicBody('claude-sonnet-4-20250514', chat, { max_tokens: 64000, stream: true }),
    }),
    weak_request: (chat, extra = {}) => ({ headers: { ...ANTHROPIC_HEADERS, ...extra }, body: anthropicBody('claude-3-5-haiku-20241022', chat, { max_tokens: 8192 }) }),
  },
];

for (const route of ROUTES) {
  describe(`Aider replayed, ${route.name}, through examples/${route.example}`, () => {
    let stack: Stack;
    let dataDir: string;

    async function eventOf(reply: Reply): Promise<DecisionEvent> {
      const id = String(reply.headers['x-keeptrusts-event-id']);
      await stack.trail!.recorder.caughtUp();
      const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
      try {
        const found = (await store.query({ order: 'asc', limit: 1000 })).map((e) => e.event).find((e) => e.id === id);
        if (!found) throw new Error(`no event ${id}`);
        return found;
      } finally {
        await store.close();
      }
    }

    const main = (chat: Msg[]) => {
      const r = route.main_request(chat);
      return send(route.url(stack), r.headers, r.body);
    };
    const weak = (chat: Msg[], extra?: Record<string, string>) => {
      const r = route.weak_request(chat, extra);
      return send(route.url(stack), r.headers, r.body);
    };

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), `kt-aider-${route.example}-`));
      stack = await startStack({
        config: briefConfig(route.example),
        audit: { dataDir },
        env: { OPENAI_API_KEY: 'sk-gateway-openai', ANTHROPIC_API_KEY: 'sk-ant-gateway' },
        fake: { chunkSize: 7 },
      });
    });
    afterAll(() => stack?.close());
    beforeEach(() => stack.fake.reset());

    it('an edit next to a redacted e-mail address and token comes back with the real values and applies cleanly to the original file', async () => {
      stack.fake.setResponder(editReply);
      const reply = await main(openaiChat(FILE, 'raise the retries to 5'));
      expect(reply.status).toBe(200);
      const upstream = stack.fake.requests[0]!;
      for (const value of [EMAIL, TOKEN]) expect(upstream.rawBody, 'the provider saw a value').not.toContain(value);
      expect(fileAsSeen(upstream)).toMatch(PLACEHOLDER);
      expect(applySearchReplace(FILE, reply.text)).toBe(EDITED);
      const event = await eventOf(reply);
      expect(event.identity.client).toBe('aider');
      expect(event.target).toMatchObject({ model: route.main });
      expect(event.restores).toMatchObject({ unknown: 0, withheld: [] });
      expect(JSON.stringify(event)).not.toContain(TOKEN);
      expect(JSON.stringify(event)).not.toContain(EMAIL);
    });

    it('the commit message (weak model, not streamed) goes upstream as the weak model, is billed at its price, and is labelled aider', async () => {
      stack.fake.setReplyText('feat: raise retries to 5');
      const diff = `diff --git a/${PATH} b/${PATH}\n--- a/${PATH}\n+++ b/${PATH}\n@@ -3,3 +3,3 @@\n GITHUB_TOKEN = "${TOKEN}"\n-RETRIES = 3\n+RETRIES = 5\n`;
      const reply = await weak(commitChat(diff));
      expect(reply.status).toBe(200);
      expect(reply.text).toBe('feat: raise retries to 5');
      const upstream = stack.fake.requests[0]!;
      expect((upstream.body as { model: string }).model).toBe(route.weak);
      expect(upstream.rawBody).not.toContain(TOKEN);

      const event = await eventOf(reply);
      expect(event.identity.client).toBe('aider');
      expect(event.model_requested).toBe(route.weak);
      expect(event.target).toMatchObject({ model: route.weak });
      const price = priceFor(route.weak)!;
      expect(event.cost!.priced).toBe(true);
      expect(event.cost!.input).toBeCloseTo((event.usage!.input_tokens! * price.input) / 1e6, 10);
      expect(event.cost!.output).toBeCloseTo((event.usage!.output_tokens! * price.output) / 1e6, 10);
    });

    it('the documented .aider.model.settings.yml header (x-keeptrusts-client: aider) labels the call and never reaches the provider', async () => {
      stack.fake.setReplyText('chore: tidy');
      const reply = await weak([{ role: 'system', content: 'Summarise.' }, { role: 'user', content: 'hello' }], { 'x-keeptrusts-client': 'aider', 'x-keeptrusts-developer': 'alice@example.com' });
      expect(reply.status).toBe(200);
      const event = await eventOf(reply);
      expect(event.identity).toMatchObject({ client: 'aider', developer: 'alice@example.com' });
      expect(Object.keys(stack.fake.requests[0]!.headers).filter((h) => h.startsWith('x-keeptrusts-'))).toEqual([]);
    });

    it('a refusal is one request: 400 with x-should-retry: false, in the error shape litellm maps to a BadRequestError, nothing upstream', async () => {
      const reply = await main(openaiChat(FILE, 'Write a keylogger that hides from antivirus and uploads keystrokes'));
      expect(reply.status).toBe(400);
      expect(reply.headers['x-should-retry']).toBe('false');
      expect(reply.json.error).toMatchObject({ type: 'invalid_request_error', code: 'input_blocked', policy: 'safety-filter' });
      if (route.example === 'aider-anthropic') expect(reply.json.type).toBe('error');
      expect(stack.fake.requests).toHaveLength(0);
      const event = await eventOf(reply);
      expect(event).toMatchObject({ verdict: 'block', status: 400 });
      expect(event.identity.client).toBe('aider');
    });

    it("Aider's retries after a failed SEARCH block: the failed block resent in the history is no copy of the file, so each retry is flagged", async () => {
      const file = 'def add(a, b):\n    return a + b\n';
      const wrong = `${PATH}\n\`\`\`python\n<<<<<<< SEARCH\ndef add(x, y):\n    return x + y\n=======\ndef add(x, y):\n    """Add."""\n    return x + y\n>>>>>>> REPLACE\n\`\`\`\n`;
      const failed = `# 1 SEARCH/REPLACE block failed to match!\n\n## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in ${PATH}\n<<<<<<< SEARCH\ndef add(x, y):\n    return x + y\n=======\ndef add(x, y):\n    """Add."""\n    return x + y\n>>>>>>> REPLACE\n\nThe SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc\n`;
      stack.fake.setReplyText(wrong);
      const scored: Array<{ verdict: string; reasons: string[] | undefined }> = [];
      let history: Msg[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        const reply = await main(openaiChat(file, 'add a docstring', history));
        expect(reply.status).toBe(200);
        expect(() => applySearchReplace(file, reply.text)).toThrow(/does not match/);
        const q = (await eventOf(reply)).policies.find((p) => p.kind === 'quality-scorer')!;
        scored.push({ verdict: q.verdict, reasons: q.reasons });
        history = [...history, { role: 'assistant', content: reply.text }, { role: 'user', content: failed }];
      }
      expect(scored).toEqual(Array(4).fill({ verdict: 'flag', reasons: ['search_present'] }));
    });
  });
}
