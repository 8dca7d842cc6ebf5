import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * A long-lived network client without an 'error' listener ends the process when its peer resets the
 * connection. PostgreSQL pools and checkouts go through src/audit/pg-pool.ts, which always listens; these
 * checks keep new code from opening a pool or checking out a connection any other way.
 */

const SRC = join(import.meta.dirname, '../../src');

function sources(dir: string): Array<{ file: string; text: string }> {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return e.name.endsWith('.ts') ? [{ file: relative(SRC, path), text: readFileSync(path, 'utf8') }] : [];
  });
}

const all = sources(SRC);
const usesPg = (text: string) => /from 'pg'|import\('pg'\)/.test(text);

describe('network clients always have an error listener', () => {
  it('PostgreSQL pools are made by createPgPool only', () => {
    const offenders = all.filter((s) => s.file !== join('audit', 'pg-pool.ts') && usesPg(s.text) && /new Pool\(/.test(s.text)).map((s) => s.file);
    expect(offenders).toEqual([]);
  });

  it('connections are checked out of a pool by withPgClient only', () => {
    const offenders = all.filter((s) => s.file !== join('audit', 'pg-pool.ts') && /\b(?:pool|db)\.connect\(/.test(s.text)).map((s) => s.file);
    expect(offenders).toEqual([]);
  });

  it('a pg Client or an ioredis client made here listens for errors', () => {
    const offenders = all.filter((s) => /new (?:Client|Redis)\(/.test(s.text) && (usesPg(s.text) || /from 'ioredis'/.test(s.text)) && !/\.on\('error'/.test(s.text)).map((s) => s.file);
    expect(offenders).toEqual([]);
  });
});
