/**
 * Reports per rule what a detector finds in third-party source and docs (the packages under node_modules), where
 * nearly every finding is a false positive: run it on two checkouts' src/ to compare a change.
 *
 *   EX=5 node --import tsx scripts/detector-benign.ts /path/to/checkout/src pii|secrets
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const which = resolve(process.argv[2] ?? fileURLToPath(new URL('../src', import.meta.url)));
const kind = process.argv[3] ?? 'pii';
const mod = kind === 'pii' ? await import(`${which}/detect/pii/index.ts`) : await import(`${which}/detect/secrets/index.ts`);
const scanner = kind === 'pii' ? mod.createPiiScanner() : mod.createSecretScanner();
const files: string[] = [];
const skip = /libphonenumber|\.min\.|test262|caniuse|mime-db|unicode|emoji|tzdata|iana|country|locale|cldr/i;
function walk(d: string, depth: number) {
  if (files.length > 6000) return;
  let es: string[] = [];
  try { es = readdirSync(d); } catch { return; }
  for (const e of es.sort()) {
    const p = join(d, e);
    if (skip.test(p)) continue;
    let st; try { st = statSync(p); } catch { continue; }
    if (st.isDirectory()) { if (depth < 8) walk(p, depth + 1); }
    else if (/\.(md|ts|js|mjs|json|yml|yaml|txt)$/.test(e) && st.size < 200_000 && st.size > 200) files.push(p);
  }
}
walk(fileURLToPath(new URL('../node_modules', import.meta.url)), 0);
let bytes = 0; const byRule = new Map<string, number>(); const ex = new Map<string, string[]>();
for (const f of files) {
  const t = readFileSync(f, 'utf8'); bytes += t.length;
  for (const m of scanner.scan(t)) {
    byRule.set(m.rule, (byRule.get(m.rule) ?? 0) + 1);
    const l = ex.get(m.rule) ?? []; if (l.length < (Number(process.env.EX ?? 0))) l.push(`${f.slice(-60)}: ${JSON.stringify(t.slice(Math.max(0, m.start - 40), m.end + 20))}`); ex.set(m.rule, l);
  }
}
console.log(`${files.length} files, ${(bytes / 1e6).toFixed(1)} MB`);
for (const [r, n] of [...byRule].sort()) { console.log(r, n); for (const e of ex.get(r) ?? []) console.log('   ', e); }
