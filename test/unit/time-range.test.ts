import { describe, expect, it } from 'vitest';
import { parseDuration, parseTimeRange, parseTimeSpec, TimeSpecError } from '../../src/cli/time-range.js';

const NOW = Date.parse('2026-11-27T12:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days and weeks', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(5 * MIN);
    expect(parseDuration('1h')).toBe(HOUR);
    expect(parseDuration('7d')).toBe(7 * DAY);
    expect(parseDuration('2w')).toBe(14 * DAY);
  });

  it('adds compound parts, takes fractions, ignores case and surrounding space', () => {
    expect(parseDuration('1h30m')).toBe(90 * MIN);
    expect(parseDuration('1.5h')).toBe(90 * MIN);
    expect(parseDuration(' 2D ')).toBe(2 * DAY);
  });

  it('returns null for anything else', () => {
    for (const s of ['', '5', 'm', '5x', '5 m', '-5m', '1y', '2026-01-01']) expect(parseDuration(s), s).toBeNull();
  });
});

describe('parseTimeSpec', () => {
  it('counts a duration back from now', () => {
    expect(parseTimeSpec('5m', NOW)).toBe(NOW - 5 * MIN);
    expect(parseTimeSpec('7d', NOW)).toBe(NOW - 7 * DAY);
    expect(parseTimeSpec('2w', NOW)).toBe(NOW - 14 * DAY);
    expect(parseTimeSpec('now', NOW)).toBe(NOW);
  });

  it('reads RFC 3339 with Z, with offsets, with fractions, and a bare date as UTC midnight', () => {
    expect(parseTimeSpec('2026-11-27T09:00:00Z', NOW)).toBe(Date.UTC(2026, 10, 27, 9));
    expect(parseTimeSpec('2026-11-27T09:00:00.250Z', NOW)).toBe(Date.UTC(2026, 10, 27, 9, 0, 0, 250));
    expect(parseTimeSpec('2026-11-27T09:00:00.123456Z', NOW)).toBe(Date.UTC(2026, 10, 27, 9, 0, 0, 123));
    expect(parseTimeSpec('2026-11-27T11:00:00+02:00', NOW)).toBe(Date.UTC(2026, 10, 27, 9));
    expect(parseTimeSpec('2026-11-27T04:00:00-0500', NOW)).toBe(Date.UTC(2026, 10, 27, 9));
    expect(parseTimeSpec('2026-11-27 09:00:00z', NOW)).toBe(Date.UTC(2026, 10, 27, 9));
    expect(parseTimeSpec('2026-11-27', NOW)).toBe(Date.UTC(2026, 10, 27));
    expect(parseTimeSpec('2024-02-29', NOW)).toBe(Date.UTC(2024, 1, 29));
  });

  it('reads a long number as epoch milliseconds', () => {
    expect(parseTimeSpec('1732698407123', NOW)).toBe(1732698407123);
  });

  it('refuses epoch seconds rather than reading them as 1970', () => {
    expect(() => parseTimeSpec('1732698407', NOW)).toThrow(/epoch seconds.*1732698407000/);
  });

  it('refuses a local time without a zone, impossible dates, and garbage, saying what it accepts', () => {
    expect(() => parseTimeSpec('2026-11-27T09:00:00', NOW)).toThrow(/no time zone/);
    expect(() => parseTimeSpec('2026-02-30', NOW)).toThrow(/not a valid date/);
    expect(() => parseTimeSpec('2025-02-29T00:00:00Z', NOW)).toThrow(/not a valid date/);
    expect(() => parseTimeSpec('2026-13-01', NOW)).toThrow(/not a valid date/);
    expect(() => parseTimeSpec('2026-11-27T24:00:00Z', NOW)).toThrow(/not a valid date/);
    expect(() => parseTimeSpec('yesterday', NOW)).toThrow(/5m, 1h, 7d, 2w/);
    expect(() => parseTimeSpec('', NOW)).toThrow(TimeSpecError);
    expect(() => parseTimeSpec('99999999999999999999', NOW)).toThrow(/too large/);
  });
});

describe('parseTimeRange', () => {
  it('parses either end alone or both', () => {
    expect(parseTimeRange(undefined, undefined, NOW)).toEqual({});
    expect(parseTimeRange('1h', undefined, NOW)).toEqual({ sinceMs: NOW - HOUR });
    expect(parseTimeRange('2d', '1d', NOW)).toEqual({ sinceMs: NOW - 2 * DAY, untilMs: NOW - DAY });
  });

  it('refuses a since that is not before until', () => {
    expect(() => parseTimeRange('1h', '2h', NOW)).toThrow(/must be before/);
    expect(() => parseTimeRange('1h', '1h', NOW)).toThrow(/must be before/);
  });
});
