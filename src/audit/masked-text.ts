import type { Finding } from '../policy/types.js';

/** What is left of an event's capture budget (characters), and whether anything was cut. */
export interface CaptureBudget {
  left: number;
  truncated: boolean;
}

/** `text` with every finding's span replaced by `[TYPE]`; overlapping spans are masked once, from the first. */
export function maskSpans(text: string, findings: readonly Finding[]): string {
  const spans = sortSpans(findings);
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

/** `text` as captured within `budget`: whole, or cut and marked with how much was left out. */
export function take(text: string, budget: CaptureBudget): string {
  if (text.length <= budget.left) {
    budget.left -= text.length;
    return text;
  }
  budget.truncated = true;
  const kept = text.slice(0, Math.max(0, budget.left));
  budget.left = 0;
  return `${kept}…[truncated ${text.length - kept.length} chars]`;
}

/**
 * `take(maskSpans(text, findings), budget)`, and whether it is the whole masked text, without building the whole
 * masked text when only its start fits: a coding agent's 200 KB context with a few findings was masked in full,
 * then flattened in full to cut the 64 KB the capture keeps (about 0.2 ms a request).
 */
export function takeMasked(text: string, findings: readonly Finding[], budget: CaptureBudget): { text: string; whole: boolean } {
  const spans = sortSpans(findings);
  // The masked text's length, by the same walk as maskSpans.
  let length = 0;
  let pos = 0;
  for (const f of spans) {
    if (f.end <= pos) continue;
    const start = Math.max(f.start, pos);
    length += start - pos + f.type.length + 2;
    pos = f.end;
  }
  length += text.length - pos;
  if (length <= budget.left) {
    budget.left -= length;
    return { text: maskSpans(text, findings), whole: true };
  }
  budget.truncated = true;
  const limit = Math.max(0, budget.left);
  budget.left = 0;
  // The masked text's first `limit` characters.
  let kept = '';
  pos = 0;
  for (const f of spans) {
    if (kept.length >= limit) break;
    if (f.end <= pos) continue;
    const start = Math.max(f.start, pos);
    const need = limit - kept.length;
    if (start - pos >= need) {
      kept += text.slice(pos, pos + need);
      pos = start;
      break;
    }
    kept += text.slice(pos, start) + `[${f.type}]`.slice(0, need - (start - pos));
    pos = f.end;
  }
  if (kept.length < limit) kept += text.slice(pos, pos + (limit - kept.length));
  return { text: `${kept}…[truncated ${length - kept.length} chars]`, whole: false };
}

function sortSpans(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => a.start - b.start || b.end - a.end);
}
