import { InvalidArgumentError } from 'commander';
import { MIN_METRICS_TOKEN_LENGTH } from '../gateway/operator-auth.js';
import { accessRules } from '../gateway/request-guard.js';

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
