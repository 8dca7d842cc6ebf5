import type { IncomingHttpHeaders } from 'node:http';
import type { ClientName } from './event.js';

const KNOWN: readonly ClientName[] = ['aider', 'claude-code', 'codex', 'cursor', 'continue', 'openai-sdk', 'anthropic-sdk', 'litellm', 'vercel-ai-sdk', 'langchain', 'curl', 'other'];

/**
 * Which program sent a request. `x-keeptrusts-client` wins (Aider can send it through `extra_headers`); else
 * the user agent and the headers each client is known to send (see docs/events.md). Aider talks through
 * litellm and the OpenAI Python SDK, so it is recognised by what it sends: its SEARCH/REPLACE system prompt on the
 * main model, and on the weak model's commit-message call a system prompt about commit messages with a user turn
 * holding the diffs under a `# Diffs:` line (research/aider.md §2a, §2b). The caller passes what the request holds.
 */
export function detectClient(headers: IncomingHttpHeaders, request: RequestShape = {}): ClientName {
  const declared = header(headers, 'x-keeptrusts-client')?.toLowerCase();
  if (declared && (KNOWN as readonly string[]).includes(declared)) return declared as ClientName;
  const ua = (header(headers, 'user-agent') ?? '').toLowerCase();
  if (ua.startsWith('claude-cli/') || header(headers, 'x-app') === 'cli') return 'claude-code';
  if (ua.startsWith('codex') || (header(headers, 'originator') ?? '').startsWith('codex')) return 'codex';
  if (ua.includes('aider')) return 'aider';
  if (ua.includes('cursor')) return 'cursor';
  if (ua.includes('continue')) return 'continue';
  if ((ua.startsWith('litellm/') || ua.startsWith('openai/python')) && looksLikeAider(request)) return 'aider';
  if (ua.includes('langchain')) return 'langchain';
  if (ua.includes('ai-sdk')) return 'vercel-ai-sdk';
  if (ua.startsWith('litellm/')) return 'litellm';
  if (ua.startsWith('openai/')) return 'openai-sdk';
  if (ua.startsWith('anthropic/')) return 'anthropic-sdk';
  if (ua.startsWith('curl/')) return 'curl';
  return 'other';
}

/** What client recognition reads from a request besides its headers. */
export interface RequestShape {
  /** The first system text. */
  systemText?: string | undefined;
  /** A user turn has a `# Diffs:` line (Aider's commit-message request). */
  diffsInUserTurn?: boolean;
}

function looksLikeAider({ systemText, diffsInUserTurn }: RequestShape): boolean {
  if (!systemText) return false;
  if (systemText.includes('SEARCH/REPLACE') && systemText.includes('*SEARCH/REPLACE block*')) return true;
  return diffsInUserTurn === true && /commit message/i.test(systemText);
}

/** Aider's commit-message request puts the diffs after `# Diffs:` on a line of its own, at the start of the user text or after the chat transcript. */
export function hasDiffsLine(text: string): boolean {
  // Searched from its `#` and checked for the line start after: V8 skips to a rare first character natively, while
  // a pattern that starts with a newline stopped at every line of a 200 KB context (0.2 ms a request).
  for (let i = text.indexOf('# Diffs:\n'); i >= 0; i = text.indexOf('# Diffs:\n', i + 1)) if (i === 0 || text.charCodeAt(i - 1) === 10) return true;
  return false;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
