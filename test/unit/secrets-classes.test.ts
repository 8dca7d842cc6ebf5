/**
 * Secret classes closed in the third round of issue 18: random values that split like identifiers, PHP array
 * keys, older and test-fixture token shapes (Discord, Slack, GitLab, Stripe, 1Password, Flutterwave,
 * Sourcegraph, Teams), unsigned and base64-wrapped JWTs, comments and block scalars in Kubernetes Secrets, and
 * vendor names read across a camelCase boundary. Values are fake and generated here from each format's public
 * description (seeded, so the tests are stable).
 */
import { describe, expect, it } from 'vitest';
import { createSecretScanner } from '../../src/detect/secrets/index.js';
import { endsInsideLaterWord } from '../../src/detect/secrets/rule.js';
import { isWordy } from '../../src/detect/secrets/generic.js';

const scanner = createSecretScanner();
const found = (text: string): [string, string][] => scanner.scan(text).map((m) => [m.rule, text.slice(m.start, m.end)]);
const values = (text: string): string[] => found(text).map(([, v]) => v);

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const ALNUM = UPPER + LOWER + DIGITS;

/** Deterministic pseudo-random string (xorshift-multiply), different per seed. */
function rnd(n: number, alphabet: string, seed: number): string {
  let a = Math.imul(seed + 1, 0x9e3779b1) >>> 0;
  let s = '';
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    a ^= a >>> 13;
    s += alphabet[(a >>> 3) % alphabet.length];
  }
  return s;
}
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

describe('random values that split like identifiers are not identifiers', () => {
  it('isWordy keeps identifiers and rejects random letters', () => {
    for (const id of ['newPassword', 'reset_token_value', 'SuperSecretKey', 'newpassword', 'APIKeyValue', 'passwordStrengthMeter', 'dbPasswd', 'oauthClientSecret', 'readFileSync']) {
      expect(isWordy(id), id).toBe(true);
    }
    for (const v of ['qfgxrxynxanjnggpiaog', 'RYOUpPsqTncqYp', 'wkdzvbxqhmrtplcn', 'KzqWvxPlrmTnbQ']) expect(isWordy(v), v).toBe(false);
  });

  it('a random lower-case or mixed-case secret is found in every host syntax', () => {
    const syntaxes: ((k: string, v: string) => string)[] = [
      (k, v) => `${k} = "${v}"`,
      (k, v) => `{\n  "${k}": "${v}"\n}`,
      (k, v) => `${k.toUpperCase()}=${v}`,
      (k, v) => `${k} ?= ${v}`,
      (k, v) => `${k} ::= ${v}`,
      (k, v) => `${k} :::= "${v}"`,
      (k, v) => `$config['${k}'] = '${v}';`,
      (k, v) => `$settings["${k}"] = "${v}";`,
      (k, v) => `$${k} .= "${v}";`,
      (k, v) => `<${k}>\n    ${v}\n</${k}>`,
      (k, v) => `  "${k}" => "${v}"`,
    ];
    let missed: string[] = [];
    for (let i = 0; i < 12; i++) {
      const v = i % 2 === 0 ? rnd(20, LOWER, i) : rnd(16, UPPER + LOWER, i);
      for (const f of syntaxes) {
        const t = f(i % 3 === 0 ? 'client_secret' : 'db_password', v);
        if (!values(t).includes(v)) missed.push(t);
      }
    }
    expect(missed).toEqual([]);
    missed = [];
  });

  it('identifiers, references and words as values stay unreported', () => {
    for (const t of [
      'password = "newPasswordValue"',
      'client_secret = "resetTokenHandler"',
      "$config['password'] = 'passwordFieldName';",
      'api_secret ?= webhookSigningSecret',
    ]) {
      expect(found(t), t).toEqual([]);
    }
  });
});

describe('token shapes: older formats and test fixtures', () => {
  it('Discord bot tokens with a random first part (not a snowflake)', () => {
    for (let i = 0; i < 6; i++) {
      const tok = `${'MNO'[i % 3]}${rnd(23, ALNUM, i)}.${rnd(6, ALNUM, i + 50)}.${rnd(27, ALNUM + '_-', i + 90)}`;
      expect(values(`bot.login("${tok}")`)).toEqual([tok]);
    }
    // Dotted names of the same lengths do not mix case and digits in both outer parts.
    expect(found('Ncomponentsregistryloader.plugin.initializeeverythingnowplease')).toEqual([]);
  });

  it('Slack tokens of the oldest shape (one number, lower-case tail)', () => {
    const tok = `xoxb-${rnd(10, DIGITS, 1)}-${rnd(12, LOWER, 2)}7${rnd(5, LOWER, 3)}`;
    expect(values(`SLACK = "${tok}"`)).toEqual([tok]);
    expect(found('see xoxb-12345-abcdefghijklmnop in the docs')).toEqual([]);
  });

  it('GitLab tokens up to 50 characters and CI job tokens without a partition prefix', () => {
    const a = `glsoat-${rnd(48, ALNUM, 3)}`;
    const b = `glcbt-${rnd(20, ALNUM, 4)}`;
    expect(values(`${a}\n${b}`)).toEqual([a, b]);
  });

  it('Stripe keys: sk_prod_, and short keys that mix letters and digits', () => {
    const a = `sk_prod_${rnd(30, ALNUM, 5)}`;
    const b = `sk_test_${rnd(14, UPPER + LOWER, 6)}4x`;
    expect(values(`${a} ${b}`)).toEqual([a, b]);
    expect(found('sk_test_connection and sk_live_dashboard')).toEqual([]);
  });

  it('1Password secret keys with an 11-character second group', () => {
    const A = UPPER + DIGITS;
    const key = `A3-${rnd(6, A, 1)}-${rnd(11, A, 2)}-${rnd(5, A, 3)}-${rnd(5, A, 4)}-${rnd(5, A, 5)}`;
    expect(values(`secret key: ${key}`)).toEqual([key]);
  });

  it('Flutterwave keys whose hex part is upper or mixed case', () => {
    const key = `FLWSECK_TEST-${rnd(32, 'abcdefghABCDEFGH0123456789', 7)}-X`;
    expect(values(`flw = "${key}"`)).toEqual([key]);
    // Encryption keys: 12 hex characters, with or without a hyphen after the prefix.
    for (const enc of [`FLWSECK_TEST${rnd(12, 'abcdefABCDEF0123456789', 8)}`, `FLWSECK_TEST-${rnd(12, 'abcdefABCDEF0123456789', 9)}`]) {
      expect(values(`FLW_ENCRYPTION_KEY=${enc}`)).toEqual([enc]);
    }
  });

  it('Sourcegraph local tokens and bare 40-hex tokens next to the product name', () => {
    const a = `sgp_local_${rnd(40, '0123456789abcdef', 8)}`;
    const b = rnd(40, '0123456789abcdef', 9);
    expect(values(a)).toEqual([a]);
    expect(values(`SOURCEGRAPH_TOKEN=${b}`)).toEqual([b]);
  });

  it('Teams webhooks whose ids are not hex', () => {
    const g = (s: number): string => `${rnd(8, LOWER + DIGITS, s)}-${rnd(4, LOWER, s + 1)}-${rnd(4, LOWER, s + 2)}-${rnd(4, LOWER, s + 3)}-${rnd(12, LOWER + DIGITS, s + 4)}`;
    const path = `${g(1)}@${g(10)}/IncomingWebhook/${rnd(32, LOWER + DIGITS, 20)}/${g(30)}`;
    expect(values(`url: https://contoso.webhook.office.com/webhookb2/${path}`)).toEqual([path]);
  });

  it('Asana client secrets next to the product name', () => {
    const s = rnd(32, LOWER + DIGITS, 11);
    expect(values(`ASANA_CLIENT_SECRET=${s}`)).toEqual([s]);
  });
});

describe('JWTs without a signature, with padding, or base64-encoded again', () => {
  const header = b64url('{"alg":"none","typ":"JWT"}');
  const claims = b64url(`{"sub":"${rnd(10, LOWER, 1)}","iat":1700000000}`);
  it('an unsigned token whose claims decode to JSON is reported', () => {
    const t = `${header}.${claims}.`;
    expect(values(`Authorization: ${t}`)).toEqual([t]);
    // Two base64 parts and a dot whose second part is not JSON are not.
    expect(found(`${header}.${b64url('plain words here')}.`)).toEqual([]);
  });

  it('a signed token is found when its parts keep base64 padding', () => {
    const signed = `${b64('{"alg":"HS256" }')}.${b64('{"sub":"1"}')}.${rnd(43, ALNUM, 3)}`;
    expect(signed.match(/=/g)?.length).toBe(3);
    expect(values(signed)).toEqual([signed]);
  });

  it('a base64-encoded JWT is reported as a whole, also when its tail is not a valid token', () => {
    const jwt = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${claims}.${rnd(43, ALNUM, 4)}`;
    const wrapped = b64(jwt);
    // Also found through the decoded view (rule `jwt`); either way the whole encoded run.
    expect(values(`token: ${wrapped}`)).toEqual([wrapped]);
    const cut = b64(`${b64url('{"kid":"k1","alg":"RS256"}')}.${rnd(30, ALNUM, 5)}`);
    expect(values(`value: ${cut}`)).toEqual([cut]);
    // Base64 of other text that happens to start with `eyJ` is not.
    expect(found(`x: ${b64('eyJust some ordinary text, nothing more')}`)).toEqual([]);
  });
});

describe('Kubernetes Secrets: comments, blank lines and block scalars inside data', () => {
  const value = b64(`Zq8-${rnd(12, ALNUM, 2)}`);
  it('comment and blank lines between entries do not end the block', () => {
    const yaml = ['apiVersion: v1', 'kind: Secret', 'data:', '  # base64 of the upstream key', `  upstream: ${value}`, '', '  # another', `  other: ${value}`, ''].join('\n');
    expect(found(yaml)).toEqual([
      ['kubernetes-secret-data', value],
      ['kubernetes-secret-data', value],
    ]);
  });

  it('a block scalar value (`key: |` / `>-`) is read from the lines below it', () => {
    const wrappedA = value.slice(0, 8);
    const wrappedB = value.slice(8);
    const yaml = ['kind: Secret', 'data:', '  conf: >-', `    ${wrappedA}`, `    ${wrappedB}`, 'stringData:', '  note: |', `    key=${rnd(20, ALNUM, 6)}`, 'type: Opaque', ''].join('\n');
    const f = found(yaml);
    expect(f.map(([r]) => r)).toEqual(['kubernetes-secret-data', 'kubernetes-secret-string-data']);
    expect(f[0]![1].replace(/\s+/g, '')).toBe(value);
  });
});

describe('a provider name read across a word boundary of the identifier is not the name', () => {
  const v64 = rnd(64, ALNUM, 21);
  it('`sumo` in `sumOf…`, `token` in `…Tokenizer` do not name a credential', () => {
    expect(found(`sumOfWeights = '${v64}';`)).toEqual([]);
    expect(found(`const discordTokenizer = "${rnd(32, ALNUM, 22)}"`)).toEqual([]);
  });

  it('the name as a word, a prefix of a longer lower-case word, or plural still counts', () => {
    expect(values(`SUMO_ACCESS_KEY = '${v64}';`)).toEqual([v64]);
    expect(values(`sumologicKey: ${v64}`)).toEqual([v64]);
    const d = rnd(32, ALNUM, 23);
    expect(values(`discord_secrets = "${d}"`)).toEqual([d]);
    expect(values(`discordToken = "${d}"`)).toEqual([d]);
  });

  it('the boundary test itself', () => {
    const at = (text: string, key: string): boolean => endsInsideLaterWord(text, 0, key.length);
    expect(at('sumOfSquares', 'sumO')).toBe(true);
    expect(at('DISCORD_TOKENIZER', 'DISCORD_TOKEN')).toBe(true);
    expect(at('sumologic_key', 'sumo')).toBe(false);
    expect(at('MessageBirdKey', 'MessageBird')).toBe(false);
    expect(at('discordTOKEN', 'discordTOKEN')).toBe(false);
    expect(at('discord_secrets', 'discord_secret')).toBe(false);
  });
});

describe('passwords people choose: words with digits, quoted under a password key', () => {
  it('are reported, though they read as words', () => {
    for (const pw of ['Marlin42harbor', 'copperKettle77', 'blueOrbit9Lantern3']) {
      expect(values(`admin_password = "${pw}"`), pw).toEqual([pw]);
      expect(values(`{"db_password": "${pw}"}`), pw).toEqual([pw]);
    }
  });

  it('references, one-digit names, sample defaults and non-password keys are not', () => {
    for (const t of [
      'password = copperKettle77', // bare: a reference
      'password = "newPassword2"', // one digit: a name with a counter
      'password: "admin123"',
      'client_secret = "copperKettle77"', // only password keys
      'passwordHint = "copperKettle77"',
    ]) {
      expect(found(t), t).toEqual([]);
    }
  });
});

describe('curl credentials over continuation lines, with an empty or variable user', () => {
  const pw = `${rnd(10, ALNUM, 31)}7`;
  it('are reported', () => {
    for (const t of [
      `curl \\\n  -X POST \\\n  -u deploy:${pw} \\\n  https://ci.internal/api`,
      `curl -u ":${pw}" https://registry.internal`,
      `curl -u "$CI_USER:${pw}" https://registry.internal`,
      `curl --user=\${CI_USER}:${pw} https://registry.internal`,
    ]) {
      expect(values(t), t).toEqual([pw]);
    }
  });

  it('a password variable or a sample default is not', () => {
    expect(found('curl -u "$CI_USER:$CI_PASSWORD" https://registry.internal')).toEqual([]);
    expect(found('curl \\\n  -u admin:admin \\\n  http://localhost:8080')).toEqual([]);
  });
});

describe('IBM Cloudant credentials next to the product name', () => {
  it('a 64-hex password or a 24-letter API key under cloudant_ / cl_ / clou_ keys', () => {
    const hex = rnd(64, '0123456789abcdef', 41);
    const letters = rnd(24, LOWER, 42);
    expect(values(`CLOUDANT_PASSWORD=${hex}`)).toEqual([hex]);
    expect(values(`cl_api_key = "${letters}"`)).toEqual([letters]);
    expect(values(`clou_key: '${letters}'`)).toEqual([letters]);
    expect(found('cl_key = "readwritepermissionsfull"')).toEqual([]);
  });
});

describe('short placeholder words inside random material', () => {
  it('a token that happens to hold `yoUr`, `FaKe` or `ToDo` mid-run is still a token', () => {
    for (const tok of ['ghp_1bnWMyyoUrzgPBWWVHERgziOp5yD1dxELNTh', 'ghp_Q8zrFaKeq2W7nLx0pV4mT9sJc3bH6dY1gK5a', 'ghp_k2ToDoz9W7nLx0pV4mT9sJc3bH6dY1gK5aQ8r']) {
      expect(values(`token: ${tok}`), tok).toEqual([tok]);
    }
  });

  it('the same words as words of the value still mark a placeholder', () => {
    for (const v of ['your_api_key_here_123', 'YOUR-TOKEN-0123456789', 'insertYourTokenHere42', 'ghp_FAKE0x7Qm2Lp9Zr4Tn8Vb3Wc6Yd1Hf5Jk0', 'todo-rotate-8f3k2j1']) {
      expect(found(`api_token = "${v}"`), v).toEqual([]);
    }
  });
});
