/** What kind of body an upstream reply is, by its content-type (any case, with parameters) and its first bytes. */
export type ReplyKind = 'sse' | 'json' | 'other';

export function mediaType(contentType: unknown): string {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return typeof value === 'string' ? value.split(';')[0]!.trim().toLowerCase() : '';
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
