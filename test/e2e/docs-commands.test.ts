import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { startFakeUpstream, type FakeUpstream } from '../../src/testing/fake-upstream.js';
import { checkAgainstTree, commandsByPath, extractDocCommands, helpExamples, sectionsNaming, words, type DocCommand } from '../helpers/doc-commands.js';
import { freePort, KT, ROOT } from '../helpers/processes.js';
import { makeTestPki } from '../helpers/tls.js';

/**
 * Docs as tests (issue 17): every command README.md, docs/*.md, examples/<name>/README.md and the --help texts
 * show is checked against the code. Each `kt` command and option they name must exist (and each value written
 * for an option with fixed choices must be one of them); every command and option of the CLI must be in
 * docs/cli.md; and every command in a code block runs here as the docs say, against a temporary data dir and
 * a gateway in front of the project's fake provider, or is listed below with the reason it cannot.
 */

const program = buildProgram();
const tree = commandsByPath(program);
const docs = extractDocCommands(ROOT);
const cliMd = readFileSync(join(ROOT, 'docs/cli.md'), 'utf8');

/** Documented `kt` text that is not a command on purpose. */
const NOT_COMMANDS = new Map([
  ['kt gatewya', 'the misspelt command cli.md uses to show the did-you-mean'],
  ['npx kt …', 'README: "npx kt … inside the project", a placeholder for any command'],
]);

/** Commands in code blocks that cannot run in a test, each with the reason. Anything else runs. */
const CANNOT_RUN: Array<{ match: RegExp; reason: string }> = [
  { match: /^export \w+=/, reason: "sets a variable in the reader's shell; the commands here get it from the test's environment" },
  { match: /^(aider|claude|codex)\b|^kt run\b.* -- (aider|claude|codex)\b/, reason: 'a real coding agent, not installed in tests (npm run e2e:clients drives Claude Code and Codex)' },
  { match: /^kt run\b.* -- npm test$/, reason: 'would run the whole test suite from inside it; kt run itself is tested in test/e2e/usage-cli.test.ts' },
  { match: /^docker run\b/, reason: 'starts a service container; test/helpers/services.ts probes PostgreSQL and Redis instead' },
  { match: /^npm test\b/, reason: 'the suite this test is part of' },
  { match: /^npm run build\b/, reason: 'npm test builds before any test runs; this test uses that build' },
  { match: /^npm run train:injection\b/, reason: 'rewrites the committed weights from ../shared/corpora (a minute of CPU); test/unit/injection-model.test.ts checks the committed ones score the dev split as recorded' },
  { match: /^npm run bench\b/, reason: 'minutes of load on two cores; bench/ is run on its own' },
  { match: /^(docker build|docker compose)\b/, reason: 'needs a container engine, which does not run here; test/unit/deploy-dockerfile.test.ts and deploy-compose.test.ts check the Dockerfile, the compose file and haproxy.cfg' },
  { match: /^(kubectl|helm)\b/, reason: 'needs a Kubernetes cluster; test/unit/deploy-helm.test.ts renders the chart and checks it' },
  { match: /^(openssl|mkdir|cd|cp|chmod)\b/, reason: "makes a deployment's certificates and files on the reader's machine; the tests make theirs (test/helpers/tls.ts)" },
  { match: /^npm run e2e:clients\b/, reason: 'installs Claude Code and Codex from npm (hundreds of MB) and runs them; a separate job, like the bench' },
  { match: /^npm run e2e:team\b/, reason: 'runs test/team/scale-out.test.ts, which npm test runs as well' },
];

/** Commands other than these programs must be listed in CANNOT_RUN: a new kind of command has to be classified. */
const RUNNABLE_PROGRAMS = /^(kt|npx kt|curl|npm start|npm run demo)\b/;

const runnable = docs.filter((d) => d.kind === 'shell' || d.kind === 'example');
const reasonNotRun = (text: string) => CANNOT_RUN.find((c) => c.match.test(text))?.reason;

describe('the commands and options the docs name', () => {
  it('exist, with values an option accepts', () => {
    const checked = [...docs, ...helpExamples(program)].filter((d) => !NOT_COMMANDS.has(d.text));
    expect(checked.length).toBeGreaterThan(200);
    const problems = checked.flatMap((d) => checkAgainstTree(d, tree, program)).map((p) => `${p.where}: ${p.text}\n    ${p.problem}`);
    expect(problems, problems.join('\n')).toEqual([]);
    for (const text of NOT_COMMANDS.keys()) expect(docs.some((d) => d.text === text), `NOT_COMMANDS lists "${text}", which the docs no longer show`).toBe(true);
  });

  it('every command, option and choice of the CLI is in docs/cli.md, in the section of its command', () => {
    const missing: string[] = [];
    for (const [path, cmd] of tree) {
      if (cmd.commands.length > 0 && path !== 'server') continue; // a group: its subcommands are checked
      // The command's own sections and those of the groups above it (`kt events` holds the source options).
      const parts = path.split(' ');
      const sections = parts.flatMap((_, i) => sectionsNaming(cliMd, parts.slice(0, i + 1).join(' '))).join('\n');
      if (!sections) {
        missing.push(`kt ${path}: no section in docs/cli.md`);
        continue;
      }
      for (const o of cmd.options) {
        if (!o.long || ['--help', '--version'].includes(o.long)) continue;
        if (!sections.includes(o.long)) missing.push(`kt ${path} ${o.long}: not in its section of docs/cli.md`);
        for (const choice of o.argChoices ?? []) {
          const listed = new RegExp(`\`${choice}\`|${o.long} [\\w|-]*\\b${choice}\\b|\\[${o.long} [\\w|-]*\\b${choice}\\b`).test(sections);
          if (!listed) missing.push(`kt ${path} ${o.long} ${choice}: choice not in its section of docs/cli.md`);
        }
      }
    }
    expect(missing, missing.join('\n')).toEqual([]);
  });

  it('every command in a code block either runs below or says why it cannot', () => {
    const unclassified = runnable.filter((d) => !RUNNABLE_PROGRAMS.test(d.text) && !reasonNotRun(d.text)).map((d) => `${d.file}:${d.line}: ${d.text}`);
    expect(unclassified, `classify these in CANNOT_RUN (with the reason) or make them runnable:\n${unclassified.join('\n')}`).toEqual([]);
    for (const c of CANNOT_RUN) expect(runnable.some((d) => c.match.test(d.text)), `CANNOT_RUN entry ${c.match} matches no documented command`).toBe(true);
  });
});

// ---- running them --------------------------------------------------------------------------------------------------

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const work = mkdtempSync(join(tmpdir(), 'kt-docs-'));
const home = join(work, 'home');
const data = join(work, 'data');
const bin = join(work, 'bin');
let fake: FakeUpstream;
let gateway: ChildProcess | undefined;
const pki = makeTestPki();
let controlPlane: ChildProcess | undefined;
const env: NodeJS.ProcessEnv = {};
/** Placeholders in the docs and what they stand for here. */
const stands: Array<[string, string]> = [];

function shell(command: string, opts: { timeoutMs?: number } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Start a long-running command, wait until `ready` is in its output, run `probe`, stop it with `signal`. */
function startProbeStop(command: string, ready: RegExp, probe: (out: string) => Promise<string | undefined>, signal: NodeJS.Signals): Promise<Outcome & { probe?: string }> {
  return new Promise((resolve) => {
    // exec: the signal reaches kt itself, not a shell in between.
    const child = spawn('bash', ['-c', `exec ${command}`], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let probed: string | undefined;
    let started = false;
    const onData = () => {
      if (started || !ready.test(stdout + stderr)) return;
      started = true;
      void probe(stdout + stderr).then((p) => {
        probed = p;
        child.kill(signal);
      });
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => ((stdout += d), onData()));
    child.stderr.setEncoding('utf8').on('data', (d: string) => ((stderr += d), onData()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ...(probed !== undefined ? { probe: probed } : {}), ...(started ? {} : { probe: 'never became ready' }) });
    });
  });
}

async function health(url: string, ca?: Buffer): Promise<string | undefined> {
  const res = await undiciFetch(`${url}/health`, ca ? { dispatcher: new Agent({ connect: { ca } }) } : {}).catch((err: Error) => err);
  if (res instanceof Error) return `GET /health failed: ${res.message}`;
  const body = await res.text();
  return res.status === 200 && body.includes('"status"') ? undefined : `GET /health answered ${res.status} ${body.slice(0, 200)}`;
}

const GATEWAY_CONFIG = (fakeUrl: string) => `pack: {name: docs, version: "1"}
policies:
  chain: [pii-detector, code-sanitizer, audit-logger]
policy:
  pii-detector: {action: redact}
providers:
  targets:
    - {id: fake-openai, provider: openai-compatible, base_url: "${fakeUrl}/v1"}
    - {id: fake-anthropic, provider: anthropic, base_url: "${fakeUrl}"}
`;

function spawnKt(args: string[]): ChildProcess {
  return spawn(process.execPath, [KT, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function untilListening(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`${what} exited ${code}: ${text.slice(0, 1000)}`)));
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

let gatewayUrl = '';

beforeAll(async () => {
  if (!existsSync(KT)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  for (const d of [home, data, bin]) mkdirSync(d, { recursive: true });
  // The reader's checkout: the examples where the docs say, and `kt` on the PATH (npm link).
  symlinkSync(join(ROOT, 'examples'), join(work, 'examples'));
  writeFileSync(join(bin, 'kt'), `#!/bin/sh\nexec "${process.execPath}" "${KT}" "$@"\n`);
  chmodSync(join(bin, 'kt'), 0o755);
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KEEPTRUSTS_') && !/^(OPENAI|ANTHROPIC)_/.test(k)) env[k] = v;
  Object.assign(env, { HOME: home, PATH: `${bin}:${process.env.PATH}`, KEEPTRUSTS_DATA_DIR: data, OPENAI_API_KEY: 'sk-docs-test', ANTHROPIC_API_KEY: 'sk-ant-docs-test', NO_COLOR: '1' });

  fake = await startFakeUpstream({ record: false });
  writeFileSync(join(work, 'policy-config.yaml'), GATEWAY_CONFIG(fake.url));
  // The certificate files docs/deploy.md makes with openssl, made here by the test CA.
  const leaf = pki.leaf('gateway');
  mkdirSync(join(work, 'tls'));
  copyFileSync(leaf.cert, join(work, 'tls/gateway.crt'));
  copyFileSync(leaf.key, join(work, 'tls/gateway.key'));
  const port = await freePort();
  gatewayUrl = `http://127.0.0.1:${port}`;
  gateway = spawnKt(['gateway', 'run', '-c', 'policy-config.yaml', '--listen', `127.0.0.1:${port}`, '--log-format', 'json']);
  await untilListening(gateway, 'the gateway');
  stands.push(['http://localhost:41002', gatewayUrl], ['http://127.0.0.1:41002', gatewayUrl]);

  // A control plane with a reader token, for the examples that read one.
  const cpDir = join(work, 'control-plane');
  const created = spawnSync(process.execPath, [KT, 'server', 'token', 'create', '--role', 'reader', '--gateway', 'docs', '--data-dir', cpDir], { env, encoding: 'utf8' });
  env.KEEPTRUSTS_API_TOKEN = created.stdout.trim();
  const cpPort = await freePort();
  controlPlane = spawnKt(['server', '--listen', `127.0.0.1:${cpPort}`, '--data-dir', cpDir, '--log-format', 'json']);
  await untilListening(controlPlane, 'the control plane');
  stands.push(['https://keeptrusts.internal:41003', `http://127.0.0.1:${cpPort}`], ['/mnt/audit/anchors.jsonl', join(work, 'anchors.jsonl')]);
}, 60_000);

afterAll(async () => {
  await stop(gateway);
  await stop(controlPlane);
  await fake?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The command as it runs here: `npx kt` is `kt`, placeholders stand for this run's ids, addresses and files. */
function prepared(text: string): string {
  let out = text.replace(/^npx kt\b/, 'kt').replace(/\bnpx kt\b/g, 'kt');
  for (const [from, to] of stands) out = out.split(from).join(to);
  return out;
}

/** `npm start` and `npm run demo` are what package.json says they are. */
function npmScript(text: string): string | undefined {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const name = /^npm (?:start|run (\w+))\b/.exec(text);
  if (!name) return undefined;
  return scripts[name[1] ?? 'start']?.replace(ENSURE_FIRST, '').replace(/^node dist\/cli\/main\.js\b/, 'kt');
}

/** `npm start` and `npm run demo` first make sure the install and the build are current (scripts/ensure.mjs). */
const ENSURE_FIRST = /^node scripts\/ensure\.mjs && /;

type Check = (o: Outcome & { probe?: string }) => string | undefined;

/** How a documented command runs here, and what it must do. */
async function runDocumented(d: DocCommand): Promise<string | undefined> {
  const text = prepared(npmScript(d.text) ?? d.text);
  if (npmScript(d.text) !== undefined) {
    // The suite runs on a current install and build, so the check before the command returns at once, silently.
    const ready = await shell(`node ${ROOT}/scripts/ensure.mjs`);
    if (ready.code !== 0 || ready.stderr !== '') return `${d.file}:${d.line}: ${d.text}\n    scripts/ensure.mjs on a current checkout: exit ${ready.code} ${ready.stderr}`;
  }
  const w = words(text);
  let outcome: Outcome & { probe?: string };
  let check: Check = (o) => (o.code === 0 ? undefined : `exit ${o.code}`);
  if (/^kt gateway run\b/.test(text) || text === 'kt server' || /^kt server -/.test(text)) {
    // A server: started on a free port with a data dir of its own, probed, stopped with SIGTERM (exit 0).
    const port = await freePort();
    const own = mkdtempSync(join(work, 'serve-'));
    // With a certificate (docs/deploy.md) the same server answers over HTTPS, checked against the test CA.
    const tls = w.includes('--tls-cert');
    const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    outcome = await startProbeStop(`${text} --listen 127.0.0.1:${port} --data-dir ${own}`, /listening on/, () => health(url, tls ? pki.caPem : undefined), 'SIGTERM');
  } else if (/^kt events tail\b/.test(text) && !w.includes('--no-follow')) {
    // Follows until Ctrl+C, which exits 0.
    outcome = await startProbeStop(text, /\n/, async () => undefined, 'SIGINT');
  } else {
    outcome = await shell(text);
    if (/^curl .*\/health$/.test(text)) check = (o) => (o.code === 0 && o.stdout.includes('"status":"healthy"') ? undefined : `exit ${o.code}: ${o.stdout}`);
    else if (/^curl /.test(text)) check = (o) => (o.code === 0 && !o.stdout.includes('"error"') ? undefined : `exit ${o.code}: ${o.stdout.slice(0, 300)}`);
  }
  const problem = outcome.probe ?? check(outcome);
  return problem === undefined ? undefined : `${d.file}:${d.line}: ${d.text}\n    ran: ${text}\n    ${problem}\n    ${(outcome.stderr || outcome.stdout).trim().split('\n').slice(-3).join('\n    ')}`;
}

describe('the commands in the docs', () => {
  it('run as documented', async () => {
    const toRun = runnable.filter((d) => !reasonNotRun(d.text) && RUNNABLE_PROGRAMS.test(d.text));
    expect(toRun.length).toBeGreaterThan(30);

    // Requests first, while the gateway runs: the README's curl commands, then one request with a secret.
    const requests = toRun.filter((d) => d.text.startsWith('curl ') && prepared(d.text).includes(gatewayUrl));
    const failures: string[] = [];
    for (const d of requests) {
      const f = await runDocumented(d);
      if (f) failures.push(f);
    }
    const redacted = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-docs-test', 'x-request-id': 'req_docs_1' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'mail ann@example.org about it' }] }),
    });
    expect(redacted.status).toBe(200);
    const eventId = redacted.headers.get('x-keeptrusts-event-id')!;
    // Stopped, the gateway has moved every event into the chain and signed it.
    await stop(gateway);

    // Ids and files the examples refer to.
    const keys = [1, 2].map(() => JSON.parse(spawnSync(process.execPath, [KT, 'keys', 'create', '--developer', 'docs', '--json'], { env, encoding: 'utf8' }).stdout) as { record: { id: string } });
    expect(spawnSync(process.execPath, [KT, 'keys', 'export-public', '--output', 'gateway-key.pem'], { cwd: work, env }).status).toBe(0);
    expect(spawnSync(process.execPath, [KT, 'events', 'anchor', '--to', join(work, 'anchors.jsonl')], { cwd: work, env }).status).toBe(0);
    stands.push(
      ['<evt_… id>', eventId],
      ['evt_01JDQ7K9X2M4V6B8N0P2R4T6W8', eventId],
      ['6W8R4T2Z', eventId.slice(-8)],
      ['req_4f1c2a', 'req_docs_1'],
      ['vk_01JDQ7K9X2M4V6B8N0P2R4T6W8', keys[0]!.record.id],
      ['vk_01JDQ…', keys[1]!.record.id],
    );

    // Two at a time: none of them depends on another (the ids and files above stand in for earlier steps).
    const queue = toRun.filter((x) => !requests.includes(x));
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        const f = await runDocumented(d);
        if (f) failures.push(f);
      }
    };
    await Promise.all([worker(), worker()]);
    expect(failures, failures.join('\n')).toEqual([]);
  }, 300_000);
});
