import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { startFakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort } from '../helpers/processes.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from '../helpers/services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const redisUp = await redisAvailable();

/** Loaded into the gateway with --import: at the main thread's exit, what its CommonJS loader holds. */
const PROBE = `
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
if (isMainThread) {
  process.on('exit', () => {
    const files = Object.keys(createRequire(import.meta.url).cache);
    const offenders = files.filter((f) => /\\bextends\\s+String\\b/.test(readFileSync(f, 'utf8')));
    writeFileSync(process.env.KT_PROBE_OUT, JSON.stringify({ loaded: files.length, offenders, ioredis: files.some((f) => f.includes('/ioredis/')) }));
  });
}
`;

/**
 * Once a process has defined a subclass of String, V8's optimised code reads every string more slowly: the
 * detectors' scans of a 200 KB context took 2.5-4x as long in a gateway that had merely imported ioredis (its
 * RESP decoder defines `class VerbatimString extends String`). The CLI's whole module graph (every command,
 * `kt gateway run` included) is loaded in a fresh process, and no CommonJS module it loaded may define one.
 * ESM sources are ours and checked by the same pattern in the repository itself.
 */
describe('what the kt process loads', () => {
  it('defines no subclass of String (ioredis is loaded only in the Redis thread of --redis-url)', () => {
    const script = `
      await import('./src/cli/program.ts');
      const { createRequire } = await import('node:module');
      const { readFileSync } = await import('node:fs');
      const cache = createRequire(import.meta.url).cache;
      const offenders = Object.keys(cache).filter((f) => /\\bextends\\s+String\\b/.test(readFileSync(f, 'utf8')));
      console.log(JSON.stringify({ loaded: Object.keys(cache).length, offenders, ioredis: Object.keys(cache).some((f) => f.includes('/ioredis/')) }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').pop()!) as { loaded: number; offenders: string[]; ioredis: boolean };
    expect(result.loaded).toBeGreaterThan(10);
    expect(result.offenders).toEqual([]);
    expect(result.ioredis).toBe(false);
  });

  // With --redis-url, ioredis runs in a worker thread (src/usage/limits/redis-thread.ts): a gateway started from
  // the CLI, whose requests were limited through Redis, has still not loaded it on its main thread.
  it.skipIf(!redisUp)('a gateway with --redis-url keeps ioredis off its main thread, after requests limited through Redis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-strsub-'));
    const fake = await startFakeUpstream({ record: false });
    const prefix = `test-strsub-${randomBytes(4).toString('hex')}`;
    try {
      const probe = join(dir, 'probe.mjs');
      writeFileSync(probe, PROBE);
      const [config] = writeConfigs(`pack: {name: strsub, version: "1"}
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
rate_limits:
  - {scope: developer, rpm: 1000}
`);
      const port = await freePort();
      const args = ['--import', 'tsx', '--import', probe, 'src/cli/main.ts', 'gateway', 'run', '--log-format', 'json', '-c', config!, '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--redis-url', REDIS_URL, '--redis-key-prefix', prefix];
      const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, KT_PROBE_OUT: join(dir, 'probe.json') }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('listening on')) resolve();
        });
        void exited.then((code) => reject(new Error(`gateway exited with ${code}: ${stderr.slice(0, 2000)}`)));
      });
      for (let i = 0; i < 3; i++) {
        const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-keeptrusts-developer': 'strsub' },
          body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
        });
        await res.body.dump();
        expect(res.statusCode).toBe(200);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The requests were counted in Redis (by the Redis thread) ...
      expect(await deleteRedisKeys(`${prefix}:`)).toBeGreaterThan(0);
      // ... and the main thread never loaded ioredis.
      const result = JSON.parse(readFileSync(join(dir, 'probe.json'), 'utf8')) as { loaded: number; offenders: string[]; ioredis: boolean };
      expect(result.loaded).toBeGreaterThan(10);
      expect(result.offenders).toEqual([]);
      expect(result.ioredis).toBe(false);
    } finally {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('our own sources define no subclass of String', () => {
    // git grep exits 1 when nothing matches.
    const grep = spawnSync('git', ['grep', '-lE', 'extends\\s+String\\b', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
    expect(grep.status).toBe(1);
    expect(grep.stdout.trim()).toBe('');
  });
});
