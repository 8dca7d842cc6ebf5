import type { DecisionEvent } from './event.js';
import { eventJson, journalHeaderJson } from './event-json.js';
import { MAX_RECORD_BYTES } from './journal.js';
import { indexedColumns } from './store.js';

/** An event ready to record: its canonical JSON, and the captured texts it refers to. */
export interface BoundedEvent {
  event: DecisionEvent;
  body: string;
  blobs: ReadonlyMap<string, string> | undefined;
}

/** Strings longer than this are cut by the `strings` step. */
const STRING_CAP = 1024;

/**
 * The steps that make an event smaller, in order: each is taken only while the event is still over the bound,
 * and what is dropped is named in `truncated.dropped`. The first one keeps everything but content; the last
 * one leaves an event whose size no longer depends on the request (fixed fields, strings of at most
 * STRING_CAP characters, one entry per policy the config runs).
 */
const STEPS: ReadonlyArray<{ name: string; apply: (e: DecisionEvent) => DecisionEvent; dropsBlobs?: true }> = [
  {
    // Captured text first: it is the bulk of any large event, and the trace of decisions matters more.
    name: 'capture',
    dropsBlobs: true,
    apply: (e) => ({
      ...e,
      capture: e.capture ? { completion: null, mode: e.capture.mode, request: null, truncated: true } : null,
      proposed_edits: e.proposed_edits.map((p) => ({ ...p, diff: '' })),
    }),
  },
  {
    // Then lists whose length follows the input: where values were (the counts stay), which edits were proposed.
    name: 'lists',
    apply: (e) => ({ ...e, proposed_edits: [], redactions: e.redactions.map((r) => ({ ...r, locations: [] })) }),
  },
  {
    // Then strings a client chose (a model name, headers that became identity fields, an error message).
    name: 'strings',
    apply: (e) => capStrings(e) as DecisionEvent,
  },
  {
    name: 'detail',
    apply: (e) => ({
      ...e,
      budget_alerts: undefined,
      data_categories: undefined,
      flags: undefined,
      policies: e.policies.map((p) => ({ ...p, findings: [], reasons: undefined })),
      redactions: [],
    }),
  },
];

/**
 * The event as it will be recorded, within MAX_RECORD_BYTES as a journal record (header with its captured
 * texts, and body). Grouped redactions and capture_max_bytes keep nearly every event far below that; this is
 * the last line of defence, so that no request can make a record the journal reader or a control plane
 * cannot take. An event over the bound loses content step by step (STEPS) and says so in `truncated`.
 *
 * The common case costs one serialization (which the recorder needs anyway) and a comparison: the string
 * lengths bound the UTF-8 size from above, so bytes are counted only for events that might be near the bound.
 */
export function boundEvent(event: DecisionEvent, blobs: ReadonlyMap<string, string> | undefined, limit = MAX_RECORD_BYTES): BoundedEvent {
  let body = eventJson(event);
  if (surelyWithin(body, blobs, limit)) return { event, body, blobs };
  const bytes = recordBytes(event, body, blobs);
  if (bytes <= limit) return { event, body, blobs };
  const dropped: string[] = [];
  let e = event;
  let b = blobs;
  for (const step of STEPS) {
    e = step.apply(e);
    if (step.dropsBlobs) b = undefined;
    dropped.push(step.name);
    e = { ...e, truncated: { bytes, dropped: [...dropped] } };
    body = eventJson(e);
    if (recordBytes(e, body, b) <= limit) break;
  }
  return { event: e, body, blobs: b };
}

/**
 * An upper bound from string lengths alone: UTF-8 takes at most 3 bytes per UTF-16 unit of JSON text; a
 * captured text becomes JSON with at most 6 bytes per unit (`\u001f`); the header's columns are values of
 * the body, so at most its length again.
 */
function surelyWithin(body: string, blobs: ReadonlyMap<string, string> | undefined, limit: number): boolean {
  let worst = 6 * body.length + 1024;
  if (blobs) for (const text of blobs.values()) worst += 6 * text.length + 72;
  return worst <= limit;
}

/** The exact size of the event's journal line: header (with every captured text), tab, body, newline. */
export function recordBytes(event: DecisionEvent, body: string, blobs: ReadonlyMap<string, string> | undefined): number {
  return Buffer.byteLength(journalHeaderJson(event.id, indexedColumns(event), blobs)) + Buffer.byteLength(body) + 2;
}

function capStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.length > STRING_CAP ? `${value.slice(0, STRING_CAP)}…[truncated]` : value;
  if (Array.isArray(value)) return value.map(capStrings);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = capStrings(v);
    return out;
  }
  return value;
}
