/**
 * Placeholder detection: values that documentation, templates and sample configs put where a secret goes.
 * A value that is a placeholder is never reported, whichever rule found it.
 */

import { isGatewayPlaceholder } from '../placeholder-shape.js';

/** Lower-case substrings that mark a value as a placeholder or a reference to one. */
const PLACEHOLDER_SUBSTRINGS: readonly string[] = [
  'example',
  'sample',
  'dummy',
  'placeholder',
  'your_',
  'your-',
  'yourkey',
  'yourtoken',
  'yoursecret',
  'yourpassword',
  'xxxx',
  '<',
  '>',
  '${',
  '$(',
  '{{',
  '}}',
  '#{',
  '%(',
  'process.env',
  'import.meta.env',
  'os.environ',
  'os.getenv',
  'getenv(',
  'env(',
  'env[',
  'redacted',
  'changeme',
  'change_me',
  'change-me',
  'replace_me',
  'replace-me',
  'replaceme',
  'replace_with',
  'replace-with',
  'not_a_real',
  'not-a-real',
  'notreal',
  'fake',
  'insert_',
  'insert-',
  '_here',
  '-here',
  '...',
  '…',
  '***',
  '•••',
  '<your',
  'your',
  'insert',
  'paste',
  'goes_here',
  'goeshere',
  'todo',
  'lorem',
  'ipsum',
  '%%',
  '@@',
];

/** Well-known documentation credentials (compared exactly). */
const DOCUMENTATION_VALUES: ReadonlySet<string> = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
  'sk_test_4eC39HqLyjWDarjtT1zdp7dc',
  'sk_test_BQokikJOvBiI2HlWgH4olfQ2',
  'pk_test_TYooMQauvdEDq54NiTphI7jx',
  'sk_test_26PHem9AhJZvU623DfE1x4sd',
  'rk_test_26PHem9AhJZvU623DfE1x4sd',
  'whsec_1234567890abcdef1234567890abcdef',
  '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11',
  '110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
]);

/** Passwords that only ever appear as defaults in sample connection strings and URLs. */
const DEFAULT_PASSWORDS: ReadonlySet<string> = new Set([
  'password', 'passwd', 'pass', 'pwd', 'pw', 'secret', 'changeme', 'root', 'admin', 'administrator', 'postgres',
  'postgresql', 'mysql', 'mongo', 'mongodb', 'redis', 'rabbitmq', 'guest', 'test', 'testing', 'user', 'username',
  'default', 'dev', 'development', 'local', 'localhost', 'docker', 'example', 'demo', 'sample', 'x', 'xx', 'xxx',
  'foo', 'bar', 'baz', 'foobar', 'qwerty', 'letmein', 'token', 'apikey', 'api_key', 'mypassword', 'my_password',
  'secretpassword', 'supersecret', 'hunter2', 'p@ssw0rd', 'passw0rd', 'password1', 'password123', '123456',
  '12345678', '1234', 'none', 'null', 'nil', 'empty', 'app', 'db', 'database', 'minio', 'minioadmin', 'sa',
  'x-oauth-basic', 'oauth2', 'api', 'key',
]);

const RUN_OF_SAME = /(.)\1{7}/;
const ALL_SAME = /^(.)\1*$/;
const WHOLE_VAR = /^(?:\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{[A-Za-z_][\w.]*\}|%s|:[a-z_]+)$/;

export interface PlaceholderCheck {
  /** Skip the run-of-identical-characters test (base64 key material has runs of `A`). */
  allowRuns?: boolean;
}

/** Wrapped stand-ins: `[API_KEY]`, `{token}`, `%PASSWORD%`, `@secret@`, `__TOKEN__`, `(password)`. */
const WRAPPED = /^(?:\[[^\]]*\]|\{[^}]*\}|%[^%]*%|@[^@]*@|__\w*__|\([^)]*\)|\$[A-Za-z_]\w*\$?)$/;
/** Keyboard rows: a run of six or more along one is typed, not generated. */
const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1234567890'];

/**
 * Typed filler rather than generated material: an ascending or descending run through the alphabet or digits
 * (`abcdef…`, `123456…`, `zyxwvu…`) of at least six characters, or a run along a keyboard row, making up at
 * least a third of the value (or twelve characters of it); or a short unit repeated (`abab…`, `1234 1234…`)
 * over half the value. A random 40-character base62 token holds a six-long run with probability below 1e-7.
 */
export function isTypedFiller(value: string): boolean {
  const v = value.toLowerCase();
  const n = v.length;
  if (n < 8) return false;
  let best = 0;
  for (const dir of [1, -1]) {
    let run = 1;
    for (let i = 1; i < n; i++) {
      const a = v.charCodeAt(i - 1);
      const b = v.charCodeAt(i);
      if (b - a === dir && isAlnumCode(a) && isAlnumCode(b)) {
        run++;
        if (run > best) best = run;
      } else run = 1;
    }
  }
  for (const row of KEYBOARD_ROWS) {
    let run = 0;
    for (let i = 0; i < n; i++) {
      const c = v[i]!;
      const prev = i > 0 ? v[i - 1]! : '';
      const at = row.indexOf(c);
      if (at >= 0 && run > 0 && row.indexOf(prev) === at - 1) run++;
      else run = at >= 0 ? 1 : 0;
      if (run > best) best = run;
    }
  }
  if (best >= 6 && (best * 3 >= n || best >= 12)) return true;
  // A unit of 1–8 characters repeated: the longest stretch where v[i] === v[i - p].
  for (let p = 1; p <= 8; p++) {
    let run = 0;
    let longest = 0;
    for (let i = p; i < n; i++) {
      if (v.charCodeAt(i) === v.charCodeAt(i - p)) {
        run++;
        if (run > longest) longest = run;
      } else run = 0;
    }
    if (longest + p >= 16 && (longest + p) * 2 >= n) return true;
  }
  return false;
}

function isAlnumCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122);
}

/** Words that fill out a stand-in named after its variable: `your_api_key`, `slack-token-value`. */
const FILLER_WORDS: ReadonlySet<string> = new Set([
  'my', 'your', 'the', 'a', 'value', 'here', 'goes', 'put', 'insert', 'enter', 'set', 'new', 'real', 'actual', 'key',
  'secret', 'token', 'password', 'pass', 'pwd', 'api', 'apikey', 'access', 'auth', 'client', 'id', 'change', 'me',
  'replace', 'with', 'xxx', 'str', 'string', 'env', 'var', 'test', 'dev', 'prod',
]);

function splitWords(s: string): string[] {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/**
 * The value is its variable's own name, or made of the name's words and filler: `API_KEY=API_KEY`,
 * `password: "password"`, `SLACK_BOT_TOKEN=slack-bot-token-here`, `db_pass = "your_db_pass"`.
 */
export function isSelfNamed(value: string, key: string): boolean {
  const nv = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  const nk = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (nv.length === 0 || nk.length < 3) return false;
  if (nv === nk || (nk.length >= 5 && nv.includes(nk)) || (nv.length >= 5 && nk.includes(nv))) return true;
  const valueWords = splitWords(value);
  if (valueWords.length < 2) return false;
  const keyWords = new Set(splitWords(key));
  let fromKey = 0;
  for (const w of valueWords) {
    if (keyWords.has(w)) fromKey++;
    else if (!FILLER_WORDS.has(w) && !/^\d{1,4}$/.test(w)) return false;
  }
  return fromKey > 0;
}

/** True when `value` is a placeholder, a template reference or a documentation key. */
export function isPlaceholder(value: string, extra: readonly string[], opts: PlaceholderCheck = {}): boolean {
  if (DOCUMENTATION_VALUES.has(value)) return true;
  if (isGatewayPlaceholder(value)) return true;
  for (const lit of extra) if (lit.length > 0 && value.includes(lit)) return true;
  const lower = value.toLowerCase();
  for (const s of PLACEHOLDER_SUBSTRINGS) if (lower.includes(s)) return true;
  if (ALL_SAME.test(value)) return true;
  if (WHOLE_VAR.test(value)) return true;
  if (!opts.allowRuns && RUN_OF_SAME.test(value)) return true;
  if (WRAPPED.test(value)) return true;
  if (!opts.allowRuns && isTypedFiller(value)) return true;
  return false;
}

/** True for a password that is a well-known default (compared case-insensitively) or repeats the user name. */
export function isDefaultPassword(password: string, user?: string): boolean {
  const lower = password.toLowerCase();
  if (DEFAULT_PASSWORDS.has(lower)) return true;
  if (user !== undefined && user.length > 0 && lower === user.toLowerCase()) return true;
  return false;
}
