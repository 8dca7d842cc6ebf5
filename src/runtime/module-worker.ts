import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * The process's Node options minus those about its own entry (`node --input-type=module -e …` would make a
 * thread fail to start: "--input-type can only be used with string input").
 */
export function threadExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (['--input-type', '-e', '--eval', '-p', '--print'].includes(a)) i++;
    else if (!a.startsWith('--input-type=') && !a.startsWith('--eval=') && !a.startsWith('--print=')) out.push(a);
  }
  return out;
}

/**
 * Starts the worker module `name` (without extension) that sits beside `from` (the caller's import.meta.url): its
 * built `.js` twin in dist, or, running from TypeScript sources (vitest, tsx), the `.ts` file through a bootstrap
 * that registers tsx's loader first, since Node 20 ignores `--import tsx` in a worker's execArgv for its entry.
 */
export function startModuleWorker(from: string, name: string, workerData: unknown): Worker {
  const execArgv = threadExecArgv();
  if (!from.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, from), { workerData, execArgv });
  // The ESM entry of tsx/esm/api (require.resolve would give its CommonJS twin).
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsx = pathToFileURL(join(tsxDir, 'dist/esm/api/index.mjs')).href;
  const entry = new URL(`./${name}.ts`, from).href;
  const boot = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData, execArgv });
}
