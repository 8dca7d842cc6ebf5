/**
 * Secret formats by class (issue 18): manifests whose values are secret by definition, provider token shapes
 * (current and older), and the places values hide in configuration syntax (XML across lines, Makefile
 * assignments, JSON escapes). Values are fake and built here, from each format's public description.
 */
import { describe, expect, it } from 'vitest';
import { createSecretScanner } from '../../src/detect/secrets/index.js';

const scanner = createSecretScanner();
const found = (text: string): [string, string][] => scanner.scan(text).map((m) => [m.rule, text.slice(m.start, m.end)]);
const values = (text: string): string[] => found(text).map(([, v]) => v);

/** Deterministic pseudo-random string over an alphabet (seeded, so tests are stable). */
function rnd(n: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', seed = n * 7919): string {
  let a = seed >>> 0;
  let s = '';
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s += alphabet[a % alphabet.length];
  }
  return s;
}
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const HEX = '0123456789abcdef';

describe('Kubernetes Secret manifests', () => {
  const password = `Pq${rnd(14)}`;
  const apiKey = rnd(32);
  it('reports every data: value (base64) and stringData: value, whatever the key is called', () => {
    const yaml = [
      'apiVersion: v1',
      'kind: Secret',
      'metadata:',
      '  name: backend',
      'type: Opaque',
      'data:',
      `  db-pass: ${b64(password)}`,
      `  upstream.conf: "${b64(`key=${apiKey}`)}"`,
      'stringData:',
      `  SERVICE_KEY: ${apiKey}`,
      '',
    ].join('\n');
    expect(found(yaml)).toEqual([
      ['kubernetes-secret-data', b64(password)],
      ['kubernetes-secret-data', b64(`key=${apiKey}`)],
      ['kubernetes-secret-string-data', apiKey],
    ]);
  });

  it('reads JSON manifests and multi-document files; other kinds, placeholders and certificates are left alone', () => {
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { token: b64(apiKey) } }, null, 2);
    expect(values(json)).toEqual([b64(apiKey)]);
    const multi = [
      'kind: ConfigMap',
      'data:',
      `  owner: ${b64('platform-team-42')}`,
      '---',
      'kind: Secret',
      'data:',
      `  password: ${b64('changeme')}`,
      `  ca.crt: ${b64('-----BEGIN CERTIFICATE-----\nMIIB')}`,
      `  real: ${b64(password)}`,
    ].join('\n');
    expect(values(multi)).toEqual([b64(password)]);
  });
});

describe('provider token shapes', () => {
  it('older Slack formats: pre-2017 bot tokens, legacy hex user tokens, workspace and session tokens', () => {
    const bot = `xoxb-${rnd(12, '0123456789')}-${rnd(24)}`;
    const user = `xoxp-${rnd(10, '0123456789')}-${rnd(10, '0123456789')}-${rnd(11, '0123456789')}-${rnd(32, HEX)}`;
    const workspace = `xoxa-2-${rnd(40)}`;
    const session = `xoxc-${rnd(12, '0123456789')}-${rnd(12, '0123456789')}-${rnd(13, '0123456789')}-${rnd(64, HEX)}`;
    expect(found(`bot: ${bot}\nuser: ${user}\nws: ${workspace}\nsession: ${session}`)).toEqual([
      ['slack-bot-token', bot],
      ['slack-user-token', user],
      ['slack-legacy-token', workspace],
      ['slack-user-token', session],
    ]);
  });

  it('Discord bot tokens (the first part decodes to a snowflake id) and client secrets', () => {
    const id = b64('1098765432109876543').replace(/=+$/, '');
    const bot = `${id}.${rnd(6)}.${rnd(38, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-')}`;
    expect(found(`client.login("${bot}")`)).toEqual([['discord-bot-token', bot]]);
    // Same shape, but the first part is not an id: not a Discord token.
    const notId = `${b64('hello world, this!').replace(/=+$/, '')}.${rnd(6)}.${rnd(30)}`;
    expect(found(`x = "${notId}"`)).toEqual([]);
    const secret = rnd(32, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-');
    expect(found(`DISCORD_OAUTH_CLIENT_SECRET=${secret}`)).toEqual([['discord-client-secret', secret]]);
  });

  it('Twitter / X app-only bearer tokens and API secrets', () => {
    const bearer = `${'A'.repeat(22)}${rnd(20)}%2B${rnd(30)}%3D${rnd(40)}`;
    expect(found(`curl -H "Authorization: Bearer ${bearer}" https://api.x.com/2/tweets`).map(([r]) => r)).toEqual(['twitter-bearer-token']);
    expect(values(`TWITTER_CONSUMER_SECRET=${rnd(50)}`)).toEqual([rnd(50)]);
  });

  it('Teams incoming webhooks on the old outlook.office.com host and Power Automate workflows', () => {
    const uuid = (s: number): string => `${rnd(8, HEX, s)}-${rnd(4, HEX, s + 1)}-${rnd(4, HEX, s + 2)}-${rnd(4, HEX, s + 3)}-${rnd(12, HEX, s + 4)}`;
    const path = `${uuid(1)}@${uuid(2)}/IncomingWebhook/${rnd(32, HEX)}/${uuid(3)}`;
    expect(found(`url = "https://outlook.office.com/webhook/${path}"`)).toEqual([['teams-webhook-url', path]]);
    const sig = rnd(43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-');
    const flow = `https://default${rnd(30, HEX)}.0e.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/${rnd(32, HEX)}/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`;
    expect(found(flow)).toEqual([['teams-workflow-webhook-url', sig]]);
  });

  it('Terraform Cloud tokens, also in the CLI credentials variables', () => {
    const token = `${rnd(14)}.atlasv1.${rnd(84, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-')}`;
    expect(values(`credentials "app.terraform.io" {\n  token = "${token}"\n}`)).toEqual([token]);
    const opaque = rnd(60);
    expect(found(`export TF_TOKEN_tfe_corp_example_net=${opaque}`)).toEqual([['terraform-cli-token', opaque]]);
  });

  it('Artifactory API keys, reference tokens and encrypted passwords', () => {
    const ref = `cmVmd${rnd(59)}`;
    expect(found(`token: ${ref}`)).toEqual([['artifactory-reference-token', ref]]);
    const enc = `AP7${rnd(30)}`;
    expect(found(`artifactory_password=${enc}`)).toEqual([['artifactory-credential', enc]]);
  });

  it('NuGet.Config ClearTextPassword entries, attributes on separate lines', () => {
    const pw = `Nv${rnd(18)}!`;
    const config = `<packageSourceCredentials>\n  <corp>\n    <add key="Username" value="build" />\n    <add\n      key="ClearTextPassword"\n      value="${pw}" />\n  </corp>\n</packageSourceCredentials>`;
    expect(found(config)).toEqual([['nuget-config-password', pw]]);
    expect(found('<add key="ClearTextPassword" value="%NUGET_PASSWORD%" />')).toEqual([]);
  });
});

describe('values in configuration syntax', () => {
  const v = `Zq${rnd(20)}`;
  it('XML elements named like a secret, the value on the next line', () => {
    expect(values(`<server>\n  <id>corp</id>\n  <password>\n    ${v}\n  </password>\n</server>`)).toEqual([v]);
    expect(values(`<entry key="db.password">${v}</entry>`)).toEqual([v]);
  });

  it('XML key/name attributes with a value attribute or <value> child, across lines', () => {
    expect(values(`<add key="StripeApiKey"\n     value="${v}" />`)).toEqual([v]);
    expect(values(`<setting name="ClientSecret" serializeAs="String">\n  <value>${v}</value>\n</setting>`)).toEqual([v]);
    expect(values(`<add key="PageSize" value="${v}" />`)).toEqual([]);
  });

  it('Makefile ::=, ?= and += assignments', () => {
    expect(values(`API_TOKEN ?= ${v}`)).toEqual([v]);
    expect(values(`DB_PASSWORD ::= ${v}`)).toEqual([v]);
    expect(values(`DATADOG_API_KEY ?= ${rnd(32, HEX)}`)).toEqual([rnd(32, HEX)]);
  });

  it('JSON string values with escapes are judged as the string they encode', () => {
    const escaped = `${v.slice(0, 8)}\\"${v.slice(8)}\\\\x`;
    expect(values(`{"client_secret": "${escaped}"}`)).toEqual([escaped]);
    expect(values('{"password": "\\u0000\\u0000\\u0000\\u0000"}')).toEqual([]);
  });
});

describe('placeholders are recognised as such', () => {
  it('typed filler: alphabet and digit runs, keyboard rows, repeated units', () => {
    for (const v of [
      'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789',
      'sk_live_1234567890abcdefghijklmn',
      'glpat-qwertyuiopasdfghjklz',
      `xoxb-${'12'.repeat(6)}-${'ab12'.repeat(6)}`,
      'password = "zyxwvutsrqponm98"',
    ]) {
      expect(found(`token: ${v}`), v).toEqual([]);
    }
  });

  it('the variable’s own name (or its words and filler) as the value', () => {
    expect(found('API_TOKEN=api_token')).toEqual([]);
    expect(found('SLACK_SIGNING_SECRET="slack-signing-secret-value"')).toEqual([]);
    expect(found('db_password: "my_db_password_here"')).toEqual([]);
    expect(found(`DATADOG_API_KEY=datadog_api_key_${'0'.repeat(4)}`)).toEqual([]);
  });

  it('bracketed and templated stand-ins', () => {
    for (const v of ['<your-api-key>', '${API_KEY}', '{{ .Values.apiKey }}', '[API_KEY]', '%API_KEY%', '@api_key@', '__API_KEY__', 'xxxxxxxxxxxxxxxx', 'changeme123']) {
      expect(found(`api_key = "${v}"`), v).toEqual([]);
    }
  });

  it('an eight-long run anywhere, interleaved runs, a long unit repeated, one keyboard row mashed', () => {
    for (const v of [
      'sk-sUeBP9asw6GiYHXqtg70abcdefghJuLwJFco90bOpU0Ntest',
      'a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6',
      'abcd1234efgh5678ijkl9012mnop3456',
      'A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6',
      'abcdef0123456789abcdef0123456789',
      'sk-1234567890abcdef1234567890abcdef',
      'sk_test_51H8x2ALkdjfhgaksjdfhgaksjdhfgakjsdhgf',
    ]) {
      expect(found(`client_secret = "${v}"`), v).toEqual([]);
    }
  });

  it('metasyntactic words, also base64-encoded, and sentences of words that say what the value is for', () => {
    for (const v of ['foobarbaz123', 'hoge_fuga_piyo', b64('foobarbazquxquux'), 'my-super-secret-jwt-key-for-dev-only-12345', 's3cr3t-k3y-f0r-t3st1ng-0nly']) {
      expect(found(`JWT_SECRET = "${v}"`), v).toEqual([]);
    }
  });

  it('a random value in the same places is still reported', () => {
    const v = rnd(32);
    expect(values(`API_TOKEN=${v}`)).toEqual([v]);
    expect(values(`api_key = "${v}"`)).toEqual([v]);
  });
});

describe('keys that are not credentials', () => {
  it('pagination cursors, digests and key ids, and keys named as fakes', () => {
    for (const k of ['next_page_token', 'continuationToken', 'cursor_token', 'cert_thumbprint', 'ssh_key_fingerprint', 'mock_api_key', 'FAKE_SECRET', 'token_sha', 'apiKeySha512', 'secret_crc32', 'encryption_key_iv']) {
      expect(found(`${k} = "${rnd(40)}"`), k).toEqual([]);
    }
  });

  it('Authorization schemes besides Bearer', () => {
    const v = rnd(40);
    expect(values(`curl -H "Authorization: ApiKey ${v}" https://api.example.net`)).toEqual([v]);
    expect(values(`Authorization: sso-key ${v}`)).toEqual([v]);
  });
});

describe('YAML block scalars', () => {
  it('a value on the line after `key: |` or `key: >-`', () => {
    const v = `Yb${rnd(24)}`;
    expect(values(`db:\n  password: |\n    ${v}\n`)).toEqual([v]);
    expect(values(`api_token: >-\n  ${v}\n`)).toEqual([v]);
  });
});

describe('placeholder shape checks keep random material', () => {
  it('random base62, hex and base64 values of 16 to 128 characters are not taken for typed filler', async () => {
    const { isPlaceholder } = await import('../../src/detect/secrets/allowlist.js');
    const fc = await import('fast-check');
    const alphabets = ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', HEX, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'];
    // A seeded run: for these alphabets the chance of a random value looking typed is below 1e-4 per value.
    fc.assert(
      fc.property(fc.constantFrom(...alphabets), fc.integer({ min: 24, max: 128 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), (alphabet, n, seed) => {
        const v = rnd(n, alphabet, seed);
        expect(isPlaceholder(v, []), v).toBe(false);
      }),
      { seed: 18, numRuns: 2000 },
    );
  });
});

describe('passwords on command lines and in Dockerfiles', () => {
  it('tools that take a password as an argument', () => {
    const v = rnd(20);
    for (const t of [`mysql -u root -p${v} app`, `sshpass -p "${v}" ssh host`, `docker login -u me -p ${v} registry.io`, `podman login --password=${v} quay.io`, `redis-cli -h cache -a ${v} ping`]) {
      expect(found(t), t).toEqual([['cli-password-argument', v]]);
    }
  });

  it('not a port, a prompt for the password, a variable or a sample default', () => {
    for (const t of ['mysql -p 3306', 'mysql -u app -p -h db', 'docker run -p 8080:80 nginx', 'docker login -p $TOKEN', 'mysql -uroot -proot', 'redis-cli -a foobared ping']) {
      expect(found(t), t).toEqual([]);
    }
  });

  it('ENV NAME value, the form without =, when the name says secret', () => {
    const v = rnd(32);
    expect(found(`FROM node:20\nENV API_SECRET ${v}\n`)).toEqual([['dockerfile-env-secret', v]]);
    expect(found('ENV NODE_ENV production\nENV API_SECRET ${SECRET}\n')).toEqual([]);
  });

  it('Deno Deploy tokens', () => {
    const v = `ddp_${rnd(36)}`;
    expect(values(`DENO_DEPLOY_TOKEN: ${v}`)).toEqual([v]);
  });
});
