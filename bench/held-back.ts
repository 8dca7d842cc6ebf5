/**
 * How much reply text StreamGuard holds back, with a chain's output rules: a long reply is streamed as chat
 * chunks of 4 characters (about a token each) and, after every chunk, the text the client has is compared with
 * the text the upstream sent. Reported: the characters received before the first character was released (what
 * a reader waits for before anything appears), and the mean and largest lag afterwards. No I/O: the guard alone.
 */
import { loadConfig } from '../src/config/index.js';
import { buildChain } from '../src/policy/build.js';
import { ReplyBudget } from '../src/stream/budget.js';
import { StreamGuard } from '../src/stream/guard.js';

export interface HeldBack {
  reply: string;
  chars: number;
  /** Characters the upstream had sent when the client got its first character of text. */
  beforeFirst: number;
  meanLag: number;
  maxLag: number;
}

/** A developer-facing answer in prose, no code: words, punctuation, a few numbers. */
export const PROSE_REPLY = Array.from(
  { length: 12 },
  (_, i) =>
    `Step ${i + 1}. The handler reads the request, checks that the caller may see the record, and returns it as JSON; when the record is missing it answers with a clear error instead of an empty body, which keeps the client's retry logic simple.`,
).join('\n\n');

/** A coding answer: a short explanation and a fenced TypeScript edit (quotes, colons, numbers). */
export const CODE_REPLY = `Here is the change. It adds a docstring and keeps the behaviour the same.\n\nsrc/math.ts\n\`\`\`typescript\n${Array.from(
  { length: 14 },
  (_, i) => `/** Returns a times ${i} plus b. */\nexport function helper${i}(a: number, b: number): number {\n  const label = 'helper ${i}';\n  return a * ${i} + b; // ${label(i)}\n}`,
).join('\n')}\n\`\`\`\n\nRun the tests again with \`npm test\` and they should pass.`;

function label(i: number): string {
  return i % 2 === 0 ? 'even' : 'odd';
}

function frame(content: string): string {
  return `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
}

/** The content the client has so far, from the frames released (chat chunks). */
function contentOf(released: string): number {
  let n = 0;
  for (const line of released.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const v = JSON.parse(line.slice(6)) as { choices?: Array<{ delta?: { content?: string } }> };
    n += v.choices?.[0]?.delta?.content?.length ?? 0;
  }
  return n;
}

export async function measureHeldBack(configFile: string, replies: Record<string, string> = { prose: PROSE_REPLY, code: CODE_REPLY }): Promise<HeldBack[]> {
  const loaded = await loadConfig([configFile]);
  if (!loaded.loaded) throw new Error(`bad bench config ${configFile}`);
  const chain = buildChain(loaded.loaded.config, 'block', { markerSalt: 'bench' });
  const out: HeldBack[] = [];
  for (const [name, text] of Object.entries(replies)) {
    const guard = new StreamGuard('chat', chain, new ReplyBudget(64 * 1024 * 1024));
    let sent = 0;
    let got = 0;
    let beforeFirst = -1;
    let lagSum = 0;
    let maxLag = 0;
    let steps = 0;
    for (let i = 0; i < text.length; i += 4) {
      const piece = text.slice(i, i + 4);
      sent += piece.length;
      got += contentOf(guard.push(frame(piece)));
      if (got > 0 && beforeFirst < 0) beforeFirst = sent;
      lagSum += sent - got;
      maxLag = Math.max(maxLag, sent - got);
      steps++;
    }
    got += contentOf(guard.push('data: [DONE]\n\n') + guard.end());
    if (got !== text.length) throw new Error(`${name}: the guard released ${got} of ${text.length} characters (a rule matched the bench reply)`);
    out.push({ reply: name, chars: text.length, beforeFirst: beforeFirst < 0 ? text.length : beforeFirst, meanLag: Math.round(lagSum / steps), maxLag });
  }
  return out;
}
