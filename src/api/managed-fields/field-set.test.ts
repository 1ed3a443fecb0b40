import { describe, expect, it } from 'vitest';
import { FieldSet, FieldsV1Error, formatPath, keyToken, valueToken } from './field-set.js';

const fieldsV1 = {
  'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
  'f:spec': {
    'f:replicas': {},
    'f:template': {
      'f:spec': {
        'f:containers': {
          'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} },
        },
      },
    },
  },
};

describe('FieldSet', () => {
  it('reads and writes FieldsV1 unchanged, "." marking members that have children', () => {
    const set = FieldSet.fromFieldsV1(fieldsV1);
    expect(set.toFieldsV1()).toEqual(fieldsV1);
    expect(set.has(['f:metadata', 'f:labels'])).toBe(true);
    expect(set.has(['f:metadata'])).toBe(false);
    expect(set.has(['f:spec', 'f:replicas'])).toBe(true);
    expect(set.paths().map(formatPath)).toEqual([
      '.metadata.labels',
      '.metadata.labels.app',
      '.spec.replicas',
      '.spec.template.spec.containers[name="web"]',
      '.spec.template.spec.containers[name="web"].image',
      '.spec.template.spec.containers[name="web"].name',
    ]);
  });

  it('refuses what is not FieldsV1', () => {
    for (const bad of [
      [],
      'x',
      { 'x:y': {} },
      { 'f:a': 1 },
      { 'k:notjson': {} },
      { 'i:x': {} },
      { '.': { a: 1 } },
    ]) {
      expect(() => FieldSet.fromFieldsV1(bad), JSON.stringify(bad)).toThrow(FieldsV1Error);
    }
    expect(FieldSet.fromFieldsV1({}).isEmpty()).toBe(true);
  });

  it('unions, subtracts and intersects members', () => {
    const a = new FieldSet();
    a.insert(['f:spec', 'f:replicas']);
    a.insert(['f:spec', 'f:paused']);
    const b = new FieldSet();
    b.insert(['f:spec', 'f:replicas']);
    b.insert(['f:data', 'f:x']);
    expect(a.union(b).paths().map(formatPath)).toEqual(['.data.x', '.spec.paused', '.spec.replicas']);
    expect(a.difference(b).paths().map(formatPath)).toEqual(['.spec.paused']);
    expect(a.intersection(b).paths().map(formatPath)).toEqual(['.spec.replicas']);
    expect(a.equals(a.clone())).toBe(true);
    expect(a.equals(b)).toBe(false);
  });

  it('removes whole subtrees below removed paths', () => {
    const owned = FieldSet.fromFieldsV1(fieldsV1);
    const removed = new FieldSet();
    removed.insert(['f:spec', 'f:template', 'f:spec', 'f:containers', keyToken({ name: 'web' })]);
    expect(owned.withoutSubtrees(removed).paths().map(formatPath)).toEqual([
      '.metadata.labels',
      '.metadata.labels.app',
      '.spec.replicas',
    ]);
  });

  it('prints paths as kube-apiserver does in conflicts', () => {
    expect(
      formatPath([
        'f:spec',
        'f:template',
        'f:spec',
        'f:containers',
        keyToken({ name: 'web' }),
        'f:ports',
        keyToken({ protocol: 'TCP', containerPort: 80 }),
        'f:containerPort',
      ]),
    ).toBe('.spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].containerPort');
    expect(formatPath(['f:metadata', 'f:finalizers', valueToken('example.com/x')])).toBe(
      '.metadata.finalizers[="example.com/x"]',
    );
    expect(keyToken({ protocol: 'TCP', containerPort: 80 })).toBe('k:{"containerPort":80,"protocol":"TCP"}');
  });
});
