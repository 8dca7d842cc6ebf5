/**
 * The trainer's package pool (scripts/injection-pool.ts): benign windows of ordinary repository files. The committed
 * weights are only reproducible if the pool is the same on every run, and its held-out figure only means something
 * if no held-out package ever reaches training.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isHeldOutPackage, poolWindows } from '../../scripts/injection-pool.js';

function fixture(): { root: string; python: string } {
  const root = mkdtempSync(join(tmpdir(), 'kt-pool-'));
  const write = (path: string, text: string) => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  };
  const prose = (n: number, seed: string) => Array.from({ length: n }, (_, i) => `Line ${i} of ${seed}: configure the client, then call start().`).join('\n');
  for (const name of ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', '@scope/iota', '@scope/kappa']) {
    write(join(root, 'node_modules', name, 'README.md'), prose(200, name));
    write(join(root, 'node_modules', name, 'lib', 'index.js'), prose(120, `${name} code`));
  }
  // Nested package, minified bundle, a binary file and a cache directory: the last three are never read.
  write(join(root, 'node_modules', 'alpha', 'node_modules', 'lambda', 'README.md'), prose(50, 'lambda'));
  write(join(root, 'node_modules', 'beta', 'dist', 'bundle.min.js'), 'x'.repeat(600) + ';'.repeat(4000));
  write(join(root, 'node_modules', 'beta', 'data.txt'), `abc\u0000${prose(40, 'binary')}`);
  write(join(root, 'node_modules', '.cache', 'x', 'README.md'), prose(50, 'cache'));
  const python = join(root, 'python3');
  write(join(python, 'json', '__init__.py'), prose(80, 'json'));
  write(join(python, 'textwrap.py'), prose(80, 'textwrap'));
  return { root, python };
}

describe('the injection trainer’s package pool', () => {
  const { root, python } = fixture();
  const options = { window: 2048, perFile: 3, perPackage: 4, pythonDir: python };

  it('is the same on every run, in the same order', () => {
    expect(poolWindows(root, options)).toEqual(poolWindows(root, options));
  });

  it('cuts windows of the runtime’s size, caps them per file and per package, and skips bundles, binaries and caches', () => {
    const pool = poolWindows(root, options);
    expect(pool.length).toBeGreaterThan(10);
    for (const w of pool) expect(w.text.length).toBeLessThanOrEqual(2048);
    const perPackage = new Map<string, number>();
    const perFile = new Map<string, number>();
    for (const w of pool) {
      perPackage.set(w.package, (perPackage.get(w.package) ?? 0) + 1);
      perFile.set(w.file, (perFile.get(w.file) ?? 0) + 1);
    }
    for (const n of perPackage.values()) expect(n).toBeLessThanOrEqual(4);
    for (const n of perFile.values()) expect(n).toBeLessThanOrEqual(3);
    expect([...perPackage.keys()]).toEqual(expect.arrayContaining(['alpha', 'lambda', '@scope/iota', 'python:json', 'python:textwrap']));
    expect(pool.some((w) => /bundle\.min|data\.txt|\.cache/.test(w.file))).toBe(false);
  });

  it('holds out about one package in five, by name alone', () => {
    const names = Array.from({ length: 2000 }, (_, i) => `package-${i}`);
    const held = names.filter(isHeldOutPackage).length / names.length;
    expect(held).toBeGreaterThan(0.16);
    expect(held).toBeLessThan(0.24);
    for (const n of names.slice(0, 50)) expect(isHeldOutPackage(n)).toBe(isHeldOutPackage(n));
  });
});
