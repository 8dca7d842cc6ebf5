/**
 * Loaded into a gateway process by bench/alloc.ts (`--import tsx --import ./bench/heap-sampler.ts`). SIGUSR2
 * starts V8's sampling heap profiler, objects later collected by either GC included (what a request allocates,
 * not what it keeps), and the next SIGUSR2 writes the profile to HEAP_OUT; with HEAP_MODE=gc it counts garbage
 * collections between the two signals instead (no profiler running, so CPU time is the gateway's own).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

const out = process.env.HEAP_OUT;
if (!out) throw new Error('heap-sampler: HEAP_OUT is not set');
const countOnly = process.env.HEAP_MODE === 'gc';
const session = new Session();
session.connect();

const gc = { scavenges: 0, scavengeMs: 0, marks: 0, markMs: 0 };
new PerformanceObserver((list) => {
  for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
    // kind 1 is a scavenge (NODE_PERFORMANCE_GC_MINOR); the rest are mark-sweeps and their incremental steps.
    if (e.detail?.kind === 1) {
      gc.scavenges++;
      gc.scavengeMs += e.duration;
    } else {
      gc.marks++;
      gc.markMs += e.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

let since: typeof gc | undefined;
process.on('SIGUSR2', () => {
  if (countOnly) {
    if (!since) {
      since = { ...gc };
      return;
    }
    const d = { scavenges: gc.scavenges - since.scavenges, scavengeMs: gc.scavengeMs - since.scavengeMs, marks: gc.marks - since.marks, markMs: gc.markMs - since.markMs };
    since = undefined;
    writeFileSync(out, JSON.stringify(d));
    return;
  }
  if (!since) {
    since = { ...gc };
    session.post('HeapProfiler.startSampling', { samplingInterval: Number(process.env.HEAP_INTERVAL ?? 1024), includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return;
  }
  since = undefined;
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) throw err;
    writeFileSync(out, JSON.stringify(result.profile));
  });
});
