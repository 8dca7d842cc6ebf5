import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, post, type Escalation, type EscalationException } from '../api';
import { ErrorNote, Loading } from '../components';

const POLL_MS = 2_000;
const REVIEWER_KEY = 'keeptrusts.reviewer';

function left(expiresAt: string, now: number): string {
  const s = Math.max(0, Math.round((Date.parse(expiresAt) - now) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** One held request: who, which policy and rule, time left, and the decision form. */
function Row({ e, now, reviewer, onDecided }: { e: Escalation; now: number; reviewer: string; onDecided: (message: string) => void }) {
  const [reason, setReason] = useState('');
  const [exception, setException] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const decide = async (decision: 'approve' | 'deny') => {
    if (!reason.trim()) {
      setError('Give a reason: it is recorded with the decision.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const body = { decision, reason: reason.trim(), ...(reviewer.trim() ? { reviewer: reviewer.trim() } : {}), ...(exception && decision === 'approve' ? { exception: { scope: ['developer', 'repository', 'rule'], ttl_seconds: 86_400 } } : {}) };
      const after = await post<Escalation>(`/v1/escalations/${encodeURIComponent(e.id)}/decision`, body);
      onDecided(`${after.id} ${after.state}${after.exception_id ? ` with exception ${after.exception_id}` : ''}.`);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-testid="escalation-row" data-id={e.id}>
      <td>
        <code>{e.id}</code>
        <div class="muted">{new Date(e.created_at).toLocaleTimeString()}</div>
      </td>
      <td>{e.developer ?? <span class="muted">(none)</span>}</td>
      <td>{e.repository ?? <span class="muted">(none)</span>}</td>
      <td>
        {e.policy}
        {e.rule && <div class="muted">rule {e.rule}</div>}
      </td>
      <td class="num">{left(e.expires_at, now)}</td>
      <td>
        <div class="decide">
          <label class="sr-only" for={`reason-${e.id}`}>
            Reason for {e.id}
          </label>
          <input id={`reason-${e.id}`} placeholder="Reason (recorded)" value={reason} maxLength={500} onInput={(ev) => setReason(ev.currentTarget.value)} />
          <label>
            <input type="checkbox" checked={exception} onChange={(ev) => setException(ev.currentTarget.checked)} /> exception for 24 h
          </label>
          <button type="button" disabled={busy} onClick={() => void decide('approve')}>
            Approve
          </button>
          <button type="button" class="secondary" disabled={busy} onClick={() => void decide('deny')}>
            Deny
          </button>
        </div>
        {error && <ErrorNote error={error} />}
      </td>
    </tr>
  );
}

/**
 * The escalation queue: requests a policy escalated, held until someone here (or `kt escalations`) decides, and
 * the exceptions approvals created. Shows who and which rule, never what the request said.
 */
export function EscalationsPage() {
  const [open, setOpen] = useState<Escalation[] | undefined>();
  const [exceptions, setExceptions] = useState<EscalationException[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [note, setNote] = useState<string | undefined>();
  const [now, setNow] = useState(Date.now());
  const [reviewer, setReviewer] = useState(() => localStorage.getItem(REVIEWER_KEY) ?? '');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const [q, x] = await Promise.all([api<{ data: Escalation[] }>('/v1/escalations', { state: 'open' }), api<{ data: EscalationException[] }>('/v1/exceptions', { active: 'true' })]);
        if (stop) return;
        setOpen(q.data);
        setExceptions(x.data);
        setError(undefined);
      } catch (err) {
        if (!stop) setError(err instanceof ApiError && err.status === 404 ? 'This server keeps no escalation queue.' : `Could not load the queue: ${(err as Error).message}`);
      }
      if (!stop) setNow(Date.now());
    };
    void load();
    const t = setInterval(() => void load(), POLL_MS);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [tick]);
  const decided = (message: string) => {
    setNote(message);
    setTick((n) => n + 1);
  };
  const revoke = async (id: string) => {
    try {
      await post(`/v1/exceptions/${encodeURIComponent(id)}/revoke`, {});
      decided(`${id} revoked.`);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <section>
      <div class="page-head">
        <h1>Escalations</h1>
        <div class="field">
          <label for="reviewer">Reviewer name</label>
          <input
            id="reviewer"
            value={reviewer}
            maxLength={200}
            onInput={(ev) => {
              setReviewer(ev.currentTarget.value);
              localStorage.setItem(REVIEWER_KEY, ev.currentTarget.value);
            }}
          />
        </div>
      </div>
      <p class="muted">Requests held for review. The client is still waiting: approve sends the request to the model, deny answers it as a block. Decisions are recorded on the audit chain.</p>
      {note && (
        <p class="badge badge-ok" role="status">
          {note}
        </p>
      )}
      {error && <ErrorNote error={error} />}
      {open === undefined && !error ? (
        <Loading what="the queue" />
      ) : open && open.length === 0 ? (
        <p class="empty muted">No request is waiting for review.</p>
      ) : open ? (
        <table data-testid="escalations-table">
          <caption class="sr-only">Open escalations</caption>
          <thead>
            <tr>
              <th scope="col">Escalation</th>
              <th scope="col">Developer</th>
              <th scope="col">Repository</th>
              <th scope="col">Policy</th>
              <th scope="col" class="num">
                Time left
              </th>
              <th scope="col">Decision</th>
            </tr>
          </thead>
          <tbody>
            {open.map((e) => (
              <Row key={e.id} e={e} now={now} reviewer={reviewer} onDecided={decided} />
            ))}
          </tbody>
        </table>
      ) : null}
      <h2 class="section-gap">Active exceptions</h2>
      {exceptions.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <table data-testid="exceptions-table">
          <thead>
            <tr>
              <th scope="col">Exception</th>
              <th scope="col">Policy and rule</th>
              <th scope="col">Developer</th>
              <th scope="col">Repository</th>
              <th scope="col">Expires</th>
              <th scope="col">By</th>
              <th scope="col">
                <span class="sr-only">Revoke</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {exceptions.map((x) => (
              <tr key={x.id}>
                <td>
                  <code>{x.id}</code>
                </td>
                <td>
                  {x.policy} · {x.rule ?? 'any rule'}
                </td>
                <td>{x.developer ?? 'anyone'}</td>
                <td>{x.repository ?? 'any'}</td>
                <td>{new Date(x.expires_at).toLocaleString()}</td>
                <td>{x.created_by}</td>
                <td>
                  <button type="button" class="secondary" onClick={() => void revoke(x.id)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
