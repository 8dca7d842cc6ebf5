import { createRequire } from 'node:module';
import type * as O200k from 'gpt-tokenizer/encoding/o200k_base';

/**
 * Token estimates for when a provider never reported usage (a stream cut by the client or upstream).
 *
 * Counts use OpenAI's `o200k_base` encoding (GPT-4o, GPT-4.1, o-series, GPT-5). For OpenAI models that is close to
 * what the provider bills, give or take message framing. For Anthropic, Gemini, Mistral, DeepSeek and xAI it is an
 * approximation: their tokenizers differ and typically yield 5-20% more tokens for the same text (code included).
 * An estimate is always marked `estimated: true` in the usage, so nobody mistakes it for a billed count.
 */

type Encoder = typeof O200k;

let encoder: Encoder | undefined;

// The o200k tables take about 200 ms to load: only pay for that when a stream is actually cut, not at
// start-up of every `kt` command that imports this module transitively.
function load(): Encoder {
  if (!encoder) encoder = createRequire(import.meta.url)('gpt-tokenizer/cjs/encoding/o200k_base') as Encoder;
  return encoder;
}

/** Load the tokenizer now (for example at gateway start), so the first cut stream doesn't wait for it. */
export function warmTokenizer(): void {
  load();
}

// Special-token strings such as `<|endoftext|>` in user text are ordinary text to the provider's billing;
// the tokenizer would otherwise throw on them.
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/**
 * BPE merging is quadratic in the length of one pre-tokenized piece: 100k characters without a space
 * (minified code, base64, a run of `=`) took 6.7 s in one call. Long runs are counted in slices instead;
 * that changes the count by a token or two per slice, which does not matter for an estimate.
 */
const LONG_RUN = /\S{257,}|\s{257,}/g;
const SLICE = 128;

/** Above this many characters, count a prefix and scale: a cut stream must not stall the event loop. */
const MAX_EXACT_CHARS = 512 * 1024;

/** Approximate token count of `text` (o200k_base). 0 for the empty string. */
export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length > MAX_EXACT_CHARS) {
    const head = text.slice(0, safeEnd(text, MAX_EXACT_CHARS));
    return Math.ceil(countBounded(head) * (text.length / head.length));
  }
  return countBounded(text);
}

function countBounded(text: string): number {
  const enc = load();
  let total = 0;
  let last = 0;
  LONG_RUN.lastIndex = 0;
  for (let m = LONG_RUN.exec(text); m !== null; m = LONG_RUN.exec(text)) {
    if (m.index > last) total += enc.countTokens(text.slice(last, m.index), AS_TEXT);
    const end = m.index + m[0].length;
    for (let i = m.index; i < end; ) {
      const j = safeEnd(text, Math.min(end, i + SLICE));
      total += enc.countTokens(text.slice(i, j), AS_TEXT);
      i = j;
    }
    last = end;
  }
  if (last < text.length) total += enc.countTokens(last === 0 ? text : text.slice(last), AS_TEXT);
  return total;
}

/** `end`, moved one further when it would split a surrogate pair. */
function safeEnd(text: string, end: number): number {
  if (end >= text.length) return text.length;
  const c = text.charCodeAt(end - 1);
  return c >= 0xd800 && c <= 0xdbff ? end + 1 : end;
}
