import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** A certificate chain and its private key, PEM, as read from `--tls-cert` and `--tls-key`. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** What the start and reload log lines say about the certificate (never the key). */
  summary: { subject: string; valid_to: string; sha256: string };
}

export class TlsFilesError extends Error {}

/**
 * Read both files and check that they make a usable pair before any listener takes them, so a wrong file stops
 * the start (or a reload keeps the old pair) with the file named, instead of failing every handshake later.
 */
export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = readPem(certFile, '--tls-cert');
  const key = readPem(keyFile, '--tls-key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new TlsFilesError(`--tls-cert ${certFile}: not a PEM certificate (expected -----BEGIN CERTIFICATE-----, the server's own certificate first)`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    // OpenSSL's reason codes, in words: a key that is not PEM, or not the certificate's.
    throw new TlsFilesError(
      /KEY_VALUES_MISMATCH/.test(code)
        ? `--tls-key ${keyFile} is not the private key of the certificate in --tls-cert ${certFile}`
        : `--tls-key ${keyFile}: not a PEM private key (expected -----BEGIN PRIVATE KEY----- or an RSA/EC key, unencrypted)`,
    );
  }
  return {
    cert,
    key,
    summary: {
      subject: leaf.subjectAltName ?? leaf.subject,
      valid_to: new Date(leaf.validTo).toISOString(),
      sha256: createHash('sha256').update(leaf.raw).digest('hex'),
    },
  };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TlsFilesError(`${flag} ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable by this user' : 'cannot be read'}`);
  }
}
