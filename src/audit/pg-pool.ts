import { Pool, type PoolClient } from 'pg';

/**
 * Every PostgreSQL connection keeptrusts holds goes through this module, so none is ever without an 'error'
 * listener. pg emits 'error' on a connection the server resets; on an idle pooled connection the pool turns
 * that into a pool 'error', but a connection checked out with `pool.connect()` has no listener of its own,
 * and an unheard 'error' event ends the process (a gateway in either fail mode, or `kt server`).
 */

export interface PgPoolOptions {
  /** Connections at most (pg's default is 10). */
  max?: number;
}

export function createPgPool(connectionString: string, opts: PgPoolOptions = {}): Pool {
  const pool = new Pool({
    connectionString,
    application_name: 'keeptrusts',
    ...(opts.max !== undefined ? { max: opts.max } : {}),
    // A server that vanished without a reset (a dead host, a dropped route) is noticed by TCP keep-alive
    // within a minute or so, not after the operating system's default of two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Opening a connection, or waiting for a free one, fails after this instead of holding a request for ever.
    connectionTimeoutMillis: 15_000,
  });
  // An idle connection that the server drops: the pool has already discarded it, and the next query opens a
  // new one. Nothing is waiting on it, so there is nothing to tell.
  pool.on('error', () => {});
  return pool;
}

/**
 * Run `fn` on a checked-out connection that listens for 'error' for as long as it is checked out. A connection
 * that failed, or that `fn` marks as unusable with `discard`, is closed on release instead of going back to the
 * pool; its queries have already failed with the error, which is what `fn`'s caller sees.
 */
export async function withPgClient<T>(pool: Pool, fn: (client: PoolClient, discard: (err: Error) => void) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    return await fn(client, (err) => (broken ??= err));
  } finally {
    // release() puts the pool's own idle listener on first, so there is no moment without a listener.
    client.release(broken);
    client.off('error', onError);
  }
}

/** BEGIN, `fn`, COMMIT; ROLLBACK when `fn` or COMMIT fails. A connection that cannot roll back is discarded. */
export function pgTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return withPgClient(pool, async (client, discard) => {
    await client.query('BEGIN');
    try {
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // Returned to the pool in an open or aborted transaction, the connection would fail whoever gets it next.
      await client.query('ROLLBACK').catch((rollbackErr: unknown) => discard(rollbackErr instanceof Error ? rollbackErr : new Error('ROLLBACK failed')));
      throw err;
    }
  });
}
