/** The few cookie operations the console's sign-in needs, with nothing a browser could misread. */

/** Cookie pairs from a Cookie header; the first of a repeated name wins, malformed pairs are skipped. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.slice(0, 16_384).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

export interface CookieOptions {
  /** Seconds; 0 deletes the cookie. */
  maxAge: number;
  secure: boolean;
}

/** HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET, which Lax lets through), Path=/. */
export function serializeCookie(name: string, value: string, opts: CookieOptions): string {
  if (!/^[A-Za-z0-9_-]*$/.test(value)) throw new Error('cookie values here are base64url');
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${Math.max(0, Math.floor(opts.maxAge))}`];
  if (opts.secure) parts.push('Secure');
  return parts.join('; ');
}

/**
 * Cookie names: with Secure, the `__Host-` prefix makes browsers refuse the cookie unless it came over HTTPS
 * from this exact host with Path=/ and no Domain, so a sibling subdomain cannot plant or shadow it.
 */
export function cookieNames(secure: boolean): { session: string; login: string } {
  return secure ? { session: '__Host-kt_session', login: '__Host-kt_login' } : { session: 'kt_session', login: 'kt_login' };
}
