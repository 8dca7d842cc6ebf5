/**
 * `kt doctor`: what a gateway needs before it can serve, checked from where it will run. Each check returns rows
 * (never prints, never changes anything): the config, every target reached with a cheap authenticated call
 * (its models list), the data dir's permissions, the event store, Redis, the control plane, and the clock
 * against the Date headers those servers answer with.
 */
import { constants, accessSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { formatDiagnostic, loadConfig, type LoadedConfig } from '../config/index.js';
import { resolveTarget, upstreamPath, type Target } from '../providers/targets.js';

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckRow {
  check: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorOptions {
  files: string[];
  dataDir: string;
  databaseUrl?: string | undefined;
  redisUrl?: string | undefined;
  apiUrl?: string | undefined;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
}

/** Skew of the local clock against a server's Date header, in ms (positive: we are ahead). */
interface ClockSample {
  source: string;
  skewMs: number;
}

/** Within this the clock is fine: Date headers have one-second resolution, and a request takes time. */
const SKEW_OK_MS = 5_000;
/** Beyond this, time windows (usage --since, budgets' periods) and signed checkpoint times are off. */
const SKEW_FAIL_MS = 60_000;

export async function runDoctor(opts: DoctorOptions): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const clock: ClockSample[] = [];
  const { loaded, diagnostics } = await loadConfig(opts.files);
  if (!loaded) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    rows.push({ check: 'config', status: 'fail', detail: `${errors.length} error(s): ${errors.slice(0, 3).map(formatDiagnostic).join('; ')}` });
  } else {
    const warnings = diagnostics.filter((d) => d.severity === 'warning').length;
    const c = loaded.config;
    rows.push({
      check: 'config',
      status: warnings > 0 ? 'warn' : 'ok',
      detail: `${c.pack.name}@${c.pack.version}, ${c.providers.targets.length} target(s), sha256 ${loaded.sha256.slice(0, 12)}${warnings > 0 ? `; ${warnings} warning(s) (kt policy lint)` : ''}`,
    });
    const targets = await Promise.all(targetsOf(loaded).map((t) => probeTarget(t, opts, clock)));
    rows.push(...targets);
  }
  rows.push(dataDirRow(opts.dataDir));
  rows.push(await storeRow(opts));
  if (opts.redisUrl) rows.push(await redisRow(opts.redisUrl, opts.timeoutMs));
  rows.push(await controlPlaneRow(opts, clock));
  rows.push(clockRow(clock));
  return rows;
}

function targetsOf(loaded: LoadedConfig): Target[] {
  return loaded.config.providers.targets.map((t) => resolveTarget(t, loaded.config.providers));
}

/**
 * GET the target's models list with its own key: 200 says reachable and the key works. Without a key of its
 * own (clients bring theirs) only reachability can be checked.
 */
async function probeTarget(target: Target, opts: DoctorOptions, clock: ClockSample[]): Promise<CheckRow> {
  const check = `target ${target.id}`;
  const key = target.secretEnv ? opts.env[target.secretEnv]?.trim() : undefined;
  if (target.secretEnv && !key) return { check, status: 'fail', detail: `${target.secretEnv} (secret_key_ref.env) is not set or empty` };
  const headers: Record<string, string> = { ...target.headers };
  if (key) headers[target.apiKeyHeader] = target.apiKeyPrefix + key;
  if (target.format === 'anthropic') headers['anthropic-version'] ??= '2023-06-01';
  const qs = target.baseQuery.toString();
  const url = `${target.origin}${upstreamPath(target, 'models')}${qs ? `?${qs}` : ''}`;
  const t0 = Date.now();
  try {
    const res = await request(url, { method: 'GET', headers, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, signal: AbortSignal.timeout(opts.timeoutMs) });
    await res.body.dump();
    const ms = Date.now() - t0;
    sampleClock(clock, `target ${target.id}`, res.headers.date, t0);
    const where = `${target.origin} answered ${res.statusCode} in ${ms} ms`;
    if (!key) return { check, status: res.statusCode < 500 ? 'ok' : 'warn', detail: `${where}; no secret_key_ref, so clients bring their keys (not checked)` };
    if (res.statusCode >= 200 && res.statusCode < 300) return { check, status: 'ok', detail: `${where}; key accepted` };
    if (res.statusCode === 401 || res.statusCode === 403) return { check, status: 'fail', detail: `${where}; the key in ${target.secretEnv} is refused` };
    return { check, status: 'warn', detail: `${where}; reachable, but the models list did not confirm the key` };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT' ? `no answer in ${opts.timeoutMs} ms` : `unreachable (${codeOf(e)})`;
    return { check, status: 'fail', detail: `${target.origin}: ${why}` };
  }
}

function codeOf(err: NodeJS.ErrnoException): string {
  const cause = err.cause as NodeJS.ErrnoException | undefined;
  return err.code ?? cause?.code ?? 'error';
}

/** The data dir holds the signing key, the salt and every event: its owner's alone (0700, files 0600). */
function dataDirRow(dataDir: string): CheckRow {
  const check = 'data dir';
  if (!existsSync(dataDir)) return { check, status: 'ok', detail: `${dataDir} does not exist yet; the gateway creates it (0700)` };
  const st = statSync(dataDir);
  if (!st.isDirectory()) return { check, status: 'fail', detail: `${dataDir} is not a directory` };
  try {
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch {
    return { check, status: 'fail', detail: `${dataDir} is not writable by this user` };
  }
  if (process.platform === 'win32') return { check, status: 'ok', detail: dataDir };
  const wide: string[] = [];
  if ((st.mode & 0o077) !== 0) wide.push(`the dir is ${(st.mode & 0o777).toString(8)}`);
  for (const name of ['signing-key.pem', 'audit-salt', 'console-token', 'events.db']) {
    const file = join(dataDir, name);
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) wide.push(`${name} is ${mode.toString(8)}`);
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) wide.push('owned by another user');
  return wide.length > 0
    ? { check, status: 'warn', detail: `${dataDir}: ${wide.join(', ')}; the gateway tightens this at start (0700, files 0600)` }
    : { check, status: 'ok', detail: `${dataDir} (0700, writable)` };
}

async function storeRow(opts: DoctorOptions): Promise<CheckRow> {
  const check = 'event store';
  if (opts.databaseUrl) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: opts.timeoutMs });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { check, status: 'ok', detail: 'PostgreSQL reachable' };
    } catch (err) {
      // Never the URL: it can hold a password.
      return { check, status: 'fail', detail: `PostgreSQL: ${(err as NodeJS.ErrnoException).code ?? 'connection failed'}` };
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const file = join(opts.dataDir, 'events.db');
  if (!existsSync(file)) return { check, status: 'ok', detail: 'SQLite, not created yet' };
  try {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    } finally {
      db.close();
    }
    return { check, status: 'ok', detail: `SQLite ${file} opens` };
  } catch (err) {
    return { check, status: 'fail', detail: `SQLite ${file}: ${(err as Error).message.slice(0, 120)}` };
  }
}

async function redisRow(url: string, timeoutMs: number): Promise<CheckRow> {
  const check = 'redis';
  const { Redis } = await import('ioredis');
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return { check, status: 'ok', detail: 'reachable' };
  } catch (err) {
    return { check, status: 'fail', detail: `unreachable (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    client.disconnect();
  }
}

async function controlPlaneRow(opts: DoctorOptions, clock: ClockSample[]): Promise<CheckRow> {
  const check = 'control plane';
  if (!opts.apiUrl) return { check, status: 'skip', detail: 'KEEPTRUSTS_API_URL not set: events stay local' };
  const t0 = Date.now();
  try {
    const base = opts.apiUrl.replace(/\/+$/, '');
    const res = await request(`${base}/health`, { headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, signal: AbortSignal.timeout(opts.timeoutMs) });
    await res.body.dump();
    sampleClock(clock, 'control plane', res.headers.date, t0);
    if (res.statusCode !== 200) return { check, status: 'fail', detail: `${base}/health answered ${res.statusCode}` };
    const token = opts.env.KEEPTRUSTS_GATEWAY_TOKEN ? '' : '; KEEPTRUSTS_GATEWAY_TOKEN is not set, so nothing is shipped';
    return { check, status: token ? 'warn' : 'ok', detail: `${base} reachable${token}` };
  } catch (err) {
    return { check, status: 'fail', detail: `unreachable (${codeOf(err as NodeJS.ErrnoException)})` };
  }
}

function sampleClock(clock: ClockSample[], source: string, date: string | string[] | undefined, sentAt: number): void {
  const value = Array.isArray(date) ? date[0] : date;
  const at = value ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) return;
  // The server stamped its Date somewhere between our send and now; its second was truncated.
  const mid = (sentAt + Date.now()) / 2;
  clock.push({ source, skewMs: mid - (at + 500) });
}

function clockRow(samples: readonly ClockSample[]): CheckRow {
  const check = 'clock';
  if (samples.length === 0) return { check, status: 'skip', detail: 'no server answered with a Date header to compare with' };
  const worst = samples.reduce((a, b) => (Math.abs(b.skewMs) > Math.abs(a.skewMs) ? b : a));
  const skew = Math.abs(worst.skewMs);
  const secs = (worst.skewMs / 1000).toFixed(1);
  const detail = `${secs} s against ${worst.source}${samples.length > 1 ? ` (the widest of ${samples.length})` : ''}`;
  return { check, status: skew <= SKEW_OK_MS ? 'ok' : skew <= SKEW_FAIL_MS ? 'warn' : 'fail', detail };
}
