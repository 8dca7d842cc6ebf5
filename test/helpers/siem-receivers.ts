import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';

/** Requests a receiver answers with this status before it takes anything (an outage that ends). */
export interface Outage {
  failNext: number;
  status: number;
}

export interface HttpReceiver {
  url: string;
  port: number;
  /** Every request body with its headers, in arrival order (failed ones too, marked). */
  requests: Array<{ path: string; headers: IncomingMessage['headers']; body: string; answered: number }>;
  outage: Outage;
  close(): Promise<void>;
}

/** An HTTP(S) receiver for NDJSON batches or OTLP/JSON; answers 200 `{}` unless an outage is set. */
export async function startHttpReceiver(opts: { tls?: { cert: string; key: string }; port?: number } = {}): Promise<HttpReceiver> {
  const requests: HttpReceiver['requests'] = [];
  const outage: Outage = { failNext: 0, status: 503 };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const answered = outage.failNext > 0 ? (outage.failNext--, outage.status) : 200;
      requests.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString('utf8'), answered });
      res.writeHead(answered, { 'content-type': 'application/json' }).end(answered === 200 ? '{}' : '{"error":"down"}');
    });
  };
  const server: HttpServer = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, handler)
    : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    outage,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The NDJSON records the receiver took (200 answers only). */
export function ndjsonRecords(r: HttpReceiver): Array<Record<string, unknown> & { event_id: string }> {
  return r.requests.filter((q) => q.answered === 200).flatMap((q) => q.body.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
}

export interface SyslogMessage {
  pri: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: Record<string, Record<string, string>>;
  msg: string;
}

const HEADER = /^<(\d{1,3})>(\d) (\S+) (\S+) (\S+) (\S+) (\S+) /;

/** Parse one RFC 5424 message strictly: header, structured data (escapes undone), then MSG after a BOM. */
export function parseRfc5424(text: string): SyslogMessage {
  const h = HEADER.exec(text);
  if (!h) throw new Error(`not an RFC 5424 header: ${text.slice(0, 80)}`);
  let i = h[0].length;
  const sd: SyslogMessage['sd'] = {};
  if (text[i] === '-') i++;
  else {
    while (text[i] === '[') {
      const idEnd = text.indexOf(' ', i) < text.indexOf(']', i) && text.indexOf(' ', i) !== -1 ? text.indexOf(' ', i) : text.indexOf(']', i);
      const id = text.slice(i + 1, idEnd);
      const params: Record<string, string> = {};
      i = idEnd;
      while (text[i] === ' ') {
        const eq = text.indexOf('="', i);
        const name = text.slice(i + 1, eq);
        let j = eq + 2;
        let value = '';
        while (text[j] !== '"') {
          if (text[j] === '\\' && ['"', '\\', ']'].includes(text[j + 1]!)) j++;
          value += text[j];
          j++;
          if (j >= text.length) throw new Error('unterminated PARAM-VALUE');
        }
        params[name] = value;
        i = j + 1;
      }
      if (text[i] !== ']') throw new Error(`bad SD-ELEMENT at ${i}`);
      i++;
      sd[id] = params;
    }
  }
  let msg = '';
  if (text[i] === ' ') {
    msg = text.slice(i + 1);
    if (msg.startsWith('\u{feff}')) msg = msg.slice(1);
  }
  return { pri: Number(h[1]), version: Number(h[2]), timestamp: h[3]!, hostname: h[4]!, appName: h[5]!, procId: h[6]!, msgId: h[7]!, sd, msg };
}

export interface SyslogReceiver {
  address: string;
  port: number;
  messages: SyslogMessage[];
  /** Frames that did not parse (must stay empty). */
  errors: string[];
  close(): Promise<void>;
}

/** A syslog collector over TCP (or TLS) reading octet-counted frames (RFC 6587 3.4.1). */
export async function startSyslogReceiver(opts: { tls?: { cert: string; key: string }; port?: number } = {}): Promise<SyslogReceiver> {
  const messages: SyslogMessage[] = [];
  const errors: string[] = [];
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) return;
        const len = Number(buf.subarray(0, sp).toString('ascii'));
        if (!Number.isInteger(len) || len <= 0) {
          errors.push(`bad frame length ${buf.subarray(0, sp).toString('ascii').slice(0, 20)}`);
          socket.destroy();
          return;
        }
        if (buf.length < sp + 1 + len) return;
        const text = buf.subarray(sp + 1, sp + 1 + len).toString('utf8');
        buf = buf.subarray(sp + 1 + len);
        try {
          messages.push(parseRfc5424(text));
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    });
    socket.on('error', () => {});
  };
  const server: TcpServer = opts.tls ? createTlsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, onSocket) : createTcpServer(onSocket);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: `${opts.tls ? 'tls' : 'tcp'}://127.0.0.1:${port}`,
    port,
    messages,
    errors,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** Poll until `check` is true (the exporters run on their own schedule); throws with `what` after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
