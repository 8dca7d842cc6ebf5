import { GatewayError } from '../../gateway/errors.js';

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The API names used in refusals: the client learns which side cannot say what. */
export const API_NAME = { chat: 'OpenAI Chat Completions', messages: 'Anthropic Messages' } as const;

/**
 * A request member the target's API has no way to say. Refused (400, final) rather than dropped: a client that
 * asked for it would otherwise get a reply that silently ignores it. `field` is the member's path in the
 * client's body, as `messages[2].content[0].input_audio`.
 */
export function untranslatable(path: string, target: keyof typeof API_NAME, why: string): GatewayError {
  // Member names are the client's: one that is not a plain name is not repeated (it could be anything pasted).
  const field = /^[A-Za-z0-9_.[\]-]{1,200}$/.test(path) ? path : 'a member of the request';
  return new GatewayError(400, 'invalid_request_error', `${field} cannot be translated for this target, which speaks the ${API_NAME[target]} API: ${why}`, {
    code: 'untranslatable_field',
    ...(field === path ? { param: field } : {}),
  });
}

/** A reply the translator cannot express in the client's format (a block type it does not know, a broken tool call). */
export class UntranslatableReply extends Error {
  override name = 'UntranslatableReply';
}

/** Options every translator takes: the clock (golden tests pin it). */
export interface TranslateOptions {
  /** Seconds since the epoch, for the `created` member of OpenAI replies. */
  now?: () => number;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Why a reply ended, in each API's words. Anthropic → OpenAI chat. */
export const FINISH_FROM_STOP: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

/** OpenAI chat → Anthropic. */
export const STOP_FROM_FINISH: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/** An Anthropic error type for an HTTP status, for errors that come from an OpenAI-format upstream. */
export function anthropicErrorType(status: number): string {
  if (status === 400 || status === 422) return 'invalid_request_error';
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 529 || status === 503) return 'overloaded_error';
  return 'api_error';
}

/**
 * A type or role name as quoted in a refusal: only plain names. Enum-like members are not all scanned by the
 * input policies, and a refusal message must never carry what a client pasted into one.
 */
export function quoteName(v: unknown): string {
  return typeof v === 'string' && /^[A-Za-z0-9_.-]{1,40}$/.test(v) ? `"${v}"` : 'this';
}
