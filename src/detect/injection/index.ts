/**
 * Prompt-injection detection for text that reaches coding agents: user prompts, and files, tool output and web
 * pages they read. Scored regions (`PROMPT_INJECTION`) for instruction overrides (English and de/fr/es/it/pt/zh/
 * ja/ru/ko), persona jailbreaks, system-prompt exfiltration, fake chat-template tokens, data-carrying markdown
 * images and links, and agent-directed instructions (pipe-to-shell, secret uploads, git remote changes, disabled checks, "AI
 * assistant: …"); separate `INVISIBLE_UNICODE` findings for tag characters, bidi controls and zero-width
 * characters inside words. Encoded runs (base64, hex, URL) and hidden tag text are decoded and rescanned;
 * offsets always point into the original text. Pure: no I/O.
 */
export type { InjectionMatch, InjectionScannerOptions, InjectionDetector } from './types.js';
export { createInjectionScanner, INJECTION_MAX_MATCH_LENGTH } from './scanner.js';
export { BUILTIN_SIGNALS, type Signal, type SignalFamily } from './signals.js';
export { findInvisible, type InvisibleFinding } from './invisible.js';
export { findEncodedRuns, type EncodedRun, type EncodingKind } from './decode.js';
export { normalizeText, NormView } from './normalize.js';
