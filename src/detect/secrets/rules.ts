import { GENERIC_RULES, isWordy } from './generic.js';
import { contextRule as ctx, customRule as custom, END_B64, tokenRule as tok, type SecretRule } from './rule.js';
import { isDefaultPassword } from './allowlist.js';
import { discordIdPart, hasKeyMaterial, inAdoConnectionString, isBase64Jwt, isJwt, twitterBearer, urlPasswordOk } from './validators.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UUID_ANY = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
/** A Stripe key body shorter than today's 24 characters must mix letters and digits and not read as words. */
function stripeBody(value: string): boolean {
  const body = value.slice(8);
  return body.length >= 24 || (/\d/.test(body) && /[A-Za-z]/.test(body) && !isWordy(body));
}

/** The longest PEM / PGP / OpenSSH block reported. */
export const MAX_KEY_BLOCK = 16384;

// ---------------------------------------------------------------- cloud
const CLOUD: SecretRule[] = [
  tok('aws-access-key-id', 'cloud', 'AWS access key ID', ['akia', 'asia', 'abia', 'acca', 'a3t'], '(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}', 20),
  custom(
    'aws-secret-access-key',
    'cloud',
    'AWS secret access key next to its key name',
    ['aws', 'secret_access', 'secretaccess', 'secret-access'],
    /(?:aws[\w.\-]{0,20}?secret[\w.\-]{0,20}?|secret[_.\- ]?access[_.\- ]?key[\w.\-]{0,10}?)["'\]]?[ \t]{0,4}(?:=|:=|=>|:|,)[ \t]{0,4}["']?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/i,
    40,
  ),
  custom(
    'aws-session-token',
    'cloud',
    'AWS session token next to its key name',
    ['session_token', 'sessiontoken', 'session-token'],
    /(?:aws[_.\-]?session[_.\-]?token|SessionToken)["'\]]?[ \t]{0,4}(?:=|:=|=>|:|,)[ \t]{0,4}["']?(?<secret>[A-Za-z0-9/+=]{100,2000})(?![A-Za-z0-9/+=])/i,
    2000,
  ),
  tok('aws-mws-key', 'cloud', 'Amazon MWS auth token', ['amzn.mws'], String.raw`amzn\.mws\.${UUID_ANY}`, 45),
  tok('gcp-api-key', 'cloud', 'Google / GCP / Firebase API key (AIza…)', ['aiza'], 'AIza[0-9A-Za-z_-]{35}', 39),
  custom(
    'gcp-service-account-key',
    'cloud',
    'private_key of a GCP service-account JSON',
    ['"private_key"'],
    /"private_key"[ \t]*:[ \t]*"(?<secret>-----BEGIN (?:RSA )?PRIVATE KEY-----(?:[^-"]|-(?!----)){64,16300}-----END (?:RSA )?PRIVATE KEY-{4,5}(?:\\n)?)"/,
    MAX_KEY_BLOCK,
    { validate: hasKeyMaterial },
  ),
  tok('gcp-oauth-client-secret', 'cloud', 'Google OAuth client secret (GOCSPX-)', ['gocspx-'], 'GOCSPX-[A-Za-z0-9_-]{28}', 35),
  tok('google-oauth-access-token', 'cloud', 'Google OAuth access token (ya29.)', ['ya29.'], String.raw`ya29\.[0-9A-Za-z_-]{30,1000}`, 1005),
  tok('google-oauth-refresh-token', 'cloud', 'Google OAuth refresh token (1//0…)', ['1//0'], '1//0[0-9A-Za-z_-]{40,200}', 204),
  tok('firebase-cloud-messaging-key', 'cloud', 'Firebase Cloud Messaging legacy server key', ['apa91b'], 'AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}', 152),
  custom(
    'azure-storage-connection-string',
    'cloud',
    'AccountKey in an Azure Storage / Cosmos DB connection string',
    ['accountkey='],
    /AccountKey=(?<secret>[A-Za-z0-9+/]{86}==)(?![A-Za-z0-9+/=])/i,
    88,
  ),
  ctx('azure-storage-account-key', 'cloud', 'Azure storage account key next to its key name', ['storage'], String.raw`azure[_.\-]?storage|storage[_.\-]?(?:account[_.\-]?)?key|AZURE_STORAGE`, '[A-Za-z0-9+/]{86}==', 88, { end: END_B64 }),
  ctx('azure-cosmosdb-key', 'cloud', 'Azure Cosmos DB key next to its key name', ['cosmos'], 'cosmos', '[A-Za-z0-9+/]{86}==', 88, { end: END_B64 }),
  custom(
    'azure-sas-token',
    'cloud',
    'Azure shared access signature (sig= in a SAS URL)',
    ['sig='],
    /\b(?:sv|sp|se|sr|st|spr|ss|srt|skoid)=[^\s"'<>]{0,400}?[?&;]sig=(?<secret>[A-Za-z0-9%+/]{40,100}(?:%3D|=){0,2})(?![A-Za-z0-9%+/=])/,
    106,
    // Power Automate workflow URLs carry sig= too; teams-workflow-webhook-url names those.
    { validate: (_v, ctx) => !ctx.text.slice(Math.max(0, ctx.matchStart - 400), ctx.matchStart).includes('logic.azure.com') },
  ),
  custom(
    'azure-service-bus-key',
    'cloud',
    'Azure Service Bus / Event Hubs SharedAccessKey',
    ['sharedaccesskey='],
    /SharedAccessKey=(?<secret>[A-Za-z0-9+/]{43}=)(?![A-Za-z0-9+/=])/i,
    44,
  ),
  tok('azure-ad-client-secret', 'cloud', 'Azure AD (Entra) application client secret', ['q~'], String.raw`[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}`, 40, { end: '(?![A-Za-z0-9_~.-])' }),
  ctx('azure-devops-pat', 'cloud', 'Azure DevOps personal access token', ['devops', 'azdo', 'ado_', 'vsts'], String.raw`azure[_.\-]?devops|\bado[_.\-]|azdo|vsts`, '[a-z2-7]{52}', 52),
  ctx('azure-openai-key', 'cloud', 'Azure OpenAI API key', ['azure'], String.raw`azure[_.\-]?openai`, '[a-f0-9]{32}|[A-Za-z0-9]{84}', 84),
  ctx('azure-cognitive-services-key', 'cloud', 'Azure Cognitive Services / APIM subscription key', ['cognitive', 'speech', 'ocp-apim', 'translator'], String.raw`cognitive[_.\-]?services?|azure[_.\-]?speech|speech[_.\-]?key|ocp-apim-subscription-key|translator[_.\-]?key`, '[a-f0-9]{32}', 32),
  custom(
    'azure-app-configuration-secret',
    'cloud',
    'Azure App Configuration connection string secret',
    ['azconfig'],
    /Endpoint=https:\/\/[\w-]{1,63}\.azconfig\.io;Id=[^;\s]{1,64};Secret=(?<secret>[A-Za-z0-9+/]{40,64}=?)(?![A-Za-z0-9+/=])/,
    65,
  ),
  tok('digitalocean-pat', 'cloud', 'DigitalOcean personal access token', ['dop_v1_'], 'dop_v1_[a-f0-9]{64}', 71),
  tok('digitalocean-oauth-token', 'cloud', 'DigitalOcean OAuth access token', ['doo_v1_'], 'doo_v1_[a-f0-9]{64}', 71),
  tok('digitalocean-refresh-token', 'cloud', 'DigitalOcean OAuth refresh token', ['dor_v1_'], 'dor_v1_[a-f0-9]{64}', 71),
  ctx('heroku-api-key', 'cloud', 'Heroku API key (UUID) next to its key name', ['heroku'], 'heroku', UUID, 36),
  tok('heroku-api-key-v2', 'cloud', 'Heroku API key (HRKU-)', ['hrku-'], 'HRKU-AA[0-9A-Za-z_-]{58}', 65),
  tok('alibaba-access-key-id', 'cloud', 'Alibaba Cloud AccessKey ID', ['ltai'], 'LTAI[A-Za-z0-9]{20}', 24),
  ctx('alibaba-secret-key', 'cloud', 'Alibaba Cloud AccessKey secret', ['alibaba', 'aliyun', 'alicloud'], String.raw`(?:alibaba|aliyun|alicloud)[\w.\-]{0,20}?secret`, '[A-Za-z0-9]{30}', 30),
  ctx('ibm-cloud-api-key', 'cloud', 'IBM Cloud API key', ['ibm'], String.raw`ibm(?:[_.\-]?cloud)?[\w.\-]{0,10}?(?:api[_.\-]?key|apikey)`, '[A-Za-z0-9_-]{44}', 44),
  tok('tencent-cloud-secret-id', 'cloud', 'Tencent Cloud SecretId', ['akid'], 'AKID[A-Za-z0-9]{32}', 36),
  ctx('tencent-cloud-secret-key', 'cloud', 'Tencent Cloud SecretKey', ['tencent'], String.raw`tencent[\w.\-]{0,20}?secret`, '[A-Za-z0-9]{32}', 32),
  tok('yandex-api-key', 'cloud', 'Yandex Cloud API key', ['aqvn'], 'AQVN[A-Za-z0-9_-]{35,38}', 42),
  tok('yandex-iam-token', 'cloud', 'Yandex Cloud IAM token', ['t1.'], String.raw`t1\.[A-Z0-9a-z_-]{20,400}[=]{0,2}\.[A-Z0-9a-z_-]{86}[=]{0,2}`, 494),
  ctx('yandex-access-key-secret', 'cloud', 'Yandex Cloud static access key secret', ['yandex'], 'yandex', 'YC[A-Za-z0-9_-]{38}', 40),
  ctx('linode-token', 'cloud', 'Linode / Akamai API token', ['linode'], 'linode', '[a-f0-9]{64}', 64),
  ctx('vultr-api-key', 'cloud', 'Vultr API key', ['vultr'], 'vultr', '[A-Z0-9]{36}', 36),
  ctx('hetzner-cloud-token', 'cloud', 'Hetzner Cloud API token', ['hcloud', 'hetzner'], 'hcloud|hetzner', '[A-Za-z0-9]{64}', 64),
  ctx('scaleway-secret-key', 'cloud', 'Scaleway secret key', ['scw', 'scaleway'], String.raw`scaleway|\bscw[_.\-]?secret`, UUID, 36),
  tok('backblaze-application-key', 'cloud', 'Backblaze B2 application key', ['k00'], String.raw`K0\d{2}[A-Za-z0-9+/]{27}`, 31, { end: END_B64 }),
  tok('databricks-token', 'cloud', 'Databricks personal access token', ['dapi'], 'dapi[a-fA-F0-9]{32}(?:-\\d)?', 38),
  tok('cloudflare-api-token-v2', 'cloud', 'Cloudflare account / user API token or global key (cfat_, cfut_, cfk_)', ['cfat_', 'cfut_', 'cfk_'], 'cf(?:at|ut|k)_[A-Za-z0-9]{40}[a-f0-9]{8}', 53),
  ctx('cloudflare-api-token', 'cloud', 'Cloudflare API token next to its key name', ['cloudflare', 'cf_api', 'cf-api'], String.raw`cloudflare|\bcf[_.\-]api`, '[A-Za-z0-9_-]{40}', 40),
  ctx('cloudflare-global-api-key', 'cloud', 'Cloudflare global API key', ['cloudflare', 'x-auth-key'], String.raw`cloudflare[\w.\-]{0,20}?(?:global|auth)|x[_.\-]auth[_.\-]key`, '[a-f0-9]{37}', 37),
  tok('cloudflare-origin-ca-key', 'cloud', 'Cloudflare Origin CA key', ['v1.0-'], String.raw`v1\.0-[a-f0-9]{24}-[a-f0-9]{146}`, 176),
  tok('tailscale-key', 'cloud', 'Tailscale API, auth, OAuth client or webhook key', ['tskey-'], 'tskey-[a-z]{3,10}-[A-Za-z0-9]{6,20}-[A-Za-z0-9]{20,40}', 80),
];

// ---------------------------------------------------------------- version control, CI
const VCS: SecretRule[] = [
  tok('github-pat', 'vcs', 'GitHub personal access token (classic)', ['ghp_'], 'ghp_[A-Za-z0-9]{36}', 40),
  tok('github-oauth-token', 'vcs', 'GitHub OAuth access token', ['gho_'], 'gho_[A-Za-z0-9]{36}', 40),
  tok('github-user-to-server-token', 'vcs', 'GitHub App user-to-server token', ['ghu_'], 'ghu_[A-Za-z0-9]{36}', 40),
  tok('github-server-to-server-token', 'vcs', 'GitHub App installation token', ['ghs_'], String.raw`ghs_[A-Za-z0-9_]{36,255}(?:\.[A-Za-z0-9_-]{10,1000}){0,2}`, 2261),
  tok('github-refresh-token', 'vcs', 'GitHub refresh token', ['ghr_'], 'ghr_[A-Za-z0-9]{36,76}', 80),
  tok('github-fine-grained-pat', 'vcs', 'GitHub fine-grained personal access token', ['github_pat_'], 'github_pat_[A-Za-z0-9_]{70,90}', 101),
  custom(
    'github-oauth-basic-url',
    'vcs',
    'token used as the user of an x-oauth-basic URL',
    ['x-oauth-basic'],
    /\bhttps?:\/\/(?<secret>[A-Za-z0-9_]{20,255}):x-oauth-basic@/,
    255,
  ),
  tok('gitlab-pat', 'vcs', 'GitLab personal / project / group access token', ['glpat-'], String.raw`glpat-[A-Za-z0-9_-]{20,64}(?:\.[0-9a-z]{2}\.[a-z0-9]{9})?`, 83),
  tok('gitlab-pipeline-trigger-token', 'vcs', 'GitLab pipeline trigger token', ['glptt-'], 'glptt-[A-Za-z0-9_-]{40}', 46),
  tok('gitlab-runner-registration-token', 'vcs', 'GitLab runner registration token', ['gr1348941'], 'GR1348941[A-Za-z0-9_-]{20}', 29),
  tok('gitlab-runner-auth-token', 'vcs', 'GitLab runner authentication token', ['glrt-'], String.raw`glrt-(?:t\d_)?[A-Za-z0-9_-]{20,50}`, 58),
  tok('gitlab-deploy-token', 'vcs', 'GitLab deploy token', ['gldt-'], 'gldt-[A-Za-z0-9_-]{20,50}', 55),
  tok('gitlab-feed-token', 'vcs', 'GitLab feed token', ['glft-'], 'glft-[A-Za-z0-9_-]{20,50}', 55),
  tok('gitlab-incoming-mail-token', 'vcs', 'GitLab incoming email token', ['glimt-'], 'glimt-[A-Za-z0-9_-]{25}', 31),
  tok('gitlab-oauth-app-secret', 'vcs', 'GitLab OAuth application secret', ['gloas-'], 'gloas-[A-Za-z0-9_-]{64}', 70),
  tok('gitlab-scim-token', 'vcs', 'GitLab SCIM OAuth token', ['glsoat-'], 'glsoat-[A-Za-z0-9_-]{20,50}', 57),
  tok('gitlab-ci-job-token', 'vcs', 'GitLab CI/CD job token', ['glcbt-'], 'glcbt-(?:[A-Za-z0-9]{1,5}_)?[A-Za-z0-9_-]{20,40}', 52),
  tok('gitlab-feature-flag-token', 'vcs', 'GitLab feature-flags client token', ['glffct-'], 'glffct-[A-Za-z0-9_-]{20,40}', 47),
  tok('gitlab-agent-token', 'vcs', 'GitLab agent for Kubernetes token', ['glagent-'], 'glagent-[A-Za-z0-9_-]{50,80}', 88),
  tok('bitbucket-app-password', 'vcs', 'Bitbucket / Atlassian app password (ATBB)', ['atbb'], 'ATBB[A-Za-z0-9_=.-]{28,60}', 64),
  ctx('bitbucket-client-secret', 'vcs', 'Bitbucket OAuth consumer secret', ['bitbucket'], String.raw`bitbucket[\w.\-]{0,20}?secret`, '[A-Za-z0-9=_-]{64}', 64),
  tok('sourcegraph-access-token', 'vcs', 'Sourcegraph access token', ['sgp_'], 'sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}', 61),
  // Tokens issued before the sgp_ prefix (2022) are bare 40-hex strings: only next to the product's name.
  ctx('sourcegraph-legacy-token', 'vcs', 'Sourcegraph access token without prefix, next to its key name', ['sourcegraph'], 'sourcegraph', '[a-fA-F0-9]{40}', 40),
  tok('circleci-personal-token', 'vcs', 'CircleCI personal API token', ['ccipat_'], 'CCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}', 70),
  tok('buildkite-token', 'vcs', 'Buildkite API access token', ['bkua_'], 'bkua_[a-f0-9]{40}', 45),
  tok('sonarqube-token', 'vcs', 'SonarQube / SonarCloud token', ['sqp_', 'squ_', 'sqa_'], 'sq[pua]_[a-f0-9]{40}', 44),
  ctx('travis-ci-token', 'vcs', 'Travis CI API token', ['travis'], 'travis', '[A-Za-z0-9_-]{22}', 22),
];

// ---------------------------------------------------------------- chat and messaging
const CHAT: SecretRule[] = [
  // Bot tokens issued before 2017 have one number (the bot user) and a 24-character tail: xoxb-<11-13 digits>-<24>.
  tok('slack-bot-token', 'chat', 'Slack bot token (current and pre-2017 shapes)', ['xoxb-'], String.raw`xoxb-\d{8,14}-(?:\d{8,14}(?:-[A-Za-z0-9]{18,34})?|[A-Za-z0-9]{18,34})`, 70),
  // Legacy user tokens had shorter numeric parts and a 32-hex tail; browser-session tokens (xoxc-) a 64-hex tail.
  tok('slack-user-token', 'chat', 'Slack user / session token (xoxp-, xoxe-, xoxc-)', ['xoxp-', 'xoxe-', 'xoxc-'], String.raw`xox[pec]-\d{4,14}-\d{4,14}-\d{4,14}-[A-Za-z0-9]{28,64}`, 120),
  tok('slack-session-cookie', 'chat', 'Slack browser session cookie (xoxd-)', ['xoxd-'], 'xoxd-[A-Za-z0-9%/+=]{40,400}', 405, { end: '(?![A-Za-z0-9%/+=_-])' }),
  tok('slack-app-token', 'chat', 'Slack app-level token', ['xapp-'], String.raw`xapp-\d-[A-Z0-9]{9,12}-\d{10,14}(?:-[a-z0-9]{32,80})?`, 116),
  tok('slack-legacy-token', 'chat', 'Slack legacy / workspace token', ['xoxa-', 'xoxo-', 'xoxr-', 'xoxs-'], String.raw`xox[aors]-(?:\d{8,14}-\d{8,14}(?:-[A-Za-z0-9-]{8,80})?|\d-[A-Za-z0-9]{8,48}|\d{4,14}(?:-\d{4,14}){1,2}-[a-fA-F0-9]{16,64})`, 115),
  // Oldest shape of every kind (2014-2016): one or more numbers, then a lower-case alphanumeric tail.
  tok('slack-oldest-token', 'chat', 'Slack token, oldest shape (xox?-<numbers>-<tail>)', ['xoxa-', 'xoxb-', 'xoxp-', 'xoxo-', 'xoxr-', 'xoxs-'], String.raw`xox[abposr]-(?:\d{4,14}-){1,3}[a-z0-9]{10,40}`, 100, { validate: (v) => /\d/.test(v.slice(v.lastIndexOf('-'))) && /[a-z]/.test(v.slice(v.lastIndexOf('-'))) }),
  tok('slack-config-token', 'chat', 'Slack configuration (refresh) token', ['xoxe'], String.raw`xoxe(?:\.xox[bp])?-\d-[A-Za-z0-9]{140,170}`, 185),
  custom(
    'slack-webhook-url',
    'chat',
    'Slack incoming webhook / workflow trigger (path after hooks.slack.com)',
    ['hooks.slack.com'],
    /hooks\.slack\.com\/(?:services|workflows|triggers)\/(?<secret>[A-Za-z0-9_/+-]{30,120})(?![A-Za-z0-9_/+-])/,
    120,
  ),
  custom(
    'discord-bot-token',
    'chat',
    'Discord bot token',
    // No word names a bot token, so the rule runs whenever the text has a dot (the automaton folds `.` to `_`);
    // the regex is anchored on the dot before the 6-character timestamp part.
    ['.'],
    // Anchored on the dot and 6-character timestamp part; the lookbehind captures the whole token. The first part
    // is the bot's user id (a 17–20 digit snowflake) in base64, which the validator decodes.
    /\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}(?![A-Za-z\d_-])(?<=(?<![A-Za-z\d_-])(?<secret>[MNO][A-Za-z\d_-]{22,26}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}))/,
    73,
    { validate: discordIdPart },
  ),
  custom(
    'discord-webhook-url',
    'chat',
    'Discord webhook (id/token after /api/webhooks/)',
    ['discord'],
    /discord(?:app)?\.com\/api\/webhooks\/(?<secret>\d{17,20}\/[A-Za-z0-9_-]{60,68})(?![A-Za-z0-9_-])/,
    90,
  ),
  ctx('discord-client-secret', 'chat', 'Discord OAuth client secret / bot token next to its key name', ['discord'], String.raw`discord[\w.\-]{0,30}?(?:secret|token)`, '[A-Za-z0-9_-]{32}|[A-Za-z0-9_-]{22,28}\\.[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{27,38}', 74),
  tok('telegram-bot-token', 'chat', 'Telegram bot token', [':aa'], String.raw`\d{8,10}:AA[A-Za-z0-9_-]{33}`, 46),
  custom(
    'teams-webhook-url',
    'chat',
    'Microsoft Teams incoming webhook (path after /webhookb2/)',
    ['webhook.office.com', 'outlook.office.com', 'outlook.office365.com'],
    // Current hosts are <tenant>.webhook.office.com/webhookb2/; connectors created before 2021 used
    // outlook.office.com/webhook/ (and outlook.office365.com).
    // The ids are GUIDs, but test fixtures and redacted samples use any letters: the path shape is what counts.
    /(?:\.webhook\.office\.com\/webhookb2|outlook\.office(?:365)?\.com\/webhook(?:b2)?)\/(?<secret>[0-9A-Za-z-]{36}@[0-9A-Za-z-]{36}\/IncomingWebhook\/[0-9A-Za-z]{32}\/[0-9A-Za-z-]{36}(?:\/[A-Za-z0-9_-]{40,60})?)/,
    220,
  ),
  custom(
    'teams-workflow-webhook-url',
    'chat',
    'Power Automate / Teams workflow webhook signature',
    ['logic.azure.com', 'api.powerplatform.com'],
    /(?:logic\.azure\.com(?::443)?\/workflows|api\.powerplatform\.com(?::443)?\/powerautomate\/automations)\/[^\s"'<>]{0,300}?[?&]sig=(?<secret>[A-Za-z0-9_%-]{43,64})(?![A-Za-z0-9_%-])/,
    64,
  ),
  ctx('mattermost-access-token', 'chat', 'Mattermost personal access token', ['mattermost'], 'mattermost', '[a-z0-9]{26}', 26),
  ctx('twitch-api-token', 'chat', 'Twitch API token', ['twitch'], 'twitch', '[a-z0-9]{30}', 30),
];

// ---------------------------------------------------------------- Twitter / X
const TWITTER: SecretRule[] = [
  // App-only bearer tokens start with 21–22 `A`s (a zero id, base64) and are URL-safe-escaped (%2B, %3D).
  custom('twitter-bearer-token', 'saas', 'Twitter / X app-only bearer token', ['aaaaaaaaaaaaaaaaaaaaa'], /(?<![A-Za-z0-9%])(?<secret>A{21,22}[A-Za-z0-9%]{60,160})(?![A-Za-z0-9%])/, 182, { validate: twitterBearer, allowRuns: true }),
  ctx('twitter-api-secret', 'saas', 'Twitter / X consumer or access-token secret', ['twitter', 'twtr', 'x_api', 'x_consumer', 'x_access'], String.raw`(?:twitter|twtr|\bx[_.\-])[\w.\-]{0,20}?(?:secret|consumer[_.\-]?key|api[_.\-]?key)`, '[A-Za-z0-9]{25}|[A-Za-z0-9]{35,50}', 50, { entropy: 3.5 }),
  ctx('twitter-access-token', 'saas', 'Twitter / X user access token (<user id>-<token>)', ['twitter', 'twtr', 'x_access'], String.raw`(?:twitter|twtr|\bx[_.\-])[\w.\-]{0,20}?access[_.\-]?token`, '[0-9]{6,25}-[A-Za-z0-9]{20,50}', 76),
];

// ---------------------------------------------------------------- payments
const PAYMENTS: SecretRule[] = [
  // Keys are 24+ characters after the prefix today; shorter ones (older keys, `sk_prod_` of some integrations) must
  // at least mix letters and digits, so `sk_test_connection` stays a name.
  tok('stripe-secret-key', 'payments', 'Stripe live secret key', ['sk_live_', 'sk_prod_'], 'sk_(?:live|prod)_[A-Za-z0-9]{10,247}', 255, { validate: stripeBody }),
  tok('stripe-test-secret-key', 'payments', 'Stripe test secret key', ['sk_test_'], 'sk_test_[A-Za-z0-9]{10,247}', 255, { validate: stripeBody }),
  tok('stripe-restricted-key', 'payments', 'Stripe restricted key', ['rk_live_', 'rk_test_', 'rk_prod_'], 'rk_(?:live|test|prod)_[A-Za-z0-9]{10,247}', 255, { validate: stripeBody }),
  tok('stripe-webhook-secret', 'payments', 'Stripe webhook signing secret', ['whsec_'], 'whsec_[A-Za-z0-9+/=]{32,64}', 70, { end: END_B64 }),
  tok('square-access-token', 'payments', 'Square access token', ['eaaa', 'sq0atp-'], 'EAAA[A-Za-z0-9_-]{60}|sq0atp-[A-Za-z0-9_-]{22}', 64),
  tok('square-oauth-secret', 'payments', 'Square OAuth application secret', ['sq0csp-'], 'sq0csp-[A-Za-z0-9_-]{43}', 50),
  tok('braintree-access-token', 'payments', 'PayPal Braintree access token', ['access_token$'], String.raw`access_token\$(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}`, 73),
  ctx('braintree-private-key', 'payments', 'Braintree private key', ['braintree'], String.raw`braintree[\w.\-]{0,20}?private`, '[a-f0-9]{32}', 32),
  ctx('paypal-client-secret', 'payments', 'PayPal REST client secret', ['paypal'], String.raw`paypal[\w.\-]{0,20}?secret`, '[A-Za-z0-9_-]{80}', 80),
  ctx('adyen-api-key', 'payments', 'Adyen API key', ['adyen'], 'adyen', 'AQE[A-Za-z0-9+/=_.-]{60,250}', 253, { end: END_B64 }),
  ctx('razorpay-key-secret', 'payments', 'Razorpay key secret', ['razorpay'], String.raw`razorpay[\w.\-]{0,20}?secret`, '[A-Za-z0-9]{24}', 24),
  tok('flutterwave-secret-key', 'payments', 'Flutterwave secret key', ['flwseck'], 'FLWSECK(?:_TEST)?-[a-hA-H0-9]{32}-X', 47),
  tok('flutterwave-encryption-key', 'payments', 'Flutterwave encryption key', ['flwseck'], 'FLWSECK(?:_TEST)?-?[a-hA-H0-9]{12}', 25),
  tok('plaid-access-token', 'payments', 'Plaid access token', ['access-sandbox-', 'access-development-', 'access-production-'], `access-(?:sandbox|development|production)-${UUID}`, 60),
  ctx('plaid-secret', 'payments', 'Plaid client secret', ['plaid'], String.raw`plaid[\w.\-]{0,20}?secret`, '[a-f0-9]{30}', 30),
  ctx('gocardless-access-token', 'payments', 'GoCardless access token', ['gocardless'], 'gocardless', '(?:live|sandbox)_[A-Za-z0-9_=-]{40}', 48),
  ctx('mollie-api-key', 'payments', 'Mollie API key', ['mollie'], 'mollie', '(?:live|test)_[A-Za-z0-9]{30}', 35),
  tok('checkout-secret-key', 'payments', 'Checkout.com sandbox secret key', ['sk_sbox_'], 'sk_sbox_[a-z0-9]{26,30}', 38),
  tok('paddle-api-key', 'payments', 'Paddle API key', ['pdl_'], 'pdl_(?:live|sdbx)_apikey_[a-z0-9]{26}_[A-Za-z0-9]{22}_[A-Za-z0-9]{3}', 80),
  tok('woocommerce-consumer-secret', 'payments', 'WooCommerce REST consumer secret', ['cs_'], 'cs_[a-f0-9]{40}', 43),
];

// ---------------------------------------------------------------- AI providers
const AI: SecretRule[] = [
  tok('aws-bedrock-api-key', 'ai', 'Amazon Bedrock API key (long-term ABSK…, short-term bedrock-api-key-…)', ['absk', 'bedrock-api-key-'], 'ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-[A-Za-z0-9+/]{40,2000}={0,2}', 2018, { end: '(?![A-Za-z0-9+/=])' }),
  tok('openai-project-key', 'ai', 'OpenAI project API key', ['sk-proj-'], 'sk-proj-[A-Za-z0-9_-]{40,250}', 258),
  tok('openai-service-account-key', 'ai', 'OpenAI service-account key', ['sk-svcacct-'], 'sk-svcacct-[A-Za-z0-9_-]{40,250}', 261),
  tok('openai-admin-key', 'ai', 'OpenAI admin key', ['sk-admin-'], 'sk-admin-[A-Za-z0-9_-]{40,250}', 259),
  tok('openai-api-key', 'ai', 'OpenAI user API key (legacy format)', ['sk-'], 'sk-(?:[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48})', 51),
  tok('anthropic-api-key', 'ai', 'Anthropic API key', ['sk-ant-api'], String.raw`sk-ant-api\d{2}-[A-Za-z0-9_-]{80,120}`, 133),
  tok('anthropic-admin-key', 'ai', 'Anthropic admin API key', ['sk-ant-admin'], String.raw`sk-ant-admin\d{2}-[A-Za-z0-9_-]{80,120}`, 135),
  tok('anthropic-oauth-token', 'ai', 'Anthropic OAuth access / refresh token', ['sk-ant-oat', 'sk-ant-ort'], String.raw`sk-ant-o(?:at|rt)\d{2}-[A-Za-z0-9_-]{80,120}`, 133),
  tok('huggingface-token', 'ai', 'Hugging Face user access token', ['hf_'], 'hf_[A-Za-z0-9]{30,40}', 43),
  tok('huggingface-org-token', 'ai', 'Hugging Face organisation API token', ['api_org_'], 'api_org_[A-Za-z0-9]{34}', 42),
  ctx('cohere-api-key', 'ai', 'Cohere API key', ['cohere', 'co_api_key'], String.raw`cohere|\bco_api_key`, '[A-Za-z0-9]{40}', 40),
  tok('groq-api-key', 'ai', 'Groq API key', ['gsk_'], 'gsk_[A-Za-z0-9]{52}', 56),
  tok('replicate-api-token', 'ai', 'Replicate API token', ['r8_'], 'r8_[A-Za-z0-9]{37}', 40),
  tok('perplexity-api-key', 'ai', 'Perplexity API key', ['pplx-'], 'pplx-[A-Za-z0-9]{48,56}', 61),
  tok('xai-api-key', 'ai', 'xAI (Grok) API key', ['xai-'], 'xai-[A-Za-z0-9]{80}', 84),
  ctx('mistral-api-key', 'ai', 'Mistral AI API key', ['mistral'], 'mistral', '[A-Za-z0-9]{32}', 32),
  ctx('together-api-key', 'ai', 'Together AI API key', ['together'], 'together', '[a-f0-9]{64}', 64),
  tok('together-api-key-v1', 'ai', 'Together AI API key (tgp_v1_)', ['tgp_v1_'], 'tgp_v1_[A-Za-z0-9_-]{43}', 50),
  ctx('deepseek-api-key', 'ai', 'DeepSeek API key', ['deepseek'], 'deepseek', 'sk-[a-f0-9]{32}', 35),
  tok('openrouter-api-key', 'ai', 'OpenRouter API key', ['sk-or-v1-'], 'sk-or-v1-[a-f0-9]{64}', 73),
  tok('fireworks-api-key', 'ai', 'Fireworks AI API key', ['fw_'], 'fw_[A-Za-z0-9]{24}', 27),
  tok('langsmith-api-key', 'ai', 'LangSmith API key', ['lsv2_'], 'lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}', 51),
  tok('langfuse-secret-key', 'ai', 'Langfuse secret key', ['sk-lf-'], `sk-lf-${UUID}`, 42),
  tok('pinecone-api-key', 'ai', 'Pinecone API key', ['pcsk_'], 'pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,80}', 95),
  ctx('wandb-api-key', 'ai', 'Weights & Biases API key', ['wandb'], 'wandb', '[a-f0-9]{40}', 40),
  tok('nvidia-api-key', 'ai', 'NVIDIA NGC / build.nvidia.com API key', ['nvapi-'], 'nvapi-[A-Za-z0-9_-]{64}', 70),
  tok('cerebras-api-key', 'ai', 'Cerebras API key', ['csk-'], 'csk-[a-z0-9]{48}', 52),
  ctx('elevenlabs-api-key', 'ai', 'ElevenLabs API key', ['elevenlabs', 'xi-api-key', 'xi_api_key'], String.raw`elevenlabs|xi[_.\-]api[_.\-]key`, '(?:sk_)?[a-f0-9]{32,48}', 51),
  ctx('assemblyai-api-key', 'ai', 'AssemblyAI API key', ['assemblyai', 'assembly_ai'], String.raw`assembly[_.\-]?ai`, '[a-f0-9]{32}', 32),
  ctx('deepgram-api-key', 'ai', 'Deepgram API key', ['deepgram'], 'deepgram', '[a-f0-9]{40}', 40),
  ctx('voyage-api-key', 'ai', 'Voyage AI API key', ['voyage'], 'voyage', 'pa-[A-Za-z0-9_-]{40,50}', 53),
  ctx('google-gemini-api-key', 'ai', 'Gemini API key named as such (AIza… is caught anyway)', ['gemini'], 'gemini', 'AIza[0-9A-Za-z_-]{35}', 39),
  ctx('stability-api-key', 'ai', 'Stability AI API key', ['stability'], 'stability', 'sk-[A-Za-z0-9]{48}', 51),
  ctx('anyscale-api-key', 'ai', 'Anyscale endpoint API key', ['anyscale'], 'anyscale', 'esecret_[A-Za-z0-9]{26}', 34),
  // Issued by `kt keys create` (src/usage/keys.ts): the gateway's own virtual keys for developers.
  tok('keeptrusts-virtual-key', 'ai', 'Keeptrusts gateway virtual key (kt-vk-)', ['kt-vk-'], 'kt-vk-[A-Za-z0-9_-]{32}', 38),
];

// ---------------------------------------------------------------- package registries
const REGISTRY: SecretRule[] = [
  tok('npm-access-token', 'registry', 'npm access token', ['npm_'], 'npm_[A-Za-z0-9]{36}', 40),
  custom(
    'npmrc-auth-token',
    'registry',
    '_authToken / _auth / npmAuthToken in .npmrc or .yarnrc.yml',
    ['_authtoken', 'npmauthtoken', '_auth', '_password'],
    /(?:_auth(?:Token)?|npmAuth(?:Token|Ident)|_password)(?<=(?<![A-Za-z0-9])(?:_auth(?:Token)?|npmAuth(?:Token|Ident)|_password))[ \t]*[=:][ \t]*["']?(?<secret>[A-Za-z0-9_\-+/=.:]{16,512})(?![A-Za-z0-9_\-+/=.:])/,
    512,
  ),
  tok('pypi-upload-token', 'registry', 'PyPI / TestPyPI upload token', ['pypi-age'], 'pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,400}', 430),
  tok('rubygems-api-key', 'registry', 'RubyGems API key', ['rubygems_'], 'rubygems_[a-f0-9]{48}', 57),
  tok('nuget-api-key', 'registry', 'NuGet API key', ['oy2'], 'oy2[a-z0-9]{43}', 46),
  custom(
    'nuget-config-password',
    'registry',
    'ClearTextPassword / Password of a NuGet.Config packageSourceCredentials entry',
    ['cleartextpassword', 'key="password"', "key='password'"],
    /<add[ \t\r\n]+key[ \t]*=[ \t]*(?<q>["'])(?:ClearText)?Password\k<q>[ \t\r\n]+value[ \t]*=[ \t]*(?<q2>["'])(?<secret>[^"'<>\r\n]{4,512})\k<q2>/i,
    512,
    { validate: (v) => !isDefaultPassword(v) && !v.startsWith('%') && !v.startsWith('$') },
  ),
  tok('dockerhub-pat', 'registry', 'Docker Hub personal access token', ['dckr_pat_'], 'dckr_pat_[A-Za-z0-9_-]{27,40}', 49),
  tok('dockerhub-org-token', 'registry', 'Docker Hub organisation access token', ['dckr_oat_'], 'dckr_oat_[A-Za-z0-9_-]{32,40}', 49),
  tok('crates-io-token', 'registry', 'crates.io API token', ['cio'], 'cio[A-Za-z0-9]{32}', 35),
  tok('artifactory-api-key', 'registry', 'JFrog Artifactory API key', ['akcp'], 'AKCp[A-Za-z0-9]{69}', 73),
  // Reference tokens are base64 of "reftkn:01:<expiry>:<id>" (cmVmdGtu = "reftkn").
  tok('artifactory-reference-token', 'registry', 'JFrog Artifactory reference token', ['cmvmd'], 'cmVmd[A-Za-z0-9]{59}', 64),
  // Next to an Artifactory / JFrog key name: API keys (AKC…), encrypted passwords (AP + hex digit …) and tokens.
  ctx('artifactory-credential', 'registry', 'JFrog Artifactory API key, encrypted password or token next to its key name', ['artifactory', 'jfrog'], String.raw`(?:artifactory|jfrog|\bart|\brt)[\w.\-]{0,30}?(?:pass(?:word)?|token|key|apikey|secret|credential)`, String.raw`AKC[A-Za-z0-9]{10,80}|AP[0-9A-F][A-Za-z0-9]{8,80}|[A-Za-z0-9_=-]{32,120}`, 120, { entropy: 3.0 }),
  tok('clojars-token', 'registry', 'Clojars deploy token', ['clojars_'], 'CLOJARS_[a-z0-9]{60}', 68),
  custom(
    'docker-config-auth',
    'registry',
    'auth in a Docker config.json auths entry',
    ['"auths"'],
    /"auth"[ \t]*:[ \t]*"(?<secret>[A-Za-z0-9+/]{12,500}={0,2})"/,
    502,
  ),
  ctx('hex-pm-api-key', 'registry', 'Hex.pm API key', ['hex_api_key', 'hexpm'], 'hex_?api_?key|hexpm', '[a-f0-9]{32}', 32),
  ctx('gradle-publish-secret', 'registry', 'Gradle plugin portal publish secret', ['gradle_publish'], String.raw`gradle[_.\-]?publish[_.\-]?secret`, '[A-Za-z0-9]{32}', 32),
  ctx('packagecloud-token', 'registry', 'packagecloud API token', ['packagecloud'], 'packagecloud', '[a-f0-9]{48}', 48),
];

/**
 * Vendors whose keys have no prefix of their own: a value of the vendor's documented shape right after a key
 * naming the vendor (`FASTLY_API_TOKEN=…`, `kraken: { private_key: … }`). [id, description, name pattern, value].
 */
const VENDOR_SHAPES: Array<[string, string, string, string]> = [
  ['adafruit-api-key', 'Adafruit IO key', 'adafruit', '[A-Za-z0-9_-]{32}'],
  ['beamer-api-token', 'Beamer API token', 'beamer', 'b_[A-Za-z0-9=_-]{44}'],
  ['bittrex-api-key', 'Bittrex API key / secret', 'bittrex', '[a-z0-9]{32}'],
  ['codecov-token', 'Codecov upload / access token', 'codecov', '[a-z0-9]{32}|' + UUID],
  ['coinbase-api-secret', 'Coinbase API secret', 'coinbase', '[A-Za-z0-9_-]{64}'],
  ['contentful-delivery-token', 'Contentful delivery / preview token', 'contentful', '[A-Za-z0-9=_-]{43}'],
  ['dropbox-api-secret', 'Dropbox app secret', 'dropbox', '[a-z0-9]{15}'],
  ['droneci-token', 'Drone CI access token', 'drone', '[A-Za-z0-9]{32}'],
  ['etsy-api-key', 'Etsy API key', 'etsy', '[a-z0-9]{24}'],
  ['fastly-api-token', 'Fastly API token', 'fastly', '[A-Za-z0-9_-]{32}'],
  ['finicity-secret', 'Finicity client secret / app key', 'finicity', '[a-z0-9]{20}|[a-f0-9]{32}'],
  ['finnhub-token', 'Finnhub API token', 'finnhub', '[a-z0-9]{20}'],
  ['flickr-api-key', 'Flickr API key', 'flickr', '[a-z0-9]{32}'],
  ['freshbooks-token', 'FreshBooks access token', 'freshbooks', '[a-z0-9]{64}'],
  ['gitter-token', 'Gitter access token', 'gitter', '[a-z0-9_-]{40}'],
  ['hubspot-api-key', 'HubSpot API key (legacy, UUID)', 'hubspot', UUID_ANY],
  ['jfrog-identity-token', 'JFrog identity token', 'jfrog', '[a-z0-9]{64}'],
  ['kraken-secret', 'Kraken API private key', 'kraken', '[A-Za-z0-9/=_+-]{80,90}'],
  ['kucoin-secret', 'KuCoin API key / secret', 'kucoin', '[a-f0-9]{24}|' + UUID],
  ['linkedin-client-secret', 'LinkedIn client secret', 'linkedin|linked[_.-]in', '[a-z0-9]{16}'],
  ['lob-api-key', 'Lob API key', 'lob', '(?:live|test)_[a-f0-9]{35}'],
  ['looker-client-secret', 'Looker API client secret', 'looker', '[a-z0-9]{24}'],
  ['messagebird-api-key', 'MessageBird API key', 'messagebird|message[_.-]bird', '[a-z0-9]{25}'],
  ['meraki-api-key', 'Cisco Meraki API key', 'meraki', '[0-9a-f]{40}'],
  ['nytimes-api-key', 'New York Times API key', 'nytimes|new[_.-]york[_.-]times|nyt', '[a-z0-9=_-]{32}'],
  ['privateai-api-key', 'Private AI API key', 'private[_.-]?ai', '[a-z0-9]{32}'],
  ['rapidapi-key', 'RapidAPI key', 'rapidapi|rapid[_.-]api', '[a-z0-9_-]{50}'],
  ['sendbird-token', 'Sendbird API token', 'sendbird', '[a-f0-9]{40}'],
  ['squarespace-token', 'Squarespace API key', 'squarespace', UUID_ANY],
  ['sumologic-credential', 'Sumo Logic access id / key', 'sumo', 'su[A-Za-z0-9]{12}|[A-Za-z0-9]{64}'],
];
const VENDOR_CONTEXT: SecretRule[] = VENDOR_SHAPES.map(([id, description, name, value]) =>
  ctx(id, 'saas', `${description} next to its key name`, [/^[a-z]+/.exec(name)![0]], String.raw`\b(?:${name})`, value, 100, { entropy: 3.0 }),
);

// ---------------------------------------------------------------- SaaS
const SAAS: SecretRule[] = [
  tok('twilio-api-key', 'saas', 'Twilio API key SID secret pair (SK…)', ['sk'], 'SK[0-9a-fA-F]{32}', 34),
  ctx('twilio-auth-token', 'saas', 'Twilio auth token', ['twilio'], String.raw`twilio[\w.\-]{0,20}?(?:auth|token|secret)`, '[a-f0-9]{32}', 32),
  tok('sendgrid-api-key', 'saas', 'SendGrid API key', ['sg.'], String.raw`SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}`, 69),
  tok('mailgun-api-key', 'saas', 'Mailgun API key', ['key-'], 'key-[a-f0-9]{32}', 36),
  ctx('mailgun-private-key', 'saas', 'Mailgun private API key (new format)', ['mailgun'], 'mailgun', '[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8}', 50),
  // Found from the rare `-usN` suffix; the lookbehind captures the whole key (a leading hex class is slow to scan for).
  custom('mailchimp-api-key', 'saas', 'Mailchimp API key', ['-us'], /-us\d{1,2}(?![A-Za-z0-9_-])(?<=(?<![A-Za-z0-9_])(?<secret>[a-f0-9]{32}-us\d{1,2}))/, 37),
  ctx('postmark-server-token', 'saas', 'Postmark server / account token', ['postmark'], 'postmark', UUID, 36),
  tok('brevo-api-key', 'saas', 'Brevo (Sendinblue) API key', ['xkeysib-'], 'xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}', 89),
  tok('brevo-smtp-key', 'saas', 'Brevo (Sendinblue) SMTP key', ['xsmtpsib-'], 'xsmtpsib-[a-f0-9]{64}-[A-Za-z0-9]{16}', 90),
  tok('mailersend-api-token', 'saas', 'MailerSend API token', ['mlsn.'], String.raw`mlsn\.[a-f0-9]{64}`, 69),
  tok('resend-api-key', 'saas', 'Resend API key', ['re_'], 're_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}', 36),
  tok('shopify-access-token', 'saas', 'Shopify Admin API access token', ['shpat_'], 'shpat_[A-Za-z0-9]{32,40}', 46),
  tok('shopify-shared-secret', 'saas', 'Shopify app shared secret', ['shpss_'], 'shpss_[A-Za-z0-9]{32,40}', 46),
  tok('shopify-custom-app-token', 'saas', 'Shopify custom app access token', ['shpca_'], 'shpca_[A-Za-z0-9]{32,40}', 46),
  tok('shopify-private-app-token', 'saas', 'Shopify private app password', ['shppa_'], 'shppa_[A-Za-z0-9]{32,40}', 46),
  tok('atlassian-api-token', 'saas', 'Atlassian (Jira / Confluence) API token', ['atatt3'], 'ATATT3[A-Za-z0-9_=-]{150,220}', 226),
  ctx('atlassian-legacy-token', 'saas', 'Atlassian / Jira / Confluence API token (legacy 24-char)', ['jira', 'confluence', 'atlassian'], String.raw`(?:jira|confluence|atlassian)[\w.\-]{0,20}?(?:token|key)`, '[A-Za-z0-9]{24}', 24),
  tok('linear-api-key', 'saas', 'Linear API key', ['lin_api_'], 'lin_api_[A-Za-z0-9]{40}', 48),
  tok('linear-oauth-token', 'saas', 'Linear OAuth access token', ['lin_oauth_'], 'lin_oauth_[a-f0-9]{64}', 74),
  tok('notion-integration-token', 'saas', 'Notion integration token (ntn_)', ['ntn_'], 'ntn_[0-9]{11}[A-Za-z0-9]{35}', 50),
  tok('notion-legacy-secret', 'saas', 'Notion integration secret (secret_)', ['secret_'], 'secret_[A-Za-z0-9]{43}', 50),
  ctx('datadog-api-key', 'saas', 'Datadog API key', ['datadog', 'dd_api', 'dd-api', 'ddapi'], String.raw`datadog[\w.\-]{0,10}?api|\bdd[_.\-]?api`, '[a-f0-9]{32}', 32),
  ctx('datadog-app-key', 'saas', 'Datadog application key', ['datadog', 'dd_app', 'dd-app', 'ddapp'], String.raw`datadog[\w.\-]{0,10}?app|\bdd[_.\-]?app(?:lication)?`, '[a-f0-9]{40}', 40),
  tok('newrelic-user-api-key', 'saas', 'New Relic user API key', ['nrak-'], 'NRAK-[A-Z0-9]{27}', 32),
  tok('newrelic-insert-key', 'saas', 'New Relic insights insert key', ['nrii-'], 'NRII-[A-Za-z0-9_-]{32}', 37),
  ctx('newrelic-license-key', 'saas', 'New Relic ingest licence key', ['new_relic', 'newrelic', 'nr_license', 'new-relic'], String.raw`new[_.\-]?relic|\bnr[_.\-]license`, '[a-f0-9]{36}NRAL', 40),
  tok('sentry-org-token', 'saas', 'Sentry organisation auth token', ['sntrys_'], 'sntrys_[A-Za-z0-9+/=_]{80,400}', 407, { end: END_B64 }),
  tok('sentry-user-token', 'saas', 'Sentry user auth token', ['sntryu_'], 'sntryu_[a-f0-9]{64}', 71),
  ctx('sentry-auth-token', 'saas', 'Sentry auth token (legacy 64-hex)', ['sentry'], String.raw`sentry[\w.\-]{0,10}?(?:auth|token)`, '[a-f0-9]{64}', 64),
  ctx('pagerduty-api-key', 'saas', 'PagerDuty API / integration key', ['pagerduty', 'pd_token', 'pd_api'], String.raw`pagerduty|\bpd[_.\-](?:api|token|routing)`, String.raw`(?:u\+)?[A-Za-z0-9_+\-]{20}|[a-f0-9]{32}`, 32),
  ctx('okta-api-token', 'saas', 'Okta API token', ['okta'], 'okta', '00[A-Za-z0-9_-]{40}', 42),
  tok('postman-api-key', 'saas', 'Postman API key', ['pmak-'], 'PMAK-[a-f0-9]{24}-[a-f0-9]{34}', 64),
  tok('doppler-token', 'saas', 'Doppler token (personal, service, SCIM, audit…)', ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.', 'dp.scim.', 'dp.audit.'], String.raw`dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9._-]{40,100}`, 110),
  tok('vault-service-token', 'saas', 'HashiCorp Vault service token', ['hvs.'], String.raw`hvs\.[A-Za-z0-9_-]{24,300}`, 304),
  tok('vault-batch-token', 'saas', 'HashiCorp Vault batch token', ['hvb.'], String.raw`hvb\.[A-Za-z0-9_-]{24,400}`, 404),
  tok('vault-recovery-token', 'saas', 'HashiCorp Vault recovery token', ['hvr.'], String.raw`hvr\.[A-Za-z0-9_-]{24,300}`, 304),
  ctx('vault-legacy-token', 'saas', 'HashiCorp Vault token (legacy s.)', ['vault'], String.raw`vault[\w.\-]{0,10}?token`, String.raw`s\.[A-Za-z0-9]{24}`, 26),
  tok('pulumi-access-token', 'saas', 'Pulumi access token', ['pul-'], 'pul-[a-f0-9]{40}', 44),
  tok('terraform-cloud-token', 'saas', 'Terraform Cloud / Enterprise API token', ['atlasv1'], String.raw`[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,100}`, 123),
  // The CLI reads TF_TOKEN_<host> (dots as underscores), TFE_TOKEN and the older ATLAS_TOKEN.
  ctx('terraform-cli-token', 'saas', 'Terraform CLI credentials variable (TF_TOKEN_<host>, TFE_TOKEN, ATLAS_TOKEN)', ['tf_token_', 'tfe_token', 'atlas_token'], String.raw`\b(?:TF_TOKEN_[A-Za-z0-9_-]{1,80}|TFE_TOKEN|ATLAS_TOKEN)`, String.raw`[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,100}|[A-Za-z0-9_=.-]{30,200}`, 200, { entropy: 3.5, flags: '' }),
  tok('grafana-cloud-token', 'saas', 'Grafana Cloud access policy token', ['glc_'], 'glc_[A-Za-z0-9+/]{32,400}={0,2}', 406, { end: END_B64 }),
  tok('grafana-service-account-token', 'saas', 'Grafana service account token', ['glsa_'], 'glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}', 46),
  tok('grafana-api-key', 'saas', 'Grafana API key (legacy, base64 JSON)', ['eyjrijoi'], 'eyJrIjoi[A-Za-z0-9]{60,400}={0,2}', 410, { end: END_B64 }),
  tok('airtable-pat', 'saas', 'Airtable personal access token', ['pat'], String.raw`pat[A-Za-z0-9]{14}\.[a-f0-9]{64}`, 82),
  ctx('airtable-api-key', 'saas', 'Airtable API key (legacy)', ['airtable'], 'airtable', 'key[A-Za-z0-9]{14}', 17),
  tok('figma-pat', 'saas', 'Figma personal access token', ['figd_'], 'figd_[A-Za-z0-9_-]{40,64}', 69),
  tok('deno-deploy-token', 'cloud', 'Deno Deploy personal or organisation access token (ddp_, ddw_)', ['ddp_', 'ddw_'], 'dd[pw]_[A-Za-z0-9]{36}', 40),
  ctx('asana-pat', 'saas', 'Asana personal access token', ['asana'], 'asana', String.raw`[0-9]/[0-9]{10,16}(?:/[0-9]{10,16})?:[A-Za-z0-9]{32}`, 72),
  ctx('asana-client-secret', 'saas', 'Asana OAuth client secret next to its key name', ['asana'], String.raw`asana[\w.\-]{0,20}?(?:secret|token)`, '[A-Za-z0-9]{32}', 32, { entropy: 3.0 }),
  tok('dropbox-short-lived-token', 'saas', 'Dropbox short-lived access token', ['sl.'], String.raw`sl\.[A-Za-z0-9_-]{130,160}`, 163),
  tok('supabase-access-token', 'saas', 'Supabase personal access token', ['sbp_'], 'sbp_[a-f0-9]{40}', 44),
  tok('supabase-secret-key', 'saas', 'Supabase secret API key', ['sb_secret_'], 'sb_secret_[A-Za-z0-9_-]{31,64}', 74),
  tok('vercel-token', 'saas', 'Vercel personal / integration / app token (vcp_, vci_, vca_, vcr_)', ['vcp_', 'vci_', 'vca_', 'vcr_'], 'vc[pcair]_[A-Za-z0-9]{24,64}', 68),
  tok('vercel-ai-gateway-key', 'saas', 'Vercel AI Gateway API key', ['vck_'], 'vck_[A-Za-z0-9]{24,64}', 68),
  ctx('vercel-legacy-token', 'saas', 'Vercel token (legacy 24-char)', ['vercel'], 'vercel', '[A-Za-z0-9]{24}', 24),
  tok('netlify-access-token', 'saas', 'Netlify personal access token (nfp_)', ['nfp_'], 'nfp_[A-Za-z0-9]{36,40}', 44),
  ctx('netlify-legacy-token', 'saas', 'Netlify access token (legacy)', ['netlify'], 'netlify', '[A-Za-z0-9_-]{40,46}', 46),
  tok('fly-access-token', 'saas', 'Fly.io access / deploy token', ['fo1_', 'fm1a_', 'fm1r_', 'fm2_'], String.raw`fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,3000}={0,3}`, 3010, { end: END_B64 }),
  ctx('algolia-admin-key', 'saas', 'Algolia admin / write API key', ['algolia'], 'algolia', '[a-f0-9]{32}', 32),
  tok('mapbox-secret-token', 'saas', 'Mapbox secret access token (sk.)', ['sk.eyj'], String.raw`sk\.eyJ1Ijoi[A-Za-z0-9_-]{20,100}\.[A-Za-z0-9_-]{20,30}`, 142),
  tok('hubspot-private-app-token', 'saas', 'HubSpot private app token', ['pat-na1-', 'pat-eu1-', 'pat-na2-'], `pat-(?:na|eu|ap)\\d-${UUID}`, 44),
  tok('contentful-pat', 'saas', 'Contentful personal access token', ['cfpat-'], 'CFPAT-[A-Za-z0-9_-]{43}', 49),
  tok('typeform-pat', 'saas', 'Typeform personal access token', ['tfp_'], 'tfp_[A-Za-z0-9_.=-]{59}', 63),
  tok('launchdarkly-access-token', 'saas', 'LaunchDarkly API access token', ['api-'], `api-${UUID}`, 40),
  tok('launchdarkly-sdk-key', 'saas', 'LaunchDarkly server-side SDK key', ['sdk-'], `sdk-${UUID}`, 40),
  tok('planetscale-token', 'saas', 'PlanetScale service / OAuth token', ['pscale_tkn_', 'pscale_oauth_'], 'pscale_(?:tkn|oauth)_[A-Za-z0-9_.=-]{32,64}', 77),
  tok('prefect-api-key', 'saas', 'Prefect Cloud API key', ['pnu_'], 'pnu_[A-Za-z0-9]{36}', 40),
  tok('readme-api-key', 'saas', 'ReadMe API key', ['rdme_'], 'rdme_[a-z0-9]{70}', 75),
  tok('shippo-api-token', 'saas', 'Shippo API token', ['shippo_'], 'shippo_(?:live|test)_[a-f0-9]{40}', 52),
  tok('easypost-api-key', 'saas', 'EasyPost production / test API key', ['ezak', 'eztk'], 'EZ[AT]K[A-Za-z0-9]{54}', 58),
  tok('duffel-api-token', 'saas', 'Duffel API token', ['duffel_'], 'duffel_(?:test|live)_[A-Za-z0-9_=-]{43}', 55),
  tok('dynatrace-api-token', 'saas', 'Dynatrace API token', ['dt0c01.'], String.raw`dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}`, 96),
  tok('clickup-api-key', 'saas', 'ClickUp personal API token', ['pk_'], String.raw`pk_\d{6,10}_[A-Z0-9]{32}`, 46),
  tok('defined-networking-api-token', 'saas', 'Defined Networking API token', ['dnkey-'], 'dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52}', 85),
  tok('infracost-api-key', 'saas', 'Infracost API key', ['ico-'], 'ico-[A-Za-z0-9]{32}', 36),
  tok('octopus-deploy-api-key', 'saas', 'Octopus Deploy API key', ['api-'], 'API-[A-Z0-9]{26}', 30),
  tok('openshift-user-token', 'saas', 'OpenShift user token', ['sha256~'], 'sha256~[A-Za-z0-9_-]{43}', 50),
  tok('scalingo-api-token', 'saas', 'Scalingo API token', ['tk-us-'], 'tk-us-[A-Za-z0-9_-]{48}', 54),
  tok('render-api-key', 'saas', 'Render API key', ['rnd_'], 'rnd_[A-Za-z0-9]{32}', 36),
  tok('neon-api-key', 'saas', 'Neon API key', ['napi_'], 'napi_[a-z0-9]{64}', 69),
  tok('posthog-personal-api-key', 'saas', 'PostHog personal API key', ['phx_'], 'phx_[A-Za-z0-9]{43}', 47),
  tok('facebook-access-token', 'saas', 'Facebook / Meta Graph API access token', ['eaa'], 'EAA[A-Za-z0-9]{100,255}', 258),
  ctx('facebook-app-secret', 'saas', 'Facebook / Meta app secret', ['facebook', 'fb_app', 'fbapp', 'fb_secret', 'fbsecret', 'meta_app', 'metaapp'], String.raw`(?:facebook|\bfb|meta)[\w.\-]{0,10}?secret`, '[a-f0-9]{32}', 32),
  tok('onepassword-service-account-token', 'saas', '1Password service account token', ['ops_eyj'], 'ops_eyJ[A-Za-z0-9+/=_-]{250,2000}', 2007, { end: END_B64 }),
  tok('onepassword-secret-key', 'saas', '1Password account secret key', ['a3-'], 'A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}(?:-[A-Z0-9]{5}){3}|[A-Z0-9]{6}(?:-[A-Z0-9]{5}){3,4})', 40),
  ctx('ngrok-authtoken', 'saas', 'ngrok authtoken', ['ngrok'], 'ngrok', '[0-9A-Za-z]{26,27}_[0-9A-Za-z]{20,22}', 50),
  custom(
    'cloudinary-url',
    'saas',
    'Cloudinary URL API secret',
    ['cloudinary://'],
    /cloudinary:\/\/\d{6,20}:(?<secret>[A-Za-z0-9_-]{20,40})@/,
    40,
  ),
  tok('frameio-api-token', 'saas', 'Frame.io API token', ['fio-u-'], 'fio-u-[A-Za-z0-9_=-]{64}', 70),
  ctx('intercom-access-token', 'saas', 'Intercom access token', ['intercom'], 'intercom', '[A-Za-z0-9=_-]{60}', 60),
  ctx('zendesk-api-token', 'saas', 'Zendesk API token', ['zendesk'], 'zendesk', '[A-Za-z0-9]{40}', 40),
  ctx('snyk-api-token', 'saas', 'Snyk API token', ['snyk'], 'snyk', UUID, 36),
  ctx('rollbar-access-token', 'saas', 'Rollbar access token', ['rollbar'], 'rollbar', '[a-f0-9]{32}', 32),
  ctx('auth0-client-secret', 'saas', 'Auth0 client secret', ['auth0'], String.raw`auth0[\w.\-]{0,20}?secret`, '[A-Za-z0-9_-]{64}', 64),
  ctx('confluent-api-secret', 'saas', 'Confluent Cloud API secret', ['confluent'], String.raw`confluent[\w.\-]{0,20}?secret`, '[A-Za-z0-9+/]{64}', 64),
  ctx('segment-write-key', 'saas', 'Segment write key', ['segment'], String.raw`segment[\w.\-]{0,10}?write`, '[A-Za-z0-9]{32}', 32),
  ctx('zoom-client-secret', 'saas', 'Zoom OAuth client secret', ['zoom'], String.raw`zoom[\w.\-]{0,20}?secret`, '[A-Za-z0-9]{32}', 32),
  ctx('salesforce-client-secret', 'saas', 'Salesforce connected-app consumer secret', ['salesforce', 'sfdc'], String.raw`(?:salesforce|sfdc)[\w.\-]{0,20}?secret`, '[A-F0-9]{64}', 64),
  tok('salesforce-access-token', 'saas', 'Salesforce session / access token', ['00d'], String.raw`00D[A-Za-z0-9]{12,15}![A-Za-z0-9_.]{90,110}`, 130, { end: '(?![A-Za-z0-9_.])' }),
  tok('infisical-service-token', 'saas', 'Infisical service token', ['st.'], String.raw`st\.${UUID}\.[a-f0-9]{32}\.[a-f0-9]{32}`, 105),
  tok('harness-pat', 'saas', 'Harness personal access / service account token', ['pat.', 'sat.'], String.raw`(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[a-z0-9]{24}\.[A-Za-z0-9]{20}`, 73),
  tok('newrelic-browser-api-token', 'saas', 'New Relic browser API token', ['nrjs-'], 'NRJS-[a-f0-9]{19}', 24),
  tok('adobe-client-secret', 'saas', 'Adobe I/O client secret (p8e-)', ['p8e-'], 'p8e-[A-Za-z0-9]{32}', 36),
  tok('intra42-client-secret', 'saas', '42 Intra API client secret', ['s-s4t2'], 's-s4t2(?:ud|af)-[a-f0-9]{64}', 76),
  tok('settlemint-token', 'saas', 'SettleMint personal / application / service token', ['sm_pat_', 'sm_aat_', 'sm_sat_'], 'sm_(?:pat|aat|sat)_[A-Za-z0-9]{16}', 23),
  tok('maxmind-license-key', 'saas', 'MaxMind licence key', ['_mmk'], '[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk', 40),
  tok('dropbox-long-lived-token', 'saas', 'Dropbox long-lived access token', ['aaaaaaaaaa'], '[a-z0-9]{11}AAAAAAAAAA[a-z0-9_=-]{43}', 64, { allowRuns: true }),
  tok('authress-service-client-key', 'saas', 'Authress service client access key', ['.acc_', '.acc-'], String.raw`(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[a-z0-9+/_=-]{30,120}`, 204, { flags: 'i', end: '(?![A-Za-z0-9+/_=-])' }),
  ctx('sidekiq-credentials', 'saas', 'Sidekiq Pro / Enterprise gem server credentials', ['contribsys'], String.raw`BUNDLE_(?:ENTERPRISE|GEMS)__CONTRIBSYS__COM`, '[a-f0-9]{8}:[a-f0-9]{8}', 17),
  ...VENDOR_CONTEXT,
  tok('age-secret-key', 'private-key', 'age encryption secret key', ['age-secret-key-1'], 'AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}', 74),
];

// ---------------------------------------------------------------- databases: the span is the password only
/** `scheme://user:password@host`: the password may itself contain `@` (the last `@` before the host wins). */
function urlCredentials(schemes: string): RegExp {
  // Starts at the literal `://` (fast to find); the scheme is checked by the lookbehind.
  return new RegExp(String.raw`://(?<=\b(?:${schemes})://)(?<user>[^\s:/@"'<>]{0,128}):(?<secret>[^\s/"'<>?#]{1,256})@(?=[\w\[.%-])`);
}

const DATABASE: SecretRule[] = [
  // IBM Cloudant: a 64-hex password or a 24-letter API key, named by the product (`cloudant_`, short `cl_`, `clou_`).
  ctx(
    'cloudant-credential',
    'database',
    'IBM Cloudant password / API key next to its key name',
    ['cloudant', 'cl_', 'clou_'],
    String.raw`(?:cloudant|\bclou|\bcl)[_.\-]?(?:api[_.\-]?)?(?:key|pwd|pw|password|pass|token)`,
    '[0-9a-f]{64}|[a-z]{24}',
    64,
    { entropy: 3.0, validate: (v) => !isWordy(v) },
  ),
  custom('postgres-connection-string', 'database', 'password in a PostgreSQL URL', ['postgres', 'pgsql', 'cockroachdb', 'timescale'], urlCredentials(String.raw`postgres(?:ql)?(?:\+\w+)?|pgsql|cockroachdb|timescaledb`), 256, { validate: urlPasswordOk }),
  custom('mysql-connection-string', 'database', 'password in a MySQL / MariaDB URL', ['mysql', 'mariadb'], urlCredentials(String.raw`mysql(?:x|2)?(?:\+\w+)?|mariadb(?:\+\w+)?`), 256, { validate: urlPasswordOk }),
  custom('mongodb-connection-string', 'database', 'password in a MongoDB URL', ['mongodb'], urlCredentials(String.raw`mongodb(?:\+srv)?`), 256, { validate: urlPasswordOk }),
  custom('redis-connection-string', 'database', 'password in a Redis / Valkey URL', ['redis', 'valkey'], urlCredentials('rediss?|valkey'), 256, { validate: urlPasswordOk }),
  custom('amqp-connection-string', 'database', 'password in an AMQP (RabbitMQ) URL', ['amqp'], urlCredentials('amqps?'), 256, { validate: urlPasswordOk }),
  custom(
    'database-connection-string',
    'database',
    'password in another database URL (SQL Server, ClickHouse, Neo4j, Couchbase, Cassandra, Oracle, Snowflake…)',
    ['sqlserver', 'mssql', 'clickhouse', 'neo4j', 'bolt', 'couchbase', 'cassandra', 'influxdb', 'oracle', 'snowflake', 'db2', 'nats', 'mqtt', 'kafka'],
    urlCredentials(String.raw`sqlserver|mssql(?:\+\w+)?|clickhouse(?:\+\w+)?|neo4j(?:\+s)?|bolt|couchbases?|cassandra|influxdb|oracle(?:\+\w+)?|snowflake|db2|nats|mqtts?|kafka`),
    256,
    { validate: urlPasswordOk },
  ),
  custom(
    'ado-connection-string-password',
    'database',
    'Password= / Pwd= in an ADO.NET, ODBC or JDBC key-value connection string',
    ['password=', 'pwd=', 'password =', 'pwd ='],
    /(?:Password|Pwd)(?<=(?<![\w.-])(?:Password|Pwd))[ \t]*=[ \t]*(?<secret>[^;"'\s]{1,128})(?=;|["'\s]|$)/i,
    128,
    { validate: inAdoConnectionString },
  ),
  tok('planetscale-password', 'database', 'PlanetScale database password', ['pscale_pw_'], 'pscale_pw_[A-Za-z0-9_.=-]{32,64}', 74),
  custom(
    'basic-auth-url',
    'generic',
    'password in a https / ftp / ssh / git … URL (user:password@host)',
    ['://'],
    urlCredentials(String.raw`https?|ftps?|sftp|ssh|git|svn|smb|ldaps?|wss?|smtps?|imaps?|pop3s?|rsync|webdavs?|davs?`),
    256,
    { validate: urlPasswordOk },
  ),
  ctx('mongodb-atlas-private-key', 'database', 'MongoDB Atlas API private key', ['atlas'], String.raw`(?:mongodb[_.\-]?)?atlas[\w.\-]{0,20}?private`, UUID, 36),
];

// ---------------------------------------------------------------- private keys and JWTs
/** Body of an armoured block: anything without a run of five dashes, at least 64 characters. */
const BLOCK_BODY = String.raw`(?:[^-]|-(?!----)){64,${MAX_KEY_BLOCK - 200}}`;

const KEYS: SecretRule[] = [
  custom(
    'pem-private-key',
    'private-key',
    'PEM private key (RSA, EC, DSA, PKCS#8, encrypted)',
    ['private key-----'],
    new RegExp(String.raw`-----BEGIN (?!OPENSSH )(?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY-----${BLOCK_BODY}-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY-{4,5}`),
    MAX_KEY_BLOCK,
    { validate: hasKeyMaterial },
  ),
  custom(
    'openssh-private-key',
    'private-key',
    'OpenSSH private key',
    ['begin openssh private key'],
    new RegExp(String.raw`-----BEGIN OPENSSH PRIVATE KEY-----${BLOCK_BODY}-----END OPENSSH PRIVATE KEY-----`),
    MAX_KEY_BLOCK,
    { validate: hasKeyMaterial },
  ),
  custom(
    'pgp-private-key-block',
    'private-key',
    'PGP / GPG private key block',
    ['begin pgp private key block'],
    new RegExp(String.raw`-----BEGIN PGP PRIVATE KEY BLOCK-----${BLOCK_BODY}-----END PGP PRIVATE KEY BLOCK-----`),
    MAX_KEY_BLOCK,
    { validate: hasKeyMaterial },
  ),
  custom(
    'putty-private-key',
    'private-key',
    'PuTTY private key file',
    ['putty-user-key-file-'],
    // The body never holds another file's header: each start then reads at most to the next header, not 8,000
    // characters (a text of repeated headers cost 1.5 s of CPU per MB).
    /PuTTY-User-Key-File-[23]: (?:[^P]|P(?!uTTY-User-Key-File-)){20,8000}?Private-MAC: [a-f0-9]{40,64}/,
    8200,
  ),
  ctx('ethereum-private-key', 'private-key', 'Ethereum / secp256k1 private key next to its key name', ['priv', 'mnemonic', 'wallet'], String.raw`priv(?:ate)?[_.\-]?key|wallet[_.\-]?key`, '(?:0x)?[a-fA-F0-9]{64}', 66),
  // The signature may be empty (`alg: none`, or a token whose signature was cut off: the claims still travel) and
  // parts may keep their base64 padding.
  tok('jwt', 'jwt', 'JSON Web Token (header decodes to JSON with alg)', ['eyj'], String.raw`eyJ[A-Za-z0-9_-]{10,2000}={0,2}\.[A-Za-z0-9_-]{2,6000}={0,2}\.(?:[A-Za-z0-9_-]{16,1000}={0,2})?`, 9011, { validate: isJwt, end: '(?![A-Za-z0-9_.=-])' }),
  // A JWT base64-encoded once more (Kubernetes Secret data, config values): `ZXlK` is `eyJ` encoded.
  tok('jwt-base64', 'jwt', 'base64-encoded JSON Web Token (decodes to a JOSE header)', ['zxlk'], 'ZXlK[A-Za-z0-9+/]{36,12000}={0,2}', 12020, { validate: isBase64Jwt, end: END_B64 }),
];

/** Every built-in rule, provider-specific first (order breaks ties between equal spans). */
export const SECRET_RULES: readonly SecretRule[] = Object.freeze([...CLOUD, ...VCS, ...CHAT, ...TWITTER, ...PAYMENTS, ...AI, ...REGISTRY, ...SAAS, ...DATABASE, ...KEYS, ...GENERIC_RULES]);
