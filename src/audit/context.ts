import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { collectEdits } from '../detect/code-edits/index.js';
import type { ChainOutcome, PolicyResult } from '../policy/engine.js';
import { worstVerdict, type Finding, type PolicyPhase, type ReplyView, type Verdict } from '../policy/types.js';
import type { JsonPath, Segment } from '../protocol/content.js';
import { BLOB_MIN_CHARS, blobHash } from './blobs.js';
import { detectClient } from './client.js';
import type { StreamMeter } from '../usage/meter.js';
import type { BudgetAlert, Lease } from '../usage/limits/types.js';
import type { Attribution } from '../usage/types.js';
import { resolveAttribution } from '../usage/identity.js';
import type { VirtualKeyRecord } from '../usage/keys.js';
import { newEventId, timestampMicros, type DecisionEvent, type EventCapture, type EventIdentity, type EventPolicyResult, type EventRedaction, type ProposedEdit } from './event.js';

export interface AuditSettings {
  gatewayId: string;
  config: { name: string; version: string; sha256: string };
  capture: 'none' | 'metadata' | 'redacted';
  captureMaxBytes: number;
  logAllAccess: boolean;
  hipaa: boolean;
  /** Installation secret for value hashes. */
  salt: string;
  /** Used when the request names no developer, repository or team: the gateway's flags, then git. */
  defaults: { developer?: string; repository?: string; team?: string };
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
  attribution: Attribution;
  private readonly flags: string[] = [];
  stream = false;
  modelRequested: string | null = null;
  target: DecisionEvent['target'] = null;
  verdict: Verdict = 'allow';
  reasonCode: string | null = null;
  status = 0;
  error: DecisionEvent['error'] = null;
  upstreamStart: number | undefined;
  upstreamHeaders: number | undefined;
  firstByte: number | undefined;
  /** Set once the event has been handed to the recorder, so no request is recorded twice. */
  recorded = false;
  private readonly policies: EventPolicyResult[] = [];
  private readonly redactions: EventRedaction[] = [];
  private requestText: Array<{ source: string; turn: number; text: string; digest?: string }> | null = null;
  /** Long captured texts by SHA-256 (hex), stored once beside the chain; the event refers to them by hash. */
  readonly blobs = new Map<string, string>();
  private reply: ReplyView | null = null;
  private replyWithheld = false;
  private systemText: string | undefined;
  private readonly dataCategories = new Set<string>();

  constructor(
    private readonly settings: AuditSettings,
    readonly requestId: string,
    readonly route: Route,
    private readonly headers: IncomingHttpHeaders,
  ) {
    this.id = newEventId(this.startedMs);
    this.attribution = resolveAttribution({ headers, defaults: settings.defaults, git: settings.git ?? null });
  }

  /** The client authenticated with a gateway virtual key: it comes first in attribution. */
  useVirtualKey(key: VirtualKeyRecord): void {
    this.attribution = resolveAttribution({ key, headers: this.headers, defaults: this.settings.defaults, git: this.settings.git ?? null });
  }

  /** Something worth a look that did not stop the request (a soft budget already spent, limits unavailable). */
  addFlag(flag: string): void {
    this.flags.push(flag);
    this.verdict = worstVerdict(this.verdict, 'flag');
  }

  /** The request's text as the chain saw it; every finding's span is masked in the captured copy. */
  setRequest(segments: readonly Segment[], outcome: ChainOutcome | undefined): void {
    this.systemText = segments.find((s) => s.source === 'system')?.text;
    if (this.settings.capture !== 'redacted') return;
    const findings = outcome ? outcome.results.flatMap((r) => r.findings) : [];
    const masked = maskSegments(segments, findings);
    // The chain already hashed long segments for its scan cache; an unmasked one keeps that digest.
    const digests = outcome?.digests;
    this.requestText = masked.map((m, i) => {
      const seg = segments[i]!;
      const d = digests?.get(seg.id);
      return d && m.text === seg.text ? { ...m, digest: d } : m;
    });
  }

  /** Results of one chain run, with the segments it read (for value hashes of what it redacted). */
  addOutcome(phase: PolicyPhase, outcome: ChainOutcome, segments: readonly Segment[]): void {
    const redacted = new Set(outcome.edits.map((e) => `${e.segment}:${e.start}:${e.end}`));
    for (const r of outcome.results) {
      this.policies.push(summarise(r));
      for (const f of r.findings) {
        this.dataCategories.add(f.type);
        if (!redacted.has(`${f.segment}:${f.start}:${f.end}`)) continue;
        const seg = segments[f.segment];
        this.redactions.push({
          type: f.type,
          rule: f.rule,
          source: f.source,
          location: { phase, path: seg ? pathString(seg.path, seg.innerPath) : null, start: f.start, end: f.end },
          value_hash: seg ? this.valueHash(seg.text.slice(f.start, f.end)) : null,
        });
      }
    }
    this.verdict = worstVerdict(this.verdict, outcome.verdict);
  }

  /** Findings of output policies on a streamed reply, grouped per policy (StreamGuard reports them one by one). */
  addStreamFindings(found: ReadonlyArray<{ policy: string; finding: Finding; valueHash?: string; action: string }>, verdict: Verdict): void {
    const byPolicy = new Map<string, { verdict: Verdict; findings: Finding[] }>();
    for (const { policy, finding, valueHash, action } of found) {
      let p = byPolicy.get(policy);
      if (!p) byPolicy.set(policy, (p = { verdict: 'allow', findings: [] }));
      p.findings.push(finding);
      p.verdict = worstVerdict(p.verdict, action as Verdict);
      this.dataCategories.add(finding.type);
      if (action === 'redact') {
        this.redactions.push({
          type: finding.type,
          rule: finding.rule,
          source: finding.source,
          location: { phase: 'output', path: null, start: finding.start, end: finding.end },
          value_hash: valueHash ?? null,
        });
      }
    }
    for (const [kind, p] of byPolicy) {
      this.policies.push({ ...summarise({ kind, phase: 'output', verdict: p.verdict, findings: p.findings, durationUs: 0 }), streamed: true });
    }
    this.verdict = worstVerdict(this.verdict, verdict);
  }

  /** Scores of a streamed reply, judged once it was delivered. */
  addStreamAssessment(results: readonly PolicyResult[]): void {
    for (const r of results) this.policies.push({ ...summarise(r), streamed: true });
    for (const r of results) this.verdict = worstVerdict(this.verdict, r.verdict);
  }

  /** The reply as the client received it (after redaction); withheld replies are not captured. */
  setReply(view: ReplyView | null, withheld = false): void {
    this.reply = view;
    this.replyWithheld = withheld;
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

  valueHash(value: string): string {
    return createHmac('sha256', this.settings.salt).update(value).digest('hex').slice(0, 16);
  }

  /** Whether this request's event is kept under `log_all_access: false`. */
  get noteworthy(): boolean {
    return this.verdict !== 'allow' || this.status >= 400 || this.error !== null;
  }

  build(): DecisionEvent {
    const now = performance.now();
    const s = this.settings;
    const ms = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined ? round(b - a) : null);
    const event: DecisionEvent = {
      id: this.id,
      ts: timestampMicros(this.startedMs),
      request_id: this.requestId,
      gateway_id: s.gatewayId,
      config: s.config,
      route: this.route,
      stream: this.stream,
      identity: this.identity(),
      model_requested: this.modelRequested,
      target: this.target,
      verdict: this.verdict,
      reason_code: this.reasonCode,
      policies: this.policies,
      redactions: this.redactions,
      usage: this.usage,
      cost: this.cost,
      latency: {
        total_ms: round(now - this.started),
        upstream_ms: ms(this.upstreamStart, now),
        ttft_ms: ms(this.started, this.firstByte),
        overhead_ms: ms(this.started, this.upstreamStart),
      },
      status: this.status,
      error: this.error,
      capture: this.capture(),
      proposed_edits: this.proposedEdits(),
    };
    if (s.hipaa) event.data_categories = [...this.dataCategories].sort();
    if (this.flags.length > 0) event.flags = this.flags;
    if (this.budgetAlerts.length > 0) {
      event.budget_alerts = this.budgetAlerts.map((a) => ({
        scope: a.scope,
        value: a.value,
        period: a.period,
        mode: a.mode,
        threshold: a.threshold,
        spent_usd: a.spentUsd,
        limit_usd: a.limitUsd,
      }));
    }
    return event;
  }

  private identity(): EventIdentity {
    const a = this.attribution;
    return {
      developer: a.developer,
      repository: a.repository,
      team: a.team,
      key_id: a.key_id,
      client: detectClient(this.headers, this.systemText),
      source: a.source,
    };
  }

  private capture(): EventCapture | null {
    if (this.settings.capture !== 'redacted') return null;
    const budget = { left: this.settings.captureMaxBytes, truncated: false };
    const request =
      this.requestText?.map((t) => {
        const text = take(t.text, budget);
        if (text.length < BLOB_MIN_CHARS) return { source: t.source, turn: t.turn, text };
        const sha256 = text === t.text && t.digest ? Buffer.from(t.digest, 'base64').toString('hex') : blobHash(text);
        this.blobs.set(sha256, text);
        return { source: t.source, turn: t.turn, sha256, chars: text.length };
      }) ?? null;
    const reply = this.reply && !this.replyWithheld ? this.reply : null;
    const completion = reply
      ? {
          text: take(reply.text, budget),
          tool_calls: reply.toolCalls.map((c) => ({ name: c.name, input: capJson(c.input, budget) })),
          finish_reason: reply.finishReason ?? null,
        }
      : null;
    return { mode: 'redacted', request, completion, truncated: budget.truncated };
  }

  private proposedEdits(): ProposedEdit[] {
    if (this.settings.capture === 'none' || !this.reply || this.replyWithheld) return [];
    let parsed;
    try {
      parsed = collectEdits({ text: this.reply.text, toolCalls: this.reply.toolCalls });
    } catch {
      return [];
    }
    const budget = { left: this.settings.captureMaxBytes, truncated: false };
    return parsed.edits.map((e) => {
      const diff = e.diff ?? '';
      const lines = diff.split('\n');
      return {
        file: e.file ?? null,
        format: e.format,
        added: lines.filter((l) => l.startsWith('+') && !l.startsWith('+++')).length,
        removed: lines.filter((l) => l.startsWith('-') && !l.startsWith('---')).length,
        diff: this.settings.capture === 'redacted' ? take(diff, budget) : '',
      };
    });
  }
}

function summarise(r: PolicyResult): EventPolicyResult {
  const groups = new Map<string, { type: string; rule: string; source: Finding['source']; count: number }>();
  for (const f of r.findings) {
    const key = `${f.type}\u0000${f.rule}\u0000${f.source}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { type: f.type, rule: f.rule, source: f.source, count: 1 });
  }
  const out: EventPolicyResult = { kind: r.kind, phase: r.phase, verdict: r.verdict, duration_us: Math.round(r.durationUs), findings: [...groups.values()] };
  if (r.score !== undefined) out.score = Math.round(r.score * 1000) / 1000;
  if (r.reasons?.length) out.reasons = r.reasons;
  if (r.error) out.error = r.error;
  return out;
}

/** Segment texts with every finding's span replaced by `[TYPE]`, whatever the policy did with it. */
export function maskSegments(segments: readonly Segment[], findings: readonly Finding[]): Array<{ source: string; turn: number; text: string }> {
  const bySegment = new Map<number, Finding[]>();
  for (const f of findings) {
    if (f.segment < 0) continue;
    const list = bySegment.get(f.segment) ?? [];
    list.push(f);
    bySegment.set(f.segment, list);
  }
  return segments.map((seg) => {
    const fs = bySegment.get(seg.id);
    return { source: seg.source, turn: seg.turn, text: fs ? maskSpans(seg.text, fs) : seg.text };
  });
}

function maskSpans(text: string, findings: readonly Finding[]): string {
  const spans = [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let pos = 0;
  for (const f of spans) {
    if (f.end <= pos) continue;
    const start = Math.max(f.start, pos);
    out += text.slice(pos, start) + `[${f.type}]`;
    pos = f.end;
  }
  return out + text.slice(pos);
}

function take(text: string, budget: { left: number; truncated: boolean }): string {
  if (text.length <= budget.left) {
    budget.left -= text.length;
    return text;
  }
  budget.truncated = true;
  const kept = text.slice(0, Math.max(0, budget.left));
  budget.left = 0;
  return `${kept}…[truncated ${text.length - kept.length} chars]`;
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
