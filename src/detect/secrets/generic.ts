import { isDefaultPassword, isPlaceholder } from './allowlist.js';
import { customRule, type RuleMatchContext, type SecretRule } from './rule.js';
import { countPairs } from './wordlike.js';

/**
 * Generic assignments: `password = "…"`, `api_key: …`, `"client_secret": "…"`, `export TOKEN=…`. The key
 * name says "secret", the value must look random (entropy gate in the rule, shape checks here), and the
 * span is the value alone.
 */

const EXCLUDED_KEY_WORDS: ReadonlySet<string> = new Set([
  'url', 'uri', 'urls', 'endpoint', 'host', 'path', 'file', 'filename', 'files', 'dir', 'name', 'names', 'type',
  'types', 'count', 'length', 'len', 'max', 'min', 'limit', 'ref', 'refs', 'arn', 'id', 'ids', 'hash', 'hashed',
  'digest', 'field', 'fields', 'label', 'prompt', 'placeholder', 'header', 'env', 'var', 'regex', 'regexp',
  'pattern', 'policy', 'expiry', 'expires', 'expiration', 'expire', 'ttl', 'tokens', 'tokenizer', 'tokenize',
  'usage', 'kind', 'format', 'mode', 'enabled', 'enable', 'required', 'version', 'input', 'location', 'lifetime',
  'rotation', 'provider', 'store', 'manager', 'timeout', 'size', 'color', 'colour', 'icon', 'validator',
  'validation', 'error', 'errors', 'message', 'msg', 'text', 'title', 'hint', 'help', 'description', 'desc',
  'display', 'strength', 'template', 'schema', 'column', 'table', 'prefix', 'suffix', 'selector', 'style',
  'visible', 'show', 'toggle', 'button', 'btn', 'link', 'route', 'index', 'idx', 'bytes', 'bits', 'seconds',
  'secs', 'ms', 'algorithm', 'alg', 'encoding', 'generator', 'generate', 'reset', 'forgot', 'page',
  'view', 'form', 'component', 'handler', 'callback', 'fn', 'func', 'method',
  'module', 'public', 'pub', 'question', 'answer', 'status', 'state', 'source', 'sources', 'lookup', 'backend',
  'cache', 'keys',
  // Opaque values that are not credentials: pagination cursors, content digests, key and certificate ids.
  'next', 'continuation', 'cursor', 'etag', 'checksum', 'fingerprint', 'thumbprint', 'md5', 'sha', 'sha1', 'sha256',
  'sha384', 'sha512', 'crc', 'crc32', 'kid',
  // Stored beside the ciphertext, public by design: initialisation vectors (a salt can be a secret pepper).
  'iv',
  // Values a key name says are fake.
  'mock', 'fake', 'dummy', 'sample', 'example',
]);

/** Words that, before `key`, make it a secret key (`api_key`, `signingKey`, `SECRET_KEY`). */
const KEY_QUALIFIERS: ReadonlySet<string> = new Set([
  'api', 'access', 'secret', 'private', 'priv', 'auth', 'signing', 'sign', 'encryption', 'encrypt', 'enc',
  'master', 'client', 'app', 'application', 'account', 'license', 'licence', 'admin', 'session', 'subscription',
  'shared', 'hmac', 'jwt', 'webhook', 'server', 'write', 'ingest', 'sdk', 'management', 'root', 'crypto', 'cipher',
  'aes', 'rest', 'service', 'consumer', 'storage',
]);

const BYPASS_LIKE = /^(?:by|com|sur|over|under|tres|im|en)pass$|^pass(?:age|enger|ive|ed|es|ing|port|through|thru|over|able|ion)/;

export type GenericKind = 'password' | 'secret' | 'token' | 'api-key';

/** Start and end of the identifier around `pos`: `[\w.-]` characters, at most 64 either side. */
function keySpan(text: string, pos: number): [number, number] {
  let a = pos;
  const lo = Math.max(0, pos - 64);
  while (a > lo && isKeyChar(text.charCodeAt(a - 1))) a--;
  let b = pos;
  const hi = Math.min(text.length, pos + 64);
  while (b < hi && isKeyChar(text.charCodeAt(b))) b++;
  return [a, b];
}

/** The identifier around `pos`, leading dashes and dots dropped (`--db-password` → `db-password`). */
export function keyAround(text: string, pos: number): string {
  const [a, b] = keySpan(text, pos);
  return text.slice(a, b).replace(/^[-.]+/, '');
}

/** For `"KEY", "value"`: the key must be the first argument of a call (`os.Setenv(`, `headers.set(`), not an array item. */
function keyIsFirstArgument(text: string, pos: number): boolean {
  let i = keySpan(text, pos)[0] - 1;
  if (text[i] !== '"' && text[i] !== "'") return false;
  i--;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i--;
  return text[i] === '(';
}

function isKeyChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45 || c === 46;
}

/** `DB_PASSWORD` → [db, password]; `clientSecret` → [client, secret]; `x-api-key` → [x, api, key]. */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    // An acronym before a word (`APIKey` → `API Key`); a lookahead, as ([A-Z]+)([A-Z][a-z]) backtracks through
    // every capital of a long run from each start.
    .replace(/([A-Z])(?=[A-Z][a-z])/g, '$1 ')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

function isPasswordWord(w: string): boolean {
  if (BYPASS_LIKE.test(w)) return false;
  return w.includes('passw') || w.includes('passphrase') || w === 'pwd' || w.endsWith('pwd') || w === 'pass' || w === 'pw' || /^(?:db|admin|root|user|smtp|mail|ftp|ldap|redis|sql|my|app|bind)pass$/.test(w);
}

/** Whether the key name says the value is a secret of this kind (and nothing says it is not a value). */
export function keyIsSecret(words: readonly string[], kind: GenericKind): boolean {
  if (words.length === 0) return false;
  for (const w of words) if (EXCLUDED_KEY_WORDS.has(w)) return false;
  switch (kind) {
    case 'password':
      return words.some(isPasswordWord);
    case 'secret':
      return words.some((w) => w.includes('secret') && w !== 'secretsmanager');
    case 'token':
      return words.some((w) => w.includes('token') && !w.startsWith('tokeniz') && w !== 'tokens');
    case 'api-key':
      for (let i = 0; i < words.length; i++) {
        const w = words[i]!;
        if (w === 'apikey' || w === 'credential' || w === 'credentials' || w === 'creds' || w === 'auth' || w === 'authorization') return true;
        if (w.endsWith('apikey') || w.endsWith('accesskey') || w.endsWith('privatekey') || w.endsWith('secretkey') || w.endsWith('signingkey') || w.endsWith('masterkey')) return true;
        if (w === 'key' && i > 0 && KEY_QUALIFIERS.has(words[i - 1]!)) return true;
      }
      return false;
  }
}

const DOTTED_REFERENCE = /^[A-Za-z_$][A-Za-z_$]*\d{0,2}(?:\??\.[A-Za-z_$][A-Za-z_$]*\d{0,2}){1,8}$/;
const ENV_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;
const HASHED = /^(?:\$2[abxy]?\$\d\d\$|\$argon2|\$[156]\$|\$pbkdf2|pbkdf2[_:$]|sha(?:1|256|384|512)[-:$]|\{S?SHA\d*\}|\{bcrypt\}|md5[:$])/i;
const PATH_LIKE = /^(?:\.{0,2}\/|~\/|[A-Za-z]:\\)|\/[\w.-]+\.[a-z]{1,5}$/;
const NUMERIC = /^[\d.,:_+-]+$/;
const EMAIL = /^[^@\s]+@[\w-]+(?:\.[\w-]+)+$/;
const FUNCTION_CALL = /[A-Za-z_]\(|\)$/;
const IDENTIFIER_CHARS = /^[A-Za-z0-9_.-]+$/;
const WORD_SEGMENT = /^(?:[A-Za-z]+\d{0,2}|\d{1,2})$/;
/** Printable ASCII without the backslash: escape sequences (`\n`) and non-ASCII text are not secrets. */
const PRINTABLE_ASCII = /^[\x21-\x5b\x5d-\x7e]+$/;
const PRINTABLE_ASCII_OR_BACKSLASH = /^[\x21-\x7e]+$/;
const BASE64_VALUE = /^[A-Za-z0-9+/]+={0,2}$/;
/** A dictionary default with digits or symbols tacked on: `admin123`, `Password1!`, `qwerty2024`. */
const COMMON_WEAK = /^(?:admin|administrator|passw(?:or|0r)d|p@ssw(?:o|0)rd|pass|root|user|test|guest|qwerty|letmein|welcome|changeme|secret|s3cr3t|demo|default|hello|abc|dev|local)[\d!@#$%^&*._-]*$/i;
/** Values that are public by design: Stripe publishable keys, Mapbox public tokens, PostHog project keys. */
const PUBLIC_PREFIX = /^(?:pk_(?:live|test)_|pk\.eyJ|phc_|AC[0-9a-f]{32}$)/;
/** A short value that names what it is (`myapikey123`, `dev-secret-key`) is a placeholder, not a secret. */
const SELF_DESCRIBING = /password|passwd|secret|apikey|api_key|api-key|token/;

const LEET: Readonly<Record<string, string>> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's' };
/** Words that say what a value is for: a sentence of words holding one is a stand-in, however long. */
const PURPOSE_WORDS = /secret|passw|token|apikey|key|dev|test|local|demo|example|sample|default|insecure|change|replace|only|placeholder/;

/**
 * Three or more words joined by `-`, `_` or `.` (leetspeak read back: `s3cr3t-k3y-f0r-t3st1ng`), a number of up
 * to five digits allowed among them, one of the words naming the value's purpose:
 * `my-super-secret-jwt-key-for-dev-only-12345`. Generated secrets are not made of words.
 */
export function describesItself(lower: string): boolean {
  const segs = lower.split(/[-_.]/);
  if (segs.length < 3) return false;
  let letters = 0;
  let words = 0;
  const read: string[] = [];
  for (const seg of segs) {
    if (/^\d{1,5}$/.test(seg)) continue;
    const w = /[a-z]/.test(seg) ? seg.replace(/[013457@$]/g, (c) => LEET[c]!) : seg;
    if (!/^[a-z]{2,}$/.test(w)) return false;
    letters += w.length;
    words++;
    read.push(w);
  }
  return words >= 3 && letters >= words * 3 && PURPOSE_WORDS.test(read.join(' '));
}

/** Looks like an identifier made of words (`newPassword`, `reset_token_value`, `SuperSecretKey`). */
export function isWordy(v: string): boolean {
  if (!IDENTIFIER_CHARS.test(v)) return false;
  const segs = v.replace(/([a-z0-9])([A-Z])/g, '$1 $2').split(/[ _.\-]+/).filter((s) => s.length > 0);
  if (segs.length === 0) return true;
  let total = 0;
  for (const s of segs) {
    if (!WORD_SEGMENT.test(s)) return false;
    total += s.length;
  }
  return total / segs.length >= 3.5 && madeOfWords(segs);
}

/**
 * The parts read as words: at least 65 % of their letter pairs are common in English. Random mixed-case or
 * lower-case values can pass the shape test above (`RYOUpPsqTncqYp` splits as `RYOUp Psq Tncq Yp`), but about a
 * third of random letter pairs are common ones. Measured: 0.4 % of 42,719 identifiers in third-party packages
 * fail (most of those are embedded base64), while 85-99 % of random values of 14 letters or more that pass the
 * shape test are caught. An all-capitals part of up to five letters is an acronym (`API`, `HTTPS`), not counted.
 */
function madeOfWords(segs: readonly string[]): boolean {
  const acc: [number, number] = [0, 0];
  for (const seg of segs) {
    for (const part of seg.replace(/([A-Z])(?=[A-Z][a-z])/g, '$1 ').split(' ')) {
      const w = part.replace(/\d+$/, '');
      if (w.length <= 5 && /^[A-Z]*$/.test(w)) continue;
      countPairs(w.toLowerCase(), acc);
    }
  }
  return acc[1] >= acc[0] * 0.65;
}

/** A base64 value that decodes to a placeholder or sample default (`Y2hhbmdlbWU=` is `changeme`). */
function encodesPlaceholder(v: string): boolean {
  if (v.length > 64 || !BASE64_VALUE.test(v) || v.length % 4 !== 0) return false;
  const d = Buffer.from(v, 'base64').toString('latin1');
  if (!/^[\x20-\x7e]+$/.test(d)) return false;
  return isPlaceholder(d, []) || isDefaultPassword(d) || COMMON_WEAK.test(d);
}

/**
 * Shape checks for a generic value (the entropy gate is separate). `decoded`: the value is what a JSON string
 * literal encodes, so a backslash in it is a character of the value, not an escape sequence.
 */
export function valueLooksSecret(v: string, decoded = false, humanPassword = false): boolean {
  if (!(decoded ? PRINTABLE_ASCII_OR_BACKSLASH : PRINTABLE_ASCII).test(v)) return false;
  if (encodesPlaceholder(v)) return false;
  if (v.endsWith(':')) return false;
  if (v.includes('://')) return false;
  if (NUMERIC.test(v)) return false;
  if (EMAIL.test(v)) return false;
  if (HASHED.test(v)) return false;
  if (PATH_LIKE.test(v)) return false;
  if (FUNCTION_CALL.test(v)) return false;
  // `!this.ready`, `?Keyword`, `!!flag`: an operator in front of a reference.
  const bare = v.replace(/^[!?~^*&@#%+:]+/, '');
  if (DOTTED_REFERENCE.test(bare)) return false;
  if (ENV_NAME.test(bare)) return false;
  if (isWordy(bare) && !(humanPassword && isHumanPassword(v))) return false;
  if (v.startsWith('-')) return false;
  if (COMMON_WEAK.test(v)) return false;
  if (PUBLIC_PREFIX.test(v)) return false;
  const lower = v.toLowerCase();
  if (v.length < 24 && SELF_DESCRIBING.test(lower)) return false;
  if (describesItself(lower)) return false;
  if (lower === 'undefined' || lower === 'required' || lower === 'optional' || lower === 'nullable') return false;
  return true;
}

/**
 * A password people choose: words with digits (`thisIsDog11`, `Marlin42harbor`). It reads as words, so it would
 * pass for an identifier, but as a quoted literal under a password key it is a password. Letters and at least
 * two digits (one digit is a version or a counter: `newPassword2`); sample defaults (`admin123`) are dropped by
 * the weak-default test after this.
 */
function isHumanPassword(v: string): boolean {
  const digits = v.replace(/\D/g, '').length;
  return digits >= 2 && v.replace(/[^A-Za-z]/g, '').length >= 4;
}

/** The string a JSON string literal's body encodes, or undefined when it is not valid JSON. */
function jsonUnescape(body: string): string | undefined {
  try {
    const v: unknown = JSON.parse(`"${body}"`);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

const QUOTES = '"\'`';

function genericValidator(kind: GenericKind) {
  return (value: string, ctx: RuleMatchContext): boolean => {
    // A JSON string value is judged as the string it encodes (`"pa\\\"ss"` is `pa"ss`).
    let decoded = false;
    if (value.includes('\\') && ctx.text.charCodeAt(ctx.valueStart - 1) === 34) {
      const unescaped = jsonUnescape(value);
      if (unescaped === undefined) return false;
      value = unescaped;
      decoded = true;
    }
    // A quoted literal under a password key may be a password made of words.
    const quoted = ctx.valueStart > 0 && QUOTES.includes(ctx.text[ctx.valueStart - 1]!) && ctx.text[ctx.valueEnd] === ctx.text[ctx.valueStart - 1];
    if (!valueLooksSecret(value, decoded, kind === 'password' && quoted)) return false;
    if (ctx.groups?.['comma'] !== undefined && !keyIsFirstArgument(ctx.text, ctx.matchStart)) return false;
    return keyIsSecret(keyWords(keyAround(ctx.text, ctx.matchStart)), kind);
  };
}

/** The value after `key = `, `key: `, `"key": `: quoted (anything but the quote and whitespace) or bare. */
const VALUE = String.raw`(?<secret>(?<=")[^"\s\\]{8,200}(?=")|(?<=")(?=[^"\s]{0,200}\\)(?:[^"\s\\]|\\[^\s]){4,100}(?=")|(?<=')[^'\s]{8,200}(?=')|(?<=\x60)[^\x60\s]{8,200}(?=\x60)|(?<![\w"'\x60])[^\s"'\x60,;&(){}\[\]<>]{8,200}(?![^\s,;)\]}"'\x60]))`;
/** A declared type between the name and `=`: `apiKey: string = …`, `token: Final[str] = …`, Go's `var token string = …`. */
const TYPE_ANNOTATION = String.raw`(?:[ \t]{0,4}:[ \t]{0,4}[A-Za-z_][\w.<>\[\]?|*&]{0,30}|[ \t]{1,4}(?:string|String|str|&str|&'static str))`;
/**
 * `key = `, `key: `, `"key": `, `key := `, `key => `, `key == ` (a literal compared against), PHP `.=`, R `<-`,
 * C `key[] = `, PHP `$config['key'] = `, Objective-C `= @"…"`, a YAML block scalar (`key: |` and the value on the next line), `key ?= ` / `key ::= `, or `"KEY", ` (setenv-style arguments, quoted key only). */
const ASSIGN = String.raw`[\w.\-]{0,40}?(?:(?:["']\]?|\])?(?:\[\d{0,3}\])?${TYPE_ANNOTATION}?[ \t]{0,4}(?:===?|!==?|=|:::?=|:=|\?\?=|\?=|\+=|\.=|<-|=>|:)[ \t]{0,4}(?:[|>][-+]?[ \t]{0,4}\r?\n[ \t]{1,40})?@?["'\x60]?|["'][ \t]{0,4}(?<comma>,)[ \t]{0,4}["'\x60])`;

function generic(id: string, kind: GenericKind, description: string, keywords: string[], anchor: string): SecretRule {
  return customRule(id, 'generic', description, keywords, new RegExp(`(?:${anchor})${ASSIGN}${VALUE}`, 'i'), 200, {
    entropy: 3.0,
    validate: genericValidator(kind),
  });
}

function decodesToUserPass(value: string): boolean {
  let s: string;
  try {
    s = Buffer.from(value, 'base64').toString('latin1');
  } catch {
    return false;
  }
  const colon = s.indexOf(':');
  if (colon <= 0 || colon === s.length - 1) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c > 126) return false;
  }
  return !isDefaultPassword(s.slice(colon + 1), s.slice(0, colon));
}

const ANY_KIND: readonly GenericKind[] = ['password', 'secret', 'token', 'api-key'];

/** For values named by XML: the element or `key=` / `name=` attribute names a secret, and the value looks like one. */
function xmlValidator(value: string, ctx: RuleMatchContext): boolean {
  if (!valueLooksSecret(value)) return false;
  const name = ctx.groups?.['tag'] ?? ctx.groups?.['name'] ?? '';
  const words = keyWords(name.replace(/^[\w-]+:/, ''));
  return ANY_KIND.some((k) => keyIsSecret(words, k));
}

/** Shape-specific rules first: on equal spans the earlier rule's id is reported. */
export const GENERIC_RULES: readonly SecretRule[] = [
  customRule(
    'generic-k8s-env-value',
    'generic',
    'Kubernetes / compose env entry whose name says secret: `- name: DB_PASSWORD` then `value: …`',
    ['value:'],
    /name:[ \t]*["']?[\w.-]{0,40}(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?)[\w.-]{0,40}["']?[ \t]*\r?\n[ \t]*value:[ \t]*["']?(?<secret>[^\s"']{8,200})(?=["']?[ \t]*(?:\r?\n|$))/i,
    200,
    { entropy: 3.0, validate: (v) => valueLooksSecret(v) },
  ),
  customRule(
    'xml-element-secret',
    'generic',
    'an XML element named like a secret holding a literal value, on its line or the next (`<password>…</password>`)',
    ['pass', 'pwd', 'secret', 'token', 'key', 'cred', 'auth'],
    // The tag must hold a secret word (checked again on whole words by the validator), so ordinary markup and
    // TypeScript generics fail at the tag name.
    /<(?<tag>(?:[A-Za-z_][\w.:-]{0,30}?)?(?:pass|pwd|secret|token|key|cred|auth)[\w.:-]{0,30})(?:[ \t\r\n][^<>]{0,200})?>[ \t\r\n]{0,40}(?<secret>[^<>\s]{8,200})[ \t\r\n]{0,40}<\/\k<tag>>/i,
    200,
    { entropy: 3.0, validate: xmlValidator },
  ),
  customRule(
    'xml-attribute-secret',
    'generic',
    'an XML key/name attribute naming a secret and its value attribute, <value> child or content, across lines (`<add key="ApiKey" value="…"/>`)',
    ['pass', 'pwd', 'secret', 'token', 'key', 'cred', 'auth'],
    /\b(?:key|name)[ \t]*=[ \t]*(?<q>["'])(?<name>[\w.:-]{1,80})\k<q>(?:(?:[ \t\r\n]{1,40}[\w:-]{1,30}[ \t]*=[ \t]*["'][^"'<>]{0,100}["']){0,3}[ \t\r\n]{1,40}value[ \t]*=[ \t]*(?<q2>["'])(?<secret>[^"'<>\s]{8,200})\k<q2>|[^<>]{0,200}>[ \t\r\n]{0,40}(?:<value>[ \t\r\n]{0,40})?(?<secret2>[^<>\s]{8,200})[ \t\r\n]{0,40}<\/)/i,
    200,
    { entropy: 3.0, validate: xmlValidator },
  ),
  customRule(
    'authorization-bearer',
    'generic',
    'Authorization: Bearer / Token / ApiKey / SSO-Key header value',
    ['bearer', 'authorization'],
    /\b(?:bearer|(?:token|api-?key|key|sso-key)(?<=authorization["']?[ \t]{0,4}[:=][ \t]{0,4}["']?(?:token|api-?key|key|sso-key)))[ \t]+(?<secret>[A-Za-z0-9_\-.~+/]{20,1000}={0,2})(?![A-Za-z0-9_\-.~+/=])/i,
    1002,
    { entropy: 3.0, validate: (v) => valueLooksSecret(v) },
  ),
  customRule(
    'authorization-basic',
    'generic',
    'Authorization: Basic header with base64 user:password',
    ['basic'],
    /\bbasic[ \t]+(?<secret>[A-Za-z0-9+/]{12,500}={0,2})(?![A-Za-z0-9+/=])/i,
    502,
    { validate: (v) => decodesToUserPass(v) },
  ),
  customRule(
    'curl-basic-auth',
    'generic',
    'curl -u user:password',
    ['curl'],
    // Options may follow on continuation lines (`\` at the end of a line); the user may be empty or a variable.
    /\bcurl\b(?:[^\n\\]|\\\r?\n|\\){0,300}?[ \t](?:-u|--user)(?:[ \t]*|=)["']?(?<user>[^:\s"'$]{0,64}|\$\{?\w{1,64}\}?):(?<secret>[^\s"']{4,128})/,
    128,
    { validate: (v, ctx) => !isDefaultPassword(v, ctx.groups?.['user']) && !v.startsWith('$') },
  ),
  customRule(
    'url-password-param',
    'generic',
    'password / token / api_key in a URL query string',
    ['password=', 'passwd=', 'pwd=', 'secret=', 'token=', 'api_key=', 'apikey=', 'api-key='],
    /[?&](?:password|passwd|pwd|client_secret|secret|access_token|auth_token|token|api_key|apikey|api-key)=(?<secret>[^&\s"'#<>()[\]{}]{8,256})/i,
    256,
    { entropy: 3.0, validate: (v) => !v.includes('%7B') && !isDefaultPassword(v) },
  ),
  customRule(
    'cli-password-argument',
    'generic',
    'a password on the command line of a tool that takes one: `mysql -pSECRET`, `sshpass -p …`, `docker login -p …`, `redis-cli -a …`',
    ['mysql', 'mariadb', 'sshpass', 'docker', 'podman', 'redis-cli'],
    /\b(?:(?:mysql(?:dump|admin)?|mariadb(?:-dump)?)\b[^\n|;&]{0,200}?[ \t]-p(?=[^\s-])|sshpass[ \t]+-p[ \t]*|(?:docker|podman)[ \t]+login\b[^\n|;&]{0,200}?[ \t](?:-p|--password)(?:[ \t]+|=)|redis-cli\b[^\n|;&]{0,200}?[ \t]-a[ \t]+)["']?(?<secret>[^\s"'$`]{4,128})/,
    128,
    { validate: (v) => !isDefaultPassword(v) && !isPlaceholder(v, []) && valueLooksSecret(v) },
  ),
  customRule(
    'dockerfile-env-secret',
    'generic',
    'Dockerfile `ENV NAME value` (the form without `=`) where the name says secret',
    ['env'],
    /^[ \t]*ENV[ \t]+(?<name>[A-Za-z_][\w.-]{0,80})[ \t]+["']?(?<secret>[^\s"'=]{8,200})["']?[ \t]*$/m,
    200,
    { entropy: 3.0, validate: (v, ctx) => valueLooksSecret(v) && ANY_KIND.some((k) => keyIsSecret(keyWords(ctx.groups?.['name'] ?? ''), k)) },
  ),
  generic('generic-password', 'password', 'password, passwd, passphrase or pwd assigned a literal value', ['pass', 'pwd'], 'pass|pwd'),
  generic('generic-secret', 'secret', 'a key named *secret* assigned a literal value', ['secret'], 'secret'),
  generic('generic-token', 'token', 'a key named *token* assigned a literal value', ['token'], 'token'),
  generic(
    'generic-api-key',
    'api-key',
    'api_key, access_key, private_key, credentials … assigned a literal value',
    ['key', 'credential', 'creds', 'auth'],
    // The qualifier before `key` (api_, secret_, signing…) is checked on the whole key name by the validator.
    'key|cred|auth',
  ),
];
