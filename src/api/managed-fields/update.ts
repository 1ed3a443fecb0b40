// Managed fields of ordinary writes (create, update, non-apply patches, status and scale): the writer
// takes every field it changed or added (operation Update), other managers lose those fields, and
// fields that went away are nobody's any more. An ordinary write never conflicts.

import type { Schema } from '../schema/dsl.js';
import type { FieldSet } from './field-set.js';
import { compareValues } from './fields.js';
import { capUpdateManagers, sameManager, type ManagerEntry } from './managers.js';

export interface UpdateRequest {
  /** The managers before this write. */
  entries: readonly ManagerEntry[];
  /** The object before (undefined for a create) and after the write, both without managedFields. */
  before: Record<string, unknown> | undefined;
  after: Record<string, unknown>;
  schema: Schema | undefined;
  ignore: FieldSet;
  manager: string;
  subresource?: string | undefined;
  apiVersion: string;
  now: string;
}

export interface UpdateResult {
  entries: ManagerEntry[];
  /** False when the write changed no tracked field (the entries are then the ones given). */
  changed: boolean;
}

export function recordUpdate(req: UpdateRequest): UpdateResult {
  const { changed, removed } = compareValues(req.before, req.after, req.schema, req.ignore);
  if (changed.isEmpty() && removed.isEmpty()) return { entries: [...req.entries], changed: false };
  const id = {
    manager: req.manager,
    operation: 'Update' as const,
    subresource: req.subresource === '' ? undefined : req.subresource,
  };
  const next: ManagerEntry[] = [];
  let mine: ManagerEntry | undefined;
  for (const e of req.entries) {
    if (sameManager(e, id)) {
      mine = e;
      continue;
    }
    const fields = e.fields.difference(changed).withoutSubtrees(removed);
    if (!fields.isEmpty()) next.push({ ...e, fields });
  }
  if (changed.isEmpty()) {
    // Only removals: the writer's own entry loses them too, and keeps its time.
    if (mine !== undefined) {
      const fields = mine.fields.withoutSubtrees(removed);
      if (!fields.isEmpty()) next.push({ ...mine, fields });
    }
  } else {
    const fields = mine === undefined ? changed : mine.fields.withoutSubtrees(removed).union(changed);
    const entry: ManagerEntry = {
      manager: req.manager,
      operation: 'Update',
      apiVersion: req.apiVersion,
      time: req.now,
      fields,
    };
    if (id.subresource !== undefined) entry.subresource = id.subresource;
    next.push(entry);
  }
  return { entries: capUpdateManagers(next), changed: true };
}
