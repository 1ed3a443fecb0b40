// The fields a value sets, and what changed between two values, as FieldSets.
//
// fieldSetOf(config) is what an applier owns: every leaf (scalar, atomic list, empty object), every
// keyed list item and set value, and every map entry (so `f:labels` lists `f:app`), but not the struct
// fields on the way down. compareValues(old, new) is what an ordinary write (create, update, patch)
// changed: the leaves whose value differs plus everything added, and the paths that went away.

import type { Schema } from '../schema/dsl.js';
import { jsonEqual } from '../patch/json.js';
import { FieldNode, FieldSet, fieldToken, type PathToken } from './field-set.js';
import { fieldSchema, itemSchema, listMapTokens, setTokens, shapeOf } from './structure.js';

/** Paths (and everything below them) that managed fields never track. */
export function ignoredFields(paths: readonly (readonly string[])[]): FieldSet {
  const set = new FieldSet();
  for (const p of paths) set.insert(p.map(fieldToken));
  return set;
}

function skip(
  ignore: FieldNode | undefined,
  token: PathToken,
): { skip: boolean; next: FieldNode | undefined } {
  const next = ignore?.child(token);
  return { skip: next?.member === true, next };
}

/** Adds the fields `value` sets, below `path`, to `into`. */
function collect(
  value: unknown,
  schema: Schema | undefined,
  path: PathToken[],
  into: FieldSet,
  ignore: FieldNode | undefined,
  markMaps: boolean,
): void {
  const shape = shapeOf(value, schema);
  switch (shape.type) {
    case 'leaf':
      if (path.length > 0) into.insert(path);
      return;
    case 'struct':
    case 'map': {
      const keys = Object.keys(shape.value).filter((k) => shape.value[k] !== undefined);
      if (keys.length === 0 || (markMaps && shape.type === 'map')) {
        if (path.length > 0) into.insert(path);
        if (keys.length === 0) return;
      }
      for (const k of keys) {
        const t = fieldToken(k);
        const ig = skip(ignore, t);
        if (ig.skip) continue;
        const childPath = [...path, t];
        const v = shape.value[k];
        if (shape.type === 'map' || v === null) into.insert(childPath);
        collect(v, fieldSchema(schema, k), childPath, into, ig.next, markMaps);
      }
      return;
    }
    case 'listMap': {
      const tokens = listMapTokens(shape.value, shape.keys);
      const items = itemSchema(schema);
      shape.value.forEach((item, i) => {
        const childPath = [...path, tokens[i] ?? ''];
        into.insert(childPath);
        collect(item, items, childPath, into, undefined, markMaps);
      });
      return;
    }
    case 'listSet':
      for (const t of setTokens(shape.value)) into.insert([...path, t]);
      return;
  }
}

/** The fields `value` sets (what an applier owns when it sends `value`). */
export function fieldSetOf(value: unknown, schema: Schema | undefined, ignore?: FieldSet): FieldSet {
  const set = new FieldSet();
  collect(value, schema, [], set, ignore?.root, false);
  return set;
}

export interface Comparison {
  /** Leaves whose value changed, and everything added. */
  changed: FieldSet;
  /** Paths present before and gone now (with everything below them). */
  removed: FieldSet;
}

function childTokens(value: unknown, schema: Schema | undefined): PathToken[] {
  const shape = shapeOf(value, schema);
  switch (shape.type) {
    case 'leaf':
      return [];
    case 'struct':
    case 'map':
      return Object.keys(shape.value)
        .filter((k) => shape.value[k] !== undefined)
        .map(fieldToken);
    case 'listMap':
      return listMapTokens(shape.value, shape.keys);
    case 'listSet':
      return setTokens(shape.value);
  }
}

/** What changed from `before` to `after` (both whole objects, or undefined for "nothing"). */
export function compareValues(
  before: unknown,
  after: unknown,
  schema: Schema | undefined,
  ignore?: FieldSet,
): Comparison {
  const changed = new FieldSet();
  const removed = new FieldSet();

  const added = (
    n: unknown,
    s: Schema | undefined,
    path: PathToken[],
    ig: FieldNode | undefined,
    entry: boolean,
  ) => {
    if (path.length > 0 && (entry || shapeOf(n, s).type === 'leaf')) changed.insert(path);
    collect(n, s, path, changed, ig, true);
  };

  const removeChildren = (
    o: unknown,
    s: Schema | undefined,
    path: PathToken[],
    ig: FieldNode | undefined,
  ) => {
    for (const t of childTokens(o, s)) if (!skip(ig, t).skip) removed.insert([...path, t]);
  };

  const cmp = (
    o: unknown,
    n: unknown,
    s: Schema | undefined,
    path: PathToken[],
    ig: FieldNode | undefined,
    entry: boolean,
  ): void => {
    if (n === undefined) {
      if (o !== undefined) {
        if (path.length > 0) removed.insert(path);
        else removeChildren(o, s, path, ig);
      }
      return;
    }
    if (o === undefined) {
      added(n, s, path, ig, entry);
      return;
    }
    const so = shapeOf(o, s);
    const sn = shapeOf(n, s);
    if (so.type !== sn.type) {
      removeChildren(o, s, path, ig);
      added(n, s, path, ig, true);
      return;
    }
    switch (sn.type) {
      case 'leaf':
        if (path.length > 0 && !jsonEqual(o, n)) changed.insert(path);
        return;
      case 'struct':
      case 'map': {
        const ov = (so as typeof sn).value;
        const nv = sn.value;
        const nKeys = Object.keys(nv).filter((k) => nv[k] !== undefined);
        if (nKeys.length === 0) {
          if (Object.keys(ov).some((k) => ov[k] !== undefined)) {
            removeChildren(o, s, path, ig);
            if (path.length > 0) changed.insert(path);
          }
          return;
        }
        const keys = new Set([...Object.keys(ov), ...nKeys]);
        for (const k of keys) {
          const t = fieldToken(k);
          const sk = skip(ig, t);
          if (sk.skip) continue;
          cmp(ov[k], nv[k], fieldSchema(s, k), [...path, t], sk.next, sn.type === 'map');
        }
        return;
      }
      case 'listMap': {
        const ov = (so as typeof sn).value;
        const oTokens = listMapTokens(ov, sn.keys);
        const nTokens = listMapTokens(sn.value, sn.keys);
        const oldByToken = new Map<PathToken, unknown>();
        oTokens.forEach((t, i) => {
          if (!oldByToken.has(t)) oldByToken.set(t, ov[i]);
        });
        const items = itemSchema(s);
        const seen = new Set<PathToken>();
        nTokens.forEach((t, i) => {
          if (seen.has(t)) return;
          seen.add(t);
          cmp(oldByToken.get(t), sn.value[i], items, [...path, t], undefined, true);
        });
        for (const t of oTokens) if (!seen.has(t)) removed.insert([...path, t]);
        return;
      }
      case 'listSet': {
        const oTokens = new Set(setTokens((so as typeof sn).value));
        const nTokens = new Set(setTokens(sn.value));
        for (const t of nTokens) if (!oTokens.has(t)) changed.insert([...path, t]);
        for (const t of oTokens) if (!nTokens.has(t)) removed.insert([...path, t]);
        return;
      }
    }
  };

  cmp(before, after, schema, [], ignore?.root, false);
  return { changed, removed };
}
