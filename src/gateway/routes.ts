import type { Family } from '../providers/targets.js';

export type Route =
  | { kind: 'inference'; family: Family }
  | { kind: 'models'; id?: string }
  | { kind: 'health' }
  | { kind: 'healthz' }
  | { kind: 'readyz' }
  | { kind: 'root' }
  | { kind: 'metrics' }
  | { kind: 'admin_reload' }
  | { kind: 'unknown' };

const INFERENCE: ReadonlyArray<[string, Family]> = [
  ['/chat/completions', 'chat'],
  ['/responses', 'responses'],
  ['/messages/count_tokens', 'count_tokens'],
  ['/messages', 'messages'],
];

/**
 * Map a request path to a route. Clients put the API under `/v1`, sometimes behind a path prefix
 * (`ANTHROPIC_BASE_URL=http://host/gw/anthropic`), and sometimes drop `/v1` from an OpenAI base URL; all
 * of these reach the same route. Query strings (`/v1/messages?beta=true`) never affect routing.
 */
export function matchRoute(pathname: string): Route {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  switch (path) {
    case '/health':
      return { kind: 'health' };
    case '/healthz':
      return { kind: 'healthz' };
    case '/readyz':
      return { kind: 'readyz' };
    case '/':
      return { kind: 'root' };
    case '/metrics':
      return { kind: 'metrics' };
    case '/admin/reload':
      return { kind: 'admin_reload' };
  }
  const v1 = path.indexOf('/v1/');
  const rest = v1 >= 0 ? path.slice(v1 + 3) : path;
  for (const [suffix, family] of INFERENCE) if (rest === suffix) return { kind: 'inference', family };
  if (rest === '/models') return { kind: 'models' };
  if (rest.startsWith('/models/') && rest.length > 8) return { kind: 'models', id: decodeURIComponent(rest.slice(8)) };
  return { kind: 'unknown' };
}
