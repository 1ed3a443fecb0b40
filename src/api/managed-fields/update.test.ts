import { describe, expect, it } from 'vitest';
import { schemaFor } from '../schema/index.js';
import { formatPath } from './field-set.js';
import { untrackedFields } from './index.js';
import {
  capUpdateManagers,
  decodeManagedFields,
  encodeManagedFields,
  isResetRequest,
  managerName,
  validateManagedFields,
  type ManagerEntry,
} from './managers.js';
import { recordUpdate } from './update.js';
import { FieldSet } from './field-set.js';

const schema = schemaFor('v1', 'ConfigMap');
const ignore = untrackedFields({ statusIsSubresource: false });
type Obj = Record<string, any>;

const cm = (data: Obj, labels?: Obj): Obj => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'c', namespace: 'default', uid: 'u', ...(labels === undefined ? {} : { labels }) },
  data,
});

function update(entries: ManagerEntry[], before: Obj | undefined, after: Obj, manager: string, now = 't') {
  return recordUpdate({ entries, before, after, schema, ignore, manager, apiVersion: 'v1', now });
}

const paths = (entries: ManagerEntry[], manager: string) =>
  entries
    .find((e) => e.manager === manager)
    ?.fields.paths()
    .map(formatPath) ?? [];

describe('recordUpdate', () => {
  it('gives the creator every field it set, with "." on new maps', () => {
    const r = update([], undefined, cm({ a: '1' }, { app: 'web' }), 'kubectl-create');
    expect(encodeManagedFields(r.entries)).toEqual([
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'v1',
        time: 't',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:data': { '.': {}, 'f:a': {} },
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
        },
      },
    ]);
  });

  it('moves changed fields to the writer and forgets removed ones', () => {
    const created = update([], undefined, cm({ a: '1', b: '2' }), 'creator', 't1').entries;
    const r = update(created, cm({ a: '1', b: '2' }), cm({ a: '9', c: '3' }), 'editor', 't2');
    expect(paths(r.entries, 'creator')).toEqual(['.data']);
    expect(paths(r.entries, 'editor')).toEqual(['.data.a', '.data.c']);
    expect(r.entries.find((e) => e.manager === 'editor')?.time).toBe('t2');
  });

  it('changes nothing for a write that changes no tracked field', () => {
    const created = update([], undefined, cm({ a: '1' }), 'creator').entries;
    const before = cm({ a: '1' });
    const after = {
      ...cm({ a: '1' }),
      metadata: { ...before.metadata, resourceVersion: '9', generation: 3 },
    };
    const r = update(created, before, after, 'other');
    expect(r.changed).toBe(false);
    expect(r.entries).toEqual(created);
  });

  it('keeps at most ten Update managers, folding the oldest into ancient-changes', () => {
    let entries: ManagerEntry[] = [];
    let before: Obj | undefined;
    for (let i = 0; i < 12; i++) {
      const after = cm({ [`k${i}`]: 'v' });
      after.data = { ...(before?.data ?? {}), ...after.data };
      entries = update(
        entries,
        before,
        after,
        `m${i}`,
        `2024-01-01T00:00:${String(i).padStart(2, '0')}Z`,
      ).entries;
      before = after;
    }
    expect(entries.filter((e) => e.operation === 'Update')).toHaveLength(10);
    const ancient = entries.find((e) => e.manager === 'ancient-changes');
    expect(ancient?.fields.paths().map(formatPath)).toEqual(['.data', '.data.k0', '.data.k1', '.data.k2']);
    expect(entries.some((e) => e.manager === 'm0')).toBe(false);
    expect(entries.some((e) => e.manager === 'm11')).toBe(true);
  });
});

describe('managedFields entries', () => {
  it('round-trip through decode and encode, sorted Apply first then by time', () => {
    const raw = [
      {
        manager: 'b',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2024-01-01T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { 'f:x': {} } },
      },
      {
        manager: 'a',
        operation: 'Apply',
        apiVersion: 'v1',
        time: '2024-01-02T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { 'f:y': {} } },
        subresource: 'status',
      },
    ];
    expect(encodeManagedFields(decodeManagedFields(raw)!)).toEqual([raw[1], raw[0]]);
  });

  it('are unreadable (so the live ones are kept) when fieldsV1 is garbage', () => {
    expect(decodeManagedFields([{ operation: 'Update', fieldsV1: { bogus: 1 } }])).toBeUndefined();
    expect(decodeManagedFields('x')).toBeUndefined();
    expect(decodeManagedFields(undefined)).toEqual([]);
  });

  it('are validated like kube-apiserver does', () => {
    expect(validateManagedFields([{ manager: 'a', operation: 'Delete', fieldsType: 'FieldsV2' }])).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'metadata.managedFields[0].operation',
        message: 'Invalid value: "Delete": must be `Apply` or `Update`',
      },
      {
        reason: 'FieldValueInvalid',
        field: 'metadata.managedFields[0].fieldsType',
        message: 'Invalid value: "FieldsV2": must be `FieldsV1`',
      },
    ]);
    expect(validateManagedFields([{ manager: 'x'.repeat(129), operation: 'Apply' }])[0]?.reason).toBe(
      'FieldValueTooLong',
    );
    expect(validateManagedFields(undefined)).toEqual([]);
    expect(isResetRequest([{}])).toBe(true);
    expect(isResetRequest([])).toBe(false);
  });

  it('cap leaves ten or fewer Update managers alone', () => {
    const e: ManagerEntry = { manager: 'a', operation: 'Update', apiVersion: 'v1', fields: new FieldSet() };
    expect(capUpdateManagers([e])).toEqual([e]);
  });
});

describe('managerName', () => {
  it('prefers fieldManager, then the User-Agent up to its first slash, then unknown', () => {
    expect(managerName('kubectl-edit', 'kubectl/v1.35.2 (linux/amd64) kubernetes/abc')).toBe('kubectl-edit');
    expect(managerName(undefined, 'kubectl/v1.35.2 (linux/amd64) kubernetes/abc')).toBe('kubectl');
    expect(managerName('', 'node-fetch')).toBe('node-fetch');
    expect(managerName(undefined, '\u0001bad\u0007/1')).toBe('bad');
    expect(managerName(undefined, undefined)).toBe('unknown');
    expect(managerName(undefined, 'x'.repeat(300))).toHaveLength(128);
  });
});
