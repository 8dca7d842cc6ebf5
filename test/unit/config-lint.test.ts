import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/index.js';
import { lintText, MINIMAL } from '../helpers/config.js';

/** Each case: a config text, and the diagnostic it must produce (code, message part, line:column). */
const INVALID: Array<{ name: string; text: string; code: string; message: RegExp; at?: string; hint?: RegExp }> = [
  {
    name: 'negative retries on a target',
    text: MINIMAL.replace('      provider: openai\n', '      provider: openai\n      retry: {max_retries: -1}\n'),
    code: 'invalid-value',
    message: /retry\.max_retries/,
    at: '10:28',
  },
  {
    name: 'misspelt circuit breaker key',
    text: MINIMAL.replace('providers:\n', 'providers:\n  circuit_breaker:\n    failurs: 3\n'),
    code: 'unknown-key',
    message: /unknown key "failurs" in providers\.circuit_breaker/,
    at: '8:5',
    hint: /did you mean "failures"/,
  },
  {
    name: 'YAML syntax error',
    text: 'pack:\n  name: x\n  version: "1\nproviders: [\n',
    code: 'yaml-syntax',
    message: /./,
  },
  {
    name: 'duplicate key',
    text: 'pack:\n  name: a\n  name: b\n  version: "1"\nproviders:\n  targets: [{id: a, provider: openai}]\n',
    code: 'duplicate-key',
    message: /unique/i,
    at: '3:3',
  },
  {
    name: 'misspelt top-level key',
    text: MINIMAL.replace('providers:', 'provider:'),
    code: 'unknown-key',
    message: /unknown key "provider" in \(document\)/,
    at: '6:1',
    hint: /did you mean "providers"\?/,
  },
  {
    name: 'misspelt pack key',
    text: MINIMAL.replace('  version: 1.0.0', '  version: 1.0.0\n  enabeld: true'),
    code: 'unknown-key',
    message: /unknown key "enabeld" in pack/,
    at: '4:3',
    hint: /did you mean "enabled"/,
  },
  {
    name: 'missing pack name',
    text: MINIMAL.replace('  name: test\n', ''),
    code: 'missing-key',
    message: /missing required key pack\.name/,
    at: '1:1',
  },
  {
    name: 'numeric version',
    text: MINIMAL.replace('version: 1.0.0', 'version: 1.5'),
    code: 'invalid-type',
    message: /pack\.version must be a string, not number 1\.5/,
    at: '3:12',
    hint: /quote/,
  },
  {
    name: 'enabled is not a boolean',
    text: MINIMAL.replace('  version: 1.0.0', '  version: 1.0.0\n  enabled: "yes"'),
    code: 'invalid-type',
    message: /pack\.enabled must be true or false/,
  },
  {
    name: 'unknown policy kind in the chain',
    text: MINIMAL.replace('chain: []', 'chain: [pii-detectr]'),
    code: 'unknown-policy-kind',
    message: /unknown policy kind "pii-detectr"/,
    at: '5:11',
  },
  {
    name: 'unknown policy block',
    text: MINIMAL.replace('providers:', 'policy:\n  not-a-policy: {}\nproviders:'),
    code: 'unknown-policy-kind',
    message: /unknown policy kind "not-a-policy"/,
    at: '7:3',
  },
  {
    name: 'chain is not a list',
    text: MINIMAL.replace('chain: []', 'chain: pii-detector'),
    code: 'invalid-type',
    message: /policies\.chain must be a list/,
  },
  {
    name: 'misspelt strategy value',
    text: MINIMAL.replace('providers:\n', 'providers:\n  strategy: fallbak\n'),
    code: 'invalid-value',
    message: /providers\.strategy is "fallbak"; expected one of single, fallback, loadbalance/,
    at: '7:13',
    hint: /did you mean "fallback"/,
  },
  {
    name: 'unknown provider',
    text: MINIMAL.replace('provider: openai', 'provider: open-ai'),
    code: 'invalid-value',
    message: /providers\.targets\[0\]\.provider is "open-ai"/,
    hint: /did you mean "openai"/,
  },
  {
    name: 'misspelt target key',
    text: MINIMAL.replace('provider: openai', 'provider: openai\n      modle: gpt-4o'),
    code: 'unknown-key',
    message: /unknown key "modle" in providers\.targets\[0\]/,
    at: '10:7',
    hint: /did you mean "model"/,
  },
  {
    name: 'no targets',
    text: MINIMAL.replace(/  targets:[\s\S]*$/, '  targets: []\n'),
    code: 'invalid-value',
    message: /providers\.targets must be at least 1 item/,
  },
  {
    name: 'missing providers',
    text: 'pack:\n  name: x\n  version: "1"\npolicies:\n  chain: []\n',
    code: 'missing-key',
    message: /missing required key providers/,
  },
  {
    name: 'duplicate target id',
    text: MINIMAL + '    - id: openai\n      provider: anthropic\n',
    code: 'duplicate-target-id',
    message: /target id "openai" is already used by providers\.targets\[0\]/,
    at: '10:7',
  },
  {
    name: 'azure without base_url',
    text: MINIMAL.replace('provider: openai', 'provider: azure-openai'),
    code: 'missing-base-url',
    message: /target "openai" \(provider azure-openai\) needs base_url/,
    hint: /api-version/,
  },
  {
    name: 'secret_key_ref as a string',
    text: MINIMAL.replace('provider: openai', 'provider: openai\n      secret_key_ref: OPENAI_API_KEY'),
    code: 'invalid-type',
    message: /providers\.targets\[0\]\.secret_key_ref must be a mapping, not string/,
  },
  {
    name: 'secret_key_ref with an unsupported store',
    text: MINIMAL.replace('provider: openai', 'provider: openai\n      secret_key_ref:\n        store: vault'),
    code: 'unknown-key',
    message: /unknown key "store" in providers\.targets\[0\]\.secret_key_ref/,
  },
  {
    name: 'base_url that is not a URL',
    text: MINIMAL.replace('provider: openai', 'provider: openai\n      base_url: localhost:8080'),
    code: 'invalid-value',
    message: /base_url/,
  },
  {
    name: 'negative timeout',
    text: MINIMAL.replace('provider: openai', 'provider: openai\n      timeout_ms: 0'),
    code: 'invalid-value',
    message: /timeout_ms must be greater than 0/,
  },
  {
    name: 'anthropic target with openai format',
    text: MINIMAL.replace('provider: openai', 'provider: anthropic\n      format: openai'),
    code: 'format-mismatch',
    message: /provider anthropic speaks format anthropic/,
  },
  {
    name: 'document is a list',
    text: '- pack\n- providers\n',
    code: 'not-a-mapping',
    message: /must be a mapping/,
  },
  {
    name: 'negative model price',
    text: MINIMAL + 'pricing:\n  models:\n    my-model:\n      input: -1\n      output: 2\n',
    code: 'invalid-value',
    message: /^pricing\.models\.my-model\.input must be at least 0$/,
    at: '13:14',
  },
  {
    name: 'misspelt model price field',
    text: MINIMAL + 'pricing:\n  models:\n    gpt-4o:\n      input: 2.5\n      output: 10\n      cached_imput: 1.25\n',
    code: 'unknown-key',
    message: /^unknown key "cached_imput" in pricing\.models\.gpt-4o$/,
    at: '15:7',
    hint: /did you mean "cached_input"/,
  },
  {
    name: 'model price without output',
    text: MINIMAL + 'pricing:\n  models:\n    gpt-4o: {input: 2.5}\n',
    code: 'missing-key',
    message: /^missing required key pricing\.models\.gpt-4o\.output$/,
  },
  {
    name: 'budget with an unknown scope',
    text: MINIMAL + 'budgets:\n  - scope: user\n    limit_usd: 5\n    period: day\n    mode: hard\n',
    code: 'invalid-value',
    message: /^budgets\[0\]\.scope is "user"; expected one of developer, repository, team, key, global$/,
    at: '11:12',
  },
  {
    name: 'budget with an unknown period',
    text: MINIMAL + 'budgets:\n  - {scope: team, limit_usd: 5, period: year, mode: soft}\n',
    code: 'invalid-value',
    message: /^budgets\[0\]\.period is "year"; expected one of day, week, month$/,
    at: '11:41',
  },
  {
    name: 'budget limit that is not positive',
    text: MINIMAL + 'budgets:\n  - scope: global\n    limit_usd: -5\n    period: month\n    mode: soft\n',
    code: 'invalid-value',
    message: /^budgets\[0\]\.limit_usd must be greater than 0$/,
    at: '12:16',
  },
  {
    name: 'budget limit written as a string',
    text: MINIMAL + 'budgets:\n  - scope: global\n    limit_usd: "$5"\n    period: month\n    mode: soft\n',
    code: 'invalid-type',
    message: /^budgets\[0\]\.limit_usd must be a number, not string "\$5"$/,
    at: '12:16',
  },
  {
    name: 'alert_at fraction above 1',
    text: MINIMAL + 'budgets:\n  - scope: global\n    limit_usd: 100\n    period: month\n    mode: soft\n    alert_at: [0.5, 1.5]\n',
    code: 'invalid-value',
    message: /^budgets\[0\]\.alert_at\[1\] must be at most 1$/,
    at: '15:21',
  },
  {
    name: 'alert_at fraction of 0',
    text: MINIMAL + 'budgets:\n  - scope: global\n    limit_usd: 100\n    period: month\n    mode: soft\n    alert_at: [0, 0.5]\n',
    code: 'invalid-value',
    message: /^budgets\[0\]\.alert_at\[0\] must be greater than 0$/,
    at: '15:16',
  },
  {
    name: 'match on a global budget',
    text: MINIMAL + 'budgets:\n  - scope: global\n    match: alice\n    limit_usd: 5\n    period: week\n    mode: hard\n',
    code: 'invalid-value',
    message: /^budgets\[0\]\.match must not be set when scope is global$/,
    at: '12:12',
  },
  {
    name: 'two budgets with the same scope, match, period and mode',
    text: MINIMAL + 'budgets:\n  - {scope: developer, limit_usd: 5, period: day, mode: hard}\n  - {scope: developer, limit_usd: 9, period: day, mode: hard}\n',
    code: 'invalid-value',
    message: /^budgets\[1\] repeats entry \[0\] \(same scope, match, period and mode\)$/,
    at: '12:5',
  },
  {
    name: 'budgets as a mapping',
    text: MINIMAL + 'budgets:\n  scope: developer\n',
    code: 'invalid-type',
    message: /^budgets must be a list, not a mapping$/,
  },
  {
    name: 'rate limit with none of rpm, tpm, max_parallel',
    text: MINIMAL + 'rate_limits:\n  - scope: developer\n    match: alice\n',
    code: 'invalid-value',
    message: /^rate_limits\[0\] needs at least one of rpm, tpm or max_parallel$/,
    at: '11:5',
  },
  {
    name: 'misspelt rate limit key',
    text: MINIMAL + 'rate_limits:\n  - scope: developer\n    tmp: 1000\n',
    code: 'unknown-key',
    message: /^unknown key "tmp" in rate_limits\[0\]$/,
    at: '12:5',
    hint: /did you mean "tpm"\?/,
  },
  {
    name: 'rpm of 0',
    text: MINIMAL + 'rate_limits:\n  - scope: key\n    rpm: 0\n',
    code: 'invalid-value',
    message: /^rate_limits\[0\]\.rpm must be greater than 0$/,
    at: '12:10',
  },
  {
    name: 'two rate limits for the same scope and match',
    text: MINIMAL + 'rate_limits:\n  - scope: developer\n    rpm: 10\n  - scope: developer\n    tpm: 1000\n',
    code: 'invalid-value',
    message: /^rate_limits\[1\] repeats entry \[0\] \(same scope and match; put rpm, tpm and max_parallel in one entry\)$/,
    at: '13:5',
  },
];

describe('kt policy lint: invalid configs', () => {
  it('has at least 15 cases', () => expect(INVALID.length).toBeGreaterThanOrEqual(15));

  for (const c of INVALID) {
    it(c.name, async () => {
      const { diagnostics, ok, files } = await lintText(c.text);
      expect(ok).toBe(false);
      const d = diagnostics.find((x) => x.code === c.code && c.message.test(x.message));
      expect(d, diagnostics.map(formatDiagnostic).join('\n')).toBeDefined();
      expect(d!.severity).toBe('error');
      expect(d!.file).toBe(files[0]);
      if (c.at) expect(`${d!.line}:${d!.column}`).toBe(c.at);
      if (c.hint) expect(d!.hint).toMatch(c.hint);
    });
  }

  it('reports every error in one run, not only the first', async () => {
    const text = MINIMAL.replace('  version: 1.0.0', '  version: 1.0.0\n  enabeld: true').replace('provider: openai', 'provider: opnai\n      modle: x');
    const { diagnostics } = await lintText(text);
    expect(diagnostics.filter((d) => d.severity === 'error').map((d) => d.code).sort()).toEqual(['invalid-value', 'unknown-key', 'unknown-key']);
  });
});

describe('kt policy lint: warnings', () => {
  it('accepts a minimal config but warns that the chain is empty', async () => {
    const { diagnostics, ok } = await lintText(MINIMAL);
    expect(ok).toBe(true);
    expect(diagnostics.map((d) => [d.severity, d.code])).toEqual([['warning', 'empty-chain']]);
  });

  it('warns when pack.enabled is false', async () => {
    const { diagnostics, ok } = await lintText(MINIMAL.replace('  version: 1.0.0', '  version: 1.0.0\n  enabled: false'));
    expect(ok).toBe(true);
    expect(diagnostics.find((d) => d.code === 'pack-disabled')?.message).toMatch(/without applying any policy/);
  });

  it('warns about a target that no route can reach', async () => {
    const text = MINIMAL.replace('provider: openai', 'provider: openai\n      model: gpt-4o') + '    - id: openai-2\n      provider: openai\n      model: gpt-4o\n';
    const { diagnostics, ok } = await lintText(text);
    expect(ok).toBe(true);
    const d = diagnostics.find((x) => x.code === 'unreachable-target');
    expect(d?.message).toMatch(/target "openai-2" can never be reached/);
    expect(d?.line).toBe(11);
  });

  it('warns about a zero-weight target under loadbalance', async () => {
    const text = MINIMAL.replace('providers:\n', 'providers:\n  strategy: loadbalance\n') + '    - id: b\n      provider: openai\n      weight: 0\n';
    const { diagnostics } = await lintText(text);
    expect(diagnostics.find((x) => x.code === 'unreachable-target')?.message).toMatch(/weight is 0/);
  });

  it('treats an empty policy block value as "defaults" rather than an error', async () => {
    const { diagnostics, ok } = await lintText(MINIMAL.replace('chain: []', 'chain: [pii-detector]').replace('providers:', 'policy:\n  pii-detector:\nproviders:'));
    expect(ok).toBe(true);
    expect(diagnostics).toEqual([]);
  });

  it('suggests the right kind for a misspelt one, and accepts the brief\'s code-sanitation alias', async () => {
    const typo = await lintText(MINIMAL.replace('chain: []', 'chain: [pii-detectr]'));
    expect(typo.diagnostics[0]?.hint).toBe('did you mean "pii-detector"?');
    const alias = await lintText(MINIMAL.replace('chain: []', 'chain: [code-sanitation]').replace('providers:', 'policy:\n  code-sanitation:\n    block_on_match: true\nproviders:'));
    expect(alias.ok).toBe(true);
    expect(alias.diagnostics).toEqual([]);
  });

  it('validates policy blocks with the kind\'s own schema: unknown fields, bad enums, bad regexes', async () => {
    const text = MINIMAL.replace('chain: []', 'chain: [pii-detector, dlp-filter]').replace(
      'providers:',
      'policy:\n  pii-detector:\n    acton: redact\n    redaction:\n      marker_format: stars\n  dlp-filter:\n    detect_patterns:\n      - {name: ticket, pattern: "JIRA-(\\\\d+"}\nproviders:',
    );
    const { diagnostics, ok } = await lintText(text);
    expect(ok).toBe(false);
    const msgs = diagnostics.map((d) => `${d.line}:${d.column} ${d.message} ${d.hint ?? ''}`);
    expect(msgs).toContainEqual(expect.stringMatching(/^8:5 unknown key "acton" in policy\.pii-detector did you mean "action"\?/));
    expect(msgs).toContainEqual(expect.stringMatching(/^10:22 policy\.pii-detector\.redaction\.marker_format is "stars"; expected one of label, hash, mask/));
    expect(msgs).toContainEqual(expect.stringMatching(/policy\.dlp-filter\.detect_patterns\[0\]\.pattern is not a valid JavaScript regular expression/));
  });

  it('accepts budgets and rate limits, with alert_at defaulting to [0.5, 0.8] and sorted when given', async () => {
    const text =
      MINIMAL +
      'budgets:\n  - {scope: developer, limit_usd: 5, period: day, mode: hard}\n  - {scope: team, match: core, limit_usd: 500, period: month, mode: soft, alert_at: [0.9, 0.25, 0.9]}\n' +
      'rate_limits:\n  - {scope: global, rpm: 600, max_parallel: 20}\n  - {scope: key, tpm: 200000}\n';
    const { diagnostics, ok, files } = await lintText(text);
    expect(ok, diagnostics.map(formatDiagnostic).join('\n')).toBe(true);
    const { loadConfig } = await import('../../src/config/index.js');
    const { loaded } = await loadConfig(files);
    expect(loaded!.config.budgets.map((b) => b.alert_at)).toEqual([
      [0.5, 0.8],
      [0.25, 0.9],
    ]);
    expect(loaded!.config.rate_limits).toEqual([
      { scope: 'global', rpm: 600, max_parallel: 20 },
      { scope: 'key', tpm: 200000 },
    ]);
  });

  it('warns about a policy block whose kind is not in the chain', async () => {
    const { diagnostics, ok } = await lintText(MINIMAL.replace('chain: []', 'chain: [pii-detector]').replace('providers:', 'policy:\n  dlp-filter: {}\nproviders:'));
    expect(ok).toBe(true);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([['policy-not-in-chain', 7]]);
  });
});

describe('layered configs (repeated --policy-config)', () => {
  const base = `pack:
  name: base
  version: 1.0.0
  description: team defaults
policies:
  chain: []
providers:
  strategy: fallback
  targets:
    - id: primary
      provider: openai
      model: gpt-4o
      headers:
        x-team: core
    - id: secondary
      provider: openai
      model: gpt-4o
`;

  it('merges maps key by key and replaces lists', async () => {
    const overlay = `pack:
  version: 2.0.0
providers:
  targets:
    - id: only
      provider: anthropic
      model: claude-sonnet-4-20250514
`;
    const { diagnostics, ok, files } = await lintText(base, overlay);
    expect(ok, diagnostics.map(formatDiagnostic).join('\n')).toBe(true);
    const { loadConfig } = await import('../../src/config/index.js');
    const { loaded } = await loadConfig(files);
    expect(loaded!.config.pack).toEqual({ name: 'base', version: '2.0.0', description: 'team defaults', enabled: true });
    expect(loaded!.config.providers.strategy).toBe('fallback');
    expect(loaded!.config.providers.targets.map((t) => t.id)).toEqual(['only']);
  });

  it('points an error at the layer that introduced it', async () => {
    const overlay = `providers:\n  strategy: roundrobin\n`;
    const { diagnostics, files } = await lintText(base, overlay);
    const d = diagnostics.find((x) => x.code === 'invalid-value');
    expect(d?.file).toBe(files[1]);
    expect(`${d?.line}:${d?.column}`).toBe('2:13');
  });

  it('lets a later layer turn the pack off with a scalar', async () => {
    const { diagnostics } = await lintText(base, 'pack:\n  enabled: false\n');
    expect(diagnostics.map((d) => d.code)).toContain('pack-disabled');
  });
});
