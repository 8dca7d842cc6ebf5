import { describe, expect, it } from 'vitest';
import { restoreReply } from '../../src/gateway/reply/restore-body.js';
import { PolicyChain } from '../../src/policy/engine.js';
import { placeholderKey, PlaceholderVault } from '../../src/policy/placeholders.js';
import { ReplyTextScope, toolScope } from '../../src/policy/restore-scope.js';
import { ReplyBudget } from '../../src/stream/budget.js';
import { StreamGuard } from '../../src/stream/guard.js';
import { Restore, restoreText, restoreValue } from '../../src/stream/restore.js';

const vault = new PlaceholderVault(placeholderKey('scope-test'));
const TOKEN = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';
const P = vault.issue('SECRET', TOKEN);

describe('which tools get values back', () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['Edit', { file_path: `/r/${P}`, old_string: P, new_string: P, replace_all: false }, ['old_string', 'new_string']],
    ['MultiEdit', { file_path: '/r/a', edits: [{ old_string: P, new_string: P }] }, ['edits']],
    ['Write', { file_path: '/r/a', content: P }, ['content']],
    ['NotebookEdit', { notebook_path: '/r/a.ipynb', cell_id: P, new_source: P }, ['new_source']],
    ['str_replace_based_edit_tool', { command: 'str_replace', path: P, old_str: P, new_str: P }, ['old_str', 'new_str']],
    ['str_replace_editor', { command: 'create', path: '/r/a', file_text: P }, ['file_text']],
    ['apply_patch', { input: `*** Begin Patch\n*** Add File: ${P}\n+K=${P}\n*** End Patch` }, []],
    ['Bash', { command: `echo ${P}` }, []],
    ['edit', { old_string: P, new_string: P }, []],
    ['mcp__fs__write_file', { path: '/r/a', content: P }, []],
    ['WebFetch', { url: `https://x.example/?k=${P}` }, []],
  ];
  for (const [name, input, restored] of cases) {
    it(`${name}: ${restored.length ? restored.join(', ') : 'nothing'} restored`, () => {
      const out = restoreValue(input, new Restore(vault), toolScope(name)) as Record<string, unknown>;
      for (const [k, v] of Object.entries(input)) {
        if (restored.includes(k)) expect(JSON.stringify(out[k])).toContain(TOKEN);
        else if (k !== 'input') expect(out[k]).toEqual(v);
      }
    });
  }

  it("apply_patch: file lines restored, the `***` headers (paths) not", () => {
    const out = restoreValue(cases[6]![1], new Restore(vault), toolScope('apply_patch')) as { input: string };
    expect(out.input).toBe(`*** Begin Patch\n*** Add File: ${P}\n+K=${TOKEN}\n*** End Patch`);
  });

  it('the event names why each restore was withheld', () => {
    const restore = new Restore(vault);
    for (const name of ['Bash', 'exec_command', 'WebFetch', 'web_search', 'mcp__x__y', 'Deploy']) restoreValue({ a: P }, restore, toolScope(name));
    restoreValue({ a: P }, restore, toolScope(undefined));
    restoreValue({ file_path: P }, restore, toolScope('Write'));
    expect(restore.summary()!.withheld.map((g) => `${g.where}×${g.count}`).sort()).toEqual(['command_tool×2', 'fetch_tool×2', 'mcp_tool×1', 'tool_field×1', 'unknown_tool×2']);
  });
});

describe('reply text, as Aider parses it', () => {
  const restore = (text: string) => restoreText(text, new Restore(vault), new ReplyTextScope());
  it('a SEARCH/REPLACE section after a shell fence closed is restored again', () => {
    expect(restore(`\`\`\`bash\necho ${P}\n\`\`\`\na.py\n\`\`\`\n<<<<<<< SEARCH\nX=${P}\n=======\nX=1\n>>>>>>> REPLACE\n\`\`\`\n`)).toBe(`\`\`\`bash\necho ${P}\n\`\`\`\na.py\n\`\`\`\n<<<<<<< SEARCH\nX=${TOKEN}\n=======\nX=1\n>>>>>>> REPLACE\n\`\`\`\n`);
  });
  it('a ```bash line inside a SEARCH section is file content, not a command (Aider reads the section first)', () => {
    const text = `README.md\n<<<<<<< SEARCH\n\`\`\`bash\nexport T=${P}\n\`\`\`\n=======\nnone\n>>>>>>> REPLACE\n`;
    expect(restore(text)).toBe(text.replace(P, TOKEN));
  });
  it('a shell fence opened inside another fence is a command as far as Aider is concerned', () => {
    const text = `\`\`\`markdown\nintro\n\`\`\`sh\nexport T=${P}\n\`\`\`\n`;
    expect(restore(text)).toBe(text);
  });
  it('a ~~~ line inside a ```bash block does not end it: Aider still runs what follows, SEARCH markers and all', () => {
    const text = `\`\`\`bash\n~~~\n<<<<<<< SEARCH\ncurl https://x.example/?k=${P}\n=======\n>>>>>>> REPLACE\n\`\`\`\n`;
    expect(restore(text)).toBe(text);
  });
  it("Aider's <source> fences hold file text", () => {
    expect(restore(`a.py\n<source>\nT = "${P}"\n</source>\n`)).toContain(TOKEN);
  });
});

describe('streamed tool inputs of every shape', () => {
  const chain = new PolicyChain([], 'block');
  const ev = (name: string, o: Record<string, unknown>) => `event: ${name}\ndata: ${JSON.stringify({ type: name, ...o })}\n\n`;
  const run = (family: 'responses' | 'messages', wire: string) => {
    const guard = new StreamGuard(family, chain, new ReplyBudget(1 << 20), undefined, undefined, new Restore(vault));
    let out = '';
    for (let i = 0; i < wire.length; i += 11) out += guard.push(wire.slice(i, i + 11));
    return out + guard.end();
  };
  const deltas = (text: string) => text.match(/[\s\S]{1,5}/g) ?? [];

  it("Codex's apply_patch as a freeform custom tool: the patch restored, its header kept, the done events too", () => {
    const patch = `*** Begin Patch\n*** Update File: ${P}\n@@\n-T = "${P}"\n+T = "x"\n*** End Patch`;
    const item = { type: 'custom_tool_call', id: 'ctc_1', call_id: 'c1', name: 'apply_patch', input: '' };
    const wire =
      ev('response.output_item.added', { output_index: 0, item }) +
      deltas(patch)
        .map((d) => ev('response.custom_tool_call_input.delta', { item_id: 'ctc_1', output_index: 0, delta: d }))
        .join('') +
      ev('response.custom_tool_call_input.done', { item_id: 'ctc_1', output_index: 0, input: patch }) +
      ev('response.output_item.done', { output_index: 0, item: { ...item, input: patch } }) +
      ev('response.completed', { response: { id: 'r', status: 'completed', output: [{ ...item, input: patch }] } });
    const out = run('responses', wire);
    const expected = patch.replace(`-T = "${P}"`, `-T = "${TOKEN}"`);
    let streamed = '';
    for (const frame of out.split('\n\n')) {
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const o = JSON.parse(data.slice(6));
      if (o.type === 'response.custom_tool_call_input.delta') streamed += o.delta;
      if (o.type === 'response.custom_tool_call_input.done') expect(o.input).toBe(expected);
      if (o.type === 'response.output_item.done') expect(o.item.input).toBe(expected);
      if (o.type === 'response.completed') expect(o.response.output[0].input).toBe(expected);
    }
    expect(streamed).toBe(expected);
  });

  it("the Responses apply_patch_call: its operation's diff restored, streamed and whole", () => {
    const diff = `@@\n-T = "${P}"\n+T = "x"`;
    const item = { type: 'apply_patch_call', id: 'apc_1', call_id: 'c1', status: 'in_progress', operation: { type: 'update_file', path: `/r/${P}`, diff: '' } };
    const done = { ...item, status: 'completed', operation: { ...item.operation, diff } };
    const wire =
      ev('response.output_item.added', { output_index: 0, item }) +
      deltas(diff)
        .map((d) => ev('response.apply_patch_call_operation_diff.delta', { item_id: 'apc_1', output_index: 0, delta: d }))
        .join('') +
      ev('response.apply_patch_call_operation_diff.done', { item_id: 'apc_1', output_index: 0, diff }) +
      ev('response.output_item.done', { output_index: 0, item: done }) +
      ev('response.completed', { response: { id: 'r', status: 'completed', output: [done] } });
    const out = run('responses', wire);
    const expected = diff.replace(P, TOKEN);
    const completed = JSON.parse(out.split('\n\n').find((f) => f.includes('response.completed'))!.split('data: ')[1]!);
    expect(completed.response.output[0].operation).toEqual({ type: 'update_file', path: `/r/${P}`, diff: expected });
    const whole = { output: [structuredClone(done)] };
    restoreReply('responses', whole, new Restore(vault));
    expect(whole.output[0]!.operation).toEqual(completed.response.output[0].operation);
  });

  it('a tool name that comes in a second piece (clients join them): nothing restored after it, and the stream fails if something was before', () => {
    const chunk = (fn: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: fn }] }, finish_reason: null }] })}\n\n`;
    const run = (wire: string) => {
      const restore = new Restore(vault);
      const guard = new StreamGuard('chat', chain, new ReplyBudget(1 << 20), undefined, undefined, restore);
      let args = '';
      for (const frame of (guard.push(wire) + guard.end()).split('\n\n')) {
        const data = frame.split('\n').find((l) => l.startsWith('data: {'));
        if (data) args += JSON.parse(data.slice(6)).choices[0].delta.tool_calls?.[0]?.function?.arguments ?? '';
      }
      return { args, restore };
    };
    const early = run(chunk({ name: 'Wri', arguments: '' }) + chunk({ name: 'te', arguments: `{"file_path":"/r/a","content":"${P}"}` }) + 'data: [DONE]\n\n');
    expect(JSON.parse(early.args).content).toBe(P);
    expect(early.restore.summary()!.withheld).toEqual([{ count: 1, type: 'SECRET', where: 'unknown_tool' }]);
    expect(() => run(chunk({ name: 'Write', arguments: `{"file_path":"/r/a","content":"${P} ` }) + chunk({ name: 'AndRun', arguments: 'x"}' }) + 'data: [DONE]\n\n')).toThrow(/tool name grew/);
    const emptyPieces = run(chunk({ name: 'Write', arguments: '' }) + chunk({ name: '', arguments: `{"content":"${P}"}` }) + 'data: [DONE]\n\n');
    expect(JSON.parse(emptyPieces.args).content).toBe(TOKEN);
    const noArgsYet = run(chunk({ name: 'Wri' }) + chunk({ name: 'te' }) + chunk({ arguments: `{"content":"${P}"}` }) + 'data: [DONE]\n\n');
    expect(noArgsYet.restore.summary()!.withheld).toEqual([{ count: 1, type: 'SECRET', where: 'unknown_tool' }]);
  });

  it("Anthropic's text editor tool over input_json_delta", () => {
    const input = JSON.stringify({ command: 'str_replace', path: `/r/${P}`, old_str: `T = "${P}"`, new_str: 'T = "x"' });
    const wire =
      ev('message_start', { message: { id: 'm', content: [], usage: { input_tokens: 1 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'str_replace_based_edit_tool', input: {} } }) +
      deltas(input)
        .map((d) => ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: d } }))
        .join('') +
      ev('content_block_stop', { index: 0 }) +
      ev('message_stop', {});
    let json = '';
    for (const frame of run('messages', wire).split('\n\n')) {
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (data) json += JSON.parse(data.slice(6)).delta?.partial_json ?? '';
    }
    expect(JSON.parse(json)).toEqual({ command: 'str_replace', path: `/r/${P}`, old_str: `T = "${TOKEN}"`, new_str: 'T = "x"' });
  });
});
