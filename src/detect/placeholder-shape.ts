/**
 * The shape of the gateway's own placeholders (reversible redaction, policy/placeholders.ts): brackets, an
 * upper-case label of at most 24 characters, an underscore, ten lower-case letters. Detectors treat a value of
 * exactly this shape as a placeholder, never a secret: the model quotes placeholders back (`password =
 * "[SECRET_qkzvmwtrhd]"`), and an output policy that took one for a leak would mask it before it is restored.
 */
export const PLACEHOLDER_SOURCE = String.raw`\[[A-Z][A-Z0-9_]{0,23}_[a-z]{10}\]`;

const ONLY_PLACEHOLDERS = new RegExp(`^(?:${PLACEHOLDER_SOURCE})+$`);

/** True when `value` is nothing but gateway placeholders. */
export function isGatewayPlaceholder(value: string): boolean {
  return value.length >= 14 && value.charCodeAt(0) === 0x5b && ONLY_PLACEHOLDERS.test(value);
}
