/**
 * Code-edit quality: parse the edits in a model reply (Aider SEARCH/REPLACE, unified diff and whole-file text
 * formats; Claude Code Edit/Write/MultiEdit and Codex apply_patch tool calls) and score them: well-formed blocks,
 * SEARCH text present in the file the request sent, no lazy placeholders, not truncated, syntax valid.
 * Pure: no I/O, no state. Reasons name files and line numbers, never code.
 */
export type {
  EditFormat,
  ParsedEdits,
  ProposedEdit,
  QualityCheck,
  QualityInput,
  QualityOptions,
  QualityScore,
} from './types.js';
export { parseTextEdits } from './text-edits.js';
export { parseToolEdits } from './tool-edits.js';
export { scoreCompletion, collectEdits, applyReplacement } from './score.js';
export { extractContextFiles } from './context.js';
export { findLazyPlaceholders, isLazyLine } from './lazy.js';
export { checkSyntax } from './syntax.js';
export { makeUnifiedDiff } from './diff.js';
