import type { DecisionEvent } from '../event.js';
import type { StoredEvent } from '../store.js';

/**
 * What a SIEM receives for one decision event: the event as recorded, with its place in the chain, minus
 * anything a person wrote or a model replied. Events hold types, rules, locations and salted hashes, but a
 * gateway with `capture` on also keeps (masked) request and reply text, and proposed edits carry diffs; those
 * stay in the store. `event_id` is the key receivers deduplicate on: delivery is at least once.
 */
export interface ExportRecord {
  event_id: string;
  chain: string;
  seq: number;
  hash: string;
  event: Omit<DecisionEvent, 'capture' | 'proposed_edits'> & {
    capture: { mode: NonNullable<DecisionEvent['capture']>['mode']; stored: true } | null;
    proposed_edits: Array<{ file: string | null; format: string; added: number; removed: number }>;
  };
}

export function exportRecord(stored: Pick<StoredEvent, 'chain' | 'seq' | 'hash' | 'event'>): ExportRecord {
  const { capture, proposed_edits, ...rest } = stored.event;
  return {
    event_id: stored.event.id,
    chain: stored.chain,
    seq: stored.seq,
    hash: stored.hash,
    event: {
      ...rest,
      capture: capture ? { mode: capture.mode, stored: true } : null,
      proposed_edits: (proposed_edits ?? []).map((e) => ({ file: e.file, format: e.format, added: e.added, removed: e.removed })),
    },
  };
}

/** Syslog severity (RFC 5424 numbers) and OTLP severity of a decision: blocks and failures stand out. */
export function severityOf(event: Pick<DecisionEvent, 'verdict' | 'status'>): { syslog: number; otlp: number; text: string } {
  if (event.status >= 500) return { syslog: 3, otlp: 17, text: 'ERROR' };
  if (event.verdict === 'block' || event.verdict === 'escalate') return { syslog: 4, otlp: 13, text: 'WARN' };
  if (event.verdict !== 'allow') return { syslog: 5, otlp: 10, text: 'INFO' };
  return { syslog: 6, otlp: 9, text: 'INFO' };
}
