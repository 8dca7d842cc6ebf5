import { exposureRefusal } from '../gateway/listen.js';
import type { Logger } from '../gateway/logger.js';
import { readTlsFiles, type TlsMaterial } from '../gateway/tls.js';
import type { TlsFlags } from './options.js';

/**
 * What `--listen` and the TLS flags allow, checked before anything is opened: the certificate pair to serve, or
 * none for plain HTTP. Throws with the one-line reason the start fails.
 */
export function listenerTls(listen: string, host: string, flags: TlsFlags): TlsMaterial | undefined {
  const refusal = exposureRefusal(listen, host, flags);
  if (refusal) throw new Error(refusal);
  return flags.tlsCert && flags.tlsKey ? readTlsFiles(flags.tlsCert, flags.tlsKey) : undefined;
}

/**
 * On SIGHUP, read the pair again and hand it to the listener: connections from then on use it, open ones keep
 * theirs (renewals by certbot or cert-manager need no restart). A pair that does not load leaves the old one
 * serving, with the reason logged. Returns the function that stops listening for the signal.
 */
export function reloadTlsOnSighup(flags: TlsFlags, setTls: (m: TlsMaterial) => void, logger: Pick<Logger, 'info' | 'error'>): () => void {
  const reload = () => {
    try {
      const material = readTlsFiles(flags.tlsCert!, flags.tlsKey!);
      setTls(material);
      logger.info({ certificate: material.summary }, 'SIGHUP: TLS certificate reloaded; new connections use it, open ones keep theirs');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'SIGHUP: TLS certificate not reloaded, the previous one is still served');
    }
  };
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}
