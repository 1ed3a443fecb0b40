// The EndpointSlice and Endpoints controllers as the server runs them (startControllers), against a
// real in-process control plane over HTTPS. No agent runs: the test plays the kubelet, writing pod IPs
// and Ready conditions through the status subresource. The Node object exists (no agent behind it) so
// that deleting a pod bound to it is graceful: the pod stays, with a deletionTimestamp.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import { eventually } from '../../testkit/eventually.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const sliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };
const endpointsRef = { apiVersion: 'v1', kind: 'Endpoints' };
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

async function runPod(name: string, ip: string, ready: boolean): Promise<void> {
  const pod = await client.create(podRef, ns, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'web' } },
    spec: {
      nodeName: 'n1',
      terminationGracePeriodSeconds: 600,
      containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
  });
  await client.updateStatus(podRef, ns, {
    ...pod,
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  });
}

async function slices(service: string): Promise<KubeObject[]> {
  return (await client.list(sliceRef, ns, { labelSelector: `kubernetes.io/service-name=${service}` })).items;
}

type Ep = {
  addresses: string[];
  conditions: Record<string, boolean>;
  targetRef?: { name: string };
  zone?: string;
};
async function endpointsByPod(service: string): Promise<Map<string, Ep>> {
  const out = new Map<string, Ep>();
  for (const s of await slices(service))
    for (const e of (s.endpoints ?? []) as Ep[]) out.set(e.targetRef?.name ?? '', e);
  return out;
}

async function legacy(service: string): Promise<KubeObject | undefined> {
  return (await client.list(endpointsRef, ns)).items.find((e) => e.metadata.name === service);
}

describe('EndpointSlice and Endpoints controllers in the control plane', () => {
  it('lists pods as endpoints, turns a deleting pod terminating, and cleans up with the Service', async () => {
    await client.create(nodeRef, undefined, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'topology.kubernetes.io/zone': 'zone-a' } },
      spec: {},
    });
    const svc = await client.create(svcRef, ns, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', labels: { team: 'storefront' } },
      spec: { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http' }] },
    });
    await runPod('web-a', '10.42.0.11', true);
    await runPod('web-b', '10.42.0.12', true);
    await runPod('web-c', '10.42.0.13', false);

    const [slice] = await eventually(async () => {
      const list = await slices('web');
      expect(list).toHaveLength(1);
      expect(list[0]?.endpoints).toHaveLength(3);
      return list;
    });
    expect(slice?.metadata.name).toMatch(/^web-/);
    expect(slice?.metadata.labels).toEqual({
      team: 'storefront',
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.flotilla.io',
    });
    expect(slice?.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'v1',
        kind: 'Service',
        name: 'web',
        uid: svc.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(slice?.addressType).toBe('IPv4');
    expect(slice?.ports).toEqual([{ name: 'web', port: 8080, protocol: 'TCP' }]);
    const eps = await endpointsByPod('web');
    expect(eps.get('web-a')).toMatchObject({
      addresses: ['10.42.0.11'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'n1',
      zone: 'zone-a',
    });
    expect(eps.get('web-c')?.conditions).toEqual({ ready: false, serving: false, terminating: false });

    const ep = await eventually(async () => {
      const e = await legacy('web');
      const subsets = e?.subsets as
        | { addresses?: { ip: string }[]; notReadyAddresses?: { ip: string }[]; ports: unknown[] }[]
        | undefined;
      expect(subsets?.[0]?.addresses?.map((a) => a.ip)).toEqual(['10.42.0.11', '10.42.0.12']);
      expect(subsets?.[0]?.notReadyAddresses?.map((a) => a.ip)).toEqual(['10.42.0.13']);
      expect(subsets?.[0]?.ports).toEqual([{ name: 'web', port: 8080, protocol: 'TCP' }]);
      return e as KubeObject;
    });
    expect(ep.metadata.labels).toEqual({ team: 'storefront' });

    // A Service change that alters no endpoint (an annotation) syncs without rewriting anything: what the
    // API server stored reads back equal to what the controllers want.
    await client.patch(svcRef, ns, 'web', 'merge', { metadata: { annotations: { note: 'touched' } } });
    await client.patch(svcRef, ns, 'web', 'merge', { metadata: { annotations: { note: 'touched again' } } });
    await new Promise((r) => setTimeout(r, 300));
    expect((await slices('web'))[0]?.metadata.resourceVersion).toBe(slice?.metadata.resourceVersion);
    expect((await legacy('web'))?.metadata.resourceVersion).toBe(ep.metadata.resourceVersion);

    // Graceful deletion: the pod remains with a deletionTimestamp; its endpoint stops being ready.
    await client.delete(podRef, ns, 'web-a');
    const deleting = await client.get(podRef, ns, 'web-a');
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    await eventually(async () => {
      expect((await endpointsByPod('web')).get('web-a')?.conditions).toEqual({
        ready: false,
        serving: true,
        terminating: true,
      });
    });
    await eventually(async () => {
      const e = (await legacy('web')) as KubeObject;
      expect(JSON.stringify(e.subsets)).not.toContain('10.42.0.11');
    });

    await client.delete(svcRef, ns, 'web');
    await eventually(async () => {
      expect(await slices('web')).toEqual([]);
      expect(await legacy('web')).toBeUndefined();
    });
  });

  it('a Service without a selector keeps the slices its user writes', async () => {
    await client.create(svcRef, ns, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'external' },
      spec: { ports: [{ port: 80 }] },
    });
    await client.create(sliceRef, ns, {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'external-1', labels: { 'kubernetes.io/service-name': 'external' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.0.2.10'] }],
      ports: [{ port: 80 }],
    });
    // A selected Service created afterwards shows the controllers are running and caught up.
    await client.create(svcRef, ns, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'marker' },
      spec: { selector: { app: 'none' }, ports: [{ port: 80 }] },
    });
    await eventually(async () => expect(await slices('marker')).toHaveLength(1));
    const list = await slices('external');
    expect(list.map((s) => s.metadata.name)).toEqual(['external-1']);
    expect(await legacy('external')).toBeUndefined();
  });
});
