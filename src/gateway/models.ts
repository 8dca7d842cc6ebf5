import type { Target } from '../providers/targets.js';

const CREATED = 1_700_000_000;

interface ModelEntry {
  id: string;
  provider: string;
}

/** Every model name the config answers to, once, in config order. */
export function listModels(targets: readonly Target[]): ModelEntry[] {
  const seen = new Map<string, ModelEntry>();
  for (const t of targets) {
    for (const id of [...(t.model ? [t.model] : []), ...t.aliases]) if (!seen.has(id)) seen.set(id, { id, provider: t.provider });
  }
  return [...seen.values()];
}

export function openAiModelList(models: readonly ModelEntry[]): unknown {
  return { object: 'list', data: models.map(openAiModel) };
}

export function openAiModel(m: ModelEntry): unknown {
  return { id: m.id, object: 'model', created: CREATED, owned_by: m.provider };
}

export function anthropicModelList(models: readonly ModelEntry[]): unknown {
  return {
    data: models.map(anthropicModel),
    has_more: false,
    first_id: models[0]?.id ?? null,
    last_id: models.at(-1)?.id ?? null,
  };
}

export function anthropicModel(m: ModelEntry): unknown {
  return { type: 'model', id: m.id, display_name: m.id, created_at: new Date(CREATED * 1000).toISOString() };
}
