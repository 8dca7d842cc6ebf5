import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import type { DecisionEvent } from '../../src/audit/event.js';
import type { StoredEvent } from '../../src/audit/store.js';
import {
  CSV_COLUMNS,
  clockTime,
  colorDiff,
  csvCell,
  csvHeader,
  csvRow,
  eventJson,
  formatDetailed,
  formatEventDetail,
  formatTable,
  formatTableHeader,
  formatTableRow,
  ndjsonLine,
  redactionSummary,
  shortId,
  shouldColor,
} from '../../src/cli/format/events.js';
import { makeEvent, makePolicyResult, type EventOverrides } from '../helpers/events.js';

const AT = Date.parse('2026-11-27T09:08:07.654Z');
const PLAIN = { color: false, utc: true };
const COLOR = { color: true, utc: true };
const ANSI = /\x1b\[/;

function stored(overrides: EventOverrides = {}, seq = 1): StoredEvent {
  const event = makeEvent(overrides, AT);
  return { pos: seq, chain: 'gw-test', seq, id: event.id, body: canonicalJson(event), prev_hash: '0'.repeat(64), hash: 'ab'.repeat(32), event };
}

const DIFF = '--- a/src/app.ts\n+++ b/src/app.ts\n@@ -1,2 +1,2 @@\n context\n-const a = 1;\n+const a = 2;\n';

function rich(): StoredEvent {
  return stored({
    verdict: 'redact',
    identity: { developer: 'alice', repository: 'acme/api', client: 'aider' },
    policies: [
      makePolicyResult('pii-detector', 'redact', { duration_us: 1530, findings: [{ type: 'EMAIL', rule: 'email-basic', source: 'user', count: 2 }] }),
      makePolicyResult('dlp-filter', 'allow'),
      makePolicyResult('quality-scorer', 'flag', { phase: 'output', score: 0.42, reasons: ['no-tests', 'huge-diff'] }),
    ],
    redactions: [
      {
        count: 2,
        locations: [
          { path: 'messages[0].content', start: 4, end: 21, value_hash: 'h1' },
          { path: 'messages[0].content', start: 30, end: 45, value_hash: 'h2' },
        ],
        phase: 'input',
        rule: 'email-basic',
        source: 'user',
        type: 'EMAIL',
      },
    ],
    cost: { currency: 'USD', input: 0.001, output: 0.0023, total: 0.0033, priced: true },
    capture: {
      mode: 'redacted',
      request: [
        { source: 'system', turn: 0, text: 'You are a coding assistant.' },
        { source: 'user', turn: 1, text: 'mail [EMAIL] about it' },
      ],
      completion: { text: 'Done.', tool_calls: [{ name: 'edit_file', input: { path: 'src/app.ts' } }], finish_reason: 'stop' },
      truncated: false,
    },
    proposed_edits: [{ file: 'src/app.ts', format: 'unified-diff', added: 1, removed: 1, diff: DIFF }],
  });
}

describe('table', () => {
  it('has one header and one aligned row per event, with the columns the brief lists', () => {
    const header = formatTableHeader(PLAIN);
    for (const col of ['TIME', 'ID', 'VERDICT', 'ROUTE', 'MODEL', 'DEVELOPER', 'REPOSITORY', 'CLIENT', 'HTTP', 'MS', 'COST', 'POLICIES']) expect(header).toContain(col);
    const e = rich();
    const row = formatTableRow(e, PLAIN);
    expect(row.startsWith('09:08:07.654  ')).toBe(true);
    expect(row).toContain(shortId(e.id));
    expect(row).toMatch(/redact +chat +gpt-4o-mini +alice +acme\/api +aider +200 +120 +\$0\.0033 +pii-detector:redact,quality-scorer:flag$/);
    // Only policies that acted are listed: dlp-filter allowed.
    expect(row).not.toContain('dlp-filter');
    expect(row.indexOf('redact')).toBe(header.indexOf('VERDICT'));
    expect(formatTable([e, stored({}, 2)], PLAIN).split('\n')).toHaveLength(3);
  });

  it('shows missing values as dashes, cuts long ones with an ellipsis and keeps the columns aligned', () => {
    const long = stored({ identity: { developer: null, repository: 'a-very-long-organisation/a-very-long-repository' } });
    const row = formatTableRow(long, PLAIN);
    expect(row).toMatch(/ - +a-very-long-org… /);
    const header = formatTableHeader(PLAIN);
    expect(row.indexOf('curl')).toBe(header.indexOf('CLIENT'));
  });

  it('marks a policy that failed and leaves cost empty when not priced', () => {
    const e = stored({ policies: [makePolicyResult('safety-filter', 'block', { error: 'TimeoutError' })] });
    expect(formatTableRow(e, PLAIN)).toMatch(/ 120  +safety-filter:block\(error\)$/);
  });

  it('is free of escape codes without colour, and colours the verdict (after padding) with it', () => {
    const blocked = stored({ verdict: 'block', status: 409 });
    expect(formatTable([blocked, rich()], PLAIN)).not.toMatch(ANSI);
    const row = formatTableRow(blocked, COLOR);
    expect(row).toContain('\x1b[1;31mblock   \x1b[0m');
    expect(row).toContain('\x1b[31m409 \x1b[0m');
    expect(formatTableRow(rich(), COLOR)).toContain('\x1b[36mredact  \x1b[0m');
  });

  it('prints local clock time unless asked for UTC', () => {
    const local = new Date(AT);
    const expected = `${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}:07.654`;
    expect(clockTime('2026-11-27T09:08:07.654321Z')).toBe(expected);
    expect(clockTime('2026-11-27T09:08:07.654321Z', true)).toBe('09:08:07.654');
  });
});

describe('detailed', () => {
  it('adds the full id, one trace line per policy with findings and score, and the redaction summary', () => {
    const e = rich();
    const lines = formatDetailed(e, PLAIN).split('\n');
    expect(lines[0]).toBe(formatTableRow(e, PLAIN));
    expect(lines[1]).toContain(e.id);
    expect(lines[1]).toContain('chain gw-test#1');
    expect(lines).toContainEqual(expect.stringMatching(/^ +input +pii-detector +redact +1\.53ms +EMAIL\/email-basic@user ×2$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ +input +dlp-filter +allow +50µs$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ +output +quality-scorer +flag +50µs +score 0\.42 \(no-tests, huge-diff\)$/));
    expect(lines[lines.length - 1]).toBe('    redactions: 2 (EMAIL ×2)');
    expect(formatDetailed(e, PLAIN)).not.toMatch(ANSI);
  });

  it('summarises redactions by type, never values', () => {
    expect(redactionSummary(stored().event)).toBe('none');
    expect(redactionSummary(rich().event)).toBe('2 (EMAIL ×2)');
    // A group counts every value, listed or not.
    const many = { ...rich().event, redactions: [{ ...rich().event.redactions[0]!, count: 30_000 }] };
    expect(redactionSummary(many)).toBe('30000 (EMAIL ×30000)');
  });

  it('reads events recorded before redactions were grouped (one entry per value)', () => {
    const legacy = [
      { type: 'EMAIL', rule: 'email-basic', source: 'user', location: { phase: 'input', path: 'messages[0].content', start: 4, end: 21 }, value_hash: 'h1' },
      { type: 'SECRET', rule: 'aws', source: 'tool_result', location: { phase: 'input', path: 'messages[2].content', start: 0, end: 20 }, value_hash: 'h2' },
      { type: 'EMAIL', rule: 'email-basic', source: 'user', location: { phase: 'input', path: 'messages[0].content', start: 30, end: 45 }, value_hash: 'h3' },
    ] as unknown as DecisionEvent['redactions'];
    const old = { ...rich(), event: { ...rich().event, redactions: legacy } };
    expect(redactionSummary(old.event)).toBe('3 (EMAIL ×2, SECRET ×1)');
    const text = formatEventDetail(old, PLAIN);
    expect(text).toMatch(/EMAIL +email-basic +user +input +×2\n +messages\[0\]\.content \[4, 21\) +hash h1\n +messages\[0\]\.content \[30, 45\) +hash h3/);
    expect(csvRow(old)).toContain(',3,');
  });
});

describe('show', () => {
  it('lays out the trace, the captured conversation, the completion and the edits', () => {
    const e = rich();
    const text = formatEventDetail(e, PLAIN);
    expect(text).not.toMatch(ANSI);
    expect(text).toContain(`event ${e.id}`);
    expect(text).toContain(`chain       gw-test seq 1, hash ${'ab'.repeat(32)}`);
    expect(text).toContain('policies (3)');
    expect(text).toContain('redactions: 2 (EMAIL ×2)');
    expect(text).toMatch(/EMAIL +email-basic +user +input +×2\n +messages\[0\]\.content \[4, 21\) +hash h1\n +messages\[0\]\.content \[30, 45\) +hash h2/);
    expect(text).toContain('  [system, turn 0]\n    You are a coding assistant.\n  [user, turn 1]\n    mail [EMAIL] about it');
    expect(text).toContain('completion\n  Done.\n  [tool call edit_file] {"path":"src/app.ts"}');
    expect(text).toContain('proposed edits (1)\n  src/app.ts  unified-diff  +1 -1\n    --- a/src/app.ts\n    +++ b/src/app.ts\n    @@ -1,2 +1,2 @@\n     context\n    -const a = 1;\n    +const a = 2;\n');
    expect(text).toContain('cost        $0.0033 (input $0.0010, output $0.0023)');
  });

  it('colours the diff when asked', () => {
    const text = formatEventDetail(rich(), COLOR);
    expect(text).toContain('\x1b[32m+const a = 2;\x1b[0m');
    expect(text).toContain('\x1b[31m-const a = 1;\x1b[0m');
    expect(text).toContain('\x1b[36m@@ -1,2 +1,2 @@\x1b[0m');
  });

  it('says what is missing: no capture, a diff not captured, an error', () => {
    const e = stored({
      verdict: 'block',
      status: 502,
      reason_code: 'upstream_error',
      error: { type: 'upstream_error', code: 'upstream_unreachable', message: 'connect ECONNREFUSED' },
      proposed_edits: [{ file: null, format: 'search-replace', added: 3, removed: 0, diff: '' }],
    });
    const text = formatEventDetail(e, PLAIN);
    expect(text).toContain('not captured');
    expect(text).toContain('(diff not captured');
    expect(text).toContain('error       upstream_error/upstream_unreachable: connect ECONNREFUSED');
    expect(text).toContain('block  (upstream_error)');
  });

  it('shows a whole captured body as a conversation', () => {
    const e = stored({
      capture: {
        mode: 'redacted',
        request: { system: 'be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'hello [EMAIL]' }] }] } as unknown as null,
        completion: null,
        truncated: true,
      },
    });
    const text = formatEventDetail(e, PLAIN);
    expect(text).toContain('request (redacted, truncated)\n  [system]\n    be brief\n  [user]\n    hello [EMAIL]');
    expect(text).toContain('none (no reply reached the client)');
  });
});

describe('show: reversible redaction', () => {
  it('lists what was issued, restored and withheld, by kind and place, and placeholders the request never issued', () => {
    const e = stored({
      restores: {
        issued: [
          { count: 1, type: 'EMAIL' },
          { count: 1, type: 'SECRET' },
        ],
        restored: [{ count: 2, type: 'EMAIL', where: 'text_edit' }],
        unknown: 1,
        withheld: [{ count: 1, type: 'SECRET', where: 'command_tool' }],
      },
    });
    const text = formatEventDetail(e, PLAIN);
    expect(text).toContain('reversible redaction: 2 values as placeholders, 2 restored, 1 withheld');
    expect(text).toContain('issued    EMAIL ×1, SECRET ×1');
    expect(text).toMatch(/restored +EMAIL +text_edit +×2/);
    expect(text).toMatch(/withheld +SECRET +command_tool +×1/);
    expect(text).toContain('1 placeholder-shaped string(s) this request never issued');
    expect(formatEventDetail(stored(), PLAIN)).not.toContain('reversible redaction');
  });
});

describe('colorDiff', () => {
  it('returns the diff unchanged without colour', () => {
    expect(colorDiff(DIFF, false)).toBe(DIFF);
  });

  it('colours additions green, removals red, hunks cyan and headers bold, leaving context alone', () => {
    const lines = colorDiff(DIFF, true).split('\n');
    expect(lines[0]).toBe('\x1b[1m--- a/src/app.ts\x1b[0m');
    expect(lines[1]).toBe('\x1b[1m+++ b/src/app.ts\x1b[0m');
    expect(lines[2]).toBe('\x1b[36m@@ -1,2 +1,2 @@\x1b[0m');
    expect(lines[3]).toBe(' context');
    expect(lines[4]).toBe('\x1b[31m-const a = 1;\x1b[0m');
    expect(lines[5]).toBe('\x1b[32m+const a = 2;\x1b[0m');
  });
});

describe('shouldColor', () => {
  it('colours a TTY, never with NO_COLOR, and FORCE_COLOR turns it on for pipes', () => {
    expect(shouldColor(true, {})).toBe(true);
    expect(shouldColor(false, {})).toBe(false);
    expect(shouldColor(undefined, {})).toBe(false);
    expect(shouldColor(true, { NO_COLOR: '1' })).toBe(false);
    expect(shouldColor(true, { NO_COLOR: '' })).toBe(true);
    expect(shouldColor(false, { FORCE_COLOR: '1' })).toBe(true);
    expect(shouldColor(false, { FORCE_COLOR: '0' })).toBe(false);
    expect(shouldColor(false, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
  });
});

describe('csv', () => {
  it('quotes commas, quotes and newlines (RFC 4180)', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(undefined)).toBe('');
    expect(csvCell(0)).toBe('0');
    expect(csvCell(false)).toBe('false');
  });

  it('defuses cells a spreadsheet would run as formulas', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(csvCell('+1+1')).toBe("'+1+1");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('a=b')).toBe('a=b');
  });

  it('writes the brief columns in order, one CRLF line per event', () => {
    expect(csvHeader()).toBe(`${CSV_COLUMNS.join(',')}\r\n`);
    expect(CSV_COLUMNS).toEqual([
      'id', 'ts', 'request_id', 'gateway_id', 'route', 'stream', 'developer', 'repository', 'team', 'client', 'model_requested', 'target_id',
      'provider', 'model', 'verdict', 'reason_code', 'status', 'policies', 'finding_types', 'redactions', 'input_tokens', 'output_tokens',
      'cost_total', 'total_ms', 'upstream_ms',
    ]);
    const e = rich();
    const row = csvRow(e);
    expect(row.endsWith('\r\n')).toBe(true);
    const cells = row.slice(0, -2).split(',');
    expect(cells).toHaveLength(CSV_COLUMNS.length);
    const byName = Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, cells[i]]));
    expect(byName).toMatchObject({
      id: e.id,
      developer: 'alice',
      client: 'aider',
      verdict: 'redact',
      reason_code: '',
      status: '200',
      policies: 'pii-detector:redact;dlp-filter:allow;quality-scorer:flag',
      finding_types: 'EMAIL',
      redactions: '2',
      input_tokens: '12',
      cost_total: '0.0033',
      total_ms: '120',
    });
  });

  it('guards identity fields that arrive from request headers', () => {
    const row = csvRow(stored({ identity: { developer: '=cmd|"/c calc"!A0', repository: '@evil' } }));
    expect(row).toContain(`,"'=cmd|""/c calc""!A0",'@evil,`);
  });
});

describe('json', () => {
  it('is the event itself plus _chain, one line each for NDJSON', () => {
    const e = rich();
    const j = eventJson(e);
    const { _chain, ...event } = j;
    expect(event).toEqual(e.event as DecisionEvent);
    expect(_chain).toEqual({ chain: 'gw-test', seq: 1, hash: 'ab'.repeat(32) });
    const line = ndjsonLine(e);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.trimEnd()).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(j);
  });
});
