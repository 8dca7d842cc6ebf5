import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A test CA and what it signed, as files (PEM) made by openssl: nothing is checked in, nothing outlives the run. */
export interface TestPki {
  dir: string;
  ca: string;
  caPem: Buffer;
  /** A server certificate for localhost and 127.0.0.1, signed by the CA: `{cert, key}` file paths and its SHA-256. */
  leaf(name: string): { cert: string; key: string; fingerprint: string };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'kt-pki-'));
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=keeptrusts test CA']);
  const ext = join(dir, 'leaf.ext');
  writeFileSync(ext, 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  return {
    dir,
    ca,
    caPem: readFileSync(ca),
    leaf(name) {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      openssl(['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
      openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
      return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
    },
  };
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
