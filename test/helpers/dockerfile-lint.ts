/**
 * Hadolint-style checks for our Dockerfile, since no container engine (nor hadolint) runs here. Each rule names
 * the hadolint rule it mirrors where there is one. Parsing follows the Dockerfile reference: `\` continues an
 * instruction, lines starting with `#` are comments (parser directives included), and a comment inside a
 * continued instruction is dropped.
 */

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY… */
  keyword: string;
  /** The rest of the instruction, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
  /** Index of the build stage it belongs to (0 for the first FROM). */
  stage: number;
}

export interface Problem {
  rule: string;
  line: number;
  message: string;
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  let stage = -1;
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let text = first;
    while (text.endsWith('\\') && i + 1 < lines.length) {
      text = text.slice(0, -1).trimEnd();
      const next = lines[++i]!.trim();
      if (next.startsWith('#')) {
        text += ' \\';
        continue;
      }
      text = `${text} ${next}`;
    }
    const m = /^(\S+)\s*(.*)$/.exec(text)!;
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage++;
    out.push({ keyword, args: m[2]!.trim(), line: start, stage: Math.max(stage, 0) });
  }
  return out;
}

const SECRET_NAME = /(secret|passw(or)?d|token|api[_-]?key|private[_-]?key|credential|access[_-]?key)/i;
const SECRET_VALUE = /\b(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,}|kt-vk-[A-Za-z0-9_-]{32}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,})/;

/** `KEY=value KEY2="v w"` or the legacy `KEY value` form of ENV and ARG. */
function assignments(args: string): Array<{ name: string; value: string | undefined }> {
  if (!args.includes('=')) {
    const [name, ...rest] = args.split(/\s+/);
    return [{ name: name!, value: rest.join(' ') || undefined }];
  }
  const out: Array<{ name: string; value: string | undefined }> = [];
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) out.push({ name: m[1]!, value: m[2] });
  return out;
}

function isExecForm(args: string): boolean {
  try {
    const v = JSON.parse(args) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string');
  } catch {
    return false;
  }
}

/** Flags of COPY/ADD (`--from=build`, `--chown=…`) and the rest. */
function splitFlags(args: string): { flags: string[]; rest: string[] } {
  const words = args.split(/\s+/).filter(Boolean);
  const flags: string[] = [];
  while (words[0]?.startsWith('--')) flags.push(words.shift()!);
  return { flags, rest: words };
}

export function lintDockerfile(text: string): Problem[] {
  const ins = parseDockerfile(text);
  const problems: Problem[] = [];
  const add = (rule: string, line: number, message: string) => problems.push({ rule, line, message });
  const stageNames = new Set<string>();
  const froms = ins.filter((i) => i.keyword === 'FROM');
  if (froms.length === 0) add('DL-no-from', 1, 'no FROM instruction');
  const finalStage = froms.length - 1;

  for (const i of ins) {
    switch (i.keyword) {
      case 'FROM': {
        const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
        const image = words[0] ?? '';
        const alias = /^as$/i.test(words[1] ?? '') ? words[2] : undefined;
        if (!stageNames.has(image) && image !== 'scratch') {
          const digest = /@sha256:[0-9a-f]{64}$/.test(image);
          const tag = /:([^/:@]+)$/.exec(image)?.[1];
          if (!digest && !tag) add('DL3006', i.line, `${image}: no tag, so every build may get another image; pin a release (e.g. node:20.20.2-bookworm-slim) or a digest`);
          else if (!digest && tag === 'latest') add('DL3007', i.line, `${image}: "latest" moves; pin a release or a digest`);
          else if (!digest && tag && !/\d+\.\d+/.test(tag)) add('DL-pin', i.line, `${image}: the tag names no minor release, so a rebuild may get another Node; pin major.minor(.patch) or a digest`);
        }
        if (alias) stageNames.add(alias);
        break;
      }
      case 'ADD': {
        const { rest } = splitFlags(i.args);
        if (rest.slice(0, -1).some((s) => /^[a-z]+:\/\//i.test(s))) add('DL3020-url', i.line, 'ADD of a URL fetches unverified content at build time; download with a checksum in a RUN, or COPY a vendored file');
        else add('DL3020', i.line, 'use COPY for files and folders; ADD also unpacks archives and fetches URLs');
        break;
      }
      case 'ENV':
      case 'ARG':
        for (const a of assignments(i.args)) {
          if (a.value !== undefined && a.value !== '' && a.value !== '""' && SECRET_NAME.test(a.name)) {
            add('secret-in-image', i.line, `${i.keyword} ${a.name} has a value baked into the image (every layer and docker history keep it); pass it at run time from a secret`);
          } else if (a.value && SECRET_VALUE.test(a.value)) {
            add('secret-in-image', i.line, `${i.keyword} ${a.name} holds what looks like a key; pass it at run time from a secret`);
          }
        }
        break;
      case 'RUN': {
        const run = i.args;
        if (/\bsudo\b/.test(run)) add('DL3004', i.line, 'sudo in RUN: the build runs as root already; drop privileges with USER');
        if (/\bapt-get\s+(-\S+\s+)*install\b/.test(run)) {
          if (!/--no-install-recommends/.test(run)) add('DL3015', i.line, 'apt-get install without --no-install-recommends pulls in packages nobody asked for');
          if (!/rm -rf \/var\/lib\/apt\/lists/.test(run)) add('DL3009', i.line, 'apt lists left in the layer; rm -rf /var/lib/apt/lists/* in the same RUN');
          if (!/\s-y\b|--yes|--assume-yes/.test(run)) add('DL3014', i.line, 'apt-get install without -y waits for an answer');
        }
        if (/\b(curl|wget)\b[^|;&]*\|\s*(ba|z)?sh\b/.test(run)) add('pipe-to-shell', i.line, 'a script piped from the network into a shell runs unverified code');
        break;
      }
      case 'WORKDIR':
        if (!i.args.startsWith('/') && !i.args.startsWith('$')) add('DL3000', i.line, `WORKDIR ${i.args}: use an absolute path`);
        break;
      case 'ENTRYPOINT':
      case 'CMD':
        if (!isExecForm(i.args)) add('DL3025', i.line, `${i.keyword} in shell form runs under /bin/sh, which does not pass SIGTERM on; use the JSON (exec) form`);
        break;
      case 'HEALTHCHECK':
        if (/^NONE$/i.test(i.args.trim())) add('healthcheck', i.line, 'HEALTHCHECK NONE turns the health check off');
        break;
      default:
        break;
    }
  }

  const final = ins.filter((i) => i.stage === finalStage);
  const users = final.filter((i) => i.keyword === 'USER');
  const lastUser = users.at(-1)?.args.split(':')[0];
  if (!lastUser) add('DL3002', froms.at(-1)?.line ?? 1, 'the final stage sets no USER, so the process runs as root');
  else if (lastUser === 'root' || lastUser === '0') add('DL3002', users.at(-1)!.line, 'the last USER is root');
  if (!final.some((i) => i.keyword === 'HEALTHCHECK')) add('healthcheck', froms.at(-1)?.line ?? 1, 'the final stage has no HEALTHCHECK');
  if (final.filter((i) => i.keyword === 'ENTRYPOINT').length > 1) add('DL4004', final.find((i) => i.keyword === 'ENTRYPOINT')!.line, 'more than one ENTRYPOINT: only the last counts');
  if (final.filter((i) => i.keyword === 'CMD').length > 1) add('DL4003', final.find((i) => i.keyword === 'CMD')!.line, 'more than one CMD: only the last counts');
  return problems;
}

/** Sources of the COPY instructions that read the build context (not `--from` another stage). */
export function contextSources(text: string): Array<{ source: string; line: number }> {
  const out: Array<{ source: string; line: number }> = [];
  for (const i of parseDockerfile(text)) {
    if (i.keyword !== 'COPY' && i.keyword !== 'ADD') continue;
    const { flags, rest } = splitFlags(i.args);
    if (flags.some((f) => f.startsWith('--from'))) continue;
    const paths = isExecForm(rest.join(' ')) ? (JSON.parse(rest.join(' ')) as string[]) : rest;
    for (const source of paths.slice(0, -1)) out.push({ source, line: i.line });
  }
  return out;
}

/**
 * Whether .dockerignore leaves `path` out of the build context. Covers the patterns ours uses: `**` + `/` prefixes,
 * `*` within a segment, a plain name matching at the root, and a pattern matching a parent folder. No `!` rules.
 */
export function dockerignored(patterns: readonly string[], path: string): boolean {
  const segments = path.replace(/^\.\//, '').replace(/\/$/, '').split('/');
  const toRegex = (p: string) =>
    new RegExp(
      `^${p
        .split('/')
        .map((seg) => (seg === '**' ? '(?:.*/)?' : `${seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}/`))
        .join('')
        .replace(/\/$/, '')}$`,
    );
  const rules = patterns.map((p) => p.trim()).filter((p) => p && !p.startsWith('#'));
  for (let n = 1; n <= segments.length; n++) {
    const prefix = segments.slice(0, n).join('/');
    if (rules.some((r) => toRegex(r.replace(/^\//, '')).test(prefix))) return true;
  }
  return false;
}
