import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopbackListener } from './request-guard.js';

/** Parse `--listen`: `host:port`, `:port`, `port`, or `[::1]:port`. */
export function parseListen(value: string): { host: string; port: number } {
  const v = value.trim();
  let host = '127.0.0.1';
  let portText = v;
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2]!;
  } else if (v.includes(':')) {
    const i = v.lastIndexOf(':');
    host = v.slice(0, i) || host;
    portText = v.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen ${JSON.stringify(value)}: expected HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:41002`);
  }
  return { host, port };
}

/** Whether a listen address takes connections only from this machine (the request guard's notion, one definition). */
export function isLoopback(host: string): boolean {
  return isLoopbackListener(host);
}

/** Bind and resolve with the URL clients use. Shared by the gateway and the control plane. */
export async function listenHttp(server: Server, host: string, port: number, scheme: 'http' | 'https' = 'http'): Promise<{ url: string; host: string; port: number }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `${scheme}://${hostForUrl}:${address.port}`, host: address.address, port: address.port };
}

/**
 * Whether a listener may start on this address: beyond loopback, the network can read plain HTTP (API keys,
 * prompts, events), so it takes TLS or a deliberate `--insecure-listen` (a TLS-terminating proxy in front on a
 * private network). Returns the refusal, or undefined.
 */
export function exposureRefusal(listen: string, host: string, given: { tlsCert?: string; tlsKey?: string; insecureListen?: boolean }): string | undefined {
  if (given.tlsCert && !given.tlsKey) return '--tls-cert needs --tls-key (the private key of that certificate, PEM)';
  if (given.tlsKey && !given.tlsCert) return '--tls-key needs --tls-cert (the certificate chain, PEM)';
  if (given.tlsCert && given.insecureListen) return '--insecure-listen and --tls-cert contradict each other: give one';
  if (isLoopback(host) || given.tlsCert || given.insecureListen) return undefined;
  return (
    `--listen ${listen} takes connections from the network, and plain HTTP there shows API keys and prompts to anyone on the path: ` +
    'give --tls-cert and --tls-key to serve HTTPS, or --insecure-listen if a TLS-terminating proxy or load balancer sits in front on a private network'
  );
}
