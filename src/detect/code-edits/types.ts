/** Shared types for the code-edit quality scorer (re-exported from `index.ts`). */
export type EditFormat =
  | 'search-replace'
  | 'unified-diff'
  | 'whole-file'
  | 'claude-edit'
  | 'claude-write'
  | 'claude-multiedit'
  | 'apply-patch';

export interface ProposedEdit {
  file?: string;
  format: EditFormat;
  /** Text the edit expects to find (SEARCH, old_string, diff context and removed lines). */
  search?: string;
  /** Text that replaces `search`. */
  replace?: string;
  /** Full new file content (whole-file, Write, new file). */
  content?: string;
  /** Unified diff text of the change, made for every edit. */
  diff?: string;
  /** Language from the file extension (`ts`, `tsx`, `js`, `json`, `py`, `go`, …). */
  language?: string;
}

export interface EditProblem {
  /** `well_formed` for malformed blocks, `not_truncated` when the reply ends inside a block. */
  check: string;
  message: string;
  file?: string;
}

export interface ParsedEdits {
  edits: ProposedEdit[];
  problems: EditProblem[];
}

export interface QualityInput {
  /** The reply's text. */
  text: string;
  toolCalls: Array<{ name: string; input: unknown }>;
  /** 'stop' | 'length' | 'max_tokens' | 'end_turn' | 'tool_use' | … */
  finishReason?: string;
  /**
   * All text the request sent (files the agent showed the model). A function is called only when the reply
   * holds edits to check against it: most replies hold none, and joining a coding agent's context costs its size.
   */
  context: string | (() => string);
}

export type QualityCheck =
  | 'well_formed'
  | 'search_present'
  | 'no_lazy_placeholders'
  | 'not_truncated'
  | 'syntax_valid'
  | 'min_output_chars'
  | 'min_sentences';

export interface QualityOptions {
  /** Pass threshold for `score`, default 0.7. */
  minAggregate?: number;
  /** Exponent of each check in the weighted product (default 1; 0 disables a check). */
  weights?: Partial<Record<QualityCheck, number>>;
  /** Prose-only replies: minimum trimmed length. */
  minOutputChars?: number;
  /** Prose-only replies: minimum number of sentences. */
  minSentences?: number;
}

export interface QualityScore {
  /** 0..1: weighted product of the applied checks. */
  score: number;
  passed: boolean;
  /** Each 0..1, only the checks that applied. */
  checks: Partial<Record<QualityCheck, number>>;
  reasons: Array<{ check: QualityCheck; message: string; file?: string }>;
  edits: ProposedEdit[];
}
