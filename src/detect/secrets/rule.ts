/** What a validator sees besides the value: the scanned text and where the match and its value are. */
export interface RuleMatchContext {
  text: string;
  /** Start of the whole regular-expression match (for context rules, where the key name was found). */
  matchStart: number;
  matchEnd: number;
  valueStart: number;
  valueEnd: number;
  groups: Record<string, string | undefined> | undefined;
}

export type SecretCategory =
  | 'cloud'
  | 'vcs'
  | 'chat'
  | 'payments'
  | 'ai'
  | 'registry'
  | 'saas'
  | 'database'
  | 'private-key'
  | 'jwt'
  | 'generic';

export interface SecretRule {
  id: string;
  description: string;
  /** Lower-case literals; at least one must occur (case-insensitively) in the text for the rule to run. */
  keywords: string[];
  /** Without the global or sticky flag. The capture group named `secret` (or the whole match) is the value. */
  pattern: RegExp;
  /** The longest value this rule reports. */
  maxLength: number;
  /** Minimum Shannon entropy (bits/char) of the value, for generic rules. */
  entropy?: number;
  category: SecretCategory | string;
  /** Extra check on a candidate value; false drops it. */
  validate?: (value: string, ctx: RuleMatchContext) => boolean;
  /** Values may hold runs of one character (key material, Twitter's leading `A`s): skip that placeholder test. */
  allowRuns?: boolean;
}

/** End of a token: the next character cannot continue it. */
export const END = '(?![A-Za-z0-9_-])';
/** End of a base64 value. */
export const END_B64 = '(?![A-Za-z0-9+/=_-])';

interface Extra {
  entropy?: number;
  validate?: SecretRule['validate'];
  allowRuns?: boolean;
  /** Replaces the default end guard `END`. */
  end?: string;
  flags?: string;
}

/**
 * A token recognised by its own shape (usually a vendor prefix): `body` is the whole value.
 * `\b` in front keeps it from starting in the middle of a longer word.
 */
export function tokenRule(
  id: string,
  category: SecretCategory,
  description: string,
  keywords: string[],
  body: string,
  maxLength: number,
  extra: Extra = {},
): SecretRule {
  return withExtra(
    { id, category, description, keywords, maxLength, pattern: new RegExp(String.raw`\b(?<secret>${body})${extra.end ?? END}`, extra.flags ?? '') },
    extra,
  );
}

/** Separator between a key name and its value (after a closing quote and/or `]`, PHP `$cfg['key'] = `): `=`, `:`, `:=`, `=>`, Makefile `::=` / `?=` / `+=`, or `, ` (function arguments). */
const ASSIGN = String.raw`[\w.\-]{0,30}?(?:["']\]?|\])?[ \t]{0,4}(?:===?|=|:::?=|:=|\?=|\+=|\.=|<-|=>|:|,)[ \t]{0,4}(?:\r?\n[ \t]+["']?[\w.\-]{1,30}["']?[ \t]*[:=][ \t]{0,4})?@?["'\x60]?`;

/**
 * A value that is only recognisable next to a key naming the provider, e.g. `DATADOG_API_KEY=<32 hex>`,
 * `heroku: { api_key: <uuid> }`, `-H "DD-API-KEY: …"`. Case-insensitive.
 */
export function contextRule(
  id: string,
  category: SecretCategory,
  description: string,
  keywords: string[],
  key: string,
  value: string,
  maxLength: number,
  extra: Extra = {},
): SecretRule {
  const own = extra.validate;
  const validate = (v: string, ctx: RuleMatchContext): boolean =>
    !endsInsideLaterWord(ctx.text, ctx.matchStart, ctx.matchStart + (ctx.groups?.['kname']?.length ?? 0)) && (own === undefined || own(v, ctx));
  return withExtra(
    { id, category, description, keywords, maxLength, pattern: new RegExp(String.raw`(?<kname>${key})${ASSIGN}(?<secret>${value})${extra.end ?? END}`, extra.flags ?? 'i') },
    { ...extra, validate },
  );
}

function isUpper(c: number): boolean {
  return c >= 65 && c <= 90;
}
function isLower(c: number): boolean {
  return c >= 97 && c <= 122;
}

/**
 * The key name matched case-insensitively ends inside a word that began after the match did: `sumo` in
 * `sumOfSquares` (the words are sum|Of|Squares), `token` in `discordTokenizer`. The name was read across a word
 * boundary of the identifier, so it is not the name. A word the match began with may go on (`sumologic`), and a
 * plural `s` may follow (`discord_secrets`). Words split at camelCase changes and at anything not a letter.
 */
export function endsInsideLaterWord(text: string, start: number, end: number): boolean {
  if (end <= start || end >= text.length) return false;
  const prev = text.charCodeAt(end - 1);
  const next = text.charCodeAt(end);
  if (!(isUpper(prev) || isLower(prev)) || !(isUpper(next) || isLower(next))) return false;
  // A word boundary right at the end: aB, or AB followed by a lower-case letter (an acronym then a word).
  if (isLower(prev) && isUpper(next)) return false;
  if (isUpper(prev) && isUpper(next) && isLower(text.charCodeAt(end + 1))) return false;
  // The plural of the name: one `s` (or `S`), then the word ends.
  const after = text.charCodeAt(end + 1);
  if ((next === 115 || next === 83) && !(isLower(after) || (isUpper(after) && isUpper(next)))) return false;
  // Start of the word holding the match's last character.
  let i = end - 1;
  while (i > start) {
    const c = text.charCodeAt(i);
    const b = text.charCodeAt(i - 1);
    if (!(isUpper(b) || isLower(b))) break;
    if (isUpper(c) && (isLower(b) || (isUpper(b) && isLower(text.charCodeAt(i + 1))))) break;
    i--;
  }
  return i > start;
}

/** A rule with a hand-written pattern. */
export function customRule(
  id: string,
  category: SecretCategory,
  description: string,
  keywords: string[],
  pattern: RegExp,
  maxLength: number,
  extra: Omit<Extra, 'end' | 'flags'> = {},
): SecretRule {
  return withExtra({ id, category, description, keywords, maxLength, pattern }, extra);
}

function withExtra(rule: SecretRule, extra: Extra): SecretRule {
  if (extra.entropy !== undefined) rule.entropy = extra.entropy;
  if (extra.validate !== undefined) rule.validate = extra.validate;
  if (extra.allowRuns !== undefined) rule.allowRuns = extra.allowRuns;
  return rule;
}
