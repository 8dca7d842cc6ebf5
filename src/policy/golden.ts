import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { PolicyConfig } from '../config/schema.js';
import { writeBack } from '../protocol/content.js';
import { requestSegments, responseSegments } from '../protocol/families.js';
import type { Family } from '../providers/targets.js';
import { buildChain } from './build.js';
import type { PolicyChain } from './engine.js';
import type { Verdict } from './types.js';

/**
 * Golden tests for a policy pack: `tests/*.json` beside `policy-config.yaml`, each one case or a list of
 * cases. A case gives a request (messages, or a whole body), optionally a reply the fake provider would
 * send, and what the chain must decide.
 */
const verdict = z.enum(['allow', 'flag', 'redact', 'block', 'escalate']);
const caseSchema = z.strictObject({
  name: z.string().min(1),
  family: z.enum(['chat', 'responses', 'messages']).default('chat'),
  input: z.strictObject({ messages: z.array(z.unknown()).optional(), request: z.record(z.string(), z.unknown()).optional() }),
  reply: z.string().optional().describe('Text of a reply to run the output phase on.'),
  expected: z.strictObject({
    verdict: verdict.describe('The request (input phase) verdict.'),
    policy: z.string().optional().describe('The policy that blocked or escalated.'),
    redactions: z.array(z.strictObject({ type: z.string(), rule: z.string().optional(), count: z.int().positive().optional() })).optional(),
    forwarded_excludes: z.array(z.string()).optional().describe('Strings that must not reach the provider.'),
    forwarded_contains: z.array(z.string()).optional(),
    output_verdict: verdict.optional(),
    output_excludes: z.array(z.string()).optional().describe('Strings that must not reach the client.'),
    output_contains: z.array(z.string()).optional(),
  }),
});
const fileSchema = z.union([caseSchema, z.array(caseSchema), z.strictObject({ cases: z.array(caseSchema) })]);

export type GoldenCase = z.output<typeof caseSchema>;

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  verdict?: Verdict;
  output_verdict?: Verdict;
  failures: string[];
}

export interface GoldenReport {
  ok: boolean;
  passed: number;
  failed: number;
  cases: CaseResult[];
}

export async function runGoldenTests(config: PolicyConfig, testsDir: string): Promise<GoldenReport> {
  let files: string[];
  try {
    files = (await readdir(testsDir)).filter((f) => f.endsWith('.json')).sort();
  } catch {
    files = [];
  }
  const chain = buildChain(config, 'block', { markerSalt: 'kt-policy-test' });
  const cases: CaseResult[] = [];
  for (const f of files) {
    const path = join(testsDir, f);
    let parsed: z.output<typeof fileSchema>;
    try {
      parsed = fileSchema.parse(JSON.parse(await readFile(path, 'utf8')));
    } catch (err) {
      const why = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
      cases.push({ file: f, name: '(file)', ok: false, failures: [`cannot read test file: ${why}`] });
      continue;
    }
    const list = Array.isArray(parsed) ? parsed : 'cases' in parsed ? parsed.cases : [parsed];
    for (const c of list) cases.push({ file: f, ...runCase(chain, c) });
  }
  const failed = cases.filter((c) => !c.ok).length;
  return { ok: failed === 0 && cases.length > 0, passed: cases.length - failed, failed, cases };
}

function runCase(chain: PolicyChain, c: GoldenCase): Omit<CaseResult, 'file'> {
  const failures: string[] = [];
  const family = c.family as Family;
  const body: Record<string, unknown> = structuredClone(c.input.request ?? (family === 'responses' ? { input: c.input.messages ?? [] } : { messages: c.input.messages ?? [] }));
  const segments = requestSegments(family, body);
  // What really goes upstream: reversible rules give placeholders, as the gateway does.
  const input = chain.run('input', segments, undefined, chain.newVault());
  if (input.edits.length > 0) writeBack(body, segments, input.edits);
  const e = c.expected;
  if (input.verdict !== e.verdict) failures.push(`verdict: expected ${e.verdict}, got ${input.verdict}`);
  if (e.policy && input.stoppedBy?.kind !== e.policy) failures.push(`policy: expected ${e.policy}, got ${input.stoppedBy?.kind ?? 'none'}`);
  const findings = input.results.flatMap((r) => r.findings);
  for (const want of e.redactions ?? []) {
    const n = findings.filter((f) => f.type === want.type && (!want.rule || f.rule === want.rule)).length;
    if (want.count !== undefined ? n !== want.count : n === 0) failures.push(`redactions: expected ${want.count ?? 'some'} ${want.type}${want.rule ? `/${want.rule}` : ''}, got ${n}`);
  }
  const forwarded = JSON.stringify(body);
  for (const s of e.forwarded_excludes ?? []) if (input.verdict !== 'block' && forwarded.includes(s)) failures.push(`forwarded request still contains ${JSON.stringify(s)}`);
  for (const s of e.forwarded_contains ?? []) if (!forwarded.includes(s)) failures.push(`forwarded request lacks ${JSON.stringify(s)}`);

  let outputVerdict: Verdict | undefined;
  if (c.reply !== undefined && !input.stoppedBy) {
    const res: Record<string, unknown> =
      family === 'chat'
        ? { choices: [{ index: 0, message: { role: 'assistant', content: c.reply } }] }
        : family === 'messages'
          ? { content: [{ type: 'text', text: c.reply }] }
          : { output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: c.reply }] }] };
    const segs = responseSegments(family, res);
    const output = chain.run('output', segs);
    if (output.edits.length > 0) writeBack(res, segs, output.edits);
    outputVerdict = output.verdict;
    if (e.output_verdict && output.verdict !== e.output_verdict) failures.push(`output_verdict: expected ${e.output_verdict}, got ${output.verdict}`);
    const delivered = JSON.stringify(res);
    for (const s of e.output_excludes ?? []) if (output.verdict !== 'block' && delivered.includes(s)) failures.push(`reply still contains ${JSON.stringify(s)}`);
    for (const s of e.output_contains ?? []) if (!delivered.includes(s)) failures.push(`reply lacks ${JSON.stringify(s)}`);
  } else if (e.output_verdict) failures.push('output_verdict given but the case has no reply (or the request was blocked)');
  return { name: c.name, ok: failures.length === 0, verdict: input.verdict, ...(outputVerdict ? { output_verdict: outputVerdict } : {}), failures };
}
