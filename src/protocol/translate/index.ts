import type { Family } from '../../providers/targets.js';
import type { WireFormat } from '../../providers/catalog.js';
import { chatToMessagesRequest } from './chat-to-messages.js';
import { messagesToChatRequest } from './messages-to-chat.js';
import { anthropicErrorFromChat, chatErrorFromAnthropic, chatToMessagesReply, messagesToChatReply } from './replies.js';
import type { StreamTranslateOptions, StreamTranslator } from './stream-frames.js';
import { AnthropicToChatStream } from './stream-to-chat.js';
import { ChatToAnthropicStream } from './stream-to-messages.js';
import { AnthropicToResponsesStream, chatToResponsesReply, ChatToResponsesStream, messagesToResponsesReply } from './responses-reply.js';
import { toolNamesFor } from './responses-names.js';
import { responsesToChatRequest, responsesToMessagesRequest } from './responses-request.js';
import { isObj, type Obj } from './types.js';

export { UntranslatableReply } from './types.js';
export type { StreamTranslator } from './stream-frames.js';

/**
 * One client format served by a target of another: the request on its way up, the reply (whole, an error
 * body included, or streamed) on its way back. Pure: no I/O, no state beyond one stream's.
 */
export interface Translator {
  /** The family the upstream is called with (its wire format). */
  readonly upstreamFamily: Family;
  /** `from → to`, for logs and the decision event. */
  readonly pair: string;
  /** The client's body (as the input policies left it) in the target's format, for `model`. Throws a 400 naming what cannot be said. */
  request(body: Obj, model: string): Obj;
  /** Client headers bound for the upstream, made right for its API (the version header it needs, the other API's headers left out). */
  headers(headers: Record<string, string>): void;
  /**
   * A whole reply body: a success in the client's format, an error body in the client's error shape. Throws
   * UntranslatableReply. `clientBody` is the request as the client sent it (the tool names it used).
   */
  reply(body: unknown, status: number, clientBody?: Obj): unknown;
  /** A streamed reply, frame by frame. `clientBody` is the request as the client sent it (what it asked to receive). */
  stream(clientBody: Obj, opts: StreamTranslateOptions): StreamTranslator;
}

/** The Anthropic API version sent for clients that name none (every OpenAI client): the one all current models take. */
export const ANTHROPIC_VERSION = '2023-06-01';

const CHAT_TO_ANTHROPIC: Translator = {
  upstreamFamily: 'messages',
  pair: 'chat->messages',
  request: (body, model) => chatToMessagesRequest(body, model),
  headers(h) {
    dropPrefixed(h, 'openai-');
    h['anthropic-version'] ??= ANTHROPIC_VERSION;
  },
  reply: (body, status) => (!isObj(body) ? body : status >= 200 && status < 300 ? messagesToChatReply(body) : chatErrorFromAnthropic(body)),
  stream: (clientBody, opts) => new AnthropicToChatStream({ ...opts, includeUsage: !opts.omitUsage && isObj(clientBody.stream_options) && clientBody.stream_options.include_usage === true }),
};

/** OpenAI's own API wants max_completion_tokens (its reasoning models refuse max_tokens); compatible servers know max_tokens. */
const messagesToOpenAi = (maxTokensField: 'max_tokens' | 'max_completion_tokens'): Translator => ({
  upstreamFamily: 'chat',
  pair: 'messages->chat',
  request: (body, model) => messagesToChatRequest(body, model, { maxTokensField }),
  headers(h) {
    // anthropic-version and anthropic-beta name Anthropic API features; an OpenAI-format server has none of them.
    dropPrefixed(h, 'anthropic-');
  },
  reply: (body, status) => (!isObj(body) ? body : status >= 200 && status < 300 ? chatToMessagesReply(body) : anthropicErrorFromChat(body, status)),
  stream: (_clientBody, opts) => new ChatToAnthropicStream(opts),
});
const MESSAGES_TO_OPENAI = messagesToOpenAi('max_tokens');
const MESSAGES_TO_OPENAI_NATIVE = messagesToOpenAi('max_completion_tokens');

/** A Responses client (Codex, `responses.create`) on an Anthropic target. */
const RESPONSES_TO_ANTHROPIC: Translator = {
  upstreamFamily: 'messages',
  pair: 'responses->messages',
  request: (body, model) => responsesToMessagesRequest(body, model),
  headers(h) {
    dropPrefixed(h, 'openai-');
    h['anthropic-version'] ??= ANTHROPIC_VERSION;
  },
  reply: (body, status, clientBody) => (!isObj(body) ? body : status >= 200 && status < 300 ? messagesToResponsesReply(body, { names: clientBody && toolNamesFor(clientBody, 'messages') }) : chatErrorFromAnthropic(body)),
  stream: (clientBody, opts) => new AnthropicToResponsesStream({ ...opts, names: toolNamesFor(clientBody, 'messages') }),
};

/** A Responses client on a target that speaks only OpenAI chat (format `chat`); errors have one shape on both. */
const responsesToChat = (maxTokensField: 'max_tokens' | 'max_completion_tokens'): Translator => ({
  upstreamFamily: 'chat',
  pair: 'responses->chat',
  request: (body, model) => responsesToChatRequest(body, model, { maxTokensField }),
  headers: () => undefined,
  reply: (body, status, clientBody) => (!isObj(body) ? body : status >= 200 && status < 300 ? chatToResponsesReply(body, { names: clientBody && toolNamesFor(clientBody, 'chat') }) : body),
  stream: (clientBody, opts) => new ChatToResponsesStream({ ...opts, names: toolNamesFor(clientBody, 'chat') }),
});
const RESPONSES_TO_CHAT = responsesToChat('max_tokens');
const RESPONSES_TO_CHAT_NATIVE = responsesToChat('max_completion_tokens');

function dropPrefixed(h: Record<string, string>, prefix: string): void {
  for (const k of Object.keys(h)) if (k.startsWith(prefix)) delete h[k];
}

/** True when a client of `family` can be served by a target of `format` through a translator. */
export function canTranslate(family: Family, format: WireFormat): boolean {
  return translatorFor(family, format) !== undefined;
}

/** The translator from a client's family to a target's format; undefined when the target speaks it natively or no translator exists. */
export function translatorFor(family: Family, format: WireFormat, provider?: string): Translator | undefined {
  const native = provider === 'openai' || provider === 'azure-openai';
  if (format === 'anthropic') return family === 'chat' ? CHAT_TO_ANTHROPIC : family === 'responses' ? RESPONSES_TO_ANTHROPIC : undefined;
  if (format === 'openai' || format === 'chat') {
    if (family === 'messages') return native ? MESSAGES_TO_OPENAI_NATIVE : MESSAGES_TO_OPENAI;
    // A target of format openai speaks Responses itself.
    if (family === 'responses' && format === 'chat') return native ? RESPONSES_TO_CHAT_NATIVE : RESPONSES_TO_CHAT;
  }
  return undefined;
}
