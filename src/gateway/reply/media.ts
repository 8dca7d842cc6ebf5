/** What kind of body an upstream reply is, by its content-type (any case, with parameters) and its first bytes. */
export type ReplyKind = 'sse' | 'json' | 'other';

export function mediaType(contentType: unknown): string {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  if (typeof value !== 'string') return '';
  // Read on every reply (and again by the routing's commit point): the parameters are cut off without a list of parts.
  const semicolon = value.indexOf(';');
  return (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

export function replyKind(contentType: unknown): ReplyKind {
  const media = mediaType(contentType);
  if (media === 'text/event-stream') return 'sse';
  if (media === 'application/json' || media.endsWith('+json')) return 'json';
  return 'other';
}

/** Text that reads as SSE whatever its declared type: its first line is an SSE field or comment. */
export function looksLikeSse(text: string): boolean {
  const start = text.replace(/^\s+/, '').slice(0, 16);
  return /^(?:data:|event:|id:|retry:|:)/.test(start);
}
