// Server-side apply (`application/apply-patch+yaml`) on plain JSON objects, following the documented
// semantics of kube-apiserver's Server-Side Apply:
//
// 1. The applier's configuration is merged into the live object: structs and maps field by field,
//    keyed lists item by item (by their list-map keys), sets value by value, anything else replaced.
// 2. The applier now owns exactly the fields of its configuration. A field it owned before and left out
//    is removed from the object unless another manager owns it (or something below it).
// 3. A field whose value the merge changes and that another manager owns is a conflict (409) unless
//    `force`, which moves the field to the applier. Applying the value a field already has is no
//    conflict: the managers share it.
// 4. An object that has no managedFields yet is owned by `before-first-apply`; for the manager `kubectl`
//    the client-side apply annotation (last-applied-configuration) excuses conflicts on the fields it
//    lists with their live values, and is kept in step with the applied configuration.
//
// Defaults are not the applier's: the caller defaults the result afterwards, and a removed field that
// has a default comes back with it.

import { ApiError, type StatusCause } from '../errors.js';
import { jsonClone } from '../patch/json.js';
import type { Schema } from '../schema/dsl.js';
import { isObject } from '../types.js';
import { FieldSet, formatPath, type FieldNode, type FieldPath, type PathToken } from './field-set.js';
import { compareValues, fieldSetOf } from './fields.js';
import {
  beforeFirstApplyManager,
  capUpdateManagers,
  decodeManagedFields,
  sameManager,
  type ManagerEntry,
  type ManagerId,
} from './managers.js';
import {
  fieldSchema,
  fieldToken,
  itemKey,
  itemSchema,
  listMapTokens,
  setTokens,
  shapeOf,
} from './structure.js';

type JsonObject = Record<string, unknown>;

export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

/** The manager kubectl uses for `apply --server-side`; upstream migrates client-side apply for it only. */
export const kubectlManager = 'kubectl';

export interface ApplyRequest {
  /** The stored object, or undefined when the apply creates it. Its managedFields are read. */
  live: JsonObject | undefined;
  /** The applied configuration, already checked against the schema. */
  config: JsonObject;
  schema: Schema | undefined;
  /** Paths managed fields never track (identity metadata; status on the main resource). */
  ignore: FieldSet;
  manager: string;
  force: boolean;
  subresource?: string | undefined;
  /** `apps/v1`: the version the managers' entries are recorded at. */
  apiVersion: string;
}

export interface ApplyResult {
  /** Live object merged with the configuration, dropped fields removed; not defaulted; no managedFields. */
  object: JsonObject;
  /** Every manager after the apply; the applier's entry keeps its previous time (see stampApplier). */
  entries: ManagerEntry[];
  /** Whether the applier's set of fields differs from what it owned before. */
  applierChanged: boolean;
}

function badConfig(message: string): ApiError {
  return new ApiError('BadRequest', `failed to create typed patch object: ${message}`);
}

/** Keyed lists must give every item its key fields and each key once; sets each value once. */
function checkConfig(value: unknown, schema: Schema | undefined, path: PathToken[]): void {
  const shape = shapeOf(value, schema);
  switch (shape.type) {
    case 'leaf':
      return;
    case 'struct':
    case 'map':
      for (const [k, v] of Object.entries(shape.value))
        checkConfig(v, fieldSchema(schema, k), [...path, fieldToken(k)]);
      return;
    case 'listMap': {
      const seen = new Set<string>();
      shape.value.forEach((item, i) => {
        if (itemKey(item, shape.keys) === undefined) {
          const missing =
            shape.keys.find((k) => !isObject(item) || item[k] === undefined) ?? shape.keys[0] ?? '';
          throw badConfig(
            `${formatPath(path)}: element ${i}: associative list with keys has an element that omits key field ${JSON.stringify(missing)} (and doesn't have default value)`,
          );
        }
      });
      const tokens = listMapTokens(shape.value, shape.keys);
      tokens.forEach((t, i) => {
        if (seen.has(t)) throw badConfig(`${formatPath(path)}: duplicate entries for key ${formatPath([t])}`);
        seen.add(t);
        checkConfig(shape.value[i], itemSchema(schema), [...path, t]);
      });
      return;
    }
    case 'listSet': {
      const seen = new Set<string>();
      for (const t of setTokens(shape.value)) {
        if (seen.has(t)) throw badConfig(`${formatPath(path)}: duplicate entries for key ${formatPath([t])}`);
        seen.add(t);
      }
      return;
    }
  }
}

/**
 * Merged order of a list: the applied items in the applied order; an item only the live list has stays
 * right after the live item it followed (or first, when nothing applied comes before it).
 */
function mergedOrder(liveTokens: readonly PathToken[], appliedTokens: readonly PathToken[]): PathToken[] {
  const applied = new Set(appliedTokens);
  const start: PathToken[] = [];
  const after = new Map<PathToken, PathToken[]>();
  let anchor: PathToken | undefined;
  for (const t of liveTokens) {
    if (applied.has(t)) {
      anchor = t;
      continue;
    }
    if (anchor === undefined) start.push(t);
    else {
      const list = after.get(anchor) ?? [];
      list.push(t);
      after.set(anchor, list);
    }
  }
  const out = [...start];
  for (const t of appliedTokens) out.push(t, ...(after.get(t) ?? []));
  return out;
}

/** Merges an applied configuration into a live value (neither is modified). */
export function mergeApplied(live: unknown, applied: unknown, schema: Schema | undefined): unknown {
  if (applied === undefined) return live;
  const sa = shapeOf(applied, schema);
  const sl = shapeOf(live, schema);
  switch (sa.type) {
    case 'leaf':
      return jsonClone(applied);
    case 'struct':
    case 'map': {
      const out: JsonObject = sl.type === sa.type ? { ...sl.value } : {};
      for (const [k, v] of Object.entries(sa.value)) {
        if (v === undefined) continue;
        // An empty list where there is none stays absent: kube-apiserver's omitempty drops it, and
        // keeping it would make a removal by prune and the next apply disagree.
        if (Array.isArray(v) && v.length === 0 && out[k] === undefined) continue;
        out[k] = mergeApplied(out[k], v, fieldSchema(schema, k));
      }
      return out;
    }
    case 'listMap': {
      const items = itemSchema(schema);
      const aTokens = listMapTokens(sa.value, sa.keys);
      const liveItems = sl.type === 'listMap' ? sl.value : [];
      const lTokens = listMapTokens(liveItems, sa.keys);
      const liveBy = new Map<PathToken, unknown>();
      lTokens.forEach((t, i) => {
        if (!liveBy.has(t)) liveBy.set(t, liveItems[i]);
      });
      const appliedBy = new Map<PathToken, unknown>();
      aTokens.forEach((t, i) => appliedBy.set(t, sa.value[i]));
      return mergedOrder([...liveBy.keys()], aTokens).map((t) =>
        appliedBy.has(t) ? mergeApplied(liveBy.get(t), appliedBy.get(t), items) : liveBy.get(t),
      );
    }
    case 'listSet': {
      const liveItems = sl.type === 'listSet' ? sl.value : [];
      const byToken = new Map<PathToken, unknown>();
      const lTokens = setTokens(liveItems);
      lTokens.forEach((t, i) => byToken.set(t, liveItems[i]));
      const aTokens = setTokens(sa.value);
      aTokens.forEach((t, i) => byToken.set(t, sa.value[i]));
      return mergedOrder([...new Set(lTokens)], [...new Set(aTokens)]).map((t) => jsonClone(byToken.get(t)));
    }
  }
}

/**
 * Removes from `value` what `last` reaches and `keep` does not: a path the applier owned (or had owned
 * fields below) that neither its new configuration nor any other manager reaches any more.
 */
function prune(
  value: unknown,
  schema: Schema | undefined,
  last: FieldNode,
  keep: FieldNode | undefined,
): unknown {
  const shape = shapeOf(value, schema);
  switch (shape.type) {
    case 'leaf':
      return value;
    case 'struct':
    case 'map': {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(shape.value)) {
        const t = fieldToken(k);
        const l = last.child(t);
        if (l === undefined) {
          out[k] = v;
          continue;
        }
        const kept = keep?.child(t);
        if (kept === undefined) continue;
        out[k] = prune(v, fieldSchema(schema, k), l, kept);
      }
      return out;
    }
    case 'listMap':
    case 'listSet': {
      const tokens =
        shape.type === 'listMap' ? listMapTokens(shape.value, shape.keys) : setTokens(shape.value);
      const items = itemSchema(schema);
      const out: unknown[] = [];
      shape.value.forEach((item, i) => {
        const t = tokens[i] ?? '';
        const l = last.child(t);
        if (l === undefined) {
          out.push(item);
          return;
        }
        const kept = keep?.child(t);
        if (kept === undefined) return;
        out.push(shape.type === 'listMap' ? prune(item, items, l, kept) : item);
      });
      return out;
    }
  }
}

/** How kube-apiserver names a manager in conflict messages. */
export function describeManager(
  e: Pick<ManagerEntry, 'manager' | 'operation' | 'apiVersion' | 'subresource'>,
): string {
  let out = JSON.stringify(e.manager);
  if (e.subresource !== undefined && e.subresource !== '')
    out += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') out += ` using ${e.apiVersion}`;
  return out;
}

export interface FieldConflict {
  manager: string;
  path: FieldPath;
}

/** 409 Conflict in kube-apiserver's words, one cause per conflicting field. */
export function applyConflictError(conflicts: readonly FieldConflict[]): ApiError {
  const sorted = [...conflicts].sort((a, b) =>
    a.manager === b.manager ? 0 : a.manager < b.manager ? -1 : 1,
  );
  const causes: StatusCause[] = sorted.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${c.manager}`,
    field: formatPath(c.path),
  }));
  let message: string;
  const first = sorted[0];
  if (sorted.length === 1 && first !== undefined) {
    message = `Apply failed with 1 conflict: conflict with ${first.manager}: ${formatPath(first.path)}`;
  } else {
    const lines: string[] = [];
    let current: string | undefined;
    for (const c of sorted) {
      if (c.manager !== current) {
        lines.push(`conflicts with ${c.manager}:`);
        current = c.manager;
      }
      lines.push(`- ${formatPath(c.path)}`);
    }
    message = `Apply failed with ${sorted.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError('Conflict', message, { causes });
}

/** Keys sorted at every level, as Go's encoding/json writes maps. */
function sortedJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (isObject(x)) {
      const out: JsonObject = {};
      for (const k of Object.keys(x).sort()) out[k] = sort(x[k]);
      return out;
    }
    return x;
  };
  return JSON.stringify(sort(v));
}

function annotationsOf(obj: JsonObject | undefined): JsonObject | undefined {
  const meta = obj?.metadata;
  return isObject(meta) && isObject(meta.annotations) ? meta.annotations : undefined;
}

/** Fields of the last client-side apply that still have their last-applied values in the live object. */
function lastAppliedFields(
  live: JsonObject,
  schema: Schema | undefined,
  ignore: FieldSet,
): FieldSet | undefined {
  const raw = annotationsOf(live)?.[lastAppliedAnnotation];
  if (typeof raw !== 'string' || raw === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  const diff = compareValues(parsed, live, schema, ignore);
  return fieldSetOf(parsed, schema, ignore).difference(diff.changed).withoutSubtrees(diff.removed);
}

function withoutManagedFields(obj: JsonObject): JsonObject {
  const meta = obj.metadata;
  if (!isObject(meta) || meta.managedFields === undefined) return obj;
  const { managedFields: _mf, ...rest } = meta;
  return { ...obj, metadata: rest };
}

/** Merges `config` into `live` for `manager` and works out every manager's fields afterwards. */
export function applyConfiguration(req: ApplyRequest): ApplyResult {
  const { schema, ignore, config } = req;
  checkConfig(config, schema, []);
  const applied = fieldSetOf(config, schema, ignore);
  const live = req.live === undefined ? undefined : withoutManagedFields(req.live);

  let entries: ManagerEntry[] = [];
  if (req.live !== undefined && live !== undefined) {
    entries =
      decodeManagedFields(isObject(req.live.metadata) ? req.live.metadata.managedFields : undefined) ?? [];
    if (entries.length === 0) {
      entries = [
        {
          manager: beforeFirstApplyManager,
          operation: 'Update',
          apiVersion: req.apiVersion,
          fields: fieldSetOf(live, schema, ignore),
        },
      ];
    }
  }
  const applierId = { manager: req.manager, operation: 'Apply' as const, subresource: req.subresource };
  const previous = entries.find((e) => sameManager(e, applierId));
  const others = entries.filter((e) => e !== previous);

  let object = mergeApplied(live ?? {}, config, schema) as JsonObject;
  if (previous !== undefined && !previous.fields.isEmpty()) {
    let keep = applied;
    for (const e of others) keep = keep.union(e.fields);
    object = prune(object, schema, previous.fields.root, keep.root) as JsonObject;
  }

  const diff = compareValues(live, object, schema, ignore);
  const conflicts: { entry: ManagerEntry; fields: FieldSet }[] = [];
  for (const e of others) {
    const c = e.fields.intersection(diff.changed);
    if (!c.isEmpty()) conflicts.push({ entry: e, fields: c });
  }
  if (conflicts.length > 0 && !req.force) {
    const allowed =
      req.manager === kubectlManager && live !== undefined
        ? lastAppliedFields(live, schema, ignore)
        : undefined;
    const remaining: FieldConflict[] = [];
    for (const c of conflicts) {
      const left = allowed === undefined ? c.fields : c.fields.difference(allowed);
      for (const path of left.paths()) remaining.push({ manager: describeManager(c.entry), path });
    }
    if (remaining.length > 0) throw applyConflictError(remaining);
  }

  const next: ManagerEntry[] = [];
  for (const e of others) {
    const lost = conflicts.find((c) => c.entry === e)?.fields;
    const fields = (lost === undefined ? e.fields : e.fields.difference(lost)).withoutSubtrees(diff.removed);
    if (!fields.isEmpty()) next.push({ ...e, fields });
  }
  const applier: ManagerEntry = {
    manager: req.manager,
    operation: 'Apply',
    apiVersion: req.apiVersion,
    fields: applied,
  };
  if (previous?.time !== undefined) applier.time = previous.time;
  if (req.subresource !== undefined && req.subresource !== '') applier.subresource = req.subresource;
  next.push(applier);

  // kubectl's server-side apply keeps a client-side apply annotation in step, so a later client-side
  // apply computes its patch from what was applied last.
  const meta = object.metadata;
  if (
    req.manager === kubectlManager &&
    isObject(meta) &&
    isObject(meta.annotations) &&
    typeof meta.annotations[lastAppliedAnnotation] === 'string'
  ) {
    const cfg = jsonClone(config);
    const cfgAnnotations = annotationsOf(cfg);
    if (cfgAnnotations !== undefined) delete cfgAnnotations[lastAppliedAnnotation];
    const text = `${sortedJson(cfg)}\n`;
    if (text.length <= 256 * 1024) {
      object = {
        ...object,
        metadata: { ...meta, annotations: { ...meta.annotations, [lastAppliedAnnotation]: text } },
      };
    }
  }

  return {
    object,
    entries: capUpdateManagers(next),
    applierChanged: previous === undefined || !previous.fields.equals(applied),
  };
}

/** Sets the applier's time once the caller knows the apply changed the object or the applier's fields. */
export function stampApplier(entries: readonly ManagerEntry[], id: ManagerId, now: string): ManagerEntry[] {
  return entries.map((e) => (sameManager(e, id) ? { ...e, time: now } : e));
}
