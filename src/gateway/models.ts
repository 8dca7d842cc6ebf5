import { canTranslate } from '../protocol/translate/index.js';
import { formatServes, servedNames, type Family, type Target } from '../providers/targets.js';
import { catalogue } from '../usage/pricing.js';

const CREATED = 1_700_000_000;

export interface ModelEntry {
  id: string;
  provider: string;
}

/** Which list a client reads: Anthropic's clients send `anthropic-version`. */
export type ListFamily = 'openai' | 'anthropic';

const LIST_FAMILIES: Record<ListFamily, readonly Family[]> = { anthropic: ['messages'], openai: ['chat', 'responses'] };

/** A target is listed to a client that can call it, natively or through a translator. */
export function servesList(t: Target, family: ListFamily): boolean {
  return LIST_FAMILIES[family].some((f) => formatServes(t.format, f) || canTranslate(f, t.format));
}

/** The targets a client's list names: those of its own API first (a name both serve is the native one), then those reached through translation. */
export function listTargets(targets: readonly Target[], family: ListFamily): Target[] {
  const native = (t: Target) => LIST_FAMILIES[family].some((f) => formatServes(t.format, f));
  const serving = targets.filter((t) => servesList(t, family));
  return [...serving.filter(native), ...serving.filter((t) => !native(t))];
}

/**
 * The models a target serves, as far as the config says: the names it gives, or for a pass-through target (no
 * names: any model goes through as asked) undefined, and the caller asks the upstream what it serves.
 */
export function namedModels(t: Target): ModelEntry[] | undefined {
  const names = servedNames(t);
  return names.length > 0 ? names.map((id) => ({ id, provider: t.provider })) : undefined;
}

/**
 * What a pass-through target serves when its upstream cannot be asked (no key with the request, unreachable):
 * the price list's models of its provider, so `curl /v1/models` on the quickstart is never empty. Other providers
 * (local servers, routers) have no such list.
 */
export function catalogueModels(t: Target): ModelEntry[] {
  return catalogue()
    .filter((c) => c.provider === t.provider)
    .map((c) => ({ id: c.model, provider: t.provider }));
}

/** Entries once each, first one wins, in target order. */
export function dedupeModels(lists: readonly (readonly ModelEntry[])[]): ModelEntry[] {
  const seen = new Map<string, ModelEntry>();
  for (const list of lists) for (const m of list) if (!seen.has(m.id)) seen.set(m.id, m);
  return [...seen.values()];
}

/** The ids in an upstream's own model list (OpenAI and Anthropic both answer `{data: [{id}]}`), bounded. */
export function idsFromUpstream(body: unknown, limit = 1000): string[] {
  const data = (body as { data?: unknown })?.data;
  if (!Array.isArray(data)) return [];
  const out: string[] = [];
  for (const m of data) {
    const id = (m as { id?: unknown })?.id;
    if (typeof id === 'string' && id !== '' && id.length <= 256) out.push(id);
    if (out.length >= limit) break;
  }
  return out;
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
