import { canonicalJson } from './canonical.js';
import type { DecisionEvent, EventCapture, EventIdentity, EventPolicyResult, EventRedaction, EventRedactionLocation, ProposedEdit } from './event.js';
import type { IndexedColumns } from './store.js';

/**
 * Canonical JSON of a decision event as the gateway builds it, written member by member in the schema's sorted
 * key order. It gives exactly the bytes of `canonicalJson(event)` (property-tested against it) at about a third
 * of the cost: the generic path has to walk the whole value to prove its keys are sorted before V8 serializes
 * it, and this runs once for every request the gateway serves. Members whose shape is open (a tool call's
 * input, budget alerts) go through canonicalJson itself.
 *
 * Only for events of the DecisionEvent shape (DecisionContext.build); anything read back from a store or
 * received from elsewhere is serialized with canonicalJson. A member that is undefined where the schema has a
 * value, or a value JSON cannot hold, makes the whole event take canonicalJson (which drops the one and
 * refuses the other).
 */
export function eventJson(e: DecisionEvent): string {
  try {
    return writeEvent(e);
  } catch {
    return canonicalJson(e);
  }
}

function writeEvent(e: DecisionEvent): string {
  let o = '{';
  if (e.attempts !== undefined) o += `"attempts":${canonicalJson(e.attempts)},`;
  if (e.budget_alerts !== undefined) o += `"budget_alerts":${canonicalJson(e.budget_alerts)},`;
  o += `"capture":${capture(e.capture)}`;
  o += `,"config":${config(e.config)}`;
  const c = e.cost;
  o += `,"cost":${c === null ? 'null' : `{"currency":${str(c.currency)},"input":${nnum(c.input)},"output":${nnum(c.output)},"priced":${bool(c.priced)},"total":${nnum(c.total)}}`}`;
  if (e.data_categories !== undefined) o += `,"data_categories":${strings(e.data_categories)}`;
  const err = e.error;
  o += `,"error":${err === null ? 'null' : `{"code":${nstr(err.code)},"message":${str(err.message)},"type":${str(err.type)}}`}`;
  if (e.escalation !== undefined) o += `,"escalation":${canonicalJson(e.escalation)}`;
  if (e.flags !== undefined) o += `,"flags":${strings(e.flags)}`;
  o += `,"gateway_id":${str(e.gateway_id)},"id":${str(e.id)},"identity":${identity(e.identity)}`;
  const l = e.latency;
  o += `,"latency":{"overhead_ms":${nnum(l.overhead_ms)},"total_ms":${num(l.total_ms)},"ttft_ms":${nnum(l.ttft_ms)},"upstream_ms":${nnum(l.upstream_ms)}}`;
  o += `,"model_requested":${nstr(e.model_requested)},"policies":${list(e.policies, policy)},"proposed_edits":${list(e.proposed_edits, edit)}`;
  o += `,"reason_code":${nstr(e.reason_code)},"redactions":${list(e.redactions, redaction)},"request_id":${str(e.request_id)}`;
  if (e.restores !== undefined) o += `,"restores":${canonicalJson(e.restores)}`;
  o += `,"route":${str(e.route)},"status":${num(e.status)},"stream":${bool(e.stream)}`;
  const t = e.target;
  o += `,"target":${t === null ? 'null' : `{"id":${str(t.id)},"model":${nstr(t.model)},"provider":${str(t.provider)}${t.translation !== undefined ? `,"translation":${str(t.translation)}` : ''}}`}`;
  if (e.truncated !== undefined) o += `,"truncated":{"bytes":${num(e.truncated.bytes)},"dropped":${strings(e.truncated.dropped)}}`;
  o += `,"ts":${str(e.ts)},"usage":${usage(e.usage)},"verdict":${str(e.verdict)}}`;
  return o;
}

/**
 * The filter columns of an event as the journal header carries them, `{"id":…,"c":{…}}` plus captured texts,
 * written the same way; `columns` is what indexedColumns gives for the event.
 */
export function journalHeaderJson(id: string, c: IndexedColumns, blobs: ReadonlyMap<string, string> | undefined): string {
  let o = `{"id":${str(id)},"c":{"ts_ms":${num(c.ts_ms)},"verdict":${str(c.verdict)},"developer":${nstr(c.developer)},"repository":${nstr(c.repository)}`;
  o += `,"team":${nstr(c.team)},"model":${nstr(c.model)},"client":${nstr(c.client)},"gateway":${str(c.gateway)},"policies":${str(c.policies)}`;
  o += `,"provider":${nstr(c.provider)},"cost_usd":${nnum(c.cost_usd)},"input_tokens":${nnum(c.input_tokens)},"output_tokens":${nnum(c.output_tokens)}}`;
  if (!blobs || blobs.size === 0) return `${o}}`;
  // Written from the map: an object keyed by hashes made V8 intern a new 64-character key for every new text.
  let sep = ',"b":{';
  for (const [h, text] of blobs) {
    o += `${sep}${str(h)}:${JSON.stringify(text)}`;
    sep = ',';
  }
  return `${o}}}`;
}

/** Strings without a character JSON escapes (quote, backslash, controls, surrogates) are written as they are. */
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

function str(s: string): string {
  if (typeof s !== 'string') return canonicalJson(s);
  return s.length < 512 && PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

function nstr(s: string | null): string {
  return s === null ? 'null' : str(s);
}

function num(n: number): string {
  // canonicalJson refuses what JSON cannot hold; so does this. String(n) is the shortest round-trip form.
  if (typeof n !== 'number' || !Number.isFinite(n)) return canonicalJson(n);
  return String(n);
}

function nnum(n: number | null): string {
  return n === null ? 'null' : num(n);
}

function bool(b: boolean): string {
  return b === true ? 'true' : b === false ? 'false' : canonicalJson(b);
}

function strings(a: readonly string[]): string {
  return list(a, str);
}

function list<T>(a: readonly T[], write: (v: T) => string): string {
  if (a.length === 0) return '[]';
  let o = `[${write(a[0]!)}`;
  for (let i = 1; i < a.length; i++) o += `,${write(a[i]!)}`;
  return `${o}]`;
}

/** The gateway's config is one object for every event: written once. */
let lastConfig: DecisionEvent['config'] | undefined;
let lastConfigJson = '';

function config(c: DecisionEvent['config']): string {
  if (c !== lastConfig) {
    lastConfigJson = `{"name":${str(c.name)},"sha256":${str(c.sha256)},"version":${str(c.version)}}`;
    lastConfig = c;
  }
  return lastConfigJson;
}

function identity(i: EventIdentity): string {
  let o = `{"client":${str(i.client)},"developer":${nstr(i.developer)},"key_id":${nstr(i.key_id)},"repository":${nstr(i.repository)}`;
  const s = i.source;
  if (s !== undefined) o += `,"source":{"developer":${nstr(s.developer)},"repository":${nstr(s.repository)},"team":${nstr(s.team)}}`;
  return `${o},"team":${nstr(i.team)}}`;
}

function policy(p: EventPolicyResult): string {
  let o = `{"duration_us":${num(p.duration_us)}`;
  if (p.error !== undefined) o += `,"error":${str(p.error)}`;
  o += `,"findings":${list(p.findings, (f) => `{"count":${num(f.count)},"rule":${str(f.rule)},"source":${str(f.source)},"type":${str(f.type)}}`)}`;
  o += `,"kind":${str(p.kind)},"phase":${str(p.phase)}`;
  if (p.reasons !== undefined) o += `,"reasons":${strings(p.reasons)}`;
  if (p.score !== undefined) o += `,"score":${num(p.score)}`;
  if (p.streamed !== undefined) o += `,"streamed":${bool(p.streamed)}`;
  return `${o},"verdict":${str(p.verdict)}}`;
}

function redaction(r: EventRedaction): string {
  return `{"count":${num(r.count)},"locations":${list(r.locations, location)},"phase":${str(r.phase)},"rule":${str(r.rule)},"source":${str(r.source)},"type":${str(r.type)}}`;
}

function location(l: EventRedactionLocation): string {
  return `{"end":${num(l.end)},"path":${nstr(l.path)},"start":${num(l.start)},"value_hash":${nstr(l.value_hash)}}`;
}

function edit(e: ProposedEdit): string {
  return `{"added":${num(e.added)},"diff":${str(e.diff)},"file":${nstr(e.file)},"format":${str(e.format)},"removed":${num(e.removed)}}`;
}

function capture(c: EventCapture | null): string {
  if (c === null) return 'null';
  const k = c.completion;
  let o = '{"completion":';
  o +=
    k === null
      ? 'null'
      : `{"finish_reason":${nstr(k.finish_reason)},"text":${str(k.text)},"tool_calls":${list(k.tool_calls, (t) => `{"input":${canonicalJson(t.input)},"name":${str(t.name)}}`)}}`;
  o += `,"mode":${str(c.mode)},"request":${c.request === null ? 'null' : list(c.request, segment)}`;
  return `${o},"truncated":${bool(c.truncated)}}`;
}

function segment(s: NonNullable<EventCapture['request']>[number]): string {
  let o = '{';
  if (s.chars !== undefined) o += `"chars":${num(s.chars)},`;
  if (s.sha256 !== undefined) o += `"sha256":${str(s.sha256)},`;
  o += `"source":${str(s.source)}`;
  if (s.text !== undefined) o += `,"text":${str(s.text)}`;
  return `${o},"turn":${num(s.turn)}}`;
}

function usage(u: DecisionEvent['usage']): string {
  if (u === null) return 'null';
  let o = '{';
  if (u.cache_write_1h_tokens !== undefined) o += `"cache_write_1h_tokens":${num(u.cache_write_1h_tokens)},`;
  o += `"cache_write_tokens":${nnum(u.cache_write_tokens)},"cached_input_tokens":${nnum(u.cached_input_tokens)},"estimated":${bool(u.estimated)}`;
  return `${o},"input_tokens":${nnum(u.input_tokens)},"output_tokens":${nnum(u.output_tokens)},"reasoning_tokens":${nnum(u.reasoning_tokens)}}`;
}
