import { describe, expect, it } from 'vitest';
import { hasDiffsLine } from '../../src/audit/client.js';

describe('hasDiffsLine', () => {
  it('finds `# Diffs:` on a line of its own, at the start or after a newline, and nowhere else', () => {
    expect(hasDiffsLine('# Diffs:\ndiff --git a/x b/x')).toBe(true);
    expect(hasDiffsLine('chat transcript\n# Diffs:\n+x')).toBe(true);
    expect(hasDiffsLine('see ## Diffs:\nnot at a line start\n')).toBe(false);
    expect(hasDiffsLine('x # Diffs:\n then\n# Diffs:\n')).toBe(true); // a later occurrence at a line start
    expect(hasDiffsLine('# Diffs: inline\n')).toBe(false);
    expect(hasDiffsLine('\n# Diffs:')).toBe(false);
    expect(hasDiffsLine('')).toBe(false);
  });
});
