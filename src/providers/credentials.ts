import type { IncomingHttpHeaders } from 'node:http';
import type { Target } from './targets.js';

export class MissingSecretError extends Error {
  constructor(
    readonly targetId: string,
    readonly envName: string,
  ) {
    super(`target "${targetId}": environment variable ${envName} (secret_key_ref.env) is not set or is empty`);
  }
}

/** Provider keys read once at start, by target id. Kept out of Target so nothing that logs a target can leak one. */
export class CredentialStore {
  private constructor(private readonly keys: ReadonlyMap<string, string>) {}

  static fromEnv(targets: readonly Target[], env: NodeJS.ProcessEnv = process.env): CredentialStore {
    const keys = new Map<string, string>();
    for (const t of targets) {
      if (!t.secretEnv) continue;
      const value = env[t.secretEnv]?.trim();
      if (!value) throw new MissingSecretError(t.id, t.secretEnv);
      keys.set(t.id, value);
    }
    return new CredentialStore(keys);
  }

  /**
   * The auth header to send upstream, or undefined when there is no key at all. A target with its own key
   * never forwards the client's; otherwise the client's key is re-sent in the header form the target needs.
   */
  upstreamAuth(target: Target, clientHeaders: IncomingHttpHeaders, clientKeyIsGatewayKey = false): { name: string; value: string } | undefined {
    const own = this.keys.get(target.id);
    if (own !== undefined) return { name: target.apiKeyHeader, value: target.apiKeyPrefix + own };
    // A gateway virtual key means nothing to a provider and must never reach one.
    if (clientKeyIsGatewayKey) return undefined;
    const client = clientKey(clientHeaders);
    if (!client) return undefined;
    // Anthropic OAuth tokens (Claude Code with ANTHROPIC_AUTH_TOKEN) only work as Bearer tokens.
    if (target.format === 'anthropic' && client.scheme === 'bearer' && client.key.startsWith('sk-ant-oat')) {
      return { name: 'authorization', value: `Bearer ${client.key}` };
    }
    return { name: target.apiKeyHeader, value: target.apiKeyPrefix + client.key };
  }

  hasOwnKey(targetId: string): boolean {
    return this.keys.has(targetId);
  }
}

/** The API key a client sent, whichever header its SDK uses. */
export function clientKey(headers: IncomingHttpHeaders): { key: string; scheme: 'bearer' | 'header' } | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m?.[1]) return { key: m[1].trim(), scheme: 'bearer' };
  }
  for (const name of ['x-api-key', 'api-key'] as const) {
    const v = headers[name];
    if (typeof v === 'string' && v.trim()) return { key: v.trim(), scheme: 'header' };
  }
  return undefined;
}
