// The strategic merge patch that turns one object into another, computed the way kubectl computes it
// (k8s.io/apimachinery strategicpatch CreateTwoWayMergePatch, with $setElementOrder): maps are diffed
// key by key (a dropped key becomes null); lists merged by key carry the changed and added items, a
// `$patch: delete` item per removed key and a `$setElementOrder/<field>` list whenever their content or
// order changed; merged lists of scalars carry the added values, `$deleteFromPrimitiveList/<field>` for
// the removed ones and `$setElementOrder/<field>`; every other list is replaced whole when it differs;
// maps whose strategy is retainKeys get a `$retainKeys` list when anything in them changed.
// applyStrategicMergePatch(original, createStrategicMergePatch(original, modified)) equals `modified`.

import { childSchema, hasStrategy, type ArraySchema, type Schema } from '../schema/dsl.js';
import { isObject } from '../types.js';
import { jsonClone, jsonEqual, jsonTypeOf, type JsonObject } from './json.js';

function arraySchemaOf(s: Schema | undefined): ArraySchema | undefined {
  return s?.type === 'array' ? s : undefined;
}

function isScalar(v: unknown): boolean {
  return !isObject(v) && !Array.isArray(v);
}

/** Changed and added items, then a `$patch: delete` item per removed key; the order list. */
function diffKeyedLists(
  original: readonly unknown[],
  modified: readonly unknown[],
  schema: ArraySchema,
  mergeKey: string,
): { patch: unknown[]; order: unknown[] } {
  const keyOf = (v: unknown): unknown => (isObject(v) ? v[mergeKey] : undefined);
  const retainKeys = hasStrategy(schema, 'retainKeys');
  const patch: unknown[] = [];
  for (const m of modified) {
    const o = original.find((x) => jsonEqual(keyOf(x), keyOf(m)));
    if (o === undefined || !isObject(o) || !isObject(m)) {
      patch.push(jsonClone(m));
      continue;
    }
    const sub = diffMaps(o, m, schema.items, retainKeys);
    if (Object.keys(sub).length > 0) patch.push({ ...sub, [mergeKey]: jsonClone(keyOf(m)) });
  }
  const orderSame =
    original.length === modified.length && original.every((o, i) => jsonEqual(keyOf(o), keyOf(modified[i])));
  for (const o of original) {
    if (!modified.some((m) => jsonEqual(keyOf(m), keyOf(o)))) {
      patch.push({ [mergeKey]: jsonClone(keyOf(o)), $patch: 'delete' });
    }
  }
  const order =
    patch.length > 0 || !orderSame ? modified.map((m) => ({ [mergeKey]: jsonClone(keyOf(m)) })) : [];
  return { patch, order };
}

function diffScalarLists(
  original: readonly unknown[],
  modified: readonly unknown[],
): { add: unknown[]; remove: unknown[]; order: unknown[] } {
  const unique = (list: readonly unknown[]): unknown[] =>
    list.filter((v, i) => list.findIndex((w) => jsonEqual(v, w)) === i);
  const add = unique(modified.filter((m) => !original.some((o) => jsonEqual(o, m))));
  const remove = unique(original.filter((o) => !modified.some((m) => jsonEqual(o, m))));
  const order = remove.length > 0 || !jsonEqual(original, modified) ? jsonClone([...modified]) : [];
  return { add, remove, order };
}

function diffMaps(
  original: JsonObject,
  modified: JsonObject,
  schema: Schema | undefined,
  buildRetainKeys: boolean,
): JsonObject {
  const patch: JsonObject = {};
  for (const [k, m] of Object.entries(modified)) {
    if (!(k in original)) {
      patch[k] = jsonClone(m);
      continue;
    }
    const o = original[k];
    if (jsonTypeOf(o) !== jsonTypeOf(m)) {
      patch[k] = jsonClone(m);
      continue;
    }
    const fieldSchema = childSchema(schema, k);
    if (isObject(o) && isObject(m)) {
      if (hasStrategy(fieldSchema, 'replace')) {
        if (!jsonEqual(o, m)) patch[k] = jsonClone(m);
        continue;
      }
      const sub = diffMaps(o, m, fieldSchema, hasStrategy(fieldSchema, 'retainKeys'));
      if (Object.keys(sub).length > 0) patch[k] = sub;
      continue;
    }
    if (Array.isArray(o) && Array.isArray(m)) {
      const listSchema = arraySchemaOf(fieldSchema);
      if (listSchema === undefined || !hasStrategy(listSchema, 'merge')) {
        if (!jsonEqual(o, m)) patch[k] = jsonClone(m);
        continue;
      }
      if (o.length === 0) {
        // Nothing to merge with: the new list as it is.
        if (m.length > 0) patch[k] = jsonClone(m);
        continue;
      }
      const mergeKey = listSchema.mergeKey;
      if (mergeKey !== undefined && [...o, ...m].every(isObject)) {
        const { patch: items, order } = diffKeyedLists(o, m, listSchema, mergeKey);
        if (items.length > 0) patch[k] = items;
        if (order.length > 0) patch[`$setElementOrder/${k}`] = order;
      } else if ([...o, ...m].every(isScalar)) {
        const { add, remove, order } = diffScalarLists(o, m);
        if (add.length > 0) patch[k] = add;
        if (remove.length > 0) patch[`$deleteFromPrimitiveList/${k}`] = remove;
        if (order.length > 0) patch[`$setElementOrder/${k}`] = order;
      } else if (!jsonEqual(o, m)) {
        patch[k] = jsonClone(m);
      }
      continue;
    }
    if (!jsonEqual(o, m)) patch[k] = jsonClone(m);
  }
  for (const k of Object.keys(original)) if (!(k in modified)) patch[k] = null;
  if (buildRetainKeys && Object.keys(patch).length > 0) {
    const retain = Object.keys(modified)
      .filter((k) => modified[k] !== null)
      .sort();
    if (retain.length > 0) patch.$retainKeys = retain;
  }
  return patch;
}

/**
 * The strategic merge patch from `original` to `modified` for a kind with this schema (`{}` when they
 * are equal). Neither input is modified.
 */
export function createStrategicMergePatch(
  original: JsonObject,
  modified: JsonObject,
  schema: Schema | undefined,
): JsonObject {
  return diffMaps(original, modified, schema, false);
}
