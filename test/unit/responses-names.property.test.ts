import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildToolNames, NAME_LIMIT, type ToolName } from '../../src/protocol/translate/responses-names.js';

/** Names from a small alphabet so that joins, trims and fits collide often; some long, some outside the target's rule. */
const part = fc.oneof(
  fc.stringMatching(/^[a-b_]{0,6}$/),
  fc.stringMatching(/^[a-z_.\- ]{1,12}$/),
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.stringMatching(/^[a-z]{60,140}$/),
);
const tool: fc.Arbitrary<ToolName> = fc.oneof(
  part.map((name) => ({ name })),
  fc.record({ name: part, namespace: part }),
);

describe('tool-name mapping for targets without namespaces', () => {
  for (const target of ['chat', 'messages'] as const) {
    it(`${target}: every tool round-trips, no two tools share a name, made names fit the target, plain names are kept`, () => {
      fc.assert(
        fc.property(fc.array(tool, { maxLength: 25 }), fc.nat(), (tools, seed) => {
          // Plain tools named as another pair's join: the worst case for collisions.
          const pairs = tools.filter((t) => t.namespace !== undefined);
          const extra = pairs.length > 0 ? [{ name: `${pairs[seed % pairs.length]!.namespace!.replace(/_+$/, '')}__${pairs[seed % pairs.length]!.name.replace(/^_+/, '')}` }] : [];
          const all: ToolName[] = [...tools, ...extra];
          const names = buildToolNames(seed % 2 === 0 ? all : [...all].reverse(), target);
          const owners = new Map<string, string>();
          for (const t of all) {
            const flat = names.flat(t);
            const id = JSON.stringify([t.namespace ?? null, t.name]);
            expect(owners.get(flat) ?? id).toBe(id);
            owners.set(flat, id);
            expect(names.original(flat)).toEqual(t);
            if (t.namespace === undefined) expect(flat).toBe(t.name);
            else expect(flat).toMatch(new RegExp(`^[A-Za-z0-9_-]{1,${NAME_LIMIT[target]}}$`));
          }
        }),
        { numRuns: 400 },
      );
    });
  }

  it('the same request makes the same names (request and reply are translated apart)', () => {
    fc.assert(
      fc.property(fc.array(tool, { maxLength: 15 }), (tools) => {
        const a = buildToolNames(tools, 'chat');
        const b = buildToolNames(tools, 'chat');
        for (const t of tools) expect(a.flat(t)).toBe(b.flat(t));
      }),
    );
  });
});
