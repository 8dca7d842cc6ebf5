import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (PostgreSQL in the tests) that a test can break on purpose: reset every
 * connection, refuse new ones, or hold a connection at a chosen moment of its conversation first.
 */
export interface TcpProxy {
  port: number;
  /** Destroy every connection through the proxy, both sides, as a database restart or a dropped route does. */
  reset(): void;
  /**
   * On the next connection whose client sends `marker`: that chunk and everything after it are held back, so the
   * server never sees them. Resolves once that has happened; the connection then waits for reset().
   */
  holdRequest(marker: string): Promise<void>;
  /**
   * On the next connection whose client sends `marker`: the chunk goes through, but the server's answer to it
   * (and everything after) is held back. Resolves once the server has answered; the client never hears it.
   */
  holdReply(marker: string): Promise<void>;
  /** While down, new connections are closed as soon as they are accepted. */
  setDown(down: boolean): void;
  /** Connections through the proxy now. */
  readonly open: number;
  close(): Promise<void>;
}

interface Hold {
  marker: Buffer;
  kind: 'request' | 'reply';
  done: () => void;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; server: Socket }>();
  let hold: Hold | undefined;
  let down = false;
  const proxy = createServer((client) => {
    client.on('error', () => undefined);
    if (down) {
      client.destroy();
      return;
    }
    const server = connect(target.port, target.host);
    server.on('error', () => undefined);
    const pair = { client, server };
    pairs.add(pair);
    let requestHeld = false;
    let replyHeld = false;
    let onReplyHeld: (() => void) | undefined;
    client.on('data', (chunk: Buffer) => {
      if (requestHeld) return;
      if (hold && chunk.includes(hold.marker)) {
        const h = hold;
        hold = undefined;
        if (h.kind === 'request') {
          requestHeld = true;
          h.done();
          return;
        }
        replyHeld = true;
        onReplyHeld = h.done;
      }
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (replyHeld) {
        onReplyHeld?.();
        onReplyHeld = undefined;
        return;
      }
      client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', end);
    server.on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as { port: number }).port;
  const holdOn = (kind: Hold['kind'], marker: string) =>
    new Promise<void>((resolve) => {
      hold = { kind, marker: Buffer.from(marker), done: resolve };
    });
  const reset = () => {
    hold = undefined;
    for (const { client, server } of pairs) {
      client.resetAndDestroy();
      server.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    port,
    reset,
    holdRequest: (marker) => holdOn('request', marker),
    holdReply: (marker) => holdOn('reply', marker),
    setDown(value) {
      down = value;
    },
    get open() {
      return pairs.size;
    },
    close() {
      reset();
      return new Promise((resolve) => proxy.close(() => resolve()));
    },
  };
}
