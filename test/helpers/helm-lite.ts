import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * Renders our Helm chart without helm (no Debian package, no npm one): Go template semantics for the small
 * subset deploy/helm/keeptrusts uses, and an error for anything else, so the templates cannot drift into
 * constructs this renderer would render differently from helm.
 *
 * Supported: text with `{{ }}` actions and `{{-`/`-}}` whitespace trimming; `/* comments *\/`; values
 * `.Values.a.b`, `.Release.Name`, `.Release.Namespace`, `.Chart.Name|Version|AppVersion`, string literals;
 * functions `toYaml X`, `not X`; pipes `| quote`, `| nindent N`, `| indent N`; `if X` / `else` / `end` with
 * Go's truthiness (false, 0, "", nil, empty list or map are false).
 */

export interface RenderContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string };
  Chart: Record<string, unknown>;
}

type Node = { kind: 'text'; text: string } | { kind: 'action'; expr: string } | { kind: 'if'; cond: string; then: Node[]; else: Node[] };

export function loadChart(dir: string, overrides: Record<string, unknown> = {}, release = { Name: 'kt', Namespace: 'ai' }): RenderContext {
  const chart = parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = deepMerge(parse(readFileSync(join(dir, 'values.yaml'), 'utf8')) as Record<string, unknown>, overrides);
  return { Values: values, Release: release, Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion } };
}

/** Every template's rendered documents (empty ones dropped), by file. NOTES.txt is rendered as text. */
export function renderChart(dir: string, ctx: RenderContext): { documents: Array<Record<string, unknown> & { kind: string }>; notes: string } {
  const documents: Array<Record<string, unknown> & { kind: string }> = [];
  let notes = '';
  for (const file of readdirSync(join(dir, 'templates')).sort()) {
    const text = renderTemplate(readFileSync(join(dir, 'templates', file), 'utf8'), ctx);
    if (file === 'NOTES.txt') {
      notes = text;
      continue;
    }
    for (const doc of text.split(/^---\s*$/m)) {
      const parsed = parse(doc) as (Record<string, unknown> & { kind: string }) | null;
      if (parsed) documents.push(parsed);
    }
  }
  return { documents, notes };
}

export function renderTemplate(template: string, ctx: RenderContext): string {
  return evaluate(parseTemplate(tokenize(template)), ctx);
}

function tokenize(template: string): Array<{ kind: 'text'; text: string } | { kind: 'action'; expr: string }> {
  const out: Array<{ kind: 'text'; text: string } | { kind: 'action'; expr: string }> = [];
  const re = /\{\{(-?)\s*([\s\S]*?)\s*(-?)\}\}/g;
  let last = 0;
  let trimNext = false;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    let text = template.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1] === '-') text = text.replace(/\s+$/, '');
    out.push({ kind: 'text', text });
    if (!/^\/\*[\s\S]*\*\/$/.test(m[2]!)) out.push({ kind: 'action', expr: m[2]! });
    trimNext = m[3] === '-';
    last = re.lastIndex;
  }
  let rest = template.slice(last);
  if (trimNext) rest = rest.replace(/^\s+/, '');
  out.push({ kind: 'text', text: rest });
  return out;
}

function parseTemplate(tokens: ReturnType<typeof tokenize>): Node[] {
  let i = 0;
  const block = (): { nodes: Node[]; ended: 'end' | 'else' | 'eof' } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const t = tokens[i++]!;
      if (t.kind === 'text') {
        nodes.push(t);
        continue;
      }
      if (t.expr === 'end') return { nodes, ended: 'end' };
      if (t.expr === 'else') return { nodes, ended: 'else' };
      const cond = /^if\s+(.+)$/.exec(t.expr)?.[1];
      if (cond) {
        const then = block();
        let otherwise: Node[] = [];
        if (then.ended === 'else') {
          const e = block();
          if (e.ended !== 'end') throw new Error(`{{ if ${cond} }}: no {{ end }}`);
          otherwise = e.nodes;
        } else if (then.ended !== 'end') throw new Error(`{{ if ${cond} }}: no {{ end }}`);
        nodes.push({ kind: 'if', cond, then: then.nodes, else: otherwise });
        continue;
      }
      nodes.push(t);
    }
    return { nodes, ended: 'eof' };
  };
  const top = block();
  if (top.ended !== 'eof') throw new Error(`unexpected {{ ${top.ended} }}`);
  return top.nodes;
}

function evaluate(nodes: Node[], ctx: RenderContext): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'if') out += evaluate(truthy(expression(n.cond, ctx)) ? n.then : n.else, ctx);
    else out += show(pipeline(n.expr, ctx));
  }
  return out;
}

function pipeline(expr: string, ctx: RenderContext): unknown {
  const [head, ...pipes] = expr.split('|').map((s) => s.trim());
  let value = expression(head!, ctx);
  for (const p of pipes) {
    const [fn, arg] = p.split(/\s+/);
    if (fn === 'quote') value = JSON.stringify(show(value));
    else if (fn === 'nindent' || fn === 'indent') {
      const pad = ' '.repeat(Number(arg));
      const indented = show(value)
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => (l === '' ? l : pad + l))
        .join('\n');
      value = fn === 'nindent' ? `\n${indented}` : indented;
    } else throw new Error(`unsupported function in pipe: ${p}`);
  }
  return value;
}

function expression(expr: string, ctx: RenderContext): unknown {
  const call = /^(toYaml|not)\s+(\S+)$/.exec(expr);
  if (call) {
    const v = expression(call[2]!, ctx);
    return call[1] === 'not' ? !truthy(v) : v === undefined || v === null ? '' : stringify(v).replace(/\n$/, '');
  }
  if (/^"[^"]*"$/.test(expr)) return expr.slice(1, -1);
  const path = /^\.(Values|Release|Chart)((?:\.\w+)*)$/.exec(expr);
  if (!path) throw new Error(`unsupported template expression: {{ ${expr} }}`);
  let v: unknown = ctx[path[1] as keyof RenderContext];
  for (const key of path[2]!.split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Go's text/template prints nil as "<no value>": a missing value is an error here instead. */
function show(v: unknown): string {
  if (v === undefined || v === null) throw new Error('a template printed a value that is not set');
  return typeof v === 'string' ? v : typeof v === 'object' ? stringify(v).replace(/\n$/, '') : String(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
