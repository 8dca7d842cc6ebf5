import type { Family } from '../providers/targets.js';
import { isUtf8 } from 'node:buffer';
import { badRequest } from '../gateway/errors.js';
import { setValueAt, type JsonPath, type Segment } from './content.js';
import { parseStrictJson, StrictJsonError } from './strict-json.js';

/**
 * One request as the gateway holds it: the original bytes (forwarded untouched unless something edits
 * the body, so unknown fields and betas pass through), the parsed body, and the two facts routing needs.
 */
export interface Exchange {
  family: Family;
  raw: Buffer;
  body: Record<string, unknown>;
  model: string | undefined;
  /** Decided by the body's `stream` field only: SDKs send `accept: application/json` on streams too. */
  stream: boolean;
  /** True once a policy edited `body`; the raw bytes are then stale. */
  modified: boolean;
  /**
   * The body's text segments as the input phase read them, kept when nothing changed the body's text after
   * (no redaction, no normalised JSON string): a policy judging the reply reads them instead of walking the
   * request again. Absent: build them from `body`.
   */
  segments?: readonly Segment[] | undefined;
}

export function parseExchange(family: Family, raw: Buffer): Exchange {
  if (raw.length === 0) throw badRequest('the request body is empty; expected a JSON object');
  // Invalid bytes would be read as U+FFFD here and as something else upstream: what is scanned must be what is sent.
  if (!isUtf8(raw)) throw badRequest('the request body is not valid UTF-8');
  if (raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf) throw badRequest('the request body starts with a byte order mark; send plain UTF-8 JSON');
  let body: unknown;
  try {
    body = parseStrictJson(raw.toString('utf8'));
  } catch (err) {
    if (err instanceof StrictJsonError) throw badRequest(`the request body ${err.message}`);
    throw err;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('the request body must be a JSON object');
  }
  const obj = body as Record<string, unknown>;
  if (obj.model !== undefined && typeof obj.model !== 'string') throw badRequest('"model" must be a string', 'model');
  if (obj.stream !== undefined && obj.stream !== null && typeof obj.stream !== 'boolean') {
    throw badRequest('"stream" must be true or false', 'stream');
  }
  const required: Partial<Record<Family, string>> = { chat: 'messages', messages: 'messages', count_tokens: 'messages' };
  const field = required[family];
  if (field && !Array.isArray(obj[field])) throw badRequest(`"${field}" must be an array`, field);
  return {
    family,
    raw,
    body: obj,
    model: obj.model as string | undefined,
    stream: family !== 'count_tokens' && obj.stream === true,
    modified: false,
  };
}

/**
 * JSON held in strings that had duplicate member names (tool-call arguments) is forwarded as it was read and
 * scanned: re-serialised without the duplicates.
 */
export function normalise(ex: Exchange, normalised: ReadonlyArray<{ path: JsonPath; text: string }>): void {
  for (const n of normalised) setValueAt(ex.body, n.path, n.text);
  if (normalised.length > 0) ex.modified = true;
}

/**
 * Add a member the body does not have yet. While nothing else has edited the body, the member is spliced in
 * after the opening brace of the client's bytes, which then still go upstream as sent apart from it:
 * serializing a coding agent's whole context again for one small member showed in profiles.
 */
export function addMember(ex: Exchange, key: string, value: unknown): void {
  if (Object.hasOwn(ex.body, key)) throw new Error(`addMember: the body already has "${key}"`);
  ex.body[key] = value;
  if (ex.modified) return;
  // JSON.parse took these bytes as an object: only whitespace can come before its opening brace.
  const open = ex.raw.indexOf(0x7b);
  let next = open + 1;
  while (next < ex.raw.length && JSON_WHITESPACE.has(ex.raw[next]!)) next++;
  const empty = ex.raw[next] === 0x7d;
  const member = Buffer.from(`${JSON.stringify(key)}:${JSON.stringify(value)}${empty ? '' : ','}`);
  ex.raw = Buffer.concat([ex.raw.subarray(0, open + 1), member, ex.raw.subarray(open + 1)]);
}

const JSON_WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Serialise the body again only when something changed it; otherwise the client's bytes go upstream as sent. */
export function requestBytes(ex: Exchange, modelOverride: string | undefined): Buffer {
  const newModel = modelOverride !== undefined && modelOverride !== ex.model;
  if (!newModel && !ex.modified) return ex.raw;
  return Buffer.from(JSON.stringify(newModel ? { ...ex.body, model: modelOverride } : ex.body));
}
