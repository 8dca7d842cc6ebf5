import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * The decode stage: the upstream body with its content-encoding undone. `stream.pipeline` joins the two, so an
 * error on either side reaches the other: an upstream cut mid-way fails the decoder with the upstream's error
 * (and whoever reads the decoder ends the response properly), a corrupt body destroys the upstream body (which
 * frees its connection). Undefined when the encoding is one Node cannot decode.
 */
export function decodedBody(body: Readable, encoding: string): Readable | undefined {
  if (encoding === 'identity' || encoding === '') return body;
  const decoder = decoderFor(encoding);
  if (!decoder) return undefined;
  // The reader of the decoder hears of every failure through it; this callback has nothing to add.
  return pipeline(body, decoder, () => undefined);
}

function decoderFor(encoding: string) {
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip();
  if (encoding === 'deflate') return createInflate();
  if (encoding === 'br') return createBrotliDecompress();
  return undefined;
}

/**
 * A decoder's error: the upstream's bytes do not decode (corrupt, or a compressed stream that stops short).
 * zlib's codes start with `Z_`; brotli's with `ERR__ERROR_` (and `ERR_BROTLI`).
 */
export function isDecodeError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR__ERROR_') || code.startsWith('ERR_BROTLI'));
}
