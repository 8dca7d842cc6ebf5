/**
 * The first step of every request to a keeptrusts server (the gateway, its console, `kt server`): refuse what a
 * web page could make a browser send. Three holes, one guard:
 *
 * - DNS rebinding: a page on attacker.example whose name later resolves to 127.0.0.1 talks to a local server
 *   as its own origin. The browser still sends `Host: attacker.example`, so a loopback listener accepts only
 *   names that cannot be rebound: `localhost`, `*.localhost` and IP literals (an IP has no DNS to rebind),
 *   plus the names an operator allows.
 * - Cross-site requests: a page may send a POST without a preflight when its content type is text/plain, a
 *   form type or multipart (the CORS-safelisted ones), and its Origin header then names the page. Any request
 *   that carries a foreign Origin (or `Sec-Fetch-Site: cross-site`/`same-site`) is refused unless that origin
 *   is allowed; our own origin (the console) always is.
 * - Even a browser that sent no Origin could not reach an API: every POST must be `application/json`, which
 *   no page can send without a preflight that this guard answers only for allowed origins.
 *
 * Real API clients (the OpenAI and Anthropic SDKs in Node, Claude Code, Codex, Aider through LiteLLM, curl)
 * send no Origin and no Sec-Fetch-Site, and name the server as they were told to, so they never meet it.
 *
 * `judge` is the whole decision, pure and total; `RequestGuard` applies it to node:http objects.
 */
import { isIP } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './logger.js';

/** What an operator configures (`--allowed-hosts`, `--allowed-origins`). */
export interface AccessOptions {
  /** Host names served besides loopback names and IP literals: `gw.corp.example`, `.corp.example` (any subdomain), `*` (any name). */
  allowedHosts?: readonly string[];
  /** Browser origins (`https://app.example:8443`) that may call the API from their pages. */
  allowedOrigins?: readonly string[];
}

/** The parsed, validated form of AccessOptions for one listener. */
export interface AccessRules {
  /**
   * `listed`: only loopback names, IP literals and the allowed names. `any`: every Host is served; a loopback
   * listener is never `any` unless `*` is allowed, a wider listener is `any` until names are listed.
   */
  readonly hostMode: 'listed' | 'any';
  readonly hostNames: ReadonlySet<string>;
  /** `.corp.example`: names ending in it (not the bare `corp.example`, which is listed by itself when wanted). */
  readonly hostSuffixes: readonly string[];
  /** Serialized origins (`scheme://host[:port]`, lowercase, default port omitted), compared as strings. */
  readonly origins: ReadonlySet<string>;
}

export class AccessConfigError extends Error {
  override name = 'AccessConfigError';
}

/** The headers the decision reads, each as one string (a header sent twice arrives joined and so fails to match). */
export interface GuardInput {
  method: string;
  host?: string | undefined;
  origin?: string | undefined;
  secFetchSite?: string | undefined;
  secFetchMode?: string | undefined;
  contentType?: string | undefined;
  /** `Access-Control-Request-Method`: present on a CORS preflight. */
  preflightMethod?: string | undefined;
}

export type RefusalReason = 'host' | 'origin' | 'content_type';

export interface Refusal {
  kind: 'refuse';
  status: 403 | 415;
  reason: RefusalReason;
  code: 'host_not_allowed' | 'origin_not_allowed' | 'unsupported_content_type';
  /** Says what to do; header values in it are cut to a short, printable form. */
  message: string;
}

export type GuardDecision =
  | { kind: 'pass'; corsOrigin?: string }
  /** A CORS preflight from an allowed origin: answered here, never routed. */
  | { kind: 'preflight'; corsOrigin: string }
  | Refusal;

const NAME = /^[a-z0-9_.-]{1,253}$/;
/** The answer for nearly every request, made once. */
const PASS: GuardDecision = Object.freeze({ kind: 'pass' });
const PORT_SUFFIX = /^:\d{1,5}$/;

/** Parse the operator's lists. Throws AccessConfigError naming the first bad entry. */
export function accessRules(listenHost: string, options: AccessOptions = {}): AccessRules {
  const names = new Set<string>();
  const suffixes: string[] = [];
  let any = false;
  for (const raw of options.allowedHosts ?? []) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') {
      any = true;
      continue;
    }
    const suffix = entry.startsWith('*.') ? entry.slice(1) : entry.startsWith('.') ? entry : undefined;
    const name = suffix ? suffix.slice(1) : entry;
    if (suffix !== undefined ? !NAME.test(name) || name.startsWith('.') : hostName(entry) !== entry) {
      throw new AccessConfigError(
        `allowed host ${JSON.stringify(shown(raw))} is not a host name: give names without scheme or port, e.g. gateway.corp.example, .corp.example for its subdomains, or * for any`,
      );
    }
    if (suffix !== undefined) suffixes.push(suffix);
    else names.add(entry);
  }
  const origins = new Set<string>();
  for (const raw of options.allowedOrigins ?? []) {
    const entry = raw.trim();
    if (entry === '') continue;
    origins.add(parseOrigin(entry));
  }
  const listed = names.size > 0 || suffixes.length > 0;
  const hostMode = any || (!isLoopbackListener(listenHost) && !listed) ? 'any' : 'listed';
  return { hostMode, hostNames: names, hostSuffixes: suffixes, origins };
}

/** Whether a listen address only takes connections from this machine. */
export function isLoopbackListener(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || (isIP(h) === 4 && h.startsWith('127.'))) return true;
  if (isIP(h) !== 6) return false;
  // Spelled any way (0:0:0:0:0:0:0:1, ::ffff:127.0.0.1), an IPv6 address has one canonical form.
  let canonical: string;
  try {
    canonical = new URL(`http://[${h}]/`).hostname;
  } catch {
    return false; // a zone id (fe80::1%eth0): a link, not loopback
  }
  return canonical === '[::1]' || canonical.startsWith('[::ffff:7f');
}

function parseOrigin(entry: string): string {
  const bad = (why: string) =>
    new AccessConfigError(`allowed origin ${JSON.stringify(shown(entry))} ${why}: give scheme://host[:port] as a browser sends it, e.g. https://app.example.com or http://localhost:5173`);
  if (entry === '*' || entry.toLowerCase() === 'null') throw bad('is not accepted (every origin would be allowed)');
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    throw bad('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('must be http or https');
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/' || /[?#]/.test(entry)) {
    throw bad('has more than an origin');
  }
  return url.origin;
}

/**
 * The name part of a Host header, lowercase (IPv6 in brackets), or undefined when it is not a well-formed
 * `name[:port]`.
 */
export function hostName(header: string): string | undefined {
  if (header.length > 300) return undefined;
  const v = header.toLowerCase();
  let name: string;
  let rest: string;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return undefined;
    name = v.slice(0, end + 1);
    rest = v.slice(end + 1);
    if (isIP(v.slice(1, end)) !== 6) return undefined;
  } else {
    const colon = v.indexOf(':');
    name = colon < 0 ? v : v.slice(0, colon);
    rest = colon < 0 ? '' : v.slice(colon);
    if (!NAME.test(name)) return undefined;
  }
  if (rest !== '' && !PORT_SUFFIX.test(rest)) return undefined;
  return name;
}

/** Names no DNS answer can point elsewhere: browsers resolve `localhost` and `*.localhost` to loopback themselves. */
function unrebindable(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost') || name.startsWith('[') || isIP(name) === 4;
}

/**
 * `trusted`: a name only we can be reached by (so a page whose origin carries it is ours); `accepted`: served
 * because the listener takes any name; `refused`.
 */
function classifyHost(rules: AccessRules, header: string | undefined): 'trusted' | 'accepted' | 'refused' {
  const name = header === undefined ? undefined : hostName(header);
  if (name !== undefined && (unrebindable(name) || rules.hostNames.has(name) || rules.hostSuffixes.some((s) => name.endsWith(s)))) return 'trusted';
  return rules.hostMode === 'any' ? 'accepted' : 'refused';
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase() === 'application/json';
}

/** The decision for one request. Pure, total (never throws) and linear in the header lengths. */
export function judge(rules: AccessRules, input: GuardInput): GuardDecision {
  const host = classifyHost(rules, input.host);
  if (host === 'refused') {
    const name = input.host === undefined ? undefined : hostName(input.host);
    return {
      kind: 'refuse',
      status: 403,
      reason: 'host',
      code: 'host_not_allowed',
      message:
        name === undefined
          ? 'this server answers only requests whose Host header names it as localhost or by IP address; this request had none it could read'
          : `this server does not answer to the name "${shown(name)}" (a defence against DNS rebinding); to serve it under that name, start it with --allowed-hosts ${shown(name)} (or KEEPTRUSTS_ALLOWED_HOSTS)`,
    };
  }
  let corsOrigin: string | undefined;
  const origin = input.origin;
  if (origin !== undefined) {
    if (rules.origins.has(origin)) corsOrigin = origin;
    else if (!(host === 'trusted' && sameOrigin(origin, input.host!))) return originRefusal(`from a page at ${JSON.stringify(shown(origin))}`, origin === 'null' ? undefined : origin);
  } else if (foreignSite(input.secFetchSite) && !(isSafeMethod(input.method) && input.secFetchMode === 'navigate')) {
    // A request without Origin that a browser still marks as made by another site: a no-cors GET (an image, a script tag).
    return originRefusal('made by a page on another site', undefined);
  }
  if (input.method === 'OPTIONS' && corsOrigin !== undefined && input.preflightMethod !== undefined) return { kind: 'preflight', corsOrigin };
  if (input.method === 'POST' && !isJson(input.contentType)) {
    const got = input.contentType === undefined ? 'none was sent' : `got ${JSON.stringify(shown(input.contentType))}`;
    return {
      kind: 'refuse',
      status: 415,
      reason: 'content_type',
      code: 'unsupported_content_type',
      message: `request bodies must be JSON sent as Content-Type: application/json (${got}); with curl, add -H 'content-type: application/json'`,
    };
  }
  return corsOrigin !== undefined ? { kind: 'pass', corsOrigin } : PASS;
}

function originRefusal(what: string, origin: string | undefined): Refusal {
  const hint = origin !== undefined ? `start the server with --allowed-origins ${shown(origin)}` : 'allow its origin with --allowed-origins';
  return {
    kind: 'refuse',
    status: 403,
    reason: 'origin',
    code: 'origin_not_allowed',
    message: `browser requests ${what} are refused (a defence against cross-site requests); if that web app should call this server directly, ${hint} (or KEEPTRUSTS_ALLOWED_ORIGINS)`,
  };
}

/** Our own origin: the console's page, served under a name that only reaches us. */
function sameOrigin(origin: string, hostHeader: string): boolean {
  const host = hostHeader.toLowerCase();
  return origin === `http://${host}` || origin === `https://${host}`;
}

/** Anything but `same-origin` and `none` (typed in the address bar) counts as another site, unknown values included. */
function foreignSite(value: string | undefined): boolean {
  return value !== undefined && value !== 'same-origin' && value !== 'none';
}

function isSafeMethod(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** A header value as it may appear in a message or log: printable ASCII without quotes, at most 100 characters. */
export function shown(value: string): string {
  const cut = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return cut.replace(/[^\x21-\x7e…]|["'\\`]/g, '?');
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export function guardInputOf(req: IncomingMessage): GuardInput {
  const h = req.headers;
  return {
    method: req.method ?? 'GET',
    host: h.host,
    origin: single(h.origin),
    secFetchSite: single(h['sec-fetch-site']),
    secFetchMode: single(h['sec-fetch-mode']),
    contentType: h['content-type'],
    preflightMethod: single(h['access-control-request-method']),
  };
}

/** Response headers a browser page may read: our ids and verdicts, and what the SDKs look at to retry. */
const EXPOSED = 'x-keeptrusts-request-id, x-keeptrusts-event-id, x-keeptrusts-verdict, x-keeptrusts-quality-score, x-keeptrusts-quality-reasons, retry-after, retry-after-ms, x-should-retry, request-id, x-request-id';
/** `Access-Control-Request-Headers` echoed only when it is a plain list of header names. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:[ \t]*,[ \t]*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

export interface RequestGuardHooks {
  logger?: Logger;
  /** Counted per reason (a metric): refusals are not decision events (docs/architecture.md). */
  onRefuse?: (reason: RefusalReason) => void;
}

export class RequestGuard {
  private readonly logged = new Set<RefusalReason>();

  constructor(
    readonly rules: AccessRules,
    private readonly hooks: RequestGuardHooks = {},
  ) {}

  /**
   * True when the request may go on (CORS headers for an allowed origin are already set on `res`); false when
   * it was answered here: a preflight, or a refusal rendered by `refuse` in the server's own error shape.
   */
  admit(req: IncomingMessage, res: ServerResponse, refuse: (refusal: Refusal) => void): boolean {
    const decision = judge(this.rules, guardInputOf(req));
    if (decision.kind === 'pass') {
      if (decision.corsOrigin !== undefined) {
        res.setHeader('access-control-allow-origin', decision.corsOrigin);
        res.setHeader('access-control-expose-headers', EXPOSED);
        res.setHeader('vary', 'Origin');
      }
      return true;
    }
    if (decision.kind === 'preflight') {
      const asked = single(req.headers['access-control-request-headers']);
      res.writeHead(204, {
        'access-control-allow-origin': decision.corsOrigin,
        'access-control-allow-methods': 'GET, HEAD, POST',
        ...(asked !== undefined && asked.length <= 2048 && HEADER_LIST.test(asked) ? { 'access-control-allow-headers': asked } : {}),
        'access-control-max-age': '600',
        vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
      });
      res.end();
      return false;
    }
    this.hooks.onRefuse?.(decision.reason);
    // The first refusal of each kind is worth an operator's attention; a flood of them is not worth a log line each.
    const first = !this.logged.has(decision.reason);
    this.logged.add(decision.reason);
    this.hooks.logger?.[first ? 'warn' : 'debug'](
      { reason: decision.reason, method: shown(req.method ?? ''), status: decision.status },
      first ? 'refused a request before routing: foreign host or origin, or a POST that is not JSON (docs/cli.md; further refusals are logged at debug level)' : 'refused a request before routing',
    );
    refuse(decision);
    return false;
  }
}
