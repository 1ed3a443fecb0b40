// The Deployment and ReplicaSet controllers as the server runs them (startControllers), against a real
// in-process control plane: HTTPS, the SQLite store, informers over watch. A fake kubelet marks pods
// Running and Ready through the status subresource; there is no scheduler, so pods stay unbound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import { eventually } from '../../testkit/eventually.js';
import { formatTime, isPodReady } from '../replicaset/pods.js';

const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const rsRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };
const ns = 'default';

let cluster: TestCluster;
let client: ApiClient;

beforeAll(async () => {
  cluster = await startTestCluster();
  client = new ApiClient({
    server: cluster.url,
    ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
    token: cluster.adminToken,
  });
});
afterAll(async () => {
  await client.close();
  await cluster.destroy();
});

/** Pods of the Deployment `name` (not terminating). */
async function pods(app: string): Promise<KubeObject[]> {
  const list = await client.list(podRef, ns, { labelSelector: `app=${app}` });
  return list.items.filter((p) => p.metadata.deletionTimestamp === undefined);
}

/** A fake kubelet: every pod of `app` not yet ready becomes Running and Ready. */
async function kubelet(app: string): Promise<void> {
  for (const p of await pods(app)) {
    if (isPodReady(p)) continue;
    const now = formatTime(Date.now());
    try {
      await client.updateStatus(podRef, ns, {
        ...p,
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
          containerStatuses: [{ name: 'c', image: 'busybox', imageID: '', ready: true, restartCount: 0 }],
        },
      });
    } catch (err) {
      // Changed or gone meanwhile: the caller's next round sees the new state.
      if (!(isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound'))) throw err;
    }
  }
}

function deployment(name: string, replicas: number, image: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'c', image }] },
      },
    },
  };
}

describe('Deployment controller in the control plane', () => {
  it('creates a ReplicaSet and pods owned through it, and reports the rollout complete once pods are ready', async () => {
    const d = await client.create(deployRef, ns, deployment('web', 3, 'busybox:1'));
    const rs = await eventually(async () => {
      const list = (await client.list(rsRef, ns, { labelSelector: 'app=web' })).items;
      expect(list).toHaveLength(1);
      return list[0] as KubeObject;
    });
    const hash = rs.metadata.labels?.['pod-template-hash'] ?? '';
    expect(rs.metadata.name).toBe(`web-${hash}`);
    expect(rs.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Deployment',
      uid: d.metadata.uid,
      controller: true,
    });
    const ps = await eventually(async () => {
      const list = await pods('web');
      expect(list).toHaveLength(3);
      return list;
    });
    for (const p of ps) {
      expect(p.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', uid: rs.metadata.uid });
      expect(p.metadata.labels?.['pod-template-hash']).toBe(hash);
      expect(p.metadata.name?.startsWith(`web-${hash}-`)).toBe(true);
    }
    await eventually(async () => {
      await kubelet('web');
      const cur = await client.get(deployRef, ns, 'web');
      expect(cur.status).toMatchObject({
        observedGeneration: 1,
        replicas: 3,
        updatedReplicas: 3,
        readyReplicas: 3,
        availableReplicas: 3,
      });
      const progressing = (cur.status as { conditions: { type: string; reason: string }[] }).conditions.find(
        (c) => c.type === 'Progressing',
      );
      expect(progressing?.reason).toBe('NewReplicaSetAvailable');
    });
    const events = await client.list({ apiVersion: 'v1', kind: 'Event' }, ns);
    const messages = events.items.map((e) => `${String(e.reason)}: ${String(e.message)}`);
    expect(messages).toContain(`ScalingReplicaSet: Scaled up replica set web-${hash} from 0 to 3`);
    expect(messages.filter((m) => m.startsWith('SuccessfulCreate: Created pod: web-'))).toHaveLength(3);
  });

  it('scales through the scale subresource, and replaces a deleted pod', async () => {
    await client.updateScale(deployRef, ns, 'web', { spec: { replicas: 5 } });
    await eventually(async () => expect(await pods('web')).toHaveLength(5));
    const scale = await client.getScale(deployRef, ns, 'web');
    expect(scale.spec).toEqual({ replicas: 5 });
    const victim = (await pods('web'))[0] as KubeObject;
    await client.delete(podRef, ns, victim.metadata.name ?? '');
    await eventually(async () => {
      const names = (await pods('web')).map((p) => p.metadata.name);
      expect(names).toHaveLength(5);
      expect(names).not.toContain(victim.metadata.name);
    });
  });

  it('rolls a new image out to a second ReplicaSet and scales the first to zero', async () => {
    const cur = await client.get(deployRef, ns, 'web');
    const spec = cur.spec as { template: { spec: { containers: { image: string }[] } } };
    (spec.template.spec.containers[0] as { image: string }).image = 'busybox:2';
    await client.update(deployRef, ns, cur);
    await eventually(
      async () => {
        await kubelet('web');
        const list = (await client.list(rsRef, ns, { labelSelector: 'app=web' })).items;
        expect(list).toHaveLength(2);
        const sizes = list
          .map(
            (r) =>
              `${r.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? ''}:${(r.spec as { replicas: number }).replicas}`,
          )
          .sort();
        expect(sizes).toEqual(['1:0', '2:5']);
        const d = await client.get(deployRef, ns, 'web');
        expect(d.status).toMatchObject({
          observedGeneration: 3,
          replicas: 5,
          updatedReplicas: 5,
          availableReplicas: 5,
        });
      },
      30_000,
      200,
    );
  });
});

/** A fake kubelet where pods of an image containing "bad" crash-loop and the others become ready. */
async function crashingKubelet(app: string): Promise<void> {
  for (const p of await pods(app)) {
    const image = (p.spec as { containers: { image: string }[] }).containers[0]?.image ?? '';
    if (!image.includes('bad')) continue;
    if ((p.status as { containerStatuses?: unknown[] } | undefined)?.containerStatuses !== undefined)
      continue;
    try {
      await client.updateStatus(podRef, ns, {
        ...p,
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: formatTime(Date.now()) }],
          containerStatuses: [
            {
              name: 'c',
              image,
              imageID: '',
              ready: false,
              restartCount: 1,
              state: {
                waiting: { reason: 'CrashLoopBackOff', message: 'back-off restarting failed container' },
              },
            },
          ],
        },
      });
    } catch (err) {
      if (!(isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound'))) throw err;
    }
  }
  for (const p of await pods(app)) {
    const image = (p.spec as { containers: { image: string }[] }).containers[0]?.image ?? '';
    if (!image.includes('bad') && !isPodReady(p)) await kubelet(app);
  }
}

async function setImage(name: string, image: string): Promise<void> {
  const cur = await client.get(deployRef, ns, name);
  const spec = cur.spec as { template: { spec: { containers: { image: string }[] } } };
  (spec.template.spec.containers[0] as { image: string }).image = image;
  await client.update(deployRef, ns, cur);
}

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}
const conditionOf = (d: KubeObject, type: string): Cond | undefined =>
  (d.status as { conditions?: Cond[] } | undefined)?.conditions?.find((c) => c.type === type);

describe('automatic rollback and canary through the API server', () => {
  it('a crash-looping image is rolled back by the controller, with an event, a condition and a mark', async () => {
    const d = deployment('rb', 3, 'busybox:1');
    d.metadata.annotations = { 'flotilla.dev/rollback-on-failure': 'true' };
    await client.create(deployRef, ns, d);
    await eventually(
      async () => {
        await kubelet('rb');
        const cur = await client.get(deployRef, ns, 'rb');
        expect(conditionOf(cur, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
      },
      30_000,
      200,
    );
    await setImage('rb', 'busybox:bad');
    await eventually(
      async () => {
        await crashingKubelet('rb');
        const cur = await client.get(deployRef, ns, 'rb');
        const image = (cur.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec
          .containers[0]?.image;
        expect(image).toBe('busybox:1');
        expect(cur.metadata.annotations?.['flotilla.dev/failed-template-hash']).toMatch(/^[a-z0-9]+$/);
        expect(conditionOf(cur, 'RolledBack')).toMatchObject({ status: 'True', reason: 'AutomaticRollback' });
        expect(cur.status).toMatchObject({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 });
        expect((await pods('rb')).length).toBe(3);
      },
      30_000,
      200,
    );
    const events = (await client.list({ apiVersion: 'v1', kind: 'Event' }, ns)).items.filter(
      (e) => (e as { reason?: string }).reason === 'RolledBack',
    );
    expect(events.length).toBeGreaterThan(0);
    expect((events[0] as { message?: string; type?: string }).message).toMatch(
      /^Rolled back to revision 1 \(replica set rb-\w+\): revision 2 \(replica set rb-\w+\) has \d failing pods? \(budget 0\)/,
    );
    expect((events[0] as { type?: string }).type).toBe('Warning');
  });

  it('canary 1 of 4: one new pod and paused; resume completes', async () => {
    const d = deployment('cn', 4, 'busybox:1');
    d.metadata.annotations = { 'flotilla.dev/canary': '1' };
    await client.create(deployRef, ns, d);
    await eventually(
      async () => {
        await kubelet('cn');
        const cur = await client.get(deployRef, ns, 'cn');
        expect(conditionOf(cur, 'Progressing')?.reason).toBe('NewReplicaSetAvailable');
      },
      30_000,
      200,
    );
    await setImage('cn', 'busybox:2');
    await eventually(
      async () => {
        await kubelet('cn');
        const cur = await client.get(deployRef, ns, 'cn');
        expect((cur.spec as { paused?: boolean }).paused).toBe(true);
        expect(conditionOf(cur, 'Canary')).toMatchObject({ status: 'True', reason: 'CanaryPaused' });
        const images = (await pods('cn')).map(
          (p) => (p.spec as { containers: { image: string }[] }).containers[0]?.image,
        );
        expect(images.filter((i) => i === 'busybox:2')).toHaveLength(1);
        expect(images.filter((i) => i === 'busybox:1')).toHaveLength(3);
      },
      30_000,
      200,
    );
    await client.patch(deployRef, ns, 'cn', 'merge', { spec: { paused: false } });
    await eventually(
      async () => {
        await kubelet('cn');
        const cur = await client.get(deployRef, ns, 'cn');
        expect(cur.status).toMatchObject({ replicas: 4, updatedReplicas: 4, availableReplicas: 4 });
        expect(conditionOf(cur, 'Canary')).toMatchObject({ status: 'False', reason: 'CanaryPromoted' });
      },
      30_000,
      200,
    );
  });
});
