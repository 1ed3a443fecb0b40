// Deletion semantics end to end on a running control plane: ownerReferences with background, foreground
// and orphan propagation (garbage collector), namespace termination, event expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepEvents } from '../../src/apiserver/background.js';
import { startTestCluster, type TestCluster } from '../../src/testkit/cluster.js';
import { eventually } from '../../src/testkit/eventually.js';
import { callerFor, type Caller } from '../../src/testkit/http.js';

let cluster: TestCluster;
let api: Caller;
beforeAll(async () => {
  cluster = await startTestCluster({ store: 'sqlite' });
  api = callerFor(cluster);
});
afterAll(async () => {
  await api.close();
  await cluster.destroy();
});

const labels = { app: 'gc' };
const template = { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'busybox:1' }] } };

async function createChain(ns: string, name: string): Promise<{ deploy: any; rs: any; pod: any }> {
  const deploy = await api.call('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: labels }, template },
  });
  expect(deploy.status).toBe(201);
  const owner = (o: any, kind: string, apiVersion: string) => ({
    apiVersion,
    kind,
    name: o.metadata.name,
    uid: o.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  });
  const rs = await api.call('POST', `/apis/apps/v1/namespaces/${ns}/replicasets`, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    // Labels matching the Deployment's selector, as a Deployment's own ReplicaSets have: without them the
    // Deployment controller releases the ReplicaSet (upstream does the same), racing the deletion.
    metadata: {
      name: `${name}-abc`,
      labels,
      ownerReferences: [owner(deploy.body, 'Deployment', 'apps/v1')],
    },
    spec: { replicas: 1, selector: { matchLabels: labels }, template },
  });
  expect(rs.status).toBe(201);
  const pod = await api.call('POST', `/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${name}-abc-x1`, labels, ownerReferences: [owner(rs.body, 'ReplicaSet', 'apps/v1')] },
    spec: template.spec,
  });
  expect(pod.status).toBe(201);
  return { deploy: deploy.body, rs: rs.body, pod: pod.body };
}

describe('garbage collection', () => {
  it('background: deleting the owner removes its dependents', async () => {
    await createChain('default', 'bg');
    const del = await api.call('DELETE', '/apis/apps/v1/namespaces/default/deployments/bg');
    expect(del.status).toBe(200);
    await eventually(async () => {
      expect((await api.call('GET', '/apis/apps/v1/namespaces/default/replicasets/bg-abc')).status).toBe(404);
      expect((await api.call('GET', '/api/v1/namespaces/default/pods/bg-abc-x1')).status).toBe(404);
    }, 20_000);
  });

  it('foreground: the owner stays until its dependents are gone', async () => {
    await createChain('default', 'fg');
    const del = await api.call('DELETE', '/apis/apps/v1/namespaces/default/deployments/fg', {
      propagationPolicy: 'Foreground',
    });
    expect(del.body.metadata.deletionTimestamp).toBeDefined();
    await eventually(async () => {
      expect((await api.call('GET', '/api/v1/namespaces/default/pods/fg-abc-x1')).status).toBe(404);
      expect((await api.call('GET', '/apis/apps/v1/namespaces/default/replicasets/fg-abc')).status).toBe(404);
      expect((await api.call('GET', '/apis/apps/v1/namespaces/default/deployments/fg')).status).toBe(404);
    }, 20_000);
  });

  it('orphan: dependents stay and lose their owner reference', async () => {
    // The chain is the one the controllers build: the Deployment's ReplicaSet and its Pod.
    const own = { app: 'gc-orphan' };
    const deploy = await api.call('POST', '/apis/apps/v1/namespaces/default/deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'or' },
      spec: {
        replicas: 1,
        selector: { matchLabels: own },
        template: { metadata: { labels: own }, spec: template.spec },
      },
    });
    expect(deploy.status).toBe(201);
    const selector = encodeURIComponent('app=gc-orphan');
    let rsName = '';
    let podName = '';
    await eventually(async () => {
      const rss = await api.call(
        'GET',
        `/apis/apps/v1/namespaces/default/replicasets?labelSelector=${selector}`,
      );
      expect(rss.body.items).toHaveLength(1);
      expect(rss.body.items[0].metadata.ownerReferences[0].uid).toBe(deploy.body.metadata.uid);
      rsName = rss.body.items[0].metadata.name;
      const pods = await api.call('GET', `/api/v1/namespaces/default/pods?labelSelector=${selector}`);
      expect(pods.body.items).toHaveLength(1);
      podName = pods.body.items[0].metadata.name;
    }, 20_000);
    const rsBefore = await api.call('GET', `/apis/apps/v1/namespaces/default/replicasets/${rsName}`);

    await api.call('DELETE', '/apis/apps/v1/namespaces/default/deployments/or', {
      propagationPolicy: 'Orphan',
    });
    await eventually(async () => {
      expect((await api.call('GET', '/apis/apps/v1/namespaces/default/deployments/or')).status).toBe(404);
    }, 20_000);
    const rs = await api.call('GET', `/apis/apps/v1/namespaces/default/replicasets/${rsName}`);
    expect(rs.status).toBe(200);
    expect(rs.body.metadata.uid).toBe(rsBefore.body.metadata.uid);
    expect(rs.body.metadata.ownerReferences ?? []).toEqual([]);
    const pod = await api.call('GET', `/api/v1/namespaces/default/pods/${podName}`);
    expect(pod.status).toBe(200);
    expect(pod.body.metadata.ownerReferences[0].uid).toBe(rsBefore.body.metadata.uid);
  });
});

describe('namespace termination', () => {
  it('empties a deleted namespace, refuses new content meanwhile, then removes it', async () => {
    // A finalizer of our own holds the namespace in Terminating so the test can look at that state.
    await api.call('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'doomed', finalizers: ['example.com/hold'] },
    });
    await createChain('doomed', 'web');
    await api.call('POST', '/api/v1/namespaces/doomed/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cfg' },
    });
    const del = await api.call('DELETE', '/api/v1/namespaces/doomed');
    expect(del.body.status.phase).toBe('Terminating');
    const refused = await api.call('POST', '/api/v1/namespaces/doomed/configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'late' },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('being terminated');
    await eventually(async () => {
      expect((await api.call('GET', '/api/v1/namespaces/doomed/configmaps')).body.items).toEqual([]);
      expect((await api.call('GET', '/apis/apps/v1/namespaces/doomed/deployments')).body.items).toEqual([]);
      expect((await api.call('GET', '/api/v1/namespaces/doomed/pods')).body.items).toEqual([]);
      const ns = await api.call('GET', '/api/v1/namespaces/doomed');
      expect(ns.body.spec.finalizers ?? []).toEqual([]);
    }, 30_000);
    const release = await api.call(
      'PATCH',
      '/api/v1/namespaces/doomed',
      { metadata: { finalizers: null } },
      'application/merge-patch+json',
    );
    expect(release.status).toBe(200);
    expect((await api.call('GET', '/api/v1/namespaces/doomed')).status).toBe(404);
  });
});

describe('events', () => {
  it('expire after their TTL', async () => {
    const old = new Date(Date.now() - 2 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const fresh = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const ev = (name: string, at: string) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name },
      involvedObject: { kind: 'Pod', namespace: 'default', name: 'p' },
      reason: 'Test',
      message: 'hello',
      type: 'Normal',
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    });
    expect((await api.call('POST', '/api/v1/namespaces/default/events', ev('old-event', old))).status).toBe(
      201,
    );
    expect((await api.call('POST', '/api/v1/namespaces/default/events', ev('new-event', fresh))).status).toBe(
      201,
    );
    const removed = await sweepEvents(cluster.api, 3600);
    expect(removed).toBeGreaterThanOrEqual(1);
    expect((await api.call('GET', '/api/v1/namespaces/default/events/old-event')).status).toBe(404);
    expect((await api.call('GET', '/api/v1/namespaces/default/events/new-event')).status).toBe(200);
    const byObject = await api.call(
      'GET',
      '/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dp,involvedObject.kind%3DPod',
    );
    expect(byObject.body.items.map((e: any) => e.metadata.name)).toEqual(['new-event']);
  });
});
