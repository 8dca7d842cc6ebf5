/**
 * Canonical JSON for hashing: object keys sorted by UTF-16 code units, no whitespace, `undefined` members
 * dropped, numbers in JavaScript's shortest round-trip form (as RFC 8785 prescribes). The same value always
 * gives the same bytes, whatever order its keys were built in, so a hash can be recomputed from a stored copy.
 *
 * It runs once per decision event. The fast path hands V8's native JSON.stringify a value whose objects
 * already enumerate their keys in sorted order (the value itself when it was built that way, else a sorted
 * copy of just the objects that need it); building the text by concatenation in JavaScript cost two to five
 * times as much. Values the native serializer would write differently (objects whose integer-like keys
 * cannot be reordered, or with a toJSON method) take the reference path, which gives the same bytes.
 */
export function canonicalJson(value: unknown): string {
  let form: unknown;
  try {
    form = sortedForm(value);
  } catch (err) {
    if (err === NEEDS_REFERENCE_PATH) return canonicalJsonReference(value);
    throw err;
  }
  return JSON.stringify(form);
}

/** Thrown inside sortedForm when only the reference path can serialize a value; never escapes this module. */
const NEEDS_REFERENCE_PATH = Symbol('needs the reference path');

/** An array index key ("0", "17"): objects always enumerate these first, in numeric order, so a copy cannot sort them. */
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/**
 * The value with every object's keys in sorted order, sharing every subtree that already is; rejects what
 * canonical JSON cannot hold with the same errors as the reference path.
 */
function sortedForm(value: unknown): unknown {
  if (value === null) return null;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold NaN or Infinity');
      return value;
    case 'object':
      return Array.isArray(value) ? sortedArray(value) : sortedObject(value as Record<string, unknown>);
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

function sortedArray(array: readonly unknown[]): readonly unknown[] {
  let copy: unknown[] | undefined;
  for (let i = 0; i < array.length; i++) {
    const v = array[i];
    // undefined (and holes) serialize as null natively, as the reference path writes them.
    const s = v === undefined ? v : sortedForm(v);
    if (copy) copy.push(s);
    else if (s !== v) {
      copy = array.slice(0, i);
      copy.push(s);
    }
  }
  return copy ?? array;
}

function sortedObject(obj: Record<string, unknown>): Record<string, unknown> {
  // Class instances, boxed primitives and toJSON methods serialize natively in ways the definition does not.
  const proto: unknown = Object.getPrototypeOf(obj);
  if ((proto !== Object.prototype && proto !== null) || typeof obj.toJSON === 'function') throw NEEDS_REFERENCE_PATH;
  // The common case, an object built in sorted order: checked with for-in (no key array allocated) while
  // its members are checked in turn. for-in visits own keys in Object.keys order here (a plain object).
  let prev: string | undefined;
  for (const k in obj) {
    if (prev !== undefined && prev > k) return sortedCopy(obj);
    prev = k;
    const v = obj[k];
    // undefined members are dropped natively, as the reference path drops them.
    if (v !== undefined && sortedForm(v) !== v) return sortedCopy(obj);
  }
  return obj;
}

/** A copy with sorted keys (and sorted members), for an object that is not already in canonical order. */
function sortedCopy(obj: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(obj);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if (keys[i - 1]! > keys[i]!) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    for (const k of keys) if (ARRAY_INDEX.test(k)) throw NEEDS_REFERENCE_PATH;
    keys.sort();
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = obj[k];
    if (v !== undefined) put(out, k, sortedForm(v));
  }
  return out;
}

/**
 * Plain objects filled in key order keep V8's fast (hidden-class) layout, which the native serializer walks
 * quickly; an object without a prototype would be a slow dictionary. "__proto__" must become an own member
 * rather than set the prototype.
 */
function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** The definition, written out: builds the text member by member. Used for the values the fast path cannot take. */
export function canonicalJsonReference(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold NaN or Infinity');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const v: unknown = value[i];
          out += v === undefined ? 'null' : canonicalJsonReference(v);
        }
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${canonicalJsonReference(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}
