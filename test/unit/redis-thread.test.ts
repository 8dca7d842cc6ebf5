import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetsSchema, rateLimitsSchema } from '../../src/config/schema.js';
import { RedisLimitEngine, type LimitScopeValues } from '../../src/usage/limits/index.js';
import { redactSecret } from '../../src/usage/limits/redis-protocol.js';
import { threadExecArgv } from '../../src/runtime/module-worker.js';
import { checkRedisUrl, RedisThread } from '../../src/usage/limits/redis-thread.js';
import { deleteRedisKeys, REDIS_URL, redisAvailable } from '../helpers/services.js';

/*
 * The Redis client of a RedisLimitEngine lives in a worker thread (src/usage/limits/redis-thread.ts). These
 * tests hold what the gateway relies on when that thread fails: waiting calls fail as backend errors (the fail
 * mode decides), the thread comes back, close() ends it, and nothing leaks the URL's password.
 */

const redisUp = await redisAvailable();
const RUN = `test-rthread-${randomBytes(4).toString('hex')}`;
const alice: LimitScopeValues = { developer: 'alice', repository: null, team: null, key: null };
const config = { budgets: budgetsSchema.parse([{ scope: 'global', limit_usd: 1, period: 'day', mode: 'hard' }]), rate_limits: rateLimitsSchema.parse([]) };
const threadOf = (e: RedisLimitEngine) => (e as unknown as { redis: RedisThread }).redis;

/** A "Redis" that accepts connections and never answers: commands stay waiting. */
let silent: Server;
let silentUrl: string;
const sockets: Socket[] = [];
beforeAll(async () => {
  silent = createServer((s) => sockets.push(s.on('error', () => {})));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentUrl = `redis://127.0.0.1:${(silent.address() as { port: number }).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  if (redisUp) await deleteRedisKeys(`${RUN}:`);
});

const SCRIPTS = { ktLimitsAdmit: 'return 1', ktLimitsSettle: 'return 1' };

describe('the Redis thread of a RedisLimitEngine', () => {
  it('a crash fails the waiting calls as backend errors (block: 503, settle: error), and close() resolves', async () => {
    const errors: string[] = [];
    const engine = new RedisLimitEngine(config, { url: silentUrl, commandTimeoutMs: 10_000, onBackendError: 'block', onError: (e, op) => errors.push(`${op}: ${(e as Error).message}`) });
    const admitting = engine.admit(alice, 0);
    const settling = engine.settle({ id: 'l1', who: alice, estimatedTokens: 0, admittedAtMs: Date.now() }, { costUsd: 0.5, tokens: 1 });
    threadOf(engine).crashForTests(300);
    const started = Date.now();
    const a = await admitting;
    expect(Date.now() - started).toBeLessThan(5_000); // failed by the exit, not by a timeout
    expect(a).toMatchObject({ ok: false, status: 503, code: 'limits_unavailable', limit: 'backend' });
    expect((await settling).error).toMatch(/^limits backend unavailable: the Redis thread exited \(code 1: .*crash/);
    expect(errors.sort()).toEqual([expect.stringMatching(/^admit: the Redis thread exited/), expect.stringMatching(/^settle: the Redis thread exited/)]);
    // Right after the exit, calls fail at once with the same reason rather than starting threads in a loop.
    const again = await engine.admit(alice, 0);
    expect(again).toMatchObject({ ok: false, code: 'limits_unavailable' });
    expect(errors.at(-1)).toMatch(/^admit: the Redis thread exited/);
    await engine.close();
  });

  it('fail mode allow: a crash admits unchecked with the limits_unavailable flag', async () => {
    const engine = new RedisLimitEngine(config, { url: silentUrl, commandTimeoutMs: 10_000, onBackendError: 'allow' });
    const admitting = engine.admit(alice, 0);
    threadOf(engine).crashForTests(300);
    const a = await admitting;
    expect(a.ok && a.flags).toEqual(['limits_unavailable']);
    await engine.close();
  });

  it.skipIf(!redisUp)('comes back after a crash: the next call a second later starts a new thread', async () => {
    const engine = new RedisLimitEngine(config, { url: REDIS_URL, keyPrefix: `${RUN}:` });
    expect((await engine.admit(alice, 0)).ok).toBe(true);
    threadOf(engine).crashForTests(0);
    await new Promise((r) => setTimeout(r, 1_300));
    const a = await engine.admit(alice, 0);
    expect(a).toMatchObject({ ok: true, flags: [] });
    await engine.close();
  });

  it.skipIf(!redisUp)('close() answers the calls made before it, then later calls fail as backend errors', async () => {
    const engine = new RedisLimitEngine(config, { url: REDIS_URL, keyPrefix: `${RUN}:` });
    const before = engine.admit(alice, 0);
    const closing = engine.close();
    expect((await before).ok).toBe(true);
    await closing;
    expect(await engine.admit(alice, 0)).toMatchObject({ ok: false, code: 'limits_unavailable' });
    await engine.close(); // twice is fine
  });

  it('close() resolves while a command is waiting on a Redis that does not answer', async () => {
    const engine = new RedisLimitEngine(config, { url: silentUrl, commandTimeoutMs: 10_000, onBackendError: 'block' });
    const admitting = engine.admit(alice, 0);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await engine.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await admitting).toMatchObject({ ok: false, code: 'limits_unavailable' });
  });

  it('bounds the calls in flight, and fails a call the thread does not answer in time', async () => {
    const thread = new RedisThread({ url: silentUrl, options: { commandTimeout: 60_000 }, scripts: SCRIPTS, callTimeoutMs: 400, maxInFlight: 2 });
    const first = thread.hget('a', 'b');
    const second = thread.hget('c', 'd');
    await expect(thread.hget('e', 'f')).rejects.toThrow('too many Redis calls waiting (2)');
    await expect(first).rejects.toThrow('the Redis thread did not answer in time');
    await expect(second).rejects.toThrow('the Redis thread did not answer in time');
    await thread.close();
  });

  it('the thread gets the Node options of the process, not those about its entry (-e, --input-type)', () => {
    expect(threadExecArgv(['--input-type=module', '-e', 'code', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(threadExecArgv(['--input-type', 'module', '--eval', 'code', '--import', 'tsx', '-p', 'x'])).toEqual(['--import', 'tsx']);
  });

  it('a URL ioredis would refuse fails at construction (the gateway does not start), without repeating it', () => {
    expect(() => new RedisLimitEngine(config, { url: 'redis://kt:s3cret@[::1' })).toThrow(/^Invalid URL$/);
    expect(() => checkRedisUrl('foo:bar//x')).toThrow('Invalid URL');
    for (const ok of ['redis://127.0.0.1:6379', 'rediss://u:p@h:6380/2', '//h:1', '/tmp/redis.sock?db=2', '6379', 'localhost:6379']) expect(() => checkRedisUrl(ok)).not.toThrow();
  });

  it("never repeats the URL's password in an error", () => {
    const url = 'redis://kt:s3cr%2Ft@redis.internal:6379/0';
    expect(redactSecret('WRONGPASS for s3cr/t and s3cr%2Ft', url)).toBe('WRONGPASS for *** and ***');
    expect(redactSecret('connect ECONNREFUSED', 'redis://127.0.0.1:1')).toBe('connect ECONNREFUSED');
  });
});
