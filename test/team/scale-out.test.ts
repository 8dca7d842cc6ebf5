import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { openTokenStore } from '../../src/server/tokens.js';
import { openVirtualKeyStore } from '../../src/usage/keys.js';
import { writeConfigs } from '../helpers/config.js';
import { haproxyBinary, startHaproxy, type RunningHaproxy } from '../helpers/haproxy.js';
import { freePort, KT, ROOT, runKt } from '../helpers/processes.js';
import { deleteRedisKeys, PG_URL, postgresAvailable, REDIS_URL, redisAvailable, SERVICES_REQUIRED } from '../helpers/services.js';
import { call, cleanEnv, pool, startKt, type CallResult, type CallSpec, type KtProcess } from '../helpers/team.js';

/**
 * A team gateway scaled out on one machine, as deploy/compose runs it: three `kt gateway run` replicas on one
 * PostgreSQL schema and one Redis, behind a real HAProxy, each shipping its chain to one `kt server` with its own
 * token. Developers send mixed traffic through HAProxy; then one replica is killed mid-stream and all three are
 * restarted one at a time under load. Run alone with `npm run e2e:team` (docs/deploy.md).
 */

const haproxy = haproxyBinary();
if (!haproxy) {
  const message = 'HAProxy is not installed (apt-get install haproxy)';
  if (SERVICES_REQUIRED) throw new Error(`${message}, and CI is set, which makes it required`);
  console.warn(`skipping the scale-out test: ${message}`);
}
const pgUp = await postgresAvailable();
const redisUp = await redisAvailable();
const ready = Boolean(haproxy) && pgUp && redisUp;

const RUN = `${process.pid}_${randomBytes(3).toString('hex')}`;
/** Gateways' shared schema and the control plane's own, both fresh and dropped afterwards. */
const GW_SCHEMA = `kt_team_gw_${RUN}`;
const CP_SCHEMA = `kt_team_cp_${RUN}`;
const GW_DB = `${PG_URL}?schema=${GW_SCHEMA}`;
const CP_DB = `${PG_URL}?schema=${CP_SCHEMA}`;
const REDIS_PREFIX = `test-team-${RUN.replace(/_/g, '-')}`;
const REPLICAS = ['gw-1', 'gw-2', 'gw-3'] as const;
type Replica = (typeof REPLICAS)[number];

const DEVELOPERS = {
  alice: { developer: 'alice@example.com', team: 'platform' },
  bob: { developer: 'bob@example.com', team: 'platform' },
  carol: { developer: 'carol@example.com', team: 'payments' },
  dan: { developer: 'dan@example.com', team: 'payments' },
} as const;
type Dev = keyof typeof DEVELOPERS;
const BOB_BUDGET_USD = 0.001;
const CAROL_RPM = 8;

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), `kt-team-${prefix}-`));
  dirs.push(d);
  return d;
};

let fake: FakeUpstream;
let lb: RunningHaproxy;
let server: KtProcess;
let serverUrl: string;
let readerToken: string;
let configFile: string;
const keys = {} as Record<Dev, string>;
const gateways = new Map<Replica, { port: number; dataDir: string; token: string; proc: KtProcess }>();
/** Every request sent, in order, with what its client saw. */
const results: CallResult[] = [];
let seq = 0;
const nextId = (tag: string) => `req_team_${RUN}_${tag}_${++seq}`;

function startReplica(name: Replica, port: number, dataDir: string, token: string): Promise<KtProcess> {
  return startKt(
    [
      'gateway', 'run', '-c', configFile, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--database-url', GW_DB, '--gateway-id', name,
      '--redis-url', REDIS_URL, '--redis-key-prefix', REDIS_PREFIX, '--client-auth', 'virtual-key',
      // Longer than HAProxy needs to see /readyz fail (fall 2 x inter 250 ms), as compose sets 5 s for its 2 s checks.
      '--shutdown-delay', '2s',
    ],
    // Provider keys stay on the gateway; developers hold only virtual keys.
    cleanEnv({ KEEPTRUSTS_API_URL: serverUrl, KEEPTRUSTS_GATEWAY_TOKEN: token, FAKE_PROVIDER_KEY: 'sk-fake-provider-key' }),
  );
}

async function send(dev: Dev, tag: string, spec: Omit<CallSpec, 'id' | 'key'>): Promise<CallResult> {
  const r = await call(lb.url, { ...spec, id: nextId(tag), key: keys[dev] });
  results.push(r);
  return r;
}

/** The control plane's API as the console reads it (a reader token). */
async function api<T>(path: string): Promise<T> {
  const res = await request(`${serverUrl}${path}`, { headers: { authorization: `Bearer ${readerToken}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

interface ApiEvent {
  chain: string;
  seq: number;
  event: { request_id: string; status: number; verdict: string; stream: boolean; identity: { developer?: string | null }; cost: { total?: number } | null; error: { code: string | null } | null };
}

async function controlPlaneEvents(): Promise<ApiEvent[]> {
  const out: ApiEvent[] = [];
  let cursor = '';
  for (;;) {
    const page = await api<{ data: ApiEvent[]; next_cursor: string | null }>(`/v1/events?order=asc&limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.data);
    if (!page.next_cursor) return out;
    cursor = page.next_cursor;
  }
}

/** Wait until the control plane holds an event for each of these request ids (shipping is asynchronous). */
async function shipped(ids: string[], timeoutMs = 20_000): Promise<ApiEvent[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const events = await controlPlaneEvents();
    const have = new Set(events.map((e) => e.event.request_id));
    const missing = ids.filter((id) => !have.has(id));
    if (missing.length === 0) return events;
    if (Date.now() > end) throw new Error(`${missing.length} acknowledged requests have no event on the control plane after ${timeoutMs} ms, e.g. ${missing.slice(0, 3).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A request the client saw answered in full: it must have exactly one event. */
const acknowledged = (r: CallResult) => r.status !== null && r.complete;

function eventCounts(events: ApiEvent[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.event.request_id, (counts.get(e.event.request_id) ?? 0) + 1);
  return counts;
}

/** Every acknowledged request has exactly one event on the control plane, and no event is for a request never sent. */
async function expectOneEventPerAcknowledgedRequest(): Promise<ApiEvent[]> {
  const ackIds = results.filter(acknowledged).map((r) => r.id);
  const events = await shipped(ackIds);
  const counts = eventCounts(events);
  const sent = new Set(results.map((r) => r.id));
  expect(ackIds.filter((id) => counts.get(id) !== 1), 'acknowledged requests without exactly one event').toEqual([]);
  expect([...counts].filter(([, n]) => n > 1), 'requests with more than one event').toEqual([]);
  expect([...counts.keys()].filter((id) => !sent.has(id)), 'events for requests never sent').toEqual([]);
  return events;
}

async function expectChainsVerify(): Promise<void> {
  // Each replica's chain in the shared schema, compared with the control plane's copy of it.
  const [verify, cp] = await Promise.all([
    runKt(['events', 'verify', '--database-url', GW_DB, '--against', serverUrl, '--token', readerToken, '--json']),
    // And the control plane's own copy, from its store, with the keys the gateways registered.
    runKt(['events', 'verify', '--database-url', CP_DB]),
  ]);
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  const report = JSON.parse(verify.stdout) as { ok: boolean; chains: Array<{ chain: string }>; anchors: { not_on_control_plane: string[] } };
  expect(report.ok).toBe(true);
  expect(report.chains.map((r) => r.chain).sort()).toEqual([...REPLICAS]);
  expect(report.anchors.not_on_control_plane).toEqual([]);
  expect(cp.code, cp.stdout + cp.stderr).toBe(0);
}

const timings: Record<string, number> = {};
async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings[label] = Math.round(performance.now() - t0);
  }
}

beforeAll(async () => {
  if (!ready) return;
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  await timed('start', async () => {
    fake = await startFakeUpstream({ record: false, replyText: 'Here is the refactored parser, with tests for each branch and a short summary of the change.' });
    [configFile] = writeConfigs(`pack: {name: team, version: "1.0.0"}
policies: {chain: [audit-logger]}
budgets:
  - {scope: developer, match: ${DEVELOPERS.bob.developer}, limit_usd: ${BOB_BUDGET_USD}, period: day, mode: hard}
rate_limits:
  - {scope: developer, match: ${DEVELOPERS.carol.developer}, rpm: ${CAROL_RPM}}
providers:
  strategy: single
  targets:
    - {id: fake-openai, provider: openai-compatible, base_url: "${fake.url}/v1", secret_key_ref: {env: FAKE_PROVIDER_KEY}}
    - {id: fake-anthropic, provider: anthropic, base_url: "${fake.url}", secret_key_ref: {env: FAKE_PROVIDER_KEY}}
`) as [string];

    // The control plane, and one token per replica (the token names the replica's chain). Tokens and virtual keys
    // are made through the stores `kt server token create` and `kt keys create` use: a process start each would
    // add seconds on a loaded machine, and test/e2e covers those commands.
    const serverDir = tempDir('server');
    const tokenStore = await openTokenStore({ dataDir: serverDir, databaseUrl: CP_DB });
    const tokens = await Promise.all(REPLICAS.map(async (gateway) => (await tokenStore.create({ gateway })).token));
    readerToken = (await tokenStore.create({ gateway: 'console', role: 'reader' })).token;
    await tokenStore.close();
    const serverPort = await freePort();
    serverUrl = `http://127.0.0.1:${serverPort}`;
    const ports = await Promise.all(REPLICAS.map(() => freePort()));
    const first = REPLICAS[0];
    const startOne = async (name: Replica, i: number) => {
      const dataDir = tempDir(name);
      gateways.set(name, { port: ports[i]!, dataDir, token: tokens[i]!, proc: await startReplica(name, ports[i]!, dataDir, tokens[i]!) });
    };
    server = await startKt(['server', '--listen', `127.0.0.1:${serverPort}`, '--database-url', CP_DB, '--data-dir', serverDir], cleanEnv());
    // The first replica creates the gateways' schema; the virtual keys go in it (so every replica knows every
    // developer), then the other two replicas start together.
    await startOne(first, 0);
    const keyStore = await openVirtualKeyStore({ dataDir: tempDir('keys'), databaseUrl: GW_DB });
    for (const [dev, who] of Object.entries(DEVELOPERS) as Array<[Dev, (typeof DEVELOPERS)[Dev]]>) keys[dev] = (await keyStore.create({ developer: who.developer, team: who.team })).key;
    await keyStore.close();
    await Promise.all(REPLICAS.slice(1).map((name, i) => startOne(name, i + 1)));
    lb = await startHaproxy(haproxy!, { port: await freePort(), statsPort: await freePort(), backends: REPLICAS.map((name) => ({ name, port: gateways.get(name)!.port })) });
    await lb.waitFor([...REPLICAS], 'UP');
  });
}, 180_000);

afterAll(async () => {
  if (!ready) return;
  await lb?.stop();
  for (const g of gateways.values()) if (g.proc.child.exitCode === null && g.proc.child.signalCode === null) g.proc.child.kill('SIGKILL');
  if (server && server.child.exitCode === null) server.child.kill('SIGTERM');
  await Promise.all([...gateways.values()].map((g) => g.proc.exited));
  if (server) await server.exited;
  await fake?.close();
  const { PostgresEventStore } = await import('../../src/audit/postgres-store.js');
  await PostgresEventStore.dropSchema(PG_URL, GW_SCHEMA);
  await PostgresEventStore.dropSchema(PG_URL, CP_SCHEMA);
  await deleteRedisKeys(`${REDIS_PREFIX}:`);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  console.log(`scale-out timings (ms): ${JSON.stringify(timings)}`);
}, 60_000);

const MIX: Array<Omit<CallSpec, 'id' | 'key'>> = [
  { kind: 'chat', stream: false, repository: 'acme/api' },
  { kind: 'chat', stream: true, repository: 'acme/web' },
  { kind: 'messages', stream: false, repository: 'acme/api' },
  { kind: 'messages', stream: true, repository: 'acme/infra' },
];

describe.skipIf(!ready)('a team gateway: three replicas behind HAProxy, one PostgreSQL, one Redis, one kt server', () => {
  it('serves mixed traffic from several developers on every replica, holding budgets and rate limits across replicas', async () => {
    await timed('mixed traffic', async () => {
      const alice = pool(Array.from({ length: 24 }, (_, i) => MIX[i % MIX.length]!), 4, (s) => send('alice', 'alice', s));
      const dan = pool(Array.from({ length: 12 }, (_, i) => MIX[(i + 1) % MIX.length]!), 2, (s) => send('dan', 'dan', s));
      // Carol: twice her requests per minute, four at a time, spread over the replicas by round-robin.
      const carol = pool(Array.from({ length: CAROL_RPM * 2 }, (_, i) => MIX[i % 2]!), 4, (s) => send('carol', 'carol', s));
      // Bob: three clients in a loop until his hard budget refuses them.
      const bob = Promise.all(
        Array.from({ length: 3 }, async () => {
          for (let i = 0; i < 200; i++) {
            const r = await send('bob', 'bob', MIX[i % 2]!);
            if (r.code === 'budget_exceeded' || r.status !== 200) return;
          }
        }),
      );
      const [a, d, c] = await Promise.all([alice, dan, carol, bob]);
      for (const r of [...a, ...d]) expect([r.status, r.complete, r.error], `${r.id}: ${r.body.slice(0, 300)}`).toEqual([200, true, undefined]);
      // Every replica served some of it.
      expect(new Set(results.map((r) => r.served))).toEqual(new Set(REPLICAS));

      // Rate limit: exactly her rpm admitted in the minute, whichever replica each request reached.
      const carolOk = c.filter((r) => r.status === 200);
      const carolRefused = c.filter((r) => r.status === 429 && r.code === 'rate_limited');
      expect([carolOk.length, carolRefused.length]).toEqual([CAROL_RPM, CAROL_RPM]);
      expect(new Set(carolOk.map((r) => r.served)).size).toBeGreaterThan(1);
      expect(c.every((r) => r.complete)).toBe(true);
    });
  }, 120_000);

  it('records every acknowledged request exactly once, ships each replica\'s chain to kt server, and the chains verify', async () => {
    const events = await timed('events and chains', async () => {
      const events = await expectOneEventPerAcknowledgedRequest();
      await expectChainsVerify();
      return events;
    });
    expect(new Set(events.map((e) => e.chain))).toEqual(new Set(REPLICAS));
    // Bob's budget held across replicas: spent at least the limit (he was refused) and at most one request over
    // per client in flight (three clients), from the events the replicas recorded.
    const bob = events.filter((e) => e.event.identity.developer === DEVELOPERS.bob.developer);
    const bobOk = bob.filter((e) => e.event.status === 200);
    const spent = bobOk.reduce((s, e) => s + (e.event.cost?.total ?? 0), 0);
    const perRequest = Math.max(...bobOk.map((e) => e.event.cost?.total ?? 0));
    expect(bob.some((e) => e.event.error?.code === 'budget_exceeded')).toBe(true);
    expect(spent).toBeGreaterThanOrEqual(BOB_BUDGET_USD);
    expect(spent).toBeLessThanOrEqual(BOB_BUDGET_USD + 3 * perRequest + 1e-12);
    expect(new Set(bob.map((e) => e.chain)).size).toBeGreaterThan(1);
    console.log(`bob's budget: ${bobOk.length} admitted for $${spent.toFixed(6)} of $${BOB_BUDGET_USD} ($${perRequest.toFixed(6)} each), ${bob.length - bobOk.length} refused, over ${new Set(bob.map((e) => e.chain)).size} replicas`);
  }, 60_000);

  it('shows one team view of all replicas in kt usage and the console API of kt server', async () => {
    const ack = results.filter(acknowledged);
    const perDev = new Map<string, number>();
    for (const r of ack) perDev.set(DEVELOPERS[devOf(r)].developer, (perDev.get(DEVELOPERS[devOf(r)].developer) ?? 0) + 1);
    const usageOf = (...args: string[]) => runKt(['usage', ...args, '--api-url', serverUrl, '--token', readerToken, '--format', 'json']);
    const [usage, teams, ...replicas] = await Promise.all([usageOf('--by', 'developer'), usageOf('--by', 'team'), ...REPLICAS.map((name) => usageOf('--by', 'verdict', '--gateway', name))]);
    expect(usage!.code, usage!.stderr).toBe(0);
    const rows = JSON.parse(usage!.stdout) as { rows: Array<{ key: string; requests: number }>; total: { requests: number } };
    expect(Object.fromEntries(rows.rows.map((r) => [r.key, r.requests]))).toEqual(Object.fromEntries(perDev));
    expect(rows.total.requests).toBe(ack.length);
    // By team, and per replica: the same total, split over the three chains.
    const teamRows = (JSON.parse(teams!.stdout) as { rows: Array<{ key: string; requests: number }> }).rows;
    expect(teamRows.map((r) => r.key).sort()).toEqual(['payments', 'platform']);
    const perReplica = replicas.map((one) => (JSON.parse(one.stdout) as { total: { requests: number } }).total.requests);
    for (const [i, n] of perReplica.entries()) expect(n, REPLICAS[i]).toBeGreaterThan(0);
    expect(perReplica.reduce((a, b) => a + b, 0)).toBe(ack.length);
    // The console's overview and chain list, from the same control plane.
    const stats = await api<{ requests: number; top_developers: Array<{ key: string; requests: number }> }>('/v1/stats');
    expect(stats.requests).toBe(ack.length);
    expect(stats.top_developers.map((r) => r.key).sort()).toEqual([...perDev.keys()].sort());
    const chains = await api<{ data: Array<{ chain: string }> }>('/v1/chains');
    expect(chains.data.map((c) => c.chain).sort()).toEqual([...REPLICAS]);
    // The console's page itself, when it was built (npm run build; npm run e2e:team builds it).
    const page = await request(`${serverUrl}/console/`);
    const html = await page.body.text();
    if (existsSync(join(ROOT, 'dist/console/index.html'))) expect([page.statusCode, html.includes('<html')]).toEqual([200, true]);
    else expect([page.statusCode, html]).toEqual([503, expect.stringContaining('not built')]);
  }, 60_000);

  it('loses no acknowledged event when a replica is killed mid-stream; the cut streams fail on the client', async () => {
    const victim: Replica = 'gw-2';
    const before = results.length;
    await timed('kill mid-stream', async () => {
      // Slow streams (a delta every 100 ms), two per replica, all in flight when the replica is killed.
      fake.setFault({ kind: 'slow', chunkDelayMs: 100 }, { times: 6 });
      let started = 0;
      let allStarted!: () => void;
      const inFlight = new Promise<void>((r) => (allStarted = r));
      const streams = Array.from({ length: 6 }, (_, i) =>
        send('alice', 'killstream', {
          kind: i % 2 ? 'messages' : 'chat',
          stream: true,
          repository: 'acme/api',
          onFirstBytes: () => {
            if (++started === 6) allStarted();
          },
        }),
      );
      await inFlight;
      gateways.get(victim)!.proc.child.kill('SIGKILL');
      const done = await Promise.all(streams);
      const cut = done.filter((r) => r.served === victim);
      const others = done.filter((r) => r.served !== victim);
      expect(cut.length).toBe(2);
      // The client of a cut stream sees an error, never a stream that looks finished.
      for (const r of cut) expect([r.status, r.complete, r.error !== undefined], r.id).toEqual([200, false, true]);
      for (const r of others) expect([r.status, r.complete, r.error], r.id).toEqual([200, true, undefined]);
      console.log(`kill: cut streams reported to their clients as: ${[...new Set(cut.map((r) => r.error))].join(' | ')}`);

      // The survivors carry on: 20 requests right after the kill, before HAProxy has seen it fail its checks.
      const after = await pool(Array.from({ length: 20 }, (_, i) => MIX[i % MIX.length]!), 4, (s) => send('dan', 'afterkill', s));
      for (const r of after) expect([r.status, r.complete, r.error], r.id).toEqual([200, true, undefined]);
      expect(after.some((r) => r.served === victim)).toBe(false);
      await lb.waitFor([victim], 'DOWN');

      // Start it again on the same data dir and schema: its chain goes on where it stopped.
      const g = gateways.get(victim)!;
      await g.proc.exited;
      g.proc = await startReplica(victim, g.port, g.dataDir, g.token);
      await lb.waitFor([victim], 'UP');
    });
    const events = await expectOneEventPerAcknowledgedRequest();
    // What the kill cut has at most one event (recorded as cut if the replica got to write it, otherwise none).
    const counts = eventCounts(events);
    for (const r of results.slice(before).filter((r) => !acknowledged(r))) expect(counts.get(r.id) ?? 0, r.id).toBeLessThanOrEqual(1);
    await expectChainsVerify();
  }, 120_000);

  it('drops no request during a rolling restart (SIGTERM drains one replica at a time, HAProxy takes it out)', async () => {
    const before = results.length;
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; !stop; i++) await send(w % 2 ? 'alice' : 'dan', 'rolling', MIX[(i + w) % MIX.length]!);
      }),
    );
    const restarts: Record<string, number> = {};
    await timed('rolling restart', async () => {
      for (const name of REPLICAS) {
        const t0 = performance.now();
        const g = gateways.get(name)!;
        // A slow stream in flight on this replica when it is told to stop (the load above never uses /v1/responses).
        fake.setFault({ kind: 'slow', chunkDelayMs: 60 }, { times: 1, family: 'responses' });
        let streaming!: () => void;
        const firstBytes = new Promise<void>((r) => (streaming = r));
        const inFlight = call(`http://127.0.0.1:${g.port}`, { id: nextId('drain'), key: keys.alice, kind: 'responses', stream: true, onFirstBytes: () => streaming() }).then((r) => (results.push(r), r));
        await firstBytes;
        g.proc.child.kill('SIGTERM');
        const exit = await g.proc.exited;
        expect(exit, `${name} exit after SIGTERM`).toEqual({ code: 0, signal: null });
        const drained = await inFlight;
        expect([drained.status, drained.complete, drained.error], `${name}: the stream in flight at SIGTERM`).toEqual([200, true, undefined]);
        await lb.waitFor([name], 'DOWN');
        g.proc = await startReplica(name, g.port, g.dataDir, g.token);
        await lb.waitFor([name], 'UP');
        restarts[name] = Math.round(performance.now() - t0);
      }
      // Keep the load on for a moment with all three back.
      await new Promise((r) => setTimeout(r, 500));
      stop = true;
      await load;
    });
    const during = results.slice(before);
    const failed = during.filter((r) => !(r.status === 200 && r.complete));
    console.log(`rolling restart: ${during.length} requests, ${failed.length} failed; per replica (ms) ${JSON.stringify(restarts)}`);
    expect(failed.map((r) => `${r.id} on ${r.served}: ${r.status} ${r.error ?? r.body.slice(0, 200)}`)).toEqual([]);
    expect(new Set(during.filter((r) => r.served).map((r) => r.served))).toEqual(new Set(REPLICAS));
    expect(during.filter((r) => r.spec.kind === 'responses').length).toBe(REPLICAS.length);
    await expectOneEventPerAcknowledgedRequest();
    await expectChainsVerify();
  }, 300_000);
});

function devOf(r: CallResult): Dev {
  return (Object.keys(keys) as Dev[]).find((d) => keys[d] === r.spec.key)!;
}
