import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `npm test` on a machine without PostgreSQL or Redis (issue 17): the tests that need one skip with one line
 * naming the service and how to start it; with CI set they fail instead, so CI runs every test.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PROBE = `(async () => { const s = await import('./test/helpers/services.ts'); try { console.log(JSON.stringify({ pg: await s.postgresAvailable(), redis: await s.redisAvailable() })); } catch (e) { console.log('threw: ' + e.message); } })()`;

function probe(env: NodeJS.ProcessEnv) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'CI' && !k.startsWith('KEEPTRUSTS_TEST_')) clean[k] = v;
  // Port 1 on loopback: nothing listens there.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', PROBE], {
    cwd: ROOT,
    env: { ...clean, KEEPTRUSTS_TEST_DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/test', KEEPTRUSTS_TEST_REDIS_URL: 'redis://127.0.0.1:1', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

describe('tests that need PostgreSQL or Redis', () => {
  it('skip without them, each service named in one line with how to start it', () => {
    const r = probe({});
    expect(r.stdout).toBe('{"pg":false,"redis":false}');
    const lines = r.stderr.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^skipping the tests that need PostgreSQL: PostgreSQL is not reachable at 127\.0\.0\.1:1\/test \(ECONNREFUSED\)\. Start it with: docker run .*postgres.*CI=true makes it required$/);
    expect(lines[1]).toMatch(/^skipping the tests that need Redis: Redis is not reachable at 127\.0\.0\.1:1 \(ECONNREFUSED\)\. Start it with: docker run .*redis.*CI=true makes it required$/);
    // The URL's password is not printed.
    expect(r.stderr).not.toContain('hunter2');
  });

  it('fail under CI=true instead of skipping', () => {
    expect(probe({ CI: 'true' }).stdout).toMatch(/^threw: PostgreSQL is not reachable at 127\.0\.0\.1:1\/test \(ECONNREFUSED\), and CI is set, which makes it required/);
    expect(probe({ CI: 'false' }).stdout).toBe('{"pg":false,"redis":false}');
  });
});
