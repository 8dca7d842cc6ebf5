import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, num, redactedByType, shortTime, usd, type DecisionEvent, type EventJson, type VerifyReport } from '../api';
import { ErrorNote, Loading, VerdictBadge } from '../components';
import { BASE, linkClick } from '../router';

function Diff({ text }: { text: string }) {
  if (!text) return <p class="muted">No diff captured (capture: metadata).</p>;
  return (
    <pre class="diff" tabIndex={0} aria-label="Unified diff">
      {text.split('\n').map((line, i) => {
        const cls = line.startsWith('+++') || line.startsWith('---') ? 'meta' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : '';
        return (
          <span key={i} class={cls}>
            {line}
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}

function VerifyBadge({ report, error }: { report: VerifyReport | null; error: string | null }) {
  if (error) return <span class="badge badge-bad">Verification unavailable: {error}</span>;
  if (!report) return <span class="badge">Verifying…</span>;
  const text =
    report.status === 'verified'
      ? `Verified: linked in chain ${report.chain} at seq ${report.seq} and covered by the signed checkpoint at seq ${report.checkpoint?.seq}`
      : report.status === 'linked'
        ? `Linked: intact in chain ${report.chain} at seq ${report.seq}; no signed checkpoint covers it yet`
        : `Failed: ${report.problems.join('; ')}`;
  return (
    <span class={`badge ${report.status === 'failed' ? 'badge-bad' : 'badge-ok'}`} data-testid="verify-badge" data-status={report.status}>
      {report.status === 'failed' ? '✗ ' : '✓ '}
      {text}
    </span>
  );
}

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <div>
      <dt>{name}</dt>
      <dd>{children ?? <span class="muted">—</span>}</dd>
    </div>
  );
}

export function EventDetailPage({ id }: { id: string }) {
  const [stored, setStored] = useState<EventJson | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [verify, setVerify] = useState<VerifyReport | null>(null);
  const [verifyError, setVerifyError] = useState<string | null>(null);
  const [blobs, setBlobs] = useState<Record<string, string>>({});

  useEffect(() => {
    const controller = new AbortController();
    setStored(null);
    setVerify(null);
    setError(null);
    setVerifyError(null);
    const path = `/v1/events/${encodeURIComponent(id)}`;
    api<EventJson>(path, {}, undefined, controller.signal)
      .then(async (e) => {
        setStored(e);
        // Long captured segments are stored once by content hash; fetch their texts.
        const refs = (e.event.capture?.request ?? []).flatMap((s) => (s.sha256 && s.text === undefined ? [s.sha256] : []));
        if (refs.length) {
          const got = await api<{ data: Record<string, string> }>('/v1/blobs', { sha256: [...new Set(refs)].slice(0, 100).join(',') }, undefined, controller.signal).catch(() => ({ data: {} }));
          setBlobs(got.data);
        }
      })
      .catch((err: Error) => controller.signal.aborted || setError(err.message));
    api<VerifyReport>(`${path}/verify`, {}, undefined, controller.signal)
      .then(setVerify)
      .catch((err: Error) => controller.signal.aborted || setVerifyError(err.message));
    return () => controller.abort();
  }, [id]);

  const back = (
    <p>
      <a href={`${BASE}/events`} onClick={linkClick}>
        ← Events
      </a>
    </p>
  );
  if (error) return <section>{back}<h1>Event</h1><ErrorNote error={error} /></section>;
  if (!stored) return <section>{back}<Loading what="the event" /></section>;
  const e: DecisionEvent = stored.event;
  const redacted = redactedByType(e);
  const segments = e.capture?.request ?? [];
  return (
    <section aria-labelledby="event-title" class="detail">
      {back}
      <div class="page-head">
        <h1 id="event-title">
          Event <code>{e.id}</code>
        </h1>
        <VerdictBadge verdict={e.verdict} />
      </div>
      <p>
        <VerifyBadge report={verify} error={verifyError} />
      </p>

      <section class="card" aria-labelledby="summary-title">
        <h2 id="summary-title">Request</h2>
        <dl class="fields">
          <Field name="Time (UTC)">{shortTime(e.ts)}</Field>
          <Field name="Verdict">{e.verdict}</Field>
          <Field name="Reason">{e.reason_code}</Field>
          <Field name="Status">{e.status}</Field>
          <Field name="Developer">{e.identity.developer}</Field>
          <Field name="Repository">{e.identity.repository}</Field>
          <Field name="Team">{e.identity.team}</Field>
          <Field name="Client">{e.identity.client}</Field>
          <Field name="Model">{e.target?.model ?? e.model_requested}</Field>
          <Field name="Target">{e.target ? `${e.target.id} (${e.target.provider})` : null}</Field>
          <Field name="Route">{`${e.route}${e.stream ? ', streamed' : ''}`}</Field>
          <Field name="Request id">{e.request_id}</Field>
          <Field name="Gateway">{e.gateway_id}</Field>
          <Field name="Config">{`${e.config.name} ${e.config.version}`}</Field>
          <Field name="Latency">{`${num(e.latency.total_ms)} ms total${e.latency.upstream_ms !== null ? `, ${num(e.latency.upstream_ms)} ms upstream` : ''}${e.latency.overhead_ms !== null ? `, ${num(e.latency.overhead_ms)} ms gateway` : ''}`}</Field>
          {e.error && <Field name="Error">{`${e.error.type}: ${e.error.message}`}</Field>}
          {e.flags?.length ? <Field name="Flags">{e.flags.join(', ')}</Field> : null}
          {e.truncated ? <Field name="Truncated">{`the event was ${num(e.truncated.bytes)} bytes and was cut to fit the size bound (dropped: ${e.truncated.dropped.join(', ')})`}</Field> : null}
        </dl>
      </section>

      <section class="card" aria-labelledby="trace-title">
        <h2 id="trace-title">Policy trace</h2>
        {e.policies.length === 0 ? (
          <p class="muted">No policy ran on this request.</p>
        ) : (
          <table data-testid="policy-trace">
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Phase</th>
                <th scope="col">Verdict</th>
                <th scope="col" class="num">
                  Time
                </th>
                <th scope="col">Findings</th>
              </tr>
            </thead>
            <tbody>
              {e.policies.map((p, i) => (
                <tr key={i}>
                  <th scope="row">{p.kind}</th>
                  <td>
                    {p.phase}
                    {p.streamed ? ' (streamed)' : ''}
                  </td>
                  <td>
                    <VerdictBadge verdict={p.verdict} />
                  </td>
                  <td class="num">{p.duration_us >= 1000 ? `${(p.duration_us / 1000).toFixed(1)} ms` : `${p.duration_us} µs`}</td>
                  <td>
                    {p.error && <span class="error">error: {p.error}. </span>}
                    {p.score !== undefined && <span>score {p.score}. </span>}
                    {p.findings.length === 0 && !p.error ? <span class="muted">none</span> : p.findings.map((f) => `${f.type} (${f.rule}, ${f.source}) ×${f.count}`).join('; ')}
                    {p.reasons?.length ? <span> — {p.reasons.join(', ')}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {redacted.size > 0 && (
          <p data-testid="redactions">
            {num([...redacted.values()].reduce((a, b) => a + b, 0))} value(s) redacted: {[...redacted].map(([type, n]) => `${type} ×${num(n)}`).join(', ')}.
          </p>
        )}
        {e.restores && (
          <p data-testid="restores">
            Reversible redaction: {e.restores.issued.map((g) => `${g.type} ×${num(g.count)}`).join(', ')} as placeholders;{' '}
            {e.restores.restored.length ? `restored ${e.restores.restored.map((g) => `${g.type} in ${g.where} ×${num(g.count)}`).join(', ')}` : 'none restored'}
            {e.restores.withheld.length ? `; withheld ${e.restores.withheld.map((g) => `${g.type} in ${g.where} ×${num(g.count)}`).join(', ')}` : ''}
            {e.restores.unknown ? `; ${num(e.restores.unknown)} placeholder(s) not issued by this request left as they were` : ''}.
          </p>
        )}
      </section>

      <section class="card" aria-labelledby="capture-title">
        <h2 id="capture-title">Captured content (redacted)</h2>
        {!e.capture ? (
          <p class="muted">Not captured: the gateway records metadata only (audit-logger capture: metadata).</p>
        ) : (
          <>
            <h3>Prompt</h3>
            {segments.length === 0 && <p class="muted">No request text.</p>}
            {segments.map((s, i) => (
              <div class="segment" key={i}>
                <div class="segment-head">
                  {s.source} · turn {s.turn}
                </div>
                <pre tabIndex={0} data-testid="capture-request">
                  {s.text ?? (s.sha256 ? (blobs[s.sha256] ?? `[${num(s.chars ?? 0)} characters stored by hash; loading…]`) : '')}
                </pre>
              </div>
            ))}
            <h3>Completion</h3>
            {e.capture.completion ? (
              <>
                <pre tabIndex={0} data-testid="capture-completion">
                  {e.capture.completion.text || <span class="muted">(no text)</span>}
                </pre>
                {e.capture.completion.tool_calls.length > 0 && (
                  <ul>
                    {e.capture.completion.tool_calls.map((t, i) => (
                      <li key={i}>
                        Tool call <code>{t.name}</code>
                      </li>
                    ))}
                  </ul>
                )}
              </>
            ) : (
              <p class="muted">No completion reached the client{e.verdict === 'block' ? ': the request was blocked' : ''}.</p>
            )}
            {e.capture.truncated && <p class="muted">The capture was truncated.</p>}
          </>
        )}
      </section>

      {e.proposed_edits.length > 0 && (
        <section class="card" aria-labelledby="edits-title">
          <h2 id="edits-title">Proposed code edits</h2>
          {e.proposed_edits.map((edit, i) => (
            <div key={i}>
              <h3>
                {edit.file ?? '(unnamed file)'} <span class="add">+{edit.added}</span> <span class="del">−{edit.removed}</span>
              </h3>
              <Diff text={edit.diff} />
            </div>
          ))}
        </section>
      )}

      <section class="card" aria-labelledby="usage-title">
        <h2 id="usage-title">Usage and cost</h2>
        <dl class="fields">
          <Field name="Input tokens">{e.usage ? num(e.usage.input_tokens) : null}</Field>
          <Field name="Output tokens">{e.usage ? num(e.usage.output_tokens) : null}</Field>
          <Field name="Cached input">{e.usage ? num(e.usage.cached_input_tokens) : null}</Field>
          <Field name="Reasoning">{e.usage ? num(e.usage.reasoning_tokens) : null}</Field>
          <Field name="Cost">{e.cost ? (e.cost.priced ? usd(e.cost.total, 6) : 'unpriced model') : null}</Field>
          {e.usage?.estimated && <Field name="Note">counts estimated</Field>}
        </dl>
        {e.budget_alerts?.length ? (
          <ul>
            {e.budget_alerts.map((a, i) => (
              <li key={i}>
                Budget alert: {a.scope}
                {a.value ? ` ${a.value}` : ''} {a.period} crossed {Math.round(a.threshold * 100)}% ({usd(a.spent_usd)} of {usd(a.limit_usd)})
              </li>
            ))}
          </ul>
        ) : null}
      </section>

      <section class="card" aria-labelledby="chain-title">
        <h2 id="chain-title">Chain</h2>
        <dl class="fields">
          <Field name="Chain">{stored.chain}</Field>
          <Field name="Seq">{stored.seq}</Field>
          <Field name="Hash">
            <code class="hash">{stored.hash}</code>
          </Field>
          <Field name="Previous hash">
            <code class="hash">{stored.prev_hash}</code>
          </Field>
          {verify && <Field name="Links">{`previous: ${verify.prev}, next: ${verify.next}`}</Field>}
        </dl>
      </section>
    </section>
  );
}
