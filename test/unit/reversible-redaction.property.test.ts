import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { documentSchema } from '../../src/config/schema.js';
import { restoreReply } from '../../src/gateway/reply/restore-body.js';
import { buildChain } from '../../src/policy/build.js';
import { PLACEHOLDER, placeholderKey, placeholderLabel, placeholderTail, PlaceholderVault } from '../../src/policy/placeholders.js';
import { ReplyTextScope, toolScope } from '../../src/policy/restore-scope.js';
import { writeBack, type Segment } from '../../src/protocol/content.js';
import { responseSegments } from '../../src/protocol/families.js';
import type { Family } from '../../src/providers/targets.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';
import { JsonRestorer, Restore, restoreText, restoreValue, TextRestorer } from '../../src/stream/restore.js';

const KEY = placeholderKey('installation-a');

/** Cut `text` at the given fractions. */
function split(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * text.length)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(text.slice(prev, p));
    prev = p;
  }
  out.push(text.slice(prev));
  return out;
}
const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 });

function streamed(restorer: TextRestorer | JsonRestorer, pieces: readonly string[]): string {
  let out = '';
  for (const p of pieces) out += restorer.push(p);
  return out + restorer.flush();
}

const TYPES = ['EMAIL', 'PHONE', 'SSN', 'CREDIT_CARD', 'IBAN', 'IP_ADDRESS', 'NPI', 'MRN', 'INSURANCE_ID', 'SECRET', 'BLOCKED_TERM', 'CLASSIFICATION_MARKER', 'CUSTOM_1', 'employee-id'];
/** Values as detectors hand them over: no line breaks (a restored value with one would change the lines the client parses). */
const value = fc.string({ unit: fc.constantFrom('a', 'Z', '7', '@', '.', '-', '_', ':', '/', '+', '=', ' ', 'é', '"', '\\'), minLength: 1, maxLength: 40 });

describe('placeholders', () => {
  it('a value gets the same placeholder in every request of an installation, another in another installation', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TYPES), value, (type, v) => {
        const a = new PlaceholderVault(KEY).issue(type, v);
        expect(new PlaceholderVault(KEY).issue(type, v)).toBe(a);
        expect(new PlaceholderVault(placeholderKey('installation-b')).issue(type, v)).not.toBe(a);
        expect(a.match(PLACEHOLDER)).toEqual([a]);
        expect(a.startsWith(`[${placeholderLabel(type)}_`)).toBe(true);
      }),
    );
  });

  it('distinct values get distinct placeholders, and each restores its own value', () => {
    fc.assert(
      fc.property(fc.uniqueArray(value, { minLength: 2, maxLength: 50 }), (values) => {
        const vault = new PlaceholderVault(KEY);
        const placeholders = values.map((v) => vault.issue('SECRET', v));
        expect(new Set(placeholders).size).toBe(values.length);
        placeholders.forEach((p, i) => expect(vault.lookup(p)).toEqual({ value: values[i], type: 'SECRET' }));
      }),
    );
  });

  it('placeholderTail finds every unfinished placeholder at the end of a text, and nothing else', () => {
    const p = new PlaceholderVault(KEY).issue('CREDIT_CARD', '4539 1488 0343 6467');
    for (let i = 1; i < p.length; i++) expect(placeholderTail(`card: ${p.slice(0, i)}`)).toBe(6);
    expect(placeholderTail(`card: ${p}`)).toBe(-1);
    expect(placeholderTail('arr[i')).toBe(-1);
    expect(placeholderTail('no brackets at all')).toBe(-1);
  });

  it('the built-in detectors find nothing in a placeholder, wherever values sit (so output policies pass it and the next turn keeps it)', () => {
    const config = documentSchema().parse({
      pack: { name: 't', version: '1' },
      policies: { chain: ['pii-detector', 'code-sanitizer', 'dlp-filter', 'prompt-injection'] },
      policy: { 'pii-detector': { healthcare_mode: true, ignore_rules: [] }, 'dlp-filter': { sensitivity_level: 'restricted' } },
      providers: { targets: [{ id: 'a', provider: 'openai' }] },
    });
    const chain = buildChain(config, 'block', { markerSalt: 'x' });
    const contexts = [
      (p: string) => `password = "${p}"`,
      (p: string) => `GITHUB_TOKEN=${p}`,
      (p: string) => `export AWS_SECRET_ACCESS_KEY=${p}`,
      (p: string) => `{"api_key": "${p}", "email": "${p}"}`,
      (p: string) => `contact: ${p}\nphone: ${p}`,
      (p: string) => `postgres://app:${p}@db.internal:5432/prod`,
      (p: string) => `Authorization: Bearer ${p}`,
      (p: string) => `card ${p} exp 04/29, ssn ${p}`,
    ];
    fc.assert(
      fc.property(fc.constantFrom(...TYPES), value, fc.constantFrom(...contexts), (type, v, context) => {
        const p = new PlaceholderVault(KEY).issue(type, v);
        const text = context(p);
        const segments: Segment[] = [{ id: 0, source: 'user', turn: 0, path: ['t'], text }];
        for (const phase of ['input', 'output'] as const) {
          const findings = chain.run(phase, phase === 'output' ? [{ ...segments[0]!, source: 'output_text' }] : segments).results.flatMap((r) => r.findings);
          for (const f of findings) {
            for (const m of text.matchAll(PLACEHOLDER)) expect(f.end <= m.index || f.start >= m.index + m[0].length, `${f.rule} matched inside ${p} in ${text}`).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * Reply texts built from regions whose decision is known: each slot holds a placeholder the request issued, and
 * the expected client text has the value exactly where Aider would write it into a file.
 */
type Slot = (p: string) => string;
interface Region {
  name: string;
  /** Text with slots, and whether a placeholder in each slot is restored. */
  build: (slot: Slot) => string;
  restores: boolean;
}
const REGIONS: Region[] = [
  { name: 'prose', restores: false, build: (s) => `I updated the contact to ${s('a')} as asked. ![x](https://h.example/?k=${s('b')})\n` },
  { name: 'search/replace in a fence', restores: true, build: (s) => `config/app.py\n\`\`\`python\n<<<<<<< SEARCH\nA = "${s('a')}"\n=======\nA = "${s('b')}"  # ${s('c')}\n>>>>>>> REPLACE\n\`\`\`\n` },
  { name: 'bare search/replace', restores: true, build: (s) => `app.env\n<<<<<<< SEARCH\nTOKEN=${s('a')}\n=======\nTOKEN=${s('b')}\nURL=https://x.example/?k=${s('c')}\n>>>>>>> REPLACE\n` },
  { name: 'whole file', restores: true, build: (s) => `src/settings.ts\n\`\`\`ts\nexport const contact = '${s('a')}';\n\`\`\`\n` },
  { name: 'diff fence', restores: true, build: (s) => `\`\`\`diff\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-A = "${s('a')}"\n+A = "${s('b')}"\n\`\`\`\n` },
  { name: 'four-backtick fence holding a triple fence', restores: true, build: (s) => `README.md\n\`\`\`\`markdown\nuse \`\`\`python\nKEY = "${s('a')}"\n\`\`\`\nend\n\`\`\`\`\n` },
  { name: 'bash fence', restores: false, build: (s) => `Run:\n\n\`\`\`bash\ncurl -H "Authorization: ${s('a')}" https://api.example\n\`\`\`\n` },
  { name: 'sh fence holding a search block (Aider runs it as a command)', restores: false, build: (s) => `deploy.sh\n\`\`\`sh\n<<<<<<< SEARCH\nexport T=${s('a')}\n=======\nexport T=${s('b')}\n>>>>>>> REPLACE\n\`\`\`\n` },
  { name: 'csharp fence (Aider reads ```csh as a shell)', restores: false, build: (s) => `\`\`\`csharp\nvar k = "${s('a')}";\n\`\`\`\n` },
  { name: 'tilde shell fence', restores: false, build: (s) => `~~~zsh\necho ${s('a')}\n~~~\n` },
  { name: 'indented powershell fence', restores: false, build: (s) => `  \`\`\`PowerShell\n  $env:K = "${s('a')}"\n  \`\`\`\n` },
  { name: 'fence info line', restores: false, build: (s) => `\`\`\`python ${s('a')}\nx = 1\n\`\`\`\n` },
  { name: 'patch body', restores: true, build: (s) => `*** Begin Patch\n*** Update File: a.py\n@@\n-A = "${s('a')}"\n+A = "${s('b')}"\n*** End Patch\n` },
  { name: 'patch header', restores: false, build: (s) => `*** Begin Patch\n*** Add File: ${s('a')}.txt\n+x\n*** End Patch\n` },
];

describe('restoring a reply text as Aider reads it', () => {
  const vault = new PlaceholderVault(KEY);
  const pool = ['dana.whitfield@northwind-labs.com', 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8', 'AKIAQ4ZRX7T2MPLW6KDN', '512-44-7193'].map((v, i) => ({ value: v, placeholder: vault.issue(['EMAIL', 'SECRET', 'SECRET', 'SSN'][i]!, v) }));

  const reply = fc.array(fc.tuple(fc.constantFrom(...REGIONS), fc.array(fc.constantFrom(...pool), { minLength: 3, maxLength: 3 })), { minLength: 1, maxLength: 6 }).map((regions) => {
    let text = '';
    let expected = '';
    let restored = 0;
    let withheld = 0;
    for (const [region, picks] of regions) {
      const used = new Set<string>();
      const slot = (restore: boolean) => (name: string) => {
        const pick = picks['abc'.indexOf(name)]!;
        used.add(name);
        return restore ? pick.value : pick.placeholder;
      };
      text += region.build(slot(false));
      expected += region.build(slot(region.restores));
      if (region.restores) restored += used.size;
      else withheld += used.size;
    }
    return { text, expected, restored, withheld };
  });

  it('whole or split anywhere: the value exactly in edits, the placeholder in prose, shell fences and headers', () => {
    fc.assert(
      fc.property(reply, cuts, ({ text, expected, restored, withheld }, at) => {
        const whole = new Restore(vault);
        expect(restoreText(text, whole, new ReplyTextScope())).toBe(expected);
        const summary = whole.summary()!;
        expect(summary.restored.reduce((n, g) => n + g.count, 0)).toBe(restored);
        expect(summary.withheld.reduce((n, g) => n + g.count, 0)).toBe(withheld);
        expect(streamed(new TextRestorer(new Restore(vault), new ReplyTextScope()), split(text, at))).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });

  it('a placeholder the request did not issue, or one altered in any way, is never restored', () => {
    const real = pool[0]!.placeholder;
    const alter = fc.oneof(
      fc.integer({ min: 0, max: real.length - 1 }).map((i) => real.slice(0, i) + (real[i] === 'q' ? 'r' : 'q') + real.slice(i + 1)),
      fc.integer({ min: 1, max: real.length - 2 }).map((i) => real.slice(0, i) + real.slice(i + 1)),
      fc.integer({ min: 1, max: real.length - 1 }).map((i) => real.slice(0, i) + ' ' + real.slice(i)),
      fc.constant(real.toUpperCase()),
      fc.constant(real.replace('EMAIL', 'PHONE')),
      fc.stringMatching(/^[a-z]{10}$/).map((s) => `[EMAIL_${s}]`),
    );
    fc.assert(
      fc.property(alter, cuts, (fake, at) => {
        fc.pre(fake !== real);
        const text = `a.py\n\`\`\`python\n<<<<<<< SEARCH\nA = "${fake}"\n=======\nB = "${fake}"\n>>>>>>> REPLACE\n\`\`\`\n`;
        const restore = new Restore(vault);
        expect(streamed(new TextRestorer(restore, new ReplyTextScope()), split(text, at))).toBe(text);
        expect(restore.ledger.restoredCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe("restoring inside a tool call's JSON input", () => {
  const vault = new PlaceholderVault(KEY);
  const email = vault.issue('EMAIL', 'dana "the boss" <dana@x.io>\\n');
  const token = vault.issue('SECRET', 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8');
  const char = fc.constantFrom('a', ' ', '"', '\\', '\n', '\t', '/', 'é', '😀', '\u0001', '[', ']', '_', 'Z');
  const text = fc.array(fc.oneof(fc.string({ unit: char, maxLength: 6 }), fc.constantFrom(email, token, '[EMAIL_zzzzzzzzzz]')), { maxLength: 6 }).map((parts) => parts.join(''));
  const inputs = fc.oneof(
    fc.record({ file_path: text, old_string: text, new_string: text }).map((input) => ({ name: 'Edit', input })),
    fc.record({ file_path: text, edits: fc.array(fc.record({ old_string: text, new_string: text }), { maxLength: 3 }) }).map((input) => ({ name: 'MultiEdit', input })),
    fc.record({ file_path: text, content: text }).map((input) => ({ name: 'Write', input })),
    fc.record({ command: text, description: text }).map((input) => ({ name: 'Bash', input })),
    fc.record({ input: text }).map((input) => ({ name: 'apply_patch', input })),
  );
  /** The same JSON, written the ways providers write it: plain, or with non-ASCII and `/` escaped. */
  const encode = (value: unknown, escaped: boolean) => {
    const json = JSON.stringify(value);
    return escaped ? json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replaceAll('/', '\\/') : json;
  };

  it('split anywhere, escaped any way: the arguments parse, and equal the whole input restored field by field', () => {
    fc.assert(
      fc.property(inputs, fc.boolean(), cuts, ({ name, input }, escaped, at) => {
        const json = encode(input, escaped);
        const out = streamed(new JsonRestorer(new Restore(vault), toolScope(name)), split(json, at));
        const parsed = JSON.parse(out) as unknown;
        expect(parsed).toEqual(restoreValue(input, new Restore(vault), toolScope(name)));
        if (name === 'Bash') expect(parsed).toEqual(input);
        // Paths are never restored; content fields are.
        const record = parsed as { file_path?: string; new_string?: string; content?: string };
        if (record.file_path !== undefined) expect(record.file_path).toBe((input as { file_path: string }).file_path);
        const content = (input as { new_string?: string; content?: string }).new_string ?? (input as { content?: string }).content;
        if (content !== undefined && name !== 'Bash') expect(record.new_string ?? record.content).not.toContain(token);
      }),
      { numRuns: 400 },
    );
  });
});

// ---- StreamGuard: a streamed reply restored equals the whole reply restored ----

const config = documentSchema().parse({
  pack: { name: 't', version: '1' },
  policies: { chain: ['pii-detector', 'code-sanitizer'] },
  policy: { 'pii-detector': { redaction: { mode: 'reversible' } }, 'code-sanitizer': { redaction: { mode: 'reversible' } } },
  providers: { targets: [{ id: 'a', provider: 'openai' }] },
});
const chain = buildChain(config, 'block', { markerSalt: 'installation-a' });

/** The reply as a whole body and as SSE frames, for one family: a text and one Edit tool call. */
function bodies(family: Family, text: string, args: string, textCuts: readonly number[], argCuts: readonly number[]): { json: Record<string, any>; sse: string } {
  const t = split(text, textCuts);
  const a = split(args, argCuts);
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const ev = (name: string, o: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify(o)}\n\n`;
  if (family === 'chat') {
    const chunk = (delta: unknown, finish: string | null = null) => data({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
    return {
      json: { choices: [{ index: 0, message: { role: 'assistant', content: text, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'Edit', arguments: args } }] }, finish_reason: 'tool_calls' }] },
      sse:
        chunk({ role: 'assistant', content: '' }) +
        t.map((p) => chunk({ content: p })).join('') +
        chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'Edit', arguments: '' } }] }) +
        a.map((p) => chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] })).join('') +
        chunk({}, 'tool_calls') +
        'data: [DONE]\n\n',
    };
  }
  if (family === 'messages') {
    return {
      json: { content: [{ type: 'text', text }, { type: 'tool_use', id: 'toolu_1', name: 'Edit', input: JSON.parse(args) }] },
      sse:
        ev('message_start', { type: 'message_start', message: { id: 'm', content: [], usage: { input_tokens: 1 } } }) +
        ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
        t.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } })).join('') +
        ev('content_block_stop', { type: 'content_block_stop', index: 0 }) +
        ev('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'Edit', input: {} } }) +
        a.map((p) => ev('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: p } })).join('') +
        ev('content_block_stop', { type: 'content_block_stop', index: 1 }) +
        ev('message_stop', { type: 'message_stop' }),
    };
  }
  const message = { type: 'message', id: 'msg_1', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] };
  const call = { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'Edit', arguments: args };
  const r = (name: string, o: Record<string, unknown>) => ev(name, { type: name, ...o });
  return {
    json: { output: [message, call] },
    sse:
      r('response.output_item.added', { output_index: 0, item: { ...message, content: [] } }) +
      t.map((p) => r('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: p })).join('') +
      r('response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text }) +
      r('response.output_item.done', { output_index: 0, item: message }) +
      r('response.output_item.added', { output_index: 1, item: { ...call, arguments: '' } }) +
      a.map((p) => r('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 1, delta: p })).join('') +
      r('response.function_call_arguments.done', { item_id: 'fc_1', output_index: 1, arguments: args }) +
      r('response.output_item.done', { output_index: 1, item: call }) +
      r('response.completed', { response: { id: 'resp_1', status: 'completed', output: [message, call] } }),
  };
}

/** What the client ends up with: the text, and the tool call's arguments as it parses them; Responses' final copy too. */
function received(family: Family, wire: string): { text: string; input: unknown; final?: unknown } {
  let text = '';
  let args = '';
  let final: unknown;
  for (const frame of wire.split('\n\n')) {
    const line = frame.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
    if (!line || line === '[DONE]') continue;
    const o = JSON.parse(line);
    if (family === 'chat') {
      text += o.choices?.[0]?.delta?.content ?? '';
      args += o.choices?.[0]?.delta?.tool_calls?.[0]?.function?.arguments ?? '';
    } else if (family === 'messages') {
      text += o.delta?.text ?? '';
      args += o.delta?.partial_json ?? '';
    } else if (o.type === 'response.output_text.delta') text += o.delta;
    else if (o.type === 'response.function_call_arguments.delta') args += o.delta;
    else if (o.type === 'response.completed') final = { text: o.response.output[0].content[0].text, input: JSON.parse(o.response.output[1].arguments) };
  }
  return { text, input: JSON.parse(args), ...(final !== undefined ? { final } : {}) };
}

describe('StreamGuard with the restore stage: any split of a reply gives the client what the whole reply gives', () => {
  const vault = new PlaceholderVault(placeholderKey('installation-a'));
  // The request's input phase: its values become the placeholders the model then quotes.
  const request: Segment[] = [{ id: 0, source: 'user', turn: 0, path: ['t'], text: 'SUPPORT = "dana.whitfield@northwind-labs.com"\nTOKEN = "ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8"' }];
  const holder = { t: request[0]!.text };
  writeBack(holder, request, chain.run('input', request, undefined, vault).edits);
  const [email, token] = [...holder.t.matchAll(PLACEHOLDER)].map((m) => m[0]);
  // A secret the model writes itself: masked by the output policy, never restored.
  const ownSecret = 'sk_live_51Hc8YzKq2Lm4Np6Rs8Tu0Vw2Xy4Za6Bc8De0Fg2Hi4Jk6Lm8No';
  const filler = fc.stringMatching(/^[a-z .\n]{0,30}$/);
  const piece = fc.constantFrom(email!, token!, ownSecret, '[SECRET_aaaaaaaaaa]');
  const content = fc.array(fc.tuple(filler, piece), { maxLength: 4 }).map((ps) => ps.map(([f, p]) => `${f} ${p}`).join(''));
  const replyText = fc.tuple(content, content, content).map(([prose, search, shell]) => `Sure: ${prose}\n\nsettings.py\n\`\`\`python\n<<<<<<< SEARCH\n${search}\n=======\n${search}!\n>>>>>>> REPLACE\n\`\`\`\n\n\`\`\`bash\n${shell}\n\`\`\`\n`);
  const editArgs = fc.tuple(content, content).map(([a, b]) => JSON.stringify({ file_path: `/r/${a}`, old_string: a, new_string: `${b}\n"${a}"` }));

  for (const family of ['chat', 'messages', 'responses'] as const) {
    it(family, () => {
      fc.assert(
        fc.property(replyText, editArgs, cuts, cuts, fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 30 }), (text, args, tc, ac, byteCuts) => {
          const { json, sse } = bodies(family, text, args, tc, ac);
          // The whole reply: output policies, then the restore stage.
          const segs = responseSegments(family, json);
          writeBack(json, segs, chain.run('output', segs).edits);
          restoreReply(family, json, new Restore(vault));
          const whole = family === 'chat' ? { text: json.choices[0].message.content, input: JSON.parse(json.choices[0].message.tool_calls[0].function.arguments) } : family === 'messages' ? { text: json.content[0].text, input: json.content[1].input } : { text: json.output[0].content[0].text, input: JSON.parse(json.output[1].arguments) };

          const guard = new StreamGuard(family, chain, new ReplyBudget(1 << 26), undefined, undefined, new Restore(vault));
          let out = '';
          let pos = 0;
          for (const n of byteCuts) {
            out += guard.push(sse.slice(pos, pos + n * 23));
            pos += n * 23;
          }
          out += guard.push(sse.slice(pos)) + guard.end();
          const got = received(family, out);
          expect(got.text).toBe(whole.text);
          expect(got.input).toEqual(whole.input);
          if (family === 'responses') expect(got.final).toEqual(whole);
          expect(out).not.toContain(ownSecret);
          // The guard's own view (capture, scoring) keeps the placeholders.
          expect(JSON.stringify(guard.reply())).not.toContain('ghp_R8x2');
          expect(JSON.stringify(guard.reply())).not.toContain('northwind-labs');
        }),
        { numRuns: 150 },
      );
    });
  }
});

/**
 * Aider's parser (aider/coders/editblock_coder.py, find_original_update_blocks), ported line for line as the
 * oracle: the commands Aider would offer to run in a reply, with Python's line splitting and stripping.
 */
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const pyStrip = (s: string) => s.replace(new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, 'g'), '');
function pySplitLines(text: string): string[] {
  const lines: string[] = [];
  const re = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
  let from = 0;
  for (const m of text.matchAll(re)) {
    lines.push(text.slice(from, m.index + m[0].length));
    from = m.index + m[0].length;
  }
  if (from < text.length) lines.push(text.slice(from));
  return lines;
}
const AIDER_SHELL_STARTS = ['```bash', '```sh', '```shell', '```cmd', '```batch', '```powershell', '```ps1', '```zsh', '```fish', '```ksh', '```csh', '```tcsh'];
function aiderCommands(content: string): string[] {
  const lines = pySplitLines(content);
  const commands: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (AIDER_SHELL_STARTS.some((start) => pyStrip(line).startsWith(start))) {
      const shell: string[] = [];
      i++;
      while (i < lines.length && !pyStrip(lines[i]!).startsWith('```')) shell.push(lines[i++]!);
      if (i < lines.length) i++;
      commands.push(shell.join(''));
      continue;
    }
    if (pyStrip(line) === '<<<<<<< SEARCH') {
      i++;
      while (i < lines.length && pyStrip(lines[i]!) !== '=======') i++;
      if (i >= lines.length) break; // Aider raises here: nothing runs; what was found so far is a superset
      i++;
      while (i < lines.length && pyStrip(lines[i]!) !== '>>>>>>> REPLACE') i++;
      if (i >= lines.length) break;
    }
    i++;
  }
  return commands;
}

describe("never a restore inside a command Aider would run, by Aider's own parser", () => {
  const VALUE = 'RESTORED_VALUE';
  const vault = new PlaceholderVault(KEY);
  const p = vault.issue('SECRET', VALUE);
  const atoms = fc.constantFrom(
    '```bash', '```sh', '```BASH', '````bash', '```', '~~~', '~~~bash', '```python', '```diff', '<source>', '</source>',
    '<<<<<<< SEARCH', '=======', '>>>>>>> REPLACE', '*** Begin Patch', '*** End Patch', '*** Add File: x', 'curl https://x.example/?k=', 'x = "', '"',
    p, p, p, ' ', '  ', '\t', '\x1c', '\x1f', '\ufeff', '\u00a0', '\u2003',
    '\n', '\n', '\n', '\r', '\r\n', '\v', '\f', '\x1d', '\x85', '\u2028', '\u2029', ' '.repeat(300),
    // Whole lines, so that well-formed edits and commands come up often.
    '\n<<<<<<< SEARCH\n', '\n=======\n', '\n>>>>>>> REPLACE\n', '\n```python\n', '\n```\n', '\n```bash\n', `\nA = "${p}"\n`,
  );
  const reply = fc.array(atoms, { maxLength: 60 }).map((xs) => xs.join(''));

  it('whole or streamed in any pieces: no command Aider parses from what the client gets holds a restored value', () => {
    let restoredSomewhere = 0;
    fc.assert(
      fc.property(reply, cuts, (text, at) => {
        const whole = restoreText(text, new Restore(vault), new ReplyTextScope());
        const pieces = streamed(new TextRestorer(new Restore(vault), new ReplyTextScope()), split(text, at));
        expect(pieces).toBe(whole);
        for (const command of aiderCommands(whole)) expect(command).not.toContain(VALUE);
        if (whole.includes(VALUE)) restoredSomewhere++;
      }),
      { numRuns: 3000 },
    );
    // The property is not vacuous: edits in these texts do get values back.
    expect(restoredSomewhere).toBeGreaterThan(50);
  });

  it('the cases that fooled a reader splitting on \\n only', () => {
    for (const text of [
      `x\r\`\`\`bash\r<<<<<<< SEARCH\r${p}\r=======\r>>>>>>> REPLACE\r\`\`\`\r`,
      `\x1c\`\`\`bash\n<<<<<<< SEARCH\ncurl ${p}\n=======\n>>>>>>> REPLACE\n\`\`\`\n`,
      `<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE${' '.repeat(300)}\n\`\`\`bash\ncurl ${p}\n\`\`\`\n`,
      `${' '.repeat(300)}\`\`\`bash\n<<<<<<< SEARCH\ncurl ${p}\n=======\n>>>>>>> REPLACE\n\`\`\`\n`,
      `\`\`\`bash\n\ufeff\`\`\`\n<<<<<<< SEARCH\ncurl ${p}\n=======\n>>>>>>> REPLACE\n\`\`\`\n`,
    ]) {
      const out = restoreText(text, new Restore(vault), new ReplyTextScope());
      for (const command of aiderCommands(out)) expect(command, JSON.stringify(text)).not.toContain(VALUE);
    }
  });
});
