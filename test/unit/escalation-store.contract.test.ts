/** One behaviour for the escalation queue and the delivery log on SQLite and on PostgreSQL. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlDriver } from '../../src/escalation/sql.js';
import { openEscalationStore } from '../../src/escalation/store.js';
import { EscalationStateError } from '../../src/escalation/types.js';
import { DeliveryLog } from '../../src/webhooks/log.js';
import { PG_URL, postgresAvailable, SERVICES_REQUIRED } from '../helpers/services.js';

const pgUp = await postgresAvailable();
if (!pgUp && SERVICES_REQUIRED) throw new Error(`PostgreSQL is required in CI at ${PG_URL}`);

const backends = [
  { name: 'sqlite', loc: () => ({ dataDir: mkdtempSync(join(tmpdir(), 'kt-esc-store-')) }) },
  ...(pgUp ? [{ name: 'postgres', loc: () => ({ dataDir: tmpdir(), databaseUrl: `${PG_URL}?schema=kt_esc_${Date.now()}_${Math.floor(Math.random() * 1e6)}` }) }] : []),
];

const facts = { gateway: 'g', request_id: 'r1', event_id: null, developer: 'dana', repository: 'acme/api', team: null, model: 'gpt-4o', policy: 'prompt-injection', finding_type: 'PROMPT_INJECTION', rule: 'deploy-override' };

describe.each(backends)('escalation store on $name', ({ loc }) => {
  it('decides once: a second decision, or one after the hold, is refused; approval makes a scoped exception', async () => {
    const store = await openEscalationStore(loc());
    try {
      const e = await store.open({ ...facts, holdSeconds: 60 });
      expect(e).toMatchObject({ state: 'open', reviewer: null });
      const d = await store.decide(e.id, { decision: 'approve', reviewer: 'rita', reason: 'ok', exception: { scope: ['developer', 'rule'], ttlSeconds: 3600 } });
      expect(d).toMatchObject({ state: 'approved', reviewer: 'rita', reason: 'ok' });
      await expect(store.decide(e.id, { decision: 'deny', reviewer: 'sam', reason: 'no' })).rejects.toThrow(EscalationStateError);
      const [x] = await store.exceptions({ active: true });
      expect(x).toMatchObject({ id: d.exception_id, developer: 'dana', repository: null, policy: 'prompt-injection', rule: 'deploy-override', created_by: 'rita' });
      expect(await store.revokeException(x!.id)).toBe(true);
      expect(await store.exceptions({ active: true })).toEqual([]);
      expect(await store.revokeException('exc_nope')).toBe(false);

      const late = await store.open({ ...facts, request_id: 'r2', holdSeconds: 60 });
      expect((await store.expire(late.id))!.state).toBe('expired');
      await expect(store.decide(late.id, { decision: 'approve', reviewer: 'rita', reason: 'late' })).rejects.toThrow(/expired and can no longer be decided/);
      expect((await store.list({ state: 'open' })).length).toBe(0);
      expect((await store.list({})).map((r) => r.id)).toEqual([late.id, e.id]);
      await expect(store.decide(e.id, { decision: 'approve', reviewer: ' ', reason: 'x' })).rejects.toThrow('reviewer is required');
    } finally {
      await store.close();
    }
  });

  it('the delivery log keeps one row per delivery, updated per try', async () => {
    const log = await DeliveryLog.create(await openSqlDriver(loc()));
    try {
      const at = new Date().toISOString();
      const base = { id: 'dlv_1', receiver: 'http://r/', type: 'block', event_id: 'evt_1', created_at: at, updated_at: at, last_error: null };
      await log.write({ ...base, state: 'pending', attempts: 1, last_status: 503, next_attempt_at: at });
      await log.write({ ...base, state: 'delivered', attempts: 2, last_status: 200, next_attempt_at: null });
      expect(await log.list({})).toEqual([{ ...base, state: 'delivered', attempts: 2, last_status: 200, next_attempt_at: null }]);
      expect(await log.list({ state: 'failed' })).toEqual([]);
    } finally {
      await log.close();
    }
  });
});
