import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

/**
 * A real HAProxy (Debian's /usr/sbin/haproxy) in front of gateway replicas on loopback, for the scale-out test
 * (test/team/scale-out.test.ts). Its settings follow deploy/compose/haproxy.cfg (readiness checks on /readyz,
 * retries with redispatch, long stream timeouts) without TLS or Docker's DNS, and with round-robin so every
 * replica serves its share of a short test.
 */

export const HAPROXY_CANDIDATES = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'];

export function haproxyBinary(): string | null {
  for (const c of HAPROXY_CANDIDATES) if (existsSync(c)) return c;
  const which = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

export interface HaproxyBackend {
  name: string;
  port: number;
}

export interface HaproxyConfigOptions {
  port: number;
  statsPort: number;
  backends: HaproxyBackend[];
  /** Health check interval; a replica is out after `fall` failed checks and back after `rise` good ones. */
  checkIntervalMs?: number;
}

export function haproxyConfig(o: HaproxyConfigOptions): string {
  const inter = o.checkIntervalMs ?? 250;
  return `global
  maxconn 2048

defaults
  mode http
  timeout connect 2s
  timeout http-request 30s
  timeout http-keep-alive 30s
  timeout client 5m
  timeout server 5m
  # A refused or failed connection (a replica that stopped accepting) is tried again on another replica.
  retries 3
  option redispatch 1

frontend gateway
  bind 127.0.0.1:${o.port}
  default_backend gateways

backend gateways
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  # Which replica answered, for the test to tell the streams a kill cuts from the others.
  http-response set-header x-served-by %s
  default-server check inter ${inter} fall 2 rise 2
${o.backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`).join('\n')}

frontend stats
  bind 127.0.0.1:${o.statsPort}
  stats enable
  stats uri /stats
  stats refresh 1s
`;
}

export interface RunningHaproxy {
  url: string;
  config: string;
  /** Each server's status as HAProxy sees it: UP, DOWN, "UP 1/2", "DOWN 1/2", MAINT… */
  status(): Promise<Record<string, string>>;
  /** Resolves once the named servers are in that state (UP: every check passing; DOWN: out of rotation). */
  waitFor(names: string[], state: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Check the config with `haproxy -c`, start it in the foreground, and wait until its frontend answers. */
export async function startHaproxy(bin: string, o: HaproxyConfigOptions): Promise<RunningHaproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'kt-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(o));
  const check = spawnSync(bin, ['-c', '-f', config], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c refused the generated config: ${check.stdout}${check.stderr}`);
  const child: ChildProcess = spawn(bin, ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
  const statsUrl = `http://127.0.0.1:${o.statsPort}/stats;csv`;
  const status = async (): Promise<Record<string, string>> => {
    const res = await request(statsUrl);
    const text = await res.body.text();
    const lines = text.split('\n');
    const header = lines[0]!.replace(/^# /, '').split(',');
    const [px, sv, st] = ['pxname', 'svname', 'status'].map((h) => header.indexOf(h));
    const out: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      if (cells[px!] === 'gateways' && cells[sv!] !== 'BACKEND' && cells[sv!] !== 'FRONTEND') out[cells[sv!]!] = cells[st!]!;
    }
    return out;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}: ${log}`);
    try {
      await status();
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`haproxy did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `http://127.0.0.1:${o.port}`,
    config,
    status,
    async waitFor(names, state, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const now = await status();
        if (names.every((n) => now[n] === state)) return;
        if (Date.now() > end) throw new Error(`haproxy: ${names.join(', ')} not ${state} after ${timeoutMs} ms: ${JSON.stringify(now)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
