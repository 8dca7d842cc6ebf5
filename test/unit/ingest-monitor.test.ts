import { describe, expect, it } from 'vitest';
import { IngestMonitor } from '../../src/audit/ingest-monitor.js';

function clocked(stallAfterMs = 10_000) {
  let now = 1_000_000;
  const m = new IngestMonitor(stallAfterMs, () => now);
  return { m, tick: (ms: number) => (now += ms) };
}

const round = (segment: number, offset: number, pendingBytes = 0) => ({ position: { segment, offset }, pendingBytes, rejected: 0, recovered: 0 });

describe('ingest monitor', () => {
  it('an ingester that keeps up is never stalled, however long it runs', () => {
    const { m, tick } = clocked();
    for (let i = 1; i <= 100; i++) {
      m.journaled({ segment: 1, offset: i * 100 }, 2);
      tick(400);
      m.progressed(round(1, i * 100));
      expect(m.transition()).toBeUndefined();
    }
    expect(m.status()).toEqual({ state: 'ok', lag: { records: 0, bytes: 0, seconds: 0 }, last_error: null, rejected: 0, recovered: 0 });
  });

  it('rounds that report without moving past a record (the wedge of issue 16) become a stall once, and a resume once', () => {
    const { m, tick } = clocked();
    m.progressed(round(3, 0));
    m.journaled({ segment: 3, offset: 5_039_076 }, 1);
    m.journaled({ segment: 3, offset: 5_040_000 }, 1);
    const changes: Array<string | undefined> = [];
    for (let i = 0; i < 30; i++) {
      tick(1000);
      m.progressed(round(3, 0, 5_040_000));
      changes.push(m.transition());
    }
    expect(changes.filter(Boolean)).toEqual(['stalled']);
    expect(m.status()).toMatchObject({ state: 'stalled', lag: { records: 2, bytes: 5_040_000, seconds: 30 } });
    m.progressed(round(3, 5_040_000));
    expect(m.transition()).toBe('resumed');
    expect(m.status().state).toBe('ok');
  });

  it('a thread that stops reporting (dead or hung) is a stall too; the last error is kept until it catches up', () => {
    const { m, tick } = clocked(5000);
    m.progressed(round(1, 0));
    m.journaled({ segment: 1, offset: 700 }, 3);
    m.failed('SqliteError: database is locked');
    tick(4999);
    expect(m.status().state).toBe('ok');
    tick(1);
    expect(m.status()).toMatchObject({ state: 'stalled', lag: { records: 3, seconds: 5 }, last_error: 'SqliteError: database is locked' });
    m.progressed(round(1, 700));
    expect(m.status()).toMatchObject({ state: 'ok', last_error: null });
  });

  it('events left by an earlier run count from when the position last moved', () => {
    const { m, tick } = clocked(2000);
    m.progressed(round(7, 100, 4096));
    tick(2500);
    m.progressed(round(7, 100, 4096));
    expect(m.status()).toMatchObject({ state: 'stalled', lag: { records: 0, bytes: 4096, seconds: 2.5 } });
  });

  it('keeps a bounded list of writes however many arrive while stalled, and still counts every record', () => {
    const { m, tick } = clocked();
    m.progressed(round(1, 0));
    for (let i = 1; i <= 50_000; i++) m.journaled({ segment: 1 + Math.floor(i / 1000), offset: (i % 1000) * 10 }, 1);
    tick(60_000);
    expect(m.status().lag).toMatchObject({ records: 50_000, seconds: 60 });
    expect((m as unknown as { writes: unknown[] }).writes.length).toBeLessThanOrEqual(1024);
    m.progressed(round(51, 0));
    expect(m.status().lag.records).toBe(0);
  });
});
