import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic } from './diagnostics.js';

/** One parsed config file, kept so diagnostics can point back at its lines and columns. */
export interface SourceFile {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  value: unknown;
}

export async function readSources(files: readonly string[]): Promise<{ sources: SourceFile[]; diagnostics: Diagnostic[] }> {
  const sources: SourceFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      diagnostics.push({
        severity: 'error',
        code: 'file-unreadable',
        message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'unknown error'})`,
        path: [],
        file,
      });
      continue;
    }
    const parsed = parseSource(file, text);
    diagnostics.push(...parsed.diagnostics);
    if (parsed.source) sources.push(parsed.source);
  }
  return { sources, diagnostics };
}

export function parseSource(file: string, text: string): { source?: SourceFile; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const diagnostics: Diagnostic[] = [];
  for (const err of doc.errors) {
    const pos = lines.linePos(err.pos[0]);
    diagnostics.push({
      severity: 'error',
      code: err.code === 'DUPLICATE_KEY' ? 'duplicate-key' : 'yaml-syntax',
      message: firstLine(err.message),
      path: [],
      file,
      line: pos.line,
      column: pos.col,
    });
  }
  if (doc.errors.length > 0) return { diagnostics };
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) {
    diagnostics.push({ severity: 'error', code: 'empty-document', message: 'the file is empty', path: [], file });
    return { diagnostics };
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    diagnostics.push({
      severity: 'error',
      code: 'not-a-mapping',
      message: 'the document must be a mapping with pack, policies, policy and providers',
      path: [],
      file,
      line: 1,
      column: 1,
    });
    return { diagnostics };
  }
  return { source: { file, doc, lines, value }, diagnostics };
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

interface Located {
  depth: number;
  offset: number;
}

/**
 * Find where `path` is written in one file: the key of the deepest existing entry (pointing at the key reads
 * better than at a long value), or the value itself for list items and scalars.
 */
function locateIn(source: SourceFile, path: readonly (string | number)[], preferKey: boolean): Located | undefined {
  let node: unknown = source.doc.contents;
  let found: Located | undefined = node && (node as Node).range ? { depth: 0, offset: (node as Node).range![0] } : undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const last = i === path.length - 1;
      const keyNode = pair.key as Node;
      const valueNode = pair.value as Node | null;
      const target = last && !preferKey && valueNode?.range ? valueNode : keyNode;
      if (target.range) found = { depth: i + 1, offset: target.range[0] };
      node = valueNode;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      if (item.range) found = { depth: i + 1, offset: item.range[0] };
      node = item;
    } else break;
  }
  return found;
}

/**
 * Attach file, line and column to a diagnostic: the last layer that defines the deepest part of its path is
 * the one the user has to edit.
 */
export function locate(sources: readonly SourceFile[], diag: Diagnostic, preferKey = true): Diagnostic {
  if (diag.file) return diag;
  let best: { source: SourceFile; at: Located } | undefined;
  for (const source of sources) {
    const at = locateIn(source, diag.path, preferKey);
    if (at && (!best || at.depth >= best.at.depth)) best = { source, at };
  }
  if (!best) return sources.length === 1 ? { ...diag, file: sources[0]!.file } : diag;
  const pos = best.source.lines.linePos(best.at.offset);
  return { ...diag, file: best.source.file, line: pos.line, column: pos.col };
}
