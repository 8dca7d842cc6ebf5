/**
 * The prompt-injection policy's own throughput on a 200 KB Aider-style context (bench/context.ts), single
 * thread, after warm-up: each scope's detector (classifier and signals) over the whole text, as the engine runs it
 * on a user turn (direct) or a tool result (indirect), at the median of 41 timed scans (bench/scan-speed.ts).
 * `npm run bench:injection`.
 */
import { promptInjection } from '../src/policy/policies/prompt-injection.js';
import { codeContext } from './context.js';
import { measureScan } from './scan-speed.js';

const text = codeContext();
const policy = promptInjection.create(promptInjection.schema.parse({}), { markerSalt: 'bench' });
for (const rule of policy.rules) {
  const s = measureScan((t) => rule.detector.scan(t), text);
  process.stdout.write(
    `prompt-injection ${rule.name.padEnd(8)} ${(text.length / 1024).toFixed(0)} KB  ${s.mbPerSecond.toFixed(1)} MB/s  ${s.medianMs.toFixed(2)} ms/scan (median; best ${s.bestMbPerSecond.toFixed(1)} MB/s)  ${s.matches} matches\n`,
  );
}

// The signals alone on the same text, measured in the same process: the ratio survives a loaded machine.
const { createInjectionScanner } = await import('../src/detect/injection/index.js');
const signals = createInjectionScanner({ model: false });
process.stdout.write(`signals alone (before the classifier) ${measureScan((t) => signals.scan(t), text).mbPerSecond.toFixed(1)} MB/s\n`);
