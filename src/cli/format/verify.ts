import type { ChainReport } from '../../audit/verify.js';

/** What the verifier was given: which keys it trusted, and what outside the store it compared the chains with. */
export interface VerifyContext {
  keysFrom: 'file' | 'store';
  keyIds: string[];
  /** Anchor files given with --anchor. */
  anchorFiles: string[];
  /** The control plane given with --against. */
  against: string | null;
  /** Chains the control plane given with --against has no copy of. */
  notOnControlPlane: string[];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The one-line summary of a chain, and for a chain that verified, what was shown about it. */
export function chainLines(r: ChainReport, ctx: VerifyContext): string[] {
  const range = r.firstSeq !== null ? ` (seq ${r.firstSeq}–${r.lastSeq})` : '';
  const facts = `${plural(r.events, 'event')}${range}, ${plural(r.checkpoints, 'checkpoint')}`;
  if (r.problem) {
    const where = r.problem.eventId ? `event ${r.problem.eventId}, seq ${r.problem.seq}` : `seq ${r.problem.seq}`;
    return [`chain ${r.chain}: ${facts}: FAILED (${r.problem.kind}, ${where}): ${r.problem.message}`];
  }
  const unsigned = r.unsignedTail ? `, ${r.unsignedTail} after the newest checkpoint not signed yet` : '';
  const lines = [`chain ${r.chain}: ${facts}${unsigned}: OK`];
  if (r.signedSeq !== null) lines.push(`  signed through seq ${r.signedSeq} by ${r.signedBy.join(', ')}`);
  else if (r.events > 0) lines.push('  no signature covers any of its events');
  if (r.pruned) {
    lines.push(
      `  seq 1–${r.pruned.throughSeq} removed by retention pruning on ${r.pruned.at} (retention ${r.pruned.retentionDays} days; newest removed event ${r.pruned.newestRemoved})`,
    );
  }
  for (const a of r.adopted) lines.push(`  seq ${a.fromSeq}–${a.toSeq} adopted: signed at a gateway start on ${a.at}, not by the run that recorded them`);
  if (r.anchored.seq !== null) lines.push(`  anchored through seq ${r.anchored.seq} (${r.anchored.source}${r.anchored.at ? `, taken ${r.anchored.at}` : ''})`);
  else if (ctx.anchorFiles.length || ctx.against) lines.push('  no anchor for this chain was given');
  if (r.anchored.beforeRetention) lines.push(`  ${plural(r.anchored.beforeRetention, 'anchor')} older than the retained chain (pruned) not checkable`);
  return lines;
}

/**
 * What a passing verification does not show, in words an auditor can act on. Verification proves what the
 * store holds is consistent with itself, its signatures and the anchors given; it cannot prove that nothing
 * was removed after the newest thing kept outside the store, or that the signing key was not used to rewrite.
 */
export function notProven(reports: readonly ChainReport[], ctx: VerifyContext): string[] {
  const out: string[] = [];
  if (reports.length === 0) {
    out.push(
      'that the store was never used: an empty store proves nothing, since one emptied by someone with write access looks the same; check it against an anchor (--anchor FILE) or a control plane (--against URL)',
    );
    return out;
  }
  const external = ctx.anchorFiles.length > 0 || ctx.against !== null;
  const unanchored = reports.filter((r) => r.events > 0 && (r.anchored.seq === null || r.anchored.seq < (r.lastSeq ?? 0)));
  if (unanchored.length) {
    const names = unanchored.map((r) => `${r.chain} after seq ${r.anchored.seq ?? r.signedSeq ?? 0}`).join(', ');
    out.push(
      external
        ? `that no newer events existed: events after the newest anchor (${names}) could have been removed together with their checkpoints; anchor more often (kt events anchor)`
        : `that no newer events existed: the newest events could have been removed together with their checkpoints (${names}) without a trace in the store; keep anchors outside the data dir (kt events anchor --to FILE, or --anchor-file on the gateway) and pass them with --anchor FILE, or compare with a control plane (--against URL)`,
    );
  }
  const unsigned = reports.filter((r) => r.unsignedTail > 0);
  if (unsigned.length) {
    const list = unsigned.map((r) => `${r.chain} seq ${(r.lastSeq ?? 0) - r.unsignedTail + 1}–${r.lastSeq}`).join(', ');
    out.push(`${plural(unsigned.reduce((n, r) => n + r.unsignedTail, 0), 'event')} not covered by any signature (${list}): anyone with write access to the store could have added, edited or rewritten them`);
  }
  const adopted = reports.flatMap((r) => r.adopted.map((a) => `${r.chain} seq ${a.fromSeq}–${a.toSeq}`));
  if (adopted.length) {
    out.push(
      `that adopted events (${adopted.join(', ')}) are the ones their gateway recorded: the run that wrote them ended without signing (a crash), and events added to the store or journal while no gateway ran would look the same`,
    );
  }
  if (ctx.keysFrom === 'store' && reports.length) out.push('that the signing keys are genuine: they were read from the store itself (pass --public-key with the output of kt keys export-public)');
  if (!external && reports.length) {
    out.push('that the chain was not rewritten and signed again: whoever can read signing-key.pem in the data dir can do that; only an anchor or control plane copy made before would disagree');
  }
  for (const chain of ctx.notOnControlPlane) out.push(`anything about chain ${chain} from the control plane: it has no copy of it`);
  return out;
}
