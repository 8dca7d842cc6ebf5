import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { LoadedConfig } from '../config/index.js';
import { buildChain } from '../policy/build.js';
import type { PolicyChain } from '../policy/engine.js';
import type { Verdict } from '../policy/types.js';
import { writeBack } from '../protocol/content.js';
import { addMember, normalise, parseExchange, type Exchange } from '../protocol/exchange.js';
import { requestSegments, requestView, uncheckableReplyOption } from '../protocol/families.js';
import { clientKey, CredentialStore } from '../providers/credentials.js';
import { isVirtualKey, type VirtualKeyStore } from '../usage/keys.js';
import { ANTHROPIC_VERSION, type Translator } from '../protocol/translate/index.js';
import { configuredModelNames, modelNames, resolveTarget, Router, type Family, type RouteCandidate, type Target } from '../providers/targets.js';
import { classifyUpstreamError, forwardHeaders, UpstreamClient } from '../providers/upstream.js';
import type { Dispatcher } from 'undici';
import { BreakerBoard, type BreakerState } from '../providers/breaker.js';
import { routeRequest, type RoutingDeps } from './routing/attempts.js';
import { VERSION } from '../version.js';
import { DecisionContext, type AuditSettings } from '../audit/context.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { ExportStats } from '../audit/export/exporter.js';
import type { Tracing } from '../telemetry/tracing.js';
import { outcomeOf } from '../telemetry/outcome.js';
import { GatewayMetrics } from './metrics.js';
import { relay } from './reply/relay.js';
import { runPipeline, type PipelineStep } from './pipeline.js';
import { Restore } from '../stream/restore.js';
import type { PlaceholderVault } from '../policy/placeholders.js';
import type { LocalConsole } from '../server/local-console.js';
import { costOf, priceFor, type PriceOverrides } from '../usage/pricing.js';
import { StreamMeter, wantsIncludeUsage } from '../usage/meter.js';
import { warmTokenizer } from '../usage/tokens.js';
import { limitError, scopeValuesFromAttribution } from '../usage/limits/index.js';
import type { LimitEngine } from '../usage/limits/types.js';
import { closesConnection, readBody, type BodyLimits } from './body.js';
import { createBoundedServer, listenerLimits, type ListenerLimits } from './bounded-server.js';
import { GatewayError, notFound, refusalError, sendError, type ErrorShape } from './errors.js';
import { ClientGone } from './client-gone.js';
import { finalRefusal, policyNotice, refOf } from './refusal.js';
import { ConcurrencyLimiter } from './limiter.js';
import type { Logger } from './logger.js';
import { anthropicModel, anthropicModelList, catalogueModels, dedupeModels, idsFromUpstream, namedModels, openAiModel, openAiModelList, listTargets, type ListFamily, type ModelEntry } from './models.js';
import { matchRoute, type Route } from './routes.js';
import { isLoopback, listenHttp } from './listen.js';
import type { TlsMaterial } from './tls.js';
import { OperatorAuth } from './operator-auth.js';
import { Reloader, reloadedSettings, type ReloadResult } from './reload.js';
import { accessRules, RequestGuard, type AccessOptions } from './request-guard.js';
import type { EscalationDesk } from '../escalation/desk.js';
import type { EscalationRecord } from '../escalation/types.js';
import type { ChainOutcome } from '../policy/engine.js';
import type { Segment } from '../protocol/content.js';
import { receiversOf, type WebhookDispatcher } from '../webhooks/dispatcher.js';
import { escalationRefusal } from './refusal.js';

export interface GatewayOptions {
  loaded: LoadedConfig;
  host: string;
  port: number;
  logger: Logger;
  failMode: 'block' | 'allow';
  maxConcurrency: number;
  maxBodyBytes: number;
  /** The reply budget (default 64 MiB): the most bytes of one reply the gateway holds to check it. */
  maxResponseBytes?: number;
  env?: NodeJS.ProcessEnv;
  /** The audit trail: present when `audit-logger` is in the chain. */
  audit?: { recorder: AuditRecorder; settings: AuditSettings; exportStats?: () => ExportStats[] };
  /** Serve Prometheus metrics at /metrics (default true). */
  metrics?: boolean;
  /** Salt for hash markers; stable per installation when the data dir is known. */
  markerSalt?: string;
  /** Budgets and rate limits (admitted before the upstream call, settled with the metered cost). */
  limits?: LimitEngine;
  /** Gateway virtual keys (`kt keys create`): clients use one as their API key; the target's own key goes upstream. */
  virtualKeys?: VirtualKeyStore;
  /** The web console and its read API over the gateway's store (kt gateway run). */
  console?: LocalConsole;
  /** Attribution when a request names nobody: the gateway's --developer/--repository/--team, then git. */
  attribution?: { defaults: AuditSettings['defaults']; git: AuditSettings['git'] };
  /** Host names and browser origins served besides loopback names (--allowed-hosts, --allowed-origins). */
  access?: AccessOptions;
  /** Unlocks /health's details and /metrics, as the console token does (--metrics-token). */
  metricsToken?: string;
  /** Timeouts and the connection cap of the listener; each defaults as listenerLimits() says. */
  listener?: Partial<ListenerLimits>;
  /** Serve HTTPS with this certificate and key (--tls-cert, --tls-key). */
  tls?: TlsMaterial;
  /**
   * `virtual-key`: every API request (inference, models) must carry a known gateway virtual key as its API key;
   * `none` (the default here; the CLI's default beyond loopback is `virtual-key`): any client is served.
   */
  clientAuth?: ClientAuth;
  /** OpenTelemetry traces of requests (telemetry.traces); absent when off. */
  tracing?: Tracing;
  /** Escalations: where a request a policy escalated is held for a reviewer (absent: escalate answers as a block). */
  escalations?: EscalationDesk;
  /** Webhook deliveries; configured from each config generation's `webhooks`. */
  webhooks?: WebhookDispatcher;
}

export type ClientAuth = 'virtual-key' | 'none';
export const CLIENT_AUTH_MODES = ['virtual-key', 'none'] as const satisfies readonly ClientAuth[];

export interface RunningGateway {
  url: string;
  host: string;
  port: number;
  server: Server;
  /** The bounds in force: timeouts, connection cap. */
  limits: ListenerLimits;
  /** Re-read every config file; a valid config takes new requests at once, an invalid one changes nothing. */
  reload(): Promise<ReloadResult>;
  /** A new certificate and key for connections from now on (HTTPS only; open connections are kept). */
  setTls(material: TlsMaterial): void;
  /**
   * Stop being ready while still serving: /readyz answers 503 and every response closes its connection, so a
   * load balancer's health checks take this gateway out before `close()` stops accepting (a request already on
   * its way over a pooled connection is still answered instead of cut).
   */
  drain(): void;
  close(): Promise<void>;
}

/** The reply budget: the most bytes of one reply held to check it; over it the reply fails rather than passing unchecked. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Listing models waits this long at most for a pass-through target's upstream, and reads this much of its answer. */
const MODELS_TIMEOUT_MS = 5_000;
const MODELS_MAX_BYTES = 1024 * 1024;

/** The body as text, or undefined past `max` bytes (the rest is dropped). */
async function readCapped(body: Dispatcher.ResponseData['body'], max: number): Promise<string | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Timings of one request, logged at debug level and (later) carried on its decision event. */
interface Timing {
  start: number;
  upstreamStart?: number;
  upstreamHeaders?: number;
}

/** One inference request as the pipeline's steps fill it in. */
interface InferenceState {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly family: Family;
  readonly query: string;
  readonly requestId: string;
  readonly timing: Timing;
  readonly ctx: DecisionContext;
  readonly gone: ClientGone;
  ex?: Exchange;
  restore?: Restore | undefined;
  inputVerdict: Verdict;
  candidates: readonly RouteCandidate[];
  /** Gives the concurrency slot back (set once one is held). */
  release?: () => void;
  upstream?: { response: Dispatcher.ResponseData; targetId: string; translator: Translator | undefined };
}

/**
 * What outlives a config: connection pools, the concurrency limit, circuit breakers, metrics and the process's
 * state. Each config generation (a Gateway) serves with the one its predecessor had (src/gateway/reload.ts).
 */
export interface SharedState {
  upstream: UpstreamClient;
  limiter: ConcurrencyLimiter;
  breakers: BreakerBoard;
  metrics: GatewayMetrics | undefined;
  life: { ready: boolean; draining: boolean; processed: number; startedAt: number };
  /** Reload the config files (POST /admin/reload); set by startGateway. */
  reload?: () => Promise<ReloadResult>;
}

export class Gateway {
  readonly targets: Target[];
  private readonly router: Router;
  private readonly credentials: CredentialStore;
  private readonly upstream: UpstreamClient;
  /** Circuit breakers by target id, and what a request's tries need (src/gateway/routing/attempts.ts). */
  readonly breakers: BreakerBoard;
  private readonly routing: RoutingDeps;
  private readonly limiter: ConcurrencyLimiter;
  readonly listenerLimits: ListenerLimits;
  private readonly bodyLimits: BodyLimits;
  readonly chain: PolicyChain;
  readonly shared: SharedState;
  private readonly life: SharedState['life'];
  private auditSettings: AuditSettings;
  /** The audit trail needs the reply's text (captured completion, proposed edits) even without output policies. */
  private readonly needsReply: boolean;
  private readonly needsRequestText: boolean;
  private readonly metrics: GatewayMetrics | undefined;
  /** Tokens and cost are metered when something records or limits them. */
  private readonly needsUsage: boolean;
  private readonly priceOverrides: PriceOverrides | undefined;
  private readonly guard: RequestGuard;
  private readonly operators: OperatorAuth;

  /** `shared`: the previous generation's, when this one replaces it (a config reload). */
  constructor(
    private readonly opts: GatewayOptions,
    shared?: SharedState,
  ) {
    const { config } = opts.loaded;
    this.targets = config.providers.targets.map((t) => resolveTarget(t, config.providers));
    this.router = new Router(this.targets, config.providers.strategy);
    this.credentials = CredentialStore.fromEnv(this.targets, opts.env ?? process.env);
    const upstreamConnections = Math.max(opts.maxConcurrency, 8);
    this.shared = shared ?? {
      upstream: new UpstreamClient(upstreamConnections),
      limiter: new ConcurrencyLimiter(opts.maxConcurrency, opts.maxConcurrency * 16),
      breakers: new BreakerBoard(),
      metrics: undefined,
      life: { ready: false, draining: false, processed: 0, startedAt: Date.now() },
    };
    this.life = this.shared.life;
    this.upstream = this.shared.upstream;
    this.limiter = this.shared.limiter;
    this.breakers = this.shared.breakers;
    this.breakers.update(this.targets);
    this.routing = { upstream: this.upstream, credentials: this.credentials, breakers: this.breakers, logger: opts.logger };
    // Twice the pool size: idle connections to a second origin may stay open beside the busy ones.
    this.listenerLimits = listenerLimits(opts.listener ?? {}, 2 * upstreamConnections);
    this.bodyLimits = { maxBytes: opts.maxBodyBytes, idleTimeoutMs: this.listenerLimits.bodyIdleTimeoutMs, totalTimeoutMs: this.listenerLimits.requestTimeoutMs };
    this.chain = buildChain(config, opts.failMode, opts.markerSalt ? { markerSalt: opts.markerSalt } : undefined);
    this.auditSettings = opts.audit?.settings ?? {
      gatewayId: '',
      config: { name: config.pack.name, version: config.pack.version, sha256: opts.loaded.sha256 },
      capture: 'none',
      captureMaxBytes: 0,
      logAllAccess: false,
      hipaa: false,
      salt: '',
      defaults: {},
      recordsEvents: false,
    };
    if (opts.attribution) this.auditSettings = { ...this.auditSettings, defaults: opts.attribution.defaults, git: opts.attribution.git ?? null };
    if (this.auditSettings.capture !== 'none') this.auditSettings = { ...this.auditSettings, maskCapture: (text, source) => this.chain.mask(source.startsWith('output') ? 'output' : 'input', text, source) };
    this.needsReply = opts.audit !== undefined && this.auditSettings.capture !== 'none';
    this.needsRequestText = opts.audit !== undefined;
    this.needsUsage = opts.audit !== undefined || opts.limits !== undefined;
    this.priceOverrides = config.pricing?.models;
    if (this.needsUsage) warmTokenizer();
    if (!shared && opts.metrics !== false) {
      const board = this.breakers;
      this.shared.metrics = new GatewayMetrics(
        this.targets.map((t) => t.id),
        opts.audit ? () => opts.audit!.recorder.stats() : undefined,
        opts.audit?.recorder.ingestStatus() ? () => opts.audit!.recorder.ingestStatus() : undefined,
        configuredModelNames(this.targets),
        () => breakerStates(board),
      );
    } else {
      this.shared.metrics?.adoptConfig(this.targets.map((t) => t.id), configuredModelNames(this.targets));
    }
    if (!shared && opts.audit?.exportStats) this.shared.metrics?.watchExports(opts.audit.exportStats);
    this.metrics = this.shared.metrics;
    this.guard = new RequestGuard(accessRules(opts.host, opts.access), { logger: opts.logger, onRefuse: (reason) => this.metrics?.refused(reason) });
    this.operators = new OperatorAuth([opts.console?.token, opts.metricsToken], isLoopback(opts.host) && !opts.metricsToken);
    const esc = config.escalation;
    opts.escalations?.configure({ holdSeconds: esc.hold_seconds, maxHeld: esc.max_held, pollMs: esc.poll_ms });
    // A missing signing secret fails the start (or the reload): deliveries are never sent unsigned.
    opts.webhooks?.configure(receiversOf(config.webhooks, opts.env ?? process.env));
  }

  setReady(ready: boolean): void {
    this.life.ready = ready;
  }

  get loaded(): LoadedConfig {
    return this.opts.loaded;
  }

  /**
   * Shutting down: not ready, and every response from now on closes its connection. A client that keeps a
   * keep-alive connection busy would otherwise be served until the grace period ends and then be cut off
   * mid-response; this way it gets its answer and reconnects to whichever gateway takes over.
   */
  beginClose(): void {
    this.life.ready = false;
    this.life.draining = true;
    // Held requests would keep the drain waiting until its grace period cut them off.
    this.opts.escalations?.releaseAll();
  }

  async close(): Promise<void> {
    this.life.ready = false;
    await this.opts.console?.close();
    await this.upstream.close();
  }

  /** The node:http request listener. Never throws: every failure becomes an error response in the client's shape. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const timing: Timing = { start: performance.now() };
    if (this.life.draining) res.setHeader('connection', 'close');
    const requestId = requestIdFor(req);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : '';
    // Before anything reads the request: a page in a browser must not reach any route (src/gateway/request-guard.ts).
    if (!this.guard.admit(req, res, (refusal) => sendError(res, errorShapeFor(req, safeMatch(pathname)), refusalError(refusal), requestId))) return;
    if (this.opts.console?.handles(pathname)) {
      this.opts.console.handle(req, res);
      return;
    }
    const route = safeMatch(pathname);
    const shape = errorShapeFor(req, route);
    this.dispatch(req, res, route, query, requestId, timing).catch((err: unknown) => {
      const gwErr =
        err instanceof GatewayError ? err : new GatewayError(500, 'api_error', 'internal gateway error', { code: 'internal_error' });
      if (!(err instanceof GatewayError)) this.opts.logger.error({ requestId, err: describeInternal(err) }, 'unhandled error');
      if (!res.writableEnded && !res.destroyed) {
        if (closesConnection(gwErr.status)) res.setHeader('connection', 'close');
        sendError(res, shape, gwErr, requestId);
      }
      this.logDone(req, res, route, requestId, timing, undefined, gwErr.status);
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse, route: Route, query: string, requestId: string, timing: Timing) {
    const method = req.method ?? 'GET';
    switch (route.kind) {
      case 'inference':
        if (method !== 'POST') throw methodNotAllowed(method, 'POST');
        return this.inference(req, res, route.family, query, requestId, timing);
      case 'models':
        if (method !== 'GET') throw methodNotAllowed(method, 'GET');
        await this.requireClientKey(req);
        return this.models(req, res, route.id, requestId);
      case 'health':
        // Liveness for anyone; what the deployment is and costs only for its operator (src/gateway/operator-auth.ts).
        return sendJson(res, 200, this.operators.granted(req.headers.authorization) ? this.health() : { status: this.status(), version: VERSION }, requestId);
      case 'healthz':
        return sendJson(res, 200, { status: 'ok' }, requestId);
      case 'readyz':
        return sendJson(res, this.life.ready ? 200 : 503, { ready: this.life.ready }, requestId);
      case 'metrics': {
        if (!this.metrics) throw notFound('metrics are turned off for this gateway', 'unknown_route');
        this.operators.requireForMetrics(req.headers.authorization);
        const { contentType, body } = await this.metrics.render();
        res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
        res.end(method === 'HEAD' ? undefined : body);
        return;
      }
      case 'admin_reload': {
        if (method !== 'POST') throw methodNotAllowed(method, 'POST');
        // Always the operator's: changing what judges requests is not for anyone who can reach the port.
        if (!this.operators.granted(req.headers.authorization)) {
          throw new GatewayError(401, 'authentication_error', '/admin/reload needs Authorization: Bearer <token>, with the console token (kt console url) or the metrics token (--metrics-token)', {
            code: 'missing_operator_token',
          });
        }
        if (!this.shared.reload) throw notFound('this gateway cannot reload its config', 'unknown_route');
        const result = await this.shared.reload();
        return sendJson(res, result.ok ? 200 : 422, result, requestId);
      }
      case 'root':
        // Claude Code probes `HEAD /` before its first call.
        return sendJson(res, 200, { name: 'keeptrusts gateway', version: VERSION, health: '/health' }, requestId, method === 'HEAD');
      case 'unknown':
        throw notFound(`no route for ${method} ${truncate(req.url ?? '/', 200)}`, 'unknown_route');
    }
  }

  /**
   * Serving goes on when degraded, but an audit trail in trouble needs an operator, and everyone may see that
   * much: a chain that no longer matches what was signed, or ingestion stalled (events wait in the journal).
   */
  private status(): 'starting' | 'healthy' | 'degraded' {
    if (!this.life.ready) return 'starting';
    const audit = this.opts.audit?.recorder;
    if (!audit) return 'healthy';
    const exportFailed = this.opts.audit?.exportStats?.().some((s) => s.state === 'failed') ?? false;
    return audit.stats().integrity.status === 'broken' || audit.ingestStatus()?.state === 'stalled' || exportFailed ? 'degraded' : 'healthy';
  }

  health(): Record<string, unknown> {
    const { config, sha256, files } = this.opts.loaded;
    // The ingest block says how far behind the chain is and why.
    const ingest = this.opts.audit?.recorder.ingestStatus();
    return {
      status: this.status(),
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - this.life.startedAt) / 1000),
      config: { name: config.pack.name, version: config.pack.version, sha256, files },
      policies_enabled: config.pack.enabled,
      policies_loaded: config.pack.enabled ? config.policies.chain : [],
      strategy: config.providers.strategy,
      targets: this.targets.map((t) => ({
        id: t.id,
        provider: t.provider,
        format: t.format,
        model: t.model ?? null,
        models: [...t.models],
        aliases: Object.fromEntries(t.aliases),
        credential: this.credentials.hasOwnKey(t.id) ? 'gateway' : 'client',
        circuit: this.breakers.get(t.id)?.snapshot(Date.now()) ?? null,
      })),
      audit: this.opts.audit
        ? { enabled: true, gateway_id: this.auditSettings.gatewayId, capture: this.auditSettings.capture, ...this.opts.audit.recorder.stats(), ...(ingest ? { ingest } : {}), ...exportHealth(this.opts.audit.exportStats) }
        : { enabled: false },
      requests_processed: this.life.processed,
      in_flight: this.limiter.inFlight,
      queued: this.limiter.queued,
    };
  }

  private async models(req: IncomingMessage, res: ServerResponse, id: string | undefined, requestId: string): Promise<void> {
    const family: ListFamily = req.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai';
    const lists = await Promise.all(
      listTargets(this.targets, family).map(async (t) => namedModels(t) ?? (await this.upstreamModels(t, req, requestId)) ?? catalogueModels(t)),
    );
    const models = dedupeModels(lists);
    if (id === undefined) {
      return sendJson(res, 200, family === 'anthropic' ? anthropicModelList(models) : openAiModelList(models), requestId);
    }
    const m = models.find((x) => x.id === id);
    if (!m) throw notFound(`model "${truncate(id, 100)}" is not served by this gateway`, 'model_not_found');
    sendJson(res, 200, family === 'anthropic' ? anthropicModel(m) : openAiModel(m), requestId);
  }

  /**
   * What a pass-through target's upstream says it serves, with the key a request to it would carry; undefined
   * when there is no key to ask with or the upstream does not answer with a list (the price list stands in).
   */
  private async upstreamModels(t: Target, req: IncomingMessage, requestId: string): Promise<ModelEntry[] | undefined> {
    const auth = this.credentials.upstreamAuth(t, req.headers, isVirtualKey(clientKey(req.headers)?.key));
    if (!auth) return undefined;
    const signal = AbortSignal.timeout(Math.min(t.timeoutMs, MODELS_TIMEOUT_MS));
    try {
      const headers = forwardHeaders(req.headers, t, auth, 0);
      delete headers['content-length'];
      // The list is read here, not relayed: ask for it as it is, not compressed.
      headers['accept-encoding'] = 'identity';
      // Asked for an OpenAI client too (its models are reachable through translation): Anthropic's API needs the version.
      if (t.format === 'anthropic') headers['anthropic-version'] ??= ANTHROPIC_VERSION;
      const response = await this.upstream.call({ target: t, family: 'models', method: 'GET', query: '', headers, signal });
      const text = await readCapped(response.body, MODELS_MAX_BYTES);
      if (response.statusCode !== 200 || text === undefined) return undefined;
      const ids = idsFromUpstream(JSON.parse(text));
      return ids.length > 0 ? ids.map((id) => ({ id, provider: t.provider })) : undefined;
    } catch (err) {
      this.opts.logger.debug({ requestId, target: t.id, err: classifyUpstreamError(err).detail }, 'upstream model list unavailable');
      return undefined;
    }
  }

  private async inference(req: IncomingMessage, res: ServerResponse, family: Family, query: string, requestId: string, timing: Timing) {
    const ctx = new DecisionContext(this.auditSettings, requestId, family, req.headers);
    if (this.opts.audit) res.setHeader('x-keeptrusts-event-id', ctx.id);
    ctx.trace = this.opts.tracing?.startRequest(req.headers, family, requestId);
    try {
      await this.runInference(req, res, family, query, requestId, timing, ctx);
    } catch (err) {
      const gwErr = err instanceof GatewayError ? err : undefined;
      ctx.status = gwErr?.status ?? 500;
      ctx.reasonCode ??= gwErr?.extra.code ?? 'internal_error';
      // A 4xx of the gateway's own (no key, an encoding it cannot read, a malformed body, a model nobody serves)
      // is a refusal: nothing went upstream, whatever the policies thought of the content. 5xx are failures.
      if (gwErr && gwErr.status >= 400 && gwErr.status < 500) ctx.verdict = 'block';
      ctx.error = { code: gwErr?.extra.code ?? 'internal_error', message: (gwErr?.message ?? 'internal gateway error').slice(0, 500), type: gwErr?.type ?? 'api_error' };
      if (!ctx.recorded) await this.commit(ctx);
      throw err;
    } finally {
      this.metrics?.observe(ctx);
      ctx.trace?.end(outcomeOf(ctx));
    }
  }

  private async runInference(req: IncomingMessage, res: ServerResponse, family: Family, query: string, requestId: string, timing: Timing, ctx: DecisionContext) {
    const gone = new ClientGone();
    const onClose = () => {
      if (!res.writableFinished) gone.abort();
    };
    res.once('close', onClose);
    const state: InferenceState = { req, res, family, query, requestId, timing, ctx, gone, inputVerdict: 'allow', candidates: [] };
    try {
      await runPipeline(this.pipeline, state);
    } finally {
      if (state.release) {
        state.release();
        res.off('close', onClose);
        this.life.processed++;
      }
    }
  }

  /**
   * The request pipeline, in order, with the statuses each step answers with instead of going on (drawn in
   * docs/architecture.md). Anything a step throws is answered in the client's API shape by `handle`.
   */
  private readonly pipeline: ReadonlyArray<PipelineStep<InferenceState>> = [
    // A gateway virtual key (kt-vk-…) must be known and not revoked; with --client-auth virtual-key, required.
    { name: 'authenticate', fails: [401], run: (s) => this.authenticate(s.req, s.ctx) },
    {
      name: 'read body',
      fails: [400, 408, 413, 415],
      run: async (s) => {
        s.ex = parseExchange(s.family, await readBody(s.req, this.bodyLimits));
        s.ctx.stream = s.ex.stream;
      },
    },
    {
      name: 'input policies',
      fails: [400, 500],
      run: async (s) => {
        // Reversible redaction: this request's placeholders, given back in its reply (and dropped with it).
        const vault = this.chain.newVault();
        s.restore = vault ? new Restore(vault) : undefined;
        s.ctx.restores = s.restore;
        s.inputVerdict = await this.enforceInput(s.ex!, s.ctx, vault, s.gone);
      },
    },
    {
      name: 'route',
      fails: [404],
      run: (s) => {
        const ex = s.ex!;
        // Routed, forwarded, recorded and quoted as the policies left it: a token pasted into the model name is
        // redacted like any other text.
        ex.model = typeof ex.body.model === 'string' ? ex.body.model : undefined;
        s.ctx.modelRequested = ex.model ?? null;
        const routed = this.router.route(s.family, ex.model);
        if (!routed.ok) throw routeError(s.family, ex.model, routed);
        s.candidates = routed.candidates;
        this.prepareMetering(s.ctx, ex);
      },
    },
    { name: 'limits', fails: [400, 429, 503], run: (s) => this.admit(s.ctx, s.ex!) },
    {
      name: 'concurrency slot',
      fails: [503],
      // Below the limit the slot is granted synchronously, and the pipeline goes on without waiting a turn.
      run: (s) => {
        const slot = this.limiter.acquire(s.gone);
        return slot instanceof Promise ? slot.then((granted) => this.holdSlot(s, granted)) : this.holdSlot(s, slot);
      },
    },
    {
      name: 'upstream',
      fails: [401, 502, 503, 504],
      run: async (s) => {
        const { ctx, timing, ex } = s;
        const { response, candidate, translator } = await routeRequest(
          this.routing,
          { headers: s.req.headers, query: s.query, ex: ex!, signal: s.gone, virtualKey: ctx.virtualKey, timing, attempts: ctx.attempts, trace: ctx.trace },
          s.candidates,
        );
        ctx.upstreamStart = timing.upstreamStart;
        if (!response) {
          this.clientGone(ctx);
          return 'stop';
        }
        timing.upstreamHeaders = performance.now();
        ctx.upstreamHeaders = timing.upstreamHeaders;
        ctx.target = { id: candidate.target.id, model: candidate.model || ex!.model || null, provider: candidate.target.provider, ...(translator ? { translation: translator.pair } : {}) };
        // Usage is read in the upstream's own format, before the reply is translated back.
        if (translator && ctx.meter) ctx.meter = new StreamMeter(translator.upstreamFamily);
        s.upstream = { response, targetId: candidate.target.id, translator };
      },
    },
    {
      // decode → translate → StreamGuard → meter → tail hold, and the decision event made durable before the end.
      name: 'output path',
      fails: [400, 500, 502],
      run: async (s) => {
        const { ctx, res, ex, upstream, restore } = s;
        const outcome = await relay({
          res,
          up: upstream!.response,
          ex: ex!,
          log: this.opts.logger,
          chain: this.chain,
          inputVerdict: s.inputVerdict,
          ctx,
          needsReply: this.needsReply,
          failMode: this.opts.failMode,
          maxReplyBytes: this.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
          finish: () => this.commit(ctx),
          restore: restore && !restore.vault.empty ? restore : undefined,
          translate: upstream!.translator,
          ...(this.opts.escalations
            ? { escalate: (outcome: ChainOutcome, segments: readonly Segment[], rerun: (allows: (policy: string, rule: string) => boolean) => ChainOutcome) => this.escalate('output', outcome, segments, ex!, ctx, s.gone, rerun) }
            : {}),
        });
        if (outcome === 'client-gone') this.clientGone(ctx);
        this.logDone(s.req, res, { kind: 'inference', family: s.family }, s.requestId, s.timing, upstream!.targetId, upstream!.response.statusCode);
      },
    },
  ];

  /** The request holds a concurrency slot from here on; none (queue full, or the client left while queued) ends it. */
  private holdSlot(s: InferenceState, slot: (() => void) | undefined): 'stop' | void {
    if (!slot) {
      if (s.gone.aborted) {
        this.clientGone(s.ctx);
        return 'stop';
      }
      throw new GatewayError(503, 'overloaded_error', 'the gateway is at its concurrency limit; retry shortly', { code: 'overloaded', retryAfter: '1' });
    }
    s.release = slot;
  }

  /** Tokens are metered when something records or limits them; streamed chat replies then carry usage. */
  private prepareMetering(ctx: DecisionContext, ex: Exchange): void {
    if (!this.needsUsage || ex.family === 'count_tokens') return;
    ctx.meter = new StreamMeter(ex.family);
    ctx.estimateText = requestTextOf(ex);
    // Streamed chat replies carry usage only when asked; ask, and keep the extra chunk from the client.
    if (ex.family === 'chat' && wantsIncludeUsage(ex.body)) {
      if (ex.body.stream_options === undefined) {
        addMember(ex, 'stream_options', { include_usage: true });
      } else {
        ex.body.stream_options = { ...(isPlainObject(ex.body.stream_options) ? ex.body.stream_options : {}), include_usage: true };
        ex.modified = true;
      }
      ctx.dropUsageChunks = true;
    }
  }

  /** The client left before its response ended: recorded, with nobody to wait for the write. */
  private clientGone(ctx: DecisionContext): void {
    ctx.status = 499;
    ctx.reasonCode ??= 'client_closed';
    if (!ctx.recorded) this.commit(ctx).catch(() => undefined);
  }

  /**
   * Make the request's decision event durable. Called before the client receives the end of its response;
   * with fail-mode block a store failure fails the request, with allow the recorder spools the event.
   */
  private async commit(ctx: DecisionContext): Promise<void> {
    ctx.recorded = true;
    this.meterUsage(ctx);
    await this.settle(ctx);
    const audit = this.opts.audit;
    const hooks = this.opts.webhooks?.active ? this.opts.webhooks : undefined;
    if (!audit && !hooks) return;
    if (!ctx.noteworthy && (!audit || !this.auditSettings.logAllAccess)) return;
    const event = ctx.build();
    hooks?.notify(event);
    if (!audit) return;
    const stored = ctx.trace?.store(ctx.id);
    try {
      // With other requests in flight the journal write goes to the thread pool while this thread serves them.
      await audit.recorder.record(event, ctx.blobs, this.limiter.inFlight <= 1);
    } catch {
      throw new GatewayError(500, 'api_error', 'the audit trail could not record this request and --fail-mode is block', { code: 'audit_unavailable' });
    } finally {
      stored?.();
    }
  }

  /**
   * A gateway virtual key (kt-vk-…) must be known and not revoked; it then decides attribution. Synchronous
   * when the client presents no virtual key (the pipeline then goes on without waiting a turn).
   */
  private authenticate(req: IncomingMessage, ctx: DecisionContext): void | Promise<void> {
    const presented = clientKey(req.headers);
    if (!presented || !isVirtualKey(presented.key)) {
      if (this.opts.clientAuth === 'virtual-key') throw virtualKeyRequired(presented !== undefined);
      return;
    }
    ctx.virtualKey = true;
    return this.lookupVirtualKey(presented.key).then((record) => ctx.useVirtualKey(record));
  }

  /** Routes that say nothing about a request's content (the model list) still serve only authenticated clients. */
  private async requireClientKey(req: IncomingMessage): Promise<void> {
    if (this.opts.clientAuth !== 'virtual-key') return;
    const presented = clientKey(req.headers);
    if (!presented || !isVirtualKey(presented.key)) throw virtualKeyRequired(presented !== undefined);
    await this.lookupVirtualKey(presented.key);
  }

  private async lookupVirtualKey(key: string) {
    const store = this.opts.virtualKeys;
    const record = store ? await store.lookup(key) : null;
    if (!record) {
      throw new GatewayError(401, 'authentication_error', store ? 'the gateway key is unknown or revoked' : 'this gateway has no virtual keys (kt keys create)', {
        code: 'invalid_api_key',
      });
    }
    return record;
  }

  /** Budgets and rate limits, before any upstream call: a refusal in the client's shape (see limitError). */
  private admit(ctx: DecisionContext, ex: Exchange): void | Promise<void> {
    const limits = this.opts.limits;
    if (!limits) return;
    return this.admitWithin(limits, ctx, ex);
  }

  private async admitWithin(limits: LimitEngine, ctx: DecisionContext, ex: Exchange): Promise<void> {
    // Four bytes a token is a fair guess for JSON bodies, and costs nothing; settle corrects it.
    const admission = await limits.admit(scopeValuesFromAttribution(ctx.attribution), Math.ceil(ex.raw.length / 4));
    if (!admission.ok) {
      ctx.reasonCode = admission.code;
      ctx.verdict = 'block';
      throw limitError(admission, refOf(ctx));
    }
    ctx.lease = admission.lease;
    for (const flag of admission.flags) ctx.addFlag(flag);
  }

  /** Tokens from the provider's usage (or estimated for a cut stream), and their price. */
  private meterUsage(ctx: DecisionContext): void {
    // Only a request that reached a provider has usage (a blocked or refused one has none, not an estimate).
    if (!this.needsUsage || !ctx.meter || !ctx.target) return;
    try {
      if (!ctx.usage) ctx.usage = ctx.meter.result(ctx.meter.complete ? undefined : ctx.estimateText?.());
      if (ctx.usage) {
        const model = ctx.target?.model ?? ctx.modelRequested;
        ctx.cost = costOf(ctx.usage, priceFor(model, this.priceOverrides));
      }
    } catch (err) {
      this.opts.logger.warn({ requestId: ctx.requestId, err: err instanceof Error ? err.name : 'Error' }, 'metering failed');
    }
  }

  /** Give back the rate-limit slot and add the real cost to budgets; alerts go on the event. */
  private async settle(ctx: DecisionContext): Promise<void> {
    const lease = ctx.lease;
    if (!lease || !this.opts.limits) return;
    ctx.lease = undefined;
    const tokens = (ctx.usage?.input_tokens ?? 0) + (ctx.usage?.output_tokens ?? 0);
    const { alerts } = await this.opts.limits.settle(lease, { costUsd: ctx.cost?.total ?? null, tokens });
    if (alerts.length > 0) {
      ctx.budgetAlerts = alerts;
      this.opts.logger.warn({ requestId: ctx.requestId, alerts: alerts.map((a) => `${a.scope}:${Math.round(a.threshold * 100)}%`) }, 'budget threshold crossed');
    }
  }

  /**
   * Run the input phase over the request's complete content view; a block or escalation ends the request here
   * with a final refusal (src/gateway/refusal.ts), redactions edit the body. Also refused here: asking for a
   * reply the output policies could not read.
   */
  private async enforceInput(ex: Exchange, ctx: DecisionContext, vault: PlaceholderVault | undefined, gone: ClientGone): Promise<Verdict> {
    // Nothing reads the request: its view is not worth building.
    if (!this.chain.hasPhase('input') && !this.chain.hasPhase('output') && !this.needsRequestText) return 'allow';
    const view = requestView(ex.family, ex.body);
    normalise(ex, view.normalised);
    if (view.opaque.count > 0) ctx.addFlag('unscanned_attachments');
    const segments = view.segments;
    const option = this.chain.hasPhase('output') ? uncheckableReplyOption(ex.family, ex.body) : undefined;
    if (option) {
      if (this.opts.failMode === 'block') {
        throw new GatewayError(400, 'invalid_request_error', `this gateway's output policies cannot check ${option}; ask without it`, { code: 'uncheckable_reply_option' });
      }
      ctx.addFlag('output_unchecked:reply_option');
    }
    if (!this.chain.hasPhase('input')) {
      if (this.needsRequestText) ctx.setRequest(segments, undefined);
      if (view.normalised.length === 0) ex.segments = segments;
      return 'allow';
    }
    let outcome = this.chain.run('input', segments, undefined, vault);
    if (outcome.stoppedBy?.verdict === 'escalate' && this.opts.escalations) {
      outcome = await this.escalate('input', outcome, segments, ex, ctx, gone, (allows) => this.chain.run('input', segments, undefined, vault, allows));
    }
    ctx.addOutcome('input', outcome, segments);
    if (this.needsRequestText) ctx.setRequest(segments, outcome);
    if (outcome.failed) {
      throw new GatewayError(500, 'api_error', `policy ${outcome.failed.kind} failed and --fail-mode is block`, { code: 'policy_error', details: { policy: outcome.failed.kind }, final: true });
    }
    if (outcome.stoppedBy) {
      const findings = outcome.results.flatMap((r) => r.findings);
      const notice = policyNotice({ phase: 'input', stop: outcome.stoppedBy, chain: this.chain, body: ex.body, segments, findings, ref: refOf(ctx) });
      throw finalRefusal(notice, outcome.stoppedBy.verdict);
    }
    if (outcome.edits.length > 0) ex.modified = writeBack(ex.body, segments, outcome.edits) || ex.modified;
    else if (view.normalised.length === 0) ex.segments = segments;
    return outcome.verdict;
  }

  /**
   * A policy escalated the request (phase `input`) or its reply read whole (`output`): an active exception lets it
   * pass that finding; otherwise it is held for a reviewer. Approved, the phase runs again with the approved
   * finding only flagged (the policies after the one that escalated have not read it yet); denied, expired or not
   * held, the request is refused. A streamed reply is not held (its first bytes are already with the client):
   * there `escalate` answers as a block.
   */
  private async escalate(
    phase: 'input' | 'output',
    first: ChainOutcome,
    segments: readonly Segment[],
    ex: Exchange,
    ctx: DecisionContext,
    gone: ClientGone,
    rerun: (allows: (policy: string, rule: string) => boolean) => ChainOutcome,
  ): Promise<ChainOutcome> {
    const desk = this.opts.escalations!;
    const exempt = new Set<string>();
    const allows = (policy: string, rule: string) => exempt.has(`${policy}\n${rule}`) || exempt.has(`${policy}\n*`);
    let outcome = first;
    // Each round lets one finding through; a request with many escalating findings is still bounded.
    for (let round = 0; round < 8 && outcome.stoppedBy?.verdict === 'escalate' && !outcome.failed; round++) {
      const stop = outcome.stoppedBy;
      const rule = stop.finding?.rule ?? null;
      const who = { developer: ctx.attribution.developer, repository: ctx.attribution.repository };
      const exception = rule ? await desk.exceptionFor({ ...who, policy: stop.kind, rule }) : undefined;
      if (exception) {
        ctx.addFlag(`escalation_exception:${exception.id}`);
      } else {
        const held = await desk.hold(
          {
            gateway: this.auditSettings.gatewayId || 'gateway',
            request_id: ctx.requestId,
            event_id: ctx.recordsEvent && this.opts.audit ? ctx.id : null,
            ...who,
            team: ctx.attribution.team,
            model: typeof ex.body.model === 'string' ? ex.body.model.slice(0, 200) : null,
            policy: stop.kind,
            finding_type: stop.finding?.type ?? null,
            rule,
          },
          gone,
          (record, clientGone) => this.escalationStep(ctx, record, clientGone),
        );
        if (held.state !== 'approved') {
          ctx.addOutcome(phase, outcome, segments);
          if (phase === 'input' && this.needsRequestText) ctx.setRequest(segments, outcome);
          if (phase === 'output') ctx.setReply(null, true);
          ctx.reasonCode = `escalation_${held.state === 'full' ? 'queue_full' : held.state}`;
          if (held.state !== 'full' && held.state !== 'unavailable') ctx.escalation = eventEscalation(held.record, held.clientGone);
          throw escalationRefusal(held.state, stop, 'record' in held ? held.record.id : undefined, refOf(ctx));
        }
        ctx.addFlag(`escalation_approved:${held.record.id}`);
        ctx.escalation = eventEscalation(held.record, false);
      }
      exempt.add(`${stop.kind}\n${rule ?? '*'}`);
      outcome = rerun(allows);
    }
    return outcome;
  }

  /** One step of an escalation as its own event on the chain (and a webhook): who decided and why, no content. */
  private escalationStep(ctx: DecisionContext, record: EscalationRecord, clientGone: boolean): void {
    const step = ctx.sibling();
    step.verdict = 'escalate';
    step.reasonCode = `escalation_${record.state === 'open' ? 'opened' : record.state}`;
    step.escalation = eventEscalation(record, clientGone);
    const event = step.build();
    this.opts.webhooks?.notify(event);
    const audit = this.opts.audit;
    if (!audit) return;
    audit.recorder.record(event, step.blobs, true).catch((err: unknown) => {
      this.opts.logger.error({ requestId: ctx.requestId, escalation: record.id, err: describeInternal(err) }, 'an escalation step could not be recorded');
    });
  }

  private logDone(req: IncomingMessage, res: ServerResponse, route: Route, requestId: string, timing: Timing, target: string | undefined, status: number | undefined) {
    const log = this.opts.logger;
    if (!log.isLevelEnabled('debug')) return;
    const now = performance.now();
    log.debug(
      {
        requestId,
        method: req.method,
        route: route.kind === 'inference' ? route.family : route.kind,
        target,
        status: status ?? res.statusCode,
        total_ms: round(now - timing.start),
        ...(timing.upstreamStart !== undefined && timing.upstreamHeaders !== undefined
          ? { upstream_ttfb_ms: round(timing.upstreamHeaders - timing.upstreamStart), overhead_ms: round(timing.upstreamStart - timing.start) }
          : {}),
      },
      'request',
    );
  }
}

function eventEscalation(r: EscalationRecord, clientGone: boolean): NonNullable<DecisionContext['escalation']> {
  return {
    id: r.id,
    state: r.state,
    policy: r.policy,
    rule: r.rule,
    reviewer: r.reviewer,
    reason: r.reason,
    exception_id: r.exception_id,
    expires_at: r.expires_at,
    ...(clientGone ? { client_gone: true } : {}),
  };
}

function* breakerStates(board: BreakerBoard): Iterable<readonly [string, BreakerState]> {
  const now = Date.now();
  for (const [id, breaker] of board.entries()) yield [id, breaker.state(now)] as const;
}

/**
 * The request's text for a token estimate, read only if a stream is cut. Made here rather than as an arrow
 * function inside runInference: a closure there shares that call's context with every other closure of it,
 * which kept each request's parsed body reachable long enough for V8 to pretenure its allocation sites, and
 * the old generation then filled with request garbage (measured: 1.2 MB promoted per scavenge instead of 0.1).
 */
function requestTextOf(ex: Exchange): () => string {
  return () => requestSegments(ex.family, ex.body).map((seg) => seg.text).join('\n');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sendJson(res: ServerResponse, status: number, body: unknown, requestId: string, headOnly = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-keeptrusts-request-id': requestId,
  });
  res.end(headOnly ? undefined : text);
}

function routeError(family: Family, model: string | undefined, routed: { reason: string; known: string[] }): GatewayError {
  const api = { chat: 'OpenAI Chat Completions', responses: 'OpenAI Responses', messages: 'Anthropic Messages', count_tokens: 'Anthropic Messages' }[family];
  if (routed.reason === 'no_target_for_family') {
    return notFound(`no target in this gateway's config serves the ${api} API`, 'no_target_for_api');
  }
  const known = routed.known.length > 0 ? `; available: ${routed.known.slice(0, 20).join(', ')}` : '';
  return notFound(`model "${truncate(model ?? '', 100)}" is not served by this gateway${known}`, 'model_not_found');
}

function methodNotAllowed(method: string, allowed: string): GatewayError {
  return new GatewayError(405, 'invalid_request_error', `method ${truncate(method, 10)} is not allowed here; use ${allowed}`, {
    code: 'method_not_allowed',
  });
}

function errorShapeFor(req: IncomingMessage, route: Route): ErrorShape {
  if (route.kind === 'inference') return route.family === 'messages' || route.family === 'count_tokens' ? 'anthropic' : 'openai';
  return req.headers['anthropic-version'] !== undefined ? 'anthropic' : 'openai';
}

/** Unique per process start and per request; a random prefix plus a counter costs no entropy per request. */
const ID_PREFIX = randomBytes(8).toString('hex');
let idCounter = 0;

function requestIdFor(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && SAFE_REQUEST_ID.test(given)) return given;
  idCounter = (idCounter + 1) % 0xffffffff;
  return `req_${ID_PREFIX}${idCounter.toString(16).padStart(8, '0')}`;
}

function safeMatch(pathname: string): Route {
  try {
    return matchRoute(pathname);
  } catch {
    return { kind: 'unknown' }; // malformed percent-encoding
  }
}

/**
 * A shared gateway serves only its own keys. The message never repeats what was sent: a provider key sent here
 * by mistake must not come back in an error a proxy or client may log.
 */
function virtualKeyRequired(sentOtherKey: boolean): GatewayError {
  return new GatewayError(
    401,
    'authentication_error',
    `${sentOtherKey ? 'the API key sent is not a gateway virtual key' : 'no API key sent'}: this gateway serves only clients with a gateway virtual key (kt-vk-…) as their API key; ask its operator for one (kt keys create)`,
    { code: 'virtual_key_required' },
  );
}

function describeInternal(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : 'non-error thrown';
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * Start listening. Resolves once the port is bound; `close()` drains in-flight requests for up to `graceMs`;
 * `reload()` re-reads the config files and serves new requests with them (src/gateway/reload.ts).
 */
export async function startGateway(opts: GatewayOptions, graceMs = 10_000): Promise<RunningGateway> {
  let gateway = new Gateway(opts);
  const reloader = new Reloader({
    logger: opts.logger,
    current: () => gateway.loaded,
    build: (loaded) => {
      const audit = opts.audit ? { ...opts.audit, settings: reloadedSettings(opts.audit.settings, loaded) } : undefined;
      gateway = new Gateway({ ...opts, loaded, ...(audit ? { audit } : {}) }, gateway.shared);
    },
  });
  gateway.shared.reload = () => reloader.reload();
  // Each request goes to the generation in service when it arrives, and stays with it.
  const bounded = createBoundedServer((req, res) => gateway.handle(req, res), gateway.listenerLimits, 'the gateway', opts.logger, opts.tls);
  const bound = await listenHttp(bounded.server, opts.host, opts.port, opts.tls ? 'https' : 'http');
  gateway.setReady(true);
  let closing: Promise<void> | undefined;
  return {
    url: bound.url,
    host: bound.host,
    port: bound.port,
    server: bounded.server,
    limits: bounded.limits,
    reload: () => reloader.reload(),
    setTls: (material) => bounded.setTls(material),
    drain: () => gateway.beginClose(),
    close() {
      closing ??= (async () => {
        gateway.beginClose();
        await bounded.close(graceMs);
        await gateway.close();
      })();
      return closing;
    },
  };
}

/** `audit.export` in /health: each sink's state, read position, lag and last error (never a credential). */
function exportHealth(read: (() => ExportStats[]) | undefined): { export?: ExportStats[] } {
  const stats = read?.();
  return stats && stats.length > 0 ? { export: stats } : {};
}
