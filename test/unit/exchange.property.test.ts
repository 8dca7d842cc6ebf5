import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addMember, parseExchange, requestBytes } from '../../src/protocol/exchange.js';

describe('adding a member to a request', () => {
  it('splices it into the client bytes: the result parses to the body plus the member, the rest byte for byte', () => {
    const spaces = fc.stringMatching(/^[ \t\r\n]{0,3}$/);
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }), spaces, spaces, fc.jsonValue({ maxDepth: 2 }), (extra, before, inside, value) => {
        const body = { ...extra, model: 'gpt-4o', messages: [{ role: 'user', content: 'hé ✓' }] };
        delete (body as Record<string, unknown>).stream_options;
        const text = JSON.stringify(body, null, inside.length > 0 ? 1 : undefined);
        const raw = Buffer.from(`${before}{${inside}${text.slice(1)}`);
        const ex = parseExchange('chat', raw);
        addMember(ex, 'stream_options', value);
        const sent = requestBytes(ex, undefined);
        expect(JSON.parse(sent.toString('utf8'))).toEqual(JSON.parse(JSON.stringify({ ...body, stream_options: value })));
        // Only the member was added: the client's own bytes are all still there, in order.
        const member = `"stream_options":${JSON.stringify(value)},`;
        expect(sent.toString('utf8').replace(member, '')).toBe(raw.toString('utf8'));
      }),
      { numRuns: 300 },
    );
  });

  it('an empty object gets no trailing comma; a body already edited is serialized with the member', () => {
    const empty = parseExchange('responses', Buffer.from(' {  } '));
    addMember(empty, 'a', 1);
    expect(JSON.parse(requestBytes(empty, undefined).toString())).toEqual({ a: 1 });
    const edited = parseExchange('chat', Buffer.from('{"model":"m","messages":[]}'));
    edited.body.messages = [{ role: 'user', content: '[EMAIL]' }];
    edited.modified = true;
    addMember(edited, 'stream_options', { include_usage: true });
    expect(JSON.parse(requestBytes(edited, undefined).toString())).toEqual({ model: 'm', messages: [{ role: 'user', content: '[EMAIL]' }], stream_options: { include_usage: true } });
    expect(() => addMember(edited, 'model', 'x')).toThrow(/already has/);
  });
});
