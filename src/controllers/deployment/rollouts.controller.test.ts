// Automatic rollback and canary through the Deployment and ReplicaSet controllers on an in-memory
// API, with a fake kubelet: pods of an image containing "bad" crash-loop, others become ready.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isObject, type KubeObject } from '../../api/types.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { VirtualClock } from '../../testkit/clock.js';
import { ReplicaSetController } from '../replicaset/controller.js';
import { isPodReady } from '../replicaset/pods.js';
import {
  DeploymentInfo,
  fakeReplicaSetExecutor,
  markPodRunning,
  PodInfo,
  ReplicaSetInfo,
} from '../replicaset/testing.js';
import { DeploymentController } from './controller.js';
import { computePodTemplateHash } from './hash.js';
import { fakeDeploymentExecutor, updateDeploymentSpec } from './testing.js';

const podTemplate = (image: string): Record<string, unknown> => ({
  metadata: { labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image }] },
});
const hashOf = (image: string): string => computePodTemplateHash(podTemplate(image));

function deployment(replicas: number, annotations: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', generation: 1, annotations },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: podTemplate('app:1'),
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 60,
    },
  };
}

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe('automatic rollback and canary (controllers on an in-memory API)', () => {
  let api: FakeApi;
  let clock: VirtualClock;
  let events: MemoryEventRecorder;
  let deployments: DeploymentController;
  let replicaSets: ReplicaSetController;

  function start(rollbackOnFailure = false): void {
    deployments = new DeploymentController({
      informers: api,
      executor: fakeDeploymentExecutor(api, clock),
      clock,
      recorder: events,
      rollbackOnFailure,
    });
    replicaSets = new ReplicaSetController({
      informers: api,
      executor: fakeReplicaSetExecutor(api, clock),
      clock,
      recorder: events,
    });
    deployments.start();
    replicaSets.start();
  }

  beforeEach(() => {
    api = new FakeApi();
    clock = new VirtualClock();
    events = new MemoryEventRecorder();
  });
  afterEach(async () => {
    await Promise.all([deployments.stop(), replicaSets.stop()]);
  });

  const current = (): KubeObject => api.find(DeploymentInfo, 'shop', 'web') as KubeObject;
  const dspec = (): Record<string, unknown> => current().spec as Record<string, unknown>;
  const status = (): Record<string, unknown> =>
    (isObject(current().status) ? current().status : {}) as Record<string, unknown>;
  const condition = (type: string): Cond | undefined =>
    (status().conditions as Cond[] | undefined)?.find((c) => c.type === type);
  const imageOf = (p: KubeObject): string =>
    (p.spec as { containers: { image: string }[] }).containers[0]?.image ?? '';
  const pods = (): KubeObject[] =>
    api.list(PodInfo).filter((p) => p.metadata.deletionTimestamp === undefined);
  const podsWith = (image: string): KubeObject[] => pods().filter((p) => imageOf(p) === image);
  const rsSize = (image: string): number | undefined => {
    const rs = api.find(ReplicaSetInfo, 'shop', `web-${hashOf(image)}`);
    return (rs?.spec as { replicas?: number } | undefined)?.replicas;
  };
  const revisionOfImage = (image: string): string | undefined =>
    api.find(ReplicaSetInfo, 'shop', `web-${hashOf(image)}`)?.metadata.annotations?.[
      'deployment.kubernetes.io/revision'
    ];

  /** The fake kubelet: pods of a "bad" image crash-loop, others become Running and Ready. */
  const kubelet = async (): Promise<void> => {
    for (const p of pods()) {
      if (isPodReady(p)) continue;
      if (imageOf(p).includes('bad')) {
        const cs = (p.status as { containerStatuses?: unknown[] } | undefined)?.containerStatuses;
        if (cs !== undefined) continue;
        await api.updateStatus(PodInfo, {
          ...p,
          status: {
            phase: 'Running',
            conditions: [{ type: 'Ready', status: 'False' }],
            containerStatuses: [
              {
                name: 'c',
                ready: false,
                restartCount: 1,
                state: { waiting: { reason: 'CrashLoopBackOff' } },
              },
            ],
          },
        });
      } else {
        await markPodRunning(api, p, clock.now());
      }
    }
  };
  /** Let the controllers and the kubelet run for `ms` of virtual time. */
  const run = async (ms: number, step = 200): Promise<void> => {
    for (let t = 0; t < ms; t += step) {
      await clock.advance(step);
      await kubelet();
    }
  };
  const fullyAvailableOn = (image: string, replicas: number): boolean => {
    const s = status();
    return (
      podsWith(image).length === replicas &&
      pods().length === replicas &&
      s.availableReplicas === replicas &&
      s.updatedReplicas === replicas &&
      (s.observedGeneration as number) >= (current().metadata.generation ?? 0)
    );
  };
  const setImage = (image: string): Promise<KubeObject> =>
    updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.template = podTemplate(image);
    });

  it('crash-looping new revision with the annotation: rolled back, event, condition, mark', async () => {
    start();
    api.create(DeploymentInfo, deployment(4, { 'flotilla.dev/rollback-on-failure': 'true' }));
    await run(1000);
    expect(fullyAvailableOn('app:1', 4)).toBe(true);

    await setImage('app:bad');
    await run(3000);
    expect(fullyAvailableOn('app:1', 4)).toBe(true);
    expect(dspec().template as Record<string, unknown>).toEqual(podTemplate('app:1'));
    expect(current().metadata.annotations?.['flotilla.dev/failed-template-hash']).toBe(hashOf('app:bad'));
    // As kubectl rollout undo: the old ReplicaSet moves to the next revision.
    expect(revisionOfImage('app:1')).toBe('3');
    expect(rsSize('app:bad')).toBe(0);
    const message = `Rolled back to revision 1 (replica set web-${hashOf('app:1')}): revision 2 (replica set web-${hashOf('app:bad')}) has 2 failing pods (budget 0)`;
    const rolledBack = events.events.filter((e) => e.reason === 'RolledBack');
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0]).toMatchObject({ type: 'Warning' });
    expect(rolledBack[0]?.message).toContain(message);
    expect(condition('RolledBack')).toMatchObject({ status: 'True', reason: 'AutomaticRollback' });
    expect(condition('RolledBack')?.message).toContain(message);
    expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });

    // Applying the failed template again does not roll it out.
    await setImage('app:bad');
    await run(2000);
    expect(fullyAvailableOn('app:1', 4)).toBe(false); // updatedReplicas counts the failed template
    expect(podsWith('app:1')).toHaveLength(4);
    expect(podsWith('app:bad')).toHaveLength(0);
    expect(condition('Progressing')).toMatchObject({ status: 'False', reason: 'FailedRevisionNotRetried' });
    expect(events.events.filter((e) => e.reason === 'RolledBack')).toHaveLength(1);

    // Any other template clears the mark and rolls out.
    await setImage('app:2');
    await run(3000);
    expect(fullyAvailableOn('app:2', 4)).toBe(true);
    expect(current().metadata.annotations?.['flotilla.dev/failed-template-hash']).toBeUndefined();
    expect(condition('RolledBack')).toBeUndefined();
  });

  it('the cluster default rolls back on the progress deadline too (pods that never become ready)', async () => {
    start(true);
    api.create(DeploymentInfo, deployment(4));
    await run(1000);
    // Pods that stay not ready without crashing: only the deadline catches them.
    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.template = podTemplate('app:slow');
    });
    const kubeletless = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 1000) {
        await clock.advance(1000);
        for (const p of pods())
          if (!isPodReady(p) && imageOf(p) !== 'app:slow') await markPodRunning(api, p, clock.now());
      }
    };
    await kubeletless(30_000);
    expect(podsWith('app:slow').length).toBeGreaterThan(0);
    expect(events.events.filter((e) => e.reason === 'RolledBack')).toHaveLength(0);
    await kubeletless(40_000);
    expect(events.events.find((e) => e.reason === 'RolledBack')?.message).toContain(
      'exceeded its progress deadline',
    );
    await kubeletless(5_000);
    expect(fullyAvailableOn('app:1', 4)).toBe(true);
  });

  it('without the annotation: stalls at ProgressDeadlineExceeded, old pods kept', async () => {
    start();
    api.create(DeploymentInfo, deployment(4));
    await run(1000);
    await setImage('app:bad');
    await run(70_000, 1000);
    expect(condition('Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(podsWith('app:1').filter(isPodReady).length).toBeGreaterThanOrEqual(3); // replicas − maxUnavailable
    expect(podsWith('app:bad').length).toBeGreaterThan(0);
    expect(events.events.filter((e) => e.reason === 'RolledBack')).toHaveLength(0);
    expect(dspec().template as Record<string, unknown>).toEqual(podTemplate('app:bad'));
  });

  it('canary 1 of 10: exactly one new pod, paused with a condition; resume completes', async () => {
    start();
    api.create(DeploymentInfo, deployment(10, { 'flotilla.dev/canary': '1' }));
    await run(1000);
    expect(fullyAvailableOn('app:1', 10)).toBe(true); // a fresh Deployment has no canary step

    await setImage('app:2');
    await run(2000);
    expect(podsWith('app:2')).toHaveLength(1);
    expect(podsWith('app:1')).toHaveLength(9);
    expect(dspec().paused).toBe(true);
    expect(condition('Canary')).toMatchObject({
      status: 'True',
      reason: 'CanaryPaused',
      message:
        'canary of 1 pod on revision 2; promote with `flotilla rollout promote` or `kubectl rollout resume`',
    });
    expect(events.events.some((e) => e.reason === 'CanaryPaused')).toBe(true);
    await run(2000);
    expect(podsWith('app:2')).toHaveLength(1); // stays paused

    // Scaling while paused keeps the canary at its size; old pods take the rest.
    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.replicas = 20;
    });
    await run(2000);
    expect(podsWith('app:2')).toHaveLength(1);
    expect(podsWith('app:1')).toHaveLength(19);

    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.paused = false;
    });
    await run(6000);
    expect(fullyAvailableOn('app:2', 20)).toBe(true);
    expect(dspec().paused).toBe(false);
    expect(condition('Canary')).toMatchObject({ status: 'False', reason: 'CanaryPromoted' });
  });

  it('canary abort: undo while paused (unpause and old template in one update) goes back to the old revision', async () => {
    start();
    api.create(DeploymentInfo, deployment(10, { 'flotilla.dev/canary': '10%' }));
    await run(1000);
    await setImage('app:2');
    await run(2000);
    expect(podsWith('app:2')).toHaveLength(1);
    expect(dspec().paused).toBe(true);

    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.paused = false;
      s.template = podTemplate('app:1');
    });
    await run(3000);
    expect(fullyAvailableOn('app:1', 10)).toBe(true);
    expect(dspec().paused).not.toBe(true); // no canary step for a revision that was fully available
    expect(condition('Canary')).toMatchObject({ status: 'False', reason: 'CanaryAborted' });
    expect(revisionOfImage('app:1')).toBe('3');
  });

  it('a crash-looping canary with automatic rollback is aborted and rolled back', async () => {
    start();
    api.create(
      DeploymentInfo,
      deployment(10, { 'flotilla.dev/canary': '1', 'flotilla.dev/rollback-on-failure': 'true' }),
    );
    await run(1000);
    await setImage('app:bad');
    await run(3000);
    expect(fullyAvailableOn('app:1', 10)).toBe(true);
    expect(dspec().paused).not.toBe(true);
    expect(condition('Canary')).toMatchObject({ status: 'False', reason: 'CanaryAborted' });
    expect(condition('RolledBack')).toMatchObject({ status: 'True', reason: 'AutomaticRollback' });
  });

  it('canary-promote-after promotes once the canary has been available that long', async () => {
    start();
    api.create(
      DeploymentInfo,
      deployment(4, { 'flotilla.dev/canary': '1', 'flotilla.dev/canary-promote-after': '30s' }),
    );
    await run(1000);
    await setImage('app:2');
    await run(2000);
    expect(dspec().paused).toBe(true);
    expect(podsWith('app:2')).toHaveLength(1);
    await run(20_000, 1000);
    expect(dspec().paused).toBe(true);
    await run(15_000, 1000);
    expect(dspec().paused).toBe(false);
    await run(3000);
    expect(fullyAvailableOn('app:2', 4)).toBe(true);
    expect(condition('Canary')).toMatchObject({ status: 'False', reason: 'CanaryPromoted' });
  });
});
