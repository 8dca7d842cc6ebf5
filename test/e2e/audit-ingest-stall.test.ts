import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/audit/sqlite-store.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CONFIG = `pack: {name: stall, version: "1"}
policies:
  chain: [audit-logger]
providers:
  targets:
    - {id: o, provider: openai-compatible, base_url: "FAKE_URL/v1"}
`;

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 200): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('a stalled ingester is visible (issue 16, item 1)', () => {
  it('/health says degraded with the lag and the error, one warning is logged per stall, /metrics has the gauges; all clears when the store takes writes again', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kt-stall-'));
    const logs: Array<Record<string, unknown>> = [];
    const operator = 'operator-token-0123456789';
    stack = await startStack({ config: CONFIG, audit: { dataDir, stallAfterMs: 400 }, onLog: (r) => logs.push(r), gateway: { metricsToken: operator } });
    const base = stack.openaiBase.replace(/\/v1$/, '');
    const chat = async (id: string) => {
      const res = await request(`${stack!.openaiBase}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer k', 'x-request-id': id },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.body.text();
      return res.statusCode;
    };
    const health = async () => (await (await request(`${base}/health`, { headers: { authorization: `Bearer ${operator}` } })).body.json()) as { status: string; audit: { committed: number; ingest: { state: string; lag: { records: number; bytes: number; seconds: number }; last_error: string | null } } };

    expect(await chat('before')).toBe(200);
    await until('the first event', async () => ((await health()).audit.committed === 1 ? true : undefined));
    expect(await health()).toMatchObject({ status: 'healthy', audit: { ingest: { state: 'ok', lag: { records: 0 }, last_error: null } } });

    // Another process holds the store's write lock: the ingester cannot commit (SQLITE_BUSY after its busy timeout).
    const blocker = new Database(join(dataDir, 'events.db'));
    blocker.exec('BEGIN IMMEDIATE');
    try {
      expect(await chat('during-1')).toBe(200);
      expect(await chat('during-2')).toBe(200);
      const stalled = await until('a degraded /health with the error', async () => {
        const h = await health();
        return h.status === 'degraded' && h.audit.ingest.last_error ? h : undefined;
      });
      expect(stalled.audit.ingest.state).toBe('stalled');
      expect(stalled.audit.ingest.lag.records).toBe(2);
      expect(stalled.audit.ingest.lag.bytes).toBeGreaterThan(0);
      expect(stalled.audit.ingest.lag.seconds).toBeGreaterThanOrEqual(0.4);
      expect(stalled.audit.ingest.last_error).toMatch(/locked|busy/i);
      const metrics = await (await request(`${base}/metrics`, { headers: { authorization: `Bearer ${operator}` } })).body.text();
      expect(metrics).toMatch(/^keeptrusts_audit_ingest_stalled 1$/m);
      expect(metrics).toMatch(/^keeptrusts_audit_ingest_lag_records 2$/m);
      expect(metrics).toMatch(/^keeptrusts_audit_ingest_lag_seconds [0-9.]+$/m);
      // Still stalled a while later: still one warning, not one per poll.
      await new Promise((r) => setTimeout(r, 1500));
      expect(logs.filter((l) => String(l.msg).startsWith('audit ingestion stalled'))).toHaveLength(1);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }

    const recovered = await until('a healthy /health', async () => {
      const h = await health();
      return h.status === 'healthy' && h.audit.committed === 3 ? h : undefined;
    });
    expect(recovered.audit.ingest).toMatchObject({ state: 'ok', lag: { records: 0, seconds: 0 }, last_error: null });
    expect(logs.filter((l) => l.msg === 'audit ingestion resumed')).toHaveLength(1);
    expect((await (await request(`${base}/metrics`, { headers: { authorization: `Bearer ${operator}` } })).body.text())).toMatch(/^keeptrusts_audit_ingest_stalled 0$/m);
    const store = new SqliteEventStore(join(dataDir, 'events.db'), { readonly: true });
    expect((await store.query({ order: 'asc' })).map((e) => e.event.request_id)).toEqual(['before', 'during-1', 'during-2']);
    await store.close();
  }, 60_000);
});
