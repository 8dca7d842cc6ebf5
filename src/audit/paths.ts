import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';

/** `--data-dir`, else KEEPTRUSTS_DATA_DIR, else ~/.keeptrusts. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.KEEPTRUSTS_DATA_DIR ?? join(homedir(), '.keeptrusts'));
}

export function eventsDbFile(dataDir: string): string {
  return join(dataDir, 'events.db');
}

/** A small secret kept in the data dir and created on first use (salts, ids). */
function persistent(dataDir: string, name: string, make: () => string): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    writeFileSync(file, `${make()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readFileSync(file, 'utf8').trim();
}

/** The salt for value hashes in events and hash markers: stable per installation, so equal values correlate. */
export function auditSalt(dataDir: string): string {
  return persistent(dataDir, 'audit-salt', () => randomBytes(32).toString('hex'));
}

/** This gateway's name in events and on the control plane: `--gateway-id`, else one made on first start. */
export function gatewayId(dataDir: string, flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = flag ?? env.KEEPTRUSTS_GATEWAY_ID;
  if (given) return given;
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 40) || 'gateway';
  return persistent(dataDir, 'gateway-id', () => `${host}-${randomBytes(3).toString('hex')}`);
}

/** The local console's sign-in token (kt gateway run): kept in the data dir, readable by its owner only. */
export function consoleToken(dataDir: string): string {
  return persistent(dataDir, 'console-token', () => `ktgw_${randomBytes(24).toString('base64url')}`);
}
