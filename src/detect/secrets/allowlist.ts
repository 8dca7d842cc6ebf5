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

/**
 * Placeholder words short enough to turn up inside random material (`…WMyyoUrzgPB…` holds `your`; a random
 * 36-character base62 token holds one of these four-letter words about once in 10,000). They count only as a word
 * of the value: in one case (`your`, `YOUR`, `Your`; `xxxx`, `XXXX`) and, for letters, starting or ending at a
 * boundary (the value's ends, a non-letter, a camelCase change).
 */
const SHORT_WORDS: ReadonlySet<string> = new Set(['your', 'xxxx', 'fake', 'todo', 'paste', 'lorem', 'ipsum', 'dummy', 'insert']);

function isLowerCode(c: number): boolean {
  return c >= 97 && c <= 122;
}
function isUpperCode(c: number): boolean {
  return c >= 65 && c <= 90;
}

function occursAsWord(value: string, lower: string, word: string): boolean {
  for (let at = lower.indexOf(word); at >= 0; at = lower.indexOf(word, at + 1)) {
    const slice = value.slice(at, at + word.length);
    const rest = slice.slice(1);
    // One case: all lower, all upper, or capitalised.
    if (!(slice === slice.toLowerCase() || slice === slice.toUpperCase() || rest === rest.toLowerCase())) continue;
    if (word === 'xxxx') return true;
    const before = at > 0 ? value.charCodeAt(at - 1) : -1;
    const after = at + word.length < value.length ? value.charCodeAt(at + word.length) : -1;
    const first = value.charCodeAt(at);
    const last = value.charCodeAt(at + word.length - 1);
    const startsWord = !(isLowerCode(before) || isUpperCode(before)) || (isLowerCode(before) && isUpperCode(first));
    const endsWord = !(isLowerCode(after) || isUpperCode(after)) || (isLowerCode(last) && isUpperCode(after));
    if (startsWord || endsWord) return true;
  }
  return false;
}

/** Well-known documentation credentials (compared exactly). */
const DOCUMENTATION_VALUES: ReadonlySet<string> = new Set([
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY',
  'key-3ax6xnjp29jd6fds4gc373sgvjxteol0', // Mailgun's documentation key
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
  // Eight in a row anywhere ("…70abcdefghJu…") is typed: a random base62 value of 200 characters holds one
  // with probability below 1e-10.
  if (best >= 8 || (best >= 6 && best * 3 >= n)) return true;
  if (interleavedRuns(v) || keyboardMash(v)) return true;
  // A unit repeated (`abab…`, `abcdef0123456789abcdef0123456789`): the longest stretch where v[i] === v[i - p],
  // for units up to half the value (values are at most a few hundred characters).
  for (let p = 1; p <= Math.min(64, n >> 1); p++) {
    let run = 0;
    let longest = 0;
    for (let i = p; i < n; i++) {
      if (v.charCodeAt(i) === v.charCodeAt(i - p)) {
        run++;
        if (run > longest) longest = run;
      } else run = 0;
    }
    // The unit appears at least twice in full, over sixteen characters and half the value.
    if (longest >= p && longest + p >= 16 && (longest + p) * 2 >= n) return true;
  }
  return false;
}

/** Position in the alphabet (0–25) or digit value (0–9) of a lower-case letter or digit; -1 otherwise. */
function letterIndex(c: number): number {
  return c >= 97 && c <= 122 ? c - 97 : -1;
}
function digitIndex(c: number): number {
  return c >= 48 && c <= 57 ? c - 48 : -1;
}

/**
 * Letters and digits counted apart, each an ascending or descending sequence: `a1b2c3d4…`,
 * `abcd1234efgh5678…`, `A1B2C3…P6`, `f8a7b6c5…` (letters up, digits down). Characters in runs of three or more (digits wrapping from 9 to 0) must make up three quarters of
 * a value of at least twelve. A random value's letters or digits form such runs with probability about 1 in 700
 * per position, far from three quarters of it.
 */
function interleavedRuns(v: string): boolean {
  const n = v.length;
  if (n < 12) return false;
  let covered = 0;
  for (const [index, modulo] of [[letterIndex, 26], [digitIndex, 10]] as const) {
    let bestDir = 0;
    for (const dir of [1, -1]) {
      let inRuns = 0;
      let prev = -1;
      let run = 0;
      for (let i = 0; i <= n; i++) {
        const x = i < n ? index(v.charCodeAt(i)) : -1;
        if (i < n && x < 0) continue; // the other class: skipped, not a break
        // Digits wrap (…8 9 0 1…); letters do not (z is not followed by a).
        const next = modulo === 10 ? (prev + dir + 10) % 10 : prev + dir;
        if (x >= 0 && prev >= 0 && x === next) run++;
        else {
          if (run >= 3) inRuns += run;
          run = x >= 0 ? 1 : 0;
        }
        prev = x;
      }
      bestDir = Math.max(bestDir, inRuns);
    }
    covered += bestDir;
  }
  return covered * 4 >= n * 3;
}

/**
 * Letters typed along one keyboard row (`sk_test_51H8x2ALkdjfhgaksjdfhg…`): sixteen or more from the same row,
 * nine in ten of all letters. For a random lower-case value the chance is about 1e-6 (the top row holds ten
 * letters of 26), and far lower for longer or mixed-case values.
 */
function keyboardMash(v: string): boolean {
  // Hex digits hold only six letters, half of them on the home row: no evidence either way.
  if (/^[0-9a-f]*$/.test(v)) return false;
  let letters = 0;
  const inRow = [0, 0, 0];
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c < 'a' || c > 'z') continue;
    letters++;
    for (let r = 0; r < 3; r++) if (KEYBOARD_ROWS[r]!.includes(c)) inRow[r]!++;
  }
  return inRow.some((k) => k >= 16 && k * 10 >= letters * 9);
}

/** Metasyntactic words: a value made of them (`foobarbazqux`, `hoge_fuga`) is a stand-in. */
const METASYNTACTIC = ['foo', 'bar', 'baz', 'qux', 'quux', 'quuz', 'corge', 'grault', 'garply', 'waldo', 'fred', 'plugh', 'xyzzy', 'thud', 'hoge', 'fuga', 'piyo', 'spam', 'eggs'];

/** The value's letters (at least six, and most of the value) split wholly into metasyntactic words. */
export function isMetasyntactic(value: string): boolean {
  const letters = value.toLowerCase().replace(/[^a-z]/g, '');
  if (letters.length < 6 || letters.length * 2 < value.length) return false;
  // Segmentation by dynamic programming over at most a few hundred characters.
  const ok = new Uint8Array(letters.length + 1);
  ok[0] = 1;
  for (let i = 0; i < letters.length; i++) {
    if (!ok[i]) continue;
    for (const w of METASYNTACTIC) if (letters.startsWith(w, i)) ok[i + w.length] = 1;
  }
  return ok[letters.length] === 1;
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
  for (const s of PLACEHOLDER_SUBSTRINGS) {
    if (!lower.includes(s)) continue;
    if (!SHORT_WORDS.has(s) || occursAsWord(value, lower, s)) return true;
  }
  if (ALL_SAME.test(value)) return true;
  if (WHOLE_VAR.test(value)) return true;
  if (!opts.allowRuns && RUN_OF_SAME.test(value)) return true;
  if (WRAPPED.test(value)) return true;
  if (!opts.allowRuns && isTypedFiller(value)) return true;
  if (isMetasyntactic(value)) return true;
  return false;
}

/** True for a password that is a well-known default (compared case-insensitively) or repeats the user name. */
export function isDefaultPassword(password: string, user?: string): boolean {
  const lower = password.toLowerCase();
  if (DEFAULT_PASSWORDS.has(lower)) return true;
  if (user !== undefined && user.length > 0 && lower === user.toLowerCase()) return true;
  return false;
}
