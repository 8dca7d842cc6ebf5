/**
 * Secret detection for code and configuration sent to LLM providers: provider-specific token rules, private
 * keys, JWTs, connection-string and URL passwords, and entropy-gated generic assignments. Pure: no I/O.
 */
export { SECRET_RULES, MAX_KEY_BLOCK } from './rules.js';
export type { SecretRule, SecretCategory, RuleMatchContext } from './rule.js';
export { createSecretScanner, CUSTOM_PATTERN_MAX_LENGTH, type SecretScannerOptions } from './scanner.js';
export { shannonEntropy } from './entropy.js';
export { isPlaceholder } from './allowlist.js';
