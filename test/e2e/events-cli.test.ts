import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionEvent } from '../../src/audit/event.js';
import { loadOrCreateSigningKey, signCheckpoint } from '../../src/audit/keys.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { CSV_COLUMNS, shortId } from '../../src/cli/format/events.js';
import { createLogger } from '../../src/gateway/logger.js';
import { startControlPlane, type RunningControlPlane } from '../../src/server/app.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { makeEvent, makePolicyResult } from '../helpers/events.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = join(ROOT, 'test/helpers/kt-events-entry.ts');
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const ANSI = /\x1b\[/;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment a user without any keeptrusts settings has: no KEEPTRUSTS_*, no colour overrides. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR') env[k] = v;
  return { ...env, ...extra };
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; result: Promise<Result>; out: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const result = new Promise<Result>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, result, out: () => stdout };
}

/** Async, not spawnSync: the remote tests serve the control plane from this process. */
function kt(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return start(args, env).result;
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim());
const ndjson = (s: string) => lines(s).map((l) => JSON.parse(l) as DecisionEvent & { _chain: { chain: string; seq: number; hash: string } });

const DIFF = '--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1 +1 @@\n-const port = 3000;\n+const port = Number(process.env.PORT ?? 3000);\n';

interface Seeded {
  dir: string;
  /** In append order (store order): four events in chain gw-test, then one in gw-other. */
  events: DecisionEvent[];
  keyId: string;
}

/** A data dir as a gateway leaves it: events in two chains, gw-test signed up to its head, gw-other unsigned. */
async function seed(): Promise<Seeded> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-events-'));
  const now = Date.now();
  const events = [
    makeEvent({ identity: { developer: 'alice', repository: 'acme/api', client: 'aider' } }, now - 3 * DAY),
    makeEvent(
      {
        request_id: 'req-show-me',
        verdict: 'redact',
        identity: { developer: 'bob', repository: 'acme/web', client: 'claude-code' },
        model_requested: 'claude-sonnet-4-5',
        target: { id: 'anthropic', provider: 'anthropic', model: 'claude-sonnet-4-5' },
        policies: [
          makePolicyResult('pii-detector', 'redact', { duration_us: 820, findings: [{ type: 'EMAIL', rule: 'email', source: 'user', count: 1 }] }),
          makePolicyResult('quality-scorer', 'allow', { phase: 'output', score: 0.91 }),
        ],
        // The shape events had before redactions were grouped: stores keep such events, and kt events reads them.
        redactions: [{ type: 'EMAIL', rule: 'email', source: 'user', location: { phase: 'input', path: 'messages.0.content', start: 8, end: 40 }, value_hash: 'c0ffee12' }] as unknown as DecisionEvent['redactions'],
        cost: { currency: 'USD', input: 0.002, output: 0.004, total: 0.006, priced: true },
        capture: {
          mode: 'redacted',
          request: [{ source: 'user', turn: 0, text: 'Mail [EMAIL] and make the port configurable' }],
          completion: { text: 'Here is the change.', tool_calls: [], finish_reason: 'end_turn' },
          truncated: false,
        },
        proposed_edits: [{ file: 'src/app.ts', format: 'search-replace', added: 1, removed: 1, diff: DIFF }],
      },
      now - 2 * HOUR,
    ),
    makeEvent(
      {
        verdict: 'block',
        status: 409,
        reason_code: 'input_blocked',
        identity: { developer: '=HYPERLINK("http://evil.example","x")', repository: 'acme/api' },
        policies: [makePolicyResult('safety-filter', 'block', { findings: [{ type: 'SELF_HARM', rule: 'safety', source: 'user', count: 1 }] })],
      },
      now - 30 * MIN,
    ),
    makeEvent({ verdict: 'flag', identity: { developer: 'alice', repository: 'acme/api' }, policies: [makePolicyResult('prompt-injection', 'flag')] }, now - MIN),
  ];
  const other = makeEvent({ gateway_id: 'gw-other', identity: { developer: 'carol' } }, now - 20 * MIN);

  const store = new SqliteEventStore(eventsDbFile(dir));
  const key = loadOrCreateSigningKey(dir);
  await store.registerKey({ key_id: key.keyId, public_key: key.publicKeyPem, created_at: new Date().toISOString() });
  await store.append('gw-test', events);
  await store.append('gw-other', [other]);
  const head = (await store.head('gw-test'))!;
  await store.addCheckpoint(signCheckpoint(key, { chain: 'gw-test', seq: head.seq, hash: head.hash, ts: new Date().toISOString() }));
  await store.close();
  return { dir, events: [...events, other], keyId: key.keyId };
}

let s: Seeded;
beforeAll(async () => {
  s = await seed();
});

describe('kt events tail', () => {
  it('--no-follow prints a header and every event, oldest first, without colour when not a terminal', async () => {
    const r = await kt(['events', 'tail', '--no-follow', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(ANSI);
    const [header, ...rows] = lines(r.stdout);
    expect(header).toMatch(/^TIME +ID +VERDICT +ROUTE +MODEL +DEVELOPER +REPOSITORY +CLIENT +HTTP +MS +COST +POLICIES$/);
    expect(rows).toHaveLength(5);
    expect(rows.map((row) => row.split(/\s+/)[1])).toEqual(s.events.map((e) => shortId(e.id)));
    expect(rows[1]).toMatch(/redact +chat +claude-sonnet-4-5 +bob +acme\/web +claude-code +200 +120 +\$0\.0060 +pii-detector:redact$/);
    expect(rows[2]).toMatch(/block .* 409 .*safety-filter:block$/);
  });

  it('--json prints exactly the events as NDJSON with _chain, and --limit keeps the newest N', async () => {
    const all = await kt(['events', 'tail', '--no-follow', '--json', '--data-dir', s.dir]);
    expect(all.code, all.stderr).toBe(0);
    const printed = ndjson(all.stdout);
    expect(printed.map((e) => e.id)).toEqual(s.events.map((e) => e.id));
    const { _chain, ...first } = printed[0]!;
    expect(first).toEqual(s.events[0]);
    expect(_chain).toMatchObject({ chain: 'gw-test', seq: 1 });
    expect(_chain.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(printed[4]!._chain).toMatchObject({ chain: 'gw-other', seq: 1 });

    const two = await kt(['events', 'tail', '--no-follow', '--json', '--limit', '2', '--data-dir', s.dir]);
    expect(ndjson(two.stdout).map((e) => e.id)).toEqual([s.events[3]!.id, s.events[4]!.id]);
  });

  it('filters by verdict list, developer, repository, policy, model and time', async () => {
    const ids = async (...args: string[]) => ndjson((await kt(['events', 'tail', '--no-follow', '--json', '--data-dir', s.dir, ...args])).stdout).map((e) => e.id);
    expect(await ids('--verdict', 'block,redact')).toEqual([s.events[1]!.id, s.events[2]!.id]);
    expect(await ids('--developer', 'alice')).toEqual([s.events[0]!.id, s.events[3]!.id]);
    expect(await ids('--repository', 'acme/web')).toEqual([s.events[1]!.id]);
    expect(await ids('--policy', 'pii-detector')).toEqual([s.events[1]!.id]);
    expect(await ids('--model', 'claude-sonnet-4-5')).toEqual([s.events[1]!.id]);
    expect(await ids('--since', '1h')).toEqual([s.events[2]!.id, s.events[3]!.id, s.events[4]!.id]);
    expect(await ids('--since', '1h', '--developer', 'alice')).toEqual([s.events[3]!.id]);
  });

  it('refuses bad verdicts and times with a usage error', async () => {
    const r = await kt(['events', 'tail', '--no-follow', '--verdict', 'blocked', '--data-dir', s.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown verdict "blocked"/);
    const t = await kt(['events', 'tail', '--no-follow', '--since', '1732698407', '--data-dir', s.dir]);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/epoch seconds/);
  });

  it('--format detailed adds the per-policy trace and the redaction summary', async () => {
    const r = await kt(['events', 'tail', '--no-follow', '--format', 'detailed', '--verdict', 'redact', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(s.events[1]!.id);
    expect(r.stdout).toMatch(/input +pii-detector +redact +820µs +EMAIL\/email@user/);
    expect(r.stdout).toMatch(/output +quality-scorer +allow +50µs +score 0\.91/);
    expect(r.stdout).toContain('redactions: 1 (EMAIL ×1)');
  });

  it('says where the store should be when there is none, and exits 1', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kt-events-empty-'));
    const r = await kt(['events', 'tail', '--no-follow', '--data-dir', empty]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no event store at ${join(empty, 'events.db')}`);
    expect(r.stderr).toMatch(/audit-logger/);
  });

  it('reads KEEPTRUSTS_DATA_DIR, and a --data-dir flag beats KEEPTRUSTS_API_URL from the environment', async () => {
    const viaEnv = await kt(['events', 'tail', '--no-follow', '--json'], { KEEPTRUSTS_DATA_DIR: s.dir });
    expect(ndjson(viaEnv.stdout)).toHaveLength(5);
    const flagWins = await kt(['events', 'tail', '--no-follow', '--json', '--data-dir', s.dir], { KEEPTRUSTS_API_URL: 'http://127.0.0.1:9', KEEPTRUSTS_API_TOKEN: 't' });
    expect(flagWins.code, flagWins.stderr).toBe(0);
    expect(ndjson(flagWins.stdout)).toHaveLength(5);
  });

  it('follows: prints the backlog, then events appended later, and exits 0 on Ctrl+C', async () => {
    const live = await seed();
    const tail = start(['events', 'tail', '--json', '--limit', '2', '--data-dir', live.dir]);
    await until('the backlog', () => lines(tail.out()).length === 2);
    expect(ndjson(tail.out()).map((e) => e.id)).toEqual([live.events[3]!.id, live.events[4]!.id]);

    const writer = new SqliteEventStore(eventsDbFile(live.dir));
    const later = [makeEvent({ verdict: 'block', identity: { developer: 'dave' } }), makeEvent({ identity: { developer: 'erin' } })];
    await writer.append('gw-test', later);
    await writer.close();
    await until('the new events', () => lines(tail.out()).length === 4);

    tail.child.kill('SIGINT');
    const r = await tail.result;
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout).map((e) => e.id)).toEqual([live.events[3]!.id, live.events[4]!.id, later[0]!.id, later[1]!.id]);
  });

  it('follows with a filter, and waits for a store that does not exist yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-events-late-'));
    const tail = start(['events', 'tail', '--json', '--verdict', 'block', '--data-dir', dir]);
    let stderr = '';
    tail.child.stderr!.on('data', (d: string) => (stderr += d));
    await until('the waiting notice', () => /waiting for .*events\.db/.test(stderr));

    const writer = new SqliteEventStore(eventsDbFile(dir));
    const events = [makeEvent({ verdict: 'allow' }), makeEvent({ verdict: 'block' }), makeEvent({ verdict: 'redact' }), makeEvent({ verdict: 'block' })];
    await writer.append('gw-test', events.slice(0, 2));
    await until('the first block', () => lines(tail.out()).length === 1);
    await writer.append('gw-test', events.slice(2));
    await writer.close();
    await until('the second block', () => lines(tail.out()).length === 2);

    tail.child.kill('SIGINT');
    const r = await tail.result;
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout).map((e) => e.id)).toEqual([events[1]!.id, events[3]!.id]);
  });
});

describe('kt events show', () => {
  it('--json prints the stored event with its place in the chain', async () => {
    const r = await kt(['events', 'show', s.events[1]!.id, '--json', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    const { _chain, ...event } = JSON.parse(r.stdout) as DecisionEvent & { _chain: unknown };
    expect(event).toEqual(s.events[1]);
    expect(_chain).toMatchObject({ chain: 'gw-test', seq: 2 });
  });

  it('prints the trace, the redacted conversation and the proposed edit as a diff, uncoloured in a pipe', async () => {
    const r = await kt(['events', 'show', s.events[1]!.id, '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(ANSI);
    expect(r.stdout).toContain(`event ${s.events[1]!.id}`);
    expect(r.stdout).toContain('request     req-show-me');
    expect(r.stdout).toMatch(/input +pii-detector +redact +820µs +EMAIL\/email@user/);
    expect(r.stdout).toMatch(/EMAIL +email +user +input +×1\n +messages\.0\.content \[8, 40\) +hash c0ffee12/);
    expect(r.stdout).toContain('[user, turn 0]\n    Mail [EMAIL] and make the port configurable');
    expect(r.stdout).toContain('completion\n  Here is the change.');
    expect(r.stdout).toContain('src/app.ts  search-replace  +1 -1\n    --- a/src/app.ts\n    +++ b/src/app.ts\n    @@ -1 +1 @@\n    -const port = 3000;\n    +const port = Number(process.env.PORT ?? 3000);');
  });

  it('colours the diff when colour is forced, and never with NO_COLOR', async () => {
    const forced = await kt(['events', 'show', s.events[1]!.id, '--data-dir', s.dir], { FORCE_COLOR: '1' });
    expect(forced.stdout).toContain('\x1b[32m+const port = Number(process.env.PORT ?? 3000);\x1b[0m');
    expect(forced.stdout).toContain('\x1b[31m-const port = 3000;\x1b[0m');
    expect(forced.stdout).toContain('\x1b[36m@@ -1 +1 @@\x1b[0m');
    const none = await kt(['events', 'show', s.events[1]!.id, '--data-dir', s.dir], { FORCE_COLOR: '1', NO_COLOR: '1' });
    expect(none.stdout).not.toMatch(ANSI);
  });

  it('finds an event by request id or by the short id the table prints', async () => {
    const byRequest = await kt(['events', 'show', 'req-show-me', '--json', '--data-dir', s.dir]);
    expect((JSON.parse(byRequest.stdout) as DecisionEvent).id).toBe(s.events[1]!.id);
    const byShort = await kt(['events', 'show', shortId(s.events[2]!.id), '--json', '--data-dir', s.dir]);
    expect((JSON.parse(byShort.stdout) as DecisionEvent).id).toBe(s.events[2]!.id);
  });

  it('exits 1 naming a missing event', async () => {
    const r = await kt(['events', 'show', 'evt_01J00000000000000000000000', '--data-dir', s.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no event evt_01J00000000000000000000000');
    const req = await kt(['events', 'show', 'req-nope', '--data-dir', s.dir]);
    expect(req.code).toBe(1);
    expect(req.stderr).toMatch(/no event req-nope/);
  });
});

describe('kt events export', () => {
  it('ndjson (the default) within --since/--until, oldest first', async () => {
    const r = await kt(['events', 'export', '--since', '1d', '--until', '10m', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(ndjson(r.stdout).map((e) => e.id)).toEqual([s.events[1]!.id, s.events[2]!.id, s.events[4]!.id]);
  });

  it('csv with a header, proper quoting and formula injection defused', async () => {
    const r = await kt(['events', 'export', '--format', 'csv', '--since', '1d', '--until', '10m', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.split('\r\n').filter(Boolean);
    expect(rows[0]).toBe(CSV_COLUMNS.join(','));
    expect(rows).toHaveLength(4);
    expect(rows[1]!.startsWith(`${s.events[1]!.id},`)).toBe(true);
    expect(rows[1]).toContain(',redact,,200,pii-detector:redact;quality-scorer:allow,EMAIL,1,12,34,0.006,120,110');
    expect(rows[2]).toContain(`,"'=HYPERLINK(""http://evil.example"",""x"")",acme/api,`);
    expect(rows[2]).toContain(',block,input_blocked,409,safety-filter:block,SELF_HARM,0,');
  });

  it('json as one array, written to --output with a summary on stderr', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kt-export-')), 'events.json');
    const r = await kt(['events', 'export', '--format', 'json', '--output', file, '--verdict', 'allow,flag', '--data-dir', s.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`exported 3 events to ${file}`);
    const arr = JSON.parse(readFileSync(file, 'utf8')) as Array<DecisionEvent & { _chain: unknown }>;
    expect(arr.map((e) => e.id)).toEqual([s.events[0]!.id, s.events[3]!.id, s.events[4]!.id]);
    const none = await kt(['events', 'export', '--format', 'json', '--developer', 'nobody', '--data-dir', s.dir]);
    expect(JSON.parse(none.stdout)).toEqual([]);
  });

  it('refuses --since after --until', async () => {
    const r = await kt(['events', 'export', '--since', '1h', '--until', '2h', '--data-dir', s.dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--since .* must be before --until/);
  });
});

describe('kt events verify and kt keys export-public', () => {
  it('passes an intact store, reporting each chain, with a note about the keys it trusted', async () => {
    const r = await kt(['events', 'verify', '--data-dir', s.dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('chain gw-other: 1 event (seq 1–1), 0 checkpoints, 1 after the newest checkpoint not signed yet: OK');
    expect(r.stdout).toContain('chain gw-test: 4 events (seq 1–4), 1 checkpoint: OK');
    expect(r.stdout).toContain(`verified 2 chains: OK (trusted keys from the store: ${s.keyId})`);
    expect(r.stderr).toMatch(/--public-key/);
    const json = await kt(['events', 'verify', '--json', '--chain', 'gw-test', '--data-dir', s.dir]);
    const body = JSON.parse(json.stdout) as { ok: boolean; keys: { source: string }; chains: Array<{ chain: string; events: number; problem: unknown }> };
    expect(body).toMatchObject({ ok: true, keys: { source: 'store' }, chains: [{ chain: 'gw-test', events: 4, problem: null }] });
    const unknown = await kt(['events', 'verify', '--chain', 'nope', '--data-dir', s.dir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no chain nope in the store (chains: gw-other, gw-test)');
  });

  it('exports the public key and verifies against it alone; another key fails', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'kt-keys-'));
    const pemFile = join(keyDir, 'gateway.pem');
    const exported = await kt(['keys', 'export-public', '--data-dir', s.dir, '-o', pemFile]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toContain(`wrote public key ${s.keyId}`);
    expect(readFileSync(pemFile, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
    const printed = await kt(['keys', 'export-public', '--data-dir', s.dir]);
    expect(printed.stdout).toBe(readFileSync(pemFile, 'utf8'));

    const ok = await kt(['events', 'verify', '--public-key', pemFile, '--data-dir', s.dir]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('trusted keys from --public-key');
    expect(ok.stderr).not.toMatch(/note:/);

    const otherDir = mkdtempSync(join(tmpdir(), 'kt-other-key-'));
    loadOrCreateSigningKey(otherDir);
    const otherPem = join(keyDir, 'other.pem');
    expect((await kt(['keys', 'export-public', '--data-dir', otherDir, '--output', otherPem])).code).toBe(0);
    const bad = await kt(['events', 'verify', '--public-key', otherPem, '--data-dir', s.dir]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/chain gw-test: .*FAILED \(bad-checkpoint, seq 4\): checkpoint at seq 4 is signed by ed25519:\w+, which is not a trusted key/);
  });

  it('keys export-public exits 1 when the gateway has not made a key yet', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'kt-nokey-'));
    const r = await kt(['keys', 'export-public', '--data-dir', empty]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`no signing key in ${empty} yet`);
  });

  it('fails naming the event whose body was edited', async () => {
    const t = await seed();
    const victim = t.events[1]!;
    const db = new SqliteEventStore(eventsDbFile(t.dir));
    db.raw.exec('DROP TRIGGER events_no_update');
    db.raw.prepare("UPDATE events SET body = replace(body, '\"developer\":\"bob\"', '\"developer\":\"mallory\"') WHERE id = ?").run(victim.id);
    await db.close();
    const r = await kt(['events', 'verify', '--data-dir', t.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAILED (altered, event ${victim.id}, seq 2)`);
    expect(r.stdout).toContain(`verification FAILED: first bad event ${victim.id} (chain gw-test, seq 2)`);
    expect(r.stdout).toContain('chain gw-other: 1 event (seq 1–1), 0 checkpoints, 1 after the newest checkpoint not signed yet: OK');
    const json = JSON.parse((await kt(['events', 'verify', '--json', '--data-dir', t.dir])).stdout) as { ok: boolean; chains: Array<{ problem: { eventId: string; kind: string } | null }> };
    expect(json.ok).toBe(false);
    expect(json.chains.find((c) => c.problem)?.problem).toMatchObject({ eventId: victim.id, kind: 'altered' });
  });

  it('fails naming the event after one that was removed', async () => {
    const t = await seed();
    const db = new SqliteEventStore(eventsDbFile(t.dir));
    db.raw.exec('DROP TRIGGER events_no_delete');
    db.raw.prepare('DELETE FROM events WHERE id = ?').run(t.events[1]!.id);
    await db.close();
    const r = await kt(['events', 'verify', '--data-dir', t.dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAILED (removed, event ${t.events[2]!.id}, seq 3)`);
  });
});

describe('against a control plane (--api-url)', () => {
  let remote: Seeded;
  let store: SqliteEventStore;
  let tokens: SqliteTokenStore;
  let plane: RunningControlPlane;
  let token: string;
  const devNull = new Writable({ write: (_c, _e, cb) => cb() });

  beforeAll(async () => {
    remote = await seed();
    store = new SqliteEventStore(eventsDbFile(remote.dir));
    tokens = new SqliteTokenStore(':memory:');
    token = (await tokens.create({ gateway: 'cli-test', role: 'reader' })).token;
    plane = await startControlPlane({ host: '127.0.0.1', port: 0, store, tokens, logger: createLogger('error', 'json', devNull), pollMs: 100 });
  });
  afterAll(async () => {
    await plane?.close();
    await store?.close();
    await tokens?.close();
  });

  it('tail, show and verify read the same events as locally, with the token from the environment', async () => {
    const env = { KEEPTRUSTS_API_URL: plane.url, KEEPTRUSTS_API_TOKEN: token };
    const tail = await kt(['events', 'tail', '--no-follow', '--json'], env);
    expect(tail.code, tail.stderr).toBe(0);
    expect(ndjson(tail.stdout).map((e) => e.id)).toEqual(remote.events.map((e) => e.id));
    const show = await kt(['events', 'show', remote.events[1]!.id, '--json', '--api-url', plane.url, '--token', token]);
    expect((JSON.parse(show.stdout) as DecisionEvent).id).toBe(remote.events[1]!.id);
    const verify = await kt(['events', 'verify'], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toContain('verified 2 chains: OK');
  });

  it('follows the live stream until Ctrl+C', async () => {
    const tail = start(['events', 'tail', '--json', '--limit', '1', '--api-url', plane.url, '--token', token]);
    await until('the backlog', () => lines(tail.out()).length === 1);
    const later = makeEvent({ verdict: 'escalate' });
    await store.append('gw-test', [later]);
    await until('the streamed event', () => lines(tail.out()).length === 2);
    tail.child.kill('SIGINT');
    const r = await tail.result;
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout).map((e) => e.id)).toEqual([remote.events[4]!.id, later.id]);
  });

  it('asks for a token when there is none', async () => {
    const r = await kt(['events', 'tail', '--no-follow', '--api-url', plane.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/needs a token: pass --token or set KEEPTRUSTS_API_TOKEN/);
  });
});
