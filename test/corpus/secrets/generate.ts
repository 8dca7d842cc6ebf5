/**
 * Writes positives.jsonl and negatives.jsonl next to this file: synthetic, well-formed but fake secrets
 * (right prefixes, lengths and alphabets; random characters from a fixed seed) inside realistic code and
 * configuration, and benign look-alikes. Deterministic: run `npx tsx test/corpus/secrets/generate.ts`.
 *
 * Nothing here is a real credential. Every random part comes from mulberry32(SEED).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../../src/testing/mulberry32.js';

const SEED = 0x5ec12e75;

const rand = mulberry32(SEED);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const UP = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LO = 'abcdefghijklmnopqrstuvwxyz';
const DI = '0123456789';
const ALNUM = UP + LO + DI;
const HEX = '0123456789abcdef';
const HEXU = '0123456789ABCDEF';
const B64 = ALNUM + '+/';
const B64URL = ALNUM + '-_';
const UPNUM = UP + DI;
const LONUM = LO + DI;
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BECH32 = 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L';

/** Random string over `cs`, re-drawn if it happens to look like a placeholder. */
function r(cs: string, n: number): string {
  for (;;) {
    let s = '';
    for (let i = 0; i < n; i++) s += cs[int(cs.length)];
    if (!/xxxx|(.)\1{5}|example|sample|dummy|your|here|redact|change|fake|test|0123456789|abcdefgh/i.test(s)) return s;
  }
}
const hex = (n: number): string => r(HEX, n);
const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
const b64 = (bytes: number): string => {
  const buf = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) buf[i] = int(256);
  return buf.toString('base64');
};
const b64url = (s: string): string => Buffer.from(s).toString('base64url');

/** A password with letters, digits and a few symbols, entropy well above 3 bits/char. */
function password(n = 12 + int(10), symbols = '!*-_.~+=%^'): string {
  for (;;) {
    const cs = ALNUM + symbols;
    let s = '';
    for (let i = 0; i < n; i++) s += cs[int(cs.length)];
    if (/\d/.test(s) && /[a-z]/.test(s) && /[A-Z]/.test(s) && new Set(s).size >= n * 0.7 && !/^[-.]/.test(s) && !/xxxx|(.)\1{3}|\.\./i.test(s)) return s;
  }
}

// ---------------------------------------------------------------- contexts
/** A value as inserted into text, and the exact secret the scanner must cover. */
interface Sample {
  value: string;
  secret: string;
}
type Ctx = (s: Sample, name: string) => Sample & { text: string };

const snake = (n: string): string => n.toLowerCase();
const camel = (n: string): string => n.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const kebab = (n: string): string => n.toLowerCase().replace(/_/g, '-');
const dotted = (n: string): string => n.toLowerCase().replace(/_/g, '.');
const svc = (n: string): string => n.split('_')[0]!.toLowerCase();
const host = (): string => pick(['db.internal', 'prod-db-1.corp.lan', 'pg.eu-west-1.rds.amazonaws.com', '10.0.3.17', 'cluster0.a1b2c.mongodb.net', 'cache.prod.svc.cluster.local', 'mq.internal']);

const wrap = (text: string, s: Sample): Sample & { text: string } => ({ ...s, text });

/** Contexts where the key name sits right before the value (all rules can use these). */
const NAMED: Record<string, Ctx> = {
  dotenv: (s, n) => wrap(`# ${svc(n)} settings\nNODE_ENV=production\n${n}=${s.value}\nLOG_LEVEL=info\n`, s),
  dotenvQuoted: (s, n) => wrap(`APP_NAME=billing\n${n}="${s.value}"\n`, s),
  shell: (s, n) => wrap(`#!/usr/bin/env bash\nset -euo pipefail\nexport ${n}="${s.value}"\n./scripts/deploy.sh --env prod\n`, s),
  yaml: (s, n) => wrap(`app:\n  name: orders\n  ${snake(n)}: ${s.value}\n  timeout_ms: 3000\n`, s),
  yamlQuoted: (s, n) => wrap(`${svc(n)}:\n  enabled: true\n  ${snake(n)}: "${s.value}"\n`, s),
  json: (s, n) => wrap(`{\n  "region": "eu-west-1",\n  "${camel(n)}": "${s.value}",\n  "retries": 3\n}\n`, s),
  python: (s, n) => wrap(`import os\n\n${n} = "${s.value}"\n\ndef client():\n    return Session(timeout=30)\n`, s),
  pythonDict: (s, n) => wrap(`SETTINGS = {\n    "${snake(n)}": '${s.value}',\n    "debug": False,\n}\n`, s),
  typescript: (s, n) => wrap(`import { createClient } from './client.js';\n\nconst ${camel(n)} = '${s.value}';\nexport const client = createClient({ timeoutMs: 5000 });\n`, s),
  tsObject: (s, n) => wrap(`export const config = {\n  env: 'production',\n  ${camel(n)}: "${s.value}",\n};\n`, s),
  go: (s, n) => wrap(`func init() {\n\tos.Setenv("${n}", "${s.value}")\n}\n`, s),
  goConst: (s, n) => wrap(`package config\n\nconst ${camel(n)} = "${s.value}"\n`, s),
  compose: (s, n) => wrap(`services:\n  api:\n    image: ghcr.io/acme/api:1.4.2\n    environment:\n      - ${n}=${s.value}\n      - PORT=8080\n`, s),
  terraform: (s, n) => wrap(`resource "kubernetes_secret" "app" {\n  metadata { name = "app" }\n  data = {\n    ${snake(n)} = "${s.value}"\n  }\n}\n`, s),
  k8sSecret: (s, n) => wrap(`apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-secrets\ntype: Opaque\nstringData:\n  ${n}: "${s.value}"\n`, s),
  properties: (s, n) => wrap(`spring.application.name=orders\n${dotted(n)}=${s.value}\nserver.port=8080\n`, s),
  toml: (s, n) => wrap(`[${svc(n)}]\n${snake(n)} = "${s.value}"\nregion = "us-east-1"\n`, s),
  ghActions: (s, n) => wrap(`jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    env:\n      ${n}: ${s.value}\n    steps:\n      - uses: actions/checkout@v4\n`, s),
  php: (s, n) => wrap(`<?php\nreturn [\n    '${snake(n)}' => '${s.value}',\n];\n`, s),
  java: (s, n) => wrap(`public final class Keys {\n    private static final String ${n} = "${s.value}";\n}\n`, s),
  csharp: (s, n) => wrap(`var ${camel(n)} = "${s.value}";\nvar client = new HttpClient();\n`, s),
  ruby: (s, n) => wrap(`Rails.application.configure do\n  config.${snake(n)} = '${s.value}'\nend\n`, s),
  markdown: (s, n) => wrap(`## Setup\n\nAdd this to your \`.env\`:\n\n\`\`\`\n${n}=${s.value}\n\`\`\`\n`, s),
  header: (s, n) => wrap(`curl -sS https://api.${svc(n)}.io/v1/items \\\n  -H "${kebab(n)}: ${s.value}" \\\n  -H 'Accept: application/json'\n`, s),
  ini: (s, n) => wrap(`[default]\nregion = us-east-1\n${snake(n)} = ${s.value}\n`, s),
};

/** Contexts without a telling key name: the value must be recognisable by itself. */
const BARE: Record<string, Ctx> = {
  pyClient: (s) => wrap(`from sdk import Client\n\nclient = Client(api_key="${s.value}", timeout=30)\n`, s),
  tsHeaders: (s) => wrap(`const res = await fetch(url, {\n  headers: { Authorization: 'Bearer ${s.value}' },\n});\n`, s),
  curlBearer: (s) => wrap(`curl https://api.internal/v2/me -H "Authorization: Bearer ${s.value}"\n`, s),
  comment: (s) => wrap(`// TODO(ops): rotate this, it leaked in #4711\n// ${s.value}\nfunction rotate() {}\n`, s),
  log: (s) => wrap(`2024-05-14T10:22:31Z INFO  auth: using credential ${s.value} for upstream\n`, s),
  goArg: (s) => wrap(`client := sdk.NewClient("${s.value}")\n`, s),
  cliFlag: (s) => wrap(`$ mytool login --with-token ${s.value}\nLogged in.\n`, s),
};

/** Multi-line values (key blocks). */
const BLOCK: Record<string, Ctx> = {
  file: (s) => wrap(`${s.value}\n`, s),
  pyTriple: (s) => wrap(`KEY = """${s.value}"""\n`, s),
  tsTemplate: (s) => wrap(`export const signingKey = \`${s.value}\`;\n`, s),
  yamlBlock: (s) => {
    const ind = (t: string): string => t.split('\n').join('\n    ');
    return { value: ind(s.value), secret: ind(s.secret), text: `tls:\n  key: |\n    ${ind(s.value)}\n  cert_file: /etc/tls/cert.pem\n` };
  },
  jsonEscaped: (s) => {
    const esc = (t: string): string => t.split('\n').join('\\n');
    return { value: esc(s.value), secret: esc(s.secret), text: `{"type": "deploy", "ssh_key": "${esc(s.value)}", "user": "ci"}\n` };
  },
};

// ---------------------------------------------------------------- generators per rule
type Gen = () => string | Sample;
interface Spec {
  rule: string;
  gen: Gen;
  /** Key names for NAMED contexts (context rules need their provider's name in the key). */
  names: string[];
  /** Context set: named (default), any (named + bare), block, or an explicit list of context functions. */
  ctx?: 'named' | 'any' | 'block' | Ctx[];
  count?: number;
}

const T = (rule: string, gen: Gen, names: string[], count = 2): Spec => ({ rule, gen, names, ctx: 'any', count });
const C = (rule: string, gen: Gen, names: string[], count = 2): Spec => ({ rule, gen, names, ctx: 'named', count });
const X = (rule: string, gen: Gen, ctx: Ctx[], count = 2): Spec => ({ rule, gen, names: ['X'], ctx, count });

const line = (text: string): Ctx => (s) => wrap(text.replace('$V', s.value), s);

function pemBody(bytes: number): string {
  return (b64(bytes).match(/.{1,64}/g) ?? []).join('\n');
}
function pem(label: string, bytes: number): string {
  return `-----BEGIN ${label}-----\n${pemBody(bytes)}\n-----END ${label}-----`;
}
function jwt(alg = pick(['HS256', 'RS256', 'ES256'])): string {
  const header = b64url(JSON.stringify({ alg, typ: 'JWT' }));
  const payload = b64url(JSON.stringify({ sub: uuid(), iat: 1714000000 + int(9999999), exp: 1734000000 + int(9999999), role: pick(['service_role', 'admin', 'user']) }));
  return `${header}.${payload}.${r(B64URL, alg === 'HS256' ? 43 : 86)}`;
}
const conn = (scheme: string, port: number, db: string, pwSymbols?: string): Gen => () => {
  const pw = password(14 + int(8), pwSymbols);
  const user = pick(['app', 'svc_orders', 'reporting', 'admin_ro', 'billing']);
  return { value: `${scheme}://${user}:${pw}@${host()}:${port}/${db}`, secret: pw };
};
const URL_CTX: Ctx[] = [
  (s) => wrap(`DATABASE_URL=${s.value}\n`, s),
  (s) => wrap(`spring:\n  datasource:\n    url: "${s.value}"\n`, s),
  (s) => wrap(`engine = create_engine("${s.value}", pool_size=10)\n`, s),
  (s) => wrap(`const client = new Client({ connectionString: '${s.value}' });\n`, s),
  (s) => wrap(`services:\n  worker:\n    environment:\n      BROKER_URL: ${s.value}\n`, s),
];

const SPECS: Spec[] = [
  // cloud
  T('aws-access-key-id', () => pick(['AKIA', 'ASIA']) + r(B32, 16), ['AWS_ACCESS_KEY_ID'], 3),
  C('aws-secret-access-key', () => r(B64, 40), ['AWS_SECRET_ACCESS_KEY', 'aws_secret_key'], 4),
  X('aws-secret-access-key', () => r(B64, 40), [line(`[default]\naws_access_key_id = AKIA${r(B32, 16)}\naws_secret_access_key = $V\n`), line(`{"Credentials": {"AccessKeyId": "ASIA${r(B32, 16)}", "SecretAccessKey": "$V"}}`)]),
  C('aws-session-token', () => 'IQoJb3JpZ2luX2VjE' + r(B64, 300), ['AWS_SESSION_TOKEN']),
  T('aws-mws-key', () => `amzn.mws.${uuid()}`, ['MWS_AUTH_TOKEN']),
  T('gcp-api-key', () => 'AIza' + r(B64URL, 35), ['GOOGLE_API_KEY', 'FIREBASE_API_KEY'], 3),
  X('gcp-service-account-key', () => {
    const k = pem('PRIVATE KEY', 1190).split('\n').join('\\n') + '\\n';
    return { value: k, secret: k };
  }, [line(`{\n  "type": "service_account",\n  "project_id": "acme-prod-4411",\n  "private_key_id": "${hex(40)}",\n  "private_key": "$V",\n  "client_email": "deployer@acme-prod-4411.iam.gserviceaccount.com"\n}\n`)]),
  T('gcp-oauth-client-secret', () => 'GOCSPX-' + r(B64URL, 28), ['GOOGLE_CLIENT_SECRET']),
  T('google-oauth-access-token', () => 'ya29.' + r(B64URL, 150), ['GOOGLE_ACCESS_TOKEN']),
  T('google-oauth-refresh-token', () => '1//0' + r(B64URL, 100), ['GOOGLE_REFRESH_TOKEN']),
  T('firebase-cloud-messaging-key', () => 'AAAA' + r(B64URL, 7) + ':APA91b' + r(B64URL, 134), ['FCM_SERVER_KEY']),
  X('azure-storage-connection-string', () => {
    const k = r(B64, 86) + '==';
    return { value: `DefaultEndpointsProtocol=https;AccountName=acme${r(LONUM, 6)};AccountKey=${k};EndpointSuffix=core.windows.net`, secret: k };
  }, [line('AZURE_STORAGE_CONNECTION_STRING="$V"\n'), line('{"ConnectionStrings": {"Storage": "$V"}}\n'), line('conn = BlobServiceClient.from_connection_string("$V")\n')], 3),
  C('azure-storage-account-key', () => r(B64, 86) + '==', ['AZURE_STORAGE_KEY', 'STORAGE_ACCOUNT_KEY']),
  C('azure-cosmosdb-key', () => r(B64, 86) + '==', ['COSMOS_DB_KEY', 'COSMOSDB_PRIMARY_KEY']),
  X('azure-sas-token', () => {
    const sig = r(B64, 43).replace(/\+/g, '%2B').replace(/\//g, '%2F') + '%3D';
    return { value: `https://acme${r(LONUM, 5)}.blob.core.windows.net/backups?sv=2022-11-02&ss=b&srt=co&sp=rl&se=2025-12-31T00:00:00Z&st=2024-01-01T00:00:00Z&spr=https&sig=${sig}`, secret: sig };
  }, [line('BACKUP_SAS_URL=$V\n'), line('az storage blob download --blob-url "$V"\n')]),
  X('azure-service-bus-key', () => {
    const k = r(B64, 43) + '=';
    return { value: `Endpoint=sb://acme-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=${k}`, secret: k };
  }, [line('SERVICEBUS_CONNECTION="$V"\n'), line('"EventHubConnection": "$V",\n')]),
  T('azure-ad-client-secret', () => r(ALNUM, 3) + int(10) + 'Q~' + r(ALNUM + '_~.-', 34), ['AZURE_CLIENT_SECRET'], 3),
  C('azure-devops-pat', () => r('abcdefghijklmnopqrstuvwxyz234567', 52), ['AZURE_DEVOPS_PAT', 'AZDO_TOKEN']),
  C('azure-openai-key', () => hex(32), ['AZURE_OPENAI_API_KEY', 'AZURE_OPENAI_KEY']),
  C('azure-cognitive-services-key', () => hex(32), ['AZURE_SPEECH_KEY', 'COGNITIVE_SERVICES_KEY']),
  X('azure-app-configuration-secret', () => {
    const k = r(B64, 43) + '=';
    return { value: `Endpoint=https://acme-cfg.azconfig.io;Id=${r(ALNUM, 4)}-l0-s0:${r(ALNUM, 20)};Secret=${k}`, secret: k };
  }, [line('APP_CONFIG_CONNECTION_STRING="$V"\n'), line('builder.AddAzureAppConfiguration("$V");\n')]),
  T('digitalocean-pat', () => 'dop_v1_' + hex(64), ['DIGITALOCEAN_TOKEN']),
  T('digitalocean-oauth-token', () => 'doo_v1_' + hex(64), ['DO_OAUTH_TOKEN']),
  T('digitalocean-refresh-token', () => 'dor_v1_' + hex(64), ['DO_REFRESH_TOKEN']),
  C('heroku-api-key', uuid, ['HEROKU_API_KEY', 'HEROKU_TOKEN']),
  T('heroku-api-key-v2', () => 'HRKU-AA' + r(B64URL, 58), ['HEROKU_API_KEY']),
  T('alibaba-access-key-id', () => 'LTAI' + r(ALNUM, 20), ['ALIBABA_CLOUD_ACCESS_KEY_ID']),
  C('alibaba-secret-key', () => r(ALNUM, 30), ['ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIYUN_SECRET']),
  C('ibm-cloud-api-key', () => r(B64URL, 44), ['IBM_CLOUD_API_KEY', 'IBMCLOUD_APIKEY']),
  T('tencent-cloud-secret-id', () => 'AKID' + r(ALNUM, 32), ['TENCENTCLOUD_SECRET_ID']),
  C('tencent-cloud-secret-key', () => r(ALNUM, 32), ['TENCENTCLOUD_SECRET_KEY']),
  T('yandex-api-key', () => 'AQVN' + r(B64URL, 36), ['YC_API_KEY']),
  T('yandex-iam-token', () => 't1.' + r(B64URL, 40) + '.' + r(B64URL, 86), ['YC_IAM_TOKEN']),
  C('yandex-access-key-secret', () => 'YC' + r(B64URL, 38), ['YANDEX_SECRET_KEY']),
  C('linode-token', () => hex(64), ['LINODE_TOKEN', 'LINODE_CLI_TOKEN']),
  C('vultr-api-key', () => r(UPNUM, 36), ['VULTR_API_KEY']),
  C('hetzner-cloud-token', () => r(ALNUM, 64), ['HCLOUD_TOKEN', 'HETZNER_API_TOKEN']),
  C('scaleway-secret-key', uuid, ['SCW_SECRET_KEY', 'SCALEWAY_SECRET_KEY']),
  T('backblaze-application-key', () => 'K00' + int(10) + r(ALNUM, 27), ['B2_APPLICATION_KEY']),
  T('databricks-token', () => 'dapi' + hex(32), ['DATABRICKS_TOKEN']),
  T('cloudflare-api-token-v2', () => pick(['cfat_', 'cfut_', 'cfk_']) + r(ALNUM, 40) + hex(8), ['CLOUDFLARE_API_TOKEN'], 3),
  C('cloudflare-api-token', () => r(B64URL, 40), ['CLOUDFLARE_API_TOKEN', 'CF_API_TOKEN']),
  C('cloudflare-global-api-key', () => hex(37), ['CLOUDFLARE_GLOBAL_API_KEY', 'X_AUTH_KEY']),
  T('cloudflare-origin-ca-key', () => `v1.0-${hex(24)}-${hex(146)}`, ['CF_ORIGIN_CA_KEY']),
  T('tailscale-key', () => `tskey-${pick(['api', 'auth', 'client', 'webhook'])}-${r(ALNUM, 12)}-${r(ALNUM, 30)}`, ['TS_AUTHKEY'], 3),
  // version control, CI
  T('github-pat', () => 'ghp_' + r(ALNUM, 36), ['GITHUB_TOKEN', 'GH_TOKEN'], 4),
  X('github-pat', () => {
    const t = 'ghp_' + r(ALNUM, 36);
    return { value: `https://x-access-token:${t}@github.com/acme/infra.git`, secret: t };
  }, [line('[remote "origin"]\n\turl = $V\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n'), line('git clone $V\n')]),
  T('github-oauth-token', () => 'gho_' + r(ALNUM, 36), ['GITHUB_OAUTH_TOKEN']),
  T('github-user-to-server-token', () => 'ghu_' + r(ALNUM, 36), ['GH_USER_TOKEN']),
  T('github-server-to-server-token', () => 'ghs_' + r(ALNUM, 36), ['GITHUB_APP_TOKEN']),
  T('github-refresh-token', () => 'ghr_' + r(ALNUM, 76), ['GITHUB_REFRESH_TOKEN']),
  T('github-fine-grained-pat', () => 'github_pat_' + r(ALNUM, 22) + '_' + r(ALNUM, 59), ['GITHUB_PAT'], 3),
  X('github-oauth-basic-url', () => {
    const t = hex(40);
    return { value: `git+https://${t}:x-oauth-basic@github.com/acme/private-lib.git`, secret: t };
  }, [line('  "dependencies": {\n    "private-lib": "$V"\n  }\n'), line('pip install $V\n')]),
  T('gitlab-pat', () => 'glpat-' + r(B64URL, 20), ['GITLAB_TOKEN', 'CI_PUSH_TOKEN'], 3),
  T('gitlab-pipeline-trigger-token', () => 'glptt-' + hex(40), ['TRIGGER_TOKEN']),
  T('gitlab-runner-registration-token', () => 'GR1348941' + r(B64URL, 20), ['RUNNER_REGISTRATION_TOKEN']),
  T('gitlab-runner-auth-token', () => 'glrt-' + r(B64URL, 20), ['RUNNER_TOKEN']),
  T('gitlab-deploy-token', () => 'gldt-' + r(B64URL, 20), ['DEPLOY_TOKEN']),
  T('gitlab-feed-token', () => 'glft-' + r(B64URL, 20), ['FEED_TOKEN']),
  T('gitlab-incoming-mail-token', () => 'glimt-' + r(B64URL, 25), ['INCOMING_EMAIL_TOKEN']),
  T('gitlab-oauth-app-secret', () => 'gloas-' + r(B64URL, 64), ['GITLAB_OAUTH_SECRET']),
  T('gitlab-scim-token', () => 'glsoat-' + r(B64URL, 20), ['SCIM_TOKEN']),
  T('gitlab-ci-job-token', () => 'glcbt-' + r(ALNUM, 2) + '_' + r(B64URL, 20), ['CI_JOB_TOKEN']),
  T('gitlab-feature-flag-token', () => 'glffct-' + r(B64URL, 20), ['UNLEASH_TOKEN']),
  T('gitlab-agent-token', () => 'glagent-' + r(B64URL, 50), ['AGENT_TOKEN']),
  T('bitbucket-app-password', () => 'ATBB' + r(ALNUM, 32), ['BITBUCKET_APP_PASSWORD']),
  C('bitbucket-client-secret', () => r(ALNUM, 64), ['BITBUCKET_CLIENT_SECRET', 'BITBUCKET_OAUTH_SECRET']),
  T('sourcegraph-access-token', () => 'sgp_' + hex(16) + '_' + hex(40), ['SRC_ACCESS_TOKEN']),
  T('circleci-personal-token', () => 'CCIPAT_' + r(ALNUM, 22) + '_' + hex(40), ['CIRCLECI_TOKEN']),
  T('buildkite-token', () => 'bkua_' + hex(40), ['BUILDKITE_API_TOKEN']),
  T('sonarqube-token', () => pick(['sqp_', 'squ_', 'sqa_']) + hex(40), ['SONAR_TOKEN']),
  C('travis-ci-token', () => r(B64URL, 22), ['TRAVIS_API_TOKEN', 'TRAVIS_TOKEN']),
  // chat
  T('slack-bot-token', () => `xoxb-${r(DI, 11)}-${r(DI, 13)}-${r(ALNUM, 24)}`, ['SLACK_BOT_TOKEN'], 3),
  T('slack-user-token', () => `xoxp-${r(DI, 11)}-${r(DI, 11)}-${r(DI, 13)}-${hex(32)}`, ['SLACK_USER_TOKEN']),
  T('slack-app-token', () => `xapp-1-A${r(UPNUM, 10)}-${r(DI, 13)}-${hex(64)}`, ['SLACK_APP_TOKEN']),
  T('slack-legacy-token', () => `xoxa-${r(DI, 11)}-${r(DI, 12)}-${r(ALNUM, 32)}`, ['SLACK_LEGACY_TOKEN']),
  T('slack-config-token', () => `xoxe.xoxp-1-${r(ALNUM, 160)}`, ['SLACK_CONFIG_TOKEN']),
  X('slack-webhook-url', () => {
    const p = `T${r(UPNUM, 9)}/B${r(UPNUM, 10)}/${r(ALNUM, 24)}`;
    return { value: `https://hooks.slack.com/services/${p}`, secret: p };
  }, [line('SLACK_WEBHOOK_URL=$V\n'), line('requests.post("$V", json={"text": msg})\n'), line('alerting:\n  slack:\n    webhook: "$V"\n')], 3),
  T('discord-bot-token', () => pick(['M', 'N', 'O']) + r(B64URL, 23) + '.' + r(B64URL, 6) + '.' + r(B64URL, 27), ['DISCORD_BOT_TOKEN', 'DISCORD_TOKEN']),
  X('discord-webhook-url', () => {
    const p = `${r(DI, 19)}/${r(B64URL, 68)}`;
    return { value: `https://discord.com/api/webhooks/${p}`, secret: p };
  }, [line('DISCORD_WEBHOOK=$V\n'), line('await fetch("$V", { method: "POST", body })\n')]),
  C('discord-client-secret', () => r(B64URL, 32), ['DISCORD_CLIENT_SECRET']),
  T('telegram-bot-token', () => `${r(DI, 10)}:AA${r(B64URL, 33)}`, ['TELEGRAM_BOT_TOKEN', 'TG_TOKEN'], 3),
  X('teams-webhook-url', () => {
    const p = `${uuid()}@${uuid()}/IncomingWebhook/${hex(32)}/${uuid()}`;
    return { value: `https://acme.webhook.office.com/webhookb2/${p}`, secret: p };
  }, [line('TEAMS_WEBHOOK_URL=$V\n'), line('notify:\n  teams: "$V"\n')]),
  X('teams-workflow-webhook-url', () => {
    const sig = r(B64URL, 43);
    return { value: `https://prod-12.westeurope.logic.azure.com:443/workflows/${hex(32)}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${sig}`, secret: sig };
  }, [line('TEAMS_FLOW_URL="$V"\n'), line('curl -X POST "$V" -d @card.json\n')]),
  C('mattermost-access-token', () => r(LONUM, 26), ['MATTERMOST_TOKEN', 'MATTERMOST_ACCESS_TOKEN']),
  C('twitch-api-token', () => r(LONUM, 30), ['TWITCH_OAUTH_TOKEN', 'TWITCH_CLIENT_SECRET']),
  // payments
  T('stripe-secret-key', () => 'sk_live_' + r(ALNUM, 99), ['STRIPE_SECRET_KEY'], 3),
  T('stripe-test-secret-key', () => 'sk_test_' + r(ALNUM, 99), ['STRIPE_SECRET_KEY']),
  T('stripe-restricted-key', () => pick(['rk_live_', 'rk_test_']) + r(ALNUM, 99), ['STRIPE_RESTRICTED_KEY']),
  T('stripe-webhook-secret', () => 'whsec_' + r(ALNUM, 32), ['STRIPE_WEBHOOK_SECRET']),
  T('square-access-token', () => pick(['EAAA' + r(B64URL, 60), 'sq0atp-' + r(B64URL, 22)]), ['SQUARE_ACCESS_TOKEN']),
  T('square-oauth-secret', () => 'sq0csp-' + r(B64URL, 43), ['SQUARE_APP_SECRET']),
  T('braintree-access-token', () => `access_token$production$${r(LONUM, 16)}$${hex(32)}`, ['BRAINTREE_ACCESS_TOKEN']),
  C('braintree-private-key', () => hex(32), ['BRAINTREE_PRIVATE_KEY']),
  C('paypal-client-secret', () => 'E' + r(B64URL, 79), ['PAYPAL_CLIENT_SECRET', 'PAYPAL_SECRET']),
  C('adyen-api-key', () => 'AQE' + r(B64, 100), ['ADYEN_API_KEY']),
  C('razorpay-key-secret', () => r(ALNUM, 24), ['RAZORPAY_KEY_SECRET', 'RAZORPAY_SECRET']),
  T('flutterwave-secret-key', () => `FLWSECK_TEST-${r('abcdefgh0123456789', 32)}-X`, ['FLW_SECRET_KEY']),
  T('flutterwave-encryption-key', () => 'FLWSECK_TEST' + r('abcdefgh0123456789', 12), ['FLW_ENCRYPTION_KEY']),
  T('plaid-access-token', () => `access-${pick(['sandbox', 'production'])}-${uuid()}`, ['PLAID_ACCESS_TOKEN']),
  C('plaid-secret', () => hex(30), ['PLAID_SECRET']),
  C('gocardless-access-token', () => 'live_' + r(B64URL, 40), ['GOCARDLESS_ACCESS_TOKEN']),
  C('mollie-api-key', () => 'live_' + r(ALNUM, 30), ['MOLLIE_API_KEY']),
  T('checkout-secret-key', () => 'sk_sbox_' + r(LONUM, 26), ['CKO_SECRET_KEY']),
  T('paddle-api-key', () => `pdl_live_apikey_${r(LONUM, 26)}_${r(ALNUM, 22)}_${r(ALNUM, 3)}`, ['PADDLE_API_KEY']),
  T('woocommerce-consumer-secret', () => 'cs_' + hex(40), ['WC_CONSUMER_SECRET']),
  // AI
  T('openai-project-key', () => 'sk-proj-' + r(B64URL, 74) + 'T3BlbkFJ' + r(B64URL, 74), ['OPENAI_API_KEY'], 4),
  T('openai-service-account-key', () => 'sk-svcacct-' + r(B64URL, 74) + 'T3BlbkFJ' + r(B64URL, 74), ['OPENAI_API_KEY']),
  T('openai-admin-key', () => 'sk-admin-' + r(B64URL, 74) + 'T3BlbkFJ' + r(B64URL, 74), ['OPENAI_ADMIN_KEY']),
  T('openai-api-key', () => 'sk-' + r(ALNUM, 20) + 'T3BlbkFJ' + r(ALNUM, 20), ['OPENAI_API_KEY'], 3),
  T('anthropic-api-key', () => 'sk-ant-api03-' + r(B64URL, 93) + 'AA', ['ANTHROPIC_API_KEY'], 4),
  T('anthropic-admin-key', () => 'sk-ant-admin01-' + r(B64URL, 93) + 'AA', ['ANTHROPIC_ADMIN_KEY']),
  T('anthropic-oauth-token', () => 'sk-ant-oat01-' + r(B64URL, 93) + 'AA', ['CLAUDE_CODE_OAUTH_TOKEN']),
  T('huggingface-token', () => 'hf_' + r(UP + LO, 34), ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'], 3),
  T('huggingface-org-token', () => 'api_org_' + r(UP + LO, 34), ['HF_ORG_TOKEN']),
  C('cohere-api-key', () => r(ALNUM, 40), ['COHERE_API_KEY', 'CO_API_KEY'], 3),
  T('groq-api-key', () => 'gsk_' + r(ALNUM, 52), ['GROQ_API_KEY'], 3),
  T('replicate-api-token', () => 'r8_' + r(ALNUM, 37), ['REPLICATE_API_TOKEN'], 3),
  T('perplexity-api-key', () => 'pplx-' + r(ALNUM, 48), ['PERPLEXITY_API_KEY'], 3),
  T('xai-api-key', () => 'xai-' + r(ALNUM, 80), ['XAI_API_KEY'], 3),
  C('mistral-api-key', () => r(ALNUM, 32), ['MISTRAL_API_KEY'], 3),
  C('together-api-key', () => hex(64), ['TOGETHER_API_KEY']),
  T('together-api-key-v1', () => 'tgp_v1_' + r(B64URL, 43), ['TOGETHER_API_KEY']),
  C('deepseek-api-key', () => 'sk-' + hex(32), ['DEEPSEEK_API_KEY'], 3),
  T('openrouter-api-key', () => 'sk-or-v1-' + hex(64), ['OPENROUTER_API_KEY']),
  T('fireworks-api-key', () => 'fw_' + r(ALNUM, 24), ['FIREWORKS_API_KEY']),
  T('langsmith-api-key', () => `lsv2_${pick(['pt', 'sk'])}_${hex(32)}_${hex(10)}`, ['LANGSMITH_API_KEY']),
  T('langfuse-secret-key', () => 'sk-lf-' + uuid(), ['LANGFUSE_SECRET_KEY']),
  T('pinecone-api-key', () => `pcsk_${r(ALNUM, 6)}_${r(ALNUM, 63)}`, ['PINECONE_API_KEY']),
  C('wandb-api-key', () => hex(40), ['WANDB_API_KEY']),
  T('nvidia-api-key', () => 'nvapi-' + r(B64URL, 64), ['NVIDIA_API_KEY']),
  T('cerebras-api-key', () => 'csk-' + r(LONUM, 48), ['CEREBRAS_API_KEY']),
  C('elevenlabs-api-key', () => 'sk_' + hex(48), ['ELEVENLABS_API_KEY', 'XI_API_KEY']),
  C('assemblyai-api-key', () => hex(32), ['ASSEMBLYAI_API_KEY']),
  C('deepgram-api-key', () => hex(40), ['DEEPGRAM_API_KEY']),
  C('voyage-api-key', () => 'pa-' + r(B64URL, 43), ['VOYAGE_API_KEY']),
  C('google-gemini-api-key', () => 'AIza' + r(B64URL, 35), ['GEMINI_API_KEY']),
  C('stability-api-key', () => 'sk-' + r(ALNUM, 48), ['STABILITY_API_KEY']),
  C('anyscale-api-key', () => 'esecret_' + r(ALNUM, 26), ['ANYSCALE_API_KEY']),
  // registries
  T('npm-access-token', () => 'npm_' + r(ALNUM, 36), ['NPM_TOKEN', 'NODE_AUTH_TOKEN'], 3),
  X('npmrc-auth-token', () => r(B64, 48) + '=', [line('@acme:registry=https://npm.acme.dev/\n//npm.acme.dev/:_authToken=$V\nalways-auth=true\n'), line('npmRegistries:\n  "https://npm.acme.dev":\n    npmAuthToken: "$V"\n')], 3),
  T('pypi-upload-token', () => 'pypi-AgEIcHlwaS5vcmc' + r(B64URL, 150), ['PYPI_TOKEN', 'TWINE_PASSWORD']),
  X('pypi-upload-token', () => 'pypi-AgEIcHlwaS5vcmc' + r(B64URL, 150), [line('[pypi]\n  username = __token__\n  password = $V\n')]),
  T('rubygems-api-key', () => 'rubygems_' + hex(48), ['GEM_HOST_API_KEY']),
  T('nuget-api-key', () => 'oy2' + r(LONUM, 43), ['NUGET_API_KEY']),
  T('dockerhub-pat', () => 'dckr_pat_' + r(B64URL, 27), ['DOCKERHUB_TOKEN'], 3),
  T('dockerhub-org-token', () => 'dckr_oat_' + r(B64URL, 32), ['DOCKER_ORG_TOKEN']),
  T('crates-io-token', () => 'cio' + r(ALNUM, 32), ['CARGO_REGISTRY_TOKEN']),
  T('artifactory-api-key', () => 'AKCp' + r(ALNUM, 69), ['ARTIFACTORY_API_KEY']),
  T('artifactory-reference-token', () => 'cmVmdGtu' + r(ALNUM, 56), ['JFROG_ACCESS_TOKEN']),
  T('clojars-token', () => 'CLOJARS_' + r(LONUM, 60), ['CLOJARS_TOKEN']),
  X('docker-config-auth', () => {
    const a = Buffer.from(`ci-bot:${password(20)}`).toString('base64');
    return { value: a, secret: a };
  }, [line('{\n  "auths": {\n    "registry.acme.dev": {\n      "auth": "$V"\n    }\n  }\n}\n'), line('{"auths":{"ghcr.io":{"auth":"$V"}},"credsStore":""}')]),
  C('hex-pm-api-key', () => hex(32), ['HEX_API_KEY']),
  C('gradle-publish-secret', () => r(ALNUM, 32), ['GRADLE_PUBLISH_SECRET']),
  C('packagecloud-token', () => hex(48), ['PACKAGECLOUD_TOKEN']),
  // SaaS
  T('twilio-api-key', () => 'SK' + hex(32), ['TWILIO_API_KEY']),
  C('twilio-auth-token', () => hex(32), ['TWILIO_AUTH_TOKEN'], 3),
  T('sendgrid-api-key', () => `SG.${r(B64URL, 22)}.${r(B64URL, 43)}`, ['SENDGRID_API_KEY'], 3),
  T('mailgun-api-key', () => 'key-' + hex(32), ['MAILGUN_API_KEY']),
  C('mailgun-private-key', () => `${hex(32)}-${hex(8)}-${hex(8)}`, ['MAILGUN_API_KEY']),
  T('mailchimp-api-key', () => `${hex(32)}-us${1 + int(20)}`, ['MAILCHIMP_API_KEY']),
  C('postmark-server-token', uuid, ['POSTMARK_SERVER_TOKEN', 'POSTMARK_API_TOKEN']),
  T('brevo-api-key', () => `xkeysib-${hex(64)}-${r(ALNUM, 16)}`, ['BREVO_API_KEY']),
  T('brevo-smtp-key', () => `xsmtpsib-${hex(64)}-${r(ALNUM, 16)}`, ['SMTP_PASSWORD']),
  T('mailersend-api-token', () => 'mlsn.' + hex(64), ['MAILERSEND_API_KEY']),
  T('resend-api-key', () => `re_${r(ALNUM, 8)}_${r(ALNUM, 24)}`, ['RESEND_API_KEY']),
  T('shopify-access-token', () => 'shpat_' + hex(32), ['SHOPIFY_ACCESS_TOKEN'], 3),
  T('shopify-shared-secret', () => 'shpss_' + hex(32), ['SHOPIFY_API_SECRET']),
  T('shopify-custom-app-token', () => 'shpca_' + hex(32), ['SHOPIFY_CUSTOM_APP_TOKEN']),
  T('shopify-private-app-token', () => 'shppa_' + hex(32), ['SHOPIFY_PASSWORD']),
  T('atlassian-api-token', () => 'ATATT3' + r(B64URL, 180), ['JIRA_API_TOKEN']),
  C('atlassian-legacy-token', () => r(ALNUM, 24), ['JIRA_API_TOKEN', 'CONFLUENCE_TOKEN']),
  T('linear-api-key', () => 'lin_api_' + r(ALNUM, 40), ['LINEAR_API_KEY'], 3),
  T('linear-oauth-token', () => 'lin_oauth_' + hex(64), ['LINEAR_OAUTH_TOKEN']),
  T('notion-integration-token', () => `ntn_${r(DI, 11)}${r(ALNUM, 35)}`, ['NOTION_TOKEN'], 3),
  T('notion-legacy-secret', () => 'secret_' + r(ALNUM, 43), ['NOTION_API_KEY']),
  C('datadog-api-key', () => hex(32), ['DATADOG_API_KEY', 'DD_API_KEY'], 3),
  C('datadog-app-key', () => hex(40), ['DATADOG_APP_KEY', 'DD_APP_KEY'], 3),
  T('newrelic-user-api-key', () => 'NRAK-' + r(UPNUM, 27), ['NEW_RELIC_API_KEY']),
  T('newrelic-insert-key', () => 'NRII-' + r(B64URL, 32), ['NEW_RELIC_INSERT_KEY']),
  C('newrelic-license-key', () => hex(36) + 'NRAL', ['NEW_RELIC_LICENSE_KEY', 'NEWRELIC_LICENSE']),
  T('sentry-org-token', () => 'sntrys_' + b64(90).replace(/=+$/, ''), ['SENTRY_AUTH_TOKEN']),
  T('sentry-user-token', () => 'sntryu_' + hex(64), ['SENTRY_AUTH_TOKEN']),
  C('sentry-auth-token', () => hex(64), ['SENTRY_AUTH_TOKEN']),
  C('pagerduty-api-key', () => 'u+' + r(B64URL, 18), ['PAGERDUTY_API_KEY', 'PAGERDUTY_TOKEN']),
  C('okta-api-token', () => '00' + r(B64URL, 40), ['OKTA_API_TOKEN', 'OKTA_CLIENT_TOKEN']),
  T('postman-api-key', () => `PMAK-${hex(24)}-${hex(34)}`, ['POSTMAN_API_KEY']),
  T('doppler-token', () => `dp.${pick(['pt', 'st', 'sa'])}.${r(ALNUM, 43)}`, ['DOPPLER_TOKEN'], 3),
  T('vault-service-token', () => 'hvs.' + r(B64URL, 90), ['VAULT_TOKEN'], 3),
  T('vault-batch-token', () => 'hvb.' + r(B64URL, 140), ['VAULT_TOKEN']),
  T('vault-recovery-token', () => 'hvr.' + r(B64URL, 90), ['VAULT_RECOVERY_TOKEN']),
  C('vault-legacy-token', () => 's.' + r(ALNUM, 24), ['VAULT_TOKEN']),
  T('pulumi-access-token', () => 'pul-' + hex(40), ['PULUMI_ACCESS_TOKEN']),
  T('terraform-cloud-token', () => `${r(ALNUM, 14)}.atlasv1.${r(B64URL, 67)}`, ['TFE_TOKEN', 'TF_TOKEN_app_terraform_io'], 3),
  T('grafana-cloud-token', () => 'glc_' + b64url(JSON.stringify({ o: String(int(999999)), n: `stack-${int(9999)}-read`, k: r(ALNUM, 24), m: { r: 'prod-eu-west-2' } })), ['GRAFANA_CLOUD_TOKEN']),
  T('grafana-service-account-token', () => `glsa_${r(ALNUM, 32)}_${hex(8)}`, ['GRAFANA_SA_TOKEN']),
  T('grafana-api-key', () => 'eyJrIjoi' + r(ALNUM, 80), ['GRAFANA_API_KEY']),
  T('airtable-pat', () => `pat${r(ALNUM, 14)}.${hex(64)}`, ['AIRTABLE_TOKEN']),
  C('airtable-api-key', () => 'key' + r(ALNUM, 14), ['AIRTABLE_API_KEY']),
  T('figma-pat', () => 'figd_' + r(B64URL, 40), ['FIGMA_TOKEN']),
  C('asana-pat', () => `${1 + int(2)}/${r(DI, 16)}/${r(DI, 16)}:${hex(32)}`, ['ASANA_ACCESS_TOKEN', 'ASANA_PAT']),
  T('dropbox-short-lived-token', () => 'sl.' + r(B64URL, 140), ['DROPBOX_ACCESS_TOKEN']),
  T('supabase-access-token', () => 'sbp_' + hex(40), ['SUPABASE_ACCESS_TOKEN']),
  T('supabase-secret-key', () => 'sb_secret_' + r(B64URL, 32), ['SUPABASE_SECRET_KEY']),
  T('vercel-token', () => pick(['vcp_', 'vci_', 'vca_', 'vcr_']) + r(ALNUM, 56), ['VERCEL_TOKEN'], 3),
  T('vercel-ai-gateway-key', () => 'vck_' + r(ALNUM, 56), ['AI_GATEWAY_API_KEY']),
  C('vercel-legacy-token', () => r(ALNUM, 24), ['VERCEL_TOKEN']),
  T('netlify-access-token', () => 'nfp_' + r(ALNUM, 36), ['NETLIFY_AUTH_TOKEN']),
  C('netlify-legacy-token', () => r(B64URL, 43), ['NETLIFY_AUTH_TOKEN']),
  T('fly-access-token', () => 'fo1_' + r(B64URL, 43), ['FLY_API_TOKEN']),
  C('algolia-admin-key', () => hex(32), ['ALGOLIA_ADMIN_KEY', 'ALGOLIA_API_KEY']),
  T('mapbox-secret-token', () => `sk.eyJ1Ijoi${r(B64URL, 40)}.${r(B64URL, 22)}`, ['MAPBOX_SECRET_TOKEN']),
  T('hubspot-private-app-token', () => `pat-na1-${uuid()}`, ['HUBSPOT_ACCESS_TOKEN']),
  T('contentful-pat', () => 'CFPAT-' + r(B64URL, 43), ['CONTENTFUL_MANAGEMENT_TOKEN']),
  T('typeform-pat', () => 'tfp_' + r(B64URL, 59), ['TYPEFORM_TOKEN']),
  T('launchdarkly-access-token', () => 'api-' + uuid(), ['LD_API_KEY']),
  T('launchdarkly-sdk-key', () => 'sdk-' + uuid(), ['LD_SDK_KEY']),
  T('planetscale-token', () => 'pscale_tkn_' + r(B64URL, 43), ['PLANETSCALE_SERVICE_TOKEN']),
  T('prefect-api-key', () => 'pnu_' + r(ALNUM, 36), ['PREFECT_API_KEY']),
  T('readme-api-key', () => 'rdme_' + r(LONUM, 70), ['README_API_KEY']),
  T('shippo-api-token', () => 'shippo_live_' + hex(40), ['SHIPPO_API_TOKEN']),
  T('easypost-api-key', () => 'EZAK' + r(ALNUM, 54), ['EASYPOST_API_KEY']),
  T('duffel-api-token', () => 'duffel_live_' + r(B64URL, 43), ['DUFFEL_ACCESS_TOKEN']),
  T('dynatrace-api-token', () => `dt0c01.${r(UPNUM, 24)}.${r(UPNUM, 64)}`, ['DT_API_TOKEN']),
  T('clickup-api-key', () => `pk_${r(DI, 8)}_${r(UPNUM, 32)}`, ['CLICKUP_API_KEY']),
  T('defined-networking-api-token', () => `dnkey-${r(LONUM, 26)}-${r(LONUM, 52)}`, ['DN_API_KEY']),
  T('infracost-api-key', () => 'ico-' + r(ALNUM, 32), ['INFRACOST_API_KEY']),
  T('octopus-deploy-api-key', () => 'API-' + r(UPNUM, 26), ['OCTOPUS_API_KEY']),
  T('openshift-user-token', () => 'sha256~' + r(B64URL, 43), ['OPENSHIFT_TOKEN']),
  T('scalingo-api-token', () => 'tk-us-' + r(B64URL, 48), ['SCALINGO_API_TOKEN']),
  T('render-api-key', () => 'rnd_' + r(ALNUM, 32), ['RENDER_API_KEY']),
  T('neon-api-key', () => 'napi_' + r(LONUM, 64), ['NEON_API_KEY']),
  T('posthog-personal-api-key', () => 'phx_' + r(ALNUM, 43), ['POSTHOG_PERSONAL_API_KEY']),
  T('facebook-access-token', () => 'EAAG' + r(ALNUM, 180), ['FB_ACCESS_TOKEN']),
  C('facebook-app-secret', () => hex(32), ['FACEBOOK_APP_SECRET', 'FB_APP_SECRET']),
  T('onepassword-service-account-token', () => 'ops_' + b64url(JSON.stringify({ signInAddress: 'acme.1password.com', userAuth: { method: 'SRPg-4096', alg: 'PBES2g-HS256', iterations: 650000, salt: r(B64URL, 22) }, email: `${r(LONUM, 12)}@1passwordserviceaccounts.com`, srpX: hex(64), muk: { alg: 'A256GCM', ext: true, k: r(B64URL, 43), key_ops: ['encrypt', 'decrypt'], kty: 'oct', kid: 'mp' }, secretKey: `A3-${r(UPNUM, 6)}-${r(UPNUM, 6)}-${r(UPNUM, 5)}-${r(UPNUM, 5)}-${r(UPNUM, 5)}-${r(UPNUM, 5)}`, throttleSecret: { seed: hex(64), deviceUuid: r(LONUM, 26) }, deviceUuid: r(LONUM, 26) })), ['OP_SERVICE_ACCOUNT_TOKEN']),
  T('onepassword-secret-key', () => `A3-${r(UPNUM, 6)}-${r(UPNUM, 6)}-${r(UPNUM, 5)}-${r(UPNUM, 5)}-${r(UPNUM, 5)}-${r(UPNUM, 5)}`, ['OP_SECRET_KEY']),
  C('ngrok-authtoken', () => `${r(ALNUM, 27)}_${r(ALNUM, 21)}`, ['NGROK_AUTHTOKEN']),
  X('cloudinary-url', () => {
    const s = r(B64URL, 27);
    return { value: `cloudinary://${r(DI, 15)}:${s}@acme-media`, secret: s };
  }, [line('CLOUDINARY_URL=$V\n'), line('cloudinary.config(cloudinary_url="$V")\n')]),
  T('frameio-api-token', () => 'fio-u-' + r(B64URL, 64), ['FRAMEIO_TOKEN']),
  C('intercom-access-token', () => r(B64URL, 59) + '=', ['INTERCOM_ACCESS_TOKEN']),
  C('zendesk-api-token', () => r(ALNUM, 40), ['ZENDESK_API_TOKEN']),
  C('snyk-api-token', uuid, ['SNYK_TOKEN']),
  C('rollbar-access-token', () => hex(32), ['ROLLBAR_ACCESS_TOKEN']),
  C('auth0-client-secret', () => r(B64URL, 64), ['AUTH0_CLIENT_SECRET']),
  C('confluent-api-secret', () => r(ALNUM + '+/', 64), ['CONFLUENT_API_SECRET', 'CONFLUENT_CLOUD_API_SECRET']),
  C('segment-write-key', () => r(ALNUM, 32), ['SEGMENT_WRITE_KEY']),
  C('zoom-client-secret', () => r(ALNUM, 32), ['ZOOM_CLIENT_SECRET']),
  C('salesforce-client-secret', () => r(HEXU, 64), ['SALESFORCE_CLIENT_SECRET', 'SFDC_CONSUMER_SECRET']),
  T('salesforce-access-token', () => `00D${r(ALNUM, 12)}!${r(ALNUM + '._', 96)}`, ['SF_ACCESS_TOKEN']),
  T('infisical-service-token', () => `st.${uuid()}.${hex(32)}.${hex(32)}`, ['INFISICAL_TOKEN']),
  T('harness-pat', () => `pat.${r(B64URL, 22)}.${r(LONUM, 24)}.${r(ALNUM, 20)}`, ['HARNESS_API_KEY']),
  T('age-secret-key', () => 'AGE-SECRET-KEY-1' + r(BECH32, 58), ['SOPS_AGE_KEY']),
  // databases
  X('postgres-connection-string', conn('postgresql', 5432, 'orders'), URL_CTX, 4),
  X('postgres-connection-string', conn('postgres', 5432, 'app', '!*-_.~@'), URL_CTX, 2),
  X('mysql-connection-string', conn('mysql', 3306, 'shop'), URL_CTX, 3),
  X('mysql-connection-string', () => {
    const pw = password();
    return { value: `jdbc:mysql://reporting:${pw}@${host()}:3306/analytics?useSSL=true`, secret: pw };
  }, URL_CTX, 1),
  X('mongodb-connection-string', conn('mongodb+srv', 27017, 'prod'), URL_CTX, 3),
  X('mongodb-connection-string', conn('mongodb', 27017, 'events'), URL_CTX, 1),
  X('redis-connection-string', () => {
    const pw = password(24);
    return { value: `redis://${pick(['default', ''])}:${pw}@${host()}:6379/0`, secret: pw };
  }, URL_CTX, 3),
  X('amqp-connection-string', conn('amqps', 5671, 'vhost'), URL_CTX, 3),
  X('database-connection-string', () => {
    const pw = password();
    const scheme = pick(['clickhouse', 'neo4j+s', 'couchbases', 'mssql+pyodbc', 'oracle+oracledb']);
    return { value: `${scheme}://svc:${pw}@${host()}:9440/db`, secret: pw };
  }, URL_CTX, 3),
  X('ado-connection-string-password', () => {
    const pw = password();
    return { value: `Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=orders;User ID=svc_orders;Password=${pw};Encrypt=True;`, secret: pw };
  }, [line('"ConnectionStrings": { "Default": "$V" }\n'), line('var cs = "$V";\n'), line('SQL_CONNECTION=$V\n')], 3),
  X('ado-connection-string-password', () => {
    const pw = password();
    return { value: `jdbc:sqlserver://db.corp.lan:1433;databaseName=hr;user=hr_app;password=${pw};encrypt=true`, secret: pw };
  }, [line('jdbc.url=$V\n')], 1),
  T('planetscale-password', () => 'pscale_pw_' + r(B64URL, 43), ['DATABASE_PASSWORD']),
  C('mongodb-atlas-private-key', uuid, ['MONGODB_ATLAS_PRIVATE_KEY', 'ATLAS_PRIVATE_KEY']),
  // keys, JWT
  { rule: 'pem-private-key', gen: () => pem(pick(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']), pick([121, 600, 1190])), names: ['X'], ctx: 'block', count: 5 },
  { rule: 'pem-private-key', gen: () => `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${r(HEXU, 32)}\n\n${pemBody(1200)}\n-----END RSA PRIVATE KEY-----`, names: ['X'], ctx: 'block', count: 1 },
  { rule: 'openssh-private-key', gen: () => `-----BEGIN OPENSSH PRIVATE KEY-----\n${('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW' + b64(300)).match(/.{1,70}/g)!.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`, names: ['X'], ctx: 'block', count: 4 },
  { rule: 'pgp-private-key-block', gen: () => `-----BEGIN PGP PRIVATE KEY BLOCK-----\nComment: ci signing key\n\n${pemBody(900)}\n=${r(B64, 4)}\n-----END PGP PRIVATE KEY BLOCK-----`, names: ['X'], ctx: 'block', count: 3 },
  X('putty-private-key', () => `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@bastion\nPublic-Lines: 2\n${pemBody(51)}\nPrivate-Lines: 1\n${b64(48)}\nPrivate-MAC: ${hex(64)}`, [BLOCK['file']!, BLOCK['pyTriple']!]),
  C('ethereum-private-key', () => '0x' + hex(64), ['PRIVATE_KEY', 'DEPLOYER_PRIVATE_KEY', 'WALLET_PRIVATE_KEY'], 3),
  T('jwt', () => jwt(), ['SUPABASE_SERVICE_ROLE_KEY', 'ACCESS_TOKEN'], 5),
  // generic
  C('generic-password', () => password(), ['DB_PASSWORD', 'SMTP_PASSWORD', 'ADMIN_PASSWD', 'REDIS_PASSWORD', 'KEYSTORE_PASSPHRASE', 'LDAP_BIND_PWD', 'MYSQL_ROOT_PASSWORD'], 12),
  C('generic-secret', () => r(ALNUM, 24 + int(40)), ['JWT_SECRET', 'CLIENT_SECRET', 'SESSION_SECRET', 'WEBHOOK_SECRET', 'APP_SECRET', 'COOKIE_SECRET'], 10),
  X('generic-secret', () => r(ALNUM + '-_', 40), [line('{\n  "web": {\n    "client_id": "1234-abc.apps.googleusercontent.com",\n    "client_secret": "$V"\n  }\n}\n'), line('SECRET_KEY = \'$V\'\n')], 2),
  C('generic-token', () => r(ALNUM, 32 + int(20)), ['API_TOKEN', 'ACCESS_TOKEN', 'AUTH_TOKEN', 'REFRESH_TOKEN', 'BOT_TOKEN', 'INTERNAL_SERVICE_TOKEN'], 10),
  C('generic-api-key', () => r(ALNUM, 32 + int(16)), ['API_KEY', 'X_API_KEY', 'ACME_API_KEY', 'PRIVATE_KEY', 'ENCRYPTION_KEY', 'SIGNING_KEY', 'MASTER_KEY', 'CREDENTIALS'], 10),
  X('generic-k8s-env-value', () => password(20), [line('      containers:\n        - name: api\n          env:\n            - name: DB_PASSWORD\n              value: "$V"\n'), line('env:\n  - name: STRIPE_WEBHOOK_SECRET_FALLBACK\n    value: $V\n')], 3),
  X('authorization-bearer', () => r(ALNUM + '-_.', 40), [BARE['curlBearer']!, BARE['tsHeaders']!, line('GET /v1/orders HTTP/1.1\nHost: api.acme.dev\nAuthorization: Bearer $V\n')], 3),
  X('authorization-basic', () => Buffer.from(`${pick(['admin', 'ci', 'svc-export'])}:${password()}`).toString('base64'), [line('curl -H "Authorization: Basic $V" https://jenkins.acme.dev/api/json\n'), line("headers = {'Authorization': 'Basic $V'}\n")], 3),
  X('curl-basic-auth', () => {
    const pw = password();
    return { value: `deploy:${pw}`, secret: pw };
  }, [line('curl -fsSL -u $V https://nexus.acme.dev/repository/raw/app.tgz -o app.tgz\n'), line('curl --user $V -X POST https://ci.acme.dev/job/build/buildWithParameters\n')], 2),
  X('url-password-param', () => password(16, '-_.~'), [line('https://legacy.acme.dev/export.cgi?user=reporting&password=$V&format=csv\n'), line('wget "https://files.acme.dev/download?file=q3.zip&token=$V"\n')], 3),
  X('basic-auth-url', () => {
    const pw = password();
    return { value: `https://deploy-bot:${pw}@git.acme.dev/platform/infra.git`, secret: pw };
  }, [line('git remote add origin $V\n'), line('[credential]\n\thelper = store\n# ~/.git-credentials\n$V\n'), line('PIP_INDEX_URL=$V\n')], 4),
  X('basic-auth-url', () => {
    const pw = password();
    return { value: `ftp://backup:${pw}@ftp.acme.dev/nightly/`, secret: pw };
  }, [line('lftp -e "mirror -R dist /www" $V\n')], 1),
];

// ---------------------------------------------------------------- negatives
function negatives(): { id: string; text: string }[] {
  const out: { id: string; text: string }[] = [];
  const add = (kind: string, text: string): void => {
    out.push({ id: `neg-${kind}-${String(out.length).padStart(4, '0')}`, text });
  };
  const sha1 = (): string => hex(40);
  const sha256 = (): string => hex(64);
  const sri = (): string => 'sha512-' + b64(64);
  for (let i = 0; i < 20; i++) {
    add('git-sha', pick([
      `commit ${sha1()}\nAuthor: Dana Ops <dana@acme.dev>\nDate:   Tue May 14 10:22:31 2024 +0200\n\n    fix: retry on 503\n`,
      `git checkout ${sha1()} -- src/api/client.ts`,
      `- uses: actions/checkout@${sha1()} # v4.1.1`,
      `"resolved": "git+ssh://git@github.com/acme/ui-kit.git#${sha1()}",`,
      `Merge: ${sha1().slice(0, 7)} ${sha1().slice(0, 7)}\nrevision = "${sha1()}"`,
    ]));
  }
  for (let i = 0; i < 20; i++) {
    add('sha256', pick([
      `FROM node:20-alpine@sha256:${sha256()}`,
      `${sha256()}  kt-linux-amd64.tar.gz`,
      `checksum: sha256:${sha256()}`,
      `"digest": "sha256:${sha256()}",`,
      `source_hash = "${sha256()}"`,
      `etag: W/"${hex(32)}"\ncontent-md5: ${b64(16)}`,
    ]));
  }
  for (let i = 0; i < 8; i++) add('sha512', `sha512sum: ${hex(128)}\nsha384: ${hex(96)}`);
  for (let i = 0; i < 20; i++) {
    add('uuid', pick([
      `const requestId = '${uuid()}';`,
      `{"id": "${uuid()}", "tenant_id": "${uuid()}", "status": "active"}`,
      `INSERT INTO orders (id, customer_id) VALUES ('${uuid()}', '${uuid()}');`,
      `x-request-id: ${uuid()}`,
      `subscription_id = "${uuid()}"\nclient_id = "${uuid()}"`,
      `AZURE_TENANT_ID=${uuid()}\nAZURE_CLIENT_ID=${uuid()}`,
    ]));
  }
  for (let i = 0; i < 20; i++) {
    const name = pick(['lodash', 'react-dom', 'typescript', '@types/node', 'undici', 'zod', 'yaml', 'vitest']);
    add('lockfile', pick([
      `"node_modules/${name}": {\n  "version": "4.17.${int(30)}",\n  "resolved": "https://registry.npmjs.org/${name}/-/${name}-4.17.${int(30)}.tgz",\n  "integrity": "${sri()}",\n  "license": "MIT"\n}`,
      `${name}@^1.2.0:\n  version "1.2.${int(9)}"\n  resolved "https://registry.yarnpkg.com/${name}/-/${name}-1.2.3.tgz#${sha1()}"\n  integrity ${sri()}`,
      `[[package]]\nname = "serde"\nversion = "1.0.${int(200)}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${sha256()}"`,
      `github.com/stretchr/testify v1.9.0 h1:${b64(32)}\ngithub.com/stretchr/testify v1.9.0/go.mod h1:${b64(32)}`,
      `${name}==2.31.0 \\\n    --hash=sha256:${sha256()} \\\n    --hash=sha256:${sha256()}`,
    ]));
  }
  for (let i = 0; i < 15; i++) {
    add('data-uri', pick([
      `.logo { background-image: url("data:image/png;base64,${b64(600)}"); }`,
      `@font-face { font-family: Inter; src: url(data:font/woff2;base64,${b64(900)}) format("woff2"); }`,
      `<img alt="avatar" src="data:image/jpeg;base64,${b64(400)}" />`,
      `const icon = 'data:image/svg+xml;base64,${Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M${int(20)} ${int(20)}h4v4h-4z"/></svg>`).toString('base64')}';`,
    ]));
  }
  for (let i = 0; i < 15; i++) {
    add('public-key', pick([
      pem('PUBLIC KEY', 294),
      pem('RSA PUBLIC KEY', 270),
      pem('CERTIFICATE', 900),
      `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ${b64(380)} deploy@ci`,
      `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${b64(32)} dana@laptop`,
      `github.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBB${b64(65)}`,
      `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${pemBody(600)}\n=${r(B64, 4)}\n-----END PGP PUBLIC KEY BLOCK-----`,
      `-----BEGIN CERTIFICATE REQUEST-----\n${pemBody(400)}\n-----END CERTIFICATE REQUEST-----`,
    ]));
  }
  const PLACEHOLDERS = [
    'OPENAI_API_KEY=sk-...',
    'OPENAI_API_KEY=sk-proj-...',
    'ANTHROPIC_API_KEY=sk-ant-api03-...',
    'export OPENAI_API_KEY="<YOUR_API_KEY>"',
    'api_key = "<your-api-key>"',
    'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
    'const stripe = new Stripe(process.env.STRIPE_SECRET_KEY!);',
    'apiKey: process.env.ANTHROPIC_API_KEY,',
    'token: ${{ secrets.GITHUB_TOKEN }}',
    'password: ${{ secrets.DB_PASSWORD }}',
    'DB_PASSWORD=${DB_PASSWORD}',
    'export AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY',
    'aws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'SLACK_BOT_TOKEN=xoxb-your-bot-token',
    'STRIPE_SECRET_KEY=sk_test_your_key_here',
    'api_key: "your-api-key-here"',
    'password = "{{ vault_db_password }}"',
    'secret: "{{ .Values.secret }}"',
    'DATABASE_URL=postgres://user:password@localhost:5432/app',
    'DATABASE_URL=postgresql://postgres:postgres@localhost:5432/postgres',
    'REDIS_URL=redis://localhost:6379/0',
    'MONGO_URL=mongodb://${MONGO_USER}:${MONGO_PASSWORD}@mongo:27017/app',
    'AMQP_URL=amqp://guest:guest@rabbitmq:5672/',
    'HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'token = os.getenv("SLACK_TOKEN")',
    'password = os.environ.get("DB_PASSWORD", "")',
    'api_key = settings.OPENAI_API_KEY',
    'const token = await getAccessToken(scope);',
    'Authorization: Bearer <token>',
    'curl -H "Authorization: Bearer $TOKEN" https://api.github.com/user',
    'curl -u "$NEXUS_USER:$NEXUS_PASSWORD" https://nexus.acme.dev',
    'password: "********"',
    'secret_key = "REPLACE_ME"',
    'npm config set //registry.npmjs.org/:_authToken=${NPM_TOKEN}',
    'ANTHROPIC_API_KEY=sk-ant-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'openai.api_key = "sk-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"',
    'AZURE_STORAGE_CONNECTION_STRING="UseDevelopmentStorage=true"',
    'stripe.api_key = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"',
    'https://hooks.slack.com/services/TXXXXXXXX/BXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX',
    'password = getpass.getpass("Password: ")',
    'PGPASSWORD=$(cat /run/secrets/pg_password) psql -h db',
    'var token = Environment.GetEnvironmentVariable("API_TOKEN");',
    'let secret = std::env::var("JWT_SECRET").expect("JWT_SECRET must be set");',
    'apiKey := os.Getenv("DATADOG_API_KEY")',
    'db_password = var.db_password',
    'password = random_password.db.result',
    'master_password = data.aws_secretsmanager_secret_version.db.secret_string',
    'SECRET_KEY = env("DJANGO_SECRET_KEY")',
    'private_key = file("~/.ssh/id_rsa")',
    '-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----',
    '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----',
    'jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"',
    'AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX',
    'MAILGUN_API_KEY=key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'TWILIO_AUTH_TOKEN=your_auth_token',
    'SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'export VAULT_TOKEN="hvs.REPLACE_WITH_YOUR_TOKEN"',
    'password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256',
  ];
  for (const p of PLACEHOLDERS) add('placeholder', p);
  const WEAK = [
    'password = "changeme"',
    'DB_PASSWORD=secret',
    'password: admin123',
    "spring.datasource.password=password",
    'POSTGRES_PASSWORD=postgres',
    'MYSQL_ROOT_PASSWORD=root',
    'password: "supersecret"',
    'secret = "my-secret"',
    'token: "abc123"',
    'api_key = "test"',
    'REDIS_PASSWORD=redispass',
    'ADMIN_PASSWORD=aaaaaaaaaaaa',
    'password = "Password"',
    'export JWT_SECRET=development',
    'token = "tokentoken"',
    'secret: "secretsecret"',
  ];
  for (const w of WEAK) add('weak-password', w);
  const REFS = [
    'password: hashedPassword,',
    'const password = req.body.password;',
    'if (password !== confirmPassword) throw new Error("mismatch");',
    'user.password = await bcrypt.hash(password, 12);',
    'password_hash = "$2b$12$' + r(B64, 53).replace(/[+]/g, '.') + '"',
    'token: string;',
    'apiKey?: string;',
    'export interface Config { apiKey: string; secret: string; token?: string }',
    'def login(username: str, password: str) -> Token:',
    'password = forms.CharField(widget=forms.PasswordInput)',
    'passwordInput.placeholder = "Enter your password";',
    '<input type="password" name="password" autocomplete="current-password" />',
    'const TOKEN_URL = "https://oauth2.googleapis.com/token";',
    'max_tokens: 4096,',
    '"tokenizer": "cl100k_base",',
    'token_count = len(tokens)',
    'SECRET_NAME=prod/orders/db',
    'secretKeyRef:\n  name: db-credentials\n  key: password',
    'password_reset_url = f"{BASE_URL}/reset"',
    'auth: jwtMiddleware,',
    'secret: config.jwt.secret,',
    'token = self.tokenizer.encode(text)',
    'api_key = api_key or self.default_api_key',
    'passwordPolicy: { minLength: 12, requireSymbols: true },',
    'password: Joi.string().min(8).required(),',
    '"password": {"type": "string", "format": "password", "minLength": 8}',
    'access_token_expires_in: 3600',
    'refresh_token_ttl = 2592000',
    'PASSWORD_MIN_LENGTH = 12',
    'tokenType: "Bearer",',
    'export const SECRET_MANAGER_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf";',
    'secret_arn = "arn:aws:secretsmanager:us-east-1:210987654321:secret:app-Xy12Zz"',
    "password_regex = r'^(?=.*[A-Z])(?=.*\\d).{12,}$'",
    'apiKeyHeader: "X-Api-Key",',
    'authTokenName: "session_token_v2",',
    'DB_PASSWORD_FILE=/run/secrets/db_password',
    'private_key_path = "/etc/ssl/private/server.key"',
    'client_secret_env = "GOOGLE_CLIENT_SECRET"',
    'token_endpoint: https://login.microsoftonline.com/common/oauth2/v2.0/token',
    'kubectl create secret generic db --from-literal=password="$DB_PASSWORD"',
  ];
  for (const x of REFS) add('reference', x);
  for (let i = 0; i < 30; i++) {
    add('css', pick([
      `:root { --color-primary: #${hex(6)}; --color-accent: #${hex(6)}; --shadow: 0 1px 2px rgba(0,0,0,.${int(9)}); }`,
      `.btn-secret { color: #${hex(6)}; background: linear-gradient(90deg, #${hex(6)} 0%, #${hex(6)} 100%); }`,
      `<path fill="#${hex(6)}" d="M${int(99)}.${int(9)} ${int(99)}.${int(9)}l${int(9)}.${int(9)}-${int(9)}.${int(9)}z"/>`,
    ]));
  }
  for (let i = 0; i < 25; i++) {
    add('identifier', pick([
      `export function validateAccessTokenAndRefreshIfExpired${r(UP, 1)}${r(LO, 6)}(ctx: RequestContext): Promise<void> {}`,
      `const AbstractSingletonProxyFactoryBeanDefinitionRegistryPostProcessor${int(99)} = createFactory();`,
      `private readonly passwordResetTokenRepository: PasswordResetTokenRepository;`,
      `import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";`,
      `class OAuth2AuthorizationCodeGrantTokenExchangeHandler${int(9)} extends BaseHandler {}`,
      `test_password_reset_token_is_invalidated_after_use_${int(999)}()`,
      `SECRET_KEY_BASE_ENV_VAR_NAME = "SECRET_KEY_BASE"`,
    ]));
  }
  for (let i = 0; i < 20; i++) {
    add('minified', pick([
      `!function(e,t){"object"==typeof exports?module.exports=t():e.${r(LO, 3)}=t()}(this,function(){var e={token:null,secret:void 0};return function(t){return e.token=t,e}});`,
      `var a=function(n){return n.replace(/[A-Z]/g,function(r){return"-"+r.toLowerCase()})},b="${r(ALNUM, 12)}";export{a as kebab,b as id};`,
      `(window.webpackChunk=window.webpackChunk||[]).push([[${int(999)}],{${int(99999)}:function(e,t,n){"use strict";n.d(t,{Z:function(){return o}});var o="${hex(20)}"}}]);`,
      `e.exports=JSON.parse('{"version":"1.${int(9)}.0","hash":"${hex(20)}","chunks":["main.${hex(8)}.js"]}')`,
    ]));
  }
  for (let i = 0; i < 20; i++) {
    const notJwt = `eyJ${r(ALNUM, 10)}`;
    add('jwt-lookalike', pick([
      `const state = "${b64url(JSON.stringify({ returnTo: '/dashboard', nonce: int(99999) }))}.${b64url(JSON.stringify({ v: 1 }))}.${r(B64URL, 20)}";`,
      `cursor=${b64url(JSON.stringify({ page: int(50), sort: 'created_at' }))}.${b64url('x')}.${r(B64URL, 20)}`,
      `const encoded = "${notJwt}"; // base64 of a JSON fragment`,
      `"eyJ" is the base64 prefix of '{"' — see ${sha1().slice(0, 8)}`,
      `layout.${r(LO, 6)}.${r(LO, 8)}.tsx`,
    ]));
  }
  for (let i = 0; i < 25; i++) {
    add('url', pick([
      `https://github.com/acme/${r(LO, 8)}/blob/${sha1()}/README.md#L${int(300)}`,
      `git@github.com:acme/${r(LO, 8)}.git`,
      `https://user@bitbucket.org/acme/${r(LO, 6)}.git`,
      `postgres://reporting@db.internal:5432/analytics?sslmode=require`,
      `http://localhost:${3000 + int(100)}/api/v1/users?page=${int(9)}&limit=50`,
      `https://s3.eu-west-1.amazonaws.com/acme-assets/${uuid()}.png?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600`,
      `https://www.googleapis.com/oauth2/v1/certs`,
      `https://${hex(32)}@o${int(999999)}.ingest.sentry.io/${int(9999999)}`,
      `redis://cache.internal:6379/2`,
      `https://example.com:8443/path/to/resource?query=value#section`,
      `mailto:support@acme.dev?subject=Password%20reset`,
      `https://api.acme.dev/v2/auth/password/reset?email=dana%40acme.dev`,
    ]));
  }
  for (let i = 0; i < 20; i++) {
    add('public-id', pick([
      `STRIPE_PUBLISHABLE_KEY=pk_live_${r(ALNUM, 99)}`,
      `NEXT_PUBLIC_POSTHOG_KEY=phc_${r(ALNUM, 43)}`,
      `mapboxgl.accessToken = 'pk.eyJ1Ijoi${r(B64URL, 40)}.${r(B64URL, 22)}';`,
      `AWS_ACCOUNT_ID=${r(DI, 12)}\nAWS_REGION=eu-west-1`,
      `role_arn = "arn:aws:iam::${r(DI, 12)}:role/deploy"`,
      `TWILIO_ACCOUNT_SID=AC${hex(32)}`,
      `GOOGLE_CLIENT_ID=${r(DI, 12)}-${r(LONUM, 32)}.apps.googleusercontent.com`,
      `"appId": "1:${r(DI, 12)}:web:${hex(22)}"`,
      `ALGOLIA_APP_ID=${r(UPNUM, 10)}`,
      `SENTRY_DSN=https://${hex(32)}@o${r(DI, 6)}.ingest.us.sentry.io/${r(DI, 7)}`,
    ]));
  }
  for (let i = 0; i < 15; i++) {
    add('encoded-data', pick([
      `const wasm = "AGFzbQEAAAAB${b64(120)}";`,
      `"sourcesContent": null, "mappings": "AAAA,SAASA,IAAI,CAAC${r('ABCDEFGIKMOQSUWYacegikmoqsuwy,;', 200)}"`,
      `fixture = bytes.fromhex("${hex(96)}")`,
      `const nonce = crypto.randomBytes(16).toString("hex"); // e.g. ${hex(32)}`,
      `salt: ${b64(16)}\niterations: 210000`,
    ]));
  }
  for (let i = 0; i < 15; i++) {
    add('prose', pick([
      'Rotate the API key every 90 days and never commit secrets; use a secrets manager and reference them as ${VAR}.',
      'The password must be at least 12 characters long and contain a number.',
      'Use a bearer token in the Authorization header: the server checks the token signature on every request.',
      'Tokens are counted per request: max_tokens limits the completion, not the prompt.',
      'Set `client_secret` in your environment, not in code. See docs/auth.md for the token flow.',
      'Keys beginning with sk_live_ are live Stripe secret keys; pk_live_ keys are publishable.',
      'Your GitHub token (ghp_…) needs the repo scope.',
      'basic authentication sends base64(user:password) in every request',
    ]));
  }
  for (let i = 0; i < 15; i++) {
    add('code', pick([
      `for (const [key, value] of Object.entries(headers)) {\n  if (key.toLowerCase() === 'authorization') redacted[key] = '[REDACTED]';\n}`,
      `def verify(token: str) -> dict:\n    return jwt.decode(token, key=public_key, algorithms=["RS256"])`,
      `const hmac = crypto.createHmac('sha256', secret).update(body).digest('hex');`,
      `SELECT id, email, password_hash FROM users WHERE email = $1 LIMIT 1;`,
      `passwords = [p for p in candidates if len(p) >= 12]`,
      `resource "aws_secretsmanager_secret" "db" {\n  name = "prod/db/password"\n}`,
      `- name: Login to GHCR\n  uses: docker/login-action@v3\n  with:\n    registry: ghcr.io\n    username: \${{ github.actor }}\n    password: \${{ secrets.GITHUB_TOKEN }}`,
      `const key = \`\${prefix}:\${userId}:\${sessionId}\`;`,
    ]));
  }
  return out;
}

// ---------------------------------------------------------------- write
function contextsFor(spec: Spec): Ctx[] {
  if (Array.isArray(spec.ctx)) return spec.ctx;
  if (spec.ctx === 'block') return Object.values(BLOCK);
  const named = Object.values(NAMED);
  return spec.ctx === 'any' ? [...named, ...Object.values(BARE)] : named;
}

function positives(): { id: string; rule: string; text: string; secret: string }[] {
  const out: { id: string; rule: string; text: string; secret: string }[] = [];
  const perRule = new Map<string, number>();
  for (const spec of SPECS) {
    const ctxs = contextsFor(spec);
    for (let i = 0; i < (spec.count ?? 2); i++) {
      const g = spec.gen();
      const sample: Sample = typeof g === 'string' ? { value: g, secret: g } : g;
      const name = spec.names[i % spec.names.length]!;
      const ctx = ctxs[int(ctxs.length)]!;
      const res = ctx(sample, name);
      if (!res.text.includes(res.secret)) throw new Error(`${spec.rule}: secret not in text`);
      const n = (perRule.get(spec.rule) ?? 0) + 1;
      perRule.set(spec.rule, n);
      out.push({ id: `pos-${spec.rule}-${n}`, rule: spec.rule, text: res.text, secret: res.secret });
    }
  }
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
const pos = positives();
const neg = negatives();
writeFileSync(join(here, 'positives.jsonl'), pos.map((p) => JSON.stringify(p)).join('\n') + '\n');
writeFileSync(join(here, 'negatives.jsonl'), neg.map((n) => JSON.stringify(n)).join('\n') + '\n');
console.log(`positives: ${pos.length} (${new Set(pos.map((p) => p.rule)).size} rules), negatives: ${neg.length}`);
