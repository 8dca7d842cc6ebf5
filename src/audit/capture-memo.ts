import { RecentMap } from '../policy/recent-map.js';
import type { Finding } from '../policy/types.js';

/**
 * Hashes the audit trail needs for a request's capture, remembered across requests. Coding agents resend
 * the whole conversation on every turn, so most segments were captured a moment ago with the same findings in
 * the same places: the SHA-256 of their masked copy, and the salted hashes of the values found in them, come
 * out the same every time (measured on a later agent turn, 40 KB of history: ~30 µs a request of hashing).
 * Keys are made of a segment's SHA-256 (the scan cache's digest) and positions, never of text, so the memo
 * holds neither request text nor found values; what it returns is what hashing again would give.
 */
export class CaptureMemo {
  private readonly entries: RecentMap<string, string>;

  constructor(maxEntries = 20_000) {
    // A conversation still going on keeps its entries however many one-off texts pass through meanwhile.
    this.entries = new RecentMap(maxEntries);
  }

  /** The masked copy of the segment with this digest, masked at these findings' spans. */
  static maskedKey(digest: string, findings: readonly Pick<Finding, 'start' | 'end' | 'type'>[]): string {
    let key = `m${digest}`;
    for (const f of findings) key += `|${f.start}:${f.end}:${f.type}`;
    return key;
  }

  /** The value at [start, end) of the segment with this digest. */
  static valueKey(digest: string, start: number, end: number): string {
    return `v${digest}|${start}:${end}`;
  }

  get(key: string): string | undefined {
    return this.entries.get(key);
  }

  /** Keeps `value` (what hashing gives for `key`, so setting it again changes nothing) and returns it. */
  remember(key: string, value: string): string {
    this.entries.set(key, value);
    return value;
  }
}

const memos = new WeakMap<object, CaptureMemo>();

/** One memo per gateway's audit settings (value hashes depend on its salt). */
export function captureMemoFor(settings: object): CaptureMemo {
  let memo = memos.get(settings);
  if (!memo) memos.set(settings, (memo = new CaptureMemo()));
  return memo;
}
