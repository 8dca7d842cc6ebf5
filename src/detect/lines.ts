/**
 * Line bounds searched within a fixed distance. `lastIndexOf('\n')` and `indexOf('\n')` read to the start or the
 * end of a text without newlines, so calling them once per match makes a scan quadratic in a one-line input.
 */

/** Start of the line holding `pos`, or `pos - limit` when the line starts further back. */
export function lineStartWithin(text: string, pos: number, limit: number): number {
  const floor = Math.max(0, pos - limit);
  for (let i = pos - 1; i >= floor; i--) if (text.charCodeAt(i) === 10) return i + 1;
  return floor;
}

/** Index of the newline ending the line that holds `pos` (or the text's end), or `pos + limit` when it is further on. */
export function lineEndWithin(text: string, pos: number, limit: number): number {
  const ceil = Math.min(text.length, pos + limit);
  for (let i = pos; i < ceil; i++) if (text.charCodeAt(i) === 10) return i;
  return ceil;
}
