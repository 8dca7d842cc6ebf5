/**
 * What the gateway knows about each provider: where it lives by default, which wire format it speaks
 * and how it expects its API key. A target may override every one of these in the config.
 */
/**
 * `openai`: Chat Completions and Responses; `chat`: Chat Completions only (most OpenAI-compatible servers), whose
 * Responses clients are served through translation; `responses`: Responses only; `anthropic`: Messages.
 */
export type WireFormat = 'openai' | 'chat' | 'anthropic' | 'responses';

export interface ProviderProfile {
  /** Default base URL, in the form that provider's own SDK takes (OpenAI-style ones include `/v1`). */
  baseUrl?: string;
  format: WireFormat;
  apiKeyHeader: string;
  apiKeyPrefix: string;
  /** True when a target of this provider cannot work without an explicit `base_url`. */
  needsBaseUrl?: boolean;
}

const openAiStyle = (baseUrl?: string): ProviderProfile => ({
  ...(baseUrl ? { baseUrl } : { needsBaseUrl: true }),
  format: 'openai',
  apiKeyHeader: 'authorization',
  apiKeyPrefix: 'Bearer ',
});

export const PROVIDERS = {
  openai: openAiStyle('https://api.openai.com/v1'),
  anthropic: {
    baseUrl: 'https://api.anthropic.com',
    format: 'anthropic',
    apiKeyHeader: 'x-api-key',
    apiKeyPrefix: '',
  },
  'azure-openai': { format: 'openai', apiKeyHeader: 'api-key', apiKeyPrefix: '', needsBaseUrl: true },
  ollama: openAiStyle('http://127.0.0.1:11434/v1'),
  vllm: openAiStyle('http://127.0.0.1:8000/v1'),
  groq: openAiStyle('https://api.groq.com/openai/v1'),
  openrouter: openAiStyle('https://openrouter.ai/api/v1'),
  mistral: openAiStyle('https://api.mistral.ai/v1'),
  together: openAiStyle('https://api.together.xyz/v1'),
  deepseek: openAiStyle('https://api.deepseek.com/v1'),
  xai: openAiStyle('https://api.x.ai/v1'),
  google: openAiStyle('https://generativelanguage.googleapis.com/v1beta/openai'),
  'openai-compatible': openAiStyle(),
} as const satisfies Record<string, ProviderProfile>;

export type ProviderName = keyof typeof PROVIDERS;

export const PROVIDER_NAMES = Object.keys(PROVIDERS) as ProviderName[];

export function providerProfile(name: ProviderName): ProviderProfile {
  return PROVIDERS[name];
}
