import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Once a process has defined a subclass of String, V8's optimised code reads every string more slowly: the
 * detectors' scans of a 200 KB context took 2.5-4x as long in a gateway that had merely imported ioredis (its
 * RESP decoder defines `class VerbatimString extends String`). The CLI's whole module graph (every command,
 * `kt gateway run` included) is loaded in a fresh process, and no CommonJS module it loaded may define one.
 * ESM sources are ours and checked by the same pattern in the repository itself.
 */
describe('what the kt process loads', () => {
  it('defines no subclass of String (ioredis is loaded only for --redis-url)', () => {
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

  it('our own sources define no subclass of String', () => {
    // git grep exits 1 when nothing matches.
    const grep = spawnSync('git', ['grep', '-lE', 'extends\\s+String\\b', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
    expect(grep.status).toBe(1);
    expect(grep.stdout.trim()).toBe('');
  });
});
