import type { PolicyChain } from '../policy/engine.js';
import type { DetectionRule, Finding, ReplyView, Verdict } from '../policy/types.js';
import { worstVerdict } from '../policy/types.js';
import { writeBack, type Edit, type Segment, type SegmentSource } from '../protocol/content.js';
import { replyView } from '../protocol/families.js';
import { StreamEnding, type RefusalNotice } from '../protocol/refusal.js';
import { quickTextDelta, RepeatedChunks, writeTextDelta } from '../protocol/quick-json.js';
import { formatFrame, parseFrame, SseSplitter } from '../protocol/sse.js';
import type { ClientFrame } from '../protocol/translate/stream-frames.js';
import { planFrame, type FramePlan, type Fragment } from '../protocol/stream-frames.js';
import { isObj, ViewBuilder } from '../protocol/view.js';
import type { Family } from '../providers/targets.js';
import { JsonTextWindows } from './json-text.js';
import { findingOf, TextWindow, type RuleMatch } from './window.js';
import type { ReplyBudget } from './budget.js';
import { restorerFor, type Restore, type Restorer } from './restore.js';

type Obj = Record<string, unknown>;

const NO_LINES: string[] = [];

export interface StreamBlock {
  policy: string;
  verdict: 'block' | 'escalate';
  /** The match that stopped the stream: its type, rule and which part of the reply (never the value). */
  finding?: Pick<Finding, 'type' | 'rule' | 'source'>;
}

interface Held {
  window: TextWindow | JsonTextWindows;
  part: Fragment['part'];
  source: SegmentSource;
  /** Writes a late release of this window as a frame of its own. */
  synth: (text: string) => string;
  ended: boolean;
  /** Gives placeholders back their values in what the window releases (reversible redaction). */
  restorer?: Restorer | undefined;
}

/**
 * Short values seen in every frame (model names, `created`, service tiers) are scanned once per chain, not once
 * per stream: the rules are the chain's and the detectors read nothing but the text, so a value one stream found
 * clean is clean in every other. Keyed by source too (a rule can watch only some sources). Bounded: a full memo
 * starts again empty. A reloaded config builds a new chain, and with it a new memo.
 */
const CLEAN_MEMO_ENTRIES = 4096;
const CLEAN_MEMO_CHARS = 256;
const perChain = new WeakMap<PolicyChain, ChainOutput>();

/** What every stream of one chain shares: its output rules, their policies, the memo of clean values. */
interface ChainOutput {
  rules: Array<{ policy: string; rule: DetectionRule }>;
  policies: readonly string[];
  clean: CleanMemo;
}

function chainOutput(chain: PolicyChain): ChainOutput {
  let out = perChain.get(chain);
  if (!out) {
    const rules = chain.rulesFor('output').map(({ policy, rule }) => ({ policy: policy.kind, rule }));
    out = { rules, policies: [...new Set(rules.map((r) => r.policy))], clean: new CleanMemo() };
    perChain.set(chain, out);
  }
  return out;
}

class CleanMemo {
  private readonly bySource = new Map<SegmentSource, Set<string>>();
  private size = 0;

  has(source: SegmentSource, text: string): boolean {
    return this.bySource.get(source)?.has(text) === true;
  }

  add(source: SegmentSource, text: string): void {
    if (text.length > CLEAN_MEMO_CHARS) return;
    if (this.size >= CLEAN_MEMO_ENTRIES) {
      this.bySource.clear();
      this.size = 0;
    }
    let set = this.bySource.get(source);
    if (!set) this.bySource.set(source, (set = new Set()));
    if (!set.has(text)) {
      set.add(text);
      this.size++;
    }
  }
}


/**
 * StreamGuard: output policies on SSE for all three families. Frames are split and parsed as they arrive
 * (bounded by the reply budget, each character looked at once). What each family's frames hold is described
 * in protocol/stream-frames.ts: text arriving in pieces goes through a TextWindow per text (tool-call arguments
 * through JsonTextWindows, which scan the decoded values), and everything else in a frame is scanned as
 * complete values, so a field this version does not know is checked, never passed blind. A frame nothing
 * changed goes out as it came. When a blocking rule matches, the stream ends with the protocol's own error
 * frame and nothing of the match is released.
 */
export class StreamGuard {
  private readonly splitter: SseSplitter;
  private readonly windows = new Map<string, Held>();
  private readonly rules: ReadonlyArray<{ policy: string; rule: DetectionRule }>;
  private readonly toolNames = new Map<string, string>();
  /** Tool calls whose name came in more than one piece: which tool the client ends up with is not certain. */
  private readonly pieced = new Set<string>();
  private readonly clean: CleanMemo;
  private readonly skipClean = (source: SegmentSource, text: string): boolean => this.rules.length === 0 || this.clean.has(source, text);
  /** Chat chunks that repeat the one before but for their text, read without JSON.parse (chat streams only). */
  private readonly chunks: RepeatedChunks | undefined;
  /** The template generation whose envelope (everything but the text piece) was scanned and found clean. */
  private quietGeneration = 0;
  private finishReason: string | undefined;
  private finalReply: ReplyView | undefined;
  private done = false;
  /** What the client has received so far, so that a refusal ends the stream the way each client accepts. */
  private readonly ending: StreamEnding;
  readonly findings: Finding[] = [];
  /** Each finding with the policy and action that produced it, and a hash of the value when one was asked for. */
  readonly found: Array<{ policy: string; finding: Finding; action: DetectionRule['action']; valueHash?: string }> = [];
  verdict: Verdict = 'allow';
  blocked: StreamBlock | undefined;
  /** The policies whose output rules watch this stream, in chain order (listed on the event even when they found nothing). */
  readonly policies: readonly string[];

  constructor(
    private readonly family: Family,
    chain: PolicyChain,
    private readonly budget: ReplyBudget,
    private readonly hashValue?: (value: string) => string,
    /**
     * Sees every parsed JSON frame (metering reads usage from them without parsing again). Returning true drops
     * the frame: the usage chunk the gateway asked for on the client's behalf never reaches the client.
     */
    private readonly onFrame?: (event: string | undefined, data: Obj) => boolean | void,
    /** The request's placeholders, when it has any: restored after the policies, before the client. */
    private readonly restore?: Restore,
    /** The refusal a block ends the stream with (the gateway names the event to ask about). */
    private readonly notice: (block: StreamBlock) => RefusalNotice = plainNotice,
  ) {
    const shared = chainOutput(chain);
    this.rules = shared.rules;
    this.clean = shared.clean;
    this.policies = shared.policies;
    this.splitter = new SseSplitter(budget.limit);
    this.ending = new StreamEnding(family);
    this.chunks = family === 'chat' ? new RepeatedChunks() : undefined;
  }

  /** Feed text from upstream; returns the text to send to the client now. Throws ReplyTooLarge over the budget. */
  push(chunk: string): string {
    if (this.done) return '';
    this.budget.charge(chunk.length);
    let out = '';
    for (const raw of this.splitter.push(chunk)) {
      out += this.frame(raw);
      if (this.done) break;
    }
    return out;
  }

  /**
   * Frames already parsed (a translator's, for the client): read as push reads the frames it parses, each written
   * once, after it was read. `charge` is the text the frames were made from (the upstream's), for the budget.
   */
  pushFrames(frames: readonly ClientFrame[], charge: number): string {
    if (this.done) return '';
    this.budget.charge(charge);
    let out = '';
    for (const f of frames) {
      if (f.data === '[DONE]') {
        const rest = this.flushAll();
        out += this.blocked ? this.stop() : `${rest}data: [DONE]\n\n`;
      } else {
        let generation = 0;
        if (this.chunks && f.event === undefined && this.chunks.matches(f.data)) generation = this.chunks.generation;
        out += this.object(f.event, f.data, generation, undefined, NO_LINES, NO_LINES);
      }
      if (this.done) break;
    }
    return out;
  }

  /** Upstream ended: the last frame, then everything held, released. */
  end(): string {
    if (this.done) return '';
    const rest = this.splitter.end();
    let out = rest ? this.frame(rest) : '';
    if (!this.done) out += this.flushAll();
    this.done = true;
    return out;
  }

  /** The reply as released to the client (redacted), for policies that judge whole replies. */
  reply(): ReplyView {
    if (this.finalReply) return this.finalReply;
    let text = '';
    const toolCalls: ReplyView['toolCalls'] = [];
    for (const [key, held] of this.windows) {
      if (held.part === 'text') text += held.window.output;
      else if (held.part === 'tool') {
        let input: unknown = held.window.output;
        try {
          input = JSON.parse(held.window.output);
        } catch {
          // arguments that are not JSON stay text
        }
        toolCalls.push({ name: this.toolNames.get(key) ?? '', input });
      }
    }
    return { text, toolCalls, ...(this.finishReason ? { finishReason: this.finishReason } : {}) };
  }

  private frame(raw: string): string {
    const { event, data, other } = parseFrame(raw);
    const lines = this.checkLines(other);
    if (this.blocked) return this.stop();
    if (data === undefined) return lines === other ? `${raw}\n\n` : formatFrame(event, undefined, lines);
    if (data === '[DONE]') {
      const rest = this.flushAll();
      return this.blocked ? this.stop() : rest + (lines === other ? `${raw}\n\n` : formatFrame(event, data, lines));
    }
    let value: unknown;
    // The template generation of a chat chunk read from or learnt as a template (0: neither).
    let generation = 0;
    try {
      if (this.chunks) {
        const repeated = this.chunks.read(data);
        if (repeated) {
          value = repeated;
          generation = this.chunks.generation;
        } else {
          const before = this.chunks.generation;
          value = this.chunks.learn(data, JSON.parse(data));
          if (this.chunks.generation !== before) generation = this.chunks.generation;
        }
      } else value = quickTextDelta(data) ?? JSON.parse(data);
    } catch {
      // Not JSON: its text is one complete value.
      const checked = this.checkText(data, 'output_other');
      if (this.blocked) return this.stop();
      return checked === data && lines === other ? `${raw}\n\n` : formatFrame(event, checked, lines);
    }
    if (!isObj(value)) {
      const b = new ViewBuilder();
      b.any(value, -1, 'output_other');
      const holder = { value };
      const changed = this.checkSegments(holder, b.segments.map((s) => ({ ...s, path: ['value', ...s.path] })));
      if (this.blocked) return this.stop();
      return !changed && lines === other ? `${raw}\n\n` : formatFrame(event, JSON.stringify(holder.value), lines);
    }
    return this.object(event, value, generation, raw, lines, other);
  }

  /** A frame's JSON object, read and written (`raw`: the frame's text, sent as it came when nothing changed). */
  private object(event: string | undefined, value: Obj, generation: number, raw: string | undefined, lines: string[], other: string[]): string {
    if (this.onFrame?.(event, value) === true) return '';
    const plan = planFrame(this.family, event, value);
    const out = this.planned(plan, value, generation);
    if (this.blocked) return this.stop();
    this.ending.observe(value, event);
    // Every piece held back and nothing else in the frame: sending it would only be an empty delta.
    if (out.emptied && plan.onlyPieces && other.length === 0) return out.prefix;
    if (raw !== undefined && !out.changed && lines === other) return `${out.prefix}${raw}\n\n`;
    if (lines.length > 0) return out.prefix + formatFrame(event, JSON.stringify(value), lines);
    if (event !== undefined) return `${out.prefix}event: ${event}\ndata: ${(this.family === 'messages' ? writeTextDelta(value) : undefined) ?? JSON.stringify(value)}\n\n`;
    if (!this.chunks) return `${out.prefix}data: ${JSON.stringify(value)}\n\n`;
    let text = this.chunks.write(value);
    if (text === undefined) {
      text = JSON.stringify(value);
      // Frames handed over as objects teach the template from their writing (there is no text they came as).
      if (raw === undefined) this.chunks.learn(text, value);
    }
    return `${out.prefix}data: ${text}\n\n`;
  }

  /** `emptied`: the frame had text in its pieces and its windows released none of it. */
  private planned(plan: FramePlan, obj: Obj, generation = 0): { prefix: string; changed: boolean; emptied?: boolean } {
    for (const { key, name } of plan.toolNames) {
      // An empty piece adds nothing (some servers send `"name": ""` with every later delta).
      if (name === '') continue;
      // A second piece of a name: clients join the pieces, so the tool is not the one restoring was for. Nothing
      // more is restored in it, and if something already was, the stream fails rather than let the call run.
      if (this.toolNames.has(key)) {
        this.pieced.add(key);
        const restorer = this.windows.get(key)?.restorer;
        if (restorer && restorer.restored > 0) throw new Error('a tool name grew after values were restored into its input');
        restorer?.distrust();
      }
      this.toolNames.set(key, name);
    }
    if (plan.finishReason !== undefined) this.finishReason = plan.finishReason;
    // Pieces and repeated wholes are taken out while the rest of the frame is scanned as complete values.
    const pieces = plan.fragments.map((f) => {
      const text = String(f.holder[f.field]);
      f.holder[f.field] = '';
      return text;
    });
    const wholes = plan.wholes.filter((w) => this.windows.has(w.key));
    for (const w of wholes) w.holder[w.field] = '';
    let changed = false;
    // A chunk repeating a template whose envelope was scanned clean: the same values, so the same (no) findings.
    if (generation === 0 || generation !== this.quietGeneration) {
      const b = new ViewBuilder();
      b.skip = this.skipClean;
      plan.rest(b);
      const found = this.findings.length;
      changed = this.checkSegments(obj, b.segments);
      if (this.blocked) return { prefix: '', changed };
      if (generation !== 0 && !changed && this.findings.length === found) this.quietGeneration = generation;
    }

    let emptied = pieces.some((p) => p !== '');
    plan.fragments.forEach((f, n) => {
      if (this.blocked) return;
      const held = this.held(f);
      const released = this.restored(held, held.window.push(pieces[n]!), false);
      if (this.isBlocked(held)) return;
      f.holder[f.field] = released;
      if (released !== pieces[n]) changed = true;
      if (released !== '') emptied = false;
    });
    if (this.blocked) return { prefix: '', changed };

    let prefix = '';
    for (const [key, held] of this.windows) {
      if (held.ended || !plan.complete.some((p) => key.startsWith(p))) continue;
      const rest = this.endWindow(held);
      if (this.blocked) return { prefix: '', changed };
      if (!rest) continue;
      // A piece of the same text in this frame takes the rest with it; otherwise it goes out just before.
      const own = plan.fragments.find((f) => f.key === key);
      if (own) {
        own.holder[own.field] = String(own.holder[own.field]) + rest;
        changed = true;
      } else prefix += held.synth(rest);
    }
    for (const w of wholes) {
      const held = this.windows.get(w.key)!;
      if (!held.ended) {
        const rest = this.endWindow(held);
        if (this.blocked) return { prefix: '', changed };
        if (rest) prefix += held.synth(rest);
      }
      w.holder[w.field] = held.window.output;
      changed = true;
    }
    // The final reply is kept as the policies saw it (placeholders, not values); the client's copy is restored.
    if (plan.finalResponse) this.finalReply = replyView('responses', plan.finalResponse);
    for (const w of wholes) {
      const restorer = this.windows.get(w.key)!.restorer;
      if (restorer) w.holder[w.field] = restorer.output;
    }
    // A window this frame completes put its rest into one of the pieces: then the frame is not empty.
    if (emptied) emptied = plan.fragments.every((f) => f.holder[f.field] === '');
    return { prefix, changed, emptied };
  }

  private held(f: Fragment): Held {
    let held = this.windows.get(f.key);
    if (!held) {
      const newWindow = () => new TextWindow(this.rules, (rm: RuleMatch, value: string) => this.record(rm, f.source, value));
      held = { window: f.json ? new JsonTextWindows(newWindow) : newWindow(), part: f.part, source: f.source, synth: f.synth, ended: false };
      if (this.restore) held.restorer = restorerFor(this.restore, f, this.pieced.has(f.key) ? undefined : this.toolNames.get(f.key));
      this.windows.set(f.key, held);
    }
    return held;
  }

  private endWindow(held: Held): string {
    held.ended = true;
    const w = held.window;
    const rest = w instanceof JsonTextWindows ? w.end() : w.flush();
    this.isBlocked(held);
    return this.restored(held, rest, true);
  }

  /** What a window released, with placeholders restored where that is safe (nothing changes without a restorer). */
  private restored(held: Held, released: string, end: boolean): string {
    const r = held.restorer;
    if (!r || this.blocked) return released;
    return end ? r.push(released) + r.flush() : r.push(released);
  }

  private isBlocked(held: Held): boolean {
    const b = held.window.blocked;
    if (b && !this.blocked) this.blocked = { policy: b.policy, verdict: b.rule.action as 'block' | 'escalate', finding: { type: b.match.type, rule: b.match.rule, source: held.source } };
    return this.blocked !== undefined;
  }

  /** Release every held text, as extra frames in the family's format. */
  private flushAll(): string {
    let out = '';
    for (const held of this.windows.values()) {
      if (held.ended) continue;
      const rest = this.endWindow(held);
      if (this.blocked) return this.stop();
      if (rest) out += held.synth(rest);
    }
    return out;
  }

  /** Complete values: scanned whole, redacted in place. Returns true when an edit changed the object. */
  private checkSegments(root: unknown, segments: readonly Segment[]): boolean {
    if (this.rules.length === 0 || segments.length === 0) return false;
    const edits: Edit[] = [];
    for (const seg of segments) {
      if (this.clean.has(seg.source, seg.text)) continue;
      let found = false;
      for (const r of this.rules) {
        if (r.rule.sources && !r.rule.sources.has(seg.source)) continue;
        for (const match of r.rule.detector.scan(seg.text)) {
          found = true;
          const rm: RuleMatch = { rule: r.rule, policy: r.policy, match };
          const value = seg.text.slice(match.start, match.end);
          this.record(rm, seg.source, value);
          if (r.rule.action === 'redact') edits.push({ segment: seg.id, start: match.start, end: match.end, replacement: r.rule.marker(match, value) });
        }
      }
      if (!found) this.clean.add(seg.source, seg.text);
    }
    return edits.length > 0 && writeBack(root, segments, edits);
  }

  /** A text outside JSON (a data line that is not JSON, a comment): one complete value. */
  private checkText(text: string, source: SegmentSource): string {
    if (text.length === 0) return text;
    const holder = { text };
    this.checkSegments(holder, [{ id: 0, source, turn: -1, path: ['text'], text }]);
    return holder.text;
  }

  /** Comment, `id:`, `retry:` and unknown lines: their values are complete values too. */
  private checkLines(lines: string[]): string[] {
    let out = lines;
    lines.forEach((line, i) => {
      const colon = line.indexOf(':');
      const name = colon >= 0 ? line.slice(0, colon) : line;
      const value = colon >= 0 ? line.slice(colon + 1) : '';
      const checked = this.checkText(value, 'output_other');
      if (checked !== value) {
        if (out === lines) out = [...lines];
        out[i] = `${name}:${checked}`;
      }
    });
    return out;
  }

  private record(rm: RuleMatch, source: Finding['source'], value: string): void {
    const finding = findingOf(rm, source, -1);
    this.findings.push(finding);
    const valueHash = this.hashValue && rm.rule.action === 'redact' ? this.hashValue(value) : undefined;
    this.found.push({ policy: rm.policy, finding, action: rm.rule.action, ...(valueHash ? { valueHash } : {}) });
    this.verdict = worstVerdict(this.verdict, rm.rule.action);
    if ((rm.rule.action === 'block' || rm.rule.action === 'escalate') && !this.blocked) {
      this.blocked = { policy: rm.policy, verdict: rm.rule.action, finding: { type: finding.type, rule: finding.rule, source } };
    }
  }

  private stop(): string {
    this.done = true;
    return this.ending.refusal(this.notice(this.blocked!));
  }
}

/** The notice when no gateway gives one (the guard used on its own). */
function plainNotice(b: StreamBlock): RefusalNotice {
  const code = b.verdict === 'block' ? 'output_blocked' : 'escalation_required';
  return { code, message: `${b.policy} blocked the response (${code})`, details: { policy: b.policy, ...(b.finding ? { rule: b.finding.rule } : {}) } };
}
