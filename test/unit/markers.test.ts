import { describe, expect, it } from 'vitest';
import { markerFor, redactionSchema } from '../../src/policy/markers.js';

const m = { type: 'EMAIL', rule: 'email', start: 0, end: 0 };
const marker = (cfg: Record<string, unknown>) => markerFor(redactionSchema.parse(cfg), 'salt-1');

describe('redaction markers', () => {
  it('label: [REDACTED:TYPE], or [REDACTED] without metadata', () => {
    expect(marker({})(m, 'ann@example.com')).toBe('[REDACTED:EMAIL]');
    expect(marker({ include_metadata: false })(m, 'ann@example.com')).toBe('[REDACTED]');
  });

  it('hash: equal values give equal markers, different values differ, and the salt matters', () => {
    const h = marker({ marker_format: 'hash' });
    expect(h(m, 'ann@example.com')).toMatch(/^\[EMAIL:[0-9a-f]{8}\]$/);
    expect(h(m, 'ann@example.com')).toBe(h(m, 'ann@example.com'));
    expect(h(m, 'bob@example.com')).not.toBe(h(m, 'ann@example.com'));
    expect(markerFor(redactionSchema.parse({ marker_format: 'hash' }), 'salt-2')(m, 'ann@example.com')).not.toBe(h(m, 'ann@example.com'));
  });

  it('mask: keeps separators and the last four characters of long values', () => {
    expect(marker({ marker_format: 'mask' })({ ...m, type: 'CREDIT_CARD' }, '4539 1488 0343 6467')).toBe('**** **** **** 6467');
    expect(marker({ marker_format: 'mask' })(m, 'a@b.io')).toBe('*@*.**');
  });

  it('preserve_length pads or cuts every marker to the value length; custom markers win', () => {
    expect(marker({ preserve_length: true })(m, 'a-rather-long-address@example.com')).toBe('[REDACTED:EMAIL]' + '*'.repeat(17));
    expect(marker({ preserve_length: true })(m, 'a@b.io')).toBe('******');
    expect(marker({ custom_markers: { EMAIL: '<email>' } })(m, 'ann@example.com')).toBe('<email>');
  });
});
