/**
 * A dollar amount as people write it, exact to the micro-dollar the gateway counts in: at least two decimals,
 * more only when they are not zero. `$20.00`, `$0.25`, `$0.001`, `$1.2345`; a budget of a tenth of a cent never
 * reads as `$0.00`.
 */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) return `$${usd}`;
  const sign = usd < 0 ? '-' : '';
  const fixed = Math.abs(usd).toFixed(6).replace(/0{1,4}$/, '');
  return `${sign}$${fixed}`;
}
