import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { rejectedLines, storedPositions } from './ingester.js';
import { atOrPast, JOURNAL_DIR, listSegments, readWholeSegment, REJECTED_DIR, segmentName, type JournalPosition } from './journal.js';
import type { SqliteEventStore } from './sqlite-store.js';

/** At most this many skipped events are named in a report (all are counted). */
const NAMED = 20;

export interface JournalCheckReport {
  dir: string;
  /** Complete lines in the journal that are events. */
  records: number;
  /** Of those, already in the store (their segment is removed once the ingester is past it). */
  ingested: number;
  /** Not in the store yet, at or after the read position of their chain: the ingester has them ahead. */
  pending: number;
  /** Not in the store, although their chain's read position is past them: the ingester went by without them. */
  skipped: number;
  skippedEvents: Array<{ id: string; chain: string; segment: string; offset: number }>;
  /** Lines the ingester set aside (journal/rejected/) because they are not events. */
  rejected: string[];
  ok: boolean;
}

/**
 * Reads the journal of a data dir (without changing anything) and checks it against the store: every event
 * journaled must be in the chain, or still ahead of the read position.
 *
 * The rule cannot raise a false alarm on a gateway that runs and catches up, because the ingester commits each
 * batch and its read position in one transaction: the journal is read first, and the read positions and which
 * ids the store holds are then read in one snapshot, so a line the ingester took meanwhile is found in the
 * store, and one it has not taken is at or after the position. A line behind the position and missing from
 * the store was passed over (the segment-numbering bug of issue 16 did that); a gateway of this version adds
 * such lines when it next checks that segment, which it does at every start.
 */
export function checkJournal(dataDir: string, store: SqliteEventStore, opts: { chain?: string } = {}): JournalCheckReport | undefined {
  const dir = join(dataDir, JOURNAL_DIR);
  if (!existsSync(dir)) return undefined;
  const lines: Array<{ id: string; chain: string; at: JournalPosition }> = [];
  for (const seg of listSegments(dir)) {
    // Every segment as if finished: a line still being written has no newline yet and is not taken.
    readWholeSegment(dir, seg, (record, offset) => {
      if (opts.chain === undefined || record.columns.gateway === opts.chain) lines.push({ id: record.id, chain: record.columns.gateway, at: { segment: seg, offset } });
    });
  }
  const { positions, present } = store.snapshot(() => ({ positions: storedPositions(store), present: store.hasIds(lines.map((l) => l.id)) }));
  const report: JournalCheckReport = { dir, records: lines.length, ingested: 0, pending: 0, skipped: 0, skippedEvents: [], rejected: rejectedLines(dir).map((f) => join(dir, REJECTED_DIR, f)), ok: true };
  for (const line of lines) {
    if (present.has(line.id)) {
      report.ingested++;
      continue;
    }
    const pos = positions.get(line.chain);
    // Behind the position: the position is past the line's start, i.e. at or after the byte after it.
    if (pos && atOrPast(pos, { segment: line.at.segment, offset: line.at.offset + 1 })) {
      report.skipped++;
      if (report.skippedEvents.length < NAMED) report.skippedEvents.push({ id: line.id, chain: line.chain, segment: segmentName(line.at.segment), offset: line.at.offset });
    } else {
      report.pending++;
    }
  }
  report.ok = report.skipped === 0 && report.rejected.length === 0;
  return report;
}

/** The report as lines for `kt events verify` (nothing when the journal holds nothing to say). */
export function journalCheckLines(r: JournalCheckReport): string[] {
  const out: string[] = [];
  if (r.pending > 0) {
    out.push(`journal: ${r.pending} event${r.pending === 1 ? '' : 's'} in the journal not yet ingested (a running gateway moves them into the chain within seconds; a stopped one at its next start)`);
  }
  if (r.skipped > 0) {
    const first = r.skippedEvents[0]!;
    out.push(
      `journal: FAILED: ${r.skipped} event${r.skipped === 1 ? '' : 's'} in the journal ${r.skipped === 1 ? 'is' : 'are'} behind the read position and missing from the chain (skipped by the ingester): ` +
        `first ${first.id} (chain ${first.chain}) in ${first.segment} at byte ${first.offset}; a gateway of this version adds them at its next start`,
    );
  }
  if (r.rejected.length > 0) {
    out.push(`journal: FAILED: ${r.rejected.length} journal line${r.rejected.length === 1 ? '' : 's'} could not be ingested and ${r.rejected.length === 1 ? 'was' : 'were'} set aside: ${r.rejected.slice(0, 3).join(', ')}${r.rejected.length > 3 ? ', …' : ''}`);
  }
  return out;
}
