// Strategic merge patch, `application/strategic-merge-patch+json`, after
// k8s.io/apimachinery/pkg/util/strategicpatch: maps merge recursively, null deletes, and lists
// whose schema says `patchStrategy: merge` merge by `mergeKey` (lists of objects) or as sets (lists
// of scalars); other lists replace. Directives: `$patch: replace|delete|merge` (in maps and list
// items), `$retainKeys`, `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`.
// Fields without a schema (free-form) behave as JSON merge patch.

import { ApiError } from '../errors.js';
import { childSchema, hasStrategy, type ArraySchema, type Schema } from '../schema/dsl.js';
import { isObject } from '../types.js';
import { jsonClone, jsonEqual, jsonTypeOf, type JsonObject } from './json.js';

const directiveMarker = '$patch';
const retainKeysDirective = '$retainKeys';
const deleteFromPrimitiveListPrefix = '$deleteFromPrimitiveList/';
const setElementOrderPrefix = '$setElementOrder/';

function badPatch(message: string): ApiError {
  return new ApiError('BadRequest', message);
}
function invalidPatch(message: string): ApiError {
  return new ApiError('Invalid', message);
}

function arraySchemaOf(s: Schema | undefined): ArraySchema | undefined {
  return s?.type === 'array' ? s : undefined;
}

/** Removes directives and nulls from a patch value that has nothing to merge with. */
function materialize(patchV: unknown, schema: Schema | undefined): unknown {
  if (Array.isArray(patchV)) return mergeList(undefined, patchV, arraySchemaOf(schema), undefined, '');
  if (isObject(patchV)) return mergeMap(undefined, patchV, schema);
  return jsonClone(patchV);
}

/** Merges `patch` into `original` (not modified); `schema` describes the map. */
export function mergeMap(
  original: JsonObject | undefined,
  patch: JsonObject,
  schema: Schema | undefined,
): JsonObject {
  const directive = patch[directiveMarker];
  if (directive !== undefined) {
    if (directive === 'replace') {
      const rest = { ...patch };
      delete rest[directiveMarker];
      return mergeMap(undefined, rest, schema);
    }
    if (directive === 'delete') return {};
    if (directive !== 'merge')
      throw badPatch(`unknown patch type: ${JSON.stringify(directive)} in map: ${JSON.stringify(patch)}`);
  }
  const out: JsonObject = original === undefined ? {} : { ...original };

  const retain = patch[retainKeysDirective];
  if (retain !== undefined) {
    if (!Array.isArray(retain) || !retain.every((k) => typeof k === 'string')) {
      throw badPatch(`invalid patch: ${retainKeysDirective} must be a list of field names`);
    }
    const keep = new Set(retain);
    for (const [k, v] of Object.entries(patch)) {
      if (k.startsWith('$') || v === null) continue;
      if (!keep.has(k))
        throw invalidPatch(
          `patch content doesn't match retainKeys list: field ${JSON.stringify(k)} is not in ${JSON.stringify(retain)}`,
        );
    }
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }

  // Deletions from primitive lists first, then ordinary fields, then element order.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(deleteFromPrimitiveListPrefix)) continue;
    const name = k.slice(deleteFromPrimitiveListPrefix.length);
    if (!Array.isArray(v)) throw badPatch(`invalid patch: ${k} must be a list`);
    const cur = out[name];
    if (Array.isArray(cur))
      out[name] = cur.filter((item: unknown) => !v.some((d: unknown) => jsonEqual(d, item)));
  }

  for (const [k, patchV] of Object.entries(patch)) {
    if (k === directiveMarker || k === retainKeysDirective) continue;
    if (k.startsWith(deleteFromPrimitiveListPrefix) || k.startsWith(setElementOrderPrefix)) continue;
    const fieldSchema = childSchema(schema, k);
    if (patchV === null) {
      delete out[k];
      continue;
    }
    const origV = out[k];
    const order = patch[`${setElementOrderPrefix}${k}`];
    if (origV === undefined || origV === null || jsonTypeOf(origV) !== jsonTypeOf(patchV)) {
      out[k] = Array.isArray(patchV)
        ? mergeList(undefined, patchV, arraySchemaOf(fieldSchema), order, k)
        : materialize(patchV, fieldSchema);
      continue;
    }
    if (isObject(origV) && isObject(patchV)) {
      out[k] = hasStrategy(fieldSchema, 'replace')
        ? mergeMap(undefined, patchV, fieldSchema)
        : mergeMap(origV, patchV, fieldSchema);
    } else if (Array.isArray(origV) && Array.isArray(patchV)) {
      out[k] = mergeList(origV, patchV, arraySchemaOf(fieldSchema), order, k);
    } else {
      out[k] = jsonClone(patchV);
    }
  }

  // A `$setElementOrder/<field>` for a list the patch does not otherwise touch still reorders it.
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(setElementOrderPrefix)) continue;
    const name = k.slice(setElementOrderPrefix.length);
    if (name in patch) continue;
    const cur = out[name];
    if (Array.isArray(cur)) {
      const listSchema = arraySchemaOf(childSchema(schema, name));
      out[name] = normalizeOrder(
        cur,
        [],
        cur,
        v,
        isScalarList(listSchema, cur) ? undefined : listSchema?.mergeKey,
        name,
      );
    }
  }
  return out;
}

function keyOf(item: unknown, mergeKey: string): unknown {
  return isObject(item) ? item[mergeKey] : undefined;
}

function isScalarList(schema: ArraySchema | undefined, items: readonly unknown[]): boolean {
  if (schema !== undefined) {
    const t = schema.items.type;
    return t !== 'object' && t !== 'map' && t !== 'array' && t !== 'any';
  }
  return items.every((v) => !isObject(v) && !Array.isArray(v));
}

/** Merges a list per its schema; `original` undefined means there is nothing to merge with. */
function mergeList(
  original: readonly unknown[] | undefined,
  patch: readonly unknown[],
  schema: ArraySchema | undefined,
  order: unknown,
  name: string,
): unknown[] {
  // A `{$patch: replace}` element replaces the whole list with the other elements.
  const replaceAt = patch.findIndex((v) => isObject(v) && v[directiveMarker] === 'replace');
  if (replaceAt >= 0) {
    const rest = patch.filter((_, i) => i !== replaceAt);
    return mergeList(undefined, rest, schema, order, name);
  }
  const merge = hasStrategy(schema, 'merge');
  const itemSchema = schema?.items;
  if (!merge) {
    // Replace: drop directives and nulls inside, nothing to merge with.
    return patch.map((v) => materialize(v, itemSchema));
  }
  const live = original ?? [];
  if (isScalarList(schema, patch)) {
    const merged: unknown[] = [];
    for (const v of [...live, ...patch]) if (!merged.some((o) => jsonEqual(o, v))) merged.push(jsonClone(v));
    return normalizeOrder(merged, patch, live, order, undefined, name);
  }
  const mergeKey = schema?.mergeKey;
  if (mergeKey === undefined) return patch.map((v) => materialize(v, itemSchema));

  // Deletions first (against the live list), then merges and additions.
  let merged: unknown[] = [...live];
  const additions: JsonObject[] = [];
  for (const item of patch) {
    if (!isObject(item))
      throw invalidPatch(
        `invalid patch: list ${JSON.stringify(name)} must contain objects, got ${JSON.stringify(item)}`,
      );
    const key = item[mergeKey];
    if (key === undefined) {
      throw invalidPatch(`map: ${JSON.stringify(item)} does not contain declared merge key: ${mergeKey}`);
    }
    if (item[directiveMarker] === 'delete')
      merged = merged.filter((o) => !jsonEqual(keyOf(o, mergeKey), key));
    else additions.push(item);
  }
  for (const item of additions) {
    const at = merged.findIndex((o) => jsonEqual(keyOf(o, mergeKey), item[mergeKey]));
    if (at >= 0) {
      const cur = merged[at];
      merged[at] = mergeMap(isObject(cur) ? cur : undefined, item, itemSchema);
    } else {
      merged.push(mergeMap(undefined, item, itemSchema));
    }
  }
  return normalizeOrder(merged, additions, live, order, mergeKey, name);
}

/**
 * The order of a merged list, as upstream's normalizeElementOrder gives it. The items the patch names
 * (in `$setElementOrder/<field>` when given, else in the patch list) come in the patch's order; the
 * others (server-only items) keep their live order and are interleaved with them by live position:
 * a server-only item goes before a patch item when both are in the live list and it came first there.
 */
function normalizeOrder(
  merged: readonly unknown[],
  patchList: readonly unknown[],
  live: readonly unknown[],
  order: unknown,
  mergeKey: string | undefined,
  name: string,
): unknown[] {
  const identity = (v: unknown): unknown => (mergeKey !== undefined && isObject(v) ? v[mergeKey] : v);
  const indexIn = (list: readonly unknown[], v: unknown): number => {
    const id = identity(v);
    return list.findIndex((w) => jsonEqual(identity(w), id));
  };
  let named: readonly unknown[] = patchList;
  if (order !== undefined) {
    if (!Array.isArray(order))
      throw badPatch(`invalid patch: ${setElementOrderPrefix}${name} must be a list`);
    checkOrderMatchesPatch(patchList, order, indexIn, name);
    named = order;
  }
  const byIndexIn = (list: readonly unknown[]) => (a: unknown, b: unknown) =>
    rankOf(indexIn(list, a)) - rankOf(indexIn(list, b));
  const fromPatch = merged.filter((v) => indexIn(named, v) >= 0).sort(byIndexIn(named));
  const serverOnly = merged.filter((v) => indexIn(named, v) < 0).sort(byIndexIn(live));
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < fromPatch.length) {
    if (j >= fromPatch.length) out.push(serverOnly[i++]);
    else if (i >= serverOnly.length) out.push(fromPatch[j++]);
    else {
      const li = indexIn(live, serverOnly[i]);
      const ri = indexIn(live, fromPatch[j]);
      if (li >= 0 && ri >= 0 && li < ri) out.push(serverOnly[i++]);
      else out.push(fromPatch[j++]);
    }
  }
  return out;
}

/** Position for sorting: not found sorts last (Array.prototype.sort is stable). */
function rankOf(i: number): number {
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
}

/** The patch list's items must appear in `$setElementOrder`, in the same relative order. */
function checkOrderMatchesPatch(
  patchList: readonly unknown[],
  order: readonly unknown[],
  indexIn: (list: readonly unknown[], v: unknown) => number,
  name: string,
): void {
  let last = -1;
  for (const item of patchList) {
    const at = indexIn(order, item);
    if (at <= last) {
      throw badPatch(
        `invalid patch: the order of ${JSON.stringify(name)} in the patch list doesn't match ${setElementOrderPrefix}${name}`,
      );
    }
    last = at;
  }
}

/**
 * Applies a strategic merge patch to an object. `schema` is the kind's schema (see schemaFor);
 * fields it does not describe merge as JSON merge patch. Neither input is modified.
 */
export function applyStrategicMergePatch(
  target: unknown,
  patch: unknown,
  schema: Schema | undefined,
): JsonObject {
  if (!isObject(patch))
    throw badPatch(`strategic merge patch must be a JSON object, got ${jsonTypeOf(patch)}`);
  return mergeMap(isObject(target) ? target : undefined, patch, schema);
}
