/**
 * The prompt-injection policy's own throughput on a 200 KB Aider-style context (bench/context.ts), single
 * thread, after warm-up: each scope's detector (classifier and signals) over the whole text, as the engine runs it
 * on a user turn (direct) or a tool result (indirect). `npm run bench:injection`.
 */
import { promptInjection } from '../src/policy/policies/prompt-injection.js';
import { codeContext } from './context.js';

const text = codeContext();
const policy = promptInjection.create(promptInjection.schema.parse({}), { markerSalt: 'bench' });
for (const rule of policy.rules) {
  for (let i = 0; i < 20; i++) rule.detector.scan(text);
  const runs = 40;
  const t0 = performance.now();
  let matches = 0;
  for (let i = 0; i < runs; i++) matches = rule.detector.scan(text).length;
  const seconds = (performance.now() - t0) / 1000;
  const mbs = (text.length * runs) / seconds / 1e6;
  process.stdout.write(`prompt-injection ${rule.name.padEnd(8)} ${(text.length / 1024).toFixed(0)} KB  ${mbs.toFixed(1)} MB/s  ${((seconds / runs) * 1000).toFixed(2)} ms/scan  ${matches} matches\n`);
}

// The signals alone on the same text, measured in the same process: the ratio survives a loaded machine.
const { createInjectionScanner } = await import('../src/detect/injection/index.js');
const signals = createInjectionScanner({ model: false });
for (let i = 0; i < 20; i++) signals.scan(text);
const t1 = performance.now();
for (let i = 0; i < 40; i++) signals.scan(text);
const s1 = (performance.now() - t1) / 1000;
process.stdout.write(`signals alone (before the classifier) ${((text.length * 40) / s1 / 1e6).toFixed(1)} MB/s\n`);
