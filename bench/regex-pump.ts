/**
 * `node --import tsx bench/regex-pump.ts [filter]`: looks for regular expressions under src/detect and src/stream
 * whose matching time grows faster than linearly. Every regex literal in those folders (read with the TypeScript
 * parser) and every regex those modules build at run time (seen while every registry detector is built) is
 * pumped: for sample matches generated from it (fast-check), each prefix of a sample followed by a long run of one
 * character (or the next one or two characters of the sample) is matched globally at two lengths. A regex is
 * reported when its CPU time grows super-linearly (and confirmed at larger lengths). A development tool, not a
 * test: it takes minutes, and some reports are regexes that only ever see bounded input (e.g. a key name).
 */
import fc from 'fast-check';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

const only = process.argv[2] ? new RegExp(process.argv[2]) : undefined;
const Native = RegExp;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const found = new Map<string, { re: RegExp; where: string }>();
const add = (re: RegExp, where: string): void => {
  const key = `/${re.source}/${re.flags}`;
  if (!found.has(key)) found.set(key, { re, where });
};
for (const f of [...files('src/detect'), ...files('src/stream')]) {
  const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (n: ts.Node): void => {
    if (n.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const t = n.getText(sf);
      const slash = t.lastIndexOf('/');
      add(new Native(t.slice(1, slash), t.slice(slash + 1)), `${f}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
}
// Regexes built at run time by the detector modules (patterns compiled from rule tables and config).
const built: RegExp[] = [];
const fromDetect = (): boolean => /src\/(detect|stream)\//.test(new Error().stack ?? '');
(globalThis as { RegExp: RegExpConstructor }).RegExp = new Proxy(Native, {
  construct(target, args) {
    const r = Reflect.construct(target, args) as RegExp;
    if (fromDetect()) built.push(r);
    return r;
  },
});
const { detectorsUnderTest } = await import('../test/helpers/adversarial.js');
await detectorsUnderTest();
(globalThis as { RegExp: RegExpConstructor }).RegExp = Native;
for (const r of built) add(r, 'built at run time');

/** The source without assertions, back-references and named groups: what fast-check can generate from. */
function generable(src: string): string {
  let out = '';
  const dropped: boolean[] = [];
  let drop = 0;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '\\') {
      const next = src[i + 1]!;
      let tok = ch + next;
      i++;
      if (next === 'k' && src[i + 1] === '<') {
        tok = '';
        i = src.indexOf('>', i);
      } else if (next === 'b' || next === 'B' || /[1-9]/.test(next)) tok = '';
      else if ((next === 'p' || next === 'P') && src[i + 1] === '{') {
        const e = src.indexOf('}', i);
        tok = src.slice(i - 1, e + 1);
        i = e;
      } else if (next === 'x') {
        tok = src.slice(i - 1, i + 3);
        i += 2;
      } else if (next === 'u') {
        tok = src.slice(i - 1, i + 5);
        i += 4;
      }
      if (!drop) out += tok;
    } else if (ch === '[') {
      let j = i + 1;
      if (src[j] === '^') j++;
      if (src[j] === ']') j++;
      for (; j < src.length && src[j] !== ']'; j++) if (src[j] === '\\') j++;
      if (!drop) out += src.slice(i, j + 1);
      i = j;
    } else if (ch === '(') {
      const look = /^\(\?(?:=|!|<=|<!)/.exec(src.slice(i, i + 4));
      if (look) {
        dropped.push(true);
        drop++;
        i += look[0].length - 1;
        continue;
      }
      dropped.push(false);
      const named = /^\(\?<([A-Za-z_]\w*)>/.exec(src.slice(i));
      if (named) {
        if (!drop) out += '(?:';
        i += named[0].length - 1;
      } else if (!drop) out += ch;
    } else if (ch === ')') {
      if (dropped.pop()) {
        drop--;
        const q = /^(?:[*+?]|\{\d+(?:,\d*)?\})\??/.exec(src.slice(i + 1));
        if (q) i += q[0].length;
      } else if (!drop) out += ch;
    } else if (ch !== '^' && ch !== '$' && !drop) out += ch;
  }
  return out;
}

function cpuMs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
}

const PUMPS = [' ', '\n', 'a', 'A', '0', '-', '.', '/', '=', '"'];
const rows: string[] = [];
for (const [key, { re, where }] of found) {
  if (only && !only.test(key)) continue;
  const g = new Native(re.source, re.flags.replace(/[gy]/g, '') + 'g');
  const run = (s: string): number =>
    cpuMs(() => {
      g.lastIndex = 0;
      for (let m, k = 0; (m = g.exec(s)) !== null && k < 1e6; k++) if (m[0].length === 0) g.lastIndex++;
    });
  let samples: string[] = [];
  // Generators for negated classes can reject forever; such sources are pumped from the empty prefix only.
  if (!/\[\^\\x00|\\x7f\]|\[\^\\s\]|\\P\{/.test(re.source)) {
    try {
      const flags = re.flags.includes('u') || re.flags.includes('v') ? 'u' : '';
      samples = fc.sample(fc.stringMatching(new Native(`^(?:${generable(re.source)})$`, flags), { size: 'small' }), { numRuns: 3, seed: 42 });
    } catch {
      samples = [];
    }
  }
  samples.push('');
  let worst: { ratio: number; attack: string; small: number; big: number } | undefined;
  const tried = new Set<string>();
  for (const m of samples) {
    for (let i = 0; i <= Math.min(m.length, 80); i++) {
      const prefix = m.slice(0, i);
      for (const pump of new Set([...PUMPS, m[i] ?? 'a', m.slice(i, i + 2) || 'ab'])) {
        const id = `${prefix}\u0000${pump}`;
        if (tried.has(id)) continue;
        tried.add(id);
        const at = (n: number): string => prefix + pump.repeat(Math.ceil(n / pump.length));
        if (run(at(600)) < 0.15) continue;
        // Suspect: confirm at 2,000 and 32,000 characters (linear 16×, quadratic 256×), least of two runs.
        const small = Math.min(run(at(2000)), run(at(2000)));
        const big = Math.min(run(at(32000)), run(at(32000)));
        const ratio = big / Math.max(small, 0.05);
        if (ratio > 40 && big > 5 && (!worst || ratio > worst.ratio)) worst = { ratio, attack: `${JSON.stringify(prefix)} + ${JSON.stringify(pump)}×N`, small, big };
      }
    }
  }
  if (worst) rows.push(`${where}\n  ${key.slice(0, 160)}\n  ${worst.attack.slice(0, 160)}: 2,000 chars ${worst.small.toFixed(2)} ms, 32,000 chars ${worst.big.toFixed(1)} ms`);
}
process.stdout.write(`${found.size} regular expressions pumped; ${rows.length} grow faster than linearly:\n${rows.join('\n')}\n`);
