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
