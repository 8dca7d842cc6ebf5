import type { EventRestores } from '../audit/event.js';
import { PLACEHOLDER_SOURCE } from '../detect/placeholder-shape.js';
import { placeholderTail, type PlaceholderVault } from '../policy/placeholders.js';
import { ReplyTextScope, toolScope, type Decision, type TextScope, type ToolScope } from '../policy/restore-scope.js';
import type { SegmentSource } from '../protocol/content.js';
import type { ReplyBudget } from './budget.js';
import { escapeJson } from './json-text.js';

/**
 * The restore stage: placeholders in a reply become their values again where restore-scope.ts allows it. It
 * runs after the output policies (they judge the reply with placeholders in it, so a restored value is never
 * taken for a leak) and before the client. Whole replies and streamed ones go through the same restorers,
 * streamed text piece by piece: a placeholder split across deltas is held (at most 36 characters, only while
 * the text so far could still become one) and restored whole.
 */
export class Restore {
  readonly ledger = new RestoreLedger();
  /**
   * The reply budget the restored text draws from: a value is longer than its placeholder (a private key for
   * 20 characters), so a reply repeating a placeholder would otherwise grow without bound.
   */
  private budget: ReplyBudget | undefined;

  constructor(readonly vault: PlaceholderVault) {}

  /** Charge what restoring adds to this reply's budget (ReplyTooLarge over it). */
  useBudget(budget: ReplyBudget): void {
    this.budget = budget;
  }

  /** `extra` more characters go to the client than arrived. */
  grow(extra: number): void {
    if (extra > 0) this.budget?.charge(extra);
  }

  /** For the decision event: what was issued, restored and withheld, as counts per kind. */
  summary(): EventRestores | undefined {
    return this.ledger.summary(this.vault);
  }
}

/** What the restore stage did in one request, for its decision event: counts per kind and place, no values. */
export class RestoreLedger {
  private readonly restored = new Map<string, { count: number; type: string; where: string }>();
  private readonly withheld = new Map<string, { count: number; type: string; where: string }>();
  private unknown = 0;

  record(decision: Decision | undefined, type: string): void {
    if (!decision) {
      this.unknown++;
      return;
    }
    const groups = decision.restore ? this.restored : this.withheld;
    const key = `${type}\u0000${decision.where}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, type, where: decision.where });
  }

  /** Placeholders given back so far (tests and callers that need to know whether a body changed). */
  get restoredCount(): number {
    let n = 0;
    for (const g of this.restored.values()) n += g.count;
    return n;
  }

  summary(vault: PlaceholderVault): EventRestores | undefined {
    if (vault.empty) return undefined;
    const issued = [...vault.issuedByType()].map(([type, count]) => ({ count, type })).sort((a, b) => (a.type < b.type ? -1 : 1));
    const list = (m: Map<string, { count: number; type: string; where: string }>) => [...m.values()].map((g) => ({ count: g.count, type: g.type, where: g.where }));
    return { issued, restored: list(this.restored), unknown: this.unknown, withheld: list(this.withheld) };
  }
}

/** Restores one text (a reply text, a freeform tool input, one string of a tool's JSON input) as it arrives. */
export class TextRestorer {
  /** Text that could still become a placeholder, held until it does or cannot. */
  private pending = '';
  /** Everything released, as the client receives it. */
  output = '';

  constructor(
    private readonly restore: Restore,
    private scope: TextScope,
    /** Counts the values this text got back (shared by the strings of one tool input). */
    private readonly count: { restored: number } = { restored: 0 },
  ) {}

  /** Values given back so far in this text (or tool input). */
  get restored(): number {
    return this.count.restored;
  }

  /** What follows restores nothing (the tool it was restoring for turned out to be another). */
  distrust(): void {
    this.scope = toolScope(undefined).text();
  }

  /** Add text; returns what can be released now. */
  push(text: string): string {
    const all = this.pending.length > 0 ? this.pending + text : text;
    const tail = placeholderTail(all);
    if (tail < 0) {
      this.pending = '';
      return this.emit(all);
    }
    this.pending = all.slice(tail);
    return this.emit(all.slice(0, tail));
  }

  /** The text ended: release what is held (an unfinished placeholder stays as it came). */
  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return this.emit(rest);
  }

  private emit(text: string): string {
    if (text.length === 0) return '';
    if (!text.includes('[')) {
      this.scope.advance(text);
      this.output += text;
      return text;
    }
    let out = '';
    let pos = 0;
    for (const m of text.matchAll(FIND)) {
      const before = text.slice(pos, m.index);
      this.scope.advance(before);
      out += before;
      const entry = this.restore.vault.lookup(m[0]);
      let piece = m[0];
      if (!entry) this.restore.ledger.record(undefined, '');
      else {
        const decision = this.scope.decide();
        if (decision.restore) {
          this.restore.grow(entry.value.length - piece.length);
          piece = entry.value;
          this.count.restored++;
        }
        this.restore.ledger.record(decision, entry.type);
      }
      this.scope.advance(piece);
      out += piece;
      pos = m.index + m[0].length;
    }
    const rest = text.slice(pos);
    this.scope.advance(rest);
    out += rest;
    this.output += out;
    return out;
  }
}

interface Frame {
  array: boolean;
  /** The member name being read (objects) or the index (arrays). */
  key: string | number | undefined;
  expectKey: boolean;
}

/** Member names longer than this are no field a scope names. */
const KEY_KEEP = 64;

/**
 * Restores inside a tool call's JSON input arriving in pieces (chat `arguments`, Anthropic `input_json_delta`,
 * Responses `function_call_arguments`): each string value is decoded, restored by the scope of its path
 * (`old_string` of an Edit, `edits[2].new_string` of a MultiEdit) and escaped again, so the client's
 * `JSON.parse` of the arguments gets the value exactly. Member names, numbers and structure pass unchanged.
 */
export class JsonRestorer {
  private state: 'out' | 'string' | 'escape' | 'unicode' = 'out';
  private unicode = '';
  private readonly stack: Frame[] = [];
  /** The string being read is a member name (copied as it comes) rather than a value. */
  private inKey = false;
  private keyText = '';
  private current: TextRestorer | undefined;
  private decoded = '';
  private readonly count = { restored: 0 };
  output = '';

  constructor(
    private readonly restore: Restore,
    private tool: ToolScope,
  ) {}

  /** Values given back so far in this input. */
  get restored(): number {
    return this.count.restored;
  }

  /** What follows restores nothing (the tool it was restoring for turned out to be another). */
  distrust(): void {
    this.tool = toolScope(undefined);
    this.current?.distrust();
  }

  push(fragment: string): string {
    let out = '';
    let i = 0;
    while (i < fragment.length) {
      if (this.state === 'out') {
        const c = fragment[i++]!;
        out += c;
        const top = this.stack[this.stack.length - 1];
        if (c === '"') {
          this.state = 'string';
          this.inKey = top !== undefined && !top.array && top.expectKey;
          this.keyText = '';
          if (!this.inKey) this.current = new TextRestorer(this.restore, this.tool.field(this.path()), this.count);
        } else if (c === '{') this.stack.push({ array: false, key: undefined, expectKey: true });
        else if (c === '[') this.stack.push({ array: true, key: 0, expectKey: false });
        else if (c === '}' || c === ']') this.stack.pop();
        else if (c === ':' && top && !top.array) top.expectKey = false;
        else if (c === ',' && top) {
          if (top.array) top.key = (top.key as number) + 1;
          else top.expectKey = true;
        }
        continue;
      }
      if (this.inKey) {
        // A member name: copied as it came; its decoded text (roughly: escapes kept as their letter) names the field.
        let j = i;
        while (j < fragment.length && !(this.state === 'string' && fragment[j] === '"')) {
          const c = fragment[j]!;
          if (this.state === 'escape') this.state = 'string';
          else if (c === '\\') this.state = 'escape';
          else if (this.keyText.length < KEY_KEEP) this.keyText += c;
          j++;
        }
        out += fragment.slice(i, j);
        i = j;
        if (i < fragment.length) {
          out += '"';
          i++;
          this.state = 'out';
          const top = this.stack[this.stack.length - 1];
          if (top && !top.array) top.key = this.keyText;
        }
        continue;
      }
      if (this.state === 'string') {
        let j = i;
        while (j < fragment.length && fragment[j] !== '"' && fragment[j] !== '\\') j++;
        this.decoded += fragment.slice(i, j);
        i = j;
        if (i >= fragment.length) break;
        if (fragment[i] === '\\') {
          this.state = 'escape';
          i++;
          continue;
        }
        out += this.feed() + escapeJson(this.current!.flush()) + '"';
        this.current = undefined;
        this.state = 'out';
        i++;
        continue;
      }
      if (this.state === 'escape') {
        const c = fragment[i++]!;
        if (c === 'u') {
          this.state = 'unicode';
          this.unicode = '';
        } else {
          this.decoded += ESCAPES[c] ?? c;
          this.state = 'string';
        }
        continue;
      }
      const need = 4 - this.unicode.length;
      this.unicode += fragment.slice(i, i + need);
      i += Math.min(need, fragment.length - i);
      if (this.unicode.length === 4) {
        const code = Number.parseInt(this.unicode, 16);
        this.decoded += Number.isNaN(code) ? this.unicode : String.fromCharCode(code);
        this.state = 'string';
      }
    }
    if (this.current && this.decoded) out += this.feed();
    this.output += out;
    return out;
  }

  /** The input ended: release what is held (an unterminated string stays unterminated, as it came). */
  flush(): string {
    let out = '';
    if (this.current) {
      out = this.feed() + escapeJson(this.current.flush());
      this.current = undefined;
    }
    this.output += out;
    return out;
  }

  private feed(): string {
    const text = this.decoded;
    this.decoded = '';
    return escapeJson(this.current!.push(text));
  }

  private path(): Array<string | number> {
    const path: Array<string | number> = [];
    for (const f of this.stack) if (f.key !== undefined) path.push(f.key);
    return path;
  }
}

/** Private to this module: a shared global regex's lastIndex, moved by someone's `.test()`, would make matchAll skip text. */
const FIND = new RegExp(PLACEHOLDER_SOURCE, 'g');

const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

export type Restorer = TextRestorer | JsonRestorer;

/**
 * The restorer for one streamed text of a reply: the reply's text is read as Aider reads it (ReplyTextScope); a
 * tool call's input by its tool's name, known from an earlier frame (an unknown name restores nothing);
 * anything else (reasoning, thinking, refusals) gets none.
 */
export function restorerFor(restore: Restore, text: { part: 'text' | 'tool' | 'other'; json: boolean; source: SegmentSource }, toolName: string | undefined): Restorer | undefined {
  if (text.part === 'text') return new TextRestorer(restore, new ReplyTextScope());
  if (text.part !== 'tool' && text.source !== 'output_tool_call') return undefined;
  const tool = toolScope(toolName);
  return text.json ? new JsonRestorer(restore, tool) : new TextRestorer(restore, tool.text());
}

/** A tool call's input held whole (a parsed object): restored into a copy; the input itself is not changed. */
export function restoreValue(value: unknown, restore: Restore, tool: ToolScope, path: Array<string | number> = []): unknown {
  if (typeof value === 'string') {
    const r = new TextRestorer(restore, tool.field(path));
    return r.push(value) + r.flush();
  }
  if (Array.isArray(value)) return value.map((v, i) => restoreValue(v, restore, tool, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: restoreValue(v, restore, tool, [...path, k]), writable: true, enumerable: true, configurable: true });
    return out;
  }
  return value;
}

/** A whole text through one restorer. */
export function restoreText(text: string, restore: Restore, scope: TextScope): string {
  const r = new TextRestorer(restore, scope);
  return r.push(text) + r.flush();
}
