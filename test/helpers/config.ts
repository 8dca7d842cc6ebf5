import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Diagnostic } from '../../src/config/index.js';

/** Write config files to a fresh temp dir and return their paths, in order. */
export function writeConfigs(...texts: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'kt-config-'));
  return texts.map((text, i) => {
    const file = join(dir, `layer-${i}.yaml`);
    writeFileSync(file, text);
    return file;
  });
}

export async function lintText(...texts: string[]): Promise<{ diagnostics: Diagnostic[]; ok: boolean; files: string[] }> {
  const files = writeConfigs(...texts);
  const { loaded, diagnostics } = await loadConfig(files);
  return { diagnostics, ok: loaded !== undefined, files };
}

export const MINIMAL = `pack:
  name: test
  version: 1.0.0
policies:
  chain: []
providers:
  targets:
    - id: openai
      provider: openai
`;
