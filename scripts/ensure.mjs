#!/usr/bin/env node
// Makes `npm start` and `npm test` work as the first command after `git clone`: installs the dependencies from
// the lockfile when they are missing or older than it, and builds when the build is missing or older than its
// sources, saying so in one line each; otherwise it returns at once. Plain Node with no dependencies, since it
// runs before they exist.
//
//   node scripts/ensure.mjs           install and build if needed
//   node scripts/ensure.mjs --stamp   record that the build is current (the end of `npm run build`)
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LOCK = join(ROOT, 'package-lock.json');
const INSTALL_STAMP = join(ROOT, 'node_modules', '.keeptrusts-install');
const BUILD_STAMP = join(ROOT, 'dist', '.keeptrusts-build');
/** What the build reads: a change in any of these makes the build stale. */
const BUILD_INPUTS = ['src', 'console', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json', 'package.json'];
const HEARTBEAT_MS = 30_000;

const say = (line) => process.stderr.write(`[keeptrusts] ${line}\n`);

function lockDigest() {
  return createHash('sha256').update(readFileSync(LOCK)).digest('hex');
}

function installIsCurrent() {
  if (!existsSync(join(ROOT, 'node_modules'))) return false;
  if (existsSync(INSTALL_STAMP)) return readFileSync(INSTALL_STAMP, 'utf8').trim() === lockDigest();
  // Installed by hand (`npm ci`): npm's own record of the tree is newer than the lockfile it came from.
  const hidden = join(ROOT, 'node_modules', '.package-lock.json');
  if (existsSync(hidden) && statSync(hidden).mtimeMs >= statSync(LOCK).mtimeMs) {
    writeFileSync(INSTALL_STAMP, `${lockDigest()}\n`);
    return true;
  }
  return false;
}

/** The newest modification time among the build's inputs (dependency folders and build output left out). */
function newestInput() {
  let newest = 0;
  const visit = (path) => {
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) if (name !== 'node_modules' && name !== 'dist') visit(join(path, name));
    } else if (st.mtimeMs > newest) newest = st.mtimeMs;
  };
  for (const input of BUILD_INPUTS) if (existsSync(join(ROOT, input))) visit(join(ROOT, input));
  return newest;
}

function buildIsCurrent() {
  return existsSync(BUILD_STAMP) && existsSync(join(ROOT, 'dist', 'cli', 'main.js')) && statSync(BUILD_STAMP).mtimeMs >= newestInput();
}

/** Runs a command with its output shown, and a line every half minute so a long silent step is visibly alive. */
function run(what, command, args, env = {}) {
  const started = Date.now();
  const beat = setInterval(() => say(`still ${what} (${Math.round((Date.now() - started) / 1000)} s)…`), HEARTBEAT_MS);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearInterval(beat);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} ${signal ? `was stopped by ${signal}` : `exited with ${code}`}`));
    });
  });
}

async function main() {
  if (process.argv.includes('--stamp')) {
    writeFileSync(BUILD_STAMP, `${new Date().toISOString()}\n`);
    return;
  }
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  if (!installIsCurrent()) {
    const modules = join(ROOT, 'node_modules');
    if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
      // npm ci empties node_modules first: through a link it would wipe another checkout's install.
      say(`node_modules links to ${realpathSync(modules)}, which was installed from another package-lock.json: not reinstalling it; run npm ci there, or remove the link`);
      process.exit(1);
    }
    say(existsSync(join(ROOT, 'node_modules')) ? 'package-lock.json changed since the last install: installing from it (npm ci)' : 'first run: installing dependencies from package-lock.json (npm ci)');
    say('better-sqlite3 (the embedded event store) compiles from source when its prebuilt binary cannot be downloaded: that step takes a few minutes on a small machine, and its compiler lines show below');
    // --foreground-scripts: the native build prints as it goes instead of minutes of silence. npm ci also runs
    // `prepare`, which builds.
    await run('installing', npm, ['ci', '--no-audit', '--no-fund', '--foreground-scripts']);
    writeFileSync(INSTALL_STAMP, `${lockDigest()}\n`);
  }
  if (!buildIsCurrent()) {
    say(existsSync(join(ROOT, 'dist')) ? 'sources changed since the last build: building (npm run build)' : 'building (npm run build)');
    await run('building', npm, ['run', 'build']);
  }
}

main().catch((err) => {
  say(`could not get ready: ${err.message}`);
  process.exit(1);
});
