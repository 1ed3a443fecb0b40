import { describe, expect, it } from 'vitest';
import { isApiError } from '../errors.js';
import { schemaFor } from '../schema/index.js';
import { applyConfiguration, mergeApplied, stampApplier, type ApplyRequest } from './apply.js';
import { FieldSet, formatPath } from './field-set.js';
import { fieldSetOf } from './fields.js';
import { untrackedFields } from './index.js';
import { decodeManagedFields, encodeManagedFields, type ManagerEntry } from './managers.js';
import { recordUpdate } from './update.js';

const schema = schemaFor('apps/v1', 'Deployment');
const ignore = untrackedFields({ statusIsSubresource: true });
type Obj = Record<string, any>;

function deployment(spec: Obj = {}, meta: Obj = {}): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', ...meta },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx:1.27',
              ports: [{ containerPort: 80 }],
              env: [
                { name: 'A', value: '1' },
                { name: 'B', value: '2' },
              ],
            },
          ],
        },
      },
      ...spec,
    },
  };
}

/** Stores the entries on the object as kube-apiserver would (what the registry does after an apply). */
function withEntries(obj: Obj, entries: ManagerEntry[], applier = ''): Obj {
  const out = structuredClone(obj);
  const mf = encodeManagedFields(stampApplier(entries, { manager: applier, operation: 'Apply' }, 'now'));
  if (mf === undefined) delete out.metadata.managedFields;
  else out.metadata.managedFields = mf;
  return out;
}

function apply(
  live: Obj | undefined,
  config: Obj,
  manager: string,
  force = false,
  extra: Partial<ApplyRequest> = {},
) {
  const r = applyConfiguration({
    live,
    config,
    schema,
    ignore,
    manager,
    force,
    apiVersion: 'apps/v1',
    ...extra,
  });
  const object: Obj = r.object;
  return { ...r, object, stored: withEntries(r.object, r.entries, manager) };
}

function owned(obj: Obj, manager: string): string[] {
  const e = decodeManagedFields(obj.metadata.managedFields)?.find((m) => m.manager === manager);
  return e === undefined ? [] : e.fields.paths().map(formatPath);
}

function conflictOf(fn: () => unknown): { message: string; causes: unknown } {
  try {
    fn();
  } catch (err) {
    if (isApiError(err) && err.reason === 'Conflict')
      return { message: err.message, causes: err.details?.causes };
    throw err;
  }
  throw new Error('expected a conflict');
}

describe('applyConfiguration', () => {
  it('owns exactly the applied fields, in the upstream FieldsV1 shape', () => {
    const r = apply(undefined, deployment(), 'kubectl');
    expect(r.stored.metadata.managedFields).toEqual([
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: 'now',
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:spec': {
            'f:replicas': {},
            'f:selector': { 'f:matchLabels': { 'f:app': {} } },
            'f:template': {
              'f:metadata': { 'f:labels': { 'f:app': {} } },
              'f:spec': {
                'f:containers': {
                  'k:{"name":"web"}': {
                    '.': {},
                    'f:env': {
                      'k:{"name":"A"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                      'k:{"name":"B"}': { '.': {}, 'f:name': {}, 'f:value': {} },
                    },
                    'f:image': {},
                    'f:name': {},
                    'f:ports': {
                      'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ]);
    expect(r.applierChanged).toBe(true);
  });

  it('re-applying the same configuration changes nothing', () => {
    const first = apply(undefined, deployment(), 'kubectl').stored;
    const again = apply(first, deployment(), 'kubectl');
    expect(again.applierChanged).toBe(false);
    const { managedFields: _mf, ...meta } = first.metadata;
    expect(again.object).toEqual({ ...first, metadata: meta });
  });

  it('matches container ports by containerPort and the defaulted protocol', () => {
    const live = apply(undefined, deployment(), 'kubectl').stored;
    // The server defaulted the protocol; the configuration leaves it out.
    live.spec.template.spec.containers[0].ports[0].protocol = 'TCP';
    const r = apply(live, deployment(), 'kubectl');
    expect(r.object.spec.template.spec.containers[0].ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
  });

  it('refuses to change a field another manager owns, naming it and the field', () => {
    const live = apply(undefined, deployment(), 'kubectl').stored;
    const c = conflictOf(() => apply(live, deployment({ replicas: 5 }), 'other'));
    expect(c.message).toBe('Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas');
    expect(c.causes).toEqual([
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.spec.replicas' },
    ]);
  });

  it('names Update managers with their apiVersion and lists several conflicts', () => {
    const created = deployment();
    const upd = recordUpdate({
      entries: [],
      before: undefined,
      after: created,
      schema,
      ignore,
      manager: 'kubectl-client-side-apply',
      apiVersion: 'apps/v1',
      now: 't1',
    });
    const live = withEntries(created, upd.entries);
    const one = conflictOf(() => apply(live, deployment({ replicas: 5 }), 'other'));
    expect(one.message).toBe(
      'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas',
    );
    const config = deployment({ replicas: 5 });
    config.spec.template.spec.containers[0].image = 'nginx:2';
    const two = conflictOf(() => apply(live, config, 'other'));
    expect(two.message).toBe(
      'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n' +
        '- .spec.replicas\n' +
        '- .spec.template.spec.containers[name="web"].image',
    );
  });

  it('force takes the field over; the old owner keeps the rest', () => {
    const live = apply(undefined, deployment(), 'kubectl').stored;
    const r = apply(live, deployment({ replicas: 5 }), 'other', true);
    expect(r.object.spec.replicas).toBe(5);
    expect(owned(r.stored, 'kubectl')).not.toContain('.spec.replicas');
    expect(owned(r.stored, 'kubectl')).toContain('.spec.template.spec.containers[name="web"].image');
    expect(owned(r.stored, 'other')).toContain('.spec.replicas');
  });

  it('applying the value a field already has shares it without conflict', () => {
    const live = apply(undefined, deployment(), 'kubectl').stored;
    const r = apply(
      live,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 3 } },
      'other',
    );
    expect(owned(r.stored, 'kubectl')).toContain('.spec.replicas');
    expect(owned(r.stored, 'other')).toEqual(['.spec.replicas']);
    // Now neither may change it alone.
    expect(conflictOf(() => apply(r.stored, deployment({ replicas: 4 }), 'kubectl')).message).toContain(
      'conflict with "other": .spec.replicas',
    );
  });

  it('removes a field the applier dropped when nobody else owns it', () => {
    const live = apply(undefined, deployment({ paused: true }), 'kubectl').stored;
    expect(live.spec.paused).toBe(true);
    const r = apply(live, deployment(), 'kubectl');
    expect(r.object.spec.paused).toBeUndefined();
    expect(owned(r.stored, 'kubectl')).not.toContain('.spec.paused');
  });

  it('removes dropped keyed list items and map entries, and keeps what others own', () => {
    const live = apply(undefined, deployment(), 'kubectl').stored;
    // Someone else adds env C and a label with ordinary writes.
    const edited = structuredClone(live);
    edited.spec.template.spec.containers[0].env.push({ name: 'C', value: '3' });
    edited.metadata.labels = { tier: 'fe' };
    const upd = recordUpdate({
      entries: decodeManagedFields(live.metadata.managedFields)!,
      before: { ...live, metadata: { name: 'web', namespace: 'default' } },
      after: { ...edited, metadata: { name: 'web', namespace: 'default', labels: { tier: 'fe' } } },
      schema,
      ignore,
      manager: 'kubectl-edit',
      apiVersion: 'apps/v1',
      now: 't2',
    });
    const stored = {
      ...edited,
      metadata: { ...edited.metadata, managedFields: encodeManagedFields(upd.entries) },
    };
    expect(owned(stored, 'kubectl-edit')).toEqual([
      '.metadata.labels',
      '.metadata.labels.tier',
      '.spec.template.spec.containers[name="web"].env[name="C"]',
      '.spec.template.spec.containers[name="web"].env[name="C"].name',
      '.spec.template.spec.containers[name="web"].env[name="C"].value',
    ]);
    const config = deployment();
    config.spec.template.spec.containers[0].env = [{ name: 'A', value: '1' }];
    const r = apply(stored, config, 'kubectl');
    expect(r.object.spec.template.spec.containers[0].env).toEqual([
      { name: 'A', value: '1' },
      { name: 'C', value: '3' },
    ]);
    expect(r.object.metadata.labels).toEqual({ tier: 'fe' });
  });

  it('only disowns a dropped field that another manager also owns', () => {
    const live = apply(undefined, deployment({ paused: true }), 'kubectl').stored;
    const shared = apply(
      live,
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { paused: true } },
      'other',
    ).stored;
    const r = apply(shared, deployment(), 'kubectl');
    expect(r.object.spec.paused).toBe(true);
    expect(owned(r.stored, 'other')).toEqual(['.spec.paused']);
    expect(owned(r.stored, 'kubectl')).not.toContain('.spec.paused');
  });

  it('removes a whole struct when nothing in it is owned any more', () => {
    const live = apply(
      undefined,
      deployment({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2 } } }),
      'kubectl',
    ).stored;
    // Defaulting added maxUnavailable, which nobody owns.
    live.spec.strategy.rollingUpdate.maxUnavailable = '25%';
    const r = apply(live, deployment(), 'kubectl');
    expect(r.object.spec.strategy).toBeUndefined();
  });

  it('gives an object without managedFields to before-first-apply', () => {
    const c = conflictOf(() => apply(deployment(), deployment({ replicas: 9 }), 'kubectl'));
    expect(c.message).toBe(
      'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas',
    );
  });

  it('lets kubectl take over fields client-side apply last applied with their live values', () => {
    const lastApplied = JSON.stringify(deployment());
    const created = deployment(
      {},
      { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied } },
    );
    const upd = recordUpdate({
      entries: [],
      before: undefined,
      after: created,
      schema,
      ignore,
      manager: 'kubectl-client-side-apply',
      apiVersion: 'apps/v1',
      now: 't1',
    });
    const live = withEntries(created, upd.entries);
    const r = apply(live, deployment({ replicas: 4 }), 'kubectl');
    expect(r.object.spec.replicas).toBe(4);
    expect(owned(r.stored, 'kubectl-client-side-apply')).not.toContain('.spec.replicas');
    // The annotation follows the applied configuration.
    expect(
      JSON.parse(r.object.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).spec
        .replicas,
    ).toBe(4);
    // Another manager name gets no such allowance.
    expect(() => apply(live, deployment({ replicas: 4 }), 'someone')).toThrow(/conflict/);
  });

  it('refuses keyed list items without their key, and duplicate keys', () => {
    const noName = deployment();
    delete noName.spec.template.spec.containers[0].name;
    expect(() => apply(undefined, noName, 'kubectl')).toThrow(
      '.spec.template.spec.containers: element 0: associative list with keys has an element that omits key field "name"',
    );
    const dup = deployment();
    dup.spec.template.spec.containers.push({ name: 'web', image: 'x' });
    expect(() => apply(undefined, dup, 'kubectl')).toThrow('duplicate entries for key [name="web"]');
  });

  it('does not track identity metadata or status', () => {
    const config = {
      ...deployment({}, { uid: 'u', resourceVersion: '5', labels: { a: 'b' } }),
      status: { replicas: 1 },
    };
    expect(fieldSetOf(config, schema, ignore).toFieldsV1()['f:metadata']).toEqual({
      'f:labels': { 'f:a': {} },
    });
    expect(fieldSetOf(config, schema, ignore).toFieldsV1()['f:status']).toBeUndefined();
  });
});

describe('mergeApplied', () => {
  it('keeps live-only list items next to the item they followed and takes the applied order', () => {
    const ls = schemaFor('v1', 'Pod');
    const live = { spec: { containers: [{ name: 'a' }, { name: 'x' }, { name: 'b' }, { name: 'c' }] } };
    const applied = { spec: { containers: [{ name: 'c' }, { name: 'a', image: 'i' }] } };
    const out = mergeApplied(live, applied, ls) as Obj;
    expect(out.spec.containers).toEqual([
      { name: 'c' },
      { name: 'a', image: 'i' },
      { name: 'x' },
      { name: 'b' },
    ]);
  });

  it('replaces atomic lists and merges sets', () => {
    const ps = schemaFor('v1', 'Pod');
    const live = {
      metadata: { finalizers: ['a', 'b'] },
      spec: { containers: [{ name: 'a', args: ['1', '2'] }] },
    };
    const applied = { metadata: { finalizers: ['c'] }, spec: { containers: [{ name: 'a', args: ['3'] }] } };
    const out = mergeApplied(live, applied, ps) as Obj;
    expect(out.metadata.finalizers).toEqual(['a', 'b', 'c']);
    expect(out.spec.containers[0].args).toEqual(['3']);
  });
});

describe('FieldSet of a configuration', () => {
  it('is empty for an empty configuration', () => {
    expect(fieldSetOf({}, schema).isEmpty()).toBe(true);
    expect(new FieldSet().toFieldsV1()).toEqual({});
  });
});
