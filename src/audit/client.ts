import type { IncomingHttpHeaders } from 'node:http';
import type { ClientName } from './event.js';

const KNOWN: readonly ClientName[] = ['aider', 'claude-code', 'codex', 'cursor', 'continue', 'openai-sdk', 'anthropic-sdk', 'litellm', 'vercel-ai-sdk', 'langchain', 'curl', 'other'];

/**
 * Which program sent a request. `x-keeptrusts-client` wins (Aider can send it through `extra_headers`); else
 * the user agent and the headers each client is known to send (see docs/events.md). Aider talks through
 * litellm and the OpenAI Python SDK, so it is recognised by its SEARCH/REPLACE system prompt when the caller
 * passes `systemText`.
 */
export function detectClient(headers: IncomingHttpHeaders, systemText?: string): ClientName {
  const declared = header(headers, 'x-keeptrusts-client')?.toLowerCase();
  if (declared && (KNOWN as readonly string[]).includes(declared)) return declared as ClientName;
  const ua = (header(headers, 'user-agent') ?? '').toLowerCase();
  if (ua.startsWith('claude-cli/') || header(headers, 'x-app') === 'cli') return 'claude-code';
  if (ua.startsWith('codex') || (header(headers, 'originator') ?? '').startsWith('codex')) return 'codex';
  if (ua.includes('aider')) return 'aider';
  if (ua.includes('cursor')) return 'cursor';
  if (ua.includes('continue')) return 'continue';
  if ((ua.startsWith('litellm/') || ua.startsWith('openai/python')) && systemText && looksLikeAider(systemText)) return 'aider';
  if (ua.includes('langchain')) return 'langchain';
  if (ua.includes('ai-sdk')) return 'vercel-ai-sdk';
  if (ua.startsWith('litellm/')) return 'litellm';
  if (ua.startsWith('openai/')) return 'openai-sdk';
  if (ua.startsWith('anthropic/')) return 'anthropic-sdk';
  if (ua.startsWith('curl/')) return 'curl';
  return 'other';
}

function looksLikeAider(system: string): boolean {
  return system.includes('SEARCH/REPLACE') && system.includes('*SEARCH/REPLACE block*');
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
