// The console's view of the control plane API (src/server/app.ts, src/server/console.ts). Same origin; every
// call carries the token the user signed in with, kept in sessionStorage (gone when the tab closes), or, after an
// OIDC sign-in, the HttpOnly session cookie the browser sends by itself (plus X-CSRF-Token on POSTs).

export type Verdict = 'allow' | 'flag' | 'redact' | 'block' | 'escalate';
export const VERDICTS: Verdict[] = ['allow', 'flag', 'redact', 'block', 'escalate'];

export interface PolicyResult {
  kind: string;
  phase: string;
  verdict: Verdict;
  duration_us: number;
  findings: Array<{ type: string; rule: string; source: string; count: number }>;
  score?: number;
  reasons?: string[];
  error?: string;
  streamed?: boolean;
}

export interface DecisionEvent {
  id: string;
  ts: string;
  request_id: string;
  gateway_id: string;
  config: { name: string; version: string; sha256: string };
  route: string;
  stream: boolean;
  identity: { developer: string | null; repository: string | null; team: string | null; key_id: string | null; client: string };
  model_requested: string | null;
  target: { id: string; provider: string; model: string | null } | null;
  verdict: Verdict;
  reason_code: string | null;
  policies: PolicyResult[];
  /** Grouped per phase, type, rule and source; events recorded before that hold one LegacyRedaction per value. */
  redactions: Array<Redaction | LegacyRedaction>;
  usage: { input_tokens: number | null; output_tokens: number | null; cached_input_tokens: number | null; cache_write_tokens: number | null; reasoning_tokens: number | null; estimated: boolean } | null;
  cost: { currency: 'USD'; input: number | null; output: number | null; total: number | null; priced: boolean } | null;
  latency: { total_ms: number; upstream_ms: number | null; ttft_ms: number | null; overhead_ms: number | null };
  status: number;
  error: { type: string; code: string | null; message: string } | null;
  capture: {
    mode: string;
    request: Array<{ source: string; turn: number; text?: string; sha256?: string; chars?: number }> | null;
    completion: { text: string; tool_calls: Array<{ name: string; input: unknown }>; finish_reason: string | null } | null;
    truncated: boolean;
  } | null;
  proposed_edits: Array<{ file: string | null; format: string; added: number; removed: number; diff: string }>;
  flags?: string[];
  budget_alerts?: Array<{ scope: string; value: string | null; period: string; mode: string; threshold: number; spent_usd: number; limit_usd: number }>;
  /** Reversible redaction: placeholders issued, and what happened to them in the reply (counts, never values). */
  restores?: {
    issued: Array<{ count: number; type: string }>;
    restored: Array<{ count: number; type: string; where: string }>;
    withheld: Array<{ count: number; type: string; where: string }>;
    unknown: number;
  };
  /** The event was cut to fit the size bound: its size before, and what was dropped. */
  truncated?: { bytes: number; dropped: string[] };
}

export interface Redaction {
  type: string;
  rule: string;
  source: string;
  phase: string;
  count: number;
  /** The first locations only: `count` may be larger. */
  locations: Array<{ path: string | null; start: number; end: number; value_hash: string | null }>;
}

export interface LegacyRedaction {
  type: string;
  rule: string;
  source: string;
  location: { phase: string; path: string | null; start: number; end: number };
  value_hash: string | null;
}

/** How many values an event's redactions cover, by type, whichever shape the event was recorded in. */
export function redactedByType(e: Pick<DecisionEvent, 'redactions'>): Map<string, number> {
  const byType = new Map<string, number>();
  for (const r of e.redactions) byType.set(r.type, (byType.get(r.type) ?? 0) + ('count' in r ? r.count : 1));
  return byType;
}

export interface EventJson {
  pos: number;
  chain: string;
  seq: number;
  id: string;
  prev_hash: string;
  hash: string;
  event: DecisionEvent;
}

export interface UsageRow {
  key: string | null;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  unpriced_requests: number;
}

export interface Stats {
  requests: number;
  verdicts: Record<string, number>;
  block_rate: number;
  redaction_rate: number;
  spend: { window_usd: number | null; today_usd: number; week_usd: number; unpriced_requests: number };
  top_developers: UsageRow[];
  top_repositories: UsageRow[];
  top_models: UsageRow[];
}

export interface VerifyReport {
  status: 'verified' | 'linked' | 'failed';
  seq: number;
  chain: string;
  body_ok: boolean;
  prev: string;
  next: string;
  checkpoint: { seq: number; key_id: string; ts: string; signature_ok: boolean; covers: boolean | null } | null;
  problems: string[];
}

export interface BudgetStatus {
  scope: string;
  match: string | null;
  value: string | null;
  period: string;
  mode: string;
  limitUsd: number;
  spentUsd: number;
  periodStart: string;
  periodEnd: string;
}

export type Budgets = { available: true; data: BudgetStatus[] } | { available: false; message: string };

const TOKEN_KEY = 'keeptrusts.console.token';

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Listeners told when the token is refused (revoked, or the gateway restarted with a new one). */
const onUnauthorized = new Set<() => void>();
export function whenUnauthorized(fn: () => void): () => void {
  onUnauthorized.add(fn);
  return () => onUnauthorized.delete(fn);
}

export type Params = Record<string, string | number | undefined | null | false>;

export function query(params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== false && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Who is signed in through the control plane's OIDC sign-in (GET /v1/session); null when a token is used. */
export interface Me {
  kind: 'session';
  id: string;
  subject: string;
  email: string | null;
  name: string | null;
  role: 'reader' | 'admin';
  csrf_token: string;
  expires_at: string;
}

// The session's CSRF token, in memory only: every state-changing request sends it back in X-CSRF-Token.
let csrf: string | null = null;
export function setCsrf(token: string | null): void {
  csrf = token;
}

/** A token when the user signed in with one; otherwise none, and the session cookie (same origin) speaks. */
function authHeaders(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** Whether the control plane offers OIDC sign-in (a gateway's own console never does). */
export async function authStatus(): Promise<{ oidc: boolean; login_url: string | null }> {
  try {
    const res = await fetch('/auth/status', { headers: { accept: 'application/json' } });
    if (!res.ok) return { oidc: false, login_url: null };
    return (await res.json()) as { oidc: boolean; login_url: string | null };
  } catch {
    return { oidc: false, login_url: null };
  }
}

/** The signed-in session, or null when there is none (no cookie, expired, signed out). */
export async function currentSession(): Promise<Me | null> {
  const res = await fetch('/v1/session', { headers: { accept: 'application/json' } });
  if (!res.ok) return null;
  const me = (await res.json()) as Me | { kind: 'token' };
  return me.kind === 'session' ? me : null;
}

/** A JSON POST (token management, escalation decisions, revoking an exception); errors as `api` raises them. */
export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  const headers: Record<string, string> = { ...authHeaders(getToken()), accept: 'application/json', 'content-type': 'application/json' };
  if (csrf) headers['x-csrf-token'] = csrf;
  const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  return answer<T>(res);
}

export async function api<T>(path: string, params: Params = {}, token = getToken(), signal?: AbortSignal): Promise<T> {
  const res = await fetch(`${path}${query(params)}`, { headers: { ...authHeaders(token), accept: 'application/json' }, ...(signal ? { signal } : {}) });
  return answer<T>(res);
}

async function answer<T>(res: Response): Promise<T> {
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      // not JSON
    }
    if (res.status === 401) for (const fn of onUnauthorized) fn();
    throw new ApiError(res.status, message);
  }
  return (await res.json()) as T;
}

export interface Escalation {
  id: string;
  state: 'open' | 'approved' | 'denied' | 'expired';
  created_at: string;
  expires_at: string;
  gateway: string;
  request_id: string;
  event_id: string | null;
  developer: string | null;
  repository: string | null;
  team: string | null;
  model: string | null;
  policy: string;
  finding_type: string | null;
  rule: string | null;
  decided_at: string | null;
  reviewer: string | null;
  reason: string | null;
  exception_id: string | null;
}

export interface EscalationException {
  id: string;
  escalation_id: string | null;
  developer: string | null;
  repository: string | null;
  policy: string;
  rule: string | null;
  created_at: string;
  expires_at: string;
  created_by: string;
  revoked_at: string | null;
}

/**
 * Follow `GET /v1/events/stream` with the token in a header (EventSource cannot send one): read the response
 * as a stream, split server-sent events, and reconnect from the last position after a drop.
 */
export function tail(params: Params, onEvent: (e: EventJson) => void, onState: (state: 'live' | 'reconnecting' | 'error', message?: string) => void): () => void {
  const controller = new AbortController();
  let last: string | null = null;
  const run = async (): Promise<void> => {
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(`/v1/events/stream${query({ ...params, after: last ?? undefined })}`, {
          headers: { ...authHeaders(getToken()), accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (!res.ok || !res.body) {
          if (res.status === 401) for (const fn of onUnauthorized) fn();
          onState('error', `live tail refused: ${res.status}`);
          return;
        }
        onState('live');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let event = 'message';
            let id: string | null = null;
            const data: string[] = [];
            for (const line of frame.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (event === 'decision' && data.length) {
              if (id) last = id;
              onEvent(JSON.parse(data.join('\n')) as EventJson);
            }
          }
        }
      } catch (err) {
        if (controller.signal.aborted) return;
        onState('reconnecting', (err as Error).message);
      }
      if (controller.signal.aborted) return;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  void run();
  return () => controller.abort();
}

export function usd(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined) return '—';
  if (v !== 0 && Math.abs(v) < 0.01) return `$${v.toFixed(4)}`;
  return `$${v.toFixed(digits)}`;
}

export function pct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

export function num(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : v.toLocaleString('en-US');
}

export function shortTime(ts: string): string {
  const d = new Date(ts);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}Z`;
}
