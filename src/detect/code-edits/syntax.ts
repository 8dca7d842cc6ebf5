/** Syntax checks for edited code: JS/TS via @babel/parser, JSON via JSON.parse, brackets for anything else. */
import { parse, type ParserPlugin } from '@babel/parser';

export interface SyntaxResult {
  ok: boolean;
  /** Short, code-free: `line 3:5 (UnexpectedToken)`. */
  message?: string;
}

const JS_LANGS = new Set(['js', 'jsx', 'ts', 'tsx']);

export function syntaxSupported(language: string | undefined): boolean {
  return language !== undefined && (JS_LANGS.has(language) || language === 'json');
}

function plugins(language: string): ParserPlugin[] {
  const common: ParserPlugin[] = ['decorators-legacy', 'importAttributes'];
  if (language === 'ts') return ['typescript', ...common];
  if (language === 'tsx') return ['typescript', 'jsx', ...common];
  return ['jsx', ...common];
}

function babel(code: string, language: string): SyntaxResult {
  try {
    parse(code, {
      sourceType: 'module',
      allowReturnOutsideFunction: true,
      allowAwaitOutsideFunction: true,
      allowImportExportEverywhere: true,
      allowSuperOutsideMethod: true,
      allowUndeclaredExports: true,
      allowNewTargetOutsideFunction: true,
      errorRecovery: false,
      plugins: plugins(language),
    });
    return { ok: true };
  } catch (err) {
    const e = err as { loc?: { line: number; column: number }; reasonCode?: string };
    const where = e.loc ? `line ${e.loc.line}:${e.loc.column + 1}` : 'unknown position';
    return { ok: false, message: `${where}${e.reasonCode ? `, ${e.reasonCode}` : ''}` };
  }
}

/** Strip // and /* *\/ comments and trailing commas (tsconfig-style JSONC). */
function stripJsonc(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j;
    } else if (ch === '/' && s[i + 1] === '/') {
      while (i < s.length && s[i] !== '\n') i++;
      out += '\n';
    } else if (ch === '/' && s[i + 1] === '*') {
      const end = s.indexOf('*/', i + 2);
      i = end < 0 ? s.length : end + 1;
    } else out += ch;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

function json(code: string, file?: string): SyntaxResult {
  const lenient = !!file && /(^|\/)(tsconfig[^/]*|jsconfig[^/]*|\.?vscode\/[^/]*|[^/]*\.jsonc)$/i.test(file);
  try {
    JSON.parse(lenient ? stripJsonc(code) : code);
    return { ok: true };
  } catch (err) {
    const m = /position (\d+)/.exec(String((err as Error).message));
    if (!m) return { ok: false, message: 'invalid JSON' };
    const before = code.slice(0, Number(m[1]));
    const line = before.split('\n').length;
    const col = before.length - before.lastIndexOf('\n');
    return { ok: false, message: `invalid JSON at line ${line}:${col}` };
  }
}

/** Full parse of `code` as a file; undefined when the language is not supported. */
export function checkSyntax(code: string, language: string | undefined, file?: string): SyntaxResult | undefined {
  if (!language) return undefined;
  if (JS_LANGS.has(language)) return babel(code, language);
  if (language === 'json') return json(code, file);
  return undefined;
}

/** Does a fragment parse on its own, as a program or as class members? */
export function parsesStandalone(code: string, language: string | undefined): boolean {
  if (!syntaxSupported(language)) return false;
  if (code.trim() === '') return true;
  if (checkSyntax(code, language)?.ok) return true;
  if (language !== 'json') return !!checkSyntax(`class __K {\n${code}\n}`, language)?.ok;
  return false;
}

/**
 * Net bracket balance per kind (`(`, `[`, `{`), skipping strings and comments. Used on fragments: an edit that
 * changes the net balance of what it replaces leaves the file unbalanced.
 */
export function bracketDelta(code: string, language: string | undefined): [number, number, number] {
  const d: [number, number, number] = [0, 0, 0];
  const hashComments = language === 'py' || language === 'rb' || language === 'sh' || language === 'yaml' || language === 'toml';
  const slashComments = !hashComments;
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (hashComments && ch === '#') {
      while (i < code.length && code[i] !== '\n') i++;
      continue;
    }
    if (slashComments && ch === '/' && code[i + 1] === '/') {
      while (i < code.length && code[i] !== '\n') i++;
      continue;
    }
    if (slashComments && ch === '/' && code[i + 1] === '*') {
      const end = code.indexOf('*/', i + 2);
      i = end < 0 ? code.length : end + 1;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === '`') {
      const triple = code.startsWith(ch.repeat(3), i) && language === 'py';
      const close = triple ? ch.repeat(3) : ch;
      let j = i + close.length;
      while (j < code.length && !code.startsWith(close, j)) {
        if (!triple && ch !== '`' && code[j] === '\n') break; // unterminated single-line string: stop at EOL
        j += code[j] === '\\' ? 2 : 1;
      }
      i = j + close.length - 1;
      continue;
    }
    const k = '([{'.indexOf(ch);
    if (k >= 0) d[k]!++;
    const c = ')]}'.indexOf(ch);
    if (c >= 0) d[c]!--;
  }
  return d;
}
