import { describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { statsReport, verifyEventReport, weekStartMs } from '../../src/server/console.js';
import { makeEvent, makePolicyResult } from '../helpers/events.js';

const priced = (total: number) => ({ currency: 'USD' as const, input: total, output: 0, total, priced: true });

describe('console read API over a store', () => {
  it('q searches the small columns, case-insensitively, with % and _ taken literally', async () => {
    const store = new SqliteEventStore(':memory:');
    await store.append('gw', [
      makeEvent({ identity: { developer: 'Alice', repository: 'acme/api_v2' } }),
      makeEvent({ identity: { developer: 'bob', repository: 'acme/apixv2' }, policies: [makePolicyResult('prompt-injection', 'block')], verdict: 'block' }),
    ]);
    const devs = async (q: string) => (await store.query({ q })).map((e) => e.event.identity.developer).sort();
    expect(await devs('alice')).toEqual(['Alice']);
    expect(await devs('api_v2')).toEqual(['Alice']); // _ is not a wildcard
    expect(await devs('%')).toEqual([]);
    expect(await devs('prompt-inj')).toEqual(['bob']);
    expect(await devs('ACME')).toEqual(['Alice', 'bob']);
    const [first] = await store.query({});
    expect((await store.query({ q: first!.id.toLowerCase() })).map((e) => e.id)).toEqual([first!.id]);
    await store.close();
  });

  it('stats: counts by verdict, rates, spend today and this week, top groups', async () => {
    const store = new SqliteEventStore(':memory:');
    const now = Date.parse('2026-11-27T12:00:00Z'); // a Friday
    expect(new Date(weekStartMs(now)).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    await store.append('gw', [
      makeEvent({ cost: priced(1), identity: { developer: 'alice' } }, now - 3_600_000),
      makeEvent({ cost: priced(2), verdict: 'block', identity: { developer: 'bob' } }, now - 3 * 86_400_000),
      makeEvent({ cost: priced(4), verdict: 'redact', identity: { developer: 'bob' } }, now - 10 * 86_400_000),
    ]);
    const s = await statsReport(store, { sinceMs: now - 30 * 86_400_000 }, now);
    expect(s.requests).toBe(3);
    expect(s.verdicts).toMatchObject({ allow: 1, block: 1, redact: 1 });
    expect(s.block_rate).toBeCloseTo(1 / 3);
    expect(s.spend).toMatchObject({ window_usd: 7, today_usd: 1, week_usd: 3 });
    expect(s.top_developers.map((r) => r.key)).toEqual(['bob', 'alice']);
    await store.close();
  });

  it('verify: genesis, linked and head; an edited neighbour breaks the link', async () => {
    const store = new SqliteEventStore(':memory:');
    const linked = await store.append('gw', [makeEvent(), makeEvent(), makeEvent()]);
    const mid = (await verifyEventReport(store, linked[1]!.id))!;
    expect(mid).toMatchObject({ status: 'linked', body_ok: true, prev: 'ok', next: 'ok', checkpoint: null });
    expect((await verifyEventReport(store, linked[0]!.id))!.prev).toBe('genesis');
    expect((await verifyEventReport(store, linked[2]!.id))!.next).toBe('head');
    expect(await verifyEventReport(store, 'evt_nope')).toBeNull();

    // Play the attacker: rewrite the next event's body (the triggers forbid it; lift them as an attacker would).
    store.raw.exec('DROP TRIGGER events_no_update');
    store.raw.prepare('UPDATE events SET body = replace(body, \'"allow"\', \'"block"\') WHERE id = ?').run(linked[2]!.id);
    const broken = (await verifyEventReport(store, linked[1]!.id))!;
    expect(broken.status).toBe('failed');
    expect(broken.next).toBe('broken');
    await store.close();
  });
});
