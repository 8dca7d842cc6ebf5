import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/index.js';
import { lintText, MINIMAL } from '../helpers/config.js';

const AUDITED = MINIMAL.replace('chain: []', 'chain: [audit-logger]');
const withExport = (sinks: string, base = AUDITED) => `${base}audit:\n  export:\n${sinks}`;

async function errors(text: string): Promise<string[]> {
  const { diagnostics } = await lintText(text);
  return diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.code}: ${formatDiagnostic(d)}`);
}

describe('audit.export and telemetry config', () => {
  it('accepts the three sink types and traces', async () => {
    const text = withExport(
      [
        '    - {name: splunk, type: https, url: "https://siem.example/ingest", auth_env: SIEM_TOKEN, ca_file: /etc/ca.pem}',
        '    - {name: rsyslog, type: syslog, address: "tls://logs.example:6514", facility: 10}',
        '    - {name: otel, type: otlp, url: "http://collector:4318/v1/logs", headers_env: OTLP_HEADERS}',
        '',
      ].join('\n'),
    ) + 'telemetry:\n  traces: {enabled: true, url: "http://collector:4318/v1/traces", sample_ratio: 0.5}\n';
    expect(await errors(text)).toEqual([]);
  });

  const INVALID: Array<[string, string, RegExp]> = [
    ['an unknown sink type', '    - {name: a, type: kafka, url: "http://x"}\n', /audit\.export\[0\]\.type/],
    ['a syslog address without a scheme', '    - {name: a, type: syslog, address: "logs:514"}\n', /must be tcp:\/\/HOST:PORT, tls:\/\/HOST:PORT or udp:\/\/HOST:PORT/],
    ['two sinks with one name', '    - {name: a, type: syslog, address: "tcp://l:514"}\n    - {name: a, type: syslog, address: "udp://l:514"}\n', /audit\.export\[1\]\.name.*repeats the name of entry \[0\]/],
    ['a secret written in place of its variable name', '    - {name: a, type: https, url: "https://x", auth_env: "Bearer abc"}\n', /auth_env must be an environment variable name/],
    ['a misspelt key', '    - {name: a, type: https, url: "https://x", auth_envv: X}\n', /unknown key "auth_envv"/],
    ['a sink name with spaces', '    - {name: "my sink", type: https, url: "https://x"}\n', /name must be lowercase letters/],
  ];
  for (const [name, sinks, message] of INVALID) {
    it(`reports ${name}`, async () => {
      const found = await errors(withExport(sinks));
      expect(found.join('\n')).toMatch(message);
    });
  }

  it('refuses sinks when no events are recorded (no audit-logger in the chain)', async () => {
    const found = await errors(withExport('    - {name: a, type: https, url: "https://x"}\n', MINIMAL));
    expect(found.join('\n')).toMatch(/export-without-audit: .*audit\.export is set, but no decision events are recorded/);
  });

  it('reports a traces sample ratio out of range', async () => {
    expect((await errors(`${MINIMAL}telemetry:\n  traces: {enabled: true, sample_ratio: 2}\n`)).join('\n')).toMatch(/telemetry\.traces\.sample_ratio/);
  });
});
