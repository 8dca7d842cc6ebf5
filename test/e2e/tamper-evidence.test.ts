/**
 * The attacks of issue 16, each played on a data dir as the gateway leaves it, then checked with the CLI as an
 * auditor runs it: `kt events verify` on the store alone (it must fail, or say precisely what it cannot
 * show), and `kt events verify --anchor` with an anchor taken before the attack.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { linkEvents } from '../../src/audit/chain.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import { journalHeaderJson } from '../../src/audit/event-json.js';
import { JOURNAL_DIR, segmentName } from '../../src/audit/journal.js';
import { loadOrCreateSigningKey, signCheckpoint } from '../../src/audit/keys.js';
import { eventsDbFile } from '../../src/audit/paths.js';
import { AuditRecorder } from '../../src/audit/recorder.js';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { CHECKPOINTED_META, indexedColumns } from '../../src/audit/store.js';
import { createLogger } from '../../src/gateway/logger.js';
import { startControlPlane } from '../../src/server/app.js';
import { SqliteTokenStore } from '../../src/server/tokens.js';
import { makeEvent } from '../helpers/events.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = join(ROOT, 'test/helpers/kt-events-entry.ts');
const CHAIN = 'gw-audited';
const DAY = 86_400_000;
const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, done) => done() }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function kt(...args: string[]): Promise<Result> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/**
 * One gateway run on a data dir: the recorder writing to the store (as with PostgreSQL or a second gateway),
 * or through the journal and its ingest thread (`journal`, as `kt gateway run` on SQLite).
 */
async function run(dataDir: string, events: DecisionEvent[], opts: { crash?: boolean; journal?: boolean } = {}): Promise<void> {
  const store = new SqliteEventStore(eventsDbFile(dataDir));
  const recorder = new AuditRecorder({
    store,
    chain: CHAIN,
    key: loadOrCreateSigningKey(dataDir),
    logger: quiet,
    failMode: 'block',
    dataDir,
    retentionDays: 365,
    ...(opts.journal ? { journal: { file: store.file } } : {}),
  });
  await recorder.start();
  for (const e of events) await recorder.record(e);
  if (!opts.crash) await recorder.close();
  else await recorder.caughtUp();
  await store.close();
}

const gwEvents = (n: number, overrides: Partial<DecisionEvent> = {}) => Array.from({ length: n }, () => makeEvent({ gateway_id: CHAIN, ...overrides }));

interface Audited {
  dir: string;
  /** Outside the data dir: the public key and the anchor taken after the second run. */
  pem: string;
  anchors: string;
  events: DecisionEvent[];
}

/** Two clean runs (4 events, then 3), the public key exported and the head anchored, as an auditor would. */
async function audited(): Promise<Audited> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-tamper-'));
  const outside = mkdtempSync(join(tmpdir(), 'kt-auditor-'));
  const events = [...gwEvents(4), ...gwEvents(3)];
  await run(dir, events.slice(0, 4), { journal: true });
  await run(dir, events.slice(4));
  const pem = join(outside, 'gateway.pem');
  const anchors = join(outside, 'anchors.jsonl');
  expect((await kt('keys', 'export-public', '--data-dir', dir, '-o', pem)).code).toBe(0);
  const anchored = await kt('events', 'anchor', '--data-dir', dir, '--to', anchors, '--public-key', pem);
  expect(anchored.code, anchored.stderr).toBe(0);
  expect(anchored.stderr).toContain(`chain ${CHAIN}: anchored seq 7`);
  return { dir, pem, anchors, events };
}

/** The attacker with write access to events.db: triggers dropped, statements run. */
function tamper(dir: string, ...statements: Array<[string, ...unknown[]]>): void {
  const store = new SqliteEventStore(eventsDbFile(dir));
  try {
    for (const t of ['events_no_update', 'events_no_delete', 'checkpoints_no_delete', 'checkpoints_no_update', 'chain_records_no_delete']) store.raw.exec(`DROP TRIGGER IF EXISTS ${t}`);
    for (const [sql, ...params] of statements) store.raw.prepare(sql).run(...params);
  } finally {
    store.raw.close();
  }
}

const forgetHighWater: [string, ...unknown[]] = ['DELETE FROM meta WHERE key = ?', `${CHECKPOINTED_META}${CHAIN}`];
const verify = (a: Audited, ...extra: string[]) => kt('events', 'verify', '--data-dir', a.dir, '--public-key', a.pem, ...extra);
const withAnchor = (a: Audited) => verify(a, '--anchor', a.anchors);

describe('an untouched data dir', () => {
  let a: Audited;
  beforeAll(async () => {
    a = await audited();
  });

  it('verifies, saying what was proven and what only an anchor adds', async () => {
    const alone = await verify(a);
    expect(alone.code, alone.stdout + alone.stderr).toBe(0);
    expect(alone.stdout).toContain(`chain ${CHAIN}: 7 events (seq 1–7), 2 checkpoints: OK`);
    expect(alone.stdout).toMatch(/signed through seq 7 by ed25519:\w+/);
    expect(alone.stdout).toContain('proven: 7 events are unaltered and in order, with no gap other than signed retention pruning; every signature holds under the trusted keys');
    expect(alone.stdout).toMatch(/not proven:\n {2}- that no newer events existed: the newest events could have been removed together with their checkpoints \(gw-audited after seq 7\)/);
    expect(alone.stdout).toContain('whoever can read signing-key.pem in the data dir can do that');

    const anchored = await withAnchor(a);
    expect(anchored.code, anchored.stdout).toBe(0);
    expect(anchored.stdout).toContain(`anchored through seq 7 (${a.anchors} line 1, taken `);
    expect(anchored.stdout).toContain('1 anchor from outside the store still on the chain');
    expect(anchored.stdout).not.toContain('not proven');
    const json = JSON.parse((await verify(a, '--anchor', a.anchors, '--json')).stdout) as { ok: boolean; not_proven: string[]; chains: Array<{ anchored: { seq: number } }> };
    expect(json).toMatchObject({ ok: true, not_proven: [], chains: [{ anchored: { seq: 7 } }] });
  });

  it('anchors only what is new, and checks the chain against the file before appending', async () => {
    const again = await kt('events', 'anchor', '--data-dir', a.dir, '--to', a.anchors);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`chain ${CHAIN}: already anchored through seq 7`);
    expect(readFileSync(a.anchors, 'utf8').trim().split('\n')).toHaveLength(1);
    // Without --to the line goes to standard output, for a ticket or a transparency log.
    const printed = await kt('events', 'anchor', '--data-dir', a.dir);
    expect(JSON.parse(printed.stdout)).toMatchObject({ type: 'keeptrusts-anchor/v1', chain: CHAIN, seq: 7 });
    // An anchor file that is not anchors is an error, not skipped.
    const broken = join(mkdtempSync(join(tmpdir(), 'kt-bad-anchor-')), 'anchors.jsonl');
    writeFileSync(broken, `${readFileSync(a.anchors, 'utf8')}garbage\n`);
    const bad = await verify(a, '--anchor', broken);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${broken} line 2 is not JSON`);
  });
});

describe('attack 1: the newest events deleted together with their checkpoint', () => {
  it('fails against the high-water mark; without it, verify says the end cannot be shown complete; an anchor fails it', async () => {
    const a = await audited();
    tamper(a.dir, ['DELETE FROM events WHERE chain = ? AND seq >= 5', CHAIN], ['DELETE FROM checkpoints WHERE chain = ? AND seq = 7', CHAIN]);
    const marked = await verify(a);
    expect(marked.code).toBe(1);
    expect(marked.stdout).toMatch(/FAILED \(truncated, seq 5\): the store's high-water mark says the chain was signed through seq 7, but its newest checkpoint is at seq 4/);

    tamper(a.dir, forgetHighWater);
    const alone = await verify(a);
    expect(alone.code, alone.stdout).toBe(0);
    expect(alone.stdout).toContain('the newest events could have been removed together with their checkpoints (gw-audited after seq 4)');

    const anchored = await withAnchor(a);
    expect(anchored.code).toBe(1);
    expect(anchored.stdout).toContain(`FAILED (truncated, seq 5): the anchor in ${a.anchors} line 1`);
    expect(anchored.stdout).toMatch(/covers seq 7 but the chain ends at seq 4: events after it were removed/);
  });
});

describe('attack 1 against a control plane (--against)', () => {
  it("the control plane's copy is an anchor: its head must still be on the local chain", async () => {
    const a = await audited();
    // The control plane received the chain as the shipper sends it.
    const planeStore = new SqliteEventStore(join(mkdtempSync(join(tmpdir(), 'kt-plane-')), 'events.db'));
    const local = new SqliteEventStore(eventsDbFile(a.dir), { readonly: true });
    const shipped = [];
    for await (const e of local.scan(CHAIN)) shipped.push({ chain: e.chain, seq: e.seq, id: e.id, body: e.body, prev_hash: e.prev_hash, hash: e.hash });
    await planeStore.ingest(shipped);
    for (const cp of await local.checkpoints(CHAIN)) await planeStore.addCheckpoint(cp);
    await local.close();
    const tokens = new SqliteTokenStore(':memory:');
    const { token } = await tokens.create({ gateway: 'auditor', role: 'reader' });
    const plane = await startControlPlane({ host: '127.0.0.1', port: 0, store: planeStore, tokens, logger: quiet });
    try {
      const ok = await verify(a, '--against', plane.url, '--token', token);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      expect(ok.stdout).toContain(`anchored through seq 7 (the control plane ${plane.url})`);

      tamper(a.dir, ['DELETE FROM events WHERE chain = ? AND seq >= 6', CHAIN], ['DELETE FROM checkpoints WHERE chain = ? AND seq = 7', CHAIN], forgetHighWater);
      expect((await verify(a)).code).toBe(0);
      const caught = await verify(a, '--against', plane.url, '--token', token);
      expect(caught.code).toBe(1);
      expect(caught.stdout).toContain(`FAILED (truncated, seq 6): the head of the control plane ${plane.url} covers seq 7 but the chain ends at seq 5`);
      const noToken = await verify(a, '--against', plane.url);
      expect(noToken.code).toBe(1);
      expect(noToken.stderr).toContain('needs a token');
    } finally {
      await plane.close();
      await tokens.close();
      await planeStore.close();
    }
  });
});

describe('attack 2: young events deleted from the start up to a checkpoint, as retention pruning would cut', () => {
  it('fails: no signed prune record explains the gap', async () => {
    const a = await audited();
    tamper(a.dir, ['DELETE FROM events WHERE chain = ? AND seq <= 4', CHAIN]);
    for (const r of [await verify(a), await withAnchor(a)]) {
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`FAILED (removed, event ${a.events[4]!.id}, seq 5): events seq 1–4 are missing and no signed prune record explains their removal`);
    }
  });

  it('while real retention pruning still verifies, and says what it removed and when', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-pruned-'));
    const old = gwEvents(3).map((e, i) => ({ ...makeEvent({ gateway_id: CHAIN }, Date.now() - 400 * DAY + i) }));
    await run(dir, old);
    await run(dir, gwEvents(2));
    await run(dir, []); // its start prunes the first segment (events older than 365 days), below the head
    const r = await kt('events', 'verify', '--data-dir', dir);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`chain ${CHAIN}: 2 events (seq 4–5)`);
    expect(r.stdout).toMatch(/seq 1–3 removed by retention pruning on \S+ \(retention 365 days; newest removed event \S+\)/);
  });
});

describe('attack 3: everything deleted', () => {
  it('fails while the high-water mark remains; without any trace it says an empty store proves nothing; an anchor fails it', async () => {
    const a = await audited();
    tamper(a.dir, ['DELETE FROM events'], ['DELETE FROM checkpoints'], ['DELETE FROM chain_records']);
    const marked = await verify(a);
    expect(marked.code).toBe(1);
    expect(marked.stdout).toMatch(/chain gw-audited: 0 events, 0 checkpoints: FAILED \(truncated/);

    tamper(a.dir, forgetHighWater);
    const empty = await verify(a);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('nothing to verify');
    expect(empty.stdout).toContain('an empty store proves nothing, since one emptied by someone with write access looks the same');
    expect(JSON.parse((await verify(a, '--json')).stdout)).toMatchObject({ ok: true, chains: [], not_proven: [expect.stringMatching(/^that the store was never used/)] });

    const anchored = await withAnchor(a);
    expect(anchored.code).toBe(1);
    expect(anchored.stdout).toMatch(/FAILED \(truncated, seq 1\): the anchor in .* covers seq 7 but the chain has no events/);
  });
});

describe('attack 4: the whole chain rewritten and its checkpoints deleted', () => {
  it('fails on the high-water mark; without it every event is reported unsigned; re-signed with the key, only the anchor tells', async () => {
    const a = await audited();
    const forged = linkEvents(
      CHAIN,
      null,
      a.events.map((e) => ({ ...e, verdict: 'block' as const })),
    );
    tamper(
      a.dir,
      ['DELETE FROM checkpoints'],
      ['DELETE FROM chain_records'],
      ...forged.map((e): [string, ...unknown[]] => ['UPDATE events SET body = ?, prev_hash = ?, hash = ?, verdict = ? WHERE id = ?', e.body, e.prev_hash, e.hash, indexedColumns(JSON.parse(e.body) as DecisionEvent).verdict, e.id]),
    );
    expect((await verify(a)).stdout).toMatch(/FAILED \(truncated.*high-water mark/);
    tamper(a.dir, forgetHighWater);
    const unsigned = await verify(a);
    expect(unsigned.code).toBe(0);
    expect(unsigned.stdout).toContain('no signature covers any of its events');
    expect(unsigned.stdout).toContain('7 events not covered by any signature (gw-audited seq 1–7): anyone with write access to the store could have added, edited or rewritten them');
    const anchored = await withAnchor(a);
    expect(anchored.code, anchored.stdout).toBe(1);
    expect(anchored.stdout).toContain(`does not match the anchor in ${a.anchors} line 1`);

    // With signing-key.pem (same user, or root) the forger signs the new head: the store alone shows nothing.
    const store = new SqliteEventStore(eventsDbFile(a.dir));
    await store.addCheckpoint(signCheckpoint(loadOrCreateSigningKey(a.dir), { chain: CHAIN, seq: 7, hash: forged[6]!.hash, ts: new Date().toISOString() }));
    await store.close();
    expect((await verify(a)).code).toBe(0);
    expect((await withAnchor(a)).code).toBe(1);
  });
});

describe('attack 5: a forged event appended at the tail while the gateway was stopped', () => {
  it('is signed at the next start only as adopted, which verify reports; an older anchor cannot tell', async () => {
    const a = await audited();
    const store = new SqliteEventStore(eventsDbFile(a.dir));
    await store.append(CHAIN, [makeEvent({ gateway_id: CHAIN, identity: { developer: 'mallory' } })]);
    await store.close();
    await run(a.dir, []);
    for (const r of [await verify(a), await withAnchor(a)]) {
      expect(r.code, r.stdout).toBe(0);
      expect(r.stdout).toMatch(/seq 8–8 adopted: signed at a gateway start on \S+, not by the run that recorded them/);
      expect(r.stdout).toContain('that adopted events (gw-audited seq 8–8) are the ones their gateway recorded');
    }
    expect((await withAnchor(a)).stdout).toContain('events after the newest anchor (gw-audited after seq 7) could have been removed');
  });

  it('a forged tail that does not even link is never signed, and verify names it', async () => {
    const a = await audited();
    const store = new SqliteEventStore(eventsDbFile(a.dir));
    const [e] = linkEvents(CHAIN, { seq: 7, hash: 'f'.repeat(64) }, [makeEvent({ gateway_id: CHAIN })]);
    await store.ingest([e!]);
    await store.close();
    await run(a.dir, gwEvents(1));
    const r = await verify(a);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAILED (reordered, event ${e!.id}, seq 8)`);
    const after = new SqliteEventStore(eventsDbFile(a.dir), { readonly: true });
    expect((await after.checkpoints(CHAIN)).map((c) => c.seq)).toEqual([4, 7]);
    expect((await after.records(CHAIN)).map((rec) => [rec.kind, rec.detail.reason])).toEqual([['break', 'tail-does-not-verify']]);
    await after.close();
  });
});

describe('attack 6: journal lines edited before they were moved into the chain', () => {
  it('are ingested and signed at the next start as adopted, which verify reports', async () => {
    const a = await audited();
    // A run journaled two blocked requests and died before its ingest thread moved them into the chain.
    const store = new SqliteEventStore(eventsDbFile(a.dir));
    const position = JSON.parse((await store.getMeta(`journal:${CHAIN}`))!) as { segment: number };
    await store.close();
    const blocked = gwEvents(2, { verdict: 'block' });
    const segment = join(a.dir, JOURNAL_DIR, segmentName(position.segment));
    const line = (e: DecisionEvent) => `${journalHeaderJson(e.id, indexedColumns(e), undefined)}\t${canonicalJson(e)}\n`;
    // The attacker turns the blocks into allows, header and body alike, before any gateway starts.
    const edited = blocked.map((e) => ({ ...e, verdict: 'allow' as const }));
    appendFileSync(segment, edited.map(line).join(''));
    expect(readdirSync(join(a.dir, JOURNAL_DIR))).toContain(segmentName(position.segment));
    await run(a.dir, [], { journal: true });
    const r = await verify(a);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain(`chain ${CHAIN}: 9 events (seq 1–9)`);
    expect(r.stdout).toMatch(/seq 8–9 adopted: signed at a gateway start/);
    expect(r.stdout).toContain('events added to the store or journal while no gateway ran would look the same');
  });
});

describe('the gateway crashing is not an attack, and says so the same way', () => {
  it('events left unsigned by a crash are adopted at the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kt-crash-'));
    await run(dir, gwEvents(3));
    await run(dir, gwEvents(2), { crash: true });
    const unsigned = await kt('events', 'verify', '--data-dir', dir);
    expect(unsigned.code).toBe(0);
    expect(unsigned.stdout).toContain('2 after the newest checkpoint not signed yet');
    await run(dir, []);
    const r = await kt('events', 'verify', '--data-dir', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/seq 4–5 adopted/);
  });
});
