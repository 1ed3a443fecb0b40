// Plain JSON helpers shared by the patch formats.

import { isObject } from '../types.js';

export type JsonObject = Record<string, unknown>;

/** Deep copy of a JSON value (objects, arrays, scalars). */
export function jsonClone<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => jsonClone(v)) as T;
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonClone(v);
    return out as T;
  }
  return value;
}

/** Structural equality of JSON values; object key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v: unknown, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

export function jsonTypeOf(
  v: unknown,
): 'null' | 'array' | 'object' | 'string' | 'number' | 'boolean' | 'undefined' {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (isObject(v)) return 'object';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  return 'undefined';
}
