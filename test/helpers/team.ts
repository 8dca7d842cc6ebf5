import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { KT, ROOT } from './processes.js';

/**
 * The processes of a team deployment on one machine (test/team/scale-out.test.ts): `kt gateway run` replicas
 * and `kt server`, each started from the built CLI with an environment of its own, and a client that talks to
 * them the way coding agents do, recording what it saw.
 */

/** This environment without KEEPTRUSTS_* (a developer's own settings must not leak into the processes). */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_')) env[k] = v;
  return { ...env, ...extra };
}

export interface KtProcess {
  child: ChildProcess;
  /** The last 16 KB of its log, for failure messages. */
  log(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `kt ARGS` and resolve once its log says it listens; reject with its log if it exits first or takes over 60 s (a loaded CI machine). */
export function startKt(args: string[], env: NodeJS.ProcessEnv): Promise<KtProcess> {
  const child = spawn(process.execPath, [KT, ...args, '--log-format', 'json'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kt ${args[0]} did not start in 60 s: ${log}`));
    }, 60_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      const before = log.includes('listening on');
      log = (log + d).slice(-16_000);
      if (!before && log.includes('listening on')) {
        clearTimeout(timer);
        resolve({ child, log: () => log, exited });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`kt ${args[0]} exited (${code ?? signal}) before listening: ${log}`));
    });
  });
}

export type CallKind = 'chat' | 'messages' | 'responses';

export interface CallSpec {
  id: string;
  key: string;
  kind: CallKind;
  stream: boolean;
  repository?: string;
  /** Called once the first bytes of the body arrived (the request is in flight on a replica). */
  onFirstBytes?: (served: string | undefined) => void;
}

export interface CallResult {
  id: string;
  spec: CallSpec;
  /** Status of the response, or null when no response came (connection refused or reset before headers). */
  status: number | null;
  /** The replica HAProxy sent it to (its x-served-by header). */
  served: string | undefined;
  /** The whole body arrived and, for a 200 stream, it ended as the API ends streams. */
  complete: boolean;
  /** An error code from the body (budget_exceeded, rate_limited, …). */
  code: string | undefined;
  /** What went wrong on the client's side (socket closed, stream ended early). */
  error: string | undefined;
  body: string;
}

/** One request as an agent sends it through the load balancer. Never throws: a failure is in the result. */
export async function call(base: string, spec: CallSpec): Promise<CallResult> {
  const path = { chat: '/v1/chat/completions', messages: '/v1/messages', responses: '/v1/responses' }[spec.kind];
  const body =
    spec.kind === 'chat'
      ? { model: 'gpt-4o', stream: spec.stream, messages: [{ role: 'user', content: `request ${spec.id}: refactor the parser` }] }
      : spec.kind === 'responses'
        ? { model: 'gpt-4o', stream: spec.stream, input: `request ${spec.id}: explain the build` }
        : { model: 'claude-sonnet-4-20250514', max_tokens: 256, stream: spec.stream, messages: [{ role: 'user', content: `request ${spec.id}: write the tests` }] };
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': spec.id };
  if (spec.kind !== 'messages') headers.authorization = `Bearer ${spec.key}`;
  else Object.assign(headers, { 'x-api-key': spec.key, 'anthropic-version': '2023-06-01' });
  if (spec.repository) headers['x-keeptrusts-repository'] = spec.repository;
  const result: CallResult = { id: spec.id, spec, status: null, served: undefined, complete: false, code: undefined, error: undefined, body: '' };
  try {
    const res = await request(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body), headersTimeout: 60_000, bodyTimeout: 60_000 });
    result.status = res.statusCode;
    result.served = typeof res.headers['x-served-by'] === 'string' ? res.headers['x-served-by'] : undefined;
    let first = true;
    for await (const chunk of res.body) {
      if (first) spec.onFirstBytes?.(result.served);
      first = false;
      result.body += (chunk as Buffer).toString('utf8');
    }
    if (res.statusCode === 200 && spec.stream) {
      const end = { chat: 'data: [DONE]', messages: 'event: message_stop', responses: 'event: response.completed' }[spec.kind];
      result.complete = result.body.includes(end);
      if (!result.complete) result.error = 'the stream ended without its final event';
    } else {
      try {
        const json = JSON.parse(result.body) as { error?: { code?: string; type?: string } };
        result.code = json.error?.code ?? undefined;
        result.complete = true;
      } catch {
        result.error = 'the body is not JSON';
      }
    }
  } catch (err) {
    result.error = `${(err as Error).name}: ${(err as Error).message}`;
  }
  return result;
}

/** Run `fn` over `items` with at most `parallel` at a time; results in item order. */
export async function pool<T, R>(items: readonly T[], parallel: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}
