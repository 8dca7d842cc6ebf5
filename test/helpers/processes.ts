import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The built CLI, as a user runs it (npm test builds first). */
export const KT = `${ROOT}dist/cli/main.js`;

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** `kt gateway run` in its own process; resolves once it listens, rejects with its stderr if it exits first. */
export function spawnGateway(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [KT, 'gateway', 'run', '--log-format', 'json', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stderr = '';
    const onExit = (code: number | null) => reject(new Error(`gateway exited with ${code}: ${stderr.slice(0, 2000)}`));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('listening on')) {
        child.off('exit', onExit);
        resolve(child);
      }
    });
    child.on('exit', onExit);
  });
}

/** `kt …` from the built CLI, without KEEPTRUSTS_* from this environment; resolves with its exit code and output. */
export function runKt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) env[k] = v;
  const child = spawn(process.execPath, [KT, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}
