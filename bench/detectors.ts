/**
 * `node --import tsx bench/detectors.ts`: scan throughput of each detector the brief's chain for Aider builds
 * (examples/aider-openai), and of the whole input chain, on the 200 KB Aider-style context that `npm run bench`
 * sends. CPU time of this thread (process.cpuUsage), the median of several runs after warm-up; every chain run gets
 * a text it has not seen, so the scan cache cannot answer. Prints a table; writes nothing.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { documentSchema } from '../src/config/schema.js';
import { buildChain } from '../src/policy/build.js';
import type { Segment } from '../src/protocol/content.js';
import { codeContext } from './context.js';

const RUNS = Number(process.env.RUNS ?? 15);
const configFile = fileURLToPath(new URL('../examples/aider-openai/policy-config.yaml', import.meta.url));
const config = documentSchema().parse(parse(readFileSync(configFile, 'utf8')));
const chain = buildChain(config, 'block', { markerSalt: 'bench' });
const text = codeContext();

function cpuMs(fn: () => unknown): number {
  const before = process.cpuUsage();
  fn();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const mbPerS = (bytes: number, ms: number): string => (bytes / 1e6 / (ms / 1000)).toFixed(1);
const rows: string[] = [];
for (const policy of chain.policies) {
  for (const rule of policy.rules) {
    for (let i = 0; i < 3; i++) rule.detector.scan(text);
    const ms = median(Array.from({ length: RUNS }, () => cpuMs(() => rule.detector.scan(text))));
    rows.push(`| ${policy.kind}/${rule.name} | ${mbPerS(text.length, ms)} | ${ms.toFixed(2)} |`);
  }
}
let n = 0;
const segments = (): Segment[] => [{ id: 0, source: 'user', turn: 0, path: ['messages', 0, 'content'], text: `${text}\nrequest ${n++}: add a docstring` }];
for (let i = 0; i < 3; i++) chain.run('input', segments());
const inputMs = median(Array.from({ length: RUNS }, () => cpuMs(() => chain.run('input', segments()))));
rows.push(`| whole input chain (${chain.policies.map((p) => p.kind).join(', ')}) | ${mbPerS(text.length, inputMs)} | ${inputMs.toFixed(2)} |`);

process.stdout.write(
  [`Scan throughput on a ${Math.round(text.length / 1024)} KB Aider-style context (CPU time, median of ${RUNS}, Node ${process.version}):`, '', '| detector | MB/s | ms per scan |', '|---|---|---|', ...rows, ''].join('\n'),
);
