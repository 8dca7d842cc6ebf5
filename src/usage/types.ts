import type { EventCost, EventUsage } from '../audit/event.js';

/** Token counts as a provider reported them (or as estimated), in the decision event's shape. */
export type Usage = EventUsage;
export type Cost = EventCost;

/** Who a request is attributed to, and how that was decided. */
export interface Attribution {
  developer: string | null;
  repository: string | null;
  team: string | null;
  /** The gateway virtual key the client authenticated with (its id, never the key). */
  key_id: string | null;
  /** Where each field came from, for the event and for debugging precedence: key, header, default, git. */
  source: { developer: AttributionSource | null; repository: AttributionSource | null; team: AttributionSource | null };
}

export type AttributionSource = 'key' | 'header' | 'default' | 'git';

/** USD per one million tokens. A missing price means the provider does not charge that kind separately. */
export interface ModelPrice {
  input: number;
  output: number;
  /** Reading from the prompt cache (OpenAI cached input, Anthropic cache_read_input_tokens). */
  cached_input?: number;
  /** Writing to the prompt cache (Anthropic cache_creation_input_tokens, 5-minute TTL). */
  cache_write?: number;
  /** Reasoning tokens, when priced differently from output (otherwise billed as output). */
  reasoning?: number;
}
