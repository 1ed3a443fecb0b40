import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isObject, type KubeObject } from '../../api/types.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { MemoryLogger } from '../../machinery/logger.js';
import { VirtualClock } from '../../testkit/clock.js';
import { ReplicaSetController } from './controller.js';
import {
  fakeReplicaSetExecutor,
  LaggingSource,
  markPodRunning,
  PodInfo,
  quotaError,
  ReplicaSetInfo,
  withPodSource,
} from './testing.js';

function replicaSet(name: string, replicas: number, minReadySeconds = 0): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'shop', generation: 1 },
    spec: {
      replicas,
      minReadySeconds,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image: 'busybox' }] },
      },
    },
  };
}

describe('ReplicaSetController (wired to an in-memory API)', () => {
  let api: FakeApi;
  let clock: VirtualClock;
  let recorder: MemoryEventRecorder;
  let logger: MemoryLogger;
  let executor: ReturnType<typeof fakeReplicaSetExecutor>;
  let lagging: LaggingSource;
  let controller: ReplicaSetController;

  beforeEach(() => {
    api = new FakeApi();
    clock = new VirtualClock();
    recorder = new MemoryEventRecorder();
    logger = new MemoryLogger();
    executor = fakeReplicaSetExecutor(api, clock);
    lagging = new LaggingSource(api.informerFor(PodInfo));
    controller = new ReplicaSetController({
      informers: withPodSource(api, lagging),
      executor,
      clock,
      recorder,
      logger,
    });
  });
  afterEach(async () => {
    await controller.stop();
  });

  const podsOf = (rsName: string): KubeObject[] =>
    api.list(PodInfo).filter((p) => p.metadata.ownerReferences?.[0]?.name === rsName);
  const statusOf = (name: string): Record<string, unknown> => {
    const s = api.find(ReplicaSetInfo, 'shop', name)?.status;
    return isObject(s) ? s : {};
  };
  const createRs = (rs: KubeObject): KubeObject => api.create(ReplicaSetInfo, rs);
  const scale = async (name: string, replicas: number): Promise<void> => {
    const rs = api.find(ReplicaSetInfo, 'shop', name) as KubeObject;
    await api.patch(ReplicaSetInfo, 'shop', name, { spec: { ...(rs.spec as object), replicas } });
  };

  it('creates the pods from the template, owned by the ReplicaSet, and reports them in its status', async () => {
    const rs = createRs(replicaSet('web', 3));
    controller.start();
    await clock.advance(100);
    const pods = podsOf('web');
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(/^web-[a-z0-9]{5}$/);
      expect(p.metadata.labels).toEqual({ app: 'web' });
      expect(p.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'web',
          uid: rs.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
    expect(recorder.events.filter((e) => e.reason === 'SuccessfulCreate').map((e) => e.message)).toEqual(
      pods.map((p) => `Created pod: ${p.metadata.name ?? ''}`),
    );
    expect(statusOf('web')).toEqual({ replicas: 3, fullyLabeledReplicas: 3, observedGeneration: 1 });
  });

  it('counts ready and available pods, honouring minReadySeconds', async () => {
    createRs(replicaSet('web', 2, 10));
    controller.start();
    await clock.advance(100);
    for (const p of podsOf('web')) await markPodRunning(api, p, clock.now());
    await clock.advance(100);
    expect(statusOf('web')).toMatchObject({ replicas: 2, readyReplicas: 2 });
    expect(statusOf('web').availableReplicas).toBeUndefined();
    await clock.advance(10_000);
    expect(statusOf('web')).toMatchObject({ readyReplicas: 2, availableReplicas: 2 });
  });

  it('scales down by deleting the least established pods first', async () => {
    createRs(replicaSet('web', 4));
    controller.start();
    await clock.advance(100);
    const [a, b, c, d] = podsOf('web') as [KubeObject, KubeObject, KubeObject, KubeObject];
    await markPodRunning(api, a, clock.now() - 60_000, { nodeName: 'n1' });
    await markPodRunning(api, b, clock.now() - 5_000, { nodeName: 'n2' });
    await markPodRunning(api, c, clock.now(), { nodeName: 'n1', ready: false });
    void d; // stays Pending and unscheduled
    await scale('web', 2);
    await clock.advance(100);
    expect(
      podsOf('web')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual([a.metadata.name, b.metadata.name].sort());
    expect(recorder.events.filter((e) => e.reason === 'SuccessfulDelete').map((e) => e.message)).toEqual([
      `Deleted pod: ${d.metadata.name ?? ''}`,
      `Deleted pod: ${c.metadata.name ?? ''}`,
    ]);
  });

  it('replaces a deleted pod and a failed one', async () => {
    createRs(replicaSet('web', 2));
    controller.start();
    await clock.advance(100);
    const [a, b] = podsOf('web') as [KubeObject, KubeObject];
    await api.delete(PodInfo, 'shop', a.metadata.name ?? '');
    await api.updateStatus(PodInfo, { ...b, status: { phase: 'Failed' } });
    await clock.advance(100);
    const active = podsOf('web').filter(
      (p) => (p.status as { phase?: string } | undefined)?.phase !== 'Failed',
    );
    expect(active).toHaveLength(2);
    expect(active.map((p) => p.metadata.name)).not.toContain(a.metadata.name);
    expect(executor.creates).toBe(4);
  });

  it('adopts a matching orphan instead of creating, and releases a pod whose labels stop matching', async () => {
    const orphan = api.create(PodInfo, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'handmade', namespace: 'shop', labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', image: 'busybox' }] },
    });
    const rs = createRs(replicaSet('web', 2));
    controller.start();
    await clock.advance(100);
    expect(api.find(PodInfo, 'shop', 'handmade')?.metadata.ownerReferences?.[0]?.uid).toBe(rs.metadata.uid);
    expect(podsOf('web')).toHaveLength(2);
    expect(executor.creates).toBe(1);

    await api.patch(PodInfo, 'shop', 'handmade', { metadata: { labels: { app: 'debug' } } });
    await clock.advance(100);
    expect(api.find(PodInfo, 'shop', 'handmade')?.metadata.ownerReferences).toBeUndefined();
    expect(podsOf('web')).toHaveLength(2); // a replacement was created
    void orphan;
  });

  it('never takes pods that another controller owns', async () => {
    createRs(replicaSet('web', 1));
    api.create(PodInfo, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'taken',
        namespace: 'shop',
        labels: { app: 'web' },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'x', uid: 'x-uid', controller: true },
        ],
      },
    });
    controller.start();
    await clock.advance(100);
    expect(api.find(PodInfo, 'shop', 'taken')?.metadata.ownerReferences?.[0]?.uid).toBe('x-uid');
    expect(podsOf('web')).toHaveLength(1);
  });

  it('with a stale pod cache, expectations stop a second round of creates until the cache catches up', async () => {
    lagging.freeze();
    createRs(replicaSet('web', 3));
    controller.start();
    await clock.advance(100);
    expect(executor.creates).toBe(3);
    // The status write and a spec touch re-queue the ReplicaSet; its cache still shows no pods.
    await api.patch(ReplicaSetInfo, 'shop', 'web', { metadata: { annotations: { touched: 'yes' } } });
    await clock.advance(1000);
    expect(executor.creates).toBe(3);
    expect(controller.expectations.pending('shop/web')).toEqual({ add: 3, del: 0 });
    lagging.catchUp();
    await clock.advance(100);
    expect(executor.creates).toBe(3);
    expect(podsOf('web')).toHaveLength(3);
    expect(statusOf('web').replicas).toBe(3);
  });

  it('acts again once unobserved expectations expire after five minutes', async () => {
    lagging.freeze();
    createRs(replicaSet('web', 2));
    controller.start();
    await clock.advance(100);
    expect(executor.creates).toBe(2);
    await clock.advance(5 * 60_000);
    // The cache never showed the pods, so after the timeout the controller creates again, as upstream.
    expect(executor.creates).toBe(4);
  });

  it('slow start: a failing create stops the batch, records FailedCreate and ReplicaFailure, then recovers', async () => {
    let quotaExceeded = true;
    const create = executor.createPod;
    executor.createPod = async (ns, pod) => {
      if (quotaExceeded) {
        executor.creates++;
        throw quotaError();
      }
      return create(ns, pod);
    };
    createRs(replicaSet('web', 10));
    controller.start();
    await clock.advance(100);
    // Each sync tried one pod (the first batch) and stopped there.
    const failures = recorder.events.filter((e) => e.reason === 'FailedCreate');
    expect(failures.length).toBeGreaterThan(0);
    expect(executor.creates).toBe(failures.length);
    expect(failures[0]?.message).toBe(`Error creating: ${quotaError().message}`);
    expect(statusOf('web').conditions).toEqual([
      expect.objectContaining({
        type: 'ReplicaFailure',
        status: 'True',
        reason: 'FailedCreate',
        message: quotaError().message,
      }),
    ]);
    quotaExceeded = false;
    await clock.advance(60_000); // the next back-off retry
    expect(podsOf('web')).toHaveLength(10);
    expect(statusOf('web').conditions).toBeUndefined();
    expect(logger.find('could not create pods', 'warn').length).toBe(failures.length);
  });

  it('a failure in a later batch keeps the pods made so far and stops expecting the rest', async () => {
    createRs(replicaSet('web', 7));
    // Batches 1, 2, 4: from the third create on everything fails, so the batch of 4 is never tried.
    const create = executor.createPod;
    let n = 0;
    executor.createPod = async (ns, pod) => {
      n++;
      if (n >= 3) throw quotaError();
      return create(ns, pod);
    };
    controller.start();
    await clock.advance(100);
    const failures = recorder.events.filter((e) => e.reason === 'FailedCreate').length;
    expect(podsOf('web')).toHaveLength(2);
    expect(n).toBe(2 + failures); // after the first sync, every retry stops at its first create
    expect(controller.expectations.satisfied('shop/web')).toBe(true);
  });

  it('forgets expectations of a deleted ReplicaSet and leaves its pods to the garbage collector', async () => {
    lagging.freeze();
    createRs(replicaSet('web', 2));
    controller.start();
    await clock.advance(100);
    await api.delete(ReplicaSetInfo, 'shop', 'web');
    lagging.catchUp();
    await clock.advance(100);
    expect(controller.expectations.pending('shop/web')).toBeUndefined();
    expect(executor.creates).toBe(2);
  });
});
