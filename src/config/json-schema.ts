import { z } from 'zod';
import { VERSION } from '../version.js';
import { documentSchema } from './schema.js';

/** JSON Schema (draft 2020-12) of the whole document, as the input a user writes (defaults make keys optional). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(documentSchema(), { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return {
    ...schema,
    title: `keeptrusts policy-config.yaml (kt ${VERSION})`,
    description: 'Policy pack, policy chain, per-policy settings and provider targets for kt gateway run.',
  };
}
