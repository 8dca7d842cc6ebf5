import { InvalidArgumentError, Option } from 'commander';
import { MIN_METRICS_TOKEN_LENGTH } from '../gateway/operator-auth.js';
import { accessRules } from '../gateway/request-guard.js';
import { parseDuration } from './time-range.js';

/** Repeatable option collector: `--policy-config a --policy-config b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name} must be a positive whole number.`);
    }
    return n;
  };
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1000, kib: 1024, mb: 1000 ** 2, mib: 1024 ** 2, gb: 1000 ** 3, gib: 1024 ** 3 };

/** `33554432`, `32MiB`, `50mb`: a byte count with an optional unit. */
export function byteSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new InvalidArgumentError('expected a size such as 33554432, 32MiB or 50MB.');
  const n = Math.floor(Number(m[1]) * unit);
  if (n < 1) throw new InvalidArgumentError('must be at least 1 byte.');
  return n;
}

export function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    if (!(allowed as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}.`);
    return value as T;
  };
}

/**
 * `--allowed-hosts a,b --allowed-hosts c` (and the env var, comma-separated): each entry checked at parse time so
 * a typo stops the start with the entry named, instead of refusing every request later.
 */
export function hostList(value: string, previous: string[] | undefined): string[] {
  const entries = splitList(value);
  try {
    accessRules('127.0.0.1', { allowedHosts: entries });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [...(previous ?? []), ...entries];
}

export function originList(value: string, previous: string[] | undefined): string[] {
  const entries = splitList(value);
  try {
    accessRules('127.0.0.1', { allowedOrigins: entries });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return [...(previous ?? []), ...entries];
}

/** A comma-separated list (groups, domains, scopes); repeated flags add up. */
export function plainList(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...splitList(value)];
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function metricsToken(value: string): string {
  if (value.length < MIN_METRICS_TOKEN_LENGTH || /\s/.test(value)) {
    throw new InvalidArgumentError(`must be at least ${MIN_METRICS_TOKEN_LENGTH} characters without spaces (e.g. from: openssl rand -hex 24).`);
  }
  return value;
}

/** `30s`, `0.5s`, `5m`: a positive duration, in milliseconds. */
export function duration(name: string) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === null || ms < 1) throw new InvalidArgumentError(`${name} must be a duration such as 30s, 0.5s or 5m.`);
    return ms;
  };
}

/** `0`, `5s`, `1.5s`: a duration of zero or more, in milliseconds. */
export function nonNegativeDuration(name: string) {
  return (value: string): number => {
    const ms = value.trim() === '0' ? 0 : parseDuration(value);
    if (ms === null || ms < 0) throw new InvalidArgumentError(`${name} must be 0 or a duration such as 5s or 1.5s.`);
    return ms;
  };
}

/** The listener bounds, shared by `kt gateway run` and `kt server`; unset ones take the defaults in docs/cli.md. */
export function listenerOptions(): Option[] {
  return [
    new Option('--headers-timeout <duration>', 'a request line and its headers must arrive within this (default 30s)').argParser(duration('--headers-timeout')),
    new Option('--body-timeout <duration>', 'longest pause between two chunks of a request body (default 30s)').argParser(duration('--body-timeout')),
    new Option('--request-timeout <duration>', 'a whole request, headers and body, must arrive within this (default 5m)').argParser(duration('--request-timeout')),
    new Option('--max-connections <n>', 'client connections open at once; more are answered 503 (default: from the open-file limit)').argParser(positiveInt('--max-connections')),
  ];
}

export interface ListenerFlags {
  headersTimeout?: number;
  bodyTimeout?: number;
  requestTimeout?: number;
  maxConnections?: number;
}

/** The flags as ListenerLimits fields, leaving out the ones not given. */
export function listenerFlags(opts: ListenerFlags): { headersTimeoutMs?: number; bodyIdleTimeoutMs?: number; requestTimeoutMs?: number; maxConnections?: number } {
  return {
    ...(opts.headersTimeout !== undefined ? { headersTimeoutMs: opts.headersTimeout } : {}),
    ...(opts.bodyTimeout !== undefined ? { bodyIdleTimeoutMs: opts.bodyTimeout } : {}),
    ...(opts.requestTimeout !== undefined ? { requestTimeoutMs: opts.requestTimeout } : {}),
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
  };
}

/** HTTPS on the listener, shared by `kt gateway run` and `kt server`. */
export function tlsOptions(): Option[] {
  return [
    new Option('--tls-cert <file>', 'serve HTTPS with this certificate chain (PEM, server certificate first); re-read with --tls-key on SIGHUP').env('KEEPTRUSTS_TLS_CERT'),
    new Option('--tls-key <file>', 'the private key of --tls-cert (PEM, unencrypted)').env('KEEPTRUSTS_TLS_KEY'),
    new Option('--insecure-listen', 'serve plain HTTP on a --listen beyond loopback (only with a TLS-terminating proxy in front on a private network)'),
  ];
}

export interface TlsFlags {
  tlsCert?: string;
  tlsKey?: string;
  insecureListen?: boolean;
}
