import { describe, expect, it } from 'vitest';
import { createSecretScanner, isPlaceholder, MAX_KEY_BLOCK, SECRET_RULES, shannonEntropy } from '../../src/detect/secrets/index.js';
import { KeywordAutomaton } from '../../src/detect/secrets/prefilter.js';
import type { DetectorMatch } from '../../src/detect/types.js';

const scanner = createSecretScanner();
/** [rule, value] for every match. */
const found = (text: string, s = scanner): [string, string][] => s.scan(text).map((m) => [m.rule, text.slice(m.start, m.end)]);
const values = (text: string, s = scanner): string[] => found(text, s).map(([, v]) => v);

// Fake, well-formed values (not real credentials).
const GHP = 'ghp_' + 'Q7fK2mZp9XwL4tRb8NcV1sYd6HjG3aUe5oPi';
const AWS_ID = 'AKIA' + 'QW3RT7YU2IOP4ASD';
const AWS_SECRET = 'k9Vb2Lx7Qp4Rt8Wz1Nm6Yc3Hs5Dg0Jf2Ae7Ku9Tq';
const B64_64 = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vb2Lx7Qp4Rt8Wz';
const pemBlock = (label: string, lines = 20): string =>
  `-----BEGIN ${label}-----\n${Array.from({ length: lines }, (_, i) => B64_64.slice(i % 7) + B64_64.slice(0, i % 7)).join('\n')}\n-----END ${label}-----`;
const b64url = (s: string): string => Buffer.from(s).toString('base64url');
const JWT = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url('{"sub":"svc-orders","role":"service_role","iat":1714000000}')}.Zk3mP9qLx2Vb7Rt4Wn8Yc1Hs5Dg0Jf2Ae7Ku9TqBx3`;

describe('secret rules', () => {
  it('has at least 120 provider-specific rules with unique ids', () => {
    const ids = SECRET_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(SECRET_RULES.filter((r) => r.category !== 'generic').length).toBeGreaterThanOrEqual(120);
    const categories = new Set(['cloud', 'vcs', 'chat', 'payments', 'ai', 'registry', 'saas', 'database', 'private-key', 'jwt', 'generic']);
    for (const r of SECRET_RULES) {
      expect(r.id, r.id).toMatch(/^[a-z0-9]+(?:-[a-z0-9]+)*$/);
      expect(categories.has(r.category), `${r.id}: ${r.category}`).toBe(true);
      expect(r.keywords.length, r.id).toBeGreaterThan(0);
      for (const k of r.keywords) expect(k, r.id).toBe(k.toLowerCase());
      expect(r.pattern.global || r.pattern.sticky, r.id).toBe(false);
      expect(r.maxLength, r.id).toBeGreaterThan(0);
    }
    for (const c of categories) expect(SECRET_RULES.some((r) => r.category === c), c).toBe(true);
  });

  it('declares a maxLength no shorter than the longest value its pattern can produce', () => {
    for (const r of SECRET_RULES) {
      const bound = maxMatchLengthOf(r.pattern.source, r.pattern.source.includes('(?<secret>') ? 'secret' : undefined);
      expect(Number.isFinite(bound), `${r.id} is unbounded`).toBe(true);
      expect(bound, r.id).toBeLessThanOrEqual(r.maxLength);
    }
  });

  it('maxMatchLength is the largest rule maxLength (key blocks capped at 16384)', () => {
    expect(MAX_KEY_BLOCK).toBe(16384);
    expect(scanner.maxMatchLength).toBe(Math.max(...SECRET_RULES.map((r) => r.maxLength)));
    expect(scanner.maxMatchLength).toBe(16384);
  });
});

describe('spans cover only the secret value', () => {
  it('connection strings: the password only, even with @ and : inside it', () => {
    expect(found('DATABASE_URL=postgres://app:Xk29!sdLq7@db.internal:5432/app')).toEqual([['postgres-connection-string', 'Xk29!sdLq7']]);
    expect(values('mongodb+srv://svc:p@ss:W0rd9Zq@cluster0.ab1cd.mongodb.net/prod?retryWrites=true')).toEqual(['p@ss:W0rd9Zq']);
    expect(found('REDIS_URL=redis://:Q8v2Lm9Rt4Xz@cache:6379/0')).toEqual([['redis-connection-string', 'Q8v2Lm9Rt4Xz']]);
    expect(found("amqp_url = 'amqps://orders:Tz7Kq2Vn9Lp4@mq.internal:5671/vhost'")).toEqual([['amqp-connection-string', 'Tz7Kq2Vn9Lp4']]);
    expect(found('jdbc:mysql://reporting:Mv8Qz2Lk5Wp1@db:3306/analytics')).toEqual([['mysql-connection-string', 'Mv8Qz2Lk5Wp1']]);
    expect(found('Server=tcp:sql.corp,1433;Initial Catalog=hr;User ID=hr_app;Password=Hq7Zp2Lx9Vt4;Encrypt=True;')).toEqual([['ado-connection-string-password', 'Hq7Zp2Lx9Vt4']]);
  });

  it('URLs with credentials: the password only', () => {
    expect(found('git remote add origin https://deploy-bot:Rk8Wq3Zt6Yp1@git.acme.dev/infra.git')).toEqual([['basic-auth-url', 'Rk8Wq3Zt6Yp1']]);
    expect(found('curl -u admin:Vb6Nm2Qx8Lk4 https://nexus.acme.dev')).toEqual([['curl-basic-auth', 'Vb6Nm2Qx8Lk4']]);
    expect(found('https://hooks.slack.com/services/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')).toEqual([['slack-webhook-url', 'T0A1B2C3D/B9Z8Y7X6W5V/Qk3Lm9Pz7Xw2Rt5Vb8Nc1Hs4']]);
  });

  it('generic assignments: the value only, not the key, operator or quotes', () => {
    const v = 'Zk3mP9qLx2Vb7Rt4';
    const cases: [string, string][] = [
      [`API_KEY=${v}`, 'generic-api-key'],
      [`export DB_PASSWORD="${v}"`, 'generic-password'],
      [`  client_secret: ${v}\n`, 'generic-secret'],
      [`{"client_secret": "${v}", "client_id": "web"}`, 'generic-secret'],
      [`const authToken = '${v}';`, 'generic-token'],
      [`os.Setenv("SMTP_PASSWORD", "${v}")`, 'generic-password'],
      [`apiKey := "${v}"`, 'generic-api-key'],
      [`'password' => '${v}',`, 'generic-password'],
      [`spring.datasource.password=${v}\n`, 'generic-password'],
      [`        - name: DB_CREDENTIALS\n          value: "${v}"\n`, 'generic-k8s-env-value'],
    ];
    for (const [text, rule] of cases) expect(found(text), text).toEqual([[rule, v]]);
  });

  it('provider tokens and key blocks', () => {
    expect(found(`token = "${GHP}"`)).toEqual([['github-pat', GHP]]);
    expect(found(`[default]\naws_access_key_id = ${AWS_ID}\naws_secret_access_key = ${AWS_SECRET}\n`)).toEqual([
      ['aws-access-key-id', AWS_ID],
      ['aws-secret-access-key', AWS_SECRET],
    ]);
    const key = pemBlock('RSA PRIVATE KEY');
    expect(found(`const key = \`${key}\`;`)).toEqual([['pem-private-key', key]]);
    expect(found(pemBlock('OPENSSH PRIVATE KEY'))).toEqual([['openssh-private-key', pemBlock('OPENSSH PRIVATE KEY')]]);
    expect(found(`Authorization: Bearer ${JWT}`)).toEqual([['jwt', JWT]]);
  });
});

describe('allowlist', () => {
  it('never reports placeholders, references and documentation keys', () => {
    const texts = [
      'OPENAI_API_KEY=sk-...',
      'export OPENAI_API_KEY="<YOUR_API_KEY>"',
      'api_key = "${OPENAI_API_KEY}"',
      'API_KEY=$OPENAI_API_KEY',
      'password: "{{ db_password }}"',
      'const key = process.env.STRIPE_SECRET_KEY;',
      'token = os.environ["GITHUB_TOKEN"]',
      'secret = os.getenv("JWT_SECRET")',
      'aws_access_key_id = AKIAIOSFODNN7EXAMPLE',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      'GITHUB_TOKEN=ghp_000000000000000000000000000000000000',
      'STRIPE_KEY=sk_live_AAAAAAAAAAAAAAAAAAAAAAAA',
      'api_key: "your-api-key-here"',
      'HF_TOKEN=hf_ExampleExampleExampleExampleExam',
      'postgres://user:password@localhost/app',
      'postgres://postgres:postgres@localhost/app',
      'mongodb://${MONGO_USER}:${MONGO_PASS}@mongo/app',
      'password: "********"',
    ];
    for (const t of texts) expect(found(t), t).toEqual([]);
  });

  it('takes extra literals from the allowlist option', () => {
    const text = `token = "${GHP}"`;
    expect(found(text)).toHaveLength(1);
    expect(found(text, createSecretScanner({ allowlist: ['Q7fK2mZp'] }))).toEqual([]);
    expect(isPlaceholder('abc-TESTONLY-123', ['TESTONLY'])).toBe(true);
    expect(isPlaceholder(GHP, [])).toBe(false);
  });
});

describe('entropy gate on generic rules', () => {
  it('computes Shannon entropy in bits per character', () => {
    expect(shannonEntropy('')).toBe(0);
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abab')).toBeCloseTo(1, 10);
    expect(shannonEntropy('abcd')).toBeCloseTo(2, 10);
    expect(shannonEntropy('0123456789abcdef')).toBeCloseTo(4, 10);
  });

  it('drops low-entropy values and keeps random ones', () => {
    for (const v of ['changeme', 'supersecret', 'abababababab', 'password1', 'admin123', 'aaaabbbbcccc']) expect(found(`password = "${v}"`), v).toEqual([]);
    for (const v of ['Tz7Kq2Vn9Lp4', 'r8#Qm2!vXz5&Lp', 'c3f9a1b7e2d4']) expect(values(`password = "${v}"`), v).toEqual([v]);
  });

  it('ignores identifiers, references, hashes, paths and URLs in secret-named keys', () => {
    const texts = [
      'password: hashedPassword,',
      'secret: config.jwt.secret,',
      'token = self.tokenizer.encode(text)',
      'password = request.form["password"]',
      'password_hash = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"',
      'private_key_path = "/etc/ssl/private/server.key"',
      'const TOKEN_URL = "https://oauth2.googleapis.com/token";',
      'max_tokens: 4096,',
      'SECRET_NAME=prod/orders/db',
      'token: string;',
      'API_KEY_HEADER = "X-Api-Key-Version-2"',
      'password: Joi.string().min(8).required(),',
    ];
    for (const t of texts) expect(found(t), t).toEqual([]);
  });
});

describe('JWTs and key blocks', () => {
  it('requires a JWT header with alg', () => {
    const noAlg = `${b64url('{"typ":"JWT","kid":"k1"}')}.${b64url('{"sub":"x"}')}.Zk3mP9qLx2Vb7Rt4Wn8Yc1Hs5Dg0Jf2`;
    expect(found(`t = "${noAlg}"`)).toEqual([]);
    expect(found(`t = "${JWT}"`)).toEqual([['jwt', JWT]]);
  });

  it('ignores public keys, certificates and empty or elided private key blocks', () => {
    expect(found(pemBlock('PUBLIC KEY'))).toEqual([]);
    expect(found(pemBlock('CERTIFICATE'))).toEqual([]);
    expect(found('-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----')).toEqual([]);
    expect(found('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----')).toEqual([]);
  });

  it('caps a key block at 16384 characters', () => {
    const huge = pemBlock('PRIVATE KEY', 400); // ~26 KB
    expect(huge.length).toBeGreaterThan(MAX_KEY_BLOCK);
    for (const m of scanner.scan(huge)) expect(m.end - m.start).toBeLessThanOrEqual(MAX_KEY_BLOCK);
    const big = pemBlock('PRIVATE KEY', 200); // ~13 KB
    expect(found(big)).toEqual([['pem-private-key', big]]);
  });
});

describe('additionalPatterns', () => {
  it('reports custom patterns under their name, using the secret group when present', () => {
    const s = createSecretScanner({
      additionalPatterns: [
        { name: 'acme-internal-key', pattern: 'ACME-[0-9A-F]{12}' },
        { name: 'acme-db-pass', pattern: 'dbpass:(?<secret>[a-z0-9]{10})' },
      ],
    });
    const text = 'key ACME-0F3A9C7B2E1D and dbpass:k3j9x2m7q1';
    expect(s.scan(text)).toEqual([
      { type: 'SECRET', rule: 'acme-internal-key', start: 4, end: 21 },
      { type: 'SECRET', rule: 'acme-db-pass', start: 33, end: 43 },
    ]);
    expect(s.maxMatchLength).toBeGreaterThanOrEqual(scanner.maxMatchLength);
  });

  it('throws an error naming an invalid pattern', () => {
    expect(() => createSecretScanner({ additionalPatterns: [{ name: 'broken-one', pattern: '(unclosed[' }] })).toThrow(/broken-one/);
  });

  it('survives a pattern that can match the empty string', () => {
    const s = createSecretScanner({ additionalPatterns: [{ name: 'maybe-empty', pattern: 'k?[0-9]*' }] });
    expect(found('abc k42 def', s)).toEqual([['maybe-empty', 'k42']]);
  });
});

describe('overlaps', () => {
  it('keeps one match per secret: the longest, then the most specific rule', () => {
    // Both github-pat and generic-token (and basic-auth-url) see these values.
    expect(found(`GITHUB_TOKEN=${GHP}`)).toEqual([['github-pat', GHP]]);
    expect(found(`git clone https://x-access-token:${GHP}@github.com/acme/infra.git`)).toEqual([['github-pat', GHP]]);
    // The service-account private_key contains a PEM block: one match, the longer JSON value.
    const escaped = pemBlock('PRIVATE KEY').split('\n').join('\\n') + '\\n';
    const sa = `{"type": "service_account", "private_key": "${escaped}", "client_email": "x@p.iam.gserviceaccount.com"}`;
    expect(found(sa)).toEqual([['gcp-service-account-key', escaped]]);
  });

  it('returns sorted, non-overlapping matches without duplicates on a mixed document', () => {
    const doc = [
      `GITHUB_TOKEN=${GHP}`,
      `AWS_ACCESS_KEY_ID=${AWS_ID}`,
      `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`,
      `DATABASE_URL=postgres://app:Xk29!sdLq7@db:5432/app`,
      `SESSION=${JWT}`,
      pemBlock('EC PRIVATE KEY'),
      `stripe: sk_live_${'4eC39HqLyjWDarjtT1zdp7dcQ'.split('').reverse().join('')}`,
    ].join('\n');
    const ms: DetectorMatch[] = scanner.scan(doc);
    expect(ms.map((m) => m.rule)).toEqual(['github-pat', 'aws-access-key-id', 'aws-secret-access-key', 'postgres-connection-string', 'jwt', 'pem-private-key', 'stripe-secret-key']);
    for (let i = 1; i < ms.length; i++) expect(ms[i]!.start).toBeGreaterThanOrEqual(ms[i - 1]!.end);
    for (const m of ms) expect(m.type).toBe('SECRET');
  });
});

describe('keyword prefilter', () => {
  it('finds keywords case-insensitively, with - and . folded to _', () => {
    const ac = new KeywordAutomaton(['ghp_', 'dd_api', 'hooks.slack.com', 'key']);
    const f = new Uint8Array(4);
    expect(ac.scan('export DD-API-KEY=1; see hooks.slack.com', f)).toBe(3);
    expect([...f]).toEqual([0, 1, 1, 1]);
  });

  it('skips rules whose keywords are absent', () => {
    expect(scanner.scan('const x = 1;\n'.repeat(1000))).toEqual([]);
    expect(scanner.scan('')).toEqual([]);
  });
});

describe('speed', () => {
  it('has no catastrophic backtracking on adversarial input', () => {
    const inputs: [string, string][] = [
      ['runs of a', 'a'.repeat(100_000)],
      ['password= repeated', 'password='.repeat(10_000)],
      ['unterminated key block', `-----BEGIN PRIVATE KEY-----\n${B64_64.repeat(1500)}`],
      ['many BEGIN lines', '-----BEGIN RSA PRIVATE KEY-----\n'.repeat(3000)],
      ['url without @', `postgres://${'u'.repeat(50_000)}:${'p'.repeat(50_000)}`],
      ['eyJ without dots', `eyJ${'A'.repeat(100_000)}`],
      ['dots', 'M'.repeat(30) + '.abcdef.'.repeat(10_000)],
      ['key: key: key:', 'api_key: '.repeat(10_000)],
      ['quotes', `token = "${'x"'.repeat(30_000)}`],
      ['hex', 'ab'.repeat(60_000) + '-us1'],
    ];
    const rows: string[] = [];
    for (const [name, text] of inputs) {
      const t0 = performance.now();
      scanner.scan(text);
      const ms = performance.now() - t0;
      rows.push(`  ${name.padEnd(24)} ${(text.length / 1000).toFixed(0).padStart(4)} KB  ${ms.toFixed(1)} ms`);
      expect(ms, name).toBeLessThan(20_000); // a guard against catastrophic backtracking, not a speed target
    }
    console.log(`adversarial inputs:\n${rows.join('\n')}`);
  });

  it('prints throughput on ~200 KB of ordinary TypeScript and Python', () => {
    const text = Buffer.from(realisticCode(200_000)).toString(); // flat string, as a parsed request body is
    for (let i = 0; i < 3; i++) scanner.scan(text);
    const runs = 10;
    const t0 = performance.now();
    let n = 0;
    for (let i = 0; i < runs; i++) n = scanner.scan(text).length;
    const seconds = (performance.now() - t0) / 1000;
    console.log(`secret scanner throughput: ${((text.length * runs) / seconds / 1e6).toFixed(1)} MB/s on ${(text.length / 1000).toFixed(0)} KB of code (${n} matches)`);
    expect(n).toBe(0);
  });
});

/** Seeded generator of ordinary application code: imports, functions, config via env, tests, hashes, URLs. */
function realisticCode(targetBytes: number, seed = 7): string {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  const words = ['user', 'order', 'invoice', 'payment', 'session', 'token', 'account', 'customer', 'product', 'cart', 'config', 'request', 'response', 'cache', 'queue', 'event', 'message', 'password', 'secret', 'key', 'auth', 'client', 'server', 'handler', 'service', 'repository'];
  const W = (): string => pick(words);
  const Cap = (s: string): string => s[0]!.toUpperCase() + s.slice(1);
  const ts = (): string => {
    const n = `${W()}${Cap(W())}`;
    return pick([
      `import { ${Cap(W())}Service } from '../services/${W()}-service.js';\nimport type { ${Cap(W())} } from './types.js';\n`,
      `/**\n * Loads the ${W()} for a ${W()} and caches it for ${int(60)} seconds.\n * See https://docs.acme.dev/${W()}/${W()}#section-${int(9)}\n */\nexport async function load${Cap(n)}(id: string, opts: { force?: boolean } = {}): Promise<${Cap(W())} | undefined> {\n  const cached = this.cache.get(\`${W()}:\${id}\`);\n  if (cached && !opts.force) return cached;\n  const res = await fetch(\`\${BASE_URL}/v1/${W()}s/\${encodeURIComponent(id)}\`, { headers: { authorization: \`Bearer \${await getToken()}\` } });\n  if (!res.ok) throw new HttpError(res.status, await res.text());\n  return (await res.json()) as ${Cap(W())};\n}\n`,
      `export const ${n}Config = {\n  apiKey: process.env.${W().toUpperCase()}_API_KEY ?? '',\n  timeoutMs: ${int(10000)},\n  retries: ${int(5)},\n  endpoint: 'https://api.acme.dev/v2/${W()}',\n  password: config.get('${W()}.password'),\n};\n`,
      `  it('rejects an expired ${W()} token', async () => {\n    const ${W()} = make${Cap(W())}({ id: '${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}', expiresAt: Date.now() - ${int(1000)} });\n    await expect(service.validate(${W()})).rejects.toThrow(/expired/);\n  });\n`,
      `const ${n} = new Map<string, number>();\nfor (const [k, v] of Object.entries(input)) {\n  if (typeof v !== 'number' || Number.isNaN(v)) continue;\n  ${n}.set(k.toLowerCase(), (${n}.get(k) ?? 0) + v * ${int(100)});\n}\n`,
      `// commit ${hex(40)} fixed the race in ${W()}Handler; keep the lock until the ${W()} is flushed\nexport class ${Cap(n)}Repository extends BaseRepository<${Cap(W())}> {\n  private readonly passwordHasher = new Argon2Hasher({ memoryCost: ${int(65536)} });\n  constructor(private readonly db: Database) { super(db, '${W()}s'); }\n}\n`,
    ]);
  };
  const py = (): string =>
    pick([
      `def ${W()}_${W()}(self, ${W()}_id: str, *, timeout: float = ${int(30)}.0) -> dict:\n    """Fetch the ${W()} and its ${W()}s."""\n    resp = self.session.get(f"{self.base_url}/${W()}s/{${W()}_id}", timeout=timeout)\n    resp.raise_for_status()\n    return resp.json()\n\n`,
      `class ${Cap(W())}${Cap(W())}(BaseModel):\n    id: UUID\n    ${W()}_token: str | None = None\n    created_at: datetime = Field(default_factory=datetime.utcnow)\n    checksum: str = "${hex(64)}"\n\n`,
      `SETTINGS = {\n    "${W()}": os.environ.get("${W().toUpperCase()}_PASSWORD"),\n    "api_key": os.getenv("API_KEY"),\n    "retries": ${int(9)},\n}\n\n`,
      `@pytest.mark.parametrize("value,expected", [("${W()}", True), ("${hex(12)}", False)])\ndef test_${W()}_${W()}(value, expected):\n    assert is_valid_${W()}(value) is expected\n\n`,
      `for ${W()} in ${W()}s:\n    if ${W()}.status == "active" and not ${W()}.password_expired:\n        logger.info("processing %s (%d items)", ${W()}.id, len(${W()}.items))\n\n`,
    ]);
  let out = '';
  while (out.length < targetBytes) out += rand() < 0.6 ? ts() : py();
  return out;
}

/**
 * Upper bound on the length of what a regular-expression source can match (Infinity when unbounded), for the
 * subset the rules use. With `group`, only that named capture group counts.
 */
function maxMatchLengthOf(source: string, group?: string): number {
  let src = source;
  if (group !== undefined) {
    const open = src.indexOf(`(?<${group}>`);
    src = src.slice(open + group.length + 4, matchingParen(src, open));
  }
  const s = src;
  let i = 0;
  const classEnd = (j: number): number => {
    let k = j + 1;
    if (s[k] === '^') k++;
    if (s[k] === ']') k++;
    for (; k < s.length; k++) {
      if (s[k] === '\\') k++;
      else if (s[k] === ']') return k;
    }
    throw new Error('unterminated class');
  };
  const alternation = (): number => {
    let best = sequence();
    while (s[i] === '|') {
      i++;
      best = Math.max(best, sequence());
    }
    return best;
  };
  const sequence = (): number => {
    let total = 0;
    while (i < s.length && s[i] !== '|' && s[i] !== ')') total += quantified(atom());
    return total;
  };
  const atom = (): number => {
    const c = s[i]!;
    if (c === '\\') {
      const e = s[i + 1]!;
      i += 2;
      if (e === 'b' || e === 'B') return 0;
      if (e === 'k') {
        i = s.indexOf('>', i) + 1;
        return Infinity;
      }
      if (e === 'x') i += 2;
      else if (e === 'u') i += 4;
      return 1;
    }
    if (c === '[') {
      i = classEnd(i) + 1;
      return 1;
    }
    if (c === '(') {
      i++;
      let look = false;
      if (s[i] === '?') {
        const n = s[i + 1];
        if (n === ':') i += 2;
        else if (n === '=' || n === '!') {
          i += 2;
          look = true;
        } else if (n === '<' && (s[i + 2] === '=' || s[i + 2] === '!')) {
          i += 3;
          look = true;
        } else if (n === '<') i = s.indexOf('>', i) + 1;
      }
      const inner = alternation();
      i++; // ')'
      return look ? 0 : inner;
    }
    i++;
    return c === '^' || c === '$' ? 0 : 1;
  };
  const quantified = (n: number): number => {
    const c = s[i];
    let mult = 1;
    if (c === '*' || c === '+') {
      i++;
      mult = Infinity;
    } else if (c === '?') i++;
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(i));
      if (!m) return n;
      i += m[0].length;
      mult = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
    } else return n;
    if (s[i] === '?') i++;
    return n === 0 ? 0 : n * mult;
  };
  return alternation();
}

function matchingParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '[') {
      for (i++; i < s.length && s[i] !== ']'; i++) if (s[i] === '\\') i++;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new Error('unbalanced');
}
