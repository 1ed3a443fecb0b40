import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { formatTime } from '../replicaset/pods.js';
import { parseDurationMs } from './annotations.js';
import { decideRollback, podFailure, rollbackEnabled } from './autorollback.js';
import { computePodTemplateHash } from './hash.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

const template = (image: string): Record<string, unknown> => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image }] },
});

interface DOpts {
  image?: string;
  canary?: boolean;
  annotations?: Record<string, string>;
  paused?: boolean;
  progressing?: { status: string; reason: string };
  generation?: number;
  observedGeneration?: number;
}

function deployment(o: DOpts = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'd-uid',
      resourceVersion: '9',
      generation: o.generation ?? 2,
      annotations: { 'deployment.kubernetes.io/revision': '2', ...(o.annotations ?? {}) },
    },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: 'web' } },
      template: template(o.image ?? 'web:2'),
      ...(o.paused === true ? { paused: true } : {}),
    },
    status: {
      observedGeneration: o.observedGeneration ?? 2,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
        { type: 'Progressing', ...(o.progressing ?? { status: 'True', reason: 'ReplicaSetUpdated' }) },
        ...(o.canary === true ? [{ type: 'Canary', status: 'True', reason: 'CanaryPaused' }] : []),
      ],
    },
  };
}

function replicaSet(
  image: string,
  revision: number,
  created: number,
  annotations: Record<string, string> = {},
) {
  const hash = computePodTemplateHash(template(image));
  const t = template(image) as { metadata: { labels: Record<string, string> } };
  t.metadata.labels['pod-template-hash'] = hash;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `web-${hash}`,
      namespace: 'shop',
      uid: `uid-${image}`,
      creationTimestamp: formatTime(T0 + created * 1000),
      labels: { app: 'web', 'pod-template-hash': hash },
      annotations: { 'deployment.kubernetes.io/revision': String(revision), ...annotations },
    },
    spec: { replicas: 2, template: t },
  } satisfies KubeObject;
}

const good = replicaSet('web:1', 1, -100, {
  'flotilla.dev/fully-available': 'true',
  'kubernetes.io/change-cause': 'v1',
});
const bad = replicaSet('web:2', 2, -10);
const hashBad = bad.metadata.labels['pod-template-hash'];

function pod(name: string, owner: KubeObject, containerStatus: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: owner.metadata.name ?? '',
          uid: owner.metadata.uid ?? '',
          controller: true,
        },
      ],
    },
    status: { phase: 'Running', containerStatuses: [{ name: 'c', ...containerStatus }] },
  };
}
const crashing = (name: string, rs = bad): KubeObject =>
  pod(name, rs, { restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } });
const healthy = (name: string, rs = good): KubeObject =>
  pod(name, rs, { restartCount: 0, state: { running: {} } });

const ON = { 'flotilla.dev/rollback-on-failure': 'true' };
const DEADLINE = { status: 'False', reason: 'ProgressDeadlineExceeded' };

describe('podFailure', () => {
  it.each([
    [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }, 'CrashLoopBackOff'],
    [{ state: { waiting: { reason: 'ErrImagePull' } } }, 'ErrImagePull'],
    [{ state: { waiting: { reason: 'ImagePullBackOff' } } }, 'ImagePullBackOff'],
    [{ state: { waiting: { reason: 'CreateContainerError' } } }, 'CreateContainerError'],
    [{ state: { waiting: { reason: 'ContainerCreating' } } }, undefined],
    [{ restartCount: 1, state: { running: {} } }, undefined],
    [{ restartCount: 2, state: { running: {} } }, 'restarted 2 times'],
  ])('%j → %s', (cs, want) => {
    expect(podFailure(pod('p', bad, cs))).toBe(want);
  });
});

describe('rollbackEnabled', () => {
  it.each([
    [undefined, false, false],
    [undefined, true, true],
    ['true', false, true],
    ['false', true, false],
    ['TRUE', false, true],
    ['yes', false, false],
  ])('annotation %s with cluster default %s → %s', (value, def, want) => {
    const d = deployment(
      value === undefined ? {} : { annotations: { 'flotilla.dev/rollback-on-failure': value } },
    );
    expect(rollbackEnabled(d, def)).toBe(want);
  });
});

describe('decideRollback', () => {
  it.each<{
    title: string;
    d: DOpts;
    rss?: KubeObject[];
    pods: KubeObject[];
    def?: boolean;
    want: string | undefined;
  }>([
    { title: 'off without the annotation', d: {}, pods: [crashing('b1')], want: undefined },
    { title: 'cluster default on', d: {}, def: true, pods: [crashing('b1')], want: 'has 1 failing pod' },
    {
      title: 'annotation "false" beats the cluster default',
      d: { annotations: { 'flotilla.dev/rollback-on-failure': 'false' } },
      def: true,
      pods: [crashing('b1')],
      want: undefined,
    },
    {
      title: 'one crash-looping pod, budget 0',
      d: { annotations: ON },
      pods: [crashing('b1')],
      want: 'has 1 failing pod (budget 0): b1: CrashLoopBackOff',
    },
    {
      title: 'within the budget',
      d: { annotations: { ...ON, 'flotilla.dev/rollback-failure-budget': '2' } },
      pods: [crashing('b1'), crashing('b2')],
      want: undefined,
    },
    {
      title: 'beyond the budget',
      d: { annotations: { ...ON, 'flotilla.dev/rollback-failure-budget': '1' } },
      pods: [crashing('b1'), crashing('b2')],
      want: 'has 2 failing pods (budget 1)',
    },
    {
      title: 'old pods failing do not count',
      d: { annotations: ON },
      pods: [crashing('a1', good), healthy('b1', bad)],
      want: undefined,
    },
    {
      title: 'progress deadline exceeded',
      d: { annotations: ON, progressing: DEADLINE },
      pods: [],
      want: 'exceeded its progress deadline',
    },
    {
      title: 'a deadline condition of an older generation is stale',
      d: { annotations: ON, progressing: DEADLINE, generation: 3, observedGeneration: 2 },
      pods: [],
      want: undefined,
    },
    {
      title: 'paused by a person: left alone',
      d: { annotations: ON, paused: true },
      pods: [crashing('b1')],
      want: undefined,
    },
    {
      title: 'paused by its canary step: rolled back (abort)',
      d: { annotations: ON, paused: true, canary: true },
      rss: [good, replicaSet('web:2', 2, -10, { 'flotilla.dev/canary-paused': formatTime(T0) })],
      pods: [crashing('b1')],
      want: 'has 1 failing pod',
    },
    {
      title: 'paused by a person after the canary was promoted: left alone',
      d: { annotations: ON, paused: true },
      rss: [good, replicaSet('web:2', 2, -10, { 'flotilla.dev/canary-paused': formatTime(T0) })],
      pods: [crashing('b1')],
      want: undefined,
    },
    {
      title: 'the template already marked failed is not rolled back again',
      d: { annotations: { ...ON, 'flotilla.dev/failed-template-hash': hashBad } },
      pods: [crashing('b1')],
      want: undefined,
    },
    {
      title: 'a revision that completed before is not rolled back (it failed later)',
      d: { annotations: ON },
      rss: [good, replicaSet('web:2', 2, -10, { 'flotilla.dev/fully-available': 'true' })],
      pods: [crashing('b1')],
      want: undefined,
    },
    {
      title: 'nothing to go back to',
      d: { annotations: ON },
      rss: [replicaSet('web:1', 1, -100), bad],
      pods: [crashing('b1')],
      want: undefined,
    },
  ])('$title', ({ d, rss, pods, def, want }) => {
    const decision = decideRollback({
      deployment: deployment(d),
      replicaSets: rss ?? [good, bad],
      pods,
      now: T0,
      clusterDefault: def ?? false,
    });
    if (want === undefined) expect(decision).toBeUndefined();
    else expect(decision?.why).toContain(want);
  });

  it('reverts to the newest completed revision, marks the failed template, and says why', () => {
    const older = replicaSet('web:0', 1, -200, { 'flotilla.dev/fully-available': 'true' });
    const newer = replicaSet('web:1', 3, -100, {
      'flotilla.dev/fully-available': 'true',
      'kubernetes.io/change-cause': 'v1',
    });
    const failing = replicaSet('web:2', 4, -10);
    const d = deployment({
      annotations: { ...ON, 'kubernetes.io/change-cause': 'v2' },
      progressing: DEADLINE,
    });
    const decision = decideRollback({
      deployment: d,
      replicaSets: [older, newer, failing],
      pods: [],
      now: T0,
      clusterDefault: false,
    });
    expect(decision).toBeDefined();
    if (decision === undefined) return;
    expect(decision).toMatchObject({ toRevision: 3, failedRevision: 4, toReplicaSet: newer.metadata.name });
    expect((decision.deployment.spec as { template: unknown }).template).toEqual(template('web:1'));
    expect(decision.deployment.metadata.annotations).toMatchObject({
      'flotilla.dev/failed-template-hash': failing.metadata.labels['pod-template-hash'],
      'kubernetes.io/change-cause': 'v1',
    });
    const message = `Rolled back to revision 3 (replica set ${newer.metadata.name}): revision 4 (replica set ${failing.metadata.name}) exceeded its progress deadline`;
    expect(decision.event).toEqual({ type: 'Warning', reason: 'RolledBack', message });
    const conds = decision.status.conditions ?? [];
    expect(conds.find((c) => c.type === 'RolledBack')).toMatchObject({
      status: 'True',
      reason: 'AutomaticRollback',
      message,
    });
    // The deadline counts again for the revision brought back (no stale ProgressDeadlineExceeded).
    expect(conds.find((c) => c.type === 'Progressing')).toMatchObject({
      status: 'True',
      reason: 'ReplicaSetUpdated',
    });
  });

  it('a canary abort unpauses and reports the canary aborted', () => {
    const canaryRs = replicaSet('web:2', 2, -10, { 'flotilla.dev/canary-paused': formatTime(T0) });
    const d = deployment({ annotations: ON, paused: true });
    (d.status as { conditions: unknown[] }).conditions.push({
      type: 'Canary',
      status: 'True',
      reason: 'CanaryPaused',
    });
    const decision = decideRollback({
      deployment: d,
      replicaSets: [good, canaryRs],
      pods: [crashing('b1', canaryRs)],
      now: T0,
      clusterDefault: false,
    });
    expect((decision?.deployment.spec as { paused?: boolean }).paused).toBeUndefined();
    expect(decision?.status.conditions?.find((c) => c.type === 'Canary')).toMatchObject({
      status: 'False',
      reason: 'CanaryAborted',
    });
  });
});

describe('parseDurationMs (canary-promote-after)', () => {
  it.each<[string | undefined, number | undefined]>([
    ['60s', 60_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['90', 90_000],
    ['1.5s', 1500],
    ['', undefined],
    ['soon', undefined],
    ['-5s', undefined],
    [undefined, undefined],
  ])('%j → %j', (value, want) => {
    expect(parseDurationMs(value)).toBe(want);
  });
});
