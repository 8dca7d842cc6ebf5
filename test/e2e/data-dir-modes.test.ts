import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { writeConfigs } from '../helpers/config.js';
import { freePort, KT, ROOT } from '../helpers/processes.js';

/**
 * A data dir holds the signing key, the hashing salt and every decision event with its captured text. One made
 * before files were created private (or by hand, or restored from a backup) kept 0755 and an events.db of
 * 0644; the gateway and the control plane now tighten it when they start, and say so.
 */

const isRoot = process.getuid?.() === 0;
let fake: FakeUpstream;
const cleanups: Array<() => void | Promise<void>> = [];
beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  fake = await startFakeUpstream({ record: false });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => fake.close());

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'kt-modes-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

/** A data dir as an older version, or a careless restore, left it: world-readable throughout. */
async function wideDataDir(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const store = new SqliteEventStore(join(dir, 'events.db'));
  await store.close();
  mkdirSync(join(dir, 'journal'), { recursive: true });
  writeFileSync(join(dir, 'journal', 'old-segment'), '');
  writeFileSync(join(dir, 'audit-salt'), 'ab'.repeat(32));
  writeFileSync(join(dir, 'notes.txt'), 'not ours to touch');
  chmodSync(dir, 0o755);
  chmodSync(join(dir, 'journal'), 0o755);
  for (const f of ['events.db', 'audit-salt', 'notes.txt', join('journal', 'old-segment')]) chmodSync(join(dir, f), 0o644);
}

async function run(args: string[], ready: (stderr: string) => boolean): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [KT, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  cleanups.push(async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  });
  for (let i = 0; i < 400 && !ready(stderr) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  if (!ready(stderr)) throw new Error(`kt ${args[0]} did not start: ${stderr}`);
  return { child, stderr: () => stderr };
}

async function gateway(dataDir: string) {
  const [config] = writeConfigs(`pack: {name: modes, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "${fake.url}/v1"}
`);
  const port = await freePort();
  const proc = await run(['gateway', 'run', '--log-format', 'json', '-c', config!, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], (e) => e.includes('listening on'));
  const res = await request(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }),
  });
  expect(res.statusCode).toBe(200);
  await res.body.dump();
  return proc;
}

/** Everything keeptrusts made in the data dir is owner-only; SQLite's -wal and -shm follow events.db. */
function expectPrivate(dataDir: string): void {
  expect(mode(dataDir)).toBe('0700');
  const top = readdirSync(dataDir).filter((f) => f !== 'notes.txt');
  expect(top).toEqual(expect.arrayContaining(['events.db', 'events.db-wal', 'events.db-shm', 'signing-key.pem', 'audit-salt', 'journal']));
  for (const f of top) expect([f, mode(join(dataDir, f))]).toEqual([f, f === 'journal' ? '0700' : '0600']);
  for (const f of readdirSync(join(dataDir, 'journal'))) expect([f, mode(join(dataDir, 'journal', f))]).toEqual([f, '0600']);
}

describe('data dir permissions', () => {
  it('kt gateway run creates a new data dir and its files owner-only', async () => {
    const dataDir = join(tempRoot(), 'fresh');
    const gw = await gateway(dataDir);
    expectPrivate(dataDir);
    expect(gw.stderr()).not.toContain('readable by others');
  });

  it('kt gateway run tightens an existing 0755 data dir and its 0644 events.db, once, with a warning naming the old modes', async () => {
    const dataDir = join(tempRoot(), 'wide');
    await wideDataDir(dataDir);
    const gw = await gateway(dataDir);
    expectPrivate(dataDir);
    // A file keeptrusts did not make is left as it was.
    expect(mode(join(dataDir, 'notes.txt'))).toBe('0644');
    const warnings = gw
      .stderr()
      .split('\n')
      .filter((l) => l.includes('readable by others'))
      .map((l) => JSON.parse(l) as { mode?: string; files?: string[] });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]!.mode).toBe('0755');
    expect(warnings[1]!.files).toEqual(expect.arrayContaining(['events.db (0644)', 'audit-salt (0644)', 'journal/ (0755)', 'journal/old-segment (0644)']));
  });

  it('kt server tightens its data dir the same way', async () => {
    const dataDir = join(tempRoot(), 'plane');
    await wideDataDir(dataDir);
    const port = await freePort();
    const plane = await run(['server', '--log-format', 'json', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], (e) => e.includes('listening on'));
    expect(mode(dataDir)).toBe('0700');
    expect(mode(join(dataDir, 'events.db'))).toBe('0600');
    expect(mode(join(dataDir, 'journal'))).toBe('0700');
    expect(plane.stderr()).toContain('"mode":"0755"');
  });

  it.skipIf(!isRoot)('a data dir owned by another user is left as it is, with a warning', async () => {
    const dataDir = join(tempRoot(), 'theirs');
    await wideDataDir(dataDir);
    spawnSync('chown', ['-R', '65534:65534', dataDir]);
    chmodSync(dataDir, 0o777);
    const port = await freePort();
    const plane = await run(['server', '--log-format', 'json', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], (e) => e.includes('listening on') || e.includes('could not'));
    expect(mode(dataDir)).toBe('0777');
    expect(plane.stderr()).toContain('owned by another user');
  });
});
