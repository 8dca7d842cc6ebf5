import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createBoundedServer, listenerLimits, type BoundedServer } from '../../src/gateway/bounded-server.js';
import { readTlsFiles } from '../../src/gateway/tls.js';
import { makeTestPki } from '../helpers/tls.js';

/** The listener bounds hold over HTTPS too: the cap counts connections still in their handshake. */

const pki = makeTestPki();
const first = pki.leaf('bounded-a');
const second = pki.leaf('bounded-b');
let bounded: BoundedServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await bounded?.close(0);
  bounded = undefined;
});

async function start(maxConnections: number): Promise<number> {
  bounded = createBoundedServer((_req, res) => res.end('ok'), listenerLimits({ maxConnections, headersTimeoutMs: 5_000 }, 0), 'the test', undefined, readTlsFiles(first.cert, first.key));
  await new Promise<void>((r) => bounded!.server.listen(0, '127.0.0.1', r));
  return (bounded.server.address() as AddressInfo).port;
}

function tlsConnect(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: pki.caPem, servername: 'localhost' }, () => resolve(s));
    sockets.push(s);
    s.once('error', reject);
  });
}

describe('a bounded HTTPS listener', () => {
  it('closes a connection past the cap, counting one that has not finished its handshake', async () => {
    const port = await start(2);
    await tlsConnect(port);
    // A client that connected and never sent its ClientHello holds a slot too.
    const silent = tcpConnect(port, '127.0.0.1');
    sockets.push(silent);
    await new Promise((r) => silent.once('connect', r));
    await expect.poll(() => bounded!.connections).toBe(2);
    await expect(tlsConnect(port)).rejects.toThrow();
    expect(bounded!.refused).toBe(1);
    silent.destroy();
    await expect.poll(() => bounded!.connections).toBe(1);
    await expect(tlsConnect(port)).resolves.toBeDefined();
  });

  it('takes a new certificate for new connections while open ones keep theirs, and refuses setTls on plain HTTP', async () => {
    const port = await start(8);
    const open = await tlsConnect(port);
    bounded!.setTls(readTlsFiles(second.cert, second.key));
    expect(open.getPeerCertificate().fingerprint256).toBe(first.fingerprint);
    expect((await tlsConnect(port)).getPeerCertificate().fingerprint256).toBe(second.fingerprint);
    open.write('GET / HTTP/1.1\r\nhost: localhost\r\n\r\n');
    const reply = await new Promise<string>((r) => open.once('data', (d: Buffer) => r(d.toString())));
    expect(reply).toMatch(/^HTTP\/1\.1 200/);

    const plain = createBoundedServer((_req, res) => res.end(), listenerLimits({ maxConnections: 1 }, 0), 'plain');
    expect(bounded!.tls && !plain.tls).toBe(true);
    expect(() => plain.setTls(readTlsFiles(second.cert, second.key))).toThrow('plain HTTP');
  });

  it('at close, destroys a connection still in its handshake once the grace period is over', async () => {
    const port = await start(8);
    const silent = tcpConnect(port, '127.0.0.1');
    sockets.push(silent);
    await new Promise((r) => silent.once('connect', r));
    const closed = new Promise((r) => silent.once('close', r));
    const started = Date.now();
    await bounded!.close(200);
    await closed;
    expect(Date.now() - started).toBeLessThan(3_000);
    bounded = undefined;
  });
});

describe('readTlsFiles', () => {
  it('summarises the certificate without the key', () => {
    const m = readTlsFiles(first.cert, first.key);
    expect(m.summary.sha256).toBe(first.fingerprint.replace(/:/g, '').toLowerCase());
    expect(m.summary.subject).toContain('DNS:localhost');
    expect(JSON.stringify(m.summary)).not.toContain(readFileSync(first.key, 'utf8').split('\n')[1]!.slice(0, 20));
  });
});
