import { createHash } from 'node:crypto';
import { countBySeverity, type Diagnostic } from './diagnostics.js';
import { mergeLayers } from './layers.js';
import { locate, readSources, type SourceFile } from './load.js';
import type { PolicyConfig } from './schema.js';
import { validateDocument } from './validate.js';

export type { Diagnostic } from './diagnostics.js';
export { formatDiagnostic, countBySeverity } from './diagnostics.js';
export type { PolicyConfig, TargetConfig } from './schema.js';

export interface LoadedConfig {
  config: PolicyConfig;
  files: string[];
  /** sha256 of the merged document, so events can say exactly which config decided them. */
  sha256: string;
}

export interface LoadResult {
  loaded?: LoadedConfig;
  diagnostics: Diagnostic[];
}

/** Read, layer and validate config files. Never throws for a bad config: everything wrong is a diagnostic. */
export async function loadConfig(files: readonly string[]): Promise<LoadResult> {
  if (files.length === 0) {
    return {
      diagnostics: [
        { severity: 'error', code: 'no-config', message: 'no config file given (use --policy-config FILE)', path: [] },
      ],
    };
  }
  const { sources, diagnostics } = await readSources(files);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  return validateSources(sources);
}

export function validateSources(sources: readonly SourceFile[]): LoadResult {
  const merged = mergeLayers(sources.map((s) => s.value));
  const { config, diagnostics } = validateDocument(merged);
  const located = diagnostics
    .map((d) => locate(sources, d, d.code !== 'invalid-value' && d.code !== 'invalid-type'))
    .sort((a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  if (!config || countBySeverity(located).errors > 0) return { diagnostics: located };
  const sha256 = createHash('sha256').update(JSON.stringify(merged)).digest('hex');
  return { loaded: { config, files: sources.map((s) => s.file), sha256 }, diagnostics: located };
}
