/** Small helpers shared by the code-edit parsers and checks. */

export function splitLines(text: string): string[] {
  return text.split(/\r?\n/);
}

const EXT_LANG: Record<string, string> = {
  ts: 'ts', mts: 'ts', cts: 'ts', tsx: 'tsx',
  js: 'js', mjs: 'js', cjs: 'js', jsx: 'jsx',
  json: 'json', jsonc: 'json', py: 'py', pyi: 'py', go: 'go', rs: 'rs', java: 'java', kt: 'kt', rb: 'rb',
  php: 'php', cs: 'cs', c: 'c', h: 'c', cpp: 'cpp', cc: 'cpp', hpp: 'cpp', swift: 'swift', scala: 'scala',
  sh: 'sh', bash: 'sh', zsh: 'sh', md: 'md', markdown: 'md', txt: 'txt', rst: 'rst', yaml: 'yaml', yml: 'yaml',
  toml: 'toml', css: 'css', scss: 'scss', html: 'html', htm: 'html', vue: 'vue', svelte: 'svelte', sql: 'sql',
  lua: 'lua', xml: 'xml',
};

/** Language id from a file name's extension, or undefined. */
export function languageOf(file: string | undefined): string | undefined {
  if (!file) return undefined;
  const base = file.split(/[\\/]/).pop() ?? file;
  const m = /\.([A-Za-z0-9]+)$/.exec(base);
  if (!m) return undefined;
  return EXT_LANG[m[1]!.toLowerCase()];
}

const BARE_NAMES = new Set(['Makefile', 'Dockerfile', 'Gemfile', 'Rakefile', 'Procfile', 'Jenkinsfile', 'LICENSE', 'README']);

/**
 * The file path a line names on its own (aider puts the path alone on the line before a block), after
 * stripping markdown decoration: `**src/a.ts**`, `` `src/a.ts`: ``, `### src/a.ts`, `File: src/a.ts`.
 */
export function pathFromLine(line: string): string | undefined {
  let s = line.trim();
  if (s === '' || s.length > 300) return undefined;
  s = s.replace(/^#{1,6}\s+/, '').replace(/^(?:[-*]\s+)/, '');
  s = s.replace(/^(?:file(?:name)?|path)\s*:\s*/i, '');
  s = s.replace(/:$/, '').trim();
  s = s.replace(/^(\*\*|\*|`|_)(.*)\1$/, '$2').replace(/^`(.*)`$/, '$1').replace(/:$/, '').trim();
  if (!/^[\w@~+.\/\\-]+$/.test(s) || !/[A-Za-z]/.test(s) || s.includes('://')) return undefined;
  if (s.endsWith('/') || s.endsWith('.')) return undefined;
  const base = s.split(/[\\/]/).pop() ?? s;
  if (/\.[A-Za-z][\w]{0,9}$/.test(base) || BARE_NAMES.has(base) || (s.includes('/') && base.length > 0)) return s;
  return undefined;
}

/** Canonical form for comparing paths: forward slashes, no `./`, `a/`, `b/` diff prefixes. */
export function normPath(p: string): string {
  let s = p.trim().replace(/\\/g, '/').replace(/\t.*$/, '');
  s = s.replace(/^"(.*)"$/, '$1');
  if (/^[ab]\//.test(s)) s = s.slice(2);
  while (s.startsWith('./')) s = s.slice(2);
  return s;
}

export function samePath(a: string, b: string): boolean {
  const x = normPath(a);
  const y = normPath(b);
  return x === y || x.endsWith('/' + y) || y.endsWith('/' + x);
}

/** Whitespace-tolerant form: each line trimmed with inner runs collapsed, blank lines dropped. */
export function normWs(text: string): string {
  return splitLines(text)
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '')
    .join('\n');
}

export function normLine(line: string): string {
  return line.trim().replace(/\s+/g, ' ');
}

/** Drop one trailing newline-induced empty line. */
export function joinLines(lines: string[]): string {
  return lines.join('\n');
}
