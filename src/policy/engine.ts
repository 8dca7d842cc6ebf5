import type { DetectorMatch } from '../detect/types.js';
import { PlaceholderVault } from './placeholders.js';
import { applyEditsToText, type Edit, type Segment, type SegmentSource } from '../protocol/content.js';
import { digestOf, GROUP_SIZE, groupDigestOf, ScanCache, worthCaching } from './scan-cache.js';
import { worstVerdict, type DetectionRule, type Finding, type PolicyInstance, type PolicyPhase, type ReplyView, type Verdict } from './types.js';

/** One policy's part in a decision, kept for the decision event. */
export interface PolicyResult {
  kind: string;
  phase: PolicyPhase;
  verdict: Verdict;
  findings: Finding[];
  durationUs: number;
  /** Set when the policy itself failed; the value is an error class name, never request data. */
  error?: string;
  /** From policies that score (quality-scorer): the score and the ids of the checks that failed. */
  score?: number;
  reasons?: string[];
}

/** Signal ids kept in an event per policy result: enough to say why, bounded whatever the input held. */
const MAX_REASONS = 16;

/**
 * Scoring detectors (prompt-injection) put their strongest finding's score and the signals that fired into the
 * result, and so into the decision event: why it blocked, without the text.
 */
function scoreFindings(result: PolicyResult): void {
  let score: number | undefined;
  let reasons: Set<string> | undefined;
  for (const f of result.findings) {
    if (f.score === undefined) continue;
    score = Math.max(score ?? 0, f.score);
    if (f.signals) for (const s of f.signals) if ((reasons ??= new Set()).size < MAX_REASONS) reasons.add(s);
  }
  if (score === undefined) return;
  result.score = score;
  if (reasons && reasons.size > 0) result.reasons = [...reasons].sort();
}

export interface ChainOutcome {
  verdict: Verdict;
  results: PolicyResult[];
  edits: Edit[];
  /**
   * The policy whose verdict stopped the chain (block or escalate); `finding` is the first match of a rule with
   * that action (what the refusal names), `configured` the policy's own block message when it has one.
   */
  stoppedBy?: { kind: string; verdict: 'block' | 'escalate'; message: string; finding?: Finding; configured?: string };
  /** A policy failed and fail-mode is block. */
  failed?: { kind: string };
  /** SHA-256 (hex) of the long segments this run hashed, by segment id: reused by the audit trail. */
  digests?: ReadonlyMap<number, string>;
}

/**
 * Runs `policies.chain` in order for one phase. Every policy reads the original segment texts; redactions
 * from all policies are merged (an overlap keeps the earliest, longest match), so the order of redacting
 * policies never changes the result, and streamed output can apply the same merge window by window. A block
 * or escalate stops the chain at that policy.
 */
export class PolicyChain {
  constructor(
    readonly policies: readonly PolicyInstance[],
    private readonly failMode: 'block' | 'allow',
    /** The key placeholders are made with, when some rule redacts reversibly (placeholders.ts). */
    private readonly placeholderKey?: Buffer,
  ) {
    for (const p of policies) {
      if (p.assessReply) this.phases.add('output');
      for (const r of p.rules) {
        this.slots.set(r, this.slots.size);
        for (const ph of r.phases) this.phases.add(ph);
        if (r.reversible && r.action === 'redact' && r.phases.includes('input')) this.reversible = true;
      }
    }
  }

  /** Some rule turns request values into placeholders the reply can be given back. */
  readonly reversible: boolean = false;

  /** A vault for one request's placeholders, when the chain redacts reversibly (else undefined: nothing to restore). */
  newVault(): PlaceholderVault | undefined {
    return this.reversible && this.placeholderKey ? new PlaceholderVault(this.placeholderKey) : undefined;
  }

  private readonly phases = new Set<PolicyPhase>();
  private readonly cache = new ScanCache();
  /** A number per detection rule, so cached results of different rules never mix. */
  private readonly slots = new Map<DetectionRule, number>();

  hasPhase(phase: PolicyPhase): boolean {
    return this.phases.has(phase);
  }

  /** Whether some policy judges whole replies (then non-streamed replies need a ReplyView). */
  get assessesReplies(): boolean {
    return this.policies.some((p) => p.assessReply);
  }

  /** Detection rules that apply to a phase, with their policy, in chain order (used by StreamGuard). */
  rulesFor(phase: PolicyPhase): Array<{ policy: PolicyInstance; rule: DetectionRule }> {
    const out: Array<{ policy: PolicyInstance; rule: DetectionRule }> = [];
    for (const policy of this.policies) for (const rule of policy.rules) if (rule.phases.includes(phase)) out.push({ policy, rule });
    return out;
  }

  /**
   * `text` with everything this phase's rules find in it masked as `[TYPE]`, whatever each rule's action: what
   * the permanent record keeps of a reply (a flagged value reached the client by design; it stays out of the
   * record). A rule that fails withholds the whole text.
   */
  mask(phase: PolicyPhase, text: string, source: SegmentSource): string {
    if (text.length === 0) return text;
    const edits: Edit[] = [];
    for (const policy of this.policies) {
      for (const rule of policy.rules) {
        if (!rule.phases.includes(phase) || (rule.sources && !rule.sources.has(source))) continue;
        try {
          for (const m of this.cache.scan(this.slots.get(rule)!, rule.detector, text)) edits.push({ segment: 0, start: m.start, end: m.end, replacement: `[${m.type}]` });
        } catch {
          return '[withheld: a policy failed on this text]';
        }
      }
    }
    return applyEditsToText(text, edits);
  }

  /**
   * `reply` and `request` are given for the output phase of a non-streamed reply, so that policies which
   * judge the reply as a whole can run.
   */
  run(
    phase: PolicyPhase,
    segments: readonly Segment[],
    reply?: { view: ReplyView; request: readonly Segment[] },
    vault?: PlaceholderVault,
    /** An escalating finding this says yes to (an approved escalation, an exception) only flags. */
    exempt?: (policy: string, rule: string) => boolean,
  ): ChainOutcome {
    // Only values the client sent become placeholders; what the model writes is masked.
    const placeholders = phase === 'input' ? vault : undefined;
    const units = new ScanUnits(segments);
    const outcome: ChainOutcome = { verdict: 'allow', results: [], edits: [] };
    for (const { policy, rules, slots } of this.plan(phase)) {
      const assess = phase === 'output' && reply && policy.assessReply;
      if (rules.length === 0 && !assess) continue;
      const started = performance.now();
      const pass = new PolicyPass({ kind: policy.kind, phase, verdict: 'allow', findings: [], durationUs: 0 }, placeholders, exempt);
      const result = pass.result;
      try {
        for (let r = 0; r < rules.length; r++) {
          const rule = rules[r]!;
          const slot = slots[r]!;
          const sources = rule.sources;
          for (const unit of units.list) {
            if (!Array.isArray(unit)) {
              if (!sources || sources.has(unit.source)) pass.record(rule, unit, this.cache.scan(slot, rule.detector, unit.text, units.digest(unit)));
              continue;
            }
            if (sources && !readsAny(unit, sources)) continue;
            const results = this.cache.scanGroup(slot, rule.detector, unit, sources, units.groupDigest(unit));
            for (let i = 0; i < unit.length; i++) pass.record(rule, unit[i]!, results[i]!);
          }
        }
        scoreFindings(result);
        if (assess) {
          const a = assess(reply.view, reply.request);
          result.verdict = worstVerdict(result.verdict, a.verdict);
          for (const f of a.findings) result.findings.push(f);
          if (a.verdict === 'block' || a.verdict === 'escalate') pass.stop(a.verdict, a.findings[0]);
          if (a.score !== undefined) result.score = a.score;
          if (a.reasons) result.reasons = a.reasons;
        }
      } catch (err) {
        result.error = err instanceof Error ? err.name : 'Error';
        result.verdict = this.failMode === 'block' ? 'block' : 'allow';
        result.findings = [];
        pass.edits = undefined;
        pass.block = pass.escalate = undefined;
      }
      result.durationUs = (performance.now() - started) * 1000;
      outcome.results.push(result);
      // A loop, not push(...edits): spreading some 130,000 arguments overflows the stack (a 1 MB text of e-mails).
      if (pass.edits) for (const e of pass.edits) outcome.edits.push(e);
      outcome.verdict = worstVerdict(outcome.verdict, result.verdict);
      if (result.error && this.failMode === 'block') {
        outcome.failed = { kind: policy.kind };
        break;
      }
      if (result.verdict === 'block' || result.verdict === 'escalate') {
        const stopping = result.verdict === 'block' ? pass.block : pass.escalate;
        outcome.stoppedBy = {
          kind: policy.kind,
          verdict: result.verdict,
          message: policy.blockMessage ?? defaultMessage(policy.kind, phase, result.findings),
          ...(stopping ? { finding: stopping } : {}),
          ...(policy.blockMessage ? { configured: policy.blockMessage } : {}),
        };
        break;
      }
    }
    if (units.digests) outcome.digests = units.digests;
    return outcome;
  }

  /** Each policy with its rules for a phase and their cache slots, in chain order: made once per chain and phase. */
  private plan(phase: PolicyPhase): ReadonlyArray<{ policy: PolicyInstance; rules: readonly DetectionRule[]; slots: readonly number[] }> {
    let plan = this.plans.get(phase);
    if (!plan) {
      plan = this.policies.map((policy) => {
        const rules = policy.rules.filter((r) => r.phases.includes(phase));
        return { policy, rules, slots: rules.map((r) => this.slots.get(r)!) };
      });
      this.plans.set(phase, plan);
    }
    return plan;
  }

  private readonly plans = new Map<PolicyPhase, ReadonlyArray<{ policy: PolicyInstance; rules: readonly DetectionRule[]; slots: readonly number[] }>>();
}

/**
 * One policy's findings in one run, and what they ask for: the redaction edits, and the first match of a
 * blocking and of an escalating rule (the refusal names the one of the final verdict). A class rather than
 * closures made for every rule: the input phase runs on every request.
 */
class PolicyPass {
  edits: Edit[] | undefined;
  block: Finding | undefined;
  escalate: Finding | undefined;

  constructor(
    readonly result: PolicyResult,
    private readonly placeholders: PlaceholderVault | undefined,
    private readonly exempt: ((policy: string, rule: string) => boolean) | undefined,
  ) {}

  record(rule: DetectionRule, seg: Segment, matches: readonly DetectorMatch[]): void {
    if (matches.length === 0) return;
    const result = this.result;
    for (const m of matches) {
      const action = rule.action === 'escalate' && this.exempt?.(result.kind, m.rule) ? 'flag' : rule.action;
      result.verdict = worstVerdict(result.verdict, action);
      const finding: Finding = {
        type: m.type,
        rule: m.rule,
        source: seg.source,
        segment: seg.id,
        start: m.start,
        end: m.end,
        ...(m.score !== undefined ? { score: m.score } : {}),
        ...(m.signals ? { signals: m.signals } : {}),
      };
      result.findings.push(finding);
      if (action === 'block' || action === 'escalate') this.stop(action, finding);
      if (rule.action === 'redact') (this.edits ??= []).push(redactionEdit(seg.id, m, seg.text, rule, this.placeholders));
    }
  }

  /** The first finding of each stopping verdict is kept. */
  stop(verdict: 'block' | 'escalate', finding: Finding | undefined): void {
    if (verdict === 'block') this.block ??= finding;
    else this.escalate ??= finding;
  }
}

/**
 * A run's segments in scan order (see scanUnits), with the digests of its long segments and groups: each is
 * hashed once per run, however many detectors read it, and only when some detector reads it.
 */
class ScanUnits {
  readonly list: Array<Segment | Segment[]>;
  /** SHA-256 of the long segments hashed, by segment id (the audit trail reuses them). */
  digests: Map<number, string> | undefined;
  private groupDigests: Map<readonly Segment[], string> | undefined;

  constructor(segments: readonly Segment[]) {
    this.list = scanUnits(segments);
  }

  digest(seg: Segment): string | undefined {
    if (!worthCaching(seg.text)) return undefined;
    const digests = (this.digests ??= new Map());
    let d = digests.get(seg.id);
    if (d === undefined) digests.set(seg.id, (d = digestOf(seg.text)));
    return d;
  }

  groupDigest(group: readonly Segment[]): string {
    const digests = (this.groupDigests ??= new Map());
    let d = digests.get(group);
    if (d === undefined) digests.set(group, (d = groupDigestOf(group)));
    return d;
  }
}

function readsAny(group: readonly Segment[], sources: ReadonlySet<SegmentSource>): boolean {
  for (const seg of group) if (sources.has(seg.source)) return true;
  return false;
}

/**
 * The segments in the order they are scanned: a long one alone (cached by its own digest), runs of short ones
 * in groups (cached by the group's digest). A lone short segment is not worth a hash.
 */
function scanUnits(segments: readonly Segment[]): Array<Segment | Segment[]> {
  const units: Array<Segment | Segment[]> = [];
  let run: Segment[] = [];
  const close = () => {
    if (run.length === 1) units.push(run[0]!);
    else if (run.length > 1) units.push(run);
    run = [];
  };
  for (const seg of segments) {
    if (worthCaching(seg.text)) {
      close();
      units.push(seg);
      continue;
    }
    run.push(seg);
    if (run.length >= GROUP_SIZE) close();
  }
  close();
  return units;
}

export function redactionEdit(segment: number, m: DetectorMatch, text: string, rule: DetectionRule, vault?: PlaceholderVault): Edit {
  const value = text.slice(m.start, m.end);
  return { segment, start: m.start, end: m.end, replacement: vault && rule.reversible ? vault.issue(m.type, value) : rule.marker(m, value) };
}

function defaultMessage(kind: string, phase: PolicyPhase, findings: readonly Finding[]): string {
  const types = [...new Set(findings.map((f) => f.type))].slice(0, 5).join(', ');
  const where = phase === 'input' ? 'the request' : 'the response';
  return `${kind} blocked ${where}${types ? `: found ${types}` : ''}`;
}
