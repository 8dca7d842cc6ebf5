import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildProgram } from '../../src/cli/program.js';
import { loadConfig } from '../../src/config/index.js';
import { acceptedOptions, commandsByPath } from '../helpers/doc-commands.js';
import { ROOT } from '../helpers/processes.js';
import { makeTestPki } from '../helpers/tls.js';

/**
 * The compose file for a team (deploy/compose), checked without a container engine: its shape against the compose
 * specification's service keys, the topology it promises (replicas with their own chains on one PostgreSQL and
 * one Redis, behind HAProxy, shipping to one control plane), the kt command lines against the real CLI, the
 * policy config against the config loader, and haproxy.cfg with `haproxy -c` where HAProxy is installed.
 */

const DIR = join(ROOT, 'deploy/compose');
const composeText = readFileSync(join(DIR, 'compose.yaml'), 'utf8');
const compose = parse(composeText, { merge: true }) as Compose;
const haproxyCfg = readFileSync(join(DIR, 'haproxy.cfg'), 'utf8');
const envExample = readFileSync(join(DIR, '.env.example'), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  networks?: string[];
  ports?: string[];
  healthcheck?: { test: string[]; interval?: string; timeout?: string; start_period?: string; retries?: number };
  read_only?: boolean;
  [key: string]: unknown;
}
interface Compose {
  name?: string;
  services: Record<string, Service>;
  networks?: Record<string, unknown>;
  volumes?: Record<string, unknown>;
}

/** Service keys of the compose specification (compose-spec/schema/compose-spec.json) that a file may use. */
const SERVICE_KEYS = new Set([
  'annotations', 'attach', 'build', 'blkio_config', 'cap_add', 'cap_drop', 'cgroup', 'cgroup_parent', 'command', 'configs', 'container_name',
  'cpu_count', 'cpu_percent', 'cpu_period', 'cpu_quota', 'cpu_rt_period', 'cpu_rt_runtime', 'cpu_shares', 'cpus', 'cpuset', 'credential_spec',
  'depends_on', 'deploy', 'develop', 'device_cgroup_rules', 'devices', 'dns', 'dns_opt', 'dns_search', 'domainname', 'entrypoint', 'env_file',
  'environment', 'expose', 'extends', 'external_links', 'extra_hosts', 'group_add', 'healthcheck', 'hostname', 'image', 'init', 'ipc', 'isolation',
  'labels', 'links', 'logging', 'mac_address', 'mem_limit', 'mem_reservation', 'mem_swappiness', 'memswap_limit', 'network_mode', 'networks',
  'oom_kill_disable', 'oom_score_adj', 'pid', 'pids_limit', 'platform', 'ports', 'privileged', 'profiles', 'pull_policy', 'read_only', 'restart',
  'runtime', 'scale', 'secrets', 'security_opt', 'shm_size', 'stdin_open', 'stop_grace_period', 'stop_signal', 'storage_opt', 'sysctls', 'tmpfs',
  'tty', 'ulimits', 'user', 'userns_mode', 'uts', 'volumes', 'volumes_from', 'working_dir',
]);
const TOP_KEYS = new Set(['version', 'name', 'include', 'services', 'networks', 'volumes', 'secrets', 'configs']);
const DURATION = /^(\d+(\.\d+)?(us|ms|s|m|h))+$/;
const services = compose.services;
const gateways = Object.entries(services).filter(([, s]) => Array.isArray(s.command) && s.command[0] === 'gateway');
const args = (s: Service) => (Array.isArray(s.command) ? s.command : []);
const flag = (s: Service, name: string) => {
  const a = args(s);
  const i = a.indexOf(name);
  return i >= 0 ? a[i + 1] : undefined;
};

describe('compose.yaml follows the compose specification', () => {
  it('uses only keys the specification defines', () => {
    for (const key of Object.keys(compose)) expect(TOP_KEYS.has(key) || key.startsWith('x-'), `top-level ${key}`).toBe(true);
    for (const [name, s] of Object.entries(services)) {
      for (const key of Object.keys(s)) expect(SERVICE_KEYS.has(key), `${name}.${key}`).toBe(true);
      expect(s.image ?? s.build, `${name} has neither image nor build`).toBeDefined();
      if (s.restart) expect(['no', 'always', 'on-failure', 'unless-stopped']).toContain(s.restart);
    }
  });

  it('pins every image it pulls to a release', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) continue; // built from this checkout
      expect(s.image, name).toMatch(/^[\w./-]+:\d+\.\d+(\.\d+)?(-[\w.]+)?$/);
    }
  });

  it('depends only on services it defines, with conditions the specification knows', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect(services[dep]!.healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
    }
  });

  it('declares the named volumes and networks it uses; healthchecks are exec form with valid durations', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes?.[source], `${name}: volume ${source}`).toBeDefined();
      }
      for (const n of s.networks ?? []) expect(compose.networks?.[n], `${name}: network ${n}`).toBeDefined();
      const h = s.healthcheck;
      if (h) {
        expect(['CMD', 'CMD-SHELL']).toContain(h.test[0]);
        for (const d of [h.interval, h.timeout, h.start_period]) if (d !== undefined) expect(d).toMatch(DURATION);
      }
    }
  });

  it('keeps secrets out of the file: every key, token and password comes from .env, and .env.example lists each variable', () => {
    const used = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
    const listed = new Set([...envExample.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]!));
    for (const v of used) if (!['KT_IMAGE', 'KT_GATEWAY_PORT', 'KT_CONSOLE_PORT'].includes(v)) expect(listed.has(v), `${v} not in .env.example`).toBe(true);
    for (const [name, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/(_KEY|_TOKEN|PASSWORD|DATABASE_URL)$/.test(key)) expect(String(value), `${name}.${key}`).toMatch(/\$\{[A-Z0-9_]+/);
      }
    }
    for (const line of envExample.split('\n')) if (/^[A-Z0-9_]*(KEY|TOKEN|PASSWORD)[A-Z0-9_]*=/.test(line)) expect(line, 'no secret values in .env.example').toMatch(/=$/);
  });
});

describe('the team topology', () => {
  it('runs three or more gateway replicas, each with its own chain and control-plane token, on one PostgreSQL schema and one Redis', () => {
    expect(gateways.length).toBeGreaterThanOrEqual(3);
    const ids = gateways.map(([, s]) => s.environment!.KEEPTRUSTS_GATEWAY_ID);
    expect(new Set(ids).size).toBe(gateways.length);
    const tokens = gateways.map(([, s]) => s.environment!.KEEPTRUSTS_GATEWAY_TOKEN);
    expect(new Set(tokens).size).toBe(gateways.length);
    for (const key of ['KEEPTRUSTS_DATABASE_URL', 'KEEPTRUSTS_REDIS_URL', 'KEEPTRUSTS_REDIS_KEY_PREFIX', 'KEEPTRUSTS_API_URL']) {
      const values = new Set(gateways.map(([, s]) => s.environment![key]));
      expect(values.size, key).toBe(1);
      expect([...values][0], key).toBeTruthy();
    }
    const data = gateways.map(([, s]) => s.volumes!.find((v) => v.endsWith(':/data')));
    expect(new Set(data).size, 'each replica its own data volume').toBe(gateways.length);
  });

  it('ships to the control plane, which keeps its own schema on the same PostgreSQL', () => {
    const server = services.server!;
    expect(args(server)[0]).toBe('server');
    const port = flag(server, '--listen')!.split(':').at(-1);
    expect(gateways[0]![1].environment!.KEEPTRUSTS_API_URL).toBe(`http://server:${port}`);
    const schema = (url: string) => new URL(url.replace(/\$\{[^}]+\}/g, 'x')).searchParams.get('schema');
    expect(schema(server.environment!.KEEPTRUSTS_DATABASE_URL!)).not.toBe(schema(gateways[0]![1].environment!.KEEPTRUSTS_DATABASE_URL!));
  });

  it('exposes only HAProxy: everything else is on an internal network', () => {
    for (const [name, s] of Object.entries(services)) {
      if (name === 'haproxy') continue;
      expect(s.ports, `${name} publishes ports`).toBeUndefined();
      expect(s.networks).toEqual(['backend']);
    }
    expect((compose.networks!.backend as { internal?: boolean }).internal).toBe(true);
  });

  it('runs kt read-only, with the command lines the CLI accepts', () => {
    const tree = commandsByPath(buildProgram());
    for (const [name, s] of Object.entries(services)) {
      if (!s.build) continue;
      expect(s.read_only, name).toBe(true);
      const a = args(s);
      const path = a[0] === 'gateway' ? 'gateway run' : a[0]!;
      const cmd = tree.get(path)!;
      expect(cmd, name).toBeDefined();
      const known = new Set(acceptedOptions(cmd).flatMap((o) => [o.long, o.short]));
      for (const word of a.slice(path.split(' ').length)) if (word.startsWith('-')) expect(known.has(word), `${name}: ${word}`).toBe(true);
      // Behind the load balancer, plain HTTP on the private network is said out loud.
      expect(a).toContain('--insecure-listen');
    }
  });

  it('its policy config loads, with provider keys on the gateway and limits for the replicas to share', async () => {
    const { loaded, diagnostics } = await loadConfig([join(DIR, 'policy-config.yaml')]);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(loaded!.config.providers.targets.every((t) => t.secret_key_ref)).toBe(true);
    expect(loaded!.config.budgets.length).toBeGreaterThan(0);
    expect(loaded!.config.policies.chain).toContain('audit-logger');
  });
});

describe('haproxy.cfg', () => {
  const backend = (name: string) => haproxyCfg.split(/\n(?=\S)/).find((b) => b.startsWith(`backend ${name}`)) ?? '';

  it('balances over exactly the gateway replicas, checking /readyz, and sends the console to the control plane', () => {
    const servers = [...backend('gateways').matchAll(/^\s+server \S+ ([\w-]+):(\d+)/gm)].map((m) => [m[1], m[2]]);
    expect(servers.map(([host]) => host).sort()).toEqual(gateways.map(([name]) => name).sort());
    for (const [host, port] of servers) expect(flag(services[host!]!, '--listen')).toBe(`0.0.0.0:${port}`);
    expect(backend('gateways')).toMatch(/http-check send meth GET uri \/readyz .*hdr Host localhost/);
    expect(backend('control_plane')).toMatch(/server \S+ server:41003/);
    for (const b of haproxyCfg.matchAll(/default_backend (\S+)/g)) expect(backend(b[1]!), b[1]).not.toBe('');
  });

  it('terminates TLS with the certificate the compose file mounts', () => {
    const mount = services.haproxy!.volumes!.find((v) => v.startsWith('./tls:'))!.split(':')[1]!;
    const binds = [...haproxyCfg.matchAll(/bind \S+ ssl crt (\S+)/g)].map((m) => m[1]!);
    expect(binds.length).toBe(2);
    for (const crt of binds) expect(crt.startsWith(`${mount}/`)).toBe(true);
  });

  const haproxy = spawnSync('haproxy', ['-v']).status === 0;
  it.skipIf(!haproxy && !process.env.CI)('is valid for HAProxy (haproxy -c), with a test certificate in place of the real one', () => {
    const pki = makeTestPki();
    const leaf = pki.leaf('haproxy');
    const pem = join(pki.dir, 'haproxy.pem');
    writeFileSync(pem, readFileSync(leaf.cert, 'utf8') + readFileSync(leaf.key, 'utf8'));
    const cfg = join(pki.dir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyCfg.replaceAll('/usr/local/etc/haproxy/certs/haproxy.pem', pem));
    const r = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    // The replicas' names resolve only inside compose's network; any other warning is a problem in the file.
    const warnings = r.stderr.split('\n').filter((l) => l.includes('[WARNING]') && !l.includes('could not resolve address'));
    expect(warnings).toEqual([]);
  });
});
