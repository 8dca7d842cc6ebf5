/** Case and separator folding for ASCII code units. */
const FOLD = new Uint8Array(128);
for (let c = 0; c < 128; c++) FOLD[c] = c >= 65 && c <= 90 ? c + 32 : c === 45 || c === 46 ? 95 : c;

/**
 * Aho-Corasick automaton over ASCII keywords, compiled to a dense DFA (128 columns per state). One pass over
 * the text reports which keywords occur anywhere. Characters are folded on both sides: A-Z to a-z, and `-`
 * and `.` to `_`, so the keyword `dd_api` also fires on `DD-API-KEY` and `dd.api.key`.
 */
export class KeywordAutomaton {
  private readonly delta: Uint16Array;
  /** Keyword ids ending at state s (own and via failure links): outIds[outStart[s] .. outStart[s + 1]). */
  private readonly outStart: Int32Array;
  private readonly outIds: Int32Array;
  readonly size: number;

  constructor(keywords: readonly string[]) {
    this.size = keywords.length;
    const gotoMaps: Map<number, number>[] = [new Map()];
    const own: number[][] = [[]];
    keywords.forEach((kw, id) => {
      if (kw.length === 0) throw new Error('empty keyword');
      let s = 0;
      for (let i = 0; i < kw.length; i++) {
        const c = FOLD[kw.charCodeAt(i)];
        if (c === undefined) throw new Error(`keyword ${JSON.stringify(kw)} is not ASCII`);
        let next = gotoMaps[s]!.get(c);
        if (next === undefined) {
          next = gotoMaps.length;
          gotoMaps.push(new Map());
          own.push([]);
          gotoMaps[s]!.set(c, next);
        }
        s = next;
      }
      own[s]!.push(id);
    });
    const n = gotoMaps.length;
    // 16-bit transitions keep the table small enough to stay in cache.
    if (n >= 65536) throw new Error('too many keyword states');
    const delta = new Uint16Array(n * 128);
    const fail = new Int32Array(n);
    const outputs: (number[] | undefined)[] = new Array(n);
    outputs[0] = own[0]!.length ? own[0] : undefined;
    const queue: number[] = [];
    for (const [c, t] of gotoMaps[0]!) {
      delta[c] = t;
      fail[t] = 0;
      queue.push(t);
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      const f = fail[s]!;
      const merged = own[s]!.concat(outputs[f] ?? []);
      outputs[s] = merged.length ? merged : undefined;
      const row = s * 128;
      const frow = f * 128;
      for (let c = 0; c < 128; c++) {
        const t = gotoMaps[s]!.get(c);
        if (t === undefined) delta[row + c] = delta[frow + c]!;
        else {
          delta[row + c] = t;
          fail[t] = delta[frow + c]!;
          queue.push(t);
        }
      }
    }
    this.delta = delta;
    this.outStart = new Int32Array(n + 1);
    const flat: number[] = [];
    for (let st = 0; st < n; st++) {
      this.outStart[st] = flat.length;
      for (const id of outputs[st] ?? []) flat.push(id);
    }
    this.outStart[n] = flat.length;
    this.outIds = Int32Array.from(flat);
  }

  /** Marks found[id] = 1 for every keyword that occurs in `text` (case-insensitive); returns how many distinct ones. */
  scan(text: string, found: Uint8Array): number {
    const delta = this.delta;
    const outStart = this.outStart;
    const outIds = this.outIds;
    const fold = FOLD;
    const size = this.size;
    let s = 0;
    let count = 0;
    for (let i = 0, n = text.length; i < n; i++) {
      const c = text.charCodeAt(i);
      s = c < 128 ? delta[(s << 7) | fold[c]!]! : 0;
      const o = outStart[s]!;
      if (o !== outStart[s + 1]!) {
        for (let k = o, e = outStart[s + 1]!; k < e; k++) {
          const id = outIds[k]!;
          if (found[id] === 0) {
            found[id] = 1;
            if (++count === size) return count;
          }
        }
      }
    }
    return count;
  }
}

/** Texts shorter than this are scanned again rather than remembered: cheap, and many (decoded windows, short turns). */
const MEMO_MIN_LENGTH = 4096;

/**
 * One keyword pass over a text for several detectors. The secret scanner and the prompt-injection scanner each
 * ran their own automaton over every text the chain scans (a 200 KB coding-agent context twice per request), and
 * the second pass found its table pushed out of the CPU's caches by the detectors that ran in between: one
 * automaton over the union of their keywords, run once per text, cost about half of the two (bench/context.ts,
 * tables evicted between scans). Each detector maps its own keyword ids to the union's.
 *
 * The result for the last long text is remembered (by the text itself: the chain hands every detector the same
 * string), until a scan of another long text replaces it.
 */
export class KeywordUnion {
  private readonly ids = new Map<string, number>();
  private automaton: KeywordAutomaton | undefined;
  private lastText: string | undefined;
  private lastFound: Uint8Array = new Uint8Array(0);

  /** Adds keywords (lower case, ASCII); returns each one's id in the union, in the order given. */
  add(keywords: readonly string[]): Int32Array {
    const out = new Int32Array(keywords.length);
    keywords.forEach((kw, i) => {
      let id = this.ids.get(kw);
      if (id === undefined) {
        id = this.ids.size;
        this.ids.set(kw, id);
        this.automaton = undefined;
        this.lastText = undefined;
      }
      out[i] = id;
    });
    return out;
  }

  /** found[id] === 1 for every union keyword that occurs in `text` (see KeywordAutomaton.scan). Read-only. */
  scan(text: string): Uint8Array {
    if (text.length >= MEMO_MIN_LENGTH && text === this.lastText) return this.lastFound;
    this.automaton ??= new KeywordAutomaton([...this.ids.keys()]);
    const found = new Uint8Array(this.ids.size);
    this.automaton.scan(text, found);
    if (text.length >= MEMO_MIN_LENGTH) {
      this.lastText = text;
      this.lastFound = found;
    }
    return found;
  }
}

/** The union the built-in detectors share. */
export const SHARED_KEYWORDS = new KeywordUnion();
