import { parseStrictJson, StrictJsonError } from './strict-json.js';
import type { JsonPath, Segment, SegmentSource } from './content.js';

/**
 * Builds a complete content view. The family descriptors (families.ts) name the fields they know, to give them
 * a precise source; every other value is walked generically, so a field this version has never heard of is
 * scanned rather than forwarded blind. Only values known to carry no text a policy could read are left out:
 * binary payloads (recognised by their value: base64 images, audio, PDFs), signatures, encrypted reasoning,
 * and ids (when they look like one).
 */
export type Visit = (b: ViewBuilder, value: unknown, turn: number, source: SegmentSource) => void;

/** What a known member holds. */
export type FieldKind =
  /** Never scanned: signatures, encrypted content, credentials the client gives the provider on purpose. */
  | 'opaque'
  /** An identifier: skipped when it looks like one, scanned otherwise. */
  | 'id'
  /** An enumeration (`type`, `role`): skipped when it is a plain lowercase word, scanned otherwise. */
  | 'enum'
  /** JSON held in a string (tool-call arguments): its leaves are scanned, decoded. */
  | 'json'
  | Visit;

export type Fields = ReadonlyMap<string, FieldKind>;

/**
 * Lowercase words without digits, as enumerations and schema keywords are written. No credential or personal
 * datum the detectors know has this shape (tokens carry digits or capitals, addresses an `@`), so such a value
 * in a structural position is left out; anything else there is scanned.
 */
const PLAIN_WORD = /^[a-z_$][a-z_$.\/-]{0,63}$/;
/** Members that name a kind wherever they appear (schemas, unknown blocks): treated as enumerations. */
const STRUCTURAL_KEYS = new Set(['type', 'role', 'object', 'status', 'format', 'media_type', 'detail', 'finish_reason', 'stop_reason']);
const ID_LIKE = /^[A-Za-z0-9_.:-]{1,256}$/;
/** Numbers shorter than this cannot hold a phone, card or account number. */
const MIN_NUMBER_DIGITS = 6;

export class ViewBuilder {
  readonly segments: Segment[] = [];
  /** Binary payloads left out of the view: how many and how many characters. */
  readonly opaque = { count: 0, chars: 0 };
  /**
   * JSON held in strings that had duplicate member names: forwarded re-serialised (as scanned), so that a
   * model reading the string cannot see a value the policies did not.
   */
  readonly normalised: Array<{ path: JsonPath; text: string }> = [];
  private readonly path: JsonPath = [];
  private inner: { path: JsonPath; at: JsonPath } | undefined;
  /**
   * Texts the caller already knows need no scan (StreamGuard's memo of clean values, which every frame of a
   * stream repeats): left out before their segment and its path are made.
   */
  skip: ((source: SegmentSource, text: string) => boolean) | undefined;

  /** A value at `key` of the current position. */
  at(key: string | number, visit: () => void): void {
    const target = this.inner ? this.inner.at : this.path;
    target.push(key);
    try {
      visit();
    } finally {
      target.pop();
    }
  }

  /**
   * A string leaf: one segment. Binary content is recognised by its value, not by where it sits: a `data:` URL
   * of a binary type, or a long unbroken base64 run that does not decode to text, is left out; one that holds
   * text is scanned decoded.
   */
  text(value: unknown, turn: number, source: SegmentSource): void {
    if (typeof value !== 'string') return this.any(value, turn, source);
    if (value.length === 0) return;
    if (value.startsWith('data:')) return this.dataUrl(value, turn, source);
    if (value.length >= BASE64_BLOB_MIN && isBase64Blob(value)) return this.base64Text(value, turn, source);
    this.push({ source, turn, text: value });
  }

  /** A known member of a known object. */
  field(kind: FieldKind, value: unknown, turn: number, source: SegmentSource): void {
    if (kind === 'opaque') {
      if (typeof value === 'string') this.countOpaque(value.length);
      return;
    }
    if (kind === 'id') {
      if (typeof value === 'string' && ID_LIKE.test(value)) return;
      return this.any(value, turn, source);
    }
    if (kind === 'enum') {
      if (typeof value === 'string' && PLAIN_WORD.test(value)) return;
      return this.any(value, turn, source);
    }
    if (kind === 'json') return this.embeddedJson(value, turn, source);
    kind(this, value, turn, source);
  }

  /**
   * An object whose members `fields` knows; every other member (its name and its value) is walked generically
   * with the object's own source.
   */
  object(value: unknown, turn: number, source: SegmentSource, fields: Fields): void {
    if (!isObj(value)) return this.any(value, turn, source);
    // Positions are pushed and popped here rather than through at(): a closure per member showed in
    // StreamGuard's profile, which walks every frame of a streamed reply.
    const target = this.inner ? this.inner.at : this.path;
    for (const key of Object.keys(value)) {
      const kind = fields.get(key);
      if (kind === undefined) {
        this.member(key, value[key], turn, source);
        continue;
      }
      target.push(key);
      try {
        this.field(kind, value[key], turn, source);
      } finally {
        target.pop();
      }
    }
  }

  /** Each element of an array with `visit`; anything that is not an array is walked generically. */
  each(value: unknown, visit: (item: unknown, index: number) => void, turn: number, source: SegmentSource): void {
    if (!Array.isArray(value)) return this.any(value, turn, source);
    const target = this.inner ? this.inner.at : this.path;
    for (let i = 0; i < value.length; i++) {
      target.push(i);
      try {
        visit(value[i], i);
      } finally {
        target.pop();
      }
    }
  }

  /** Any JSON value: every string leaf, every member name and every long number, with one source. */
  any(value: unknown, turn: number, source: SegmentSource): void {
    if (typeof value === 'string') return this.text(value, turn, source);
    if (typeof value === 'number') return this.number(value, turn, source);
    if (value === null || typeof value !== 'object') return;
    const target = this.inner ? this.inner.at : this.path;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        target.push(i);
        try {
          this.any(value[i], turn, source);
        } finally {
          target.pop();
        }
      }
      return;
    }
    for (const key of Object.keys(value)) this.member(key, (value as Record<string, unknown>)[key], turn, source);
  }

  /** A member walked generically: its name is content too (tool inputs, metadata maps). */
  private member(key: string, value: unknown, turn: number, source: SegmentSource): void {
    const target = this.inner ? this.inner.at : this.path;
    target.push(key);
    try {
      if (!PLAIN_WORD.test(key)) this.push({ source, turn, text: key, key: true });
      if (STRUCTURAL_KEYS.has(key)) this.field('enum', value, turn, source);
      else this.any(value, turn, source);
    } finally {
      target.pop();
    }
  }

  private number(value: number, turn: number, source: SegmentSource): void {
    if (!Number.isFinite(value) || Math.abs(value) < 10 ** (MIN_NUMBER_DIGITS - 1)) return;
    this.push({ source, turn, text: String(value), numeric: true });
  }

  /**
   * JSON held in a string: its leaves are scanned decoded (escapes would hide a value from the detectors and a
   * redaction must write valid JSON back). Text that is not JSON is one segment.
   */
  embeddedJson(value: unknown, turn: number, source: SegmentSource): void {
    if (typeof value !== 'string') return this.any(value, turn, source);
    if (value.length === 0 || this.inner) return this.text(value, turn, source);
    let parsed: unknown;
    try {
      parsed = parseStrictJson(value);
    } catch (err) {
      if (!(err instanceof StrictJsonError) || err.problem.kind !== 'duplicate') return this.text(value, turn, source);
      // Read as JSON.parse reads it, and forwarded that way too.
      parsed = JSON.parse(value);
      this.normalised.push({ path: [...this.path], text: JSON.stringify(parsed) });
    }
    this.inner = { path: [...this.path], at: [] };
    try {
      this.any(parsed, turn, source);
    } finally {
      this.inner = undefined;
    }
  }

  /** Base64 text (an Anthropic text document): decoded when it is UTF-8 text, else left out as binary. */
  base64Text(value: unknown, turn: number, source: SegmentSource, prefix = ''): void {
    if (typeof value !== 'string') return this.any(value, turn, source);
    const text = decodeBase64Text(value.slice(prefix.length));
    if (text === undefined) return this.countOpaque(value.length);
    if (text.length > 0) this.push({ source, turn, text, base64Prefix: prefix });
  }

  private dataUrl(value: string, turn: number, source: SegmentSource): void {
    const comma = value.indexOf(',');
    const header = comma > 0 ? value.slice(5, comma).toLowerCase() : '';
    const base64 = header.endsWith(';base64');
    const mime = header.split(';')[0]!.trim();
    if (base64 && isTextMime(mime)) return this.base64Text(value, turn, source, value.slice(0, comma + 1));
    if (base64) return this.countOpaque(value.length);
    this.push({ source, turn, text: value });
  }

  private countOpaque(chars: number): void {
    this.opaque.count++;
    this.opaque.chars += chars;
  }

  private push(s: Omit<Segment, 'id' | 'path'>): void {
    if (this.skip?.(s.source, s.text)) return;
    const seg: Segment = this.inner
      ? { id: this.segments.length, source: s.source, turn: s.turn, path: this.inner.path, innerPath: [...this.inner.at], text: s.text }
      : { id: this.segments.length, source: s.source, turn: s.turn, path: [...this.path], text: s.text };
    if (s.key) seg.key = true;
    if (s.numeric) seg.numeric = true;
    if (s.base64Prefix !== undefined) seg.base64Prefix = s.base64Prefix;
    this.segments.push(seg);
  }
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field table from a plain object literal (a Map: no prototype names such as `constructor` sneak in). */
export function fields(spec: Record<string, FieldKind>): Fields {
  return new Map(Object.entries(spec));
}

/**
 * Base64 this long, unbroken (no whitespace, no punctuation but the alphabet's), is a payload, not prose or
 * code; hex digits alone are not taken for it (a long hex string is scanned as it is).
 */
const BASE64_BLOB_MIN = 1024;
const BASE64_RUN = /^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/;
const HEX_RUN = /^[0-9a-fA-F]+$/;

function isBase64Blob(value: string): boolean {
  return BASE64_RUN.test(value) && !HEX_RUN.test(value);
}

const TEXT_MIMES = new Set(['application/json', 'application/xml', 'application/javascript', 'application/x-yaml', 'application/yaml', 'application/x-sh', 'application/sql', 'application/toml', 'application/x-ndjson']);

export function isTextMime(mime: string): boolean {
  const m = mime.toLowerCase();
  return m.startsWith('text/') || TEXT_MIMES.has(m) || m.endsWith('+json') || m.endsWith('+xml');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 text base64 holds, or undefined when it is not base64 of UTF-8 text (binary). */
export function decodeBase64Text(b64: string): string | undefined {
  if (!/^[A-Za-z0-9+/=\s_-]*$/.test(b64)) return undefined;
  try {
    return utf8.decode(Buffer.from(b64, 'base64'));
  } catch {
    return undefined;
  }
}
