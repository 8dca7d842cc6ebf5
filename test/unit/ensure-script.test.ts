import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'ensure.mjs');

describe('scripts/ensure.mjs (what npm start and npm test run first)', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('never reinstalls a node_modules that is a link to another checkout (npm ci would empty it)', () => {
    dir = mkdtempSync(join(tmpdir(), 'kt-ensure-'));
    const checkout = join(dir, 'checkout');
    const shared = join(dir, 'shared-install');
    mkdirSync(join(checkout, 'scripts'), { recursive: true });
    mkdirSync(join(shared, 'some-package'), { recursive: true });
    copyFileSync(SCRIPT, join(checkout, 'scripts', 'ensure.mjs'));
    writeFileSync(join(checkout, 'package-lock.json'), '{"lockfileVersion":3}\n');
    symlinkSync(shared, join(checkout, 'node_modules'));

    const r = spawnSync(process.execPath, [join(checkout, 'scripts', 'ensure.mjs')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('node_modules links to');
    expect(r.stderr).toContain('not reinstalling it');
    expect(readdirSync(shared)).toEqual(['some-package']);
  });
});
