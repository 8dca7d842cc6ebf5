/**
 * Throughput of one detector on one text, read from the median scan time of many timed scans after a warm-up.
 * The machines are shared: a neighbour's burst doubles a few scans' time, which moves a mean over a batch by
 * tens of percent while the median scan barely moves. The best batch is reported beside it for comparison.
 */
export interface ScanSpeed {
  /** MB/s at the median scan time. */
  mbPerSecond: number;
  /** MB/s at the fastest scan. */
  bestMbPerSecond: number;
  medianMs: number;
  matches: number;
}

export function measureScan(scan: (text: string) => readonly unknown[], text: string, runs = 41, warmup = 10): ScanSpeed {
  for (let i = 0; i < warmup; i++) scan(text);
  const times: number[] = [];
  let matches = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    matches = scan(text).length;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1]!;
  return { mbPerSecond: text.length / (median / 1000) / 1e6, bestMbPerSecond: text.length / (times[0]! / 1000) / 1e6, medianMs: median, matches };
}
