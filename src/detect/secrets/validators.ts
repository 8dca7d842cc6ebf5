import { lineStartWithin } from '../lines.js';
import { isDefaultPassword } from './allowlist.js';
import type { RuleMatchContext } from './rule.js';

function b64urlDecode(s: string): string | undefined {
  try {
    return Buffer.from(s, 'base64url').toString('utf8');
  } catch {
    return undefined;
  }
}

function jsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || !text.startsWith('{')) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Three base64url parts whose header decodes to a JSON object with a string `alg`. Without a signature the
 * claims must decode to a JSON object too (an unsigned token is still a bearer credential where `none` is accepted).
 */
export function isJwt(value: string): boolean {
  const parts = value.split('.');
  if (parts.length !== 3) return false;
  const h = jsonObject(b64urlDecode(parts[0]!.replace(/=+$/, '')));
  if (h === undefined || typeof h['alg'] !== 'string') return false;
  return parts[2]!.length > 0 || jsonObject(b64urlDecode(parts[1]!.replace(/=+$/, ''))) !== undefined;
}

/** Registered JOSE header names (RFC 7515, 7516, 7518): a JWT's header opens with one of them. */
const JOSE_HEADER = /^\{\s*"(?:alg|typ|cty|kid|jku|jwk|x5u|x5c|x5t|x5t#S256|crit|enc|zip|epk|apu|apv|iv|tag|p2s|p2c|b64|ppt)"\s*:/;

/**
 * A base64 value that decodes to a JWT: the decoded text starts with `eyJ` and its first part decodes to the
 * start of a JOSE header. Only the header is checked, so a token whose tail is cut or re-wrapped still counts.
 */
export function isBase64Jwt(value: string): boolean {
  const decoded = Buffer.from(value.slice(0, 400), 'base64').toString('latin1');
  const m = /^eyJ[A-Za-z0-9_-]{6,}/.exec(decoded);
  if (m === null) return false;
  const header = b64urlDecode(m[0].slice(0, m[0].length - (m[0].length % 4)));
  return header !== undefined && JOSE_HEADER.test(header);
}

const B64_CHAR = /[A-Za-z0-9+/=]/;

/**
 * A PEM / OpenSSH / PGP block with real key material: at least 64 base64 characters between the armour
 * lines once header lines (`Proc-Type:`, `Comment:`) and newlines (literal or `\n`-escaped) are removed.
 */
export function hasKeyMaterial(block: string): boolean {
  const open = block.indexOf('-----', 5);
  const close = block.lastIndexOf('-----END');
  if (open < 0 || close < 0 || close <= open) return false;
  const body = block
    .slice(open + 5, close)
    .replace(/\\[nr]/g, '\n')
    .split('\n')
    .filter((line) => !/^[\w-]+:\s/.test(line.trim()))
    .join('')
    .replace(/\s+/g, '');
  if (body.length < 64) return false;
  let ok = 0;
  for (const ch of body) if (B64_CHAR.test(ch)) ok++;
  return ok / body.length >= 0.97;
}

/** For `scheme://user:password@host`: a password that is not a sample default or the user name again. */
export function urlPasswordOk(value: string, ctx: RuleMatchContext): boolean {
  if (value.length < 4) return false;
  return !isDefaultPassword(value, ctx.groups?.['user']) && !/^%[0-9A-F]{2}$/i.test(value);
}

/** ADO.NET / JDBC `Password=…;` only inside a connection string (a `Server=` / `Data Source=` / `jdbc:` before it on the line). */
export function inAdoConnectionString(value: string, ctx: RuleMatchContext): boolean {
  const before = ctx.text.slice(lineStartWithin(ctx.text, ctx.matchStart, 400), ctx.matchStart);
  if (!/(?:server|data source|host|hostname|address|addr|uid|user id|user|initial catalog|database|jdbc:[a-z]+:)\s*[=:/]/i.test(before)) return false;
  if (!before.includes(';')) return false;
  return !isDefaultPassword(value.trim());
}

/**
 * A Discord bot token's first part is the bot's user id, a 17–20 digit snowflake, in base64. Tokens in test
 * fixtures and leaked samples often have random first parts of the same shape (`[MNO]` and 23–25 more
 * characters), so a first part that is not a snowflake is accepted when the outer parts look generated: the
 * first mixes upper and lower case, the last upper case, lower case and digits.
 */
export function discordIdPart(value: string): boolean {
  const parts = value.split('.');
  if (parts.length !== 3) return false;
  const id = Buffer.from(parts[0]!, 'base64url').toString('latin1');
  if (/^[1-9]\d{16,19}$/.test(id)) return true;
  const [id0, , hmac] = parts as [string, string, string];
  return id0.length >= 24 && id0.length <= 26 && /[A-Z]/.test(id0) && /[a-z]/.test(id0) && mixed(hmac);
}

function mixed(s: string): boolean {
  return /[A-Z]/.test(s) && /[a-z]/.test(s) && /\d/.test(s);
}

/** A Twitter bearer token: the run of `A`s is followed by real material (mixed case and digits, not more `A`s). */
export function twitterBearer(value: string): boolean {
  const tail = value.replace(/^A+/, '');
  return tail.length >= 50 && /[a-z]/.test(tail) && /\d/.test(tail) && /[A-Z]/.test(tail);
}
