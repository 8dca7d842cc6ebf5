/**
 * The content view: every piece of text the model sees (request) or produces (response), each with where
 * it came from and a pointer back into the body, so policies never read wire formats and edits land in
 * place while everything else in the body keeps its meaning.
 */
export type SegmentSource =
  | 'system'
  | 'developer'
  | 'user'
  | 'assistant'
  | 'tool_result'
  | 'tool_call'
  | 'document'
  | 'output_text'
  | 'output_tool_call';

export type JsonPath = (string | number)[];

export interface Segment {
  id: number;
  source: SegmentSource;
  /** Index of the message/input item it belongs to; -1 for top-level fields such as `system`. */
  turn: number;
  /** Where the text lives in the body. */
  path: JsonPath;
  /**
   * Set when the text is a string leaf inside JSON that is itself stored as a string (OpenAI tool-call
   * `arguments`): `path` points at that string, `innerPath` at the leaf inside it.
   */
  innerPath?: JsonPath;
  text: string;
}

export interface Edit {
  segment: number;
  start: number;
  end: number;
  replacement: string;
}

/** Collects segments while a family walks its body. */
export class SegmentCollector {
  readonly segments: Segment[] = [];

  add(source: SegmentSource, turn: number, path: JsonPath, text: unknown): void {
    if (typeof text !== 'string' || text.length === 0) return;
    this.segments.push({ id: this.segments.length, source, turn, path, text });
  }

  /** Every string leaf of a JSON value (tool inputs), as segments. */
  addLeaves(source: SegmentSource, turn: number, path: JsonPath, value: unknown): void {
    walkLeaves(value, [], (leafPath, text) => this.add(source, turn, [...path, ...leafPath], text));
  }

  /** Every string leaf of JSON held in a string (OpenAI `arguments`); unparsable text is one segment. */
  addEmbeddedJson(source: SegmentSource, turn: number, path: JsonPath, json: unknown): void {
    if (typeof json !== 'string' || json.length === 0) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      this.add(source, turn, path, json);
      return;
    }
    walkLeaves(parsed, [], (innerPath, text) => {
      if (text.length > 0) this.segments.push({ id: this.segments.length, source, turn, path, innerPath, text });
    });
  }
}

function walkLeaves(value: unknown, path: JsonPath, visit: (path: JsonPath, text: string) => void): void {
  if (typeof value === 'string') visit(path, value);
  else if (Array.isArray(value)) value.forEach((v, i) => walkLeaves(v, [...path, i], visit));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walkLeaves(v, [...path, k], visit);
}

/**
 * Apply edits to segment texts. Overlapping edits are resolved by keeping the one that starts first (the
 * longer one on a tie); the rest are dropped, so every character is replaced at most once.
 */
export function applyEditsToText(text: string, edits: readonly Edit[]): string {
  if (edits.length === 0) return text;
  const sorted = [...edits].sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) continue;
    out += text.slice(pos, e.start) + e.replacement;
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** Write edited segment texts back into the body, in place. Returns true when anything changed. */
export function writeBack(body: unknown, segments: readonly Segment[], edits: readonly Edit[]): boolean {
  const bySegment = new Map<number, Edit[]>();
  for (const e of edits) {
    const list = bySegment.get(e.segment);
    if (list) list.push(e);
    else bySegment.set(e.segment, [e]);
  }
  if (bySegment.size === 0) return false;
  const embedded = new Map<string, { path: JsonPath; value: unknown; changed: boolean }>();
  for (const [id, list] of bySegment) {
    const seg = segments[id];
    if (!seg) continue;
    const newText = applyEditsToText(seg.text, list);
    if (newText === seg.text) continue;
    if (!seg.innerPath) {
      setAt(body, seg.path, newText);
      continue;
    }
    const key = JSON.stringify(seg.path);
    let holder = embedded.get(key);
    if (!holder) {
      holder = { path: seg.path, value: JSON.parse(getAt(body, seg.path) as string), changed: false };
      embedded.set(key, holder);
    }
    if (seg.innerPath.length === 0) holder.value = newText;
    else setAt(holder.value, seg.innerPath, newText);
    holder.changed = true;
  }
  for (const h of embedded.values()) if (h.changed) setAt(body, h.path, JSON.stringify(h.value));
  return true;
}

export function getAt(root: unknown, path: JsonPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function setAt(root: unknown, path: JsonPath, value: unknown): void {
  let v = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) v = v[path[i]!] as Record<string | number, unknown>;
  v[path[path.length - 1]!] = value;
}
