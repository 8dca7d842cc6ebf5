import { z } from 'zod';
import type { PolicyKindDefinition } from '../types.js';

const schema = z.strictObject({
  immutable: z
    .boolean()
    .default(true)
    .describe('Entries can never be changed or deleted (store triggers, hash chain, signed checkpoints). The store is always append-only; false is accepted for compatibility and changes nothing.'),
  retention_days: z.int().min(1).max(36500).default(365).describe('Days events are kept; older whole checkpoint segments are pruned (each checked first, and recorded in a signed prune record), and the chain stays verifiable from that record.'),
  log_all_access: z.boolean().default(true).describe('true: one event for every request. false: only requests a policy acted on (not allow) or that failed.'),
  hipaa_audit_controls: z.boolean().default(false).describe('Add the data categories found (finding types) to each event as data_categories.'),
  capture: z
    .enum(['none', 'metadata', 'redacted'])
    .default('redacted')
    .describe('none: no request content and no proposed edits; metadata: proposed edits only; redacted: also the conversation and the completion after redaction.'),
  capture_max_bytes: z.int().min(1024).max(16 * 1024 * 1024).default(64 * 1024).describe('Cap on captured content per event; longer text is cut and the capture marked truncated.'),
});

export type AuditLoggerConfig = z.output<typeof schema>;

/**
 * audit-logger turns the audit trail on: with it in the chain, every request becomes a decision event in the
 * store. It makes no decision itself; where it sits in the chain does not matter, since the event records
 * the final outcome of the whole chain.
 */
export const auditLogger: PolicyKindDefinition<AuditLoggerConfig> = {
  kind: 'audit-logger',
  summary: 'Records one hash-chained, signed decision event per request, with the per-policy trace and redacted content.',
  phases: ['input', 'output'],
  schema,
  create() {
    return { kind: 'audit-logger', rules: [] };
  },
};
