import type { IncomingMessage } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { GatewayError } from './errors.js';

export function tooLarge(limit: number): GatewayError {
  return new GatewayError(413, 'request_too_large', `request body exceeds the gateway limit of ${limit} bytes (--max-body-bytes)`, {
    code: 'request_too_large',
  });
}

/** Read a request body into memory, decoding gzip/deflate/br, and stop as soon as it passes `limit`. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  let source: Readable = req;
  if (encoding === 'gzip' || encoding === 'x-gzip') source = req.pipe(createGunzip());
  else if (encoding === 'deflate') source = req.pipe(createInflate());
  else if (encoding === 'br') source = req.pipe(createBrotliDecompress());
  else if (encoding !== 'identity' && encoding !== '') {
    throw new GatewayError(415, 'invalid_request_error', `unsupported content-encoding "${encoding.slice(0, 20)}"`, {
      code: 'unsupported_encoding',
    });
  }
  return collect(source, limit, source !== req ? encoding : undefined);
}

/** Gather a stream into one buffer; event handlers, since this runs on every request. */
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
