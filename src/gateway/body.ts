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
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of source) {
      total += (chunk as Buffer).length;
      if (total > limit) throw tooLarge(limit);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    if (source !== req) throw new GatewayError(400, 'invalid_request_error', `request body is not valid ${encoding}`, { code: 'bad_encoding' });
    throw err;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}
