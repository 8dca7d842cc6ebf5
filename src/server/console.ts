/**
 * The web console: its static files (built by Vite into dist/console from console/) and the read endpoints
 * only it needs: `GET /v1/stats`, `GET /v1/events/:id/verify` and `GET /v1/budgets`. The control plane
 * (src/server/app.ts) routes to these; the gateway mounts the same handler through src/server/local-console.ts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GENESIS_HASH, linkHash, type Checkpoint } from '../audit/chain.js';
import { verifyCheckpoint } from '../audit/keys.js';
import type { EventFilter, EventStore, StoredEvent, UsageRow } from '../audit/store.js';
import { checkRow } from '../audit/verify.js';
import type { BudgetStatus, LimitEngine } from '../usage/limits/types.js';

export const CONSOLE_PATH = '/console';

/**
 * The policy for every console response. Everything the page loads comes from this origin: scripts and styles
 * are files Vite wrote (no inline script), API calls go to the same host, and the page cannot be framed.
 */
export const CONSOLE_CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** dist/console, from dist/server/console.js (installed) or src/server/console.ts (tests, tsx). */
export function consoleDir(): string | null {
  const candidates = [new URL('../console/', import.meta.url), new URL('../../dist/console/', import.meta.url)];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(resolve(dir, 'index.html'))) return resolve(dir);
  }
  return null;
}

let cachedDir: string | null | undefined;
const files = new Map<string, Buffer | null>();

function readCached(file: string): Buffer | null {
  if (files.has(file)) return files.get(file)!;
  let body: Buffer | null = null;
  try {
    if (statSync(file).isFile()) body = readFileSync(file);
  } catch {
    body = null;
  }
  // The build's file names change with their content, so what was read stays right for this process.
  if (files.size < 500) files.set(file, body);
  return body;
}

function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CONSOLE_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
  };
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...securityHeaders(), 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * Serve `GET /console` and `/console/*`: a built file when one exists, `index.html` for the console's own
 * routes (`/console/events/evt_…`), 404 for a missing asset. Paths are resolved inside dist/console only.
 */
export async function serveConsole(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<undefined> {
  cachedDir ??= consoleDir();
  const dir = cachedDir;
  if (!dir) {
    sendText(res, 503, 'The console is not built: run npm run build (it runs vite build for console/).\n');
    return undefined;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice(CONSOLE_PATH.length).replace(/^\/+/, ''));
  } catch {
    sendText(res, 400, 'malformed path\n');
    return undefined;
  }
  if (rel.includes('\0') || rel.includes('\\')) {
    sendText(res, 400, 'malformed path\n');
    return undefined;
  }
  const file = resolve(dir, rel);
  const inside = file === dir || file.startsWith(dir + sep);
  let body = inside && file !== dir ? readCached(file) : null;
  let served = file;
  if (!body) {
    // A file name (with an extension) that is not there is a 404; anything else is a route of the single-page app.
    if (!inside || extname(rel) !== '' || rel.startsWith('assets/')) {
      sendText(res, 404, 'not found\n');
      return undefined;
    }
    served = resolve(dir, 'index.html');
    body = readCached(served);
    if (!body) {
      sendText(res, 503, 'The console build is incomplete: run npm run build.\n');
      return undefined;
    }
  }
  const hashed = served.startsWith(resolve(dir, 'assets') + sep);
  res.writeHead(200, {
    ...securityHeaders(),
    'content-type': CONTENT_TYPES[extname(served)] ?? 'application/octet-stream',
    'content-length': body.length,
    // Assets carry a content hash in their names; index.html must be revalidated to pick up a new build.
    'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return undefined;
}

// ---- GET /v1/stats --------------------------------------------------------------------------------------------

export interface StatsJson {
  since: string | null;
  until: string | null;
  requests: number;
  verdicts: Record<string, number>;
  /** Blocked and redacted requests as a share of all requests in the window (0 when there are none). */
  block_rate: number;
  redaction_rate: number;
  spend: {
    /** Priced cost of the window's events, and of today and this week (UTC: the week starts on Monday). */
    window_usd: number | null;
    today_usd: number;
    week_usd: number;
    unpriced_requests: number;
  };
  top_developers: UsageRow[];
  top_repositories: UsageRow[];
  top_models: UsageRow[];
}

const DAY_MS = 86_400_000;

export function weekStartMs(nowMs: number): number {
  const day = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const weekday = (new Date(day).getUTCDay() + 6) % 7; // Monday 0
  return day - weekday * DAY_MS;
}

/**
 * The overview: counts by verdict, spend and the top developers, repositories and models for the filter, from
 * grouped reports (no event is read whole). Today and this week take the filter's columns but their own times.
 */
export async function statsReport(store: EventStore, filter: EventFilter, nowMs = Date.now(), top = 5): Promise<StatsJson> {
  const todayMs = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const weekMs = weekStartMs(nowMs);
  const { sinceMs: _s, untilMs: _u, ...columns } = filter;
  const [verdicts, developers, repositories, models, days] = await Promise.all([
    store.usageReport(filter, 'verdict'),
    store.usageReport(filter, 'developer'),
    store.usageReport(filter, 'repository'),
    store.usageReport(filter, 'model'),
    store.usageReport({ ...columns, sinceMs: Math.min(todayMs, weekMs) }, 'day'),
  ]);
  const counts: Record<string, number> = { allow: 0, flag: 0, redact: 0, block: 0, escalate: 0 };
  let requests = 0;
  let windowUsd: number | null = null;
  let unpriced = 0;
  for (const row of verdicts) {
    if (row.key !== null) counts[row.key] = row.requests;
    requests += row.requests;
    if (row.cost_usd !== null) windowUsd = (windowUsd ?? 0) + row.cost_usd;
    unpriced += row.unpriced_requests;
  }
  const todayKey = new Date(todayMs).toISOString().slice(0, 10);
  const weekKey = new Date(weekMs).toISOString().slice(0, 10);
  let todayUsd = 0;
  let weekUsd = 0;
  for (const row of days) {
    if (row.key === null) continue;
    if (row.key >= weekKey) weekUsd += row.cost_usd ?? 0;
    if (row.key === todayKey) todayUsd += row.cost_usd ?? 0;
  }
  const rate = (n: number) => (requests === 0 ? 0 : n / requests);
  return {
    since: filter.sinceMs !== undefined ? new Date(filter.sinceMs).toISOString() : null,
    until: filter.untilMs !== undefined ? new Date(filter.untilMs).toISOString() : null,
    requests,
    verdicts: counts,
    block_rate: rate(counts.block ?? 0),
    redaction_rate: rate(counts.redact ?? 0),
    spend: { window_usd: windowUsd, today_usd: todayUsd, week_usd: weekUsd, unpriced_requests: unpriced },
    top_developers: developers.slice(0, top),
    top_repositories: repositories.slice(0, top),
    top_models: models.slice(0, top),
  };
}

// ---- GET /v1/events/:id/verify --------------------------------------------------------------------------------

export type LinkState = 'ok' | 'genesis' | 'anchored' | 'head' | 'broken' | 'missing';

export interface VerifyEventJson {
  id: string;
  chain: string;
  seq: number;
  /** verified: intact and covered by a valid signed checkpoint; linked: intact, not signed yet; failed: see problems. */
  status: 'verified' | 'linked' | 'failed';
  /** The stored body is canonical, hashes to the stored hash and agrees with the filter columns. */
  body_ok: boolean;
  /** The event before it ends in its prev_hash (or it is the first event, or a checkpoint anchors it after pruning). */
  prev: LinkState;
  /** The event after it links to its hash (or it is the chain's head). */
  next: LinkState;
  checkpoint: {
    seq: number;
    key_id: string;
    ts: string;
    /** The signature checks out against a registered key. */
    signature_ok: boolean;
    /** The links from this event to the checkpoint were walked and match the signed hash; null when too far to walk here. */
    covers: boolean | null;
  } | null;
  problems: string[];
}

/** How many links the verify endpoint walks to reach a checkpoint; beyond that `kt events verify` walks the chain. */
export const MAX_VERIFY_WALK = 2_000;

async function eventAt(store: EventStore, chain: string, seq: number): Promise<StoredEvent | null> {
  if (seq < 1) return null;
  for await (const e of store.scan(chain, seq, 1)) return e.seq === seq ? e : null;
  return null;
}

/**
 * One event against its neighbours and the nearest signed checkpoint after it: cheap (a few indexed reads and
 * at most MAX_VERIFY_WALK links), unlike `kt events verify`, which walks whole chains. Null when there is no
 * such event.
 */
export async function verifyEventReport(store: EventStore, id: string): Promise<VerifyEventJson | null> {
  const found = await store.get(id);
  if (!found) return null;
  const { chain, seq } = found;
  // Read through scan for the stored filter columns, which the body check compares.
  const e = (await eventAt(store, chain, seq)) ?? found;
  const problems: string[] = [];
  const bodyProblem = checkRow(e, e.prev_hash);
  if (bodyProblem) problems.push(bodyProblem.message);

  let prev: LinkState;
  if (seq === 1) prev = e.prev_hash === GENESIS_HASH ? 'genesis' : 'broken';
  else {
    const before = await eventAt(store, chain, seq - 1);
    if (before) prev = before.hash === e.prev_hash && linkHash(before.chain, before.seq, before.prev_hash, before.body) === before.hash ? 'ok' : 'broken';
    else {
      const anchor = (await store.checkpoints(chain)).find((cp) => cp.seq === seq - 1);
      prev = anchor && anchor.hash === e.prev_hash ? 'anchored' : 'missing';
    }
  }
  if (prev === 'broken') problems.push(`the link to the event before it (seq ${seq - 1}) is broken`);
  if (prev === 'missing') problems.push(`the event before it (seq ${seq - 1}) is missing and no checkpoint anchors it`);

  let next: LinkState;
  const after = await eventAt(store, chain, seq + 1);
  if (after) next = after.prev_hash === e.hash && linkHash(after.chain, after.seq, after.prev_hash, after.body) === after.hash ? 'ok' : 'broken';
  else {
    const head = await store.head(chain);
    next = head && head.seq === seq ? 'head' : 'missing';
  }
  if (next === 'broken') problems.push(`the event after it (seq ${seq + 1}) does not link to it`);
  if (next === 'missing') problems.push(`the event after it (seq ${seq + 1}) is missing`);

  const checkpoints = await store.checkpoints(chain);
  const cp: Checkpoint | undefined = checkpoints.find((c) => c.seq >= seq);
  let checkpoint: VerifyEventJson['checkpoint'] = null;
  if (cp) {
    const keys = new Map((await store.keys()).map((k) => [k.key_id, k.public_key]));
    const pem = keys.get(cp.key_id);
    const signatureOk = pem !== undefined && verifyCheckpoint(cp, pem);
    if (!signatureOk) problems.push(`the checkpoint at seq ${cp.seq} is not signed by a registered key`);
    let covers: boolean | null = null;
    if (cp.seq - seq <= MAX_VERIFY_WALK) {
      covers = false;
      let prevHash = e.hash;
      let expected = seq + 1;
      if (cp.seq === seq) covers = cp.hash === e.hash;
      else {
        for await (const row of store.scan(chain, seq + 1, Math.min(1000, cp.seq - seq))) {
          if (row.seq !== expected || row.prev_hash !== prevHash || linkHash(row.chain, row.seq, row.prev_hash, row.body) !== row.hash) break;
          prevHash = row.hash;
          if (row.seq === cp.seq) {
            covers = cp.hash === row.hash;
            break;
          }
          expected++;
        }
      }
      if (!covers) problems.push(`the chain from this event to the checkpoint at seq ${cp.seq} does not match the signed hash`);
    }
    checkpoint = { seq: cp.seq, key_id: cp.key_id, ts: cp.ts, signature_ok: signatureOk, covers };
  }
  const status = problems.length > 0 ? 'failed' : checkpoint?.signature_ok && checkpoint.covers !== false ? 'verified' : 'linked';
  return { id: e.id, chain, seq, status, body_ok: !bodyProblem, prev, next, checkpoint, problems };
}

// ---- GET /v1/budgets ------------------------------------------------------------------------------------------

export type BudgetsJson = { available: true; data: BudgetStatus[] } | { available: false; message: string };

/** Budget status where a limit engine runs (a gateway); a control plane has none and says where budgets live. */
export async function budgetsReport(limits: Pick<LimitEngine, 'status'> | undefined): Promise<BudgetsJson> {
  if (!limits) {
    return { available: false, message: 'Budgets are configured and enforced on gateways (budgets: in the policy config); open the console of a gateway (kt gateway run) to see their status.' };
  }
  return { available: true, data: await limits.status() };
}
