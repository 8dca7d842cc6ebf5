/**
 * Times on the command line: `--since 5m`, `--until 2026-11-27T09:00:00Z`, `--since 1732698407123`.
 * Pure, so the parsing rules are tested without a clock; the commands pass `Date.now()` in.
 */

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

/** `30s`, `5m`, `1h`, `7d`, `2w` (also `1h30m`) in milliseconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (!/^(\d+(?:\.\d+)?[smhdw])+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}

// Full RFC 3339 date-time (`T` or space, optional fraction, `Z` or an offset), or a bare date taken as UTC midnight.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/;

// Below this an all-digit value is almost surely epoch *seconds* (1e11 ms is March 1973): refusing it beats
// silently reading `1732698407` as a date in January 1970.
const MIN_EPOCH_MS = 100_000_000_000;

/** The forms parseTimeSpec reads, for --help (one list, so every command describes the same forms). */
export const TIME_FORMS = 'a duration ago (30s, 5m, 1h, 7d, 2w, 1h30m), an RFC 3339 time with a zone (2026-11-27T09:00:00Z), a date (2026-11-27, UTC midnight), now, or epoch milliseconds';

export class TimeSpecError extends Error {
  override name = 'TimeSpecError';
}

/**
 * A point in time as epoch milliseconds: a duration counts back from `nowMs` (`5m` = five minutes ago), an
 * RFC 3339 timestamp or date is taken as written, and a long number is epoch milliseconds.
 */
export function parseTimeSpec(text: string, nowMs: number): number {
  const s = text.trim();
  if (s === '') throw new TimeSpecError('expected a time such as 5m, 1h, 7d, 2w, 2026-11-27T09:00:00Z or epoch milliseconds');
  if (s.toLowerCase() === 'now') return nowMs;

  const duration = parseDuration(s);
  if (duration !== null) return nowMs - duration;

  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new TimeSpecError(`${s} is too large for epoch milliseconds`);
    if (n < MIN_EPOCH_MS) throw new TimeSpecError(`${s} looks like epoch seconds; give epoch milliseconds (${s}000) or an RFC 3339 time`);
    return n;
  }

  const m = RFC3339.exec(s);
  if (m) {
    const [, y, mo, d, hh, mm, ss, , zone] = m;
    if (hh !== undefined && zone === undefined) {
      throw new TimeSpecError(`${s} has no time zone; add Z for UTC or an offset such as +02:00`);
    }
    const month = Number(mo);
    const day = Number(d);
    const daysInMonth = month >= 1 && month <= 12 ? new Date(Date.UTC(Number(y), month, 0)).getUTCDate() : 0;
    // Date.parse would roll 2026-02-30 over into March rather than refuse it.
    if (day < 1 || day > daysInMonth || Number(hh ?? 0) > 23 || Number(mm ?? 0) > 59 || Number(ss ?? 0) > 59) {
      throw new TimeSpecError(`${s} is not a valid date and time`);
    }
    const iso = hh === undefined ? `${y}-${mo}-${d}T00:00:00Z` : s.toUpperCase().replace(' ', 'T').replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) throw new TimeSpecError(`${s} is not a valid date and time`);
    return ms;
  }

  throw new TimeSpecError(`cannot read "${s}" as a time: use a duration (5m, 1h, 7d, 2w), an RFC 3339 time (2026-11-27T09:00:00Z) or epoch milliseconds`);
}

export interface TimeRange {
  sinceMs?: number;
  untilMs?: number;
}

/** Both ends at once, so `--since` after `--until` is caught before a query quietly returns nothing. */
export function parseTimeRange(since: string | undefined, until: string | undefined, nowMs: number): TimeRange {
  const range: TimeRange = {};
  if (since !== undefined) range.sinceMs = parseTimeSpec(since, nowMs);
  if (until !== undefined) range.untilMs = parseTimeSpec(until, nowMs);
  if (range.sinceMs !== undefined && range.untilMs !== undefined && range.sinceMs >= range.untilMs) {
    throw new TimeSpecError(`--since (${new Date(range.sinceMs).toISOString()}) must be before --until (${new Date(range.untilMs).toISOString()})`);
  }
  return range;
}
