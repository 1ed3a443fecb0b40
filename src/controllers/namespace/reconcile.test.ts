import { describe, expect, it } from 'vitest';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import {
  reconcileNamespace,
  specFinalizers,
  toNamespaceContent,
  type NamespaceCondition,
  type NamespaceContent,
} from './reconcile.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
const Pod = info('v1', 'Pod');
const Deployment = info('apps/v1', 'Deployment');
const ConfigMap = info('v1', 'ConfigMap');

const now = '2024-01-01T00:05:00Z';

function namespace(
  extra: {
    deleting?: boolean;
    finalizers?: string[];
    phase?: string;
    conditions?: NamespaceCondition[];
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: 'shop',
      uid: 'ns-uid',
      resourceVersion: '10',
      ...(extra.deleting === false ? {} : { deletionTimestamp: '2024-01-01T00:00:00Z' }),
    },
    spec: { finalizers: extra.finalizers ?? ['kubernetes'] },
    status: {
      phase: extra.phase ?? 'Terminating',
      ...(extra.conditions === undefined ? {} : { conditions: extra.conditions }),
    },
  };
}
function content(i: ResourceInfo, name: string, extra: Partial<NamespaceContent> = {}): NamespaceContent {
  return { info: i, name, uid: `uid-${name}`, deletionTimestamp: undefined, finalizers: [], ...extra };
}
const settled: NamespaceCondition[] = [
  {
    type: 'NamespaceContentRemaining',
    status: 'False',
    reason: 'ContentRemoved',
    message: 'All content successfully removed',
    lastTransitionTime: '2024-01-01T00:01:00Z',
  },
  {
    type: 'NamespaceFinalizersRemaining',
    status: 'False',
    reason: 'ContentHasNoFinalizers',
    message: 'All content-preserving finalizers finished',
    lastTransitionTime: '2024-01-01T00:01:00Z',
  },
];

describe('reconcileNamespace', () => {
  it('leaves an active namespace alone', () => {
    const r = reconcileNamespace({
      namespace: namespace({ deleting: false, phase: 'Active' }),
      contents: [content(Pod, 'a')],
      now,
    });
    expect(r).toEqual({ actions: [], remaining: 1, state: 'active' });
  });

  it('deletes every object not already being deleted, in the background with a uid precondition', () => {
    const r = reconcileNamespace({
      namespace: namespace(),
      contents: [
        content(Pod, 'b'),
        content(Deployment, 'web'),
        content(Pod, 'a'),
        content(Pod, 'going', { deletionTimestamp: now }),
      ],
      now,
    });
    const deletes = r.actions.filter((a) => a.type === 'delete');
    expect(deletes.map((a) => `${a.target.info.kind}/${a.target.name}`)).toEqual([
      'Pod/a',
      'Pod/b',
      'Deployment/web',
    ]);
    expect(deletes[0]).toMatchObject({
      target: { namespace: 'shop', uid: 'uid-a' },
      propagationPolicy: 'Background',
    });
    expect(r.remaining).toBe(4);
    expect(r.actions.some((a) => a.type === 'finalize')).toBe(false);
  });

  it('reports what remains in the upstream conditions, with transition times', () => {
    const r = reconcileNamespace({
      namespace: namespace({ conditions: settled }),
      contents: [
        content(Pod, 'a', { deletionTimestamp: now, finalizers: ['example.com/drain'] }),
        content(Pod, 'b', {
          deletionTimestamp: now,
          finalizers: ['example.com/drain', 'foregroundDeletion'],
        }),
        content(Deployment, 'web', { deletionTimestamp: now }),
      ],
      now,
    });
    const update = r.actions.find((a) => a.type === 'updateStatus');
    expect(update?.namespace.status).toEqual({
      phase: 'Terminating',
      conditions: [
        {
          type: 'NamespaceContentRemaining',
          status: 'True',
          reason: 'SomeResourcesRemain',
          message:
            'Some resources are remaining: deployments.apps has 1 resource instances, pods has 2 resource instances',
          lastTransitionTime: now,
        },
        {
          type: 'NamespaceFinalizersRemaining',
          status: 'True',
          reason: 'SomeFinalizersRemain',
          message:
            'Some content in the namespace has finalizers remaining: example.com/drain in 2 resource instances, foregroundDeletion in 1 resource instances',
          lastTransitionTime: now,
        },
      ],
    });
    expect(update?.namespace.metadata.resourceVersion).toBe('10');
  });

  it('keeps the transition time when only the message changes, and writes nothing when nothing changes', () => {
    const remaining: NamespaceCondition[] = [
      {
        type: 'NamespaceContentRemaining',
        status: 'True',
        reason: 'SomeResourcesRemain',
        message: 'Some resources are remaining: pods has 2 resource instances',
        lastTransitionTime: '2024-01-01T00:01:00Z',
      },
      settled[1] as NamespaceCondition,
    ];
    const one = [content(Pod, 'a', { deletionTimestamp: now })];
    const r = reconcileNamespace({ namespace: namespace({ conditions: remaining }), contents: one, now });
    const update = r.actions.find((a) => a.type === 'updateStatus');
    expect((update?.namespace.status as { conditions: NamespaceCondition[] }).conditions[0]).toMatchObject({
      message: 'Some resources are remaining: pods has 1 resource instances',
      lastTransitionTime: '2024-01-01T00:01:00Z',
    });
    const stable = reconcileNamespace({ namespace: update?.namespace as KubeObject, contents: one, now });
    expect(stable.actions).toEqual([]);
  });

  it('sets phase Terminating first, and finalizes only on a later pass once empty', () => {
    const first = reconcileNamespace({
      namespace: namespace({ phase: 'Active', finalizers: ['kubernetes', 'example.com/keep'] }),
      contents: [],
      now,
    });
    expect(first.actions.map((a) => a.type)).toEqual(['updateStatus']);
    const updated = first.actions[0]?.type === 'updateStatus' ? first.actions[0].namespace : namespace();
    const second = reconcileNamespace({ namespace: updated, contents: [], now });
    expect(second.actions.map((a) => a.type)).toEqual(['finalize']);
    const fin = second.actions[0]?.type === 'finalize' ? second.actions[0].namespace : namespace();
    expect(specFinalizers(fin)).toEqual(['example.com/keep']);
    expect(fin.metadata.deletionTimestamp).toBeDefined();
  });

  it('does nothing once kubernetes is no longer in spec.finalizers', () => {
    const r = reconcileNamespace({
      namespace: namespace({ finalizers: ['example.com/keep'] }),
      contents: [content(ConfigMap, 'x')],
      now,
    });
    expect(r).toEqual({ actions: [], remaining: 1, state: 'finalized' });
  });
});

describe('toNamespaceContent', () => {
  it('reads name, uid, deletionTimestamp and finalizers', () => {
    expect(
      toNamespaceContent(Pod, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p', uid: 'u', deletionTimestamp: now, finalizers: ['f'] },
      }),
    ).toEqual({ info: Pod, name: 'p', uid: 'u', deletionTimestamp: now, finalizers: ['f'] });
  });
});
