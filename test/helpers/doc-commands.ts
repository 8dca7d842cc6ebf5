import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command, Option } from 'commander';

/**
 * The commands the documentation shows, as the docs test (test/e2e/docs-commands.test.ts) checks them:
 * - `shell`: a line of a ```sh / bash / console block (continued lines joined, a trailing `# comment` dropped);
 * - `example`: a `$ …` line, or a `kt …` line without placeholders, in a block without a language;
 * - `synopsis`: a `kt …` line with placeholders (`[--flag FILE]`, `a|b`, `ID`), continuation lines joined;
 * - `inline`: a `kt …` code span in the prose;
 * - `help`: a `$ kt …` example in a command's --help text.
 */
export interface DocCommand {
  /** Where it is written: a path relative to the project, or `kt … --help`. */
  file: string;
  line: number;
  kind: 'shell' | 'example' | 'synopsis' | 'inline' | 'help';
  text: string;
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console', 'zsh']);

/** README.md, docs/*.md and examples/<name>/README.md, as paths relative to `root`. */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));
  const examples = readdirSync(join(root, 'examples'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      try {
        readFileSync(join(root, 'examples', d.name, 'README.md'));
        return [join('examples', d.name, 'README.md')];
      } catch {
        return [];
      }
    });
  return ['README.md', ...docs.sort(), ...examples.sort()];
}

/** A trailing `  # comment` outside quotes, as a shell would drop it. */
export function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

/** Placeholders mark a synopsis: brackets, alternatives, `...`, `<x>` or an ALL-CAPS word such as FILE or ID. */
function isSynopsis(line: string): boolean {
  return /[[\]]|\.\.\.|<[^>]+>|(^|\s)[A-Z][A-Z_]+(\s|$)|\s[a-z-]+\|[a-z-]+/.test(line.replace(/"[^"]*"|'[^']*'/g, ''));
}

export function extractDocCommands(root: string): DocCommand[] {
  const out: DocCommand[] = [];
  for (const file of docFiles(root)) {
    const lines = readFileSync(join(root, file), 'utf8').split('\n');
    let fence: { lang: string } | undefined;
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i]!;
      const open = /^\s*```\s*([\w+-]*)\s*$/.exec(raw);
      if (open) {
        fence = fence ? undefined : { lang: open[1]!.toLowerCase() };
        continue;
      }
      if (!fence) {
        for (const m of raw.matchAll(/`((?:npx )?kt [^`]+)`/g)) out.push({ file, line: i + 1, kind: 'inline', text: m[1]!.replace(/\\\|/g, '|') });
        continue;
      }
      const at = i + 1;
      if (SHELL_LANGS.has(fence.lang)) {
        let text = raw;
        while (/\\\s*$/.test(text) && i + 1 < lines.length && !/^\s*```/.test(lines[i + 1]!)) text = `${text.replace(/\\\s*$/, '')} ${lines[++i]!.trim()}`;
        const cmd = stripComment(text.replace(/^\s*\$\s+/, '')).trim();
        if (cmd) out.push({ file, line: at, kind: 'shell', text: cmd });
      } else if (fence.lang === '') {
        const dollar = /^\s*\$\s+(.*)$/.exec(raw);
        if (dollar) {
          out.push({ file, line: at, kind: 'example', text: stripComment(dollar[1]!) });
        } else if (/^\s*(npx )?kt(\s|$)/.test(raw)) {
          let text = stripComment(raw).trim();
          // A synopsis goes on over indented lines that start with an option group.
          while (i + 1 < lines.length && /^\s+\[/.test(lines[i + 1]!)) text = `${text} ${lines[++i]!.trim()}`;
          out.push({ file, line: at, kind: isSynopsis(text) ? 'synopsis' : 'example', text });
        }
      }
    }
  }
  return out;
}

// ---- the command tree ---------------------------------------------------------------------------------------------

/** Every command under `program`, by its path without the program's name (`events tail`). */
export function commandsByPath(program: Command): Map<string, Command> {
  const out = new Map<string, Command>();
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      if (sub.name() === 'help') continue;
      const p = [...path, sub.name()];
      out.set(p.join(' '), sub);
      walk(sub, p);
    }
  };
  walk(program, []);
  return out;
}

/** The options a command accepts: its own and its ancestors' (commander parses a parent's options anywhere). */
export function acceptedOptions(cmd: Command): Option[] {
  const out: Option[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) out.push(...c.options);
  return out;
}

/** The `$ kt …` examples of every command's --help, as shell lines. */
export function helpExamples(program: Command): DocCommand[] {
  const out: DocCommand[] = [];
  for (const [path, cmd] of [['', program] as const, ...commandsByPath(program)]) {
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
    cmd.outputHelp();
    text.split('\n').forEach((l, i) => {
      const m = /^\s*\$ (.*?)(\s{2,}\(.*)?$/.exec(l);
      if (m && /^(npx )?kt\b/.test(m[1]!)) out.push({ file: `kt ${path} --help`.replace('  ', ' '), line: i + 1, kind: 'help', text: stripComment(m[1]!) });
    });
  }
  return out;
}

/** Words of a command line, quotes kept together, `\|` (a pipe escaped in a Markdown table) read as `|`. */
export function words(text: string): string[] {
  return [...text.matchAll(/"[^"]*"|'[^']*'|\S+/g)].map((m) => m[0]);
}

const SHELL_STOP = new Set(['|', '||', '&&', ';', '>', '>>', '<', '2>', '2>&1', '&']);

export interface CommandProblem {
  where: string;
  text: string;
  problem: string;
}

/**
 * Check one documented `kt` line against the command tree: the command exists (`a/b/c` names several), every
 * option exists on it, and a value written as alternatives (`--format json|csv`) or as a literal of an option
 * with fixed choices is one of them. Placeholders (FILE, `<id>`, `…`) are not values.
 */
export function checkAgainstTree(doc: DocCommand, tree: Map<string, Command>, program: Command): CommandProblem[] {
  const problems: CommandProblem[] = [];
  const where = `${doc.file}:${doc.line}`;
  const say = (problem: string) => problems.push({ where, text: doc.text, problem });
  const w = words(doc.text.replace(/^npx /, ''));
  if (w[0] !== 'kt') return problems;
  // The command path: words naming subcommands, `a/b` naming several.
  let paths = [''];
  let i = 1;
  for (; i < w.length; i++) {
    const alternatives = w[i]!.split('/');
    const next = paths.flatMap((p) => alternatives.map((a) => (p ? `${p} ${a}` : a)));
    if (!next.every((p) => tree.has(p))) break;
    paths = next;
  }
  if (paths[0] === '' && i < w.length && !w[i]!.startsWith('-') && !w[i]!.startsWith('[') && !w[i]!.startsWith('<')) {
    say(`no command "${w[i]}"`);
    return problems;
  }
  for (const path of paths) {
    const cmd = path ? tree.get(path)! : program;
    const options = acceptedOptions(cmd);
    const find = (flag: string) => options.find((o) => o.long === flag || o.short === flag) ?? (['-h', '--help'].includes(flag) || (path === '' && ['-V', '--version'].includes(flag)) ? ({ argChoices: undefined } as unknown as Option) : undefined);
    for (let j = i; j < w.length; j++) {
      const word = w[j]!;
      if (word === '--' || SHELL_STOP.has(word)) break;
      const flags = word.replace(/^[[(]+|[\])]+(\.\.\.)?,?$|\.\.\.$|,$/g, '');
      if (!/^-{1,2}[A-Za-z]/.test(flags)) continue;
      for (const part of flags.split('|')) {
        const [flag, inline] = part.split('=', 2) as [string, string | undefined];
        if (!/^-{1,2}[A-Za-z][\w-]*$/.test(flag)) continue;
        const option = find(flag);
        if (!option) {
          say(`kt ${path} has no option ${flag}`);
          continue;
        }
        const value = inline ?? (option.required || option.optional ? w[j + 1]?.replace(/[\])]+(\.\.\.)?$/, '') : undefined);
        if (!option.argChoices || value === undefined || /^[A-Z][A-Z_]*$|^</.test(value) || value.includes('…')) continue;
        for (const v of value.split('|')) if (!option.argChoices.includes(v)) say(`kt ${path} ${flag} does not take "${v}" (choices: ${option.argChoices.join(', ')})`);
      }
    }
  }
  return problems;
}

/** The text of each `#`-heading section of a Markdown file that names `kt <path>` in its title, subsections included. */
export function sectionsNaming(markdown: string, path: string): string[] {
  const lines = markdown.split('\n');
  // Heading levels by line; a `#` line inside a fenced block (a YAML comment) is no heading.
  let fenced = false;
  const levels = lines.map((l) => {
    if (/^\s*```/.test(l)) fenced = !fenced;
    const h = !fenced && /^(#+)\s/.exec(l);
    return h ? h[1]!.length : 0;
  });
  const out: string[] = [];
  lines.forEach((l, i) => {
    const level = levels[i]!;
    if (level === 0 || !l.includes(`\`kt ${path}\``)) return;
    let end = i + 1;
    while (end < lines.length && !(levels[end]! > 0 && levels[end]! <= level)) end++;
    out.push(lines.slice(i, end).join('\n'));
  });
  return out;
}
