import { digestOf } from '../policy/scan-cache.js';
import type { DecisionEvent } from './event.js';

/** Captured segments at least this long are stored once by content hash instead of in every event. */
export const BLOB_MIN_CHARS = 1024;

/**
 * SHA-256 (hex) of a captured text. The same function as the scan cache's digest, so a segment the policy
 * chain already hashed is captured under that digest without hashing it again (DecisionContext.capture).
 */
export function blobHash(text: string): string {
  return digestOf(text);
}

/** The hashes of the captured texts an event refers to. */
export function blobRefs(event: DecisionEvent): string[] {
  const refs: string[] = [];
  for (const seg of event.capture?.request ?? []) if (seg.sha256) refs.push(seg.sha256);
  return refs;
}

/** Whether every text matches the hash it is stored under (what a control plane checks before storing). */
export function blobsValid(blobs: ReadonlyMap<string, string>): string | undefined {
  for (const [h, text] of blobs) if (blobHash(text) !== h) return h;
  return undefined;
}

/** The event with its captured texts filled in from the store, for people reading it (show, console). */
export async function resolveCapture(event: DecisionEvent, getBlobs: (hashes: string[]) => Promise<Map<string, string>>): Promise<DecisionEvent> {
  const refs = blobRefs(event);
  if (refs.length === 0 || !event.capture?.request) return event;
  const texts = await getBlobs(refs);
  return {
    ...event,
    capture: {
      ...event.capture,
      request: event.capture.request.map((seg) => (seg.sha256 ? { ...seg, text: texts.get(seg.sha256) ?? '[captured text missing from the store]' } : seg)),
    },
  };
}
