// `metadata.managedFields` entries: reading, checking and writing them in upstream's shape and order.

import type { StatusCause } from '../errors.js';
import { isObject } from '../types.js';
import { FieldSet, FieldsV1Error } from './field-set.js';

export type ManagedFieldsOperation = 'Apply' | 'Update';

export interface ManagerEntry {
  manager: string;
  operation: ManagedFieldsOperation;
  apiVersion: string;
  time?: string;
  subresource?: string;
  fields: FieldSet;
}

/** Upstream's limit on manager names (and on the subresource name). */
export const fieldManagerMaxLength = 128;

/** How many Update entries an object keeps; older ones are folded into `ancient-changes`. */
export const maxUpdateManagers = 10;

export const ancientChangesManager = 'ancient-changes';

/** Who owned the fields of an object that had no managedFields when it was first applied to. */
export const beforeFirstApplyManager = 'before-first-apply';

/** Two entries are the same manager when name, operation and subresource agree. */
export interface ManagerId {
  manager: string;
  operation: ManagedFieldsOperation;
  subresource?: string | undefined;
}

export function sameManager(a: ManagerId, b: ManagerId): boolean {
  return (
    a.manager === b.manager && a.operation === b.operation && (a.subresource ?? '') === (b.subresource ?? '')
  );
}

/** `[{}]`: the documented way to clear managedFields. */
export function isResetRequest(raw: unknown): boolean {
  return Array.isArray(raw) && raw.length === 1 && isObject(raw[0]) && Object.keys(raw[0]).length === 0;
}

/** 422 causes for entries kube-apiserver would refuse (operation, fieldsType, name lengths). */
export function validateManagedFields(raw: unknown, path = 'metadata.managedFields'): StatusCause[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    return [{ reason: 'FieldValueTypeInvalid', field: path, message: 'Invalid value: must be a list' }];
  }
  const causes: StatusCause[] = [];
  raw.forEach((e: unknown, i) => {
    const at = `${path}[${i}]`;
    if (!isObject(e)) {
      causes.push({
        reason: 'FieldValueTypeInvalid',
        field: at,
        message: 'Invalid value: must be an object',
      });
      return;
    }
    if (e.operation !== 'Apply' && e.operation !== 'Update') {
      causes.push({
        reason: 'FieldValueInvalid',
        field: `${at}.operation`,
        message: `Invalid value: ${JSON.stringify(e.operation ?? '')}: must be \`Apply\` or \`Update\``,
      });
    }
    if (e.fieldsType !== undefined && e.fieldsType !== '' && e.fieldsType !== 'FieldsV1') {
      causes.push({
        reason: 'FieldValueInvalid',
        field: `${at}.fieldsType`,
        message: `Invalid value: ${JSON.stringify(e.fieldsType)}: must be \`FieldsV1\``,
      });
    }
    for (const name of ['manager', 'subresource'] as const) {
      const v = e[name];
      if (v === undefined) continue;
      if (typeof v !== 'string') {
        causes.push({
          reason: 'FieldValueTypeInvalid',
          field: `${at}.${name}`,
          message: 'Invalid value: must be a string',
        });
      } else if (v.length > fieldManagerMaxLength) {
        causes.push({
          reason: 'FieldValueTooLong',
          field: `${at}.${name}`,
          message: `Too long: may not be more than ${fieldManagerMaxLength} bytes`,
        });
      }
    }
  });
  return causes;
}

/**
 * Decodes managedFields; undefined when they cannot be read (then the live object's are used, as
 * kube-apiserver does). Entries that fail validateManagedFields should have been refused before.
 */
export function decodeManagedFields(raw: unknown): ManagerEntry[] | undefined {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return undefined;
  const out: ManagerEntry[] = [];
  try {
    for (const e of raw) {
      if (!isObject(e)) return undefined;
      const operation = e.operation;
      if (operation !== 'Apply' && operation !== 'Update') return undefined;
      const entry: ManagerEntry = {
        manager: typeof e.manager === 'string' ? e.manager : '',
        operation,
        apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
        fields:
          e.fieldsV1 === undefined || e.fieldsV1 === null
            ? new FieldSet()
            : FieldSet.fromFieldsV1(e.fieldsV1),
      };
      if (typeof e.time === 'string' && e.time !== '') entry.time = e.time;
      if (typeof e.subresource === 'string' && e.subresource !== '') entry.subresource = e.subresource;
      // Duplicates collapse into one entry per manager, as upstream's map of managers does.
      const same = out.find((o) => sameManager(o, entry));
      if (same !== undefined) {
        same.fields = same.fields.union(entry.fields);
        continue;
      }
      out.push(entry);
    }
  } catch (err) {
    if (err instanceof FieldsV1Error) return undefined;
    throw err;
  }
  return out;
}

function compare(a: string | undefined, b: string | undefined): number {
  const x = a ?? '';
  const y = b ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Upstream's order: by operation (Apply first), then time, manager, apiVersion and subresource. */
export function sortEntries(entries: readonly ManagerEntry[]): ManagerEntry[] {
  return [...entries].sort(
    (p, q) =>
      compare(p.operation, q.operation) ||
      compare(p.time, q.time) ||
      compare(p.manager, q.manager) ||
      compare(p.apiVersion, q.apiVersion) ||
      compare(p.subresource, q.subresource),
  );
}

/** The wire form; undefined when there is nothing to record (the field is then left out). */
export function encodeManagedFields(entries: readonly ManagerEntry[]): unknown[] | undefined {
  const kept = sortEntries(entries.filter((e) => !e.fields.isEmpty()));
  if (kept.length === 0) return undefined;
  return kept.map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    ...(e.time === undefined ? {} : { time: e.time }),
    fieldsType: 'FieldsV1',
    fieldsV1: e.fields.toFieldsV1(),
    ...(e.subresource === undefined ? {} : { subresource: e.subresource }),
  }));
}

/** Folds the oldest Update entries into `ancient-changes` so that at most maxUpdateManagers remain. */
export function capUpdateManagers(entries: readonly ManagerEntry[]): ManagerEntry[] {
  const updates = entries.filter((e) => e.operation === 'Update');
  if (updates.length <= maxUpdateManagers) return [...entries];
  // The bucket (if any) and the oldest entries merge into one, which leaves maxUpdateManagers entries.
  const bucket = updates.find((e) => e.manager === ancientChangesManager && e.subresource === undefined);
  const others = updates.filter((e) => e !== bucket).sort((p, q) => compare(p.time, q.time));
  const fold = others.slice(0, updates.length - maxUpdateManagers + (bucket === undefined ? 1 : 0));
  const folded = new Set<ManagerEntry>(fold);
  if (bucket !== undefined) folded.add(bucket);
  let fields = new FieldSet();
  for (const e of folded) fields = fields.union(e.fields);
  const newest = fold[fold.length - 1];
  const merged: ManagerEntry = {
    manager: ancientChangesManager,
    operation: 'Update',
    apiVersion: newest?.apiVersion ?? bucket?.apiVersion ?? '',
    fields,
  };
  const time = newest?.time ?? bucket?.time;
  if (time !== undefined) merged.time = time;
  return [...entries.filter((e) => !folded.has(e)), merged];
}

/**
 * The manager name of an ordinary write: the `fieldManager` parameter, else the User-Agent up to its
 * first `/` with unprintable characters dropped (`kubectl/v1.35.2 (linux/amd64)` → `kubectl`), else
 * `unknown`.
 */
export function managerName(fieldManager: string | undefined, userAgent: string | undefined): string {
  if (fieldManager !== undefined && fieldManager !== '') return fieldManager;
  const prefix = (userAgent ?? '').split('/')[0] ?? '';
  let out = '';
  for (const ch of prefix) {
    if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) continue;
    if (out.length + ch.length > fieldManagerMaxLength) break;
    out += ch;
  }
  return out === '' ? 'unknown' : out;
}
