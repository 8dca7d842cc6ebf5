import { useEffect, useState } from 'preact/hooks';
import { api, post, shortTime } from '../api';
import { ErrorNote, Loading } from '../components';

type TokenRole = 'gateway' | 'reader' | 'reviewer' | 'admin';

interface TokenRecord {
  id: string;
  gateway: string;
  role: TokenRole;
  created_at: string;
  revoked_at: string | null;
}

/** Admins only (the control plane refuses everyone else): create and revoke the tokens gateways and readers use. */
export function TokensPage() {
  const [tokens, setTokens] = useState<TokenRecord[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState<TokenRole>('gateway');
  const [created, setCreated] = useState<{ token: string; record: TokenRecord } | null>(null);
  const [busy, setBusy] = useState(false);

  const load = () =>
    api<{ data: TokenRecord[] }>('/v1/tokens')
      .then((r) => setTokens(r.data))
      .catch((err: Error) => setError(err.message));
  useEffect(() => void load(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setCreated(await post<{ token: string; record: TokenRecord }>('/v1/tokens', { gateway: name.trim(), role }));
      setName('');
      await load();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (id: string) => {
    if (!confirm(`Revoke ${id}? Whoever uses it is refused from the next request on.`)) return;
    setError(null);
    try {
      await post(`/v1/tokens/${encodeURIComponent(id)}/revoke`);
      await load();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <section>
      <h1>Tokens</h1>
      <p class="muted">Gateways ship their events with a gateway token; scripts and people without single sign-on read with a reader token, and decide escalations with a reviewer token. Only the hash is stored: a token is shown once, here.</p>
      {error && <ErrorNote error={error} />}
      <form class="card token-form" onSubmit={create} aria-label="Create a token">
        <h2>Create a token</h2>
        <label for="token-name">Gateway id or label</label>
        <input id="token-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="build-box-1" />
        <label for="token-role">Role</label>
        <select id="token-role" value={role} onChange={(e) => setRole(e.currentTarget.value as TokenRole)}>
          <option value="gateway">gateway: ships its own chain, reads</option>
          <option value="reader">reader: reads only</option>
          <option value="reviewer">reviewer: reads, decides escalations</option>
          <option value="admin">admin: reads, decides, manages tokens</option>
        </select>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create'}
        </button>
      </form>
      {created && (
        <div class="card" role="status">
          <p>
            Created <code>{created.record.id}</code> for {created.record.gateway} ({created.record.role}). Copy it now; it is not shown again:
          </p>
          <pre class="token-once">{created.token}</pre>
        </div>
      )}
      {tokens === null ? (
        <Loading what="tokens" />
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">Gateway / label</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Revoked</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <td>
                  <code>{t.id}</code>
                </td>
                <td>{t.gateway}</td>
                <td>{t.role}</td>
                <td>{shortTime(t.created_at)}</td>
                <td>{t.revoked_at ? shortTime(t.revoked_at) : '—'}</td>
                <td>
                  {!t.revoked_at && (
                    <button type="button" class="link" onClick={() => void revoke(t.id)} aria-label={`Revoke ${t.id}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
