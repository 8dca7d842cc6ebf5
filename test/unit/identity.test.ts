import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanValue, detectGitIdentity, normaliseRemoteUrl, resolveAttribution, type AttributionInput } from '../../src/usage/identity.js';
import type { VirtualKeyRecord } from '../../src/usage/keys.js';

describe('normaliseRemoteUrl', () => {
  it.each([
    ['https://github.com/acme/api.git', 'acme/api'],
    ['https://github.com/acme/api', 'acme/api'],
    ['https://github.com/acme/api/', 'acme/api'],
    ['http://git.internal:8080/acme/api.git', 'acme/api'],
    ['https://alice:ghp_secret@github.com/acme/api.git', 'acme/api'],
    ['https://oauth2:glpat-xyz@gitlab.com/group/sub/repo.git', 'group/sub/repo'],
    ['git@github.com:acme/api.git', 'acme/api'],
    ['git@github.com:acme/api', 'acme/api'],
    ['github.com:acme/api.git', 'acme/api'],
    ['ssh://git@github.com/acme/api.git', 'acme/api'],
    ['ssh://git@github.com:22/acme/api.git', 'acme/api'],
    ['ssh://git@git.internal:2222/acme/api', 'acme/api'],
    ['ssh://git.internal/~alice/dotfiles.git', 'alice/dotfiles'],
    ['git://git.kernel.org/pub/scm/git/git.git', 'pub/scm/git/git'],
    ['https://dev.azure.com/org/project/_git/repo', 'org/project/repo'],
    ['git@ssh.dev.azure.com:v3/org/project/repo', 'org/project/repo'],
    ['https://github.com/acme/my%20repo.git', 'acme/my repo'],
    ['  https://github.com/acme/api.git\n', 'acme/api'],
    // Not a hosted repository, or not a URL at all.
    ['/srv/git/api.git', null],
    ['../api', null],
    ['file:///srv/git/api.git', null],
    ['C:\\repos\\api', null],
    ['https://github.com', null],
    ['https://github.com/', null],
    ['', null],
    ['https://github.com/acme/api\u0000.git', null],
  ])('%j → %j', (url, expected) => {
    expect(normaliseRemoteUrl(url)).toBe(expected);
  });
});

describe('cleanValue', () => {
  it('trims, bounds to 200 characters and refuses control characters', () => {
    expect(cleanValue('  alice  ')).toBe('alice');
    expect(cleanValue('a'.repeat(300))).toBe('a'.repeat(200));
    expect(cleanValue('ali\nce')).toBeNull();
    expect(cleanValue('ali\u007fce')).toBeNull();
    expect(cleanValue('   ')).toBeNull();
    expect(cleanValue(undefined)).toBeNull();
    expect(cleanValue(null)).toBeNull();
  });
});

describe('resolveAttribution', () => {
  const key = (fields: Partial<VirtualKeyRecord>): VirtualKeyRecord => ({
    id: 'vk_01TEST',
    developer: 'key-dev',
    team: null,
    repository: null,
    name: null,
    created_at: '2026-01-01T00:00:00.000Z',
    revoked_at: null,
    ...fields,
  });
  const git = { developer: 'git-dev@example.com', repository: 'git/repo' };
  const defaults = { developer: 'flag-dev', repository: 'flag/repo', team: 'flag-team' };
  const kh = { 'x-keeptrusts-developer': 'hdr-dev', 'x-keeptrusts-repository': 'hdr/repo', 'x-keeptrusts-team': 'hdr-team' };

  it.each<[string, AttributionInput, [string | null, string | null, string | null], [string | null, string | null, string | null], string | null]>([
    ['nothing at all', { headers: {} }, [null, null, null], [null, null, null], null],
    ['git only', { headers: {}, git }, ['git-dev@example.com', 'git/repo', null], ['git', 'git', null], null],
    ['flags beat git', { headers: {}, defaults, git }, ['flag-dev', 'flag/repo', 'flag-team'], ['default', 'default', 'default'], null],
    ['a flag for one field, git for the other', { headers: {}, defaults: { repository: 'flag/repo' }, git }, ['git-dev@example.com', 'flag/repo', null], ['git', 'default', null], null],
    ['headers beat flags and git', { headers: kh, defaults, git }, ['hdr-dev', 'hdr/repo', 'hdr-team'], ['header', 'header', 'header'], null],
    ['a partial set of headers', { headers: { 'x-keeptrusts-repository': 'hdr/repo' }, defaults, git }, ['flag-dev', 'hdr/repo', 'flag-team'], ['default', 'header', 'default'], null],
    ['X-User-Id and X-Team-Id', { headers: { 'x-user-id': 'uid-7', 'x-team-id': 'tid-3' }, git }, ['uid-7', 'git/repo', 'tid-3'], ['header', 'git', 'header'], null],
    ['x-keeptrusts-developer beats X-User-Id', { headers: { 'x-user-id': 'uid-7', 'x-keeptrusts-developer': 'hdr-dev' } }, ['hdr-dev', null, null], ['header', null, null], null],
    ['the key beats everything', { key: key({ team: 'key-team', repository: 'key/repo' }), headers: kh, defaults, git }, ['key-dev', 'key/repo', 'key-team'], ['key', 'key', 'key'], 'vk_01TEST'],
    ['a key without team or repository', { key: key({}), headers: { 'x-keeptrusts-team': 'hdr-team' }, defaults: { repository: 'flag/repo' }, git }, ['key-dev', 'flag/repo', 'hdr-team'], ['key', 'default', 'header'], 'vk_01TEST'],
    ['a key with a repository only', { key: key({ repository: 'key/repo' }), headers: {}, git }, ['key-dev', 'key/repo', null], ['key', 'key', null], 'vk_01TEST'],
    ['invalid header values fall through', { headers: { 'x-keeptrusts-developer': 'bad\u0007', 'x-user-id': '  ', 'x-keeptrusts-repository': 'r\nx' }, git }, ['git-dev@example.com', 'git/repo', null], ['git', 'git', null], null],
    ['header values are trimmed and bounded', { headers: { 'x-keeptrusts-developer': `  ${'d'.repeat(250)}  `, 'x-keeptrusts-team': ['first', 'second'] } }, ['d'.repeat(200), null, 'first'], ['header', null, 'header'], null],
    ['an empty flag is no flag', { headers: {}, defaults: { developer: '', repository: '  ' }, git }, ['git-dev@example.com', 'git/repo', null], ['git', 'git', null], null],
    ['git that found nothing', { headers: {}, git: { developer: null, repository: null } }, [null, null, null], [null, null, null], null],
  ])('%s', (_name, input, [developer, repository, team], [ds, rs, ts], keyId) => {
    expect(resolveAttribution(input)).toEqual({ developer, repository, team, key_id: keyId, source: { developer: ds, repository: rs, team: ts } });
  });
});

describe('detectGitIdentity', () => {
  const dirs: string[] = [];
  const temp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  // A HOME and global config of its own, so the machine's ~/.gitconfig does not leak in.
  let env: NodeJS.ProcessEnv;
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, stdio: 'pipe' });

  beforeAll(() => {
    const home = temp('kt-git-home-');
    env = { ...process.env, HOME: home, XDG_CONFIG_HOME: home, GIT_CONFIG_GLOBAL: join(home, 'gitconfig'), GIT_CONFIG_NOSYSTEM: '1' };
  });

  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('reads user.email and the origin remote of a checkout, from a subdirectory too', async () => {
    const repo = temp('kt-git-repo-');
    git(repo, 'init', '-q');
    git(repo, 'config', 'user.email', 'dana@example.com');
    git(repo, 'remote', 'add', 'origin', 'git@github.com:acme/widgets.git');
    expect(await detectGitIdentity(repo, { env })).toEqual({ developer: 'dana@example.com', repository: 'acme/widgets' });
    const sub = join(repo, 'src');
    execFileSync('mkdir', [sub]);
    expect(await detectGitIdentity(sub, { env })).toEqual({ developer: 'dana@example.com', repository: 'acme/widgets' });
  });

  it('gives null for what is missing: no remote, no email, no repository', async () => {
    const repo = temp('kt-git-bare-');
    git(repo, 'init', '-q');
    expect(await detectGitIdentity(repo, { env })).toEqual({ developer: null, repository: null });
    git(repo, 'remote', 'add', 'upstream', 'https://github.com/acme/other.git');
    expect(await detectGitIdentity(repo, { env })).toEqual({ developer: null, repository: null });
    const plain = temp('kt-git-none-');
    expect(await detectGitIdentity(plain, { env })).toEqual({ developer: null, repository: null });
  });

  it('never throws: no git, a missing directory, a git that hangs', async () => {
    expect(await detectGitIdentity(tmpdir(), { env, git: '/nonexistent/git' })).toEqual({ developer: null, repository: null });
    expect(await detectGitIdentity(join(tmpdir(), 'kt-no-such-dir-x9'), { env })).toEqual({ developer: null, repository: null });
    const slow = temp('kt-git-slow-');
    const fakeGit = join(slow, 'git');
    execFileSync('sh', ['-c', `printf '#!/bin/sh\\nsleep 5\\n' > ${fakeGit} && chmod +x ${fakeGit}`]);
    const started = Date.now();
    expect(await detectGitIdentity(slow, { env, git: fakeGit, timeoutMs: 200 })).toEqual({ developer: null, repository: null });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
