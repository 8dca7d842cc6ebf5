/**
 * Keeping the preferred of overlapping spans. Candidates arrive in preference order; each is kept unless it
 * overlaps one kept before it. Inserting into a start-sorted array (the obvious way) moves O(kept) entries per
 * insertion, which is quadratic when a large input yields many candidates in an order that interleaves (e-mails
 * ranked before IP addresses that sit between them). Here the kept spans are marks in a Fenwick tree over the
 * candidates in start order, so each candidate costs O(log m).
 */

interface Span {
  start: number;
  end: number;
}

/** The candidates that survive, in start order; `ranked` is in preference order. */
export function keepPreferred<T extends Span>(ranked: readonly T[]): T[] {
  const m = ranked.length;
  if (m <= 1) return ranked.slice();
  // Position of each candidate in start order (ties by end, then preference, so the order is total).
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => ranked[a]!.start - ranked[b]!.start || ranked[a]!.end - ranked[b]!.end || a - b);
  const starts = new Float64Array(m);
  const rankOf = new Int32Array(m);
  order.forEach((ci, pos) => {
    starts[pos] = ranked[ci]!.start;
    rankOf[ci] = pos;
  });
  const tree = new Int32Array(m + 1);
  const keptEnd = new Float64Array(m);
  const add = (pos: number): void => {
    for (let i = pos + 1; i <= m; i += i & -i) tree[i]! += 1;
  };
  /** Kept spans among the first `count` positions in start order. */
  const keptBefore = (count: number): number => {
    let s = 0;
    for (let i = count; i > 0; i -= i & -i) s += tree[i]!;
    return s;
  };
  /** Position (in start order) of the k-th kept span, k >= 1. */
  const kth = (k: number): number => {
    let pos = 0;
    for (let step = 1 << Math.floor(Math.log2(m)); step > 0; step >>= 1) {
      if (pos + step <= m && tree[pos + step]! < k) {
        pos += step;
        k -= tree[pos]!;
      }
    }
    return pos;
  };
  /** First position whose start is >= x. */
  const lowerBound = (x: number): number => {
    let lo = 0;
    let hi = m;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const kept = new Uint8Array(m);
  for (let ci = 0; ci < m; ci++) {
    const c = ranked[ci]!;
    // A kept span starting inside [start, end) overlaps.
    const from = lowerBound(c.start);
    const before = keptBefore(from);
    if (keptBefore(lowerBound(c.end)) > before) continue;
    // So does the last kept span starting before it, if it reaches past our start (kept spans are disjoint).
    if (before > 0 && keptEnd[kth(before)]! > c.start) continue;
    const pos = rankOf[ci]!;
    kept[pos] = 1;
    keptEnd[pos] = c.end;
    add(pos);
  }
  const out: T[] = [];
  for (let pos = 0; pos < m; pos++) if (kept[pos] === 1) out.push(ranked[order[pos]!]!);
  return out;
}
