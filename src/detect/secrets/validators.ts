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

/** Three base64url parts whose header decodes to a JSON object with a string `alg`. */
export function isJwt(value: string): boolean {
  const parts = value.split('.');
  if (parts.length !== 3) return false;
  const header = b64urlDecode(parts[0]!);
  if (header === undefined || !header.startsWith('{')) return false;
  try {
    const h: unknown = JSON.parse(header);
    return typeof h === 'object' && h !== null && typeof (h as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
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

/** A Discord bot token's first part is the bot's user id, a 17–20 digit snowflake, in base64. */
export function discordIdPart(value: string): boolean {
  const dot = value.indexOf('.');
  if (dot < 0) return false;
  const id = Buffer.from(value.slice(0, dot), 'base64url').toString('latin1');
  return /^[1-9]\d{16,19}$/.test(id);
}

/** A Twitter bearer token: the run of `A`s is followed by real material (mixed case and digits, not more `A`s). */
export function twitterBearer(value: string): boolean {
  const tail = value.replace(/^A+/, '');
  return tail.length >= 50 && /[a-z]/.test(tail) && /\d/.test(tail) && /[A-Z]/.test(tail);
}
