import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, authStatus, currentSession, getToken, post, setCsrf, setToken, whenUnauthorized, type Me } from './api';
import { CostsPage } from './pages/costs';
import { EventDetailPage } from './pages/event-detail';
import { EscalationsPage } from './pages/escalations';
import { EventsPage } from './pages/events';
import { OverviewPage } from './pages/overview';
import { TokensPage } from './pages/tokens';
import { BASE, linkClick, navigate, useRoute } from './router';
import './style.css';

/** A `#token=…` fragment (the URL the gateway prints) signs in at once; the fragment is then removed from the address bar. */
function tokenFromFragment(): string | null {
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + location.search);
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
}

function SignIn({ onSignedIn, initialError, sso }: { onSignedIn: () => void; initialError?: string | undefined; sso: string | null }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | undefined>(initialError);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const token = value.trim();
    if (!token) {
      setError('Enter a token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await api('/v1/chains', {}, token);
      setToken(token);
      onSignedIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token was not accepted: it is unknown or revoked.' : `Could not sign in: ${(err as Error).message}`);
      input.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} aria-describedby="signin-help">
        <h1>keeptrusts console</h1>
        {sso && (
          <>
            <a class="button" href={`${sso}?return_to=${encodeURIComponent(location.pathname.startsWith(BASE) ? location.pathname : `${BASE}/`)}`}>
              Sign in with single sign-on
            </a>
            <p class="or">or</p>
          </>
        )}
        <p id="signin-help">
          Sign in with a token: the one <code>kt gateway run</code> printed with the console URL, or a reader token from <code>kt server token create --role reader --gateway NAME</code>.
        </p>
        <label for="token">Token</label>
        <input id="token" ref={input} type="password" autocomplete="off" spellcheck={false} value={value} onInput={(e) => setValue(e.currentTarget.value)} aria-invalid={error ? 'true' : undefined} aria-describedby={error ? 'signin-error' : undefined} />
        {error && (
          <p id="signin-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

const NAV = [
  { href: '/', label: 'Overview' },
  { href: '/events', label: 'Events' },
  { href: '/costs', label: 'Costs' },
  { href: '/escalations', label: 'Escalations' },
];
const ADMIN_NAV = [{ href: '/tokens', label: 'Tokens' }];

function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(() => {
    const fromFragment = tokenFromFragment();
    if (fromFragment) setToken(fromFragment);
    return getToken() !== null;
  });
  const [me, setMe] = useState<Me | null>(null);
  // Whether the control plane offers single sign-on, and (until known) whether a session cookie already signs us in.
  const [sso, setSso] = useState<string | null>(null);
  const [checking, setChecking] = useState(!signedIn);
  const [expired, setExpired] = useState<string | undefined>();
  useEffect(() => {
    void (async () => {
      const status = await authStatus();
      setSso(status.oidc ? status.login_url : null);
      // Signed in with a token already (sessionStorage, #token=): no session to look for.
      if (getToken() !== null) return setChecking(false);
      const session = status.oidc ? await currentSession().catch(() => null) : null;
      if (session) {
        setCsrf(session.csrf_token);
        setMe(session);
        setSignedIn(true);
      }
      setChecking(false);
    })();
  }, []);
  useEffect(
    () =>
      whenUnauthorized(() => {
        setToken(null);
        setCsrf(null);
        setExpired(me || !getToken() ? 'Your session has ended. Sign in again.' : 'Your token is no longer accepted. Sign in again.');
        setMe(null);
        setSignedIn(false);
      }),
    [me],
  );
  useEffect(() => {
    const title = [...NAV, ...ADMIN_NAV].find((n) => n.href === route.path)?.label ?? (route.path.startsWith('/events/') ? 'Event' : 'Console');
    document.title = signedIn ? `${title} · keeptrusts` : 'Sign in · keeptrusts';
  }, [route.path, signedIn]);

  if (!signedIn && checking) return <main class="signin" id="main" aria-busy="true" />;
  if (!signedIn) return <SignIn sso={sso} initialError={expired} onSignedIn={() => (setExpired(undefined), setSignedIn(true))} />;
  const nav = me?.role === 'admin' ? [...NAV, ...ADMIN_NAV] : NAV;

  let page;
  if (route.path === '/') page = <OverviewPage />;
  else if (route.path === '/events') page = <EventsPage search={route.search} />;
  else if (route.path.startsWith('/events/')) page = <EventDetailPage id={decodeURIComponent(route.path.slice('/events/'.length))} />;
  else if (route.path === '/costs') page = <CostsPage />;
  else if (route.path === '/tokens' && me?.role === 'admin') page = <TokensPage />;
  else if (route.path === '/escalations') page = <EscalationsPage />;
  else
    page = (
      <section>
        <h1>Not found</h1>
        <p>
          No page here. <a href={`${BASE}/`} onClick={linkClick}>Go to the overview</a>.
        </p>
      </section>
    );
  const active = (href: string) => (href === '/' ? route.path === '/' : route.path === href || route.path.startsWith(`${href}/`));
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">keeptrusts</span>
        <nav aria-label="Console">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <a href={`${BASE}${n.href}`} onClick={linkClick} aria-current={active(n.href) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {me && (
          <span class="who" title={me.subject}>
            {me.email ?? me.name ?? me.subject} · {me.role}
          </span>
        )}
        <button
          type="button"
          class="link"
          onClick={() => {
            // A session ends on the server too: its cookie is useless afterwards, wherever it was copied.
            const end = me ? post('/auth/logout').catch(() => undefined) : Promise.resolve();
            void end.then(() => {
              setToken(null);
              setCsrf(null);
              setMe(null);
              setSignedIn(false);
              navigate('/', { replace: true });
            });
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
