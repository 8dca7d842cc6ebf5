/**
 * The content view: every piece of text in a body, each with where it came from and a pointer back into the
 * body, so policies never read wire formats and edits land in place while everything else keeps its meaning.
 * The view is complete: every string leaf is in it unless it is known to be opaque (see view.ts).
 */
export type SegmentSource =
  | 'system'
  | 'developer'
  | 'user'
  | 'assistant'
  | 'tool_result'
  | 'tool_call'
  | 'document'
  /** Tool and output-format declarations (names, descriptions, JSON schemas): seen by the model, written by the client program. */
  | 'tool_definition'
  /** Anything else in a request: parameters, metadata, fields of formats this version does not know. */
  | 'other'
  | 'output_text'
  | 'output_tool_call'
  /** Anything else in a reply: reasoning, thinking, citations, ids and fields this version does not know. */
  | 'output_other';

export type JsonPath = (string | number)[];

export interface Segment {
  id: number;
  source: SegmentSource;
  /** Index of the message/input item it belongs to; -1 for top-level fields such as `system`. */
  turn: number;
  /** Where the text lives in the body. */
  path: JsonPath;
  /**
   * Set when the text is inside JSON that is itself stored as a string (OpenAI tool-call `arguments`):
   * `path` points at that string, `innerPath` at the place inside it.
   */
  innerPath?: JsonPath;
  /** The text is the member name at the end of the path, not a value. */
  key?: true;
  /** The value is a JSON number (its decimal text here); an edit turns it into a string. */
  numeric?: true;
  /** The value holds the text base64-encoded after this prefix (a text document, a text `data:` URL). */
  base64Prefix?: string;
  text: string;
}

export interface Edit {
  segment: number;
  start: number;
  end: number;
  replacement: string;
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

interface Change {
  seg: Segment;
  path: JsonPath;
  text: string;
}

/** Write edited segment texts back into the body, in place. Returns true when anything changed. */
export function writeBack(body: unknown, segments: readonly Segment[], edits: readonly Edit[]): boolean {
  const bySegment = new Map<number, Edit[]>();
  for (const e of edits) {
    const list = bySegment.get(e.segment);
    if (list) list.push(e);
    else bySegment.set(e.segment, [e]);
  }
  const direct: Change[] = [];
  // Changes inside JSON held in a string, by the path of that string.
  const embedded = new Map<string, { path: JsonPath; changes: Change[] }>();
  for (const [id, list] of bySegment) {
    const seg = segments[id];
    if (!seg) continue;
    const text = applyEditsToText(seg.text, list);
    if (text === seg.text) continue;
    if (!seg.innerPath) {
      direct.push({ seg, path: seg.path, text });
      continue;
    }
    const key = JSON.stringify(seg.path);
    let holder = embedded.get(key);
    if (!holder) embedded.set(key, (holder = { path: seg.path, changes: [] }));
    holder.changes.push({ seg, path: seg.innerPath, text });
  }
  if (direct.length === 0 && embedded.size === 0) return false;
  for (const h of embedded.values()) {
    let value = JSON.parse(getAt(body, h.path) as string) as unknown;
    // The whole embedded document is the text (a bare JSON string): replace it.
    const whole = h.changes.find((c) => c.path.length === 0 && !c.seg.key);
    if (whole) value = whole.text;
    else applyChanges(value, h.changes);
    direct.push({ seg: { id: -1, source: 'other', turn: -1, path: h.path, text: '' }, path: h.path, text: JSON.stringify(value) });
  }
  applyChanges(body, direct);
  return true;
}

/**
 * Values first, then member names from the deepest up: a renamed member would otherwise break the paths of
 * the changes beneath it.
 */
function applyChanges(root: unknown, changes: readonly Change[]): void {
  for (const c of changes) if (!c.seg.key) setValueAt(root, c.path, c.seg.base64Prefix !== undefined ? c.seg.base64Prefix + Buffer.from(c.text, 'utf8').toString('base64') : c.text);
  const renames = changes.filter((c) => c.seg.key).sort((a, b) => b.path.length - a.path.length);
  for (const c of renames) renameMember(getAt(root, c.path.slice(0, -1)), String(c.path[c.path.length - 1]), c.text);
}

/** Rename a member in place, keeping the order of members; a name already taken gets a numbered suffix. */
function renameMember(holder: unknown, from: string, to: string): void {
  if (holder === null || typeof holder !== 'object' || Array.isArray(holder) || !Object.hasOwn(holder, from)) return;
  const obj = holder as Record<string, unknown>;
  let name = to;
  for (let n = 2; name !== from && Object.hasOwn(obj, name); n++) name = `${to}~${n}`;
  const entries = Object.entries(obj);
  for (const [k] of entries) delete obj[k];
  for (const [k, v] of entries) defineMember(obj, k === from ? name : k, v);
}

/** An own data member even for the name `__proto__` (plain assignment would set the prototype). */
function defineMember(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

export function getAt(root: unknown, path: JsonPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

/** Set the value at `path` (an own data member, whatever its name). */
export function setValueAt(root: unknown, path: JsonPath, value: unknown): void {
  if (path.length === 0) return;
  const holder = getAt(root, path.slice(0, -1));
  if (holder === null || typeof holder !== 'object') return;
  const last = path[path.length - 1]!;
  if (Array.isArray(holder)) holder[last as number] = value;
  else defineMember(holder as Record<string, unknown>, String(last), value);
}
