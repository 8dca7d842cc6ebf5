import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from './logger.js';
import { DEFAULT_BODY_IDLE_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS } from './body.js';
import type { TlsMaterial } from './tls.js';

/**
 * The bounds every keeptrusts listener (the gateway, the control plane) puts on its clients, so that slow or
 * idle connections cannot pile up until the process runs out of file descriptors, which would also stop it
 * writing its journal and store.
 */
export interface ListenerLimits {
  /** The request line and headers must have arrived within this. */
  headersTimeoutMs: number;
  /** Longest pause between two chunks of a request body (enforced where the body is read). */
  bodyIdleTimeoutMs: number;
  /** The whole request, headers and body, must have arrived within this. */
  requestTimeoutMs: number;
  /** Open client connections at most; one more is answered 503 and closed at once. */
  maxConnections: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;
/** Longer than the idle timeouts of common load balancers (60 s), so they never reuse a connection we closed. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** Descriptors kept for everything but client and upstream connections: files, databases, worker threads. */
const RESERVED_DESCRIPTORS = 128;

/**
 * Refused connections kept open a moment longer, at most. Each one is read until the client closes it (or for a
 * second): closing a socket with unread data sends a reset, and a reset can discard the 503 before the client
 * reads it. Past this many, a refused connection is closed as soon as its answer is written.
 */
const MAX_LINGERING = 64;
const LINGER_MS = 1_000;
/** At most one log line about refused connections per this interval. */
const REFUSAL_LOG_MS = 10_000;

/**
 * Connections a listener accepts by default: the process's open-file limit less what the rest of the process
 * needs and what refused connections may hold for a moment, never fewer than 64. `upstreamSockets`:
 * connections to providers the process may hold besides.
 */
export function defaultMaxConnections(upstreamSockets: number, fdLimit = openFileLimit()): number {
  return Math.max(64, fdLimit - RESERVED_DESCRIPTORS - MAX_LINGERING - upstreamSockets);
}

/** The soft RLIMIT_NOFILE (Node raises it to the hard limit at start); 1024 where it cannot be read. */
export function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? 1_048_576 : Number(m[1]);
  } catch {
    // not Linux
  }
  return 1024;
}

export function listenerLimits(given: Partial<ListenerLimits>, upstreamSockets: number): ListenerLimits {
  const requestTimeoutMs = given.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return {
    // node:http refuses a headers timeout longer than the request timeout; the headers are part of the request.
    headersTimeoutMs: Math.min(given.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS, requestTimeoutMs),
    bodyIdleTimeoutMs: Math.min(given.bodyIdleTimeoutMs ?? DEFAULT_BODY_IDLE_TIMEOUT_MS, requestTimeoutMs),
    requestTimeoutMs,
    maxConnections: given.maxConnections ?? defaultMaxConnections(upstreamSockets),
  };
}

export interface BoundedServer {
  server: Server;
  limits: ListenerLimits;
  /** Client connections open now. */
  readonly connections: number;
  /** Connections answered 503 because `maxConnections` were open. */
  readonly refused: number;
  /** Serving HTTPS. */
  readonly tls: boolean;
  /**
   * Take a new certificate and key for the connections that arrive from now on; open connections keep the pair
   * they were made with, so nothing is dropped. Only on a TLS listener.
   */
  setTls(material: TlsMaterial): void;
  /**
   * Stop accepting, end connections with no request in flight at once, and destroy the rest after `graceMs`.
   * `beforeDrain` runs once no new connection can arrive (the control plane ends its live tails there).
   */
  close(graceMs: number, beforeDrain?: () => Promise<void>): Promise<void>;
}

/**
 * A node:http server (node:https with `tls`) with the listener limits in force. `who` names the process in the
 * refusal ("the gateway"). Unparsable requests get a bare 400 and requests that time out a 408, instead of a reset.
 */
export function createBoundedServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  limits: ListenerLimits,
  who: string,
  logger?: Pick<Logger, 'warn'>,
  tls?: TlsMaterial,
): BoundedServer {
  const refusedSockets = new WeakSet<Socket>();
  // TCP connections, counted against the cap from the moment they are accepted (a TLS handshake included).
  const tcp = new Set<Socket>();
  // Connections HTTP is spoken on (the TLS socket over HTTPS) and the requests in flight on each: on close,
  // those with none are ended at once.
  const open = new Map<Socket, number>();
  const lingering = new Set<Socket>();
  let refused = 0;
  let refusedSinceLog = 0;
  let lastRefusalLog = 0;
  const httpOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // node:http looks for expired headers and requests at this interval (30 s by default), so a short timeout
    // needs a shorter look.
    connectionsCheckingInterval: Math.min(5_000, Math.max(25, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
  };
  const serve = (req: IncomingMessage, res: ServerResponse) => {
      // A refused connection has had its answer: a request on it is read and dropped, never served.
      if (refusedSockets.has(req.socket)) {
        req.resume();
        return;
      }
      handler(req, res);
  };
  const server: Server = tls
    ? // A handshake is part of the request line's time: the TLS default of 120 s would let idle handshakes hold
      // connections well past --headers-timeout.
      (createHttpsServer({ ...httpOptions, cert: tls.cert, key: tls.key, handshakeTimeout: limits.headersTimeoutMs }, serve) as unknown as Server)
    : createServer(httpOptions, serve);
  const refuse = (socket: Socket) => {
    refused++;
    refusedSinceLog++;
    refusedSockets.add(socket);
    socket.on('error', () => undefined);
    if (tls) {
      // Nothing can be said before the handshake that a TLS client would read: the connection is closed, which
      // the SDKs retry like the 503.
      socket.destroy();
    } else if (lingering.size >= MAX_LINGERING) {
      socket.end(refusal(who, limits.maxConnections));
      socket.destroySoon();
    } else {
      socket.end(refusal(who, limits.maxConnections));
      lingering.add(socket);
      const timer = setTimeout(() => socket.destroy(), LINGER_MS);
      socket.once('close', () => {
        clearTimeout(timer);
        lingering.delete(socket);
      });
    }
    const now = Date.now();
    if (logger && now - lastRefusalLog >= REFUSAL_LOG_MS) {
      logger.warn({ refused: refusedSinceLog, max_connections: limits.maxConnections }, 'connection cap reached: refusing new connections with 503 (--max-connections)');
      lastRefusalLog = now;
      refusedSinceLog = 0;
    }
  };
  const track = (socket: Socket) => {
    open.set(socket, 0);
    socket.once('close', () => open.delete(socket));
  };
  // Before node:http's (and node:tls's) own listener, so a connection over the cap is answered before anything
  // reads from it.
  server.prependListener('connection', (socket: Socket) => {
    if (tcp.size >= limits.maxConnections) {
      refuse(socket);
      return;
    }
    tcp.add(socket);
    socket.once('close', () => tcp.delete(socket));
    if (!tls) track(socket);
  });
  if (tls) server.prependListener('secureConnection', track);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const s = req.socket;
    if (!open.has(s)) return;
    open.set(s, open.get(s)! + 1);
    res.once('close', () => {
      if (open.has(s)) open.set(s, Math.max(0, open.get(s)! - 1));
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket as Socket));

  let closing: Promise<void> | undefined;
  return {
    server,
    limits,
    get connections() {
      return tcp.size;
    },
    get refused() {
      return refused;
    },
    tls: tls !== undefined,
    setTls(material) {
      if (!tls) throw new Error('this listener serves plain HTTP; start it with a certificate to serve HTTPS');
      (server as unknown as import('node:tls').Server).setSecureContext({ cert: material.cert, key: material.key });
    },
    close(graceMs, beforeDrain) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        await beforeDrain?.();
        // closeIdleConnections() skips connections that never sent a request, which clients open ahead of time.
        server.closeIdleConnections();
        for (const [s, active] of open) if (active === 0) s.destroy();
        for (const s of lingering) s.destroy();
        const timer = setTimeout(() => {
          for (const s of open.keys()) s.destroy();
          // Connections still in their TLS handshake have no HTTP socket yet.
          for (const s of tcp) s.destroy();
        }, graceMs);
        await closed;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}

/**
 * node:http's parse errors and timeouts. A request whose handler is running (its body timed out) may already
 * have a response under way: then the connection can only be cut.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable || responseStarted(socket)) {
    socket.destroy();
    return;
  }
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
  socket.write(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  socket.destroySoon();
}

/** node:http keeps the response being written on its socket; its headers may be out already. */
function responseStarted(socket: Socket): boolean {
  const res = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  return !!res && res.headersSent;
}

/**
 * 503 in a shape both SDK families read: OpenAI clients take `error.message` and `error.code`, Anthropic
 * clients `error.type`. Written before the request is read, so the API family is not known yet.
 */
function refusal(who: string, max: number): string {
  const body = JSON.stringify({
    type: 'error',
    error: { type: 'overloaded_error', code: 'too_many_connections', message: `${who} has ${max} connections open, its limit (--max-connections); retry shortly` },
  });
  return (
    'HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: application/json\r\nretry-after: 1\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}
