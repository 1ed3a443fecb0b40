// Narrowing readers for decoded (untyped) objects: each returns undefined for a wrong type, so
// validation can run on anything and leave type errors to the structural check.

import { isObject } from '../types.js';

export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj | undefined {
  return isObject(v) ? v : undefined;
}
export function asArr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
export function asStr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
export function asNum(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
export function asBool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
/** Map of strings (labels, selectors); non-string values skipped. */
export function asStrMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}
/** Objects of a list with their index (non-objects skipped). */
export function objItems(v: unknown): Array<[Obj, number]> {
  const out: Array<[Obj, number]> = [];
  asArr(v).forEach((x, i) => {
    if (isObject(x)) out.push([x, i]);
  });
  return out;
}
/** The object at `parent[key]`, created when absent or not an object (for defaulting). */
export function ensureObj(parent: Obj, key: string): Obj {
  const cur = parent[key];
  if (isObject(cur)) return cur;
  const created: Obj = {};
  parent[key] = created;
  return created;
}
/** Unset for defaulting purposes: absent, null or the Go zero value ''. */
export function unsetStr(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}
export function unset(v: unknown): boolean {
  return v === undefined || v === null;
}
/** UTF-8 byte length (annotation and data size limits are in bytes). */
export function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}
