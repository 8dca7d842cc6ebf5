/**
 * JSON read the one way every reader agrees on. `JSON.parse` keeps the last of two members with the same
 * name while other parsers keep the first or refuse; a body with duplicate names would be scanned as one
 * document and read upstream as another. Nesting is bounded too: JSON.parse is iterative, but everything
 * that walks or serialises the value afterwards recurses.
 */
export const MAX_JSON_DEPTH = 128;

export type StrictJsonProblem =
  | { kind: 'syntax'; position: number | undefined }
  | { kind: 'duplicate'; position: number; depth: number }
  | { kind: 'depth'; limit: number };

export class StrictJsonError extends Error {
  override name = 'StrictJsonError';
  constructor(readonly problem: StrictJsonProblem) {
    super(describeProblem(problem));
  }
}

/** Parse `text`, refusing duplicate member names and nesting deeper than `maxDepth`. */
export function parseStrictJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8's message quotes the text around the error: only the position is kept, never content.
    const m = err instanceof SyntaxError ? /position (\d+)/.exec(err.message) : null;
    throw new StrictJsonError({ kind: 'syntax', position: m ? Number(m[1]) : undefined });
  }
  const problem = structureProblem(text, maxDepth);
  if (problem) throw new StrictJsonError(problem);
  return value;
}

/**
 * One pass over text that JSON.parse accepted: the first duplicate member name or excess depth, or undefined.
 * Strings are skipped with indexOf (they are most of the bytes); only structure is read character by
 * character, so the cost is linear and small next to the parse itself.
 */
export function structureProblem(text: string, maxDepth = MAX_JSON_DEPTH): StrictJsonProblem | undefined {
  // Per open container: the member names seen (objects) or null (arrays).
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (top && expectKey) {
        const raw = text.slice(i + 1, end);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        if (top.has(key)) return { kind: 'duplicate', position: i, depth: stack.length };
        top.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return { kind: 'depth', limit: maxDepth };
      stack.push(c === 0x7b ? new Set() : null);
      expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start` (the text is valid JSON). */
function stringEnd(text: string, start: number): number {
  let j = text.indexOf('"', start + 1);
  for (;;) {
    // A quote preceded by an odd number of backslashes is escaped.
    let backslashes = 0;
    for (let k = j - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
}

export function describeProblem(p: StrictJsonProblem): string {
  switch (p.kind) {
    case 'syntax':
      return p.position !== undefined ? `not valid JSON (at character ${p.position})` : 'not valid JSON';
    case 'duplicate':
      // Never the name itself: a member name can be content (a tool's arguments), and this text reaches events.
      return `has a member name twice in one object (at character ${p.position}, depth ${p.depth}); the gateway and the provider would read different values`;
    case 'depth':
      return `is nested deeper than ${p.limit} levels`;
  }
}
