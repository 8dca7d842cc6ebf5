import { isUtf8 } from 'node:buffer';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { DecisionContext } from '../../audit/context.js';
import type { ChainOutcome, PolicyChain } from '../../policy/engine.js';
import { worstVerdict, type Verdict } from '../../policy/types.js';
import { setValueAt, writeBack, type Segment } from '../../protocol/content.js';
import type { Exchange } from '../../protocol/exchange.js';
import { replyView, requestSegments, responseView } from '../../protocol/families.js';
import { ReplyTooLarge, terminalErrorFrame } from '../../protocol/sse.js';
import { structureProblem } from '../../protocol/strict-json.js';
import { classifyUpstreamError, DROP_RESPONSE_HEADERS } from '../../providers/upstream.js';
import { ReplyBudget } from '../../stream/budget.js';
import { StreamGuard } from '../../stream/guard.js';
import { restoreText, type Restore } from '../../stream/restore.js';
import { ReplyTextScope } from '../../policy/restore-scope.js';
import { isUsageOnlyChunk, usageFromBody, type StreamMeter } from '../../usage/meter.js';
import { GatewayError } from '../errors.js';
import { finalRefusal, policyNotice, refOf, streamNotice } from '../refusal.js';
import type { Logger } from '../logger.js';
import { TailHold } from '../tail-hold.js';
import { decodedBody, isDecodeError } from './decode.js';
import { looksLikeSse, replyKind } from './media.js';
import { restoreReply } from './restore-body.js';
import { ClientSink, compose, decodeStage, guardStage, meterStage, translateGuardStage, translateStage, type ReplyHandler, type ReplyStage } from './stages.js';
import { UntranslatableReply, type StreamTranslator, type Translator } from '../../protocol/translate/index.js';

/** Everything the output path needs for one reply. */
export interface ReplyJob {
  res: ServerResponse;
  up: Dispatcher.ResponseData;
  ex: Exchange;
  log: Logger;
  chain: PolicyChain;
  inputVerdict: Verdict;
  ctx: DecisionContext;
  /** The audit trail keeps the reply (captured completion, proposed edits) even when no policy reads it. */
  needsReply: boolean;
  failMode: 'block' | 'allow';
  /** The reply budget: the most bytes of one reply the gateway holds to check it. */
  maxReplyBytes: number;
  /** Makes the decision event durable; the end of the response is held until it has. */
  finish: () => Promise<void>;
  /** The request's placeholders (reversible redaction): given back after the output policies, in successful replies. */
  restore?: Restore | undefined;
  /**
   * The target speaks another format than the client: the reply is metered in the upstream's format, then
   * translated to the client's, and everything after (output policies, StreamGuard, restore, error frames)
   * sees the client's format, exactly as for a native target.
   */
  translate?: Translator | undefined;
  /**
   * Escalations are held (the gateway has a queue): an output policy's `escalate` on a reply read whole holds the
   * reply for a reviewer; approved, the output phase runs again with that finding only flagged. Without it, or on
   * a streamed reply, `escalate` answers as a block.
   */
  escalate?: (outcome: ChainOutcome, segments: readonly Segment[], rerun: (allows: (policy: string, rule: string) => boolean) => ChainOutcome) => Promise<ChainOutcome>;
}

/**
 * Send the upstream response to the client. The output path, in order:
 *
 *   decode (content-encoding) → classify (SSE, or a body read whole) → [meter in the upstream's format →
 *   translate to the client's, when the target speaks another format] → check (StreamGuard on SSE; the content
 *   view of a JSON body; one text segment otherwise) → meter → hold the tail until the event is durable → client
 *
 * A reply the output policies should read but cannot (an encoding Node cannot decode, binary bytes, JSON nested
 * too deep) is decided by the fail mode, and the event says which way. Error replies are checked too: they can
 * quote what was sent.
 */
export async function relay(job: ReplyJob): Promise<'complete' | 'client-gone'> {
  const { up, ex, chain, ctx } = job;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(up.headers)) {
    if (value === undefined || DROP_RESPONSE_HEADERS.has(name)) continue;
    headers[name] = value;
  }
  headers['x-keeptrusts-request-id'] = ctx.requestId;
  headers['x-keeptrusts-verdict'] = job.inputVerdict;
  const success = up.statusCode >= 200 && up.statusCode < 300;
  ctx.status = up.statusCode;
  if (!success) ctx.reasonCode = 'upstream_status';

  const checked = chain.hasPhase('output');
  const restore = success ? job.restore : undefined;
  // A translated reply is always read: the client cannot take the upstream's format.
  const observed = checked || restore !== undefined || job.translate !== undefined || (success && (job.needsReply || ctx.meter !== undefined));
  const encoding = String(up.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  const source = decodedBody(up.body, encoding);
  if (!source) {
    // An encoding Node cannot decode: forwarded as it is when nothing reads it, else the fail mode decides.
    if (job.translate || (observed && !uncheckable(job, 'undecodable_response', `content-encoding "${encoding.slice(0, 20)}"`))) {
      discard(up.body);
      throw new GatewayError(502, 'upstream_error', `the upstream answered with content-encoding "${encoding.slice(0, 20)}", which output policies cannot read`, { code: 'undecodable_response' });
    }
    headers['content-encoding'] = encoding;
    return streamThrough(job, up.body, headers, []);
  }
  if (!observed) {
    const length = up.headers['content-length'];
    if (source === up.body && typeof length === 'string') headers['content-length'] = length;
    return streamThrough(job, source, headers, []);
  }
  const budget = new ReplyBudget(job.maxReplyBytes);
  restore?.useBudget(budget);
  if (replyKind(up.headers['content-type']) === 'sse') {
    const translator = streamTranslator(job, budget, success);
    // Translated and read by nothing else (the translator meters): no guard to parse the frames a second time.
    const guard =
      translator && !readsReply(job, success)
        ? undefined
        : new StreamGuard(
            ex.family,
            chain,
            budget,
            ctx.recordsEvent ? (value) => ctx.valueHash(value) : undefined,
            guardFrames(job, success),
            restore,
            (block) => streamNotice(block, refOf(ctx)),
          );
    const stages: ReplyStage[] = [decodeStage()];
    if (translator && guard && translator.pushFrames && translator.endFrames) stages.push(translateGuardStage(translator as Required<StreamTranslator>, guard));
    else {
      if (translator) stages.push(translateStage(translator));
      if (guard) stages.push(guardStage(guard));
    }
    if (ctx.meter) stages.push(meterStage(ctx.meter));
    return streamThrough(job, source, headers, stages, guard);
  }
  await checkWhole(job, source, headers, budget);
  return 'complete';
}

/**
 * StreamGuard's frame hook. Natively it meters the frames (and drops the usage chunk the gateway asked for on
 * the client's behalf); on a translated stream the translator has metered the upstream's frames already, and the
 * guard only drops that chunk, now in the client's format.
 */
function guardFrames(job: ReplyJob, success: boolean): ((event: string | undefined, data: Record<string, unknown>) => boolean) | undefined {
  const { ctx } = job;
  if (job.translate) return undefined;
  return ctx.meter && success ? meterFrames(ctx.meter, ctx.dropUsageChunks) : undefined;
}

/** The translation stage of a stream, metering the upstream's frames as they pass (successful replies only, as natively). */
function streamTranslator(job: ReplyJob, budget: ReplyBudget, success: boolean): StreamTranslator | undefined {
  if (!job.translate) return undefined;
  const meter = success ? job.ctx.meter : undefined;
  return job.translate.stream(job.ex.body, {
    maxFrame: budget.limit,
    // The usage chunk the gateway asked for on the client's behalf is never made.
    omitUsage: job.ctx.dropUsageChunks,
    ...(meter ? { onFrame: (event, data) => meter.onFrame(event, data) } : {}),
  });
}

/** Something reads the reply's content besides metering: output policies, restore, or the audit trail's capture. */
function readsReply(job: ReplyJob, success: boolean): boolean {
  return job.chain.hasPhase('output') || (success && (job.restore !== undefined || job.needsReply));
}

/** The fail mode for a reply output policies cannot read: true (and recorded) when it may pass unread. */
function uncheckable(job: ReplyJob, code: string, what: string): boolean {
  job.ctx.addFlag(`output_unchecked:${code}`);
  job.log.warn({ requestId: job.ctx.requestId, what }, job.failMode === 'allow' ? 'reply passed unchecked (fail-mode allow)' : 'reply could not be checked; refused (fail-mode block)');
  return job.failMode === 'allow';
}

/**
 * A reply read whole before anything is sent: JSON (any declared type, a byte order mark allowed), SSE sent
 * under another type, or text. Checked, edited, then written in one piece.
 */
async function checkWhole(job: ReplyJob, source: Readable, headers: Record<string, string | string[]>, budget: ReplyBudget): Promise<void> {
  const { up, ex, chain, ctx, res } = job;
  let bytes: Buffer;
  try {
    bytes = await readAll(source, budget);
  } catch (err) {
    discard(up.body);
    throw replyReadError(err, ctx);
  }
  const success = up.statusCode >= 200 && up.statusCode < 300;
  let out: string | Buffer = bytes;
  if (!isUtf8(bytes)) {
    if (chain.hasPhase('output') && !uncheckable(job, 'binary_response', 'binary reply')) {
      throw new GatewayError(502, 'upstream_error', 'the upstream answered with binary content, which output policies cannot read', { code: 'uncheckable_response' });
    }
  } else {
    const text = bytes.toString('utf8');
    const json = parseReplyJson(text);
    if (json.ok) {
      let body = json.value;
      if (job.translate) {
        // Metered as the upstream sent it, then read by everything after in the client's format.
        if (ctx.meter && success && isObj(body)) ctx.usage = usageFromBody(job.translate.upstreamFamily, body);
        try {
          body = job.translate.reply(body, up.statusCode, ex.body);
        } catch (err) {
          throw replyReadError(err, ctx);
        }
      } else if (ctx.meter && success && isObj(body)) ctx.usage = usageFromBody(ex.family, body);
      if (job.translate && !readsReply(job, success)) {
        out = JSON.stringify(body);
        headers['content-length'] = String(Buffer.byteLength(out));
        await job.finish();
        ctx.firstByte = performance.now();
        res.writeHead(up.statusCode, headers);
        res.end(out);
        return;
      }
      const view = responseView(ex.family, body);
      const reply = success && isObj(body) && chain.assessesReplies ? { view: replyView(ex.family, body), request: ex.segments ?? requestSegments(ex.family, ex.body) } : undefined;
      const outcome = await escalated(job, chain.run('output', view.segments, reply), view.segments, (allows) => chain.run('output', view.segments, reply, undefined, allows));
      ctx.addOutcome('output', outcome, view.segments);
      stopIfBlocked(job, outcome, body, view.segments);
      for (const n of view.normalised) setValueAt(body, n.path, n.text);
      const edited = outcome.edits.length > 0 && writeBack(body, view.segments, outcome.edits);
      if (success && isObj(body)) ctx.setReply(replyView(ex.family, body));
      // After the policies and the capture: they see placeholders, the client gets its values back.
      let restored = false;
      try {
        restored = success && isObj(body) && job.restore !== undefined && restoreReply(ex.family, body, job.restore);
      } catch (err) {
        throw replyReadError(err, ctx);
      }
      out = edited || restored || json.rewrite || job.translate || view.normalised.length > 0 ? JSON.stringify(body) : text;
      headers['x-keeptrusts-verdict'] = worstVerdict(job.inputVerdict, outcome.verdict);
      const scored = outcome.results.find((r) => r.score !== undefined);
      if (scored) {
        headers['x-keeptrusts-quality-score'] = scored.score!.toFixed(2);
        if (scored.reasons?.length) headers['x-keeptrusts-quality-reasons'] = scored.reasons.join(',');
      }
    } else if (json.tooDeep) {
      if (chain.hasPhase('output') && !uncheckable(job, 'too_deep', 'JSON nested too deep')) {
        throw new GatewayError(502, 'upstream_error', 'the upstream answered with JSON nested too deep for output policies to read', { code: 'uncheckable_response' });
      }
    } else if (looksLikeSse(text)) {
      // An event stream sent under another type: checked as one, all at once.
      const guardBudget = new ReplyBudget(budget.limit);
      const guard = new StreamGuard(ex.family, chain, guardBudget, ctx.recordsEvent ? (value) => ctx.valueHash(value) : undefined, guardFrames(job, success), success ? job.restore : undefined);
      let released: string;
      try {
        const translator = streamTranslator(job, guardBudget, success);
        released = guard.push(translator ? translator.push(text) + translator.end() : text) + guard.end();
      } catch (err) {
        throw replyReadError(err, ctx);
      }
      ctx.meter?.end();
      ctx.addStreamFindings(guard.found, guard.verdict, guard.policies);
      if (guard.blocked) {
        ctx.setReply(null, true);
        throw finalRefusal(streamNotice(guard.blocked, refOf(ctx)), guard.blocked.verdict);
      }
      if (success) ctx.setReply(guard.reply());
      out = released;
    } else {
      out = await checkText(job, text, success);
    }
  }
  // A string body goes out in one write with the headers; a Buffer would take a writev of two.
  headers['content-length'] = String(typeof out === 'string' ? Buffer.byteLength(out) : out.length);
  await job.finish();
  ctx.firstByte = performance.now();
  res.writeHead(up.statusCode, headers);
  res.end(out);
}

/** A text reply (text/plain, an HTML error page, no type at all): one segment, checked and redacted. */
async function checkText(job: ReplyJob, text: string, success: boolean): Promise<string> {
  const { chain, ctx } = job;
  if (text.length === 0) return text;
  const segments: Segment[] = [{ id: 0, source: success ? 'output_text' : 'output_other', turn: -1, path: ['text'], text }];
  const outcome = await escalated(job, chain.run('output', segments), segments, (allows) => chain.run('output', segments, undefined, undefined, allows));
  ctx.addOutcome('output', outcome, segments);
  stopIfBlocked(job, outcome, { text }, segments);
  const holder = { text };
  writeBack(holder, segments, outcome.edits);
  if (success) ctx.setReply({ text: holder.text, toolCalls: [] });
  if (!success || !job.restore) return holder.text;
  try {
    return restoreText(holder.text, job.restore, new ReplyTextScope());
  } catch (err) {
    throw replyReadError(err, ctx);
  }
}

/** The outcome after a reviewer's decision, when a policy escalated a reply read whole and the gateway holds escalations. */
async function escalated(
  job: ReplyJob,
  outcome: ChainOutcome,
  segments: readonly Segment[],
  rerun: (allows: (policy: string, rule: string) => boolean) => ChainOutcome,
): Promise<ChainOutcome> {
  if (outcome.stoppedBy?.verdict !== 'escalate' || outcome.failed || !job.escalate) return outcome;
  return job.escalate(outcome, segments, rerun);
}

/** A reply read whole that a policy stopped (or that a policy failed on, under fail-mode block) goes no further. */
function stopIfBlocked(job: ReplyJob, outcome: ChainOutcome, body: unknown, segments: readonly Segment[]): void {
  const { ctx, chain } = job;
  if (outcome.failed) {
    ctx.setReply(null, true);
    throw new GatewayError(500, 'api_error', `policy ${outcome.failed.kind} failed and --fail-mode is block`, { code: 'policy_error', details: { policy: outcome.failed.kind }, final: true });
  }
  if (outcome.stoppedBy) {
    ctx.setReply(null, true);
    const findings = outcome.results.flatMap((r) => r.findings);
    throw finalRefusal(policyNotice({ phase: 'output', stop: outcome.stoppedBy, chain, body, segments, findings, ref: refOf(ctx) }), outcome.stoppedBy.verdict);
  }
}

/** A failure while reading a reply that is read whole, as the client's error. */
function replyReadError(err: unknown, ctx: DecisionContext): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof ReplyTooLarge) {
    ctx.reasonCode = 'response_too_large';
    return new GatewayError(502, 'upstream_error', err.message, { code: 'response_too_large' });
  }
  if (err instanceof UntranslatableReply) {
    ctx.reasonCode = 'untranslatable_reply';
    return new GatewayError(502, 'upstream_error', err.message, { code: 'untranslatable_reply' });
  }
  if (isDecodeError(err)) {
    ctx.reasonCode = 'bad_upstream_encoding';
    return new GatewayError(502, 'upstream_error', 'the upstream sent a compressed body that does not decode', { code: 'bad_upstream_encoding' });
  }
  ctx.reasonCode = 'upstream_cut';
  return new GatewayError(502, 'upstream_error', `the upstream response ended before completion (${classifyUpstreamError(err).detail})`, { code: 'upstream_cut' });
}

type ParsedReply = { ok: true; value: unknown; rewrite: boolean } | { ok: false; tooDeep: boolean };

/** A reply body as JSON, if it is JSON. Duplicate member names are read as JSON.parse reads them, and the body is then re-serialised, so the client gets exactly what was checked. */
function parseReplyJson(text: string): ParsedReply {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // A bare string or number at the top is checked as text: the content view walks containers.
  const first = body.trimStart()[0];
  if (first !== '{' && first !== '[') return { ok: false, tooDeep: false };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, tooDeep: false };
  }
  const problem = structureProblem(body);
  if (problem?.kind === 'depth') return { ok: false, tooDeep: true };
  return { ok: true, value, rewrite: problem?.kind === 'duplicate' || body !== text };
}

/**
 * Stream the reply to the client through the stages (none for a reply nothing reads). The end of the body is
 * held until the decision event is durable; a stream that fails mid-way ends with the protocol's own error frame.
 */
async function streamThrough(
  job: ReplyJob,
  source: Readable,
  headers: Record<string, string | string[]>,
  stages: readonly ReplyStage[],
  guard?: StreamGuard,
): Promise<'complete' | 'client-gone'> {
  const { res, up, ex, chain, ctx, log } = job;
  const isSse = guard !== undefined || replyKind(up.headers['content-type']) === 'sse';
  const hold = new TailHold(isSse);
  const sink = new ClientSink(res, up.statusCode, headers, hold, ctx);
  let ended: 'complete' | 'client-gone' | 'blocked';
  try {
    ended = await pump(source, res, compose(stages, sink), sink);
  } catch (err) {
    discard(up.body);
    if (res.destroyed) return 'client-gone';
    const tooLarge = err instanceof ReplyTooLarge;
    const untranslatable = err instanceof UntranslatableReply;
    const badEncoding = !tooLarge && !untranslatable && isDecodeError(err);
    const reason = tooLarge ? 'response_too_large' : untranslatable ? 'untranslatable_reply' : badEncoding ? 'bad_upstream_encoding' : 'upstream_cut';
    const message = tooLarge || untranslatable ? err.message : badEncoding ? 'the upstream sent a compressed body that does not decode' : 'the upstream stream ended before completion';
    if (!tooLarge) log.warn({ requestId: ctx.requestId, failure: untranslatable ? 'untranslatable reply' : badEncoding ? 'bad encoding' : classifyUpstreamError(err).detail }, 'upstream response ended early');
    ctx.reasonCode = reason;
    ctx.error = { code: reason, message, type: 'upstream_error' };
    if (guard) {
      ctx.addStreamFindings(guard.found, guard.verdict, guard.policies);
      ctx.setReply(guard.reply());
    }
    await job.finish().catch(() => undefined);
    if (isSse && ex.stream) res.end(joinChunks([...hold.releaseBeforeEnd(), terminalErrorFrame(ex.family, ex.family === 'messages' ? 'api_error' : 'upstream_error', message)]));
    else res.destroy();
    return 'complete';
  }
  if (ended === 'client-gone') {
    discard(up.body);
    if (guard) ctx.addStreamFindings(guard.found, guard.verdict, guard.policies);
    return 'client-gone';
  }
  if (ended === 'blocked') discard(up.body);
  if (guard) {
    ctx.addStreamFindings(guard.found, guard.verdict, guard.policies);
    if (guard.blocked) {
      // The client got the refusal as the stream's last frames: the event records the same code and message.
      const notice = streamNotice(guard.blocked, refOf(ctx));
      ctx.reasonCode = notice.code;
      ctx.error = { code: notice.code, message: notice.message.slice(0, 500), type: 'invalid_request_error' };
      ctx.setReply(null, true);
    } else {
      ctx.setReply(guard.reply());
      if (ended === 'complete' && chain.assessesReplies) assessStreamedReply(chain, ex, guard, ctx, log);
    }
  }
  let tail: Array<Buffer | string>;
  try {
    await job.finish();
    tail = hold.release();
  } catch {
    // fail-mode block and the event could not be stored: the client gets an error instead of the end.
    if (!(isSse && ex.stream)) {
      res.destroy();
      return 'complete';
    }
    tail = [...hold.releaseBeforeEnd(), terminalErrorFrame(ex.family, 'api_error', 'the audit trail could not record this request')];
  }
  // One write for the held tail and the end of the body: a separate final chunk costs a round of syscalls.
  res.end(tail.length === 1 ? tail[0] : tail.length > 1 ? joinChunks(tail) : undefined);
  return 'complete';
}

/**
 * Feed a readable into the first stage with backpressure. Event handlers rather than `for await`: SSE
 * replies arrive as many small chunks, and the async iterator's per-chunk cost showed in the benchmark.
 * Resolves when the body is complete, a stage blocked it or the client has gone; rejects when the source
 * fails or closes early, or a stage throws (the reply budget spent, a frame that cannot be translated). The
 * response is not ended here: the sink's tail hold keeps its last part until the caller has recorded the decision.
 */
function pump(source: Readable, res: ServerResponse, head: ReplyHandler, sink: ClientSink): Promise<'complete' | 'client-gone' | 'blocked'> {
  head.onStart();
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      cleanup();
      head.onError(err);
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      let more: boolean;
      try {
        more = head.onData(chunk);
      } catch (err) {
        return fail(err);
      }
      if (sink.state === 'blocked') {
        cleanup();
        resolve('blocked');
        return;
      }
      if (!more) {
        source.pause();
        res.once('drain', onDrain);
      }
    };
    const onDrain = () => source.resume();
    const onEnd = () => {
      cleanup();
      try {
        head.onEnd();
      } catch (err) {
        head.onError(err);
        return reject(err);
      }
      resolve(sink.state === 'blocked' ? 'blocked' : 'complete');
    };
    // A source destroyed without an error (or an end) is a cut too: nobody may wait for it.
    const onClose = () => fail(new Error('the upstream body closed before its end'));
    const onClientGone = () => {
      cleanup();
      resolve('client-gone');
    };
    const cleanup = () => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      source.off('end', onEnd);
      source.off('error', fail);
      source.off('close', onClose);
      res.off('close', onClientGone);
      res.off('drain', onDrain);
    };
    source.on('data', onData);
    source.on('end', onEnd);
    source.on('error', fail);
    source.on('close', onClose);
    res.on('close', onClientGone);
  });
}

/**
 * Judge a streamed reply once it has been delivered. Nothing can be blocked any more, so the result is
 * recorded on the decision event (and logged).
 */
function assessStreamedReply(chain: PolicyChain, ex: Exchange, guard: StreamGuard, ctx: DecisionContext, log: Logger): void {
  try {
    const outcome = chain.run('output', [], { view: guard.reply(), request: ex.segments ?? requestSegments(ex.family, ex.body) });
    const scored = outcome.results.filter((r) => r.score !== undefined);
    ctx.addStreamAssessment(scored);
    for (const r of scored) {
      log.info({ requestId: ctx.requestId, policy: r.kind, verdict: r.verdict, score: Number(r.score!.toFixed(3)), reasons: r.reasons ?? [] }, 'streamed reply scored');
    }
  } catch (err) {
    log.warn({ requestId: ctx.requestId, err: err instanceof Error ? err.name : 'Error' }, 'scoring a streamed reply failed');
  }
}

/**
 * StreamGuard's frame hook while metering: every parsed frame goes to the meter, and when the gateway asked
 * for usage the client did not ask for, the usage-only chunk is dropped there, already parsed (filtering the
 * released text again meant a regular expression over every chunk and a second parse of that frame).
 */
function meterFrames(meter: StreamMeter, dropUsage: boolean): (event: string | undefined, data: Record<string, unknown>) => boolean {
  return (event, data) => {
    meter.onFrame(event, data);
    return dropUsage && isUsageOnlyChunk(data);
  };
}

/**
 * Stop reading an upstream body nobody will receive. Destroying it makes undici emit an abort error, which
 * must have a listener: an unhandled 'error' event would take the whole gateway down.
 */
export function discard(source: Readable): void {
  source.on('error', () => undefined);
  source.destroy();
}

function joinChunks(chunks: ReadonlyArray<Buffer | string>): Buffer | string {
  if (chunks.every((c) => typeof c === 'string')) return chunks.join('');
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The whole body, up to the budget. */
function readAll(source: Readable, budget: ReplyBudget): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (err: unknown, value?: Buffer) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer) => {
      try {
        budget.charge(chunk.length);
      } catch (err) {
        return done(err);
      }
      chunks.push(chunk);
    };
    source.on('data', onData);
    source.once('end', () => done(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    source.once('error', (err) => done(err));
    source.once('close', () => done(new Error('the upstream body closed before its end')));
  });
}
