import { describe, expect, it } from 'vitest';
import type { KubeObject, OwnerReference } from '../../api/types.js';
import { VirtualClock } from '../../testkit/clock.js';
import { ControllerExpectations } from './expectations.js';
import { formatTime, sortPodsForDeletion } from './pods.js';
import {
  claimPods,
  planReplicas,
  podFromTemplate,
  reconcileReplicaSet,
  replicaSetStatus,
  slowStartBatches,
} from './reconcile.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const sec = (s: number): number => T0 + s * 1000;

function replicaSet(
  replicas: number,
  extra: { minReadySeconds?: number; status?: unknown; deleting?: boolean } = {},
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'rs-uid',
      resourceVersion: '5',
      generation: 2,
      ...(extra.deleting === true ? { deletionTimestamp: formatTime(T0) } : {}),
    },
    spec: {
      replicas,
      minReadySeconds: extra.minReadySeconds ?? 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web', tier: 'front' }, annotations: { note: 'x' } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
    status: extra.status ?? {},
  };
}

const ours: OwnerReference = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name: 'web',
  uid: 'rs-uid',
  controller: true,
  blockOwnerDeletion: true,
};
const theirs: OwnerReference = { ...ours, name: 'other', uid: 'other-uid' };

interface PodOpts {
  owner?: OwnerReference | null;
  labels?: Record<string, string>;
  phase?: string;
  readySince?: number;
  node?: string;
  restarts?: number;
  created?: number;
  deleting?: boolean;
  cost?: string;
  namespace?: string;
}

function pod(name: string, o: PodOpts = {}): KubeObject {
  const owner = o.owner === undefined ? ours : o.owner;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: o.namespace ?? 'shop',
      uid: `uid-${name}`,
      resourceVersion: '1',
      labels: o.labels ?? { app: 'web', tier: 'front' },
      creationTimestamp: formatTime(o.created ?? T0),
      ...(owner === null ? {} : { ownerReferences: [owner] }),
      ...(o.deleting === true ? { deletionTimestamp: formatTime(T0) } : {}),
      ...(o.cost === undefined
        ? {}
        : { annotations: { 'controller.kubernetes.io/pod-deletion-cost': o.cost } }),
    },
    spec: {
      containers: [{ name: 'c', image: 'busybox' }],
      ...(o.node === undefined ? {} : { nodeName: o.node }),
    },
    status: {
      phase: o.phase ?? (o.readySince === undefined ? 'Pending' : 'Running'),
      ...(o.readySince === undefined
        ? {}
        : { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(o.readySince) }] }),
      ...(o.restarts === undefined ? {} : { containerStatuses: [{ name: 'c', restartCount: o.restarts }] }),
    },
  };
}

const names = (pods: readonly KubeObject[]): string[] => pods.map((p) => p.metadata.name ?? '');

describe('claimPods', () => {
  const cases: {
    title: string;
    pods: KubeObject[];
    rs?: KubeObject;
    owned: string[];
    adopt: string[];
    release: string[];
  }[] = [
    {
      title: 'keeps owned matching pods',
      pods: [pod('a'), pod('b')],
      owned: ['a', 'b'],
      adopt: [],
      release: [],
    },
    {
      title: 'adopts matching orphans',
      pods: [pod('a', { owner: null })],
      owned: [],
      adopt: ['a'],
      release: [],
    },
    {
      title: 'releases owned pods whose labels stopped matching',
      pods: [pod('a', { labels: { app: 'debug' } })],
      owned: [],
      adopt: [],
      release: ['a'],
    },
    {
      title: 'ignores pods of another controller',
      pods: [pod('a', { owner: theirs })],
      owned: [],
      adopt: [],
      release: [],
    },
    {
      title: 'never adopts an orphan being deleted, nor one that does not match',
      pods: [pod('a', { owner: null, deleting: true }), pod('b', { owner: null, labels: { app: 'db' } })],
      owned: [],
      adopt: [],
      release: [],
    },
    {
      title: 'ignores finished and terminating pods, even owned ones',
      pods: [pod('a', { phase: 'Succeeded' }), pod('b', { phase: 'Failed' }), pod('c', { deleting: true })],
      owned: [],
      adopt: [],
      release: [],
    },
    {
      title: 'ignores pods of other namespaces',
      pods: [pod('a', { owner: null, namespace: 'other' })],
      owned: [],
      adopt: [],
      release: [],
    },
    {
      title: 'a ReplicaSet being deleted neither adopts nor releases',
      rs: replicaSet(1, { deleting: true }),
      pods: [pod('a'), pod('b', { owner: null }), pod('c', { labels: { app: 'x' } })],
      owned: ['a'],
      adopt: [],
      release: [],
    },
  ];
  it.each(cases)('$title', (c) => {
    const r = claimPods(c.rs ?? replicaSet(1), c.pods);
    expect({ owned: names(r.owned), adopt: names(r.adopt), release: names(r.release) }).toEqual({
      owned: c.owned,
      adopt: c.adopt,
      release: c.release,
    });
  });
});

describe('sortPodsForDeletion (which pod goes first)', () => {
  const cases: { rule: string; first: KubeObject; second: KubeObject; related?: KubeObject[] }[] = [
    { rule: 'unscheduled before scheduled', first: pod('a'), second: pod('b', { node: 'n1' }) },
    {
      rule: 'Pending before Unknown',
      first: pod('a', { node: 'n1', phase: 'Pending' }),
      second: pod('b', { node: 'n1', phase: 'Unknown' }),
    },
    {
      rule: 'Unknown before Running',
      first: pod('a', { node: 'n1', phase: 'Unknown' }),
      second: pod('b', { node: 'n1', phase: 'Running' }),
    },
    {
      rule: 'not ready before ready',
      first: pod('a', { node: 'n1', phase: 'Running' }),
      second: pod('b', { node: 'n1', readySince: sec(0) }),
    },
    {
      rule: 'lower pod-deletion-cost first',
      first: pod('a', { node: 'n1', readySince: sec(0), cost: '-5' }),
      second: pod('b', { node: 'n1', readySince: sec(10), cost: '10' }),
    },
    {
      rule: 'doubled-up node first',
      first: pod('a', { node: 'crowded', readySince: sec(0) }),
      second: pod('b', { node: 'quiet', readySince: sec(10) }),
      related: [pod('x', { node: 'crowded' }), pod('y', { node: 'crowded' })],
    },
    {
      rule: 'ready for a shorter time first',
      first: pod('a', { node: 'n1', readySince: sec(60) }),
      second: pod('b', { node: 'n1', readySince: sec(0) }),
    },
    {
      rule: 'more restarts first',
      first: pod('a', { node: 'n1', readySince: sec(0), restarts: 4 }),
      second: pod('b', { node: 'n1', readySince: sec(0), restarts: 1 }),
    },
    {
      rule: 'newer first',
      first: pod('a', { node: 'n1', readySince: sec(0), created: sec(-10) }),
      second: pod('b', { node: 'n1', readySince: sec(0), created: sec(-100) }),
    },
  ];
  it.each(cases)('$rule', ({ first, second, related }) => {
    const rel = [first, second, ...(related ?? [])];
    expect(names(sortPodsForDeletion([second, first], rel))).toEqual(['a', 'b']);
    expect(names(sortPodsForDeletion([first, second], rel))).toEqual(['a', 'b']);
  });
});

describe('planReplicas', () => {
  const cases: {
    title: string;
    replicas: number;
    pods: KubeObject[];
    burst?: number;
    create: number;
    delete: string[];
  }[] = [
    {
      title: 'nothing to do at the desired count',
      replicas: 2,
      pods: [pod('a'), pod('b')],
      create: 0,
      delete: [],
    },
    { title: 'creates the missing pods', replicas: 5, pods: [pod('a'), pod('b')], create: 3, delete: [] },
    { title: 'at most the burst per sync', replicas: 800, pods: [], create: 500, delete: [] },
    { title: 'a smaller burst', replicas: 10, pods: [], burst: 4, create: 4, delete: [] },
    {
      title: 'deletes the most expendable surplus pods',
      replicas: 1,
      pods: [
        pod('ready', { node: 'n1', readySince: sec(0) }),
        pod('pending'),
        pod('running', { node: 'n1', phase: 'Running' }),
      ],
      create: 0,
      delete: ['pending', 'running'],
    },
    { title: 'scales to zero', replicas: 0, pods: [pod('a'), pod('b')], create: 0, delete: ['a', 'b'] },
  ];
  it.each(cases)('$title', (c) => {
    const plan = planReplicas({
      rs: replicaSet(c.replicas),
      owned: c.pods,
      ...(c.burst === undefined ? {} : { burstReplicas: c.burst }),
    });
    expect({ create: plan.create, delete: names(plan.delete) }).toEqual({
      create: c.create,
      delete: c.delete,
    });
  });
});

describe('slowStartBatches', () => {
  it.each([
    [0, []],
    [1, [1]],
    [3, [1, 2]],
    [5, [1, 2, 2]],
    [10, [1, 2, 4, 3]],
    [500, [1, 2, 4, 8, 16, 32, 64, 128, 245]],
  ])('%i pods → %j', (count, batches) => {
    expect(slowStartBatches(count)).toEqual(batches);
  });
});

describe('podFromTemplate', () => {
  it('copies the template and points back at the ReplicaSet', () => {
    const p = podFromTemplate(replicaSet(1));
    expect(p.metadata).toEqual({
      generateName: 'web-',
      namespace: 'shop',
      labels: { app: 'web', tier: 'front' },
      annotations: { note: 'x' },
      ownerReferences: [ours],
    });
    expect(p.spec).toEqual({ containers: [{ name: 'c', image: 'busybox' }] });
  });
});

describe('replicaSetStatus', () => {
  it('counts replicas, fully labelled, ready and available pods and observes the generation', () => {
    const r = replicaSetStatus({
      rs: replicaSet(3),
      owned: [
        pod('a', { readySince: sec(0) }),
        pod('b', { labels: { app: 'web' } }),
        pod('c', { readySince: sec(5) }),
      ],
      now: sec(10),
    });
    expect(r).toEqual({
      status: {
        replicas: 3,
        fullyLabeledReplicas: 2,
        readyReplicas: 2,
        availableReplicas: 2,
        observedGeneration: 2,
      },
      changed: true,
      requeueAfterMs: undefined,
    });
  });

  it('counts a ready pod as available only after minReadySeconds, and says when to look again', () => {
    const rs = replicaSet(2, { minReadySeconds: 30 });
    const owned = [pod('a', { readySince: sec(0) }), pod('b', { readySince: sec(20) })];
    const early = replicaSetStatus({ rs, owned, now: sec(40) });
    expect(early.status.readyReplicas).toBe(2);
    expect(early.status.availableReplicas).toBe(1);
    expect(early.requeueAfterMs).toBe(10_001);
    const later = replicaSetStatus({ rs, owned, now: sec(51) });
    expect(later.status.availableReplicas).toBe(2);
    expect(later.requeueAfterMs).toBeUndefined();
  });

  it('reports no change when the stored status is current', () => {
    const rs = replicaSet(1, { status: { replicas: 1, fullyLabeledReplicas: 1, observedGeneration: 2 } });
    expect(replicaSetStatus({ rs, owned: [pod('a')], now: T0 }).changed).toBe(false);
    const stale = replicaSet(1, { status: { replicas: 1, fullyLabeledReplicas: 1, observedGeneration: 1 } });
    expect(replicaSetStatus({ rs: stale, owned: [pod('a')], now: T0 }).changed).toBe(true);
  });

  it('sets ReplicaFailure when creates fail, keeps its first message, and clears it after a clean sync', () => {
    const failed = replicaSetStatus({
      rs: replicaSet(3),
      owned: [pod('a')],
      now: sec(0),
      manageError: { message: 'quota' },
    });
    expect(failed.status.conditions).toEqual([
      {
        type: 'ReplicaFailure',
        status: 'True',
        lastTransitionTime: formatTime(sec(0)),
        reason: 'FailedCreate',
        message: 'quota',
      },
    ]);
    const rs = replicaSet(3, { status: failed.status });
    const again = replicaSetStatus({ rs, owned: [pod('a')], now: sec(9), manageError: { message: 'other' } });
    expect(again.status.conditions).toEqual(failed.status.conditions);
    expect(again.changed).toBe(false);
    const ok = replicaSetStatus({ rs, owned: [pod('a')], now: sec(20) });
    expect(ok.status.conditions).toBeUndefined();
    expect(ok.changed).toBe(true);
    const del = replicaSetStatus({
      rs: replicaSet(0),
      owned: [pod('a')],
      now: sec(0),
      manageError: { message: 'x' },
    });
    expect(del.status.conditions?.[0]?.reason).toBe('FailedDelete');
  });
});

describe('reconcileReplicaSet', () => {
  it('creates, adopts and releases in one plan; adopted pods count toward replicas', () => {
    const plan = reconcileReplicaSet({
      rs: replicaSet(3),
      pods: [pod('a'), pod('orphan', { owner: null }), pod('moved', { labels: { app: 'x' } })],
      now: T0,
      expectationsSatisfied: true,
    });
    expect(names(plan.owned)).toEqual(['a', 'orphan']);
    expect(names(plan.adopt)).toEqual(['orphan']);
    expect(names(plan.release)).toEqual(['moved']);
    expect(plan.create).toBe(1);
    expect(plan.status.status.replicas).toBe(2);
  });

  it('does not create or delete while expectations are unsatisfied or the ReplicaSet is being deleted', () => {
    for (const s of [
      { rs: replicaSet(3), expectationsSatisfied: false },
      { rs: replicaSet(3, { deleting: true }), expectationsSatisfied: true },
    ]) {
      const plan = reconcileReplicaSet({ ...s, pods: [], now: T0 });
      expect(plan.create).toBe(0);
      expect(plan.delete).toEqual([]);
    }
  });

  it('replaces finished and terminating pods', () => {
    const plan = reconcileReplicaSet({
      rs: replicaSet(2),
      pods: [pod('a', { phase: 'Failed' }), pod('b', { deleting: true }), pod('c')],
      now: T0,
      expectationsSatisfied: true,
    });
    expect(plan.create).toBe(1);
  });
});

describe('ControllerExpectations', () => {
  it('is satisfied once every expected create was observed', () => {
    const clock = new VirtualClock();
    const e = new ControllerExpectations(() => clock.now());
    expect(e.satisfied('ns/rs')).toBe(true);
    e.expectCreations('ns/rs', 2);
    expect(e.satisfied('ns/rs')).toBe(false);
    e.creationObserved('ns/rs');
    expect(e.satisfied('ns/rs')).toBe(false);
    e.creationObserved('ns/rs');
    expect(e.satisfied('ns/rs')).toBe(true);
  });

  it('counts each expected deletion once, whether seen terminating, deleted, or both', () => {
    const clock = new VirtualClock();
    const e = new ControllerExpectations(() => clock.now());
    e.expectDeletions('ns/rs', ['ns/a', 'ns/b']);
    e.deletionObserved('ns/rs', 'ns/a');
    e.deletionObserved('ns/rs', 'ns/a');
    e.deletionObserved('ns/rs', 'ns/unrelated');
    expect(e.satisfied('ns/rs')).toBe(false);
    e.deletionObserved('ns/rs', 'ns/b');
    expect(e.satisfied('ns/rs')).toBe(true);
  });

  it('gives up after five minutes so a lost event cannot stall the ReplicaSet', async () => {
    const clock = new VirtualClock();
    const e = new ControllerExpectations(() => clock.now());
    e.expectCreations('ns/rs', 1);
    expect(e.expiresInMs('ns/rs')).toBe(300_001);
    await clock.advance(300_000);
    expect(e.satisfied('ns/rs')).toBe(false);
    await clock.advance(1);
    expect(e.satisfied('ns/rs')).toBe(true);
  });
});
