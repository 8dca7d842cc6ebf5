import { hash } from 'node:crypto';
import type { Detector, DetectorMatch } from '../detect/types.js';
import type { SegmentSource } from '../protocol/content.js';
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

  private readonly groups: RecentMap<string, ReadonlyArray<readonly DetectorMatch[]>>;

  constructor(maxEntries = 50_000) {
    this.entries = new RecentMap(maxEntries);
    this.groups = new RecentMap(Math.max(2, Math.floor(maxEntries / 10)));
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

  /**
   * Several short texts scanned as a group, each on its own (so the results are exactly those of scanning them
   * one by one), and remembered under one digest of the whole group: the tool declarations and the short turns
   * of a conversation come back unchanged in every request, and one hash of the group costs less than scanning
   * its members again. Members whose source is not in `sources` (when given) are not read: their result is empty.
   */
  scanGroup(
    slot: number,
    detector: Detector,
    members: ReadonlyArray<{ text: string; source: SegmentSource }>,
    sources: ReadonlySet<SegmentSource> | undefined,
    digest: string,
  ): ReadonlyArray<readonly DetectorMatch[]> {
    const key = `${slot}:g:${digest}`;
    const hit = this.groups.get(key);
    if (hit) return hit;
    const found = members.map((m) => (!sources || sources.has(m.source) ? detector.scan(m.text) : NONE));
    this.groups.set(key, found);
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

const NONE: readonly DetectorMatch[] = Object.freeze([]);

/** At most this many short texts in one group: a change in one of them costs a rescan of this many. */
export const GROUP_SIZE = 64;

/**
 * The digest of a group of short texts with their sources (a detector reads some sources only, so the same
 * texts with other sources are another group). Lengths are part of it, so no two groups share a digest.
 */
export function groupDigestOf(members: ReadonlyArray<{ text: string; source: string }>): string {
  let joined = '';
  for (const m of members) joined += `${m.source}:${m.text.length}:${m.text}\u0000`;
  return digestOf(joined);
}
