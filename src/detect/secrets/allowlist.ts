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
  '***',
  '•••',
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
  return false;
}

/** True for a password that is a well-known default (compared case-insensitively) or repeats the user name. */
export function isDefaultPassword(password: string, user?: string): boolean {
  const lower = password.toLowerCase();
  if (DEFAULT_PASSWORDS.has(lower)) return true;
  if (user !== undefined && user.length > 0 && lower === user.toLowerCase()) return true;
  return false;
}
