import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { formatTime } from '../replicaset/pods.js';
import { computePodTemplateHash } from './hash.js';
import {
  collisionStatus,
  failedCreateStatus,
  reconcileDeployment,
  type DeploymentAction,
  type DeploymentCondition,
  type DeploymentStatus,
} from './reconcile.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const at = (s: number): number => T0 + s * 1000;

interface DeployOpts {
  replicas?: number;
  image?: string;
  generation?: number;
  strategy?: Record<string, unknown>;
  paused?: boolean;
  status?: DeploymentStatus;
  annotations?: Record<string, string>;
  revisionHistoryLimit?: number;
  progressDeadlineSeconds?: number;
  minReadySeconds?: number;
}

function template(image: string): Record<string, unknown> {
  return { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image }] } };
}

function deployment(o: DeployOpts = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'd-uid',
      resourceVersion: '7',
      generation: o.generation ?? 1,
      ...(o.annotations === undefined ? {} : { annotations: o.annotations }),
    },
    spec: {
      replicas: o.replicas ?? 3,
      selector: { matchLabels: { app: 'web' } },
      template: template(o.image ?? 'nginx:1'),
      strategy: o.strategy ?? {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      },
      revisionHistoryLimit: o.revisionHistoryLimit ?? 10,
      progressDeadlineSeconds: o.progressDeadlineSeconds ?? 600,
      ...(o.minReadySeconds === undefined ? {} : { minReadySeconds: o.minReadySeconds }),
      ...(o.paused === true ? { paused: true } : {}),
    },
    status: o.status ?? {},
  };
}

interface RsOpts {
  image?: string;
  replicas: number;
  available?: number;
  statusReplicas?: number;
  revision: number;
  desired?: number;
  max?: number;
  created?: number;
  generation?: number;
  observedGeneration?: number;
  conditions?: unknown[];
  annotations?: Record<string, string>;
}

function replicaSet(o: RsOpts): KubeObject {
  const image = o.image ?? 'nginx:1';
  const hash = computePodTemplateHash(template(image));
  const t = template(image) as { metadata: { labels: Record<string, string> } };
  t.metadata.labels['pod-template-hash'] = hash;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${hash}`,
      namespace: 'shop',
      uid: `uid-${hash}`,
      resourceVersion: '3',
      generation: o.generation ?? 1,
      creationTimestamp: formatTime(at(o.created ?? -1000)),
      labels: { app: 'web', 'pod-template-hash': hash },
      annotations: {
        'deployment.kubernetes.io/revision': String(o.revision),
        'deployment.kubernetes.io/desired-replicas': String(o.desired ?? 3),
        'deployment.kubernetes.io/max-replicas': String(o.max ?? 4),
        ...(o.annotations ?? {}),
      },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: 'web',
          uid: 'd-uid',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } },
      template: t,
      minReadySeconds: 0,
    },
    status: {
      replicas: o.statusReplicas ?? o.replicas,
      readyReplicas: o.available ?? o.replicas,
      availableReplicas: o.available ?? o.replicas,
      observedGeneration: o.observedGeneration ?? o.generation ?? 1,
      ...(o.conditions === undefined ? {} : { conditions: o.conditions }),
    },
  };
}

const byType = <T extends DeploymentAction['type']>(actions: DeploymentAction[], type: T) =>
  actions.filter((a): a is Extract<DeploymentAction, { type: T }> => a.type === type);

function statusOf(actions: DeploymentAction[]): DeploymentStatus | undefined {
  return byType(actions, 'updateStatus')[0]?.status;
}

function cond(status: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

/** "name: replicas" of every ReplicaSet write, in order, with its event message. */
function scaling(actions: DeploymentAction[]): string[] {
  return actions
    .filter((a) => a.type === 'createReplicaSet' || a.type === 'updateReplicaSet')
    .map((a) => {
      const rs = (a as { replicaSet: KubeObject }).replicaSet;
      const ev = (a as { event?: { message: string } }).event?.message;
      return `${a.type === 'createReplicaSet' ? 'create' : 'update'} ${(rs.spec as { replicas: number }).replicas}${ev === undefined ? '' : ` (${ev})`}`;
    });
}

const hash1 = computePodTemplateHash(template('nginx:1'));
const hash2 = computePodTemplateHash(template('nginx:2'));

describe('reconcileDeployment: a new Deployment', () => {
  const plan = reconcileDeployment({
    deployment: deployment({
      annotations: {
        'kubernetes.io/change-cause': 'first',
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
      },
    }),
    replicaSets: [],
    pods: [],
    now: T0,
  });

  it('creates web-<hash> with the hash in selector, labels and template, owned by the Deployment', () => {
    const [create] = byType(plan.actions, 'createReplicaSet');
    expect(create?.replicaSet).toEqual({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `web-${hash1}`,
        namespace: 'shop',
        labels: { app: 'web', 'pod-template-hash': hash1 },
        annotations: {
          'kubernetes.io/change-cause': 'first',
          'deployment.kubernetes.io/revision': '1',
          'deployment.kubernetes.io/desired-replicas': '3',
          'deployment.kubernetes.io/max-replicas': '4',
        },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'web',
            uid: 'd-uid',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: 3,
        minReadySeconds: 0,
        selector: { matchLabels: { app: 'web', 'pod-template-hash': hash1 } },
        template: {
          metadata: { labels: { app: 'web', 'pod-template-hash': hash1 } },
          spec: { containers: [{ name: 'c', image: 'nginx:1' }] },
        },
      },
    });
    expect(create?.event).toEqual({
      type: 'Normal',
      reason: 'ScalingReplicaSet',
      message: `Scaled up replica set web-${hash1} from 0 to 3`,
    });
    expect(plan.newReplicaSetName).toBe(`web-${hash1}`);
  });

  it('records revision 1 on the Deployment and reports NewReplicaSetCreated, not yet available', () => {
    expect(byType(plan.actions, 'patchDeploymentAnnotations')[0]?.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '1',
    });
    const status = statusOf(plan.actions);
    expect(status).toMatchObject({ observedGeneration: 1, unavailableReplicas: 3 });
    expect(status?.replicas).toBeUndefined();
    expect(cond(status, 'Progressing')).toEqual({
      type: 'Progressing',
      status: 'True',
      reason: 'NewReplicaSetCreated',
      message: `Created new replica set "web-${hash1}"`,
      lastUpdateTime: formatTime(T0),
      lastTransitionTime: formatTime(T0),
    });
    expect(cond(status, 'Available')).toMatchObject({
      status: 'False',
      reason: 'MinimumReplicasUnavailable',
    });
  });
});

describe('reconcileDeployment: steady state and progress', () => {
  it('reports a complete rollout, then has nothing to do', () => {
    const d = deployment({
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      status: {
        observedGeneration: 1,
        replicas: 3,
        updatedReplicas: 3,
        readyReplicas: 2,
        availableReplicas: 2,
        unavailableReplicas: 1,
        conditions: [
          {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
            lastUpdateTime: formatTime(at(-60)),
            lastTransitionTime: formatTime(at(-60)),
          },
          {
            type: 'Progressing',
            status: 'True',
            reason: 'ReplicaSetUpdated',
            message: 'x',
            lastUpdateTime: formatTime(at(-30)),
            lastTransitionTime: formatTime(at(-60)),
          },
        ],
      },
    });
    const plan = reconcileDeployment({
      deployment: d,
      replicaSets: [replicaSet({ replicas: 3, revision: 1 })],
      pods: [],
      now: T0,
    });
    // The completed rollout marks its ReplicaSet (the revision automatic rollback returns to).
    expect(plan.actions.map((a) => a.type)).toEqual(['updateReplicaSet', 'updateStatus']);
    expect(
      byType(plan.actions, 'updateReplicaSet')[0]?.replicaSet.metadata.annotations?.[
        'flotilla.dev/fully-available'
      ],
    ).toBe('true');
    const status = statusOf(plan.actions) as DeploymentStatus;
    expect(status).toMatchObject({ replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    expect(status.unavailableReplicas).toBeUndefined();
    expect(cond(status, 'Progressing')).toEqual({
      type: 'Progressing',
      status: 'True',
      reason: 'NewReplicaSetAvailable',
      message: `ReplicaSet "web-${hash1}" has successfully progressed.`,
      lastUpdateTime: formatTime(T0),
      lastTransitionTime: formatTime(at(-60)),
    });
    // The Available condition did not change, so its times stay.
    expect(cond(status, 'Available')?.lastTransitionTime).toBe(formatTime(at(-60)));

    const again = reconcileDeployment({
      deployment: { ...d, status },
      replicaSets: [
        replicaSet({ replicas: 3, revision: 1, annotations: { 'flotilla.dev/fully-available': 'true' } }),
      ],
      pods: [],
      now: at(100),
    });
    expect(again.actions).toEqual([]);
    expect(again.requeueAfterMs).toBeUndefined();
  });

  it.each([
    {
      title: 'within the deadline: looks again when it would pass',
      lastUpdate: -100,
      reason: 'ReplicaSetUpdated',
      requeue: 501_000,
    },
    {
      title: 'past the deadline: ProgressDeadlineExceeded',
      lastUpdate: -601,
      reason: 'ProgressDeadlineExceeded',
      requeue: undefined,
    },
  ])('a stuck rollout $title', ({ lastUpdate, reason, requeue }) => {
    const progressing: DeploymentCondition = {
      type: 'Progressing',
      status: 'True',
      reason: 'ReplicaSetUpdated',
      message: `ReplicaSet "web-${hash2}" is progressing.`,
      lastUpdateTime: formatTime(at(lastUpdate)),
      lastTransitionTime: formatTime(at(-900)),
    };
    const available: DeploymentCondition = {
      type: 'Available',
      status: 'True',
      reason: 'MinimumReplicasAvailable',
      message: 'Deployment has minimum availability.',
      lastUpdateTime: formatTime(at(-900)),
      lastTransitionTime: formatTime(at(-900)),
    };
    const d = deployment({
      image: 'nginx:2',
      generation: 2,
      annotations: { 'deployment.kubernetes.io/revision': '2' },
      status: {
        observedGeneration: 2,
        replicas: 4,
        updatedReplicas: 1,
        readyReplicas: 3,
        availableReplicas: 3,
        unavailableReplicas: 1,
        conditions: [available, progressing],
      },
    });
    const plan = reconcileDeployment({
      deployment: d,
      replicaSets: [
        replicaSet({ replicas: 3, revision: 1 }),
        replicaSet({ image: 'nginx:2', replicas: 1, available: 0, revision: 2, created: -10 }),
      ],
      pods: [],
      now: T0,
    });
    expect(plan.requeueAfterMs).toBe(requeue);
    if (reason === 'ReplicaSetUpdated') {
      expect(plan.actions).toEqual([]);
    } else {
      expect(cond(statusOf(plan.actions), 'Progressing')).toMatchObject({
        status: 'False',
        reason,
        message: `ReplicaSet "web-${hash2}" has timed out progressing.`,
      });
    }
  });

  it('copies a ReplicaSet failure (quota) into the Deployment conditions', () => {
    const failure = {
      type: 'ReplicaFailure',
      status: 'True',
      reason: 'FailedCreate',
      message: 'exceeded quota',
      lastTransitionTime: formatTime(at(-5)),
    };
    const plan = reconcileDeployment({
      deployment: deployment({ annotations: { 'deployment.kubernetes.io/revision': '1' } }),
      replicaSets: [
        replicaSet({ replicas: 3, statusReplicas: 1, available: 1, revision: 1, conditions: [failure] }),
      ],
      pods: [],
      now: T0,
    });
    expect(cond(statusOf(plan.actions), 'ReplicaFailure')).toEqual({
      type: 'ReplicaFailure',
      status: 'True',
      reason: 'FailedCreate',
      message: 'exceeded quota',
      lastUpdateTime: formatTime(at(-5)),
      lastTransitionTime: formatTime(at(-5)),
    });
  });
});

describe('reconcileDeployment: scaling', () => {
  it.each([
    { replicas: 5, expected: ['update 5 (Scaled up replica set web-HASH from 3 to 5)'], max: '7' },
    { replicas: 1, expected: ['update 1 (Scaled down replica set web-HASH from 3 to 1)'], max: '2' },
  ])(
    'spec.replicas 3 → $replicas scales the ReplicaSet and its annotations',
    ({ replicas, expected, max }) => {
      const plan = reconcileDeployment({
        deployment: deployment({
          replicas,
          generation: 2,
          annotations: { 'deployment.kubernetes.io/revision': '1' },
        }),
        replicaSets: [replicaSet({ replicas: 3, revision: 1 })],
        pods: [],
        now: T0,
      });
      expect(scaling(plan.actions)).toEqual(expected.map((e) => e.replace('HASH', hash1)));
      const [update] = byType(plan.actions, 'updateReplicaSet');
      expect(update?.replicaSet.metadata.annotations).toMatchObject({
        'deployment.kubernetes.io/desired-replicas': String(replicas),
        'deployment.kubernetes.io/max-replicas': max,
      });
      expect(update?.replicaSet.metadata.resourceVersion).toBe('3');
    },
  );

  it('scaling a paused Deployment works; its template change waits; Progressing says paused', () => {
    const plan = reconcileDeployment({
      deployment: deployment({
        replicas: 4,
        image: 'nginx:2',
        paused: true,
        annotations: { 'deployment.kubernetes.io/revision': '1' },
      }),
      replicaSets: [replicaSet({ replicas: 3, revision: 1 })],
      pods: [],
      now: T0,
    });
    expect(byType(plan.actions, 'createReplicaSet')).toEqual([]);
    expect(scaling(plan.actions)).toEqual([`update 4 (Scaled up replica set web-${hash1} from 3 to 4)`]);
    expect(cond(statusOf(plan.actions), 'Progressing')).toMatchObject({
      status: 'Unknown',
      reason: 'DeploymentPaused',
      message: 'Deployment is paused',
    });
  });
});

describe('reconcileDeployment: template change', () => {
  const old = replicaSet({ replicas: 3, revision: 1 });
  const changed = deployment({
    image: 'nginx:2',
    generation: 2,
    annotations: { 'deployment.kubernetes.io/revision': '1', 'kubernetes.io/change-cause': 'bump to 2' },
  });

  it('RollingUpdate: creates the new ReplicaSet at the surge (revision 2, change-cause copied); old stays', () => {
    const plan = reconcileDeployment({ deployment: changed, replicaSets: [old], pods: [], now: T0 });
    expect(scaling(plan.actions)).toEqual([`create 1 (Scaled up replica set web-${hash2} from 0 to 1)`]);
    const rs = byType(plan.actions, 'createReplicaSet')[0]?.replicaSet;
    expect(rs?.metadata.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '2',
      'kubernetes.io/change-cause': 'bump to 2',
    });
    expect(
      byType(plan.actions, 'patchDeploymentAnnotations')[0]?.annotations['deployment.kubernetes.io/revision'],
    ).toBe('2');
  });

  it('RollingUpdate: once the new pod is available, an old one goes', () => {
    const plan = reconcileDeployment({
      deployment: changed,
      replicaSets: [old, replicaSet({ image: 'nginx:2', replicas: 1, revision: 2, created: -1 })],
      pods: [],
      now: T0,
    });
    expect(scaling(plan.actions)).toEqual([
      'update 1', // the new ReplicaSet gets the Deployment's change-cause
      `update 2 (Scaled down replica set web-${hash1} from 3 to 2)`,
    ]);
    expect(byType(plan.actions, 'updateReplicaSet')[0]?.replicaSet.metadata.annotations).toMatchObject({
      'kubernetes.io/change-cause': 'bump to 2',
    });
  });

  it('Recreate: old ReplicaSets to zero first, no new one yet', () => {
    const plan = reconcileDeployment({
      deployment: { ...changed, spec: { ...(changed.spec as object), strategy: { type: 'Recreate' } } },
      replicaSets: [old],
      pods: [],
      now: T0,
    });
    expect(scaling(plan.actions)).toEqual([`update 0 (Scaled down replica set web-${hash1} from 3 to 0)`]);
  });

  it('Recreate: waits while an old pod still runs, then creates the new ReplicaSet at full size', () => {
    const recreate = { ...changed, spec: { ...(changed.spec as object), strategy: { type: 'Recreate' } } };
    const drained = replicaSet({ replicas: 0, statusReplicas: 0, available: 0, revision: 1 });
    const oldPod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'p',
        namespace: 'shop',
        deletionTimestamp: formatTime(T0),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'x',
            uid: drained.metadata.uid ?? '',
            controller: true,
          },
        ],
      },
      status: { phase: 'Running' },
    };
    const waiting = reconcileDeployment({
      deployment: recreate,
      replicaSets: [drained],
      pods: [oldPod],
      now: T0,
    });
    expect(byType(waiting.actions, 'createReplicaSet')).toEqual([]);
    const go = reconcileDeployment({ deployment: recreate, replicaSets: [drained], pods: [], now: T0 });
    expect(scaling(go.actions)).toEqual([`create 3 (Scaled up replica set web-${hash2} from 0 to 3)`]);
  });

  it('going back to an old template reuses its ReplicaSet with revision max+1 and keeps its history', () => {
    const plan = reconcileDeployment({
      deployment: deployment({ generation: 3, annotations: { 'deployment.kubernetes.io/revision': '2' } }),
      replicaSets: [
        replicaSet({ replicas: 0, statusReplicas: 0, available: 0, revision: 1, created: -100 }),
        replicaSet({ image: 'nginx:2', replicas: 3, revision: 2, created: -10 }),
      ],
      pods: [],
      now: T0,
    });
    expect(byType(plan.actions, 'createReplicaSet')).toEqual([]);
    const first = byType(plan.actions, 'updateReplicaSet')[0];
    expect(first?.replicaSet.metadata.name).toBe(`web-${hash1}`);
    expect(first?.replicaSet.metadata.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '3',
      'deployment.kubernetes.io/revision-history': '1',
    });
    expect(scaling(plan.actions)).toContain(`update 1 (Scaled up replica set web-${hash1} from 0 to 1)`);
  });
});

describe('reconcileDeployment: history', () => {
  it('deletes old ReplicaSets beyond revisionHistoryLimit once the rollout is complete', () => {
    const olds = [1, 2, 3, 4].map((r) => ({
      ...replicaSet({ replicas: 0, statusReplicas: 0, available: 0, revision: r, image: `nginx:old${r}` }),
    }));
    const current = replicaSet({ replicas: 3, revision: 5 });
    const d = deployment({
      revisionHistoryLimit: 2,
      annotations: { 'deployment.kubernetes.io/revision': '5' },
      status: {
        observedGeneration: 1,
        replicas: 3,
        updatedReplicas: 3,
        readyReplicas: 3,
        availableReplicas: 3,
      },
    });
    const plan = reconcileDeployment({ deployment: d, replicaSets: [...olds, current], pods: [], now: T0 });
    expect(byType(plan.actions, 'deleteReplicaSet').map((a) => a.name)).toEqual([
      olds[0]?.metadata.name,
      olds[1]?.metadata.name,
    ]);
  });
});

describe('status helpers for failed writes', () => {
  it('failedCreateStatus reports ReplicaSetCreateError; collisionStatus bumps collisionCount', () => {
    const d = deployment();
    const failed = failedCreateStatus(d, 'web-abc', 'quota exceeded', T0);
    expect(failed.message).toBe('Failed to create new replica set "web-abc": quota exceeded');
    expect(cond(failed.status, 'Progressing')).toMatchObject({
      status: 'False',
      reason: 'ReplicaSetCreateError',
    });
    expect(collisionStatus(d).collisionCount).toBe(1);
    expect(collisionStatus(deployment({ status: { collisionCount: 1 } })).collisionCount).toBe(2);
  });

  it('a collision count changes the name of the next ReplicaSet', () => {
    const plan = reconcileDeployment({
      deployment: deployment({ status: { collisionCount: 1 } }),
      replicaSets: [],
      pods: [],
      now: T0,
    });
    const name = byType(plan.actions, 'createReplicaSet')[0]?.replicaSet.metadata.name;
    expect(name).toBe(`web-${computePodTemplateHash(template('nginx:1'), 1)}`);
    expect(name).not.toBe(`web-${hash1}`);
  });
});

describe('reconcileDeployment: Progressing while paused and on resume', () => {
  const stale = (reason: string, status = 'True'): DeploymentCondition => ({
    type: 'Progressing',
    status: status as 'True',
    reason,
    message: 'x',
    lastUpdateTime: formatTime(at(-700)), // older than the 600 s deadline
    lastTransitionTime: formatTime(at(-700)),
  });
  it.each([
    {
      title: 'paused: the deadline is not checked',
      paused: true,
      from: 'ReplicaSetUpdated',
      want: 'DeploymentPaused',
    },
    { title: 'still paused', paused: true, from: 'DeploymentPaused', want: 'DeploymentPaused' },
    // Resuming restarts the clock: not ProgressDeadlineExceeded although the old time is past it.
    { title: 'resumed', paused: false, from: 'DeploymentPaused', want: 'DeploymentResumed' },
    {
      title: 'running, past the deadline',
      paused: false,
      from: 'ReplicaSetUpdated',
      want: 'ProgressDeadlineExceeded',
    },
  ])('$title → $want', ({ paused, from, want }) => {
    const plan = reconcileDeployment({
      deployment: deployment({
        image: 'nginx:2',
        generation: 2,
        paused,
        annotations: { 'deployment.kubernetes.io/revision': '2' },
        status: {
          observedGeneration: 2,
          replicas: 4,
          updatedReplicas: 1,
          readyReplicas: 3,
          availableReplicas: 3,
          conditions: [stale(from, from === 'ReplicaSetUpdated' ? 'True' : 'Unknown')],
        },
      }),
      replicaSets: [
        replicaSet({ replicas: 3, revision: 1 }),
        replicaSet({ image: 'nginx:2', replicas: 1, available: 0, revision: 2, created: -10 }),
      ],
      pods: [],
      now: T0,
    });
    const status = statusOf(plan.actions);
    expect(cond(status, 'Progressing')?.reason).toBe(want);
    expect(byType(plan.actions, 'updateReplicaSet')).toEqual([]); // no rollout progress either way here
  });

  it('minReadySeconds is copied to the new ReplicaSet (its pods count as available only after it)', () => {
    const plan = reconcileDeployment({
      deployment: deployment({
        minReadySeconds: 10,
        annotations: { 'deployment.kubernetes.io/revision': '1' },
      }),
      replicaSets: [replicaSet({ replicas: 3, revision: 1 })],
      pods: [],
      now: T0,
    });
    const spec = byType(plan.actions, 'updateReplicaSet')[0]?.replicaSet.spec as { minReadySeconds?: number };
    expect(spec.minReadySeconds).toBe(10);
  });
});

describe('reconcileDeployment: the failed-template mark', () => {
  const ok = { 'flotilla.dev/fully-available': 'true' };
  const rolledBack: DeploymentCondition = {
    type: 'RolledBack',
    status: 'True',
    reason: 'AutomaticRollback',
    message: 'Rolled back to revision 1',
  };
  it.each([
    {
      title: 'the failed template applied again: not rolled out',
      image: 'nginx:2',
      progressing: 'FailedRevisionNotRetried',
      markKept: true,
    },
    {
      title: 'the template rolled back to: mark kept',
      image: 'nginx:1',
      progressing: undefined,
      markKept: true,
    },
    {
      title: 'any other template: mark cleared',
      image: 'nginx:3',
      progressing: 'NewReplicaSetCreated',
      markKept: false,
    },
  ])('$title', ({ image, progressing, markKept }) => {
    const plan = reconcileDeployment({
      deployment: deployment({
        replicas: 3,
        image,
        generation: 3,
        annotations: { 'deployment.kubernetes.io/revision': '3', 'flotilla.dev/failed-template-hash': hash2 },
        status: {
          observedGeneration: 2,
          replicas: 3,
          readyReplicas: 3,
          availableReplicas: 3,
          conditions: [rolledBack],
        },
      }),
      replicaSets: [
        replicaSet({ replicas: 3, revision: 3, annotations: ok }),
        replicaSet({ image: 'nginx:2', replicas: 0, revision: 2, created: -10 }),
      ],
      pods: [],
      now: T0,
    });
    const creates = byType(plan.actions, 'createReplicaSet');
    expect(creates).toHaveLength(image === 'nginx:3' ? 1 : 0);
    // Never scales the failed template up.
    for (const u of byType(plan.actions, 'updateReplicaSet'))
      if (u.replicaSet.metadata.name === `web-${hash2}`)
        expect((u.replicaSet.spec as { replicas: number }).replicas).toBe(0);
    const patch = byType(plan.actions, 'patchDeploymentAnnotations')[0]?.annotations;
    if (markKept) expect(patch?.['flotilla.dev/failed-template-hash'] ?? hash2).toBe(hash2);
    else expect(patch?.['flotilla.dev/failed-template-hash']).toBeNull();
    const status = statusOf(plan.actions);
    if (progressing !== undefined) expect(cond(status, 'Progressing')?.reason).toBe(progressing);
    if (!markKept) expect(cond(status, 'RolledBack')).toBeUndefined();
    if (progressing === 'FailedRevisionNotRetried') {
      expect(cond(status, 'Progressing')).toMatchObject({ status: 'False' });
      expect(cond(status, 'Progressing')?.message).toContain(hash2);
      expect(status?.updatedReplicas).toBeUndefined(); // none of the current template
    }
  });

  it('bookkeeping copied to the Deployment by kubectl rollout undo is removed and not copied back', () => {
    const plan = reconcileDeployment({
      deployment: deployment({
        annotations: { 'deployment.kubernetes.io/revision': '1', 'flotilla.dev/fully-available': 'true' },
      }),
      replicaSets: [replicaSet({ replicas: 3, revision: 1, annotations: ok })],
      pods: [],
      now: T0,
    });
    expect(byType(plan.actions, 'patchDeploymentAnnotations')[0]?.annotations).toMatchObject({
      'flotilla.dev/fully-available': null,
    });
  });
});

describe('reconcileDeployment: canary step', () => {
  const ok = { 'flotilla.dev/fully-available': 'true' };
  const canary = (value: string, extra: Record<string, string> = {}) => ({
    'deployment.kubernetes.io/revision': '1',
    'flotilla.dev/canary': value,
    ...extra,
  });

  it.each([
    { value: '1', replicas: 10, size: 1 },
    { value: '10%', replicas: 10, size: 1 },
    { value: '25%', replicas: 10, size: 3 },
    { value: '1%', replicas: 10, size: 1 }, // at least one pod
  ])('canary $value of $replicas: the new ReplicaSet is created at $size', ({ value, replicas, size }) => {
    const plan = reconcileDeployment({
      deployment: deployment({
        replicas,
        image: 'nginx:2',
        generation: 2,
        annotations: canary(value),
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '50%', maxUnavailable: 0 } },
      }),
      replicaSets: [
        replicaSet({ replicas, revision: 1, desired: replicas, max: replicas + 5, annotations: ok }),
      ],
      pods: [],
      now: T0,
    });
    expect(scaling(plan.actions)[0]).toMatch(new RegExp(`^create ${size} `));
  });

  it('pauses once the sizes are reached, with the condition and the event', () => {
    const plan = reconcileDeployment({
      deployment: deployment({ replicas: 4, image: 'nginx:2', generation: 2, annotations: canary('1') }),
      replicaSets: [
        replicaSet({ replicas: 3, revision: 1, desired: 4, max: 5, annotations: ok }),
        replicaSet({
          image: 'nginx:2',
          replicas: 1,
          available: 0,
          revision: 2,
          desired: 4,
          max: 5,
          created: -10,
        }),
      ],
      pods: [],
      now: T0,
    });
    const message =
      'canary of 1 pod on revision 2; promote with `flotilla rollout promote` or `kubectl rollout resume`';
    expect(byType(plan.actions, 'patchDeploymentPaused')).toEqual([
      {
        type: 'patchDeploymentPaused',
        paused: true,
        event: { type: 'Normal', reason: 'CanaryPaused', message },
      },
    ]);
    expect(cond(statusOf(plan.actions), 'Canary')).toMatchObject({
      status: 'True',
      reason: 'CanaryPaused',
      message,
    });
    const marked = byType(plan.actions, 'updateReplicaSet')
      .filter((u) => u.replicaSet.metadata.name === `web-${hash2}`)
      .at(-1);
    expect(marked?.replicaSet.metadata.annotations?.['flotilla.dev/canary-paused']).toBe(formatTime(T0));
  });

  it('no canary step for a template that completed before (a rollback) or with Recreate', () => {
    for (const strategy of [undefined, { type: 'Recreate' }]) {
      const plan = reconcileDeployment({
        deployment: deployment({
          replicas: 4,
          image: 'nginx:2',
          generation: 3,
          annotations: canary('1'),
          ...(strategy === undefined ? {} : { strategy }),
        }),
        replicaSets: [
          replicaSet({ replicas: 4, revision: 3, desired: 4, max: 5, annotations: ok }),
          replicaSet({
            image: 'nginx:2',
            replicas: 0,
            revision: 2,
            desired: 4,
            max: 5,
            created: -10,
            annotations: ok,
          }),
        ],
        pods: [],
        now: T0,
      });
      expect(byType(plan.actions, 'patchDeploymentPaused')).toEqual([]);
    }
  });

  it.each([
    {
      title: 'paused by the canary step, available long enough: promoted',
      canary: 'True',
      ago: 61,
      want: true,
    },
    { title: 'paused by the canary step, not yet long enough: waits', canary: 'True', ago: 30, want: false },
    { title: 'paused by a person after the promotion: left paused', canary: 'False', ago: 600, want: false },
  ])('canary-promote-after: $title', ({ canary: canaryStatus, ago, want }) => {
    const rs2 = replicaSet({
      image: 'nginx:2',
      replicas: 1,
      revision: 2,
      desired: 4,
      max: 5,
      created: -700,
      annotations: { 'flotilla.dev/canary-paused': formatTime(at(-ago)) },
    });
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'canary-pod',
        namespace: 'shop',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs2.metadata.name ?? '',
            uid: rs2.metadata.uid ?? '',
            controller: true,
          },
        ],
      },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: formatTime(at(-ago)) }],
        containerStatuses: [{ name: 'c', ready: true, restartCount: 0 }],
      },
    };
    const plan = reconcileDeployment({
      deployment: deployment({
        replicas: 4,
        image: 'nginx:2',
        generation: 3,
        paused: true,
        annotations: canary('1', { 'flotilla.dev/canary-promote-after': '60s' }),
        status: {
          observedGeneration: 3,
          conditions: [
            {
              type: 'Canary',
              status: canaryStatus as 'True',
              reason: canaryStatus === 'True' ? 'CanaryPaused' : 'CanaryPromoted',
            },
          ],
        },
      }),
      replicaSets: [replicaSet({ replicas: 3, revision: 1, desired: 4, max: 5, annotations: ok }), rs2],
      pods: [pod],
      now: T0,
    });
    const patch = byType(plan.actions, 'patchDeploymentPaused');
    if (want) {
      expect(patch).toHaveLength(1);
      expect(patch[0]).toMatchObject({ paused: false, event: { reason: 'CanaryPromoted' } });
      expect(cond(statusOf(plan.actions), 'Canary')).toMatchObject({
        status: 'False',
        reason: 'CanaryPromoted',
      });
    } else {
      expect(patch).toEqual([]);
    }
    if (canaryStatus === 'True' && !want) expect(plan.requeueAfterMs).toBe((60 - ago) * 1000);
  });
});
