// How server-side apply sees a value, from the kind's schema (upstream's x-kubernetes-list-type,
// -list-map-keys and struct/map distinction): structs and maps are granular, lists are atomic unless the
// schema makes them a keyed map (`containers` by name, container `ports` by containerPort+protocol) or a
// set of scalars (`finalizers`). Free-form fields (preserveUnknown) are deduced: objects are maps, lists
// are atomic.

import type { ArraySchema, Schema } from '../schema/dsl.js';
import { childSchema } from '../schema/dsl.js';
import { isObject } from '../types.js';
import { fieldToken, indexToken, keyToken, valueToken, type PathToken } from './field-set.js';

export type Shape =
  | { type: 'leaf' }
  | { type: 'struct'; value: Record<string, unknown> }
  | { type: 'map'; value: Record<string, unknown> }
  | { type: 'listMap'; value: unknown[]; keys: readonly string[] }
  | { type: 'listSet'; value: unknown[] };

/** List-map key fields that have a default when an item leaves them out (upstream `+default` markers). */
const keyDefaults: Readonly<Record<string, unknown>> = { protocol: 'TCP' };

function listMapKeys(s: ArraySchema): readonly string[] | undefined {
  if (s.listType === 'map') return s.listMapKeys ?? (s.mergeKey === undefined ? undefined : [s.mergeKey]);
  return undefined;
}

function scalarItems(s: ArraySchema): boolean {
  const t = s.items.type;
  return t !== 'object' && t !== 'map' && t !== 'array' && t !== 'any';
}

/** The shape of `value` under `schema` (undefined schema: a free-form value). */
export function shapeOf(value: unknown, schema: Schema | undefined): Shape {
  if (Array.isArray(value)) {
    if (schema?.type !== 'array') return { type: 'leaf' };
    const keys = listMapKeys(schema);
    if (keys !== undefined && keys.length > 0) return { type: 'listMap', value, keys };
    if (schema.listType === 'set' && scalarItems(schema)) return { type: 'listSet', value };
    return { type: 'leaf' };
  }
  if (isObject(value)) {
    if (schema === undefined || schema.type === 'any' || schema.type === 'map') return { type: 'map', value };
    if (schema.type === 'object') return { type: 'struct', value };
    return { type: 'leaf' };
  }
  return { type: 'leaf' };
}

/** The schema below a struct field or map key; undefined for free-form values. */
export function fieldSchema(schema: Schema | undefined, key: string): Schema | undefined {
  if (schema === undefined || schema.type === 'any') return undefined;
  return childSchema(schema, key);
}

export function itemSchema(schema: Schema | undefined): Schema | undefined {
  return schema?.type === 'array' ? schema.items : undefined;
}

/** The key of a list-map item (defaults filled in), or undefined when it has none of the key fields. */
export function itemKey(item: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  if (!isObject(item)) return undefined;
  const key: Record<string, unknown> = {};
  let found = false;
  for (const k of keys) {
    const v = item[k];
    if (v !== undefined && v !== null) {
      key[k] = v;
      found = true;
    } else if (keyDefaults[k] !== undefined) {
      key[k] = keyDefaults[k];
    }
  }
  return found ? key : undefined;
}

/** The path token of each item of a list-map (by key; by position when an item has no key). */
export function listMapTokens(items: readonly unknown[], keys: readonly string[]): PathToken[] {
  return items.map((item, i) => {
    const key = itemKey(item, keys);
    return key === undefined ? indexToken(i) : keyToken(key);
  });
}

export function setTokens(items: readonly unknown[]): PathToken[] {
  return items.map((v) => valueToken(v));
}

export { fieldToken };
