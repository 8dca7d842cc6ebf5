import { hash } from 'node:crypto';
import type { Detector, DetectorMatch } from '../detect/types.js';

/** Below this length scanning is cheaper than hashing, so short texts are never cached. */
const MIN_CACHED_LENGTH = 512;

/**
 * Remembers what each detector found in long texts. Coding agents send the whole conversation on every turn
 * (Claude Code: 50–80 KB, almost all of it unchanged since the previous turn), so most segments of a request
 * were already scanned a moment ago. Keys are SHA-256 digests, so the cache holds no request text.
 */
export class ScanCache {
  private readonly entries = new Map<string, readonly DetectorMatch[]>();

  constructor(private readonly maxEntries = 50_000) {}

  /** `digest` lets a caller that scans one text with several detectors hash it once (see `digestOf`). */
  scan(slot: number, detector: Detector, text: string, digest?: string): readonly DetectorMatch[] {
    if (text.length < MIN_CACHED_LENGTH) return detector.scan(text);
    const key = `${slot}:${digest ?? digestOf(text)}`;
    const hit = this.entries.get(key);
    if (hit) {
      // Refresh its place: the map's insertion order is the eviction order.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const found = detector.scan(text);
    this.entries.set(key, found);
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
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
