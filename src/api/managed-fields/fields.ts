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

/** A position in a FieldSet being built; its node is only created when something is inserted there. */
class Cursor {
  private node: FieldNode | undefined;
  private readonly parent: Cursor | undefined;
  private readonly token: PathToken;

  constructor(parent: Cursor | undefined, token: PathToken, node?: FieldNode) {
    this.parent = parent;
    this.token = token;
    this.node = node;
  }

  static at(set: FieldSet): Cursor {
    return new Cursor(undefined, '', set.root);
  }

  get isRoot(): boolean {
    return this.parent === undefined;
  }

  child(token: PathToken): Cursor {
    return new Cursor(this, token);
  }

  private resolve(): FieldNode {
    if (this.node !== undefined) return this.node;
    const parent = (this.parent as Cursor).resolve();
    let n = parent.children.get(this.token);
    if (n === undefined) {
      n = new FieldNode();
      parent.children.set(this.token, n);
    }
    this.node = n;
    return n;
  }

  /** Makes this position a member (the root never is). */
  insert(): void {
    if (!this.isRoot) this.resolve().member = true;
  }
}

function definedKeys(o: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(o)) if (o[k] !== undefined) out.push(k);
  return out;
}

/** Adds the fields `value` sets, at and below `at`. */
function collect(
  value: unknown,
  schema: Schema | undefined,
  at: Cursor,
  ignore: FieldNode | undefined,
  markMaps: boolean,
): void {
  const shape = shapeOf(value, schema);
  switch (shape.type) {
    case 'leaf':
      at.insert();
      return;
    case 'struct':
    case 'map': {
      const keys = definedKeys(shape.value);
      if (keys.length === 0) {
        at.insert();
        return;
      }
      if (markMaps && shape.type === 'map') at.insert();
      for (const k of keys) {
        const t = fieldToken(k);
        const ig = skip(ignore, t);
        if (ig.skip) continue;
        const child = at.child(t);
        const v = shape.value[k];
        if (shape.type === 'map' || v === null) child.insert();
        collect(v, fieldSchema(schema, k), child, ig.next, markMaps);
      }
      return;
    }
    case 'listMap': {
      const tokens = listMapTokens(shape.value, shape.keys);
      const items = itemSchema(schema);
      shape.value.forEach((item, i) => {
        const child = at.child(tokens[i] ?? '');
        child.insert();
        collect(item, items, child, undefined, markMaps);
      });
      return;
    }
    case 'listSet':
      for (const t of setTokens(shape.value)) at.child(t).insert();
      return;
  }
}

/** The fields `value` sets (what an applier owns when it sends `value`). */
export function fieldSetOf(value: unknown, schema: Schema | undefined, ignore?: FieldSet): FieldSet {
  const set = new FieldSet();
  collect(value, schema, Cursor.at(set), ignore?.root, false);
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
      return definedKeys(shape.value).map(fieldToken);
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
    ch: Cursor,
    ig: FieldNode | undefined,
    entry: boolean,
  ) => {
    if (entry || shapeOf(n, s).type === 'leaf') ch.insert();
    collect(n, s, ch, ig, true);
  };

  const removeChildren = (o: unknown, s: Schema | undefined, rm: Cursor, ig: FieldNode | undefined) => {
    for (const t of childTokens(o, s)) if (!skip(ig, t).skip) rm.child(t).insert();
  };

  const cmp = (
    o: unknown,
    n: unknown,
    s: Schema | undefined,
    ch: Cursor,
    rm: Cursor,
    ig: FieldNode | undefined,
    entry: boolean,
  ): void => {
    if (n === undefined) {
      if (o !== undefined) {
        if (!rm.isRoot) rm.insert();
        else removeChildren(o, s, rm, ig);
      }
      return;
    }
    if (o === undefined) {
      added(n, s, ch, ig, entry);
      return;
    }
    const so = shapeOf(o, s);
    const sn = shapeOf(n, s);
    if (so.type !== sn.type) {
      removeChildren(o, s, rm, ig);
      added(n, s, ch, ig, true);
      return;
    }
    switch (sn.type) {
      case 'leaf':
        if (!jsonEqual(o, n)) ch.insert();
        return;
      case 'struct':
      case 'map': {
        const ov = (so as typeof sn).value;
        const nv = sn.value;
        const nKeys = definedKeys(nv);
        if (nKeys.length === 0) {
          if (definedKeys(ov).length > 0) {
            removeChildren(o, s, rm, ig);
            ch.insert();
          }
          return;
        }
        const keys = new Set([...Object.keys(ov), ...nKeys]);
        for (const k of keys) {
          const t = fieldToken(k);
          const sk = skip(ig, t);
          if (sk.skip) continue;
          cmp(ov[k], nv[k], fieldSchema(s, k), ch.child(t), rm.child(t), sk.next, sn.type === 'map');
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
          cmp(oldByToken.get(t), sn.value[i], items, ch.child(t), rm.child(t), undefined, true);
        });
        for (const t of oTokens) if (!seen.has(t)) rm.child(t).insert();
        return;
      }
      case 'listSet': {
        const oTokens = new Set(setTokens((so as typeof sn).value));
        const nTokens = new Set(setTokens(sn.value));
        for (const t of nTokens) if (!oTokens.has(t)) ch.child(t).insert();
        for (const t of oTokens) if (!nTokens.has(t)) rm.child(t).insert();
        return;
      }
    }
  };

  cmp(before, after, schema, Cursor.at(changed), Cursor.at(removed), ignore?.root, false);
  return { changed, removed };
}
