import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exportRecord } from '../../src/audit/export/record.js';
import { octetFrame, SD_ID, syslogMessage } from '../../src/audit/export/syslog-sink.js';
import { makeEvent } from '../helpers/events.js';
import { parseRfc5424 } from '../helpers/siem-receivers.js';

const OPTS = { facility: 13, appName: 'keeptrusts', hostname: 'gw1' };

/** Split a byte stream at the given cut points, as TCP may deliver it. */
function chunks(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** The receiver's deframing (RFC 6587 octet counting), fed chunk by chunk. */
function deframe(parts: Buffer[]): string[] {
  let buf = Buffer.alloc(0);
  const out: string[] = [];
  for (const p of parts) {
    buf = Buffer.concat([buf, p]);
    for (;;) {
      const sp = buf.indexOf(0x20);
      if (sp < 0) break;
      const len = Number(buf.subarray(0, sp).toString('ascii'));
      if (buf.length < sp + 1 + len) break;
      out.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
      buf = buf.subarray(sp + 1 + len);
    }
  }
  expect(buf.length).toBe(0);
  return out;
}

describe('syslog messages and framing', () => {
  it('any developer, repository and model survive structured-data escaping, and any cut of the stream deframes to the same messages', () => {
    const text = fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', ']', '[', '=', 'é', '😀', '\n'), maxLength: 30 });
    fc.assert(
      fc.property(fc.array(fc.record({ developer: text, repository: text, model: text }), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (rows, cuts) => {
        const records = rows.map((r, i) =>
          exportRecord({ chain: 'gw', seq: i + 1, hash: 'h', event: makeEvent({ identity: { developer: r.developer, repository: r.repository }, model_requested: r.model }) }),
        );
        const stream = Buffer.concat(records.map((r) => octetFrame(syslogMessage(r, OPTS, '42'))));
        const messages = deframe(chunks(stream, cuts)).map(parseRfc5424);
        expect(messages).toHaveLength(rows.length);
        messages.forEach((m, i) => {
          const sd = m.sd[SD_ID]!;
          // Empty values are left out of the element rather than sent as "".
          expect(sd.developer ?? '').toBe(rows[i]!.developer);
          expect(sd.repository ?? '').toBe(rows[i]!.repository);
          expect(sd.model ?? '').toBe(rows[i]!.model);
          expect(sd.seq).toBe(String(i + 1));
          expect(JSON.parse(m.msg)).toEqual(JSON.parse(JSON.stringify(records[i])));
          expect(m).toMatchObject({ version: 1, hostname: 'gw1', appName: 'keeptrusts', procId: '42', msgId: 'decision', pri: 13 * 8 + 6 });
        });
      }),
      { numRuns: 200 },
    );
  });
});

describe('export records', () => {
  it('leave out captured text and diffs, whatever they hold, and keep the rest of the event', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8, maxLength: 40 }).filter((s) => s.trim().length >= 8), (secret) => {
        const marker = `SECRET<${secret}>`;
        const event = makeEvent({
          capture: { mode: 'redacted', request: [{ source: 'user', turn: 0, text: marker }], completion: { text: marker, tool_calls: [{ name: 'write', input: { body: marker } }], finish_reason: 'stop' }, truncated: false },
          proposed_edits: [{ file: 'src/a.ts', format: 'search-replace', added: 1, removed: 2, diff: `+${marker}` }],
        });
        const record = exportRecord({ chain: 'gw', seq: 7, hash: 'abc', event });
        const json = JSON.stringify(record);
        expect(json).not.toContain(marker);
        expect(record.event.capture).toEqual({ mode: 'redacted', stored: true });
        expect(record.event.proposed_edits).toEqual([{ file: 'src/a.ts', format: 'search-replace', added: 1, removed: 2 }]);
        expect(record).toMatchObject({ event_id: event.id, chain: 'gw', seq: 7, hash: 'abc' });
        const { capture: _c, proposed_edits: _p, ...rest } = event;
        expect(record.event).toMatchObject(rest);
      }),
      { numRuns: 100 },
    );
  });
});
