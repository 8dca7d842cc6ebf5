import { connect } from 'node:net';
import pg from 'pg';

/**
 * PostgreSQL and Redis for the tests that need them. Reachable: the tests use them. Absent on a developer's
 * machine: those tests are skipped, with one line naming the service and how to start it. Under CI (`CI` set,
 * as CI systems and .ci/run do) an absent service fails the file instead, so CI always runs every test.
 */

export const PG_URL = process.env.KEEPTRUSTS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.KEEPTRUSTS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `CI=true` (or any value but `false`/`0`) makes the services required. */
export const SERVICES_REQUIRED = Boolean(process.env.CI) && !['false', '0'].includes(process.env.CI!.toLowerCase());

const PROBE_MS = 2_000;

interface ServiceInfo {
  name: string;
  url: string;
  variable: string;
  start: string;
}

const POSTGRES: ServiceInfo = {
  name: 'PostgreSQL',
  url: PG_URL,
  variable: 'KEEPTRUSTS_TEST_DATABASE_URL',
  start: 'docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16',
};
const REDIS: ServiceInfo = { name: 'Redis', url: REDIS_URL, variable: 'KEEPTRUSTS_TEST_REDIS_URL', start: 'docker run -d -p 6379:6379 redis:7' };

/** Host and port only: a test URL may carry a password. */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith('redis') ? '6379' : '5432')}${u.pathname.length > 1 ? u.pathname : ''}`;
  } catch {
    return '(unreadable URL)';
  }
}

/** The one line a skipped file prints, or the error a required service raises. */
export function absenceMessage(service: ServiceInfo, why: string, required: boolean): string {
  const head = `${service.name} is not reachable at ${where(service.url)} (${why})`;
  return required
    ? `${head}, and CI is set, which makes it required. Start it with: ${service.start} (or point ${service.variable} at one)`
    : `skipping the tests that need ${service.name}: ${head}. Start it with: ${service.start} (or set ${service.variable}); CI=true makes it required`;
}

async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: PROBE_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0]!.slice(0, 120);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A PING over a plain socket: no client library, nothing left connected. */
function probeRedis(): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(REDIS_URL);
  } catch {
    return Promise.resolve('not a URL');
  }
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    let answer = '';
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(PROBE_MS, () => done('timed out'));
    socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
      // +PONG, or -NOAUTH from a Redis that wants a password (the URL carries it; the client will use it).
      if (answer.includes('\r\n')) done(/^[+-]/.test(answer) ? null : 'not a Redis');
    });
  });
}

async function availability(service: ServiceInfo, probe: () => Promise<string | null>): Promise<boolean> {
  const why = await probe();
  if (why === null) return true;
  if (SERVICES_REQUIRED) throw new Error(absenceMessage(service, why, true));
  console.warn(absenceMessage(service, why, false));
  return false;
}

let postgres: Promise<boolean> | undefined;
let redis: Promise<boolean> | undefined;

/** Whether PostgreSQL is there (probed once per test file); throws under CI when it is not. */
export function postgresAvailable(): Promise<boolean> {
  return (postgres ??= availability(POSTGRES, probePostgres));
}

/** Whether Redis is there (probed once per test file); throws under CI when it is not. */
export function redisAvailable(): Promise<boolean> {
  return (redis ??= availability(REDIS, probeRedis));
}

/** Delete every key under `kt:<prefix>` (a test's own prefix), so no run leaves counters in a shared Redis. */
export async function deleteRedisKeys(prefix: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    await redis.connect();
    const pattern = `kt:${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
