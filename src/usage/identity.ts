import { execFile } from 'node:child_process';
import type { IncomingHttpHeaders } from 'node:http';
import type { VirtualKeyRecord } from './keys.js';
import type { Attribution, AttributionSource } from './types.js';

/** Who is working where, as the local git checkout says. */
export interface GitIdentity {
  /** `git config user.email`. */
  developer: string | null;
  /** The `origin` remote as `owner/repo` (see normaliseRemoteUrl). */
  repository: string | null;
}

export interface DetectGitOptions {
  /** Per git call; default 2000 ms. */
  timeoutMs?: number;
  /** The git executable; default `git` on PATH. */
  git?: string;
  env?: NodeJS.ProcessEnv;
}

const MAX_VALUE = 200;

/**
 * The developer (git user.email) and repository (origin remote) of the checkout at `cwd`. Each is null when
 * git, the setting or the remote is missing, or git takes longer than the timeout. Never throws.
 */
export async function detectGitIdentity(cwd: string = process.cwd(), opts: DetectGitOptions = {}): Promise<GitIdentity> {
  const run = (args: string[]) => gitOutput(opts.git ?? 'git', args, cwd, opts.timeoutMs ?? 2_000, opts.env ?? process.env);
  const [email, remote] = await Promise.all([run(['config', '--get', 'user.email']), run(['config', '--get', 'remote.origin.url'])]);
  return { developer: cleanValue(email), repository: remote === null ? null : normaliseRemoteUrl(remote) };
}

function gitOutput(git: string, args: string[], cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<string | null> {
  return new Promise((resolve) => {
    try {
      execFile(
        git,
        args,
        // No prompts, no pager, and the environment's GIT_DIR and friends left as they are (a user's choice).
        { cwd, timeout: timeoutMs, windowsHide: true, maxBuffer: 64 * 1024, encoding: 'utf8', env: { ...env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat' } },
        (err, stdout) => resolve(err ? null : stdout.trim() || null),
      );
    } catch {
      resolve(null);
    }
  });
}

/**
 * A git remote URL as `owner/repo` (the path on its host, without `.git`): `https://github.com/acme/api.git`,
 * `git@github.com:acme/api.git` and `ssh://git@github.com:22/acme/api` all give `acme/api`; GitLab subgroups
 * keep their path (`group/sub/repo`); Azure DevOps drops `_git` and the SSH `v3`. Credentials in the URL are
 * dropped with the host. Local paths and `file://` URLs name no hosted repository: null.
 */
export function normaliseRemoteUrl(url: string): string | null {
  const u = url.trim();
  if (u === '' || /[\u0000-\u001f\u007f\s]/.test(u)) return null;
  let path: string;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(u);
  if (scheme) {
    const proto = scheme[1]!.toLowerCase();
    if (proto === 'file') return null;
    // [user[:password]@]host[:port]/path; the host part ends at the first `/`.
    const rest = scheme[2]!;
    const slash = rest.indexOf('/');
    if (slash < 0) return null;
    path = rest.slice(slash + 1);
  } else {
    // scp-like syntax: [user@]host:path. A colon after a slash is a local path (git's rule), as is `C:\…`.
    const scp = /^(?:[^@/:]+@)?([^/:]+):(.*)$/.exec(u);
    if (!scp || /^[A-Za-z]$/.test(scp[1]!)) return null;
    path = scp[2]!;
  }
  path = path.replace(/[?#].*$/, '');
  let parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.length && parts[parts.length - 1]!.endsWith('.git')) parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -4);
  // Azure DevOps: org/project/_git/repo (HTTPS) and v3/org/project/repo (SSH).
  parts = parts.filter((p) => p !== '_git');
  if (parts[0] === 'v3' && parts.length === 4) parts = parts.slice(1);
  // A leading `~user` (ssh://host/~user/repo) is a home directory, not an owner.
  if (parts.length > 1 && parts[0]!.startsWith('~')) parts[0] = parts[0]!.slice(1);
  if (parts.length === 0 || parts.some((p) => p === '' || p === '..')) return null;
  let decoded: string;
  try {
    decoded = parts.map((p) => decodeURIComponent(p)).join('/');
  } catch {
    decoded = parts.join('/');
  }
  return cleanValue(decoded);
}

/** An identity value from a header, a flag or git: trimmed, at most 200 characters, no control characters. */
export function cleanValue(v: string | null | undefined): string | null {
  if (typeof v !== 'string') return null;
  const t = v.trim().slice(0, MAX_VALUE).trim();
  return t && !/[\u0000-\u001f\u007f]/.test(t) ? t : null;
}

export interface AttributionInput {
  /** The virtual key the client authenticated with, when it used one. */
  key?: VirtualKeyRecord | null;
  headers: IncomingHttpHeaders;
  /** The gateway's `--developer`, `--repository`, `--team`. */
  defaults?: { developer?: string | null | undefined; repository?: string | null | undefined; team?: string | null | undefined };
  /** What detectGitIdentity found where the gateway started. */
  git?: Partial<GitIdentity> | null;
}

/** The request headers that carry each field, first match wins: Keeptrusts' own, then the generic user and team ids. */
export const ATTRIBUTION_HEADERS = {
  developer: ['x-keeptrusts-developer', 'x-user-id'],
  repository: ['x-keeptrusts-repository'],
  team: ['x-keeptrusts-team', 'x-team-id'],
} as const;

/**
 * Who a request is attributed to, field by field: the virtual key, then request headers, then the gateway's
 * defaults (flags), then the git identity detected at start. `source` says where each value came from.
 */
export function resolveAttribution(input: AttributionInput): Attribution {
  const key = input.key ?? null;
  const developer = pick(input, key, 'developer');
  const repository = pick(input, key, 'repository');
  const team = pick(input, key, 'team');
  return {
    developer: developer?.value ?? null,
    repository: repository?.value ?? null,
    team: team?.value ?? null,
    key_id: key?.id ?? null,
    source: { developer: developer?.source ?? null, repository: repository?.source ?? null, team: team?.source ?? null },
  };
}

/**
 * One field's first clean value in that order, or undefined. Straight-line rather than a list of candidates:
 * this runs three times on every request.
 */
function pick(input: AttributionInput, key: VirtualKeyRecord | null, fieldName: 'developer' | 'repository' | 'team'): { value: string; source: AttributionSource } | undefined {
  let value = cleanValue(key?.[fieldName]);
  if (value !== null) return { value, source: 'key' };
  for (const h of ATTRIBUTION_HEADERS[fieldName]) {
    value = cleanValue(headerValue(input.headers, h));
    if (value !== null) return { value, source: 'header' };
  }
  value = cleanValue(input.defaults?.[fieldName]);
  if (value !== null) return { value, source: 'default' };
  value = cleanValue(fieldName === 'team' ? null : input.git?.[fieldName]);
  if (value !== null) return { value, source: 'git' };
  return undefined;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
