/** Messages between redis-thread.ts (the gateway's thread) and redis-worker.ts (the thread owning ioredis). */

export interface RedisWorkerData {
  url: string;
  /** ioredis options: plain values only (they are copied into the thread). */
  options: Record<string, string | number | boolean>;
  /** Lua scripts by command name (ioredis defineCommand: EVALSHA, EVAL when Redis does not know it yet). */
  scripts: Record<string, string>;
}

export type RedisRequest = { id: number } & (
  | { op: 'script'; args: [name: string, keys: string[], args: Array<string | number>] }
  | { op: 'hget'; args: [key: string, field: string] }
  | { op: 'scanField'; args: [pattern: string, field: string] }
  | { op: 'ping'; args: [] }
  | { op: 'close'; args: [] }
  | { op: 'crash'; args: [afterMs: number] }
);

export type RedisResponse = { id: number; value: unknown; error?: undefined } | { id: number; error: { name: string; message: string } };

/** The message with the URL's password (if any) replaced: errors reach the gateway's log. */
export function redactSecret(message: string, url: string): string {
  let raw = '';
  try {
    raw = new URL(url).password;
  } catch {
    return message;
  }
  if (!raw) return message;
  let out = message.split(raw).join('***');
  try {
    out = out.split(decodeURIComponent(raw)).join('***');
  } catch {
    // a malformed escape: the raw form is redacted already
  }
  return out;
}
