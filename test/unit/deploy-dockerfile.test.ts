import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextSources, dockerignored, lintDockerfile, parseDockerfile } from '../helpers/dockerfile-lint.js';
import { ROOT } from '../helpers/processes.js';
import { makeTestPki } from '../helpers/tls.js';

/** The container image (issue 21), checked without a container engine: lint rules, build context, healthcheck. */

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
const final = () => {
  const ins = parseDockerfile(dockerfile);
  const last = Math.max(...ins.map((i) => i.stage));
  return ins.filter((i) => i.stage === last);
};

describe('the Dockerfile', () => {
  it('passes every lint rule', () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  it('builds in stages from a pinned node 20 slim base, and ships no dev dependencies', () => {
    const froms = parseDockerfile(dockerfile).filter((i) => i.keyword === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.args).toMatch(/^node:20\.\d+\.\d+-\w+-slim\b/);
    const runs = parseDockerfile(dockerfile).filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toContain('npm ci');
    expect(runs).toContain('npm run build');
    expect(runs).toContain('npm prune --omit=dev');
    expect(final().filter((i) => i.keyword === 'COPY' && i.args.includes('node_modules'))[0]!.args).toMatch(/^--from=build /);
  });

  it('runs as a numeric non-root user, writes only to the /data volume, checks /healthz, and has kt as entrypoint', () => {
    const ins = final();
    expect(ins.filter((i) => i.keyword === 'USER').at(-1)!.args).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(ins.find((i) => i.keyword === 'VOLUME')!.args).toBe('["/data"]');
    expect(ins.find((i) => i.keyword === 'ENV')!.args).toContain('KEEPTRUSTS_DATA_DIR=/data');
    expect(ins.find((i) => i.keyword === 'HEALTHCHECK')!.args).toContain('/app/healthcheck.mjs');
    expect(JSON.parse(ins.find((i) => i.keyword === 'ENTRYPOINT')!.args)).toEqual(['kt']);
    const cmd = JSON.parse(ins.find((i) => i.keyword === 'CMD')!.args) as string[];
    expect(cmd.slice(0, 4)).toEqual(['gateway', 'run', '--listen', '0.0.0.0:41002']);
  });

  it('copies only files that exist and that .dockerignore lets into the context', () => {
    const sources = contextSources(dockerfile);
    expect(sources.length).toBeGreaterThan(5);
    for (const { source, line } of sources) {
      expect(existsSync(join(ROOT, source)), `line ${line}: ${source} does not exist`).toBe(true);
      expect(dockerignored(ignore, source), `line ${line}: ${source} is excluded by .dockerignore`).toBe(false);
    }
  });

  it('.dockerignore keeps local dependencies, builds, data and key files out of the context', () => {
    for (const path of ['node_modules', 'console/node_modules/x', 'dist/cli/main.js', '.keeptrusts/events.db', '.git/config', 'tls/server.key', 'e2e-clients/node_modules', '.env']) {
      expect(dockerignored(ignore, path), path).toBe(true);
    }
    for (const path of ['src/cli/main.ts', 'package-lock.json', 'examples/quickstart/policy-config.yaml', 'deploy/healthcheck.mjs']) expect(dockerignored(ignore, path), path).toBe(false);
  });
});

describe('the lint rules catch what they are for', () => {
  const good = `FROM node:20.20.2-bookworm-slim AS build
RUN echo hi
FROM node:20.20.2-bookworm-slim
USER 1000:1000
HEALTHCHECK CMD ["node", "h.mjs"]
ENTRYPOINT ["kt"]
`;
  const rules = (text: string) => lintDockerfile(text).map((p) => p.rule);

  it('a clean file has no problems', () => expect(lintDockerfile(good)).toEqual([]));
  it.each([
    ['an unpinned base', good.replace('FROM node:20.20.2-bookworm-slim\n', 'FROM node\n'), 'DL3006'],
    ['latest', good.replace('FROM node:20.20.2-bookworm-slim\n', 'FROM node:latest\n'), 'DL3007'],
    ['a major-only tag', good.replace('FROM node:20.20.2-bookworm-slim AS', 'FROM node:20-slim AS'), 'DL-pin'],
    ['no USER', good.replace('USER 1000:1000\n', ''), 'DL3002'],
    ['root as last USER', good.replace('USER 1000:1000\n', 'USER 1000\nUSER root\n'), 'DL3002'],
    ['ADD of a URL', good.replace('RUN echo hi', 'ADD https://example.com/x.tgz /x'), 'DL3020-url'],
    ['ADD of a file', good.replace('RUN echo hi', 'ADD x /x'), 'DL3020'],
    ['no HEALTHCHECK', good.replace(/HEALTHCHECK.*\n/, ''), 'healthcheck'],
    ['a secret in ENV', good.replace('USER', 'ENV OPENAI_API_KEY=abc123\nUSER'), 'secret-in-image'],
    ['a key-shaped value in ENV', good.replace('USER', 'ENV X="sk-proj-abcdefghijklmnopqrstu"\nUSER'), 'secret-in-image'],
    ['a secret as ARG default', good.replace('USER', 'ARG GATEWAY_TOKEN=abc\nUSER'), 'secret-in-image'],
    ['shell-form ENTRYPOINT', good.replace('ENTRYPOINT ["kt"]', 'ENTRYPOINT kt'), 'DL3025'],
    ['apt-get without cleanup', good.replace('RUN echo hi', 'RUN apt-get update && apt-get install -y --no-install-recommends g++'), 'DL3009'],
    ['apt-get with recommends', good.replace('RUN echo hi', 'RUN apt-get install -y g++ && rm -rf /var/lib/apt/lists/*'), 'DL3015'],
    ['curl piped to sh', good.replace('RUN echo hi', 'RUN curl -fsSL https://x.example/i.sh | sh'), 'pipe-to-shell'],
    ['sudo', good.replace('RUN echo hi', 'RUN sudo ls'), 'DL3004'],
    ['a relative WORKDIR', good.replace('RUN echo hi', 'WORKDIR app'), 'DL3000'],
  ])('%s', (_name, text, rule) => {
    expect(rules(text)).toContain(rule);
  });

  it('an ARG declared for run time without a value is fine', () => {
    expect(rules(good.replace('USER', 'ARG GATEWAY_TOKEN\nUSER'))).toEqual([]);
  });

  it('joins continued lines and skips comments inside them', () => {
    const ins = parseDockerfile('# syntax=docker/dockerfile:1\nFROM a:1.2\nRUN one \\\n  # note\n  && two\nUSER 1\n');
    expect(ins.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ['FROM', 'a:1.2', 2],
      ['RUN', 'one && two', 3],
      ['USER', '1', 6],
    ]);
  });
});

describe('the image healthcheck script', () => {
  const pki = makeTestPki();
  const leaf = pki.leaf('health');
  const servers: Server[] = [];
  let httpsUrl = '';
  let failingUrl = '';
  beforeAll(async () => {
    const listen = async (s: Server) => {
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return (s.address() as AddressInfo).port;
    };
    httpsUrl = `https://127.0.0.1:${await listen(createHttpsServer({ cert: readFileSync(leaf.cert), key: readFileSync(leaf.key) }, (_req, res) => res.end('{"status":"ok"}')) as unknown as Server)}/healthz`;
    failingUrl = `http://127.0.0.1:${await listen(createHttpServer((_req, res) => res.writeHead(503).end()))}/readyz`;
  });
  afterAll(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

  const check = (url: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'deploy/healthcheck.mjs'), url], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });

  it('exits 0 on a 2xx over HTTPS with a certificate it cannot verify (its own listener, over loopback)', async () => {
    expect(await check(httpsUrl)).toEqual({ code: 0, stderr: '' });
  });
  it('exits 1 on a 503 and on a closed port, saying why', async () => {
    expect(await check(failingUrl)).toEqual({ code: 1, stderr: '/readyz: HTTP 503\n' });
    const closed = await check('http://127.0.0.1:1/healthz');
    expect(closed.code).toBe(1);
    expect(closed.stderr).toContain('ECONNREFUSED');
  });
});
