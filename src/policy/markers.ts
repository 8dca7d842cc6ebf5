import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { DetectorMatch } from '../detect/types.js';

export const redactionSchema = z
  .strictObject({
    mode: z
      .enum(['mask', 'reversible'])
      .default('mask')
      .describe(
        'mask: a redacted value is gone for good. reversible: a value the client sent becomes a stable placeholder ([EMAIL_qkzvmwtrhd]) that is given back where the reply writes it into the developer\'s files (edits in the text, Edit/Write/MultiEdit, apply_patch), never in commands, URLs or prose. The other settings still mark values the model itself produced.',
      ),
    marker_format: z
      .enum(['label', 'hash', 'mask'])
      .default('label')
      .describe('label: [REDACTED:EMAIL]; hash: [EMAIL:1a2b3c4d] (same value, same marker); mask: ****1234'),
    include_metadata: z.boolean().default(true).describe('Include the type in label markers; false gives [REDACTED].'),
    preserve_length: z.boolean().default(false).describe('Make every marker exactly as long as the value it replaces.'),
    custom_markers: z.record(z.string(), z.string()).default({}).describe('Marker text per type, e.g. {EMAIL: "<email>"}.'),
  })
  .default({ mode: 'mask', marker_format: 'label', include_metadata: true, preserve_length: false, custom_markers: {} });

export type RedactionConfig = z.output<typeof redactionSchema>;

/** Build the marker function a redaction config describes. */
export function markerFor(cfg: RedactionConfig, salt: string): (m: DetectorMatch, value: string) => string {
  return (m, value) => {
    let marker: string;
    const custom = cfg.custom_markers[m.type];
    if (custom !== undefined) marker = custom;
    else if (cfg.marker_format === 'hash') {
      marker = `[${m.type}:${createHmac('sha256', salt).update(value).digest('hex').slice(0, 8)}]`;
    } else if (cfg.marker_format === 'mask') {
      marker = mask(value);
    } else marker = cfg.include_metadata ? `[REDACTED:${m.type}]` : '[REDACTED]';
    return cfg.preserve_length ? fitLength(marker, value.length) : marker;
  };
}

/** Keep the last four letters or digits when the value is long enough that they do not identify it. */
function mask(value: string): string {
  const keep = value.length >= 12 ? 4 : 0;
  let seen = 0;
  const chars = [...value];
  for (let i = chars.length - 1; i >= 0; i--) {
    const c = chars[i]!;
    if (/[A-Za-z0-9]/.test(c) && seen < keep) {
      seen++;
      continue;
    }
    if (/[A-Za-z0-9]/.test(c)) chars[i] = '*';
  }
  return chars.join('');
}

function fitLength(marker: string, length: number): string {
  if (marker.length === length) return marker;
  if (marker.length > length) return '*'.repeat(length);
  return marker + '*'.repeat(length - marker.length);
}
