import type { Family } from '../providers/targets.js';

/**
 * The last frame of a stream that the gateway has to end early (upstream cut off, or later a policy
 * block), in each protocol's own error form so SDKs raise an error instead of hanging or accepting a
 * truncated reply as complete.
 */
export function terminalErrorFrame(family: Family, type: string, message: string): string {
  if (family === 'messages') {
    return `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type, message } })}\n\n`;
  }
  if (family === 'responses') {
    return `event: error\ndata: ${JSON.stringify({ type: 'error', code: type, message, param: null })}\n\n`;
  }
  // The openai SDK raises an APIError for a chunk that carries `error`; no [DONE] follows.
  return `data: ${JSON.stringify({ error: { message, type, code: type, param: null } })}\n\n`;
}
