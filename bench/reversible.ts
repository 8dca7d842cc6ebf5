/**
 * What reversible redaction costs per request, on a typical Aider turn: the gateway's own work on the request
 * (content view, input chain, edits, serialisation) and on the reply (StreamGuard over the streamed reply, or
 * the whole-reply check), with `redaction.mode: mask` and with `reversible`. In-process and single-threaded, so
 * the numbers are the CPU the stages take, without sockets or the upstream.
 *
 *   node --import tsx bench/reversible.ts
 */
import { documentSchema } from '../src/config/schema.js';
import { restoreReply } from '../src/gateway/reply/restore-body.js';
import { buildChain } from '../src/policy/build.js';
import type { PolicyChain } from '../src/policy/engine.js';
import { PLACEHOLDER } from '../src/policy/placeholders.js';
import { writeBack } from '../src/protocol/content.js';
import { requestView, responseView } from '../src/protocol/families.js';
import { ReplyBudget } from '../src/stream/budget.js';
import { StreamGuard } from '../src/stream/guard.js';
import { Restore } from '../src/stream/restore.js';

const EMAIL = 'dana.whitfield@northwind-labs.com';
const TOKEN = 'ghp_R8x2Lk9QvT4mZ7wN1pYc6Hd3Jf5Bs0Ga2Ue8';

function chainFor(mode: 'mask' | 'reversible'): PolicyChain {
  const config = documentSchema().parse({
    pack: { name: 'bench', version: '1' },
    policies: { chain: ['pii-detector', 'code-sanitizer', 'prompt-injection'] },
    policy: { 'pii-detector': { redaction: { mode } }, 'code-sanitizer': { redaction: { mode } } },
    providers: { targets: [{ id: 'a', provider: 'openai' }] },
  });
  return buildChain(config, 'block', { markerSalt: 'bench' });
}

/** Aider's chat-completions layout (research/aider.md): 7 messages, about 11 KB, a file with an e-mail address and a token. */
function aiderRequest(turn: number): string {
  const file = ['# service settings', `SUPPORT_CONTACT = "${EMAIL}"`, `GITHUB_TOKEN = "${TOKEN}"`, 'RETRIES = 3', ...Array.from({ length: 60 }, (_, i) => `def handler_${i}(req):\n    return respond(req, status=${200 + (i % 5)})`)].join('\n');
  return JSON.stringify({
    model: 'gpt-4o',
    stream: true,
    temperature: 0,
    messages: [
      { role: 'system', content: 'Act as an expert software developer. Always use best practices when coding. '.repeat(90) },
      { role: 'user', content: `Here are summaries of some files present in my git repository.\n${'src/app.py:\n│def main(): ...\n'.repeat(40)}` },
      { role: 'assistant', content: "Ok, I won't try and edit those files without asking first." },
      { role: 'user', content: `I have *added these files to the chat* so you can go ahead and edit them.\n\nconfig/settings.py\n\`\`\`\n${file}\n\`\`\`\n` },
      { role: 'assistant', content: 'Ok, any changes I propose will be to those files.' },
      { role: 'user', content: `raise the retries to ${turn}` },
      { role: 'system', content: '# *SEARCH/REPLACE block* Rules:\nEvery *SEARCH/REPLACE block* must use this format: ... '.repeat(30) },
    ],
  });
}

/** The model's reply, as chat SSE in 8-character deltas (the fake upstream's default), quoting what it was sent. */
function replyFrames(seenFile: string): { sse: string; whole: Record<string, unknown> } {
  const lines = seenFile.split('\n');
  const search = lines.slice(0, 4).join('\n');
  const text = `I'll raise the retries.\n\nconfig/settings.py\n\`\`\`python\n<<<<<<< SEARCH\n${search}\n=======\n${search.replace('RETRIES = 3', 'RETRIES = 5')}\n>>>>>>> REPLACE\n\`\`\`\n\nThen run the tests:\n\n\`\`\`bash\npytest -q\n\`\`\`\n`;
  let sse = '';
  for (let i = 0; i < text.length; i += 8) sse += `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: text.slice(i, i + 8) }, finish_reason: null }] })}\n\n`;
  sse += `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;
  return { sse, whole: { id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }] } };
}

interface Timing {
  input: number;
  stream: number;
  whole: number;
}

function turn(chain: PolicyChain, n: number): Timing {
  const t0 = performance.now();
  const body = JSON.parse(aiderRequest(n)) as Record<string, unknown>;
  const view = requestView('chat', body);
  const vault = chain.newVault();
  const outcome = chain.run('input', view.segments, undefined, vault);
  writeBack(body, view.segments, outcome.edits);
  const forwarded = JSON.stringify(body);
  const t1 = performance.now();

  const seen = (JSON.parse(forwarded) as { messages: Array<{ content: string }> }).messages[3]!.content;
  const file = seen.slice(seen.indexOf('```\n') + 4);
  const { sse, whole } = replyFrames(file);
  const restore = vault && !vault.empty ? new Restore(vault) : undefined;
  const t2 = performance.now();
  const guard = new StreamGuard('chat', chain, new ReplyBudget(1 << 26), undefined, undefined, restore);
  let out = '';
  for (let i = 0; i < sse.length; i += 300) out += guard.push(sse.slice(i, i + 300));
  out += guard.end();
  guard.reply();
  const t3 = performance.now();
  const wholeRestore = vault && !vault.empty ? new Restore(vault) : undefined;
  const rv = responseView('chat', whole);
  const o = chain.run('output', rv.segments);
  writeBack(whole, rv.segments, o.edits);
  if (wholeRestore) restoreReply('chat', whole, wholeRestore);
  JSON.stringify(whole);
  const t4 = performance.now();
  if (n === 1 && restore && !out.includes(EMAIL)) throw new Error('bench: the streamed reply was not restored');
  if (n === 1 && !restore && forwarded.match(PLACEHOLDER) !== null) throw new Error('bench: mask mode issued placeholders');
  return { input: (t1 - t0) * 1000, stream: (t3 - t2) * 1000, whole: (t4 - t3) * 1000 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const chains = { mask: chainFor('mask'), reversible: chainFor('reversible') };
const TURNS = Number(process.env.TURNS ?? 4000);
const results: Record<'mask' | 'reversible', Timing[]> = { mask: [], reversible: [] };
for (const mode of ['mask', 'reversible'] as const) for (let i = 1; i <= 300; i++) turn(chains[mode], i);
// The modes alternate turn by turn, the order swapping each time: on a shared machine drift and GC pauses fall
// on both alike, and the medians compare like with like.
for (let i = 1; i <= TURNS; i++) {
  const order = i % 2 === 0 ? (['mask', 'reversible'] as const) : (['reversible', 'mask'] as const);
  for (const mode of order) results[mode].push(turn(chains[mode], i));
}
const fmt = (n: number) => n.toFixed(1).padStart(7);
process.stdout.write(`Aider turn (${aiderRequest(1).length} B request; reply streamed in 8-character deltas), median µs over ${TURNS} turns per mode\n`);
process.stdout.write('mode        request  streamed reply  whole reply\n');
for (const mode of ['mask', 'reversible'] as const) {
  const r = results[mode];
  process.stdout.write(`${mode.padEnd(10)} ${fmt(median(r.map((t) => t.input)))}  ${fmt(median(r.map((t) => t.stream)))}         ${fmt(median(r.map((t) => t.whole)))}\n`);
}
const diff = (f: (t: Timing) => number) => median(results.reversible.map(f)) - median(results.mask.map(f));
process.stdout.write(`difference ${fmt(diff((t) => t.input))}  ${fmt(diff((t) => t.stream))}         ${fmt(diff((t) => t.whole))}\n`);
