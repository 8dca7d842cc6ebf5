import { hash } from 'node:crypto';
import type { Detector, DetectorMatch } from '../detect/types.js';
import { RecentMap } from './recent-map.js';

/** Below this length scanning is cheaper than hashing, so short texts are never cached. */
const MIN_CACHED_LENGTH = 512;

/**
 * Remembers what each detector found in long texts. Coding agents send the whole conversation on every turn
 * (Claude Code: 50–80 KB, almost all of it unchanged since the previous turn), so most segments of a request
 * were already scanned a moment ago. Keys are SHA-256 digests, so the cache holds no request text.
 */
export class ScanCache {
  private readonly entries: RecentMap<string, readonly DetectorMatch[]>;

  constructor(maxEntries = 50_000) {
    this.entries = new RecentMap(maxEntries);
  }

  /** `digest` lets a caller that scans one text with several detectors hash it once (see `digestOf`). */
  scan(slot: number, detector: Detector, text: string, digest?: string): readonly DetectorMatch[] {
    if (text.length < MIN_CACHED_LENGTH) return detector.scan(text);
    const key = `${slot}:${digest ?? digestOf(text)}`;
    const hit = this.entries.get(key);
    if (hit) return hit;
    const found = detector.scan(text);
    this.entries.set(key, found);
    return found;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** SHA-256 of the text in hex: the audit trail names long captured texts by it too (audit/blobs.ts). */
export function digestOf(text: string): string {
  return hash('sha256', text, 'hex');
}

export function worthCaching(text: string): boolean {
  return text.length >= MIN_CACHED_LENGTH;
}
