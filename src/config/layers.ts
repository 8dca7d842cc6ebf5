/**
 * Layering of several config files (`--policy-config a.yaml --policy-config b.yaml`): later files win;
 * mappings merge key by key, recursively; lists and scalars (null included) replace what an earlier
 * file had.
 */
export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

function isMap(v: unknown): v is Record<string, Plain> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function mergeLayers(layers: readonly unknown[]): unknown {
  let result: unknown = undefined;
  for (const layer of layers) result = mergeTwo(result, layer);
  return result;
}

function mergeTwo(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isMap(base) && isMap(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) {
      out[k] = mergeTwo(base[k], v);
    }
    return out;
  }
  return over;
}
