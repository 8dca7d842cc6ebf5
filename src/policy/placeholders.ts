import { createHmac } from 'node:crypto';
import { PLACEHOLDER_SOURCE } from '../detect/placeholder-shape.js';

/**
 * Reversible redaction: a value a client sent becomes a placeholder of its kind, `[EMAIL_qkzvmwtrhd]`, so the
 * model can quote it (a SEARCH block, an old_string) without ever seeing it, and the gateway can put the value
 * back where the reply writes it into the developer's files (see restore-scope.ts).
 *
 * - Stable: the suffix is an HMAC of the value under a key derived from the installation's marker salt, so a
 *   value gets the same placeholder in every turn of a conversation (agents resend the whole conversation, and
 *   the model must see one name for one value).
 * - Unguessable: without the key nobody (the provider included) can tell which value a placeholder stands for,
 *   nor confirm a guess of a low-entropy value such as an e-mail address.
 * - Scoped to one request: the vault that maps placeholders back to values is made for a request, filled by its
 *   input phase and dropped with the request. Only a value the request being answered carried can be restored,
 *   so a placeholder copied from another developer's conversation, invented, or altered by one character
 *   restores nothing; there is no shared map to expire, encrypt or keep consistent between replicas.
 * - Inert: the shape is brackets, an upper-case label and ten lower-case letters. No detector reads it as a
 *   secret or PII (digits would make phone numbers), so output policies pass a placeholder by and the next turn
 *   does not redact it again.
 */

/** A placeholder anywhere in a text. The label is at most 24 characters; the suffix exactly 10 lower-case letters. */
export const PLACEHOLDER = new RegExp(PLACEHOLDER_SOURCE, 'g');
/** The longest a placeholder can be: `[` + 24 + `_` + 10 + `]`. */
export const MAX_PLACEHOLDER_LENGTH = 37;
const SUFFIX_LENGTH = 10;
const LABEL_LENGTH = 24;
/** A text that could still grow into a placeholder. */
const PREFIX = /^\[(?:[A-Z][A-Z0-9_]{0,23}(?:_[a-z]{0,10})?)?$/;

/**
 * Where a possible placeholder starts at the end of `text` (it may be completed by the text that follows), or
 * -1. Streamed text is held from there, so a placeholder split across deltas is restored whole.
 */
export function placeholderTail(text: string): number {
  const from = Math.max(0, text.length - MAX_PLACEHOLDER_LENGTH + 1);
  const at = text.lastIndexOf('[');
  if (at < from) return -1;
  return PREFIX.test(text.slice(at)) ? at : -1;
}

/** The label a finding type gets: upper case, letters, digits and underscores, starting with a letter. */
export function placeholderLabel(type: string): string {
  let label = type.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  if (!/^[A-Z]/.test(label)) label = `X${label}`;
  return label.slice(0, LABEL_LENGTH);
}

/** The key placeholders are made with: its own derivation of the marker salt, so no other marker or hash shares it. */
export function placeholderKey(markerSalt: string): Buffer {
  return createHmac('sha256', markerSalt).update('keeptrusts reversible redaction placeholder v1').digest();
}

interface Entry {
  value: string;
  type: string;
}

/**
 * The placeholders one request's values became, and the values behind them. Lives as long as the request; it
 * is never logged, recorded or shared (the event gets counts and types from RestoreLedger).
 */
export class PlaceholderVault {
  /** null: two values of this request got the same placeholder (about 2^-47 per pair); it is never restored. */
  private readonly entries = new Map<string, Entry | null>();
  /** One HMAC per distinct value of a request, however often the conversation repeats it. */
  private readonly issued = new Map<string, string>();

  constructor(private readonly key: Buffer) {}

  /** The placeholder for `value` of kind `type`, remembered for restoring. */
  issue(type: string, value: string): string {
    const memo = `${type}\u0000${value}`;
    const known = this.issued.get(memo);
    if (known !== undefined) return known;
    const placeholder = `[${placeholderLabel(type)}_${suffixOf(createHmac('sha256', this.key).update(value).digest())}]`;
    const held = this.entries.get(placeholder);
    if (held === undefined) this.entries.set(placeholder, { value, type });
    else if (held !== null && held.value !== value) this.entries.set(placeholder, null);
    this.issued.set(memo, placeholder);
    return placeholder;
  }

  /** The value and kind behind a placeholder this request issued; undefined for any other text. */
  lookup(placeholder: string): Entry | undefined {
    return this.entries.get(placeholder) ?? undefined;
  }

  /** Whether this request issued any placeholder (when not, nothing on the reply path changes). */
  get empty(): boolean {
    return this.entries.size === 0;
  }

  /** Distinct placeholders issued, by kind (for the decision event: counts, never values). */
  issuedByType(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.entries.values()) if (e) out.set(e.type, (out.get(e.type) ?? 0) + 1);
    return out;
  }
}

/** Ten lower-case letters from the digest: 26^10, about 47 bits. */
function suffixOf(digest: Buffer): string {
  let out = '';
  for (let i = 0; i < SUFFIX_LENGTH; i++) out += String.fromCharCode(97 + (digest[i]! % 26));
  return out;
}
