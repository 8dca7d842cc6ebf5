import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AnchorFileError, anchorLine, appendAnchor, readAnchorFile } from '../audit/anchor.js';
import { resolveCapture } from '../audit/blobs.js';
import { parsePublicKeys } from '../audit/keys.js';
import { openEventStore } from '../audit/open.js';
import { eventsDbFile, resolveDataDir } from '../audit/paths.js';
import { SqliteEventStore } from '../audit/sqlite-store.js';
import type { RemoteEventStore } from '../audit/remote-store.js';
import { CHECKPOINTED_META, type EventFilter, type EventStore, type StoredEvent } from '../audit/store.js';
import { verifyChain, type ChainReport, type ExternalPin } from '../audit/verify.js';
import { checkJournal, journalCheckLines, type JournalCheckReport } from '../audit/journal-check.js';
import type { Verdict } from '../policy/types.js';
import {
  csvHeader,
  csvRow,
  eventJson,
  formatDetailed,
  formatEventDetail,
  formatTableHeader,
  formatTableRow,
  ndjsonLine,
  shouldColor,
  VERDICTS,
  type FormatOptions,
} from './format/events.js';
import { chainLines, notProven, type VerifyContext } from './format/verify.js';
import { collect, oneOf } from './options.js';
import { parseTimeSpec, TIME_FORMS, TimeSpecError } from './time-range.js';

// ---------------------------------------------------------------------------------------------------------
// Where events are read from

/** What the commands read: the read half of EventStore, which a control plane client offers as well. */
export type ReadableEventStore = Pick<EventStore, 'query' | 'get' | 'scan' | 'firstSeq' | 'head' | 'chains' | 'checkpoints' | 'records' | 'keys' | 'getBlobs'>;

export interface SourceFlags {
  dataDir?: string;
  databaseUrl?: string;
  apiUrl?: string;
  token?: string;
}

export type SourceChoice =
  | { kind: 'remote'; apiUrl: string; token: string | undefined }
  | { kind: 'postgres'; databaseUrl: string }
  | { kind: 'sqlite'; dataDir: string; file: string };

/**
 * Flags beat environment variables: with KEEPTRUSTS_API_URL exported in a shell, `--data-dir ./x` still
 * means the local store in ./x. Among flags, and then among variables: control plane, PostgreSQL, SQLite.
 */
export function chooseSource(flags: SourceFlags, env: NodeJS.ProcessEnv = process.env): SourceChoice {
  const token = flags.token ?? (env.KEEPTRUSTS_API_TOKEN || env.KEEPTRUSTS_GATEWAY_TOKEN || undefined);
  const sqlite = (): SourceChoice => {
    const dataDir = resolveDataDir(flags.dataDir, env);
    return { kind: 'sqlite', dataDir, file: eventsDbFile(dataDir) };
  };
  if (flags.apiUrl) return { kind: 'remote', apiUrl: flags.apiUrl, token };
  if (flags.databaseUrl) return { kind: 'postgres', databaseUrl: flags.databaseUrl };
  if (flags.dataDir) return sqlite();
  if (env.KEEPTRUSTS_API_URL) return { kind: 'remote', apiUrl: env.KEEPTRUSTS_API_URL, token };
  if (env.KEEPTRUSTS_DATABASE_URL) return { kind: 'postgres', databaseUrl: env.KEEPTRUSTS_DATABASE_URL };
  return sqlite();
}

interface Source {
  store: ReadableEventStore;
  /** Set for a control plane: live tails follow its event stream instead of polling. */
  remote?: RemoteEventStore;
  /** A store's own meta (local stores only: a control plane does not serve it). */
  meta?: (key: string) => Promise<string | null>;
  close(): Promise<void>;
}

/** A failure the user can act on: printed as `kt events <cmd>: message`, no stack. */
class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

function missingStoreMessage(choice: Extract<SourceChoice, { kind: 'sqlite' }>): string {
  return [
    `no event store at ${choice.file}.`,
    'The gateway creates it on first start when audit-logger is in the policy chain (policies.chain in policy-config.yaml).',
    'If the gateway keeps its data elsewhere, pass --data-dir DIR (or set KEEPTRUSTS_DATA_DIR); for a shared store use --database-url or --api-url.',
  ].join('\n  ');
}

/**
 * Open the store read-only. With `waitFor`, a SQLite file that does not exist yet is waited for (a tail
 * started before the gateway); resolves null when the wait is interrupted.
 */
async function openSource(flags: SourceFlags, waitFor?: AbortSignal): Promise<Source | null> {
  const choice = chooseSource(flags);
  if (choice.kind === 'remote') {
    if (!choice.token) throw new CliError(`${choice.apiUrl} needs a token: pass --token or set KEEPTRUSTS_API_TOKEN`);
    // Loaded on demand: a local tail should not pay for the HTTP client.
    const { RemoteEventStore } = await import('../audit/remote-store.js');
    const remote = new RemoteEventStore(choice.apiUrl, choice.token);
    return { store: remote, remote, close: () => remote.close() };
  }
  if (choice.kind === 'postgres') {
    const store = await openEventStore({ dataDir: resolveDataDir(flags.dataDir), databaseUrl: choice.databaseUrl, readonly: true });
    return { store, meta: (key) => store.getMeta(key), close: () => store.close() };
  }
  let announced = false;
  for (;;) {
    if (existsSync(choice.file)) {
      try {
        const store = new SqliteEventStore(choice.file, { readonly: true });
        return { store, meta: (key) => store.getMeta(key), close: () => store.close() };
      } catch (err) {
        // A gateway that is creating the file right now has not written the tables yet.
        if (!waitFor || !/no such table/.test((err as Error).message)) throw new CliError(`cannot read ${choice.file}: ${(err as Error).message}`);
      }
    } else if (!waitFor) {
      throw new CliError(missingStoreMessage(choice));
    } else if (!announced) {
      process.stderr.write(`waiting for ${choice.file} to appear (the gateway creates it on first start with audit-logger in the chain); Ctrl+C to stop\n`);
      announced = true;
    }
    if (!(await pause(300, waitFor))) return null;
  }
}

/** Wait, or stop early on abort; false when aborted. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** The newest store position, or null for an empty store. */
async function latestPos(store: ReadableEventStore): Promise<number | null> {
  const [newest] = await store.query({ order: 'desc', limit: 1 });
  return newest?.pos ?? null;
}

// ---------------------------------------------------------------------------------------------------------
// Options shared by the subcommands

export interface FilterFlags {
  since?: number;
  until?: number;
  verdict?: Verdict[];
  policy?: string;
  developer?: string;
  repository?: string;
  team?: string;
  model?: string;
  client?: string;
  gateway?: string;
}

function addSourceOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'gateway data directory holding events.db (default: KEEPTRUSTS_DATA_DIR or ~/.keeptrusts)')
    .option('--database-url <url>', 'read a PostgreSQL store (default: KEEPTRUSTS_DATABASE_URL)')
    .option('--api-url <url>', 'read from a control plane (default: KEEPTRUSTS_API_URL)')
    .option('--token <token>', 'control plane token (default: KEEPTRUSTS_API_TOKEN, then KEEPTRUSTS_GATEWAY_TOKEN)');
}

export function timeArg(value: string): number {
  try {
    return parseTimeSpec(value, Date.now());
  } catch (err) {
    if (err instanceof TimeSpecError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

/** `--verdict block,redact --verdict flag`: commas and repeats both add. */
export function verdictList(value: string, previous: Verdict[] | undefined): Verdict[] {
  const out = [...(previous ?? [])];
  for (const v of value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (!(VERDICTS as readonly string[]).includes(v)) throw new InvalidArgumentError(`unknown verdict "${v}"; expected ${VERDICTS.join(', ')}`);
    if (!out.includes(v as Verdict)) out.push(v as Verdict);
  }
  return out;
}

/** The most events `kt events tail` prints before following (docs/cli.md). */
const TAIL_LIMIT_MAX = 10_000;

function nonNegativeInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n > max) throw new InvalidArgumentError(`${name} must be a whole number from 0 to ${max}.`);
    return n;
  };
}

function addFilterOptions(cmd: Command, range: 'since' | 'since-until'): Command {
  cmd.option('--since <time>', `only events at or after: ${TIME_FORMS}`, timeArg);
  if (range === 'since-until') cmd.option('--until <time>', 'only events before this time (same forms as --since)', timeArg);
  return cmd
    .option('--verdict <list>', `only these verdicts, comma-separated (${VERDICTS.join(', ')})`, verdictList)
    .option('--policy <kind>', 'only events in which this policy kind took part (e.g. pii-detector)')
    .option('--developer <name>', 'only this developer')
    .option('--repository <name>', 'only this repository')
    .option('--team <name>', 'only this team')
    .option('--model <name>', 'only this model (the target model, else the requested one)')
    .option('--client <name>', 'only this client program (aider, claude-code, codex, …)')
    .option('--gateway <id>', 'only events from this gateway');
}

/** The store filter for --since/--until/--verdict/… (shared with kt usage); a reversed range is the user's error. */
export function filterFrom(flags: FilterFlags, fail: (message: string) => Error = (m) => new CliError(m)): EventFilter {
  if (flags.since !== undefined && flags.until !== undefined && flags.since >= flags.until) {
    throw fail(`--since (${new Date(flags.since).toISOString()}) must be before --until (${new Date(flags.until).toISOString()})`);
  }
  const filter: EventFilter = {};
  if (flags.since !== undefined) filter.sinceMs = flags.since;
  if (flags.until !== undefined) filter.untilMs = flags.until;
  if (flags.verdict?.length) filter.verdict = flags.verdict;
  for (const key of ['policy', 'developer', 'repository', 'team', 'model', 'client', 'gateway'] as const) {
    if (flags[key] !== undefined) filter[key] = flags[key];
  }
  return filter;
}

/** Run an action: known failures print as one line and set the exit code; anything else too, without a stack. */
function action<A extends unknown[]>(name: string, fn: (...args: A) => Promise<number>) {
  return async (...args: A): Promise<void> => {
    watchStdout();
    try {
      process.exitCode = await fn(...args);
    } catch (err) {
      // The reader went away (`| head`): what it wanted was printed, so this is no failure.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`kt events ${name}: ${message}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  };
}

/** Write with backpressure, so an export of 100k events never holds more than a page in memory. */
async function writeOut(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

const stdoutClosed = new AbortController();
let watchingStdout = false;

/**
 * `kt events … | head` closes the pipe early: stop quietly instead of dying with EPIPE. The listener stays
 * for the life of the process, since the error can arrive after the command has finished writing.
 */
function watchStdout(): AbortSignal {
  if (!watchingStdout) {
    watchingStdout = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      stdoutClosed.abort();
    });
  }
  return stdoutClosed.signal;
}

// ---------------------------------------------------------------------------------------------------------
// kt events tail

interface TailFlags extends SourceFlags, FilterFlags {
  follow: boolean;
  limit: number;
  json?: boolean;
  format: 'table' | 'detailed';
}

const POLL_MS = 300;
const PAGE = 1000;

async function runTail(flags: TailFlags): Promise<number> {
  const filter = filterFrom(flags);
  const fmt: FormatOptions = { color: shouldColor(process.stdout.isTTY, process.env) };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  watchStdout().addEventListener('abort', stop, { once: true });
  const print = (e: StoredEvent) => {
    if (controller.signal.aborted) return;
    const text = flags.json ? ndjsonLine(e) : `${flags.format === 'detailed' ? formatDetailed(e, fmt) : formatTableRow(e, fmt)}\n`;
    process.stdout.write(text);
  };

  try {
    const source = await openSource(flags, flags.follow ? controller.signal : undefined);
    if (!source) return 0;
    try {
      const { store } = source;
      // Read the head first and the backlog up to it, then follow from it: no event is missed or printed twice.
      const head = await latestPos(store);
      const backlog = flags.limit > 0 && head !== null ? await store.query({ ...filter, order: 'desc', limit: flags.limit, beforePos: head + 1 }) : [];
      if (!flags.json) process.stdout.write(`${formatTableHeader(fmt)}\n`);
      for (const e of backlog.reverse()) print(e);
      if (!flags.follow || controller.signal.aborted) return 0;
      if (process.stderr.isTTY) process.stderr.write('following new events; Ctrl+C to stop\n');

      if (source.remote) {
        try {
          await source.remote.tail({ ...filter, afterPos: head ?? 0 }, print, controller.signal);
        } catch (err) {
          if (!controller.signal.aborted) throw err;
        }
        return 0;
      }

      let cursor = head ?? 0;
      while (!controller.signal.aborted) {
        const newest = await latestPos(store);
        let rows: StoredEvent[];
        do {
          rows = await store.query({ ...filter, afterPos: cursor, order: 'asc', limit: PAGE });
          for (const e of rows) print(e);
          if (rows.length) cursor = rows[rows.length - 1]!.pos;
        } while (rows.length === PAGE && !controller.signal.aborted);
        // Every event up to `newest` was committed before the reads above, so those that did not match the
        // filter need not be looked at again: skip past them rather than rescanning them every poll.
        if (newest !== null && newest > cursor) cursor = newest;
        await pause(POLL_MS, controller.signal);
      }
      return 0;
    } finally {
      await source.close();
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    watchStdout().removeEventListener('abort', stop);
  }
}

// ---------------------------------------------------------------------------------------------------------
// kt events show

const LOOKUP_LIMIT = 10_000;

/**
 * An event by its id; otherwise by request id or by the short id the table prints, among the newest
 * LOOKUP_LIMIT events (the store indexes neither, and a lookup should not read a whole store).
 */
async function findEvent(store: ReadableEventStore, ref: string): Promise<StoredEvent | null> {
  if (ref.startsWith('evt_')) return store.get(ref);
  const suffix = ref.toUpperCase();
  let before: number | undefined;
  for (let seen = 0; seen < LOOKUP_LIMIT; ) {
    const page = await store.query({ order: 'desc', limit: PAGE, ...(before !== undefined ? { beforePos: before } : {}) });
    const hit = page.find((e) => e.event.request_id === ref || (ref.length >= 6 && e.id.endsWith(suffix)));
    if (hit) return hit;
    if (page.length < PAGE) return null;
    seen += page.length;
    before = page[page.length - 1]!.pos;
  }
  return null;
}

async function runShow(ref: string, flags: SourceFlags & { json?: boolean }): Promise<number> {
  const source = await openSource(flags);
  if (!source) return 1;
  try {
    const stored = await findEvent(source.store, ref);
    if (!stored) {
      throw new CliError(ref.startsWith('evt_') ? `no event ${ref}` : `no event ${ref}: no event id, short id or request id matches among the newest ${LOOKUP_LIMIT} events`);
    }
    // Long captured texts are stored once by hash; show them in full.
    const found = { ...stored, event: await resolveCapture(stored.event, (h) => source.store.getBlobs(h)) };
    if (flags.json) process.stdout.write(`${JSON.stringify(eventJson(found), null, 2)}\n`);
    else process.stdout.write(formatEventDetail(found, { color: shouldColor(process.stdout.isTTY, process.env) }));
    return 0;
  } finally {
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// kt events export

interface ExportFlags extends SourceFlags, FilterFlags {
  format: 'json' | 'ndjson' | 'csv';
  output?: string;
}

async function runExport(flags: ExportFlags): Promise<number> {
  const filter = filterFrom(flags);
  const source = await openSource(flags);
  if (!source) return 1;
  const closed = watchStdout();
  const out: Writable = flags.output ? createWriteStream(flags.output) : process.stdout;
  const failed = flags.output ? new Promise<never>((_, reject) => out.once('error', reject)) : null;
  failed?.catch(() => undefined);
  let count = 0;
  try {
    const write = (chunk: string) => (failed ? Promise.race([writeOut(out, chunk), failed]) : writeOut(out, chunk));
    // Export up to the head as it was at the start: events arriving meanwhile belong to the next export.
    const head = await latestPos(source.store);
    if (flags.format === 'csv') await write(csvHeader());
    if (flags.format === 'json') await write('[');
    let cursor = 0;
    while (head !== null && !(closed.aborted && !flags.output)) {
      const page = await source.store.query({ ...filter, order: 'asc', afterPos: cursor, beforePos: head + 1, limit: PAGE });
      let chunk = '';
      for (const e of page) {
        if (flags.format === 'csv') chunk += csvRow(e);
        else if (flags.format === 'ndjson') chunk += ndjsonLine(e);
        else chunk += `${count > 0 ? ',' : ''}\n${JSON.stringify(eventJson(e))}`;
        count++;
      }
      if (chunk) await write(chunk);
      if (page.length < PAGE) break;
      cursor = page[page.length - 1]!.pos;
    }
    if (flags.format === 'json') await write(count ? '\n]\n' : ']\n');
    if (flags.output) {
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      process.stderr.write(`exported ${count} event${count === 1 ? '' : 's'} to ${flags.output}\n`);
    }
    return 0;
  } finally {
    if (flags.output && !out.writableFinished) out.destroy();
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// kt events verify

interface VerifyFlags extends SourceFlags {
  publicKey?: string[];
  chain?: string;
  anchor?: string[];
  against?: string;
  json?: boolean;
}

/** The keys to trust: those in the --public-key files, else those registered in the store. */
async function trustedKeys(files: string[] | undefined, store: ReadableEventStore): Promise<{ keys: Map<string, string>; from: 'file' | 'store' }> {
  if (!files?.length) return { keys: new Map((await store.keys()).map((k) => [k.key_id, k.public_key])), from: 'store' };
  const keys = new Map<string, string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read --public-key ${file}: ${(err as Error).message}`);
    }
    const found = parsePublicKeys(text);
    if (found.size === 0) throw new CliError(`${file} holds no PEM public key (-----BEGIN PUBLIC KEY-----); export one with kt keys export-public`);
    for (const [id, pem] of found) keys.set(id, pem);
  }
  return { keys, from: 'file' };
}

function anchorsFrom(files: readonly string[]): ExternalPin[] {
  try {
    return files.flatMap((f) => readAnchorFile(f));
  } catch (err) {
    if (err instanceof AnchorFileError) throw new CliError(err.message);
    throw err;
  }
}

/** The chains to check: the store's, plus any an anchor names (a chain deleted from the store must still fail). */
async function chainsToCheck(store: ReadableEventStore, pins: readonly ExternalPin[], only: string | undefined): Promise<string[]> {
  const all = [...new Set([...(await store.chains()), ...pins.map((p) => p.chain)])].sort();
  if (only && !all.includes(only)) throw new CliError(`no chain ${only} in the store${all.length ? ` (chains: ${all.join(', ')})` : ''}`);
  return only ? [only] : all;
}

async function verifyAll(source: Source, chains: readonly string[], trusted: ReadonlyMap<string, string>, pins: readonly ExternalPin[]): Promise<ChainReport[]> {
  const reports: ChainReport[] = [];
  for (const chain of chains) {
    const highWater = source.meta ? Number(await source.meta(`${CHECKPOINTED_META}${chain}`)) || null : null;
    reports.push(await verifyChain(source.store, chain, trusted, { external: pins, highWater }));
  }
  return reports;
}

/** The control plane's copy as pins: the head it holds of each chain must still be on the local chain. */
async function controlPlanePins(url: string, token: string | undefined, chains: readonly string[]): Promise<{ pins: ExternalPin[]; missing: string[] }> {
  if (!token) throw new CliError(`--against ${url} needs a token: pass --token or set KEEPTRUSTS_API_TOKEN`);
  const { RemoteEventStore } = await import('../audit/remote-store.js');
  const remote = new RemoteEventStore(url, token);
  try {
    const pins: ExternalPin[] = [];
    const missing: string[] = [];
    for (const chain of chains) {
      const head = await remote.head(chain);
      if (head) pins.push({ chain, seq: head.seq, hash: head.hash, source: `the control plane ${url}`, at: null });
      else missing.push(chain);
    }
    return { pins, missing };
  } finally {
    await remote.close();
  }
}

async function runVerify(flags: VerifyFlags): Promise<number> {
  if (flags.against && chooseSource(flags).kind === 'remote') {
    throw new CliError('--against compares a local store (--data-dir or --database-url) with a control plane; it cannot compare a control plane with itself');
  }
  const anchors = anchorsFrom(flags.anchor ?? []);
  const source = await openSource(flags);
  if (!source) return 1;
  try {
    const { keys: trusted, from: keysFrom } = await trustedKeys(flags.publicKey, source.store);
    const chains = await chainsToCheck(source.store, anchors, flags.chain);
    const plane = flags.against ? await controlPlanePins(flags.against, flags.token ?? (process.env.KEEPTRUSTS_API_TOKEN || process.env.KEEPTRUSTS_GATEWAY_TOKEN || undefined), chains) : null;
    const reports = await verifyAll(source, chains, trusted, [...anchors, ...(plane?.pins ?? [])]);
    const failed = reports.filter((r) => r.problem);
    // The local store's journal too: events journaled but never ingested are missing from every chain.
    const journal = localJournalCheck(flags, source.store);
    const journalFailed = journal !== undefined && !journal.ok;
    const ctx: VerifyContext = { keysFrom, keyIds: [...trusted.keys()], anchorFiles: flags.anchor ?? [], against: flags.against ?? null, notOnControlPlane: plane?.missing ?? [] };
    const caveats = failed.length ? [] : notProven(reports, ctx);

    if (flags.json) {
      const body = {
        ok: failed.length === 0 && !journalFailed,
        keys: { source: keysFrom, key_ids: ctx.keyIds },
        anchors: { files: ctx.anchorFiles, count: anchors.length, against: ctx.against, not_on_control_plane: ctx.notOnControlPlane },
        chains: reports,
        not_proven: caveats,
        ...(journal ? { journal } : {}),
      };
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return failed.length || journalFailed ? 1 : 0;
    }
    if (chains.length === 0) process.stdout.write('no events, checkpoints or records in the store: nothing to verify\n');
    for (const r of reports) process.stdout.write(`${chainLines(r, ctx).join('\n')}\n`);
    const journalLines = journal ? journalCheckLines(journal) : [];
    for (const line of journalLines) process.stdout.write(`${line}\n`);
    const keyList = trusted.size ? [...trusted.keys()].join(', ') : 'none';
    const first = failed[0]?.problem;
    if (first) {
      process.stdout.write(
        `verification FAILED: ${first.eventId ? `first bad event ${first.eventId} (chain ${first.chain}, seq ${first.seq})` : `chain ${first.chain} at seq ${first.seq}`}: ${first.message}\n`,
      );
    } else if (journalFailed) {
      process.stdout.write(`verification FAILED: ${journalLines.find((l) => l.startsWith('journal: FAILED'))!.slice('journal: FAILED: '.length)}\n`);
    } else if (chains.length) {
      const events = reports.reduce((n, r) => n + r.events, 0);
      const external = anchors.length + (plane?.pins.length ?? 0);
      process.stdout.write(
        `verified ${chains.length} chain${chains.length === 1 ? '' : 's'}: OK (trusted keys from ${keysFrom === 'file' ? '--public-key' : 'the store'}: ${keyList})\n` +
          `proven: ${events} event${events === 1 ? ' is' : 's are'} unaltered and in order, with no gap other than signed retention pruning; every signature holds under the trusted keys` +
          `${external ? `; ${external} anchor${external === 1 ? '' : 's'} from outside the store still on the chain` : ''}\n`,
      );
    }
    if (caveats.length) process.stdout.write(`not proven:\n${caveats.map((c) => `  - ${c}\n`).join('')}`);
    if (keysFrom === 'store' && chains.length) {
      process.stderr.write(
        'note: the signing keys were read from the store itself, so a rewritten store could carry its own keys. Pass --public-key FILE\n' +
          '      (from kt keys export-public, kept outside the store) to make this check independent of the store.\n',
      );
    }
    return failed.length || journalFailed ? 1 : 0;
  } finally {
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// kt events anchor

interface AnchorFlags extends SourceFlags {
  to?: string;
  chain?: string;
  publicKey?: string[];
}

/**
 * Copy the newest signed checkpoint of each chain out of the store, the way a witness cosigns a log's tree
 * head: only after the chain verifies, and is consistent with what the anchor file already holds. Anchoring
 * a tampered chain would make the tampering the reference.
 */
async function runAnchor(flags: AnchorFlags): Promise<number> {
  const existing = flags.to && existsSync(flags.to) ? anchorsFrom([flags.to]) : [];
  const source = await openSource(flags);
  if (!source) return 1;
  try {
    const { keys: trusted } = await trustedKeys(flags.publicKey, source.store);
    const chains = await chainsToCheck(source.store, existing, flags.chain);
    if (chains.length === 0) throw new CliError('no chain in the store: nothing to anchor');
    const reports = await verifyAll(source, chains, trusted, existing);
    const failed = reports.filter((r) => r.problem);
    if (failed.length) {
      const lines = failed.map((r) => `  chain ${r.chain}: ${r.problem!.kind} at seq ${r.problem!.seq}: ${r.problem!.message}`);
      throw new CliError(`not anchored: the chain does not verify${flags.to ? ` against the store and ${flags.to}` : ''}, and anchoring it would make that the reference:\n${lines.join('\n')}`);
    }
    let anchored = 0;
    let current = 0;
    for (const r of reports) {
      const cp = (await source.store.checkpoints(r.chain)).at(-1);
      const before = Math.max(0, ...existing.filter((p) => p.chain === r.chain).map((p) => p.seq));
      if (!cp) {
        process.stderr.write(`chain ${r.chain}: no signed checkpoint yet, nothing to anchor\n`);
        continue;
      }
      const newer = (r.lastSeq ?? cp.seq) - cp.seq;
      const uncovered = newer > 0 ? `; ${newer} newer event${newer === 1 ? '' : 's'} not signed yet ${newer === 1 ? 'is' : 'are'} not covered` : '';
      if (cp.seq <= before) {
        current++;
        process.stderr.write(`chain ${r.chain}: already anchored through seq ${before}${uncovered}\n`);
        continue;
      }
      if (flags.to) appendAnchor(flags.to, cp);
      else process.stdout.write(anchorLine(cp));
      anchored++;
      process.stderr.write(`chain ${r.chain}: anchored seq ${cp.seq} (signed ${cp.ts} by ${cp.key_id})${flags.to ? ` to ${flags.to}` : ''}${uncovered}\n`);
    }
    return anchored + current > 0 ? 0 : 1;
  } finally {
    await source.close();
  }
}

/** The journal check for the local SQLite store (its data dir's journal); undefined for PostgreSQL or a control plane. */
function localJournalCheck(flags: VerifyFlags, store: ReadableEventStore): JournalCheckReport | undefined {
  const choice = chooseSource(flags);
  if (choice.kind !== 'sqlite' || !(store instanceof SqliteEventStore)) return undefined;
  return checkJournal(choice.dataDir, store, flags.chain ? { chain: flags.chain } : {});
}

// ---------------------------------------------------------------------------------------------------------

export function eventsCommand(): Command {
  const events = new Command('events').description('Read, export and verify the decision events the gateway records (audit-logger)');

  addFilterOptions(
    addSourceOptions(
      events
        .command('tail')
        .description('Print the latest events, then follow new ones live until Ctrl+C')
        .option('-f, --follow', 'keep printing new events as they arrive', true)
        .option('--no-follow', 'print the latest events and exit')
        .option('-n, --limit <n>', `how many of the latest events to print first (0: only new ones; at most ${TAIL_LIMIT_MAX})`, nonNegativeInt('--limit', TAIL_LIMIT_MAX), 20)
        .option('--json', 'one JSON object per line (NDJSON): the event plus _chain {chain, seq, hash}')
        .addOption(new Option('--format <format>', 'table, or detailed with the per-policy trace').choices(['table', 'detailed']).default('table')),
    ),
    'since',
  )
    .addHelpText(
      'after',
      `
Reads the gateway's store (events.db in the data dir) unless --database-url or --api-url says otherwise.

Examples:
  $ kt events tail
  $ kt events tail --verdict block,redact --since 1h --format detailed
  $ kt events tail --no-follow --limit 100 --json | jq .verdict`,
    )
    .action(action('tail', runTail));

  addSourceOptions(
    events
      .command('show')
      .description('Print one event in full: the per-policy trace, redactions, the captured (redacted) content, proposed edits as diffs')
      .argument('<id>', 'event id (evt_…), the short id from the table, or a request id')
      .option('--json', 'print the stored event as JSON (with _chain)'),
  )
    .addHelpText(
      'after',
      `
A short id or a request id is looked up among the newest ${LOOKUP_LIMIT} events; several events can share a
request id (the client chooses it), and the newest is shown.

Examples:
  $ kt events show evt_01JDQ7K9X2M4V6B8N0P2R4T6W8
  $ kt events show req_4f1c2a --json`,
    )
    .action(action('show', runShow));

  addFilterOptions(
    addSourceOptions(
      events
        .command('export')
        .description('Write events to a file or standard output as NDJSON, JSON or CSV, oldest first')
        .addOption(new Option('--format <format>', 'output format').choices(['json', 'ndjson', 'csv']).default('ndjson').argParser(oneOf(['json', 'ndjson', 'csv'] as const)))
        .option('-o, --output <file>', 'write to a file instead of standard output'),
    ),
    'since-until',
  )
    .addHelpText(
      'after',
      `
Events are read page by page, so exports of any size run in constant memory. CSV cells that a spreadsheet
would run as a formula (starting with = + - @) are prefixed with an apostrophe.

Examples:
  $ kt events export --since 7d --format csv --output last-week.csv
  $ kt events export --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z --verdict block > november-blocks.ndjson`,
    )
    .action(action('export', runExport));

  addSourceOptions(
    events
      .command('verify')
      .description('Check the hash chains, signed checkpoints and records, and anchors: exit 1 naming the first event altered, removed or reordered')
      .option('--public-key <file>', 'trust only the keys in this PEM file (repeatable); default: the keys registered in the store', collect)
      .option('--chain <name>', 'verify only this chain (a gateway id); default: every chain in the store and in the anchors')
      .option('--anchor <file>', 'anchors from kt events anchor or the gateway\'s --anchor-file (repeatable): each must still be on its chain', collect)
      .option('--against <url>', "compare with a control plane's copy (its head of each chain must still be on the local chain); token from --token")
      .option('--json', 'print the reports as JSON'),
  )
    .addHelpText(
      'after',
      `
With the local store (--data-dir), the gateway's journal is checked too: events journaled but not yet moved
into the chain are reported as not yet ingested (normal while a gateway runs, or after it was killed); an event
the ingester went past without storing, or a journal line it had to set aside, fails the check.

Exit codes:
  0  every chain verified (and the journal holds no event the chain lost); what that does not prove is listed (an
     unsigned tail, adopted events, events after the newest anchor, keys read from the store)
  1  a chain failed (the first bad event is named), the journal check failed, or the store or an anchor file
     could not be read

Keep the gateway's public key and anchors outside the store so the check does not trust what it checks:
  $ kt keys export-public --output gateway-key.pem
  $ kt events anchor --to /mnt/audit/anchors.jsonl          (from cron, or kt gateway run --anchor-file)
  $ kt events verify --public-key gateway-key.pem --anchor /mnt/audit/anchors.jsonl`,
    )
    .action(action('verify', runVerify));

  addSourceOptions(
    events
      .command('anchor')
      .description('Copy the newest signed checkpoint of each chain out of the store (to a file, or standard output), after checking the chain')
      .option('--to <file>', 'append to this file (kept outside the data dir); it is also checked: the chain must still hold what it anchored')
      .option('--chain <name>', 'anchor only this chain')
      .option('--public-key <file>', 'trust only the keys in this PEM file when checking (repeatable)', collect),
  )
    .addHelpText(
      'after',
      `
An anchor is one JSON line: chain, seq, hash, the checkpoint's signature and when it was taken. Someone who
can write the data dir, even with the signing key, cannot change an anchor kept elsewhere: a chain later cut
short or rewritten no longer holds it, and kt events verify --anchor FILE fails. Nothing is anchored when a
chain does not verify. Exit 1 when there was nothing to anchor.

Examples:
  $ kt events anchor --to /mnt/audit/anchors.jsonl
  $ kt events anchor --chain gw-laptop-3f2a1c >> ticket-4711.txt`,
    )
    .action(action('anchor', runAnchor));

  return events;
}
