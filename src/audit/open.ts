import { eventsDbFile } from './paths.js';
import { SqliteEventStore } from './sqlite-store.js';
import type { EventStore } from './store.js';

export interface StoreLocation {
  dataDir: string;
  /** PostgreSQL URL (`--database-url` or KEEPTRUSTS_DATABASE_URL); the embedded SQLite file otherwise. */
  databaseUrl?: string;
  readonly?: boolean;
  /** SQLite: run WAL checkpoints on their own thread (default for writable stores). */
  writerThread?: boolean;
}

/** The store a gateway writes to, or `kt events` reads from. PostgreSQL is loaded only when asked for. */
export async function openEventStore(loc: StoreLocation): Promise<EventStore> {
  if (loc.databaseUrl) {
    const { PostgresEventStore } = await import('./postgres-store.js');
    const { url, schema } = splitSchema(loc.databaseUrl);
    return PostgresEventStore.connect(url, schema ? { schema } : {});
  }
  return new SqliteEventStore(eventsDbFile(loc.dataDir), { readonly: loc.readonly ?? false, backgroundCheckpoints: !loc.readonly && loc.writerThread !== false });
}

export function databaseUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return flag ?? (env.KEEPTRUSTS_DATABASE_URL || undefined);
}

/** `?schema=NAME` on a database URL picks the PostgreSQL schema (default `keeptrusts`); pg itself does not know it. */
export function splitSchema(databaseUrl: string): { url: string; schema?: string } {
  let u: URL;
  try {
    u = new URL(databaseUrl);
  } catch {
    return { url: databaseUrl };
  }
  const schema = u.searchParams.get('schema') ?? undefined;
  if (schema === undefined) return { url: databaseUrl };
  u.searchParams.delete('schema');
  return { url: u.toString(), schema };
}
