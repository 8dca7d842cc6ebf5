import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import { GatewayError } from './errors.js';

/** How much of a request body is read, and for how long. */
export interface BodyLimits {
  /** Largest body accepted, decoded (`--max-body-bytes`). */
  maxBytes: number;
  /** Longest pause between two chunks of the body. */
  idleTimeoutMs: number;
  /** The whole body must have arrived this long after reading it began. */
  totalTimeoutMs: number;
}

export const DEFAULT_BODY_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/**
 * An upload over the limit is still read, and thrown away, up to this many bytes before the 413 goes out. A
 * client that is still writing when the server closes the connection sees EPIPE or a reset instead of the
 * answer, and SDKs retry that (the whole upload again); one that has finished writing reads the 413 and does
 * not. Past this bound the connection is closed after the 413 without waiting for the rest.
 */
export function discardBound(maxBytes: number): number {
  return Math.max(2 * maxBytes, 64 * 1024 * 1024);
}

export function tooLarge(limit: number): GatewayError {
  return new GatewayError(413, 'request_too_large', `request body exceeds the gateway limit of ${limit} bytes (--max-body-bytes)`, {
    code: 'request_too_large',
  });
}

function bodyTimeout(why: string): GatewayError {
  return new GatewayError(408, 'invalid_request_error', `the request body did not arrive in time (${why}); the connection is closed`, { code: 'request_timeout' });
}

/** Answers that leave part of the request unread: the connection cannot carry another request after them. */
export function closesConnection(status: number): boolean {
  return status === 408 || status === 413;
}

/**
 * Read a request body into memory, decoding gzip/deflate/br. Past `maxBytes` (declared or counted) the rest is
 * read and thrown away up to `discardBound`, then a 413 is thrown; a body that stalls for `idleTimeoutMs`, or is
 * not complete after `totalTimeoutMs`, throws a 408. Either way the caller closes the connection.
 */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  let decoder: Transform | undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = createGunzip();
  else if (encoding === 'deflate') decoder = createInflate();
  else if (encoding === 'br') decoder = createBrotliDecompress();
  else if (encoding !== 'identity' && encoding !== '') {
    return Promise.reject(
      new GatewayError(415, 'invalid_request_error', `unsupported content-encoding "${encoding.slice(0, 20)}"`, {
        code: 'unsupported_encoding',
      }),
    );
  }
  return readRequest(req, limits, decoder, encoding);
}

/** Event handlers rather than async iteration, since this runs on every request. */
function readRequest(req: IncomingMessage, limits: BodyLimits, decoder: Transform | undefined, encoding: string): Promise<Buffer> {
  const { maxBytes } = limits;
  const bound = discardBound(maxBytes);
  const declared = Number(req.headers['content-length']);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let received = 0;
    let overflow = Number.isFinite(declared) && declared > maxBytes;
    let ended = false;
    let settled = false;
    const started = performance.now();
    let lastData = started;
    const finish = (err: Error | undefined, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (decoder) {
        req.unpipe(decoder);
        decoder.off('data', keep);
        decoder.destroy();
      }
      if (err) reject(err);
      else resolve(body!);
    };
    const keep = (chunk: Buffer) => {
      if (overflow) return;
      kept += chunk.length;
      if (kept <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      // From here on the body is only counted, to know when the client has finished sending it.
      overflow = true;
      chunks.length = 0;
      if (decoder) {
        req.unpipe(decoder);
        decoder.off('data', keep);
        decoder.destroy();
        req.resume(); // unpipe paused it
      }
      // The decoder may still be flushing after the upload ended: then it has all been read.
      if (ended) finish(tooLarge(maxBytes));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      lastData = performance.now();
      if (overflow && received > bound) finish(tooLarge(maxBytes));
      else if (!decoder) keep(chunk);
    };
    const onEnd = () => {
      ended = true;
      if (overflow) finish(tooLarge(maxBytes));
      else if (!decoder) finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept));
      // else: the decoder ends after it has flushed what it holds
    };
    // A client that goes away mid-body: nothing will answer it, but the request must not hang.
    const onClose = () => {
      if (!ended) finish(new GatewayError(400, 'invalid_request_error', 'the client closed the connection before sending the whole body', { code: 'client_closed' }));
    };
    // One timer for both bounds (a second one per request showed in profiles): it fires at the earlier of the two
    // and, while the body is still arriving, is set again for what is left, instead of refreshed on every chunk.
    const deadlineAt = started + limits.totalTimeoutMs;
    const check = () => {
      const now = performance.now();
      if (now - lastData >= limits.idleTimeoutMs) return finish(bodyTimeout(`nothing for ${seconds(limits.idleTimeoutMs)}`));
      if (now >= deadlineAt) return finish(bodyTimeout(`not complete after ${seconds(limits.totalTimeoutMs)}`));
      timer = setTimeout(check, Math.min(lastData + limits.idleTimeoutMs, deadlineAt) - now);
    };
    let timer = setTimeout(check, Math.min(limits.idleTimeoutMs, limits.totalTimeoutMs));
    if (overflow && declared > bound) {
      finish(tooLarge(maxBytes));
      return;
    }
    if (decoder && !overflow) {
      decoder.on('data', keep);
      decoder.once('end', () => {
        if (!overflow) finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept));
      });
      decoder.on('error', () => {
        if (!overflow) finish(new GatewayError(400, 'invalid_request_error', `request body is not valid ${encoding}`, { code: 'bad_encoding' }));
      });
      req.pipe(decoder);
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  });
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Gather a stream into one buffer, failing past `limit`; event handlers, since this runs on every request. */
export function collect(source: Readable, limit: number, encoding: string | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const fail = (err: unknown) => {
      source.off('data', onData);
      source.resume(); // drain whatever is left so the connection can close cleanly
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) return fail(tooLarge(limit));
      chunks.push(chunk);
    };
    source.on('data', onData);
    let ended = false;
    source.once('end', () => {
      ended = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
    // A client that goes away mid-body: nothing will answer it, but the request must not hang.
    source.once('close', () => {
      if (!ended) reject(new GatewayError(400, 'invalid_request_error', 'the client closed the connection before sending the whole body', { code: 'client_closed' }));
    });
    source.once('error', (err) =>
      fail(encoding ? new GatewayError(400, 'invalid_request_error', `request body is not valid ${encoding}`, { code: 'bad_encoding' }) : err),
    );
  });
}
