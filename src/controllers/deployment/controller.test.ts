import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import { isObject, type KubeObject } from '../../api/types.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { MemoryLogger } from '../../machinery/logger.js';
import { VirtualClock } from '../../testkit/clock.js';
import { ReplicaSetController } from '../replicaset/controller.js';
import { isPodReady } from '../replicaset/pods.js';
import {
  DeploymentInfo,
  fakeReplicaSetExecutor,
  LaggingSource,
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

function deployment(replicas: number, strategy?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', generation: 1 },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: podTemplate('nginx:1'),
      strategy: strategy ?? {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
  };
}

interface DeploymentStatusView {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  collisionCount?: number;
  conditions?: { type: string; status: string; reason: string }[];
}

describe('Deployment and ReplicaSet controllers (wired to an in-memory API)', () => {
  let api: FakeApi;
  let clock: VirtualClock;
  let events: MemoryEventRecorder;
  let logger: MemoryLogger;
  let rsLagging: LaggingSource;
  let deployments: DeploymentController;
  let replicaSets: ReplicaSetController;
  let deployExecutor: ReturnType<typeof fakeDeploymentExecutor>;

  beforeEach(() => {
    api = new FakeApi();
    clock = new VirtualClock();
    events = new MemoryEventRecorder();
    logger = new MemoryLogger();
    rsLagging = new LaggingSource(api.informerFor(ReplicaSetInfo));
    deployExecutor = fakeDeploymentExecutor(api, clock);
    deployments = new DeploymentController({
      informers: { informerFor: (i) => (i.resource === 'replicasets' ? rsLagging : api.informerFor(i)) },
      executor: deployExecutor,
      clock,
      recorder: events,
      logger,
    });
    replicaSets = new ReplicaSetController({
      informers: api,
      executor: fakeReplicaSetExecutor(api, clock),
      clock,
      recorder: events,
      logger,
    });
    deployments.start();
    replicaSets.start();
  });
  afterEach(async () => {
    await Promise.all([deployments.stop(), replicaSets.stop()]);
  });

  const rsList = (): KubeObject[] => api.list(ReplicaSetInfo);
  const rsNamed = (name: string): KubeObject | undefined => api.find(ReplicaSetInfo, 'shop', name);
  const podsOf = (rs: KubeObject): KubeObject[] =>
    api.list(PodInfo).filter((p) => p.metadata.ownerReferences?.[0]?.uid === rs.metadata.uid);
  const spec = (o: KubeObject | undefined): { replicas: number } => o?.spec as { replicas: number };
  const status = (): DeploymentStatusView => api.find(DeploymentInfo, 'shop', 'web')?.status ?? {};
  const condition = (type: string): { status: string; reason: string } | undefined =>
    status().conditions?.find((c) => c.type === type);
  /** What kubectl rollout status waits for. */
  const rolledOut = (): boolean => {
    const d = api.find(DeploymentInfo, 'shop', 'web') as KubeObject;
    const s = status();
    const want = spec(d).replicas;
    return (
      (d.metadata.generation ?? 0) <= (s.observedGeneration ?? 0) &&
      condition('Progressing')?.reason !== 'ProgressDeadlineExceeded' &&
      (s.updatedReplicas ?? 0) === want &&
      (s.replicas ?? 0) === (s.updatedReplicas ?? 0) &&
      (s.availableReplicas ?? 0) === (s.updatedReplicas ?? 0)
    );
  };
  /** A fake kubelet: every pod not yet ready becomes Running and Ready now. */
  const kubelet = async (): Promise<void> => {
    for (const p of api.list(PodInfo)) if (!isPodReady(p)) await markPodRunning(api, p, clock.now());
  };

  it('creates one ReplicaSet named by the template hash and three pods, all owned and labelled', async () => {
    const d = api.create(DeploymentInfo, deployment(3));
    await clock.advance(100);
    const hash = computePodTemplateHash(podTemplate('nginx:1'));
    expect(rsList().map((r) => r.metadata.name)).toEqual([`web-${hash}`]);
    const rs = rsList()[0] as KubeObject;
    expect(rs.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'web',
        uid: d.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(rs.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '1' });
    const pods = podsOf(rs);
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.labels).toEqual({ app: 'web', 'pod-template-hash': hash });
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({
        kind: 'ReplicaSet',
        name: `web-${hash}`,
        controller: true,
      });
    }
    expect(api.find(DeploymentInfo, 'shop', 'web')?.metadata.annotations).toMatchObject({
      'deployment.kubernetes.io/revision': '1',
    });
    expect(status()).toMatchObject({
      observedGeneration: 1,
      replicas: 3,
      updatedReplicas: 3,
      unavailableReplicas: 3,
    });
    expect(rolledOut()).toBe(false);

    await kubelet();
    await clock.advance(100);
    expect(status()).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(condition('Available')).toMatchObject({ status: 'True', reason: 'MinimumReplicasAvailable' });
    expect(condition('Progressing')).toMatchObject({ status: 'True', reason: 'NewReplicaSetAvailable' });
    expect(rolledOut()).toBe(true);
    expect(events.events.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message)).toEqual([
      `Scaled up replica set web-${hash} from 0 to 3`,
    ]);
  });

  it('scales to 5 and back to 1, keeping the longest-ready pod', async () => {
    api.create(DeploymentInfo, deployment(3));
    await clock.advance(100);
    const rs = rsList()[0] as KubeObject;
    const [oldest, second] = podsOf(rs) as [KubeObject, KubeObject];
    await markPodRunning(api, oldest, clock.now() - 60_000, { nodeName: 'n1' });
    await markPodRunning(api, second, clock.now() - 1_000, { nodeName: 'n2' });

    await updateDeploymentSpec(api, 'shop', 'web', (s) => (s.replicas = 5));
    await clock.advance(100);
    expect(spec(rsNamed(rs.metadata.name ?? '')).replicas).toBe(5);
    expect(podsOf(rs)).toHaveLength(5);

    await updateDeploymentSpec(api, 'shop', 'web', (s) => (s.replicas = 1));
    await clock.advance(100);
    expect(podsOf(rs).map((p) => p.metadata.name)).toEqual([oldest.metadata.name]);
    expect(events.events.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message)).toEqual([
      `Scaled up replica set ${rs.metadata.name ?? ''} from 0 to 3`,
      `Scaled up replica set ${rs.metadata.name ?? ''} from 3 to 5`,
      `Scaled down replica set ${rs.metadata.name ?? ''} from 5 to 1`,
    ]);
    expect(status()).toMatchObject({ observedGeneration: 3, replicas: 1, updatedReplicas: 1 });
  });

  it('rolls out a new image within maxSurge and maxUnavailable, pods made ready by a fake kubelet', async () => {
    api.create(
      DeploymentInfo,
      deployment(4, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 1 } }),
    );
    await clock.advance(100);
    await kubelet();
    await clock.advance(100);
    expect(rolledOut()).toBe(true);
    const oldRs = rsList()[0] as KubeObject;

    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.template = podTemplate('nginx:2');
    });
    let maxPods = 0;
    let minReady = Infinity;
    for (let i = 0; i < 50 && !rolledOut(); i++) {
      await clock.advance(100);
      const pods = api.list(PodInfo);
      maxPods = Math.max(maxPods, pods.length);
      minReady = Math.min(minReady, pods.filter(isPodReady).length);
      await kubelet();
    }
    await clock.advance(100);
    expect(rolledOut()).toBe(true);
    expect(maxPods).toBe(5); // replicas + maxSurge
    expect(minReady).toBe(3); // replicas − maxUnavailable
    const newHash = computePodTemplateHash(podTemplate('nginx:2'));
    const newRs = rsNamed(`web-${newHash}`) as KubeObject;
    expect(spec(newRs).replicas).toBe(4);
    expect(spec(rsNamed(oldRs.metadata.name ?? '')).replicas).toBe(0);
    expect(newRs.metadata.annotations).toMatchObject({ 'deployment.kubernetes.io/revision': '2' });
    expect(podsOf(newRs).every((p) => p.metadata.labels?.['pod-template-hash'] === newHash)).toBe(true);
    expect(status()).toMatchObject({
      observedGeneration: 2,
      replicas: 4,
      updatedReplicas: 4,
      availableReplicas: 4,
    });
    const messages = events.events.filter((e) => e.reason === 'ScalingReplicaSet').map((e) => e.message);
    expect(messages).toContain(`Scaled up replica set web-${newHash} from 0 to 1`);
    expect(messages).toContain(`Scaled down replica set ${oldRs.metadata.name ?? ''} from 1 to 0`);
  });

  it('Recreate: every old pod is gone before the first new one is created', async () => {
    api.create(DeploymentInfo, deployment(3, { type: 'Recreate' }));
    await clock.advance(100);
    await kubelet();
    await clock.advance(100);
    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.template = podTemplate('nginx:2');
    });
    const images = (): string[] =>
      api
        .list(PodInfo)
        .map(
          (p) => ((p.spec as { containers: { image: string }[] }).containers[0] as { image: string }).image,
        );
    let mixed = false;
    for (let i = 0; i < 30 && !rolledOut(); i++) {
      await clock.advance(50);
      const seen = new Set(images());
      if (seen.has('nginx:1') && seen.has('nginx:2')) mixed = true;
      await kubelet();
    }
    expect(rolledOut()).toBe(true);
    expect(mixed).toBe(false);
    expect(images()).toEqual(['nginx:2', 'nginx:2', 'nginx:2']);
  });

  it('replaces a deleted pod and reports the Deployment whole again', async () => {
    api.create(DeploymentInfo, deployment(3));
    await clock.advance(100);
    await kubelet();
    await clock.advance(100);
    const victim = api.list(PodInfo)[0] as KubeObject;
    await api.delete(PodInfo, 'shop', victim.metadata.name ?? '');
    await clock.advance(100);
    expect(status().availableReplicas).toBe(2);
    expect(api.list(PodInfo)).toHaveLength(3);
    await kubelet();
    await clock.advance(100);
    expect(status()).toMatchObject({ replicas: 3, availableReplicas: 3 });
    expect(api.list(PodInfo).map((p) => p.metadata.name)).not.toContain(victim.metadata.name);
  });

  it('a paused Deployment scales but does not roll out until resumed', async () => {
    api.create(DeploymentInfo, deployment(2));
    await clock.advance(100);
    await updateDeploymentSpec(api, 'shop', 'web', (s) => {
      s.paused = true;
      s.template = podTemplate('nginx:2');
    });
    await clock.advance(100);
    expect(condition('Progressing')).toMatchObject({ status: 'Unknown', reason: 'DeploymentPaused' });
    await updateDeploymentSpec(api, 'shop', 'web', (s) => (s.replicas = 3));
    await clock.advance(100);
    expect(rsList()).toHaveLength(1);
    expect(api.list(PodInfo)).toHaveLength(3);
    await updateDeploymentSpec(api, 'shop', 'web', (s) => (s.paused = false));
    await clock.advance(100);
    expect(rsList()).toHaveLength(2);
  });

  it('reports ProgressDeadlineExceeded when new pods never become available', async () => {
    api.create(DeploymentInfo, deployment(2));
    await clock.advance(100);
    expect(condition('Progressing')?.reason).not.toBe('ProgressDeadlineExceeded');
    await clock.advance(601_000);
    expect(condition('Progressing')).toMatchObject({ status: 'False', reason: 'ProgressDeadlineExceeded' });
    expect(rolledOut()).toBe(false);
  });

  it('a ReplicaSet cache that is behind does not create a second ReplicaSet', async () => {
    let attempts = 0;
    const create = deployExecutor.createReplicaSet;
    deployExecutor.createReplicaSet = (ns, rs) => {
      attempts++;
      return create(ns, rs);
    };
    rsLagging.freeze();
    api.create(DeploymentInfo, deployment(2));
    await clock.advance(100);
    expect(attempts).toBeGreaterThan(1); // answered AlreadyExists: ours, planned again with it
    // The Deployment was synced again (its own status write) while the cache still showed nothing.
    expect(rsList()).toHaveLength(1);
    rsLagging.catchUp();
    await clock.advance(100);
    expect(rsList()).toHaveLength(1);
    expect(api.list(PodInfo)).toHaveLength(2);
    expect(logger.find('sync failed', 'warn')).toEqual([]);
  });

  describe('a ReplicaSet write that meets a newer ReplicaSet (Conflict)', () => {
    let conflicts: number;
    let rsName: string;
    beforeEach(async () => {
      api.create(DeploymentInfo, deployment(3));
      await clock.advance(100);
      await kubelet();
      await clock.advance(100);
      rsName = rsList()[0]?.metadata.name ?? '';
      conflicts = 0;
      const update = deployExecutor.updateReplicaSet;
      deployExecutor.updateReplicaSet = async (rs) => {
        try {
          const written = await update(rs);
          rsLagging.catchUp(); // the informer brings the write (and what came before it)
          return written;
        } catch (err) {
          if (err instanceof ApiError && err.reason === 'Conflict') conflicts++;
          throw err;
        }
      };
      // The Deployment controller's cache stops here; the live ReplicaSet moves on.
      rsLagging.freeze();
    });

    it('only its status moved: the same change is written on the live object in the same sync', async () => {
      await api.patch(ReplicaSetInfo, 'shop', rsName, {
        status: { fullyLabeledReplicas: 3, readyReplicas: 3 },
      });
      await updateDeploymentSpec(api, 'shop', 'web', (s) => {
        s.replicas = 5;
      });
      await clock.advance(10);
      expect(conflicts).toBe(1);
      expect(spec(rsNamed(rsName)).replicas).toBe(5);
      expect(logger.find('sync failed', 'warn')).toEqual([]);
    });

    it('its labels changed: the sync fails and is planned again from the newer ReplicaSet', async () => {
      await api.patch(ReplicaSetInfo, 'shop', rsName, { metadata: { labels: { app: 'web', team: 'x' } } });
      await updateDeploymentSpec(api, 'shop', 'web', (s) => {
        s.replicas = 5;
      });
      await clock.advance(10);
      expect(conflicts).toBeGreaterThan(0);
      expect(spec(rsNamed(rsName)).replicas).toBe(3);
      expect(logger.find('sync failed', 'warn').length).toBeGreaterThan(0);
      rsLagging.catchUp();
      await clock.advance(1000);
      expect(spec(rsNamed(rsName)).replicas).toBe(5);
    });
  });

  it('a name taken by a foreign ReplicaSet bumps collisionCount and uses another hash', async () => {
    const hash = computePodTemplateHash(podTemplate('nginx:1'));
    api.create(ReplicaSetInfo, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: `web-${hash}`, namespace: 'shop', labels: { app: 'other' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'other' } },
        template: { metadata: { labels: { app: 'other' } } },
      },
    });
    api.create(DeploymentInfo, deployment(1));
    await clock.advance(1000);
    expect(status().collisionCount).toBe(1);
    const ours = rsList().filter((r) => r.metadata.ownerReferences !== undefined);
    expect(ours.map((r) => r.metadata.name)).toEqual([
      `web-${computePodTemplateHash(podTemplate('nginx:1'), 1)}`,
    ]);
  });

  it('a failed ReplicaSet create is reported as ReplicaSetCreateError, then retried', async () => {
    deployExecutor.createFailures.push(new ApiError('Forbidden', 'replicasets "web" is forbidden: quota'));
    api.create(DeploymentInfo, deployment(1));
    await clock.advance(1);
    const hash = computePodTemplateHash(podTemplate('nginx:1'));
    expect(events.events.filter((e) => e.reason === 'ReplicaSetCreateError').map((e) => e.message)).toEqual([
      `Failed to create new replica set "web-${hash}": replicasets "web" is forbidden: quota`,
    ]);
    expect(
      api.writes.some(
        (w) =>
          w.verb === 'update' &&
          w.resource === 'deployments' &&
          JSON.stringify(w.detail).includes('"reason":"ReplicaSetCreateError"'),
      ),
    ).toBe(true);
    await clock.advance(1000);
    expect(rsList()).toHaveLength(1);
    expect(condition('Progressing')).toMatchObject({ status: 'True' });
  });

  it('adopts a matching orphan ReplicaSet instead of creating one', async () => {
    const hash = computePodTemplateHash(podTemplate('nginx:1'));
    const tpl = podTemplate('nginx:1') as { metadata: { labels: Record<string, string> } };
    tpl.metadata.labels['pod-template-hash'] = hash;
    api.create(ReplicaSetInfo, {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'orphan', namespace: 'shop', labels: { app: 'web' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web', 'pod-template-hash': hash } },
        template: tpl,
      },
    });
    const d = api.create(DeploymentInfo, deployment(2));
    await clock.advance(100);
    expect(rsList().map((r) => r.metadata.name)).toEqual(['orphan']);
    expect(rsNamed('orphan')?.metadata.ownerReferences?.[0]?.uid).toBe(d.metadata.uid);
    const s = rsNamed('orphan')?.status;
    expect(isObject(s) ? s.replicas : undefined).toBe(2);
  });
});
