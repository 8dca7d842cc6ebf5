import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { collectEdits } from '../detect/code-edits/index.js';
import type { ChainOutcome, PolicyResult } from '../policy/engine.js';
import { worstVerdict, type Finding, type PolicyPhase, type ReplyView, type Verdict } from '../policy/types.js';
import type { JsonPath, Segment, SegmentSource } from '../protocol/content.js';
import { BLOB_MIN_CHARS, blobHash } from './blobs.js';
import { CaptureMemo, captureMemoFor } from './capture-memo.js';
import { maskSpans, take, takeMasked, type CaptureBudget } from './masked-text.js';
import { detectClient, hasDiffsLine, type RequestShape } from './client.js';
import type { StreamMeter } from '../usage/meter.js';
import type { BudgetAlert, Lease } from '../usage/limits/types.js';
import type { Attribution } from '../usage/types.js';
import { resolveAttribution } from '../usage/identity.js';
import type { VirtualKeyRecord } from '../usage/keys.js';
import type { RequestTrace } from '../telemetry/tracing.js';
import {
  newEventId,
  REDACTION_LOCATIONS_PER_EVENT,
  REDACTION_LOCATIONS_PER_GROUP,
  timestampMicros,
  type DecisionEvent,
  type EventAttempt,
  type EventCapture,
  type EventIdentity,
  type EventPolicyResult,
  type EventRedaction,
  type EventRestores,
  type ProposedEdit,
} from './event.js';

export interface AuditSettings {
  gatewayId: string;
  config: { name: string; version: string; sha256: string };
  capture: 'none' | 'metadata' | 'redacted';
  captureMaxBytes: number;
  logAllAccess: boolean;
  hipaa: boolean;
  /** Installation secret for value hashes. */
  salt: string;
  /**
   * False when no decision event is recorded (no audit-logger in the chain): the context then serves metrics
   * and logs only, and values found are not hashed (that cost 20 µs a request on an agent's later turns).
   */
  recordsEvents?: boolean;
  /** Used when the request names no developer, repository or team: the gateway's flags, then git. */
  defaults: { developer?: string; repository?: string; team?: string };
  /**
   * Masks, as `[TYPE]`, whatever the chain's rules for that source's phase find in a captured text, whatever
   * their action (a flagged e-mail address reaches the client by design, but not the permanent record).
   */
  maskCapture?: (text: string, source: SegmentSource) => string;
  git?: { developer: string | null; repository: string | null } | null;
}

type Route = DecisionEvent['route'];

/**
 * Everything one request contributes to its decision event, gathered as the request moves through the
 * gateway. Values found by policies are hashed here, at the only point where they are in hand, and never kept.
 */
export class DecisionContext {
  readonly id: string;
  private readonly startedMs = Date.now();
  private readonly started = performance.now();
  /** Filled by metering (tokens and price); null until then. */
  usage: DecisionEvent['usage'] = null;
  cost: DecisionEvent['cost'] = null;
  meter: StreamMeter | undefined;
  /** The gateway asked upstream for a usage chunk the client did not ask for: keep it from the client. */
  dropUsageChunks = false;
  /** The request's text, for estimating input tokens of a stream that ended before its usage arrived. */
  estimateText: (() => string) | undefined;
  lease: Lease | undefined;
  /** The client authenticated with a gateway virtual key (whose record is in `attribution`). */
  virtualKey = false;
  budgetAlerts: BudgetAlert[] = [];
  /** The escalation that held this request, or the step a lifecycle event records. */
  escalation: DecisionEvent['escalation'];
  attribution: Attribution;
  private readonly flags: string[] = [];
  stream = false;
  modelRequested: string | null = null;
  target: DecisionEvent['target'] = null;
  /** Every try of a target (src/gateway/routing/attempts.ts); on the event only when it says more than `target`. */
  readonly attempts: EventAttempt[] = [];
  verdict: Verdict = 'allow';
  reasonCode: string | null = null;
  status = 0;
  error: DecisionEvent['error'] = null;
  upstreamStart: number | undefined;
  upstreamHeaders: number | undefined;
  firstByte: number | undefined;
  /** The request's spans, when telemetry.traces is on. */
  trace: RequestTrace | undefined;
  /** Set once the event has been handed to the recorder, so no request is recorded twice. */
  recorded = false;
  private readonly policies: EventPolicyResult[] = [];
  /** Redactions grouped by phase, type, rule and source, in the order each group was first found. */
  private readonly redactions = new Map<string, EventRedaction>();
  private locationsListed = 0;
  /** `digest`: the SHA-256 of `text` when already known; `digestKey`: where the memo keeps it once hashed. */
  private requestText: Array<{
    source: string;
    turn: number;
    text: string;
    /** Set when `text` is to be captured with these findings masked (capture() masks only what fits). */
    findings?: readonly Finding[];
    digest?: string | undefined;
    digestKey?: string;
  }> | null = null;
  /** Long captured texts by SHA-256 (hex), stored once beside the chain; the event refers to them by hash. */
  readonly blobs = new Map<string, string>();
  private reply: ReplyView | null = null;
  private replyWithheld = false;
  /** The reply as captured: masked once, for the completion and the proposed edits alike. */
  private maskedReply: ReplyView | null | undefined;
  /** Reversible redaction in this request: what it issued, restored and withheld (counts, never values). */
  restores: { summary(): EventRestores | undefined } | undefined;
  private requestShape: RequestShape = {};
  private readonly dataCategories = new Set<string>();
  private readonly memo: CaptureMemo;

  constructor(
    private readonly settings: AuditSettings,
    readonly requestId: string,
    readonly route: Route,
    private readonly headers: IncomingHttpHeaders,
  ) {
    this.id = newEventId(this.startedMs);
    this.memo = captureMemoFor(settings);
    this.attribution = resolveAttribution({ headers, defaults: settings.defaults, git: settings.git ?? null });
  }

  /** The client authenticated with a gateway virtual key: it comes first in attribution. */
  useVirtualKey(key: VirtualKeyRecord): void {
    this.attribution = resolveAttribution({ key, headers: this.headers, defaults: this.settings.defaults, git: this.settings.git ?? null });
  }

  /** A context for another event about this request (an escalation's steps): same settings, request and attribution. */
  sibling(): DecisionContext {
    const c = new DecisionContext(this.settings, this.requestId, this.route, this.headers);
    c.attribution = this.attribution;
    c.modelRequested = this.modelRequested;
    c.stream = this.stream;
    return c;
  }

  /** Something worth a look that did not stop the request (a soft budget already spent, limits unavailable). */
  addFlag(flag: string): void {
    this.flags.push(flag);
    this.verdict = worstVerdict(this.verdict, 'flag');
  }

  /** The request's text as the chain saw it; every finding's span is masked in the captured copy. */
  setRequest(segments: readonly Segment[], outcome: ChainOutcome | undefined): void {
    this.requestShape = {
      systemText: segments.find((s) => s.source === 'system')?.text,
      diffsInUserTurn: segments.some((s) => s.source === 'user' && hasDiffsLine(s.text)),
    };
    if (this.settings.capture !== 'redacted') return;
    const bySegment = findingsBySegment(outcome ? outcome.results.flatMap((r) => r.findings) : []);
    // A chain that stopped at a block, or where a policy failed, did not look with every rule: what the others
    // would have found is masked too (the request went nowhere, but its capture is permanent).
    const mask = outcome && (outcome.stoppedBy || outcome.failed || outcome.results.some((r) => r.error)) ? this.settings.maskCapture : undefined;
    // The chain already hashed long segments for its scan cache: an unmasked one keeps that digest, and a
    // masked one is found in the memo by that digest and the masked spans (capture() fills it on a miss).
    const digests = outcome?.digests;
    this.requestText = segments.filter(isConversation).map((seg) => {
      const found = bySegment.get(seg.id);
      if (mask) return { source: seg.source, turn: seg.turn, text: mask(found ? maskSpans(seg.text, found) : seg.text, seg.source) };
      const digest = digests?.get(seg.id);
      if (!found) return { source: seg.source, turn: seg.turn, text: seg.text, digest };
      if (digest === undefined) return { source: seg.source, turn: seg.turn, text: seg.text, findings: found };
      const digestKey = CaptureMemo.maskedKey(digest, found);
      return { source: seg.source, turn: seg.turn, text: seg.text, findings: found, digest: this.memo.get(digestKey), digestKey };
    });
  }

  /** Results of one chain run, with the segments it read (for value hashes of what it redacted). */
  addOutcome(phase: PolicyPhase, outcome: ChainOutcome, segments: readonly Segment[]): void {
    // Redactions are listed (with a salted hash of each value) for the decision event only.
    const redacted = outcome.edits.length > 0 && this.recordsEvent ? new Set(outcome.edits.map((e) => `${e.segment}:${e.start}:${e.end}`)) : undefined;
    const digests = outcome.digests;
    for (const r of outcome.results) {
      this.policies.push(summarise(r));
      if (!redacted) {
        for (const f of r.findings) this.dataCategories.add(f.type);
        continue;
      }
      for (const f of r.findings) {
        this.dataCategories.add(f.type);
        if (!redacted.has(`${f.segment}:${f.start}:${f.end}`)) continue;
        const seg = segments[f.segment];
        this.addRedaction(phase, f, () => ({
          end: f.end,
          path: seg ? pathString(seg.path, seg.innerPath) : null,
          start: f.start,
          value_hash: seg ? this.segmentValueHash(seg, digests?.get(seg.id), f.start, f.end) : null,
        }));
      }
    }
    this.verdict = worstVerdict(this.verdict, outcome.verdict);
    this.trace?.policies(this.policies);
  }

  /**
   * Counts a redacted value in its group; its location (and the value's hash, computed only then) is listed
   * while the group and the event have room.
   */
  private addRedaction(phase: PolicyPhase, f: Finding, location: () => EventRedaction['locations'][number]): void {
    const key = `${phase}\u0000${f.type}\u0000${f.rule}\u0000${f.source}`;
    let g = this.redactions.get(key);
    if (!g) {
      // Sorted key order, as build() explains.
      g = { count: 0, locations: [], phase, rule: f.rule, source: f.source, type: f.type };
      this.redactions.set(key, g);
    }
    g.count += 1;
    if (g.locations.length < REDACTION_LOCATIONS_PER_GROUP && this.locationsListed < REDACTION_LOCATIONS_PER_EVENT) {
      g.locations.push(location());
      this.locationsListed += 1;
    }
  }

  /**
   * Findings of output policies on a streamed reply, grouped per policy (StreamGuard reports them one by one).
   * `guarded` names every policy that watched the stream, in chain order: one that found nothing is listed as
   * allowing, as it is on a reply read whole.
   */
  addStreamFindings(found: ReadonlyArray<{ policy: string; finding: Finding; valueHash?: string; action: string }>, verdict: Verdict, guarded: readonly string[] = []): void {
    const byPolicy = new Map<string, { verdict: Verdict; findings: Finding[] }>();
    for (const kind of guarded) byPolicy.set(kind, { verdict: 'allow', findings: [] });
    for (const { policy, finding, valueHash, action } of found) {
      let p = byPolicy.get(policy);
      if (!p) byPolicy.set(policy, (p = { verdict: 'allow', findings: [] }));
      p.findings.push(finding);
      p.verdict = worstVerdict(p.verdict, action as Verdict);
      this.dataCategories.add(finding.type);
      if (action === 'redact') this.addRedaction('output', finding, () => ({ end: finding.end, path: null, start: finding.start, value_hash: valueHash ?? null }));
    }
    for (const [kind, p] of byPolicy) {
      this.policies.push(summarise({ kind, phase: 'output', verdict: p.verdict, findings: p.findings, durationUs: 0 }, true));
    }
    this.verdict = worstVerdict(this.verdict, verdict);
  }

  /** Scores of a streamed reply, judged once it was delivered. */
  addStreamAssessment(results: readonly PolicyResult[]): void {
    for (const r of results) this.policies.push(summarise(r, true));
    for (const r of results) this.verdict = worstVerdict(this.verdict, r.verdict);
  }

  /** The reply as the client received it (after redaction); withheld replies are not captured. */
  setReply(view: ReplyView | null, withheld = false): void {
    this.reply = view;
    this.replyWithheld = withheld;
    this.maskedReply = undefined;
  }

  /**
   * The reply as the record keeps it: withheld when blocked, and with everything the output rules find in it
   * masked. It is the reply as the policies saw it: placeholders of reversible redaction, never the values the
   * client got back.
   */
  private capturedReply(): ReplyView | null {
    if (this.maskedReply !== undefined) return this.maskedReply;
    const reply = this.reply && !this.replyWithheld ? this.reply : null;
    const mask = this.settings.maskCapture;
    if (!reply || !mask) return (this.maskedReply = reply);
    return (this.maskedReply = {
      ...reply,
      text: mask(reply.text, 'output_text'),
      toolCalls: reply.toolCalls.map((c) => ({ name: mask(c.name, 'output_tool_call'), input: maskValue(c.input, (t) => mask(t, 'output_tool_call')) })),
    });
  }

  /** Per-policy results so far (metrics read them whether or not events are stored). */
  get policyResults(): readonly EventPolicyResult[] {
    return this.policies;
  }

  get startedAt(): number {
    return this.started;
  }

  get elapsedMs(): number {
    return performance.now() - this.started;
  }

  /** The value hash of a span of a segment; for a segment the chain hashed, remembered by that digest. */
  private segmentValueHash(seg: Segment, digest: string | undefined, start: number, end: number): string {
    if (digest === undefined) return this.valueHash(seg.text.slice(start, end));
    const key = CaptureMemo.valueKey(digest, start, end);
    return this.memo.get(key) ?? this.memo.remember(key, this.valueHash(seg.text.slice(start, end)));
  }

  valueHash(value: string): string {
    return createHmac('sha256', this.settings.salt).update(value).digest('hex').slice(0, 16);
  }

  /** Whether a decision event is recorded at all (see AuditSettings.recordsEvents). */
  get recordsEvent(): boolean {
    return this.settings.recordsEvents !== false;
  }

  /** Whether this request's event is kept under `log_all_access: false`. */
  get noteworthy(): boolean {
    return this.verdict !== 'allow' || this.status >= 400 || this.error !== null;
  }

  /**
   * Members are written in sorted key order, the order canonical JSON puts them in, so serializing the event
   * for the chain copies nothing (see canonical.ts); absent optional members are undefined, which JSON drops.
   */
  build(): DecisionEvent {
    const now = performance.now();
    const s = this.settings;
    const ms = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? round(b - a) : null);
    const tries = this.attempts;
    const event: DecisionEvent = {
      attempts: tries.length > 1 || (tries.length === 1 && tries[0]!.outcome !== 'answered') ? tries : undefined,
      budget_alerts:
        this.budgetAlerts.length > 0
          ? this.budgetAlerts.map((a) => ({
              limit_usd: a.limitUsd,
              mode: a.mode,
              period: a.period,
              scope: a.scope,
              spent_usd: a.spentUsd,
              threshold: a.threshold,
              value: a.value,
            }))
          : undefined,
      capture: this.capture(),
      config: s.config,
      cost: this.cost,
      data_categories: s.hipaa ? [...this.dataCategories].sort() : undefined,
      error: this.error,
      escalation: this.escalation,
      flags: this.flags.length > 0 ? this.flags : undefined,
      gateway_id: s.gatewayId,
      id: this.id,
      identity: this.identity(),
      latency: {
        overhead_ms: ms(this.started, this.upstreamStart),
        total_ms: round(now - this.started),
        ttft_ms: ms(this.started, this.firstByte),
        upstream_ms: ms(this.upstreamStart, now),
      },
      model_requested: this.modelRequested,
      policies: this.policies,
      proposed_edits: this.proposedEdits(),
      reason_code: this.reasonCode,
      redactions: [...this.redactions.values()],
      request_id: this.requestId,
      restores: this.restores?.summary(),
      route: this.route,
      status: this.status,
      stream: this.stream,
      target: this.target,
      ts: timestampMicros(this.startedMs),
      usage: this.usage,
      verdict: this.verdict,
    };
    return event;
  }

  private identity(): EventIdentity {
    const a = this.attribution;
    return {
      client: detectClient(this.headers, this.requestShape),
      developer: a.developer,
      key_id: a.key_id,
      repository: a.repository,
      source: a.source,
      team: a.team,
    };
  }

  private capture(): EventCapture | null {
    if (this.settings.capture !== 'redacted') return null;
    const budget = { left: this.settings.captureMaxBytes, truncated: false };
    const request =
      this.requestText?.map((t) => {
        const { text, whole } = t.findings ? takeMasked(t.text, t.findings, budget) : takeWhole(t.text, budget);
        if (text.length < BLOB_MIN_CHARS) return { source: t.source, text, turn: t.turn };
        const sha256 = whole && t.digest ? t.digest : blobHash(text);
        if (whole && t.digestKey && !t.digest) this.memo.remember(t.digestKey, sha256);
        this.blobs.set(sha256, text);
        return { chars: text.length, sha256, source: t.source, turn: t.turn };
      }) ?? null;
    const reply = this.capturedReply();
    const completion = reply
      ? {
          finish_reason: reply.finishReason ?? null,
          text: take(reply.text, budget),
          tool_calls: reply.toolCalls.map((c) => ({ input: capJson(c.input, budget), name: c.name })),
        }
      : null;
    return { completion, mode: 'redacted', request, truncated: budget.truncated };
  }

  private proposedEdits(): ProposedEdit[] {
    if (this.settings.capture === 'none') return [];
    const reply = this.capturedReply();
    if (!reply) return [];
    let parsed;
    try {
      parsed = collectEdits({ text: reply.text, toolCalls: reply.toolCalls });
    } catch {
      return [];
    }
    const budget = { left: this.settings.captureMaxBytes, truncated: false };
    return parsed.edits.map((e) => {
      const diff = e.diff ?? '';
      const lines = diff.split('\n');
      return {
        added: lines.filter((l) => l.startsWith('+') && !l.startsWith('+++')).length,
        diff: this.settings.capture === 'redacted' ? take(diff, budget) : '',
        file: e.file ?? null,
        format: e.format,
        removed: lines.filter((l) => l.startsWith('-') && !l.startsWith('---')).length,
      };
    });
  }
}

/**
 * What a captured conversation shows: the turns, tool calls and their results. Parameters, tool declarations,
 * member names and numbers are scanned like everything else, and their findings recorded, but a person reading
 * the conversation does not need them in every event.
 */
function isConversation(seg: Segment): boolean {
  return seg.source !== 'other' && seg.source !== 'tool_definition' && !seg.key && !seg.numeric;
}

function summarise(r: PolicyResult, streamed?: true): EventPolicyResult {
  // Sorted key order, as build() explains; absent members are undefined.
  return {
    duration_us: Math.round(r.durationUs),
    error: r.error || undefined,
    // Most policies find nothing in most requests: nothing to group.
    findings: r.findings.length === 0 ? [] : groupFindings(r.findings),
    kind: r.kind,
    phase: r.phase,
    reasons: r.reasons?.length ? r.reasons : undefined,
    score: r.score !== undefined ? Math.round(r.score * 1000) / 1000 : undefined,
    streamed,
    verdict: r.verdict,
  };
}

/** Findings counted per type, rule and source (the event never holds their values or places). */
function groupFindings(findings: readonly Finding[]): EventPolicyResult['findings'] {
  const groups = new Map<string, { count: number; rule: string; source: Finding['source']; type: string }>();
  for (const f of findings) {
    const key = `${f.type}\u0000${f.rule}\u0000${f.source}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, rule: f.rule, source: f.source, type: f.type });
  }
  return [...groups.values()];
}

/** Findings by the segment they are in. */
function findingsBySegment(findings: readonly Finding[]): Map<number, Finding[]> {
  const bySegment = new Map<number, Finding[]>();
  for (const f of findings) {
    if (f.segment < 0) continue;
    const list = bySegment.get(f.segment);
    if (list) list.push(f);
    else bySegment.set(f.segment, [f]);
  }
  return bySegment;
}

/** Every string in a value (member names too) through `mask`, into a copy. */
function maskValue(value: unknown, mask: (text: string) => string): unknown {
  if (typeof value === 'string') return mask(value);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, mask));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, mask(k), { value: maskValue(v, mask), writable: true, enumerable: true, configurable: true });
    return out;
  }
  return value;
}

/** take(), and whether the text fit whole. */
function takeWhole(text: string, budget: CaptureBudget): { text: string; whole: boolean } {
  const kept = take(text, budget);
  return { text: kept, whole: kept === text };
}

function capJson(value: unknown, budget: { left: number; truncated: boolean }): unknown {
  if (typeof value === 'string') return take(value, budget);
  const text = JSON.stringify(value) ?? 'null';
  if (text.length <= budget.left) {
    budget.left -= text.length;
    return value;
  }
  return take(text, budget);
}

function pathString(path: JsonPath, inner?: JsonPath): string {
  const fmt = (p: JsonPath) => p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
  return inner ? `${fmt(path)}#${fmt(inner)}` : fmt(path);
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
