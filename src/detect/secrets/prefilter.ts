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
