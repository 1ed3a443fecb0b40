// The pure parts of `flotilla rollout`: kubectl's status messages, the history table, undo targets and patches.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import {
  deploymentStatus,
  historyTable,
  ownedReplicaSets,
  progressLine,
  restartPatch,
  templateMatches,
  undoPatch,
  undoTarget,
} from './rollout-view.js';

interface DeployShape {
  replicas?: number;
  generation?: number;
  observed?: number;
  updated?: number;
  total?: number;
  ready?: number;
  available?: number;
  paused?: boolean;
  revision?: string;
  conditions?: Record<string, string>[];
  annotations?: Record<string, string>;
}

function deploy(s: DeployShape = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'd-uid',
      generation: s.generation ?? 2,
      annotations: {
        ...(s.revision === undefined ? {} : { 'deployment.kubernetes.io/revision': s.revision }),
        ...(s.annotations ?? {}),
      },
    },
    spec: {
      replicas: s.replicas ?? 10,
      ...(s.paused === undefined ? {} : { paused: s.paused }),
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'c', image: 'img:2' }] },
      },
    },
    status: {
      observedGeneration: s.observed ?? 2,
      replicas: s.total ?? 10,
      updatedReplicas: s.updated ?? 10,
      readyReplicas: s.ready ?? 10,
      availableReplicas: s.available ?? 10,
      conditions: s.conditions ?? [],
    },
  };
}

function rs(
  revision: string,
  image: string,
  extra: Record<string, string> = {},
  owner = 'd-uid',
): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${revision}`,
      namespace: 'default',
      annotations: {
        'deployment.kubernetes.io/revision': revision,
        'deployment.kubernetes.io/desired-replicas': '10',
        'deployment.kubernetes.io/max-replicas': '15',
        ...extra,
      },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: owner, controller: true },
      ],
    },
    spec: {
      template: {
        metadata: { labels: { app: 'web', 'pod-template-hash': `h${revision}` } },
        spec: { containers: [{ name: 'c', image }] },
      },
    },
  };
}

describe('deploymentStatus (kubectl DeploymentStatusViewer)', () => {
  const waiting = (message: string) => ({ kind: 'waiting', message });
  it.each<[string, DeployShape, { kind: string; message: string; deadline?: boolean }]>([
    [
      'spec not observed yet',
      { generation: 3, observed: 2 },
      waiting('Waiting for deployment spec update to be observed...'),
    ],
    [
      'new replicas not all updated',
      { updated: 4 },
      waiting(
        'Waiting for deployment "web" rollout to finish: 4 out of 10 new replicas have been updated...',
      ),
    ],
    [
      'old replicas still terminating',
      { total: 13 },
      waiting('Waiting for deployment "web" rollout to finish: 3 old replicas are pending termination...'),
    ],
    [
      'updated but not yet available',
      { available: 4 },
      waiting('Waiting for deployment "web" rollout to finish: 4 of 10 updated replicas are available...'),
    ],
    ['complete', {}, { kind: 'done', message: 'deployment "web" successfully rolled out' }],
    [
      'progress deadline exceeded',
      {
        updated: 3,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
      { kind: 'failed', message: 'deployment "web" exceeded its progress deadline', deadline: true },
    ],
    [
      'progress deadline exceeded with automatic rollback on: the rollback is coming',
      {
        updated: 3,
        annotations: { 'flotilla.dev/rollback-on-failure': 'true' },
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
      waiting(
        'Waiting for deployment "web" rollout to finish: progress deadline exceeded, waiting for the automatic rollback...',
      ),
    ],
    [
      'a failed template is not retried',
      {
        updated: 0,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'FailedRevisionNotRetried',
            message: 'template abc failed before',
          },
        ],
      },
      {
        kind: 'failed',
        message: 'deployment "web" will not roll out a failed revision again: template abc failed before',
      },
    ],
    [
      'a canary step waits with the controller message',
      {
        updated: 1,
        paused: true,
        conditions: [
          {
            type: 'Canary',
            status: 'True',
            reason: 'CanaryPaused',
            message: 'canary of 1 pods on revision 3',
          },
        ],
      },
      waiting('Waiting for deployment "web" rollout to finish: canary of 1 pods on revision 3'),
    ],
  ])('%s', (_name, shape, want) => {
    expect(deploymentStatus(deploy(shape))).toEqual(want);
  });

  it('--revision must match the running revision', () => {
    expect(deploymentStatus(deploy({ revision: '3' }), { revision: 2 })).toEqual({
      kind: 'failed',
      message: 'desired revision (2) is different from the running revision (3)',
    });
    expect(deploymentStatus(deploy({ revision: '3' }), { revision: 3 }).kind).toBe('done');
  });

  it('an automatic rollback (RolledBack=True) fails once the controller observed the spec', () => {
    const rolledBack = deploy({
      conditions: [
        {
          type: 'RolledBack',
          status: 'True',
          reason: 'AutomaticRollback',
          message: 'rolled back to revision 1: revision 2 exceeded its progress deadline',
          lastTransitionTime: '2026-01-01T00:00:00Z',
        },
      ],
    });
    expect(deploymentStatus(rolledBack)).toEqual({
      kind: 'failed',
      message:
        'deployment "web" was rolled back automatically: rolled back to revision 1: revision 2 exceeded its progress deadline',
    });
    // A new template not yet observed: the controller will drop the old condition when it sees it.
    const next = { ...rolledBack, metadata: { ...rolledBack.metadata, generation: 3 } };
    expect(deploymentStatus(next).kind).toBe('waiting');
  });

  it('the terminal line adds the counts behind the message', () => {
    const d = deploy({ updated: 10, ready: 6, available: 4, paused: true });
    expect(progressLine(d, deploymentStatus(d))).toBe(
      'Waiting for deployment "web" rollout to finish: 4 of 10 updated replicas are available... [10 updated, 6 ready, 4 available of 10] (paused)',
    );
  });
});

describe('history', () => {
  it('lists revisions in order with their change-cause, as kubectl lays them out', () => {
    const table = historyTable([
      rs('10', 'img:3'),
      rs('2', 'img:2', { 'kubernetes.io/change-cause': 'kubectl set image deployment/web c=img:2' }),
      rs('1', 'img:1'),
    ]);
    expect(table).toBe(
      'REVISION  CHANGE-CAUSE\n' +
        '1         <none>\n' +
        '2         kubectl set image deployment/web c=img:2\n' +
        '10        <none>\n',
    );
  });

  it('says so when there is no history', () => {
    expect(historyTable([])).toBe('No rollout history found.\n');
  });

  it('keeps only the ReplicaSets the Deployment controls', () => {
    expect(
      ownedReplicaSets(deploy(), [rs('1', 'a'), rs('2', 'b', {}, 'other')]).map((r) => r.metadata.name),
    ).toEqual(['web-1']);
  });
});

describe('undo', () => {
  const sets = [rs('1', 'img:1'), rs('3', 'img:3'), rs('2', 'img:2')];

  it('goes back to the second-newest revision by default, or the one asked for', () => {
    expect(undoTarget('web', sets, 0).metadata.name).toBe('web-2');
    expect(undoTarget('web', sets, 1).metadata.name).toBe('web-1');
  });

  it.each<[string, KubeObject[], number, string]>([
    ['a revision not in history', sets, 7, 'unable to find specified revision 7 in history'],
    ['only one revision', [rs('1', 'img:1')], 0, 'no rollout history found for deployment "web"'],
  ])('fails with kubectl message for %s', (_name, list, to, message) => {
    expect(() => undoTarget('web', list, to)).toThrow(message);
  });

  it('patches the template without pod-template-hash and the annotations as kubectl does', () => {
    const d = deploy({
      revision: '3',
      annotations: {
        'kubectl.kubernetes.io/last-applied-configuration': '{}',
        'kubernetes.io/change-cause': 'newest',
        'flotilla.dev/rollback-on-failure': 'true',
      },
    });
    const target = rs('1', 'img:1', { 'kubernetes.io/change-cause': 'first', 'flotilla.dev/canary': '1' });
    expect(undoPatch(d, target, { unpause: false })).toEqual([
      {
        op: 'replace',
        path: '/spec/template',
        value: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'c', image: 'img:1' }] },
        },
      },
      {
        op: 'replace',
        path: '/metadata/annotations',
        value: {
          // kept from the Deployment: its bookkeeping and Flotilla settings
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          'deployment.kubernetes.io/revision': '3',
          'flotilla.dev/rollback-on-failure': 'true',
          // copied from the ReplicaSet
          'kubernetes.io/change-cause': 'first',
        },
      },
    ]);
  });

  it('resumes a paused Deployment in the same patch (canary abort)', () => {
    const ops = undoPatch(deploy({ paused: true }), rs('1', 'img:1'), { unpause: true });
    expect(ops.at(-1)).toEqual({ op: 'add', path: '/spec/paused', value: false });
  });

  it('sees a template that already matches, ignoring the hash label', () => {
    expect(templateMatches(deploy(), rs('2', 'img:2'))).toBe(true);
    expect(templateMatches(deploy(), rs('1', 'img:1'))).toBe(false);
  });
});

describe('restart', () => {
  it('sets restartedAt on the template to an RFC 3339 time', () => {
    expect(restartPatch(new Date('2026-11-27T06:10:14.123Z'))).toEqual({
      spec: {
        template: {
          metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-11-27T06:10:14Z' } },
        },
      },
    });
  });
});
