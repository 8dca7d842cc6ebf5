import { appendFileSync, closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { canonicalJson } from './canonical.js';
import type { Checkpoint } from './chain.js';
import type { ExternalPin } from './verify.js';

/**
 * Anchors: signed checkpoints copied out of the data dir, one JSON line each, to a file (kept where the
 * gateway's host cannot rewrite it: another machine, an append-only file, a ticket, a transparency log).
 * A store can be rewritten and re-signed by whoever holds the signing key, but not the copies made before:
 * `kt events verify --anchor FILE` requires the chain to still hold each anchored (seq, hash) and to extend
 * past it. That is the whole consistency proof of a hash chain: the anchored hash is on it.
 */
export const ANCHOR_TYPE = 'keeptrusts-anchor/v1';

export interface AnchorLine extends Checkpoint {
  type: typeof ANCHOR_TYPE;
  anchored_at: string;
}

export class AnchorFileError extends Error {
  override name = 'AnchorFileError';
}

/** One line (with its newline) anchoring a signed checkpoint. */
export function anchorLine(cp: Checkpoint, anchoredAt: Date = new Date()): string {
  const line: AnchorLine = {
    type: ANCHOR_TYPE,
    chain: cp.chain,
    seq: cp.seq,
    hash: cp.hash,
    ts: cp.ts,
    key_id: cp.key_id,
    signature: cp.signature,
    anchored_at: anchoredAt.toISOString(),
  };
  return `${canonicalJson(line)}\n`;
}

/**
 * The anchors in a text: one JSON line each; blank lines and lines starting with # are skipped (a file may be
 * annotated, or a ticket pasted). Anything else that is not an anchor is an error naming its line: an anchor
 * file is evidence, and a line that cannot be read must not be passed over silently.
 */
export function parseAnchors(text: string, name: string, lineOffset = 0): ExternalPin[] {
  const pins: ExternalPin[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const where = `${name} line ${i + 1 + lineOffset}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new AnchorFileError(`${where} is not JSON: not an anchor line from kt events anchor`);
    }
    const a = value as Partial<AnchorLine>;
    const ok =
      typeof value === 'object' &&
      value !== null &&
      a.type === ANCHOR_TYPE &&
      typeof a.chain === 'string' &&
      Number.isSafeInteger(a.seq) &&
      (a.seq ?? 0) > 0 &&
      typeof a.hash === 'string' &&
      /^[0-9a-f]{64}$/.test(a.hash) &&
      typeof a.ts === 'string' &&
      typeof a.key_id === 'string' &&
      typeof a.signature === 'string' &&
      typeof a.anchored_at === 'string';
    if (!ok) throw new AnchorFileError(`${where} is not a ${ANCHOR_TYPE} line (chain, seq, hash, ts, key_id, signature, anchored_at)`);
    const cp: Checkpoint = { chain: a.chain!, seq: a.seq!, hash: a.hash!, ts: a.ts!, key_id: a.key_id!, signature: a.signature! };
    pins.push({ chain: cp.chain, seq: cp.seq, hash: cp.hash, source: where, at: a.anchored_at!, checkpoint: cp });
  }
  return pins;
}

export function readAnchorFile(file: string): ExternalPin[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AnchorFileError(`cannot read anchor file ${file}: ${(err as Error).message}`);
  }
  return parseAnchors(text, file);
}

/** Appends with O_APPEND, so concurrent writers never overwrite each other's lines. */
export function appendAnchor(file: string, cp: Checkpoint, at: Date = new Date()): void {
  appendFileSync(file, anchorLine(cp, at), { mode: 0o644 });
}

/** Enough of an anchor file's end to hold its newest lines however long it grows (hourly anchors: ~3 MB a year). */
const TAIL_BYTES = 1024 * 1024;

/**
 * The newest anchor of a chain in a file, read from the file's last megabyte; null when the file does not
 * exist or holds none for the chain. A malformed line there is an error (see parseAnchors).
 */
export function newestAnchor(file: string, chain: string): ExternalPin | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AnchorFileError(`cannot read anchor file ${file}: ${(err as Error).message}`);
  }
  let text: string;
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    text = buf.subarray(0, read).toString('utf8');
    // Started mid-file: the first line is probably cut.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
  } finally {
    closeSync(fd);
  }
  const pins = parseAnchors(text, file).filter((p) => p.chain === chain);
  return pins.sort((a, b) => a.seq - b.seq).at(-1) ?? null;
}

/**
 * Appends the newest checkpoint of a chain signed by `keyId`, when it is newer than `afterSeq`; returns the seq
 * anchored last (unchanged when there was nothing newer).
 */
export async function anchorNewest(file: string, store: { checkpoints(chain: string): Promise<Checkpoint[]> }, chain: string, keyId: string, afterSeq: number): Promise<number> {
  const cp = (await store.checkpoints(chain)).filter((c) => c.key_id === keyId).at(-1);
  if (!cp || cp.seq <= afterSeq) return afterSeq;
  appendAnchor(file, cp);
  return cp.seq;
}
