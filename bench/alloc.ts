/**
 * Allocation per request on the streamed path (issue 20): `node --import tsx bench/alloc.ts`. Each gateway runs
 * in its own process with bench/heap-sampler.ts; after ALLOC_WARMUP requests, ALLOC_REQUESTS more (SSE, the
 * bench's 5 KB chat request, c=50) are sampled. Allocation, unlike time on a shared machine, is nearly the same
 * from run to run, so one run tells a change's effect.
 *
 * ALLOC_DISTS: `label=path` pairs, comma-separated, of builds to compare in one run (default: this build's dist;
 * another build needs a node_modules beside its dist). ALLOC_CHAIN: `brief` (the product brief's chain) or
 * `noaudit` (the same without audit-logger). ALLOC_MODE=gc counts scavenges instead of sampling, so the main
 * thread's CPU per request is the gateway's own (noisy on a shared machine: alternate with ALLOC_REPEAT).
 * ALLOC_TOP: how many allocating functions to list per gateway (self, KB per request).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PORT_BASE = Number(process.env.BENCH_PORT_BASE ?? 21190);
const REQUESTS = Number(process.env.ALLOC_REQUESTS ?? 3000);
const WARMUP = Number(process.env.ALLOC_WARMUP ?? 2000);
const REPEAT = Number(process.env.ALLOC_REPEAT ?? 1);
const TOP = Number(process.env.ALLOC_TOP ?? 25);
const MODE = process.env.ALLOC_MODE === 'gc' ? 'gc' : 'heap';
const BRIEF = ['pii-detector', 'code-sanitizer', 'prompt-injection', 'quality-scorer', 'audit-logger', 'dlp-filter', 'safety-filter'];
const CHAIN = process.env.ALLOC_CHAIN === 'noaudit' ? BRIEF.filter((k) => k !== 'audit-logger') : BRIEF;
const DISTS = (process.env.ALLOC_DISTS ?? 'this=dist').split(',').map((pair) => {
  const [label, path] = pair.includes('=') ? pair.split('=') : [pair, pair];
  return { label: label!, dist: resolve(ROOT, path!) };
});

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

function payload(): string {
  const code = Array.from({ length: 60 }, (_, i) => `export function helper${i}(a: number, b: number): number { return a * ${i} + b; }`).join('\n');
  return JSON.stringify({
    model: 'gpt-4o',
    stream: true,
    temperature: 0,
    messages: [
      { role: 'system', content: 'You are a coding assistant. Reply with SEARCH/REPLACE blocks.' },
      { role: 'user', content: `I have added these files to the chat:\n\nsrc/math.ts\n\`\`\`\n${code}\n\`\`\`\n\nAdd a docstring to helper3.` },
    ],
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} never became ready`);
}

/** CPU time (user + system) of a process's main thread, in µs, from /proc (Linux). */
function mainThreadMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function load(port: number, amount: number, body: string): Promise<autocannon.Result> {
  return new Promise((done, fail) => {
    autocannon({ url: `http://127.0.0.1:${port}/v1/chat/completions`, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, connections: 50, amount, body }, (err, result) =>
      err ? fail(err) : done(result),
    );
  });
}

/** Self size by function (name, file and line), summed over the profile's tree. */
function bySelf(head: ProfileNode): Map<string, number> {
  const sizes = new Map<string, number>();
  const walk = (n: ProfileNode) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const label = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/').replace(/^node:/, '')}:${lineNumber + 1}`;
    sizes.set(label, (sizes.get(label) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(head);
  return sizes;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'kt-alloc-'));
  const children: ChildProcess[] = [];
  const body = payload();
  try {
    const config = join(dir, 'chain.yaml');
    writeFileSync(config, `pack: {name: bench, version: "1"}\npolicies: {chain: [${CHAIN.join(', ')}]}\nproviders:\n  targets:\n    - {id: fake, provider: openai-compatible, base_url: "http://127.0.0.1:${PORT_BASE}/v1"}\n`);
    children.push(spawn(process.execPath, [join(ROOT, 'dist/testing/fake-upstream.js')], { env: { ...process.env, PORT: String(PORT_BASE), FAKE_LOG: 'off' }, stdio: 'ignore' }));
    await waitReady(`http://127.0.0.1:${PORT_BASE}/v1/models`).catch(() => sleep(500));
    const gateways = [];
    for (const [i, { label, dist }] of DISTS.entries()) {
      const port = PORT_BASE + 1 + i;
      const out = join(dir, `out-${i}`);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--import', join(ROOT, 'bench/heap-sampler.ts'), join(dist, 'cli/main.js'), 'gateway', 'run', '--policy-config', config, '--listen', `127.0.0.1:${port}`, '--log-level', 'error', '--max-concurrency', '256', '--data-dir', join(dir, `data-${i}`)],
        { cwd: ROOT, env: { ...process.env, HEAP_OUT: out, HEAP_MODE: MODE }, stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push(child);
      await waitReady(`http://127.0.0.1:${port}/readyz`);
      gateways.push({ label, port, child, out });
    }
    for (const g of gateways) await load(g.port, WARMUP, body);
    console.log(`chain: ${CHAIN.join(', ')}; ${REQUESTS} streamed requests at c=50 after ${WARMUP}; ${MODE === 'heap' ? 'sampled allocation' : 'GC counts'}`);
    for (let round = 0; round < REPEAT; round++) {
      for (const g of round % 2 ? [...gateways].reverse() : gateways) {
        rmSync(g.out, { force: true });
        g.child.kill('SIGUSR2');
        await sleep(200);
        const before = mainThreadMicros(g.child.pid!);
        const result = await load(g.port, REQUESTS, body);
        const main = mainThreadMicros(g.child.pid!) - before;
        g.child.kill('SIGUSR2');
        for (let i = 0; i < 100 && !existsSync(g.out); i++) await sleep(200);
        await sleep(300);
        const n = result.requests.total;
        const line = `${g.label.padEnd(12)} round ${round}: ${n} requests (${result.non2xx} not 2xx), main thread ${Math.round(main / n)} µs/request`;
        const data = JSON.parse(readFileSync(g.out, 'utf8')) as { head: ProfileNode } | { scavenges: number; scavengeMs: number; marks: number };
        if ('head' in data) {
          const sizes = bySelf(data.head);
          const total = [...sizes.values()].reduce((a, b) => a + b, 0);
          console.log(`${line} (sampling on), ${(total / n / 1024).toFixed(1)} KB/request allocated`);
          for (const [label, size] of [...sizes].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${(size / n / 1024).toFixed(2).padStart(6)} KB  ${label}`);
        } else {
          console.log(`${line}, ${((1000 * data.scavenges) / n).toFixed(1)} scavenges and ${((1000 * data.scavengeMs) / n).toFixed(1)} ms in them per 1,000 requests, ${data.marks} mark-sweeps`);
        }
      }
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
