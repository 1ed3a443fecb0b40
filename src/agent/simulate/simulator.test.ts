// The simulator shell against an in-process API server (memory store): registration, leases, pods,
// deletion, resume without restarts, foreign nodes, removal.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import { eventually } from '../../testkit/eventually.js';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';
import { periodicWorkers, removeSimulatedNodes, NodeSimulator, type SimulatorOptions } from './simulator.js';
import type { SimFleetSpec } from './nodes.js';

const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };

let server: TestServer;
let client: ApiClient;
const running: NodeSimulator[] = [];

function fleet(prefix: string, count: number): SimFleetSpec {
  return {
    count,
    prefix,
    zones: 2,
    cpuMilli: 2000,
    memoryBytes: 4 * 1024 ** 3,
    ephemeralStorageBytes: 10 * 1024 ** 3,
    maxPods: 110,
    labels: {},
    podRange: '10.128.0.0/9',
    agentPort: 10250,
    arch: 'amd64',
    agentVersion: 'v0.0.0-test',
  };
}

async function startSim(
  prefix: string,
  count: number,
  extra: Partial<SimulatorOptions> = {},
): Promise<NodeSimulator> {
  const sim = new NodeSimulator({
    client,
    fleet: fleet(prefix, count),
    leaseIntervalMs: 500,
    statusIntervalMs: 2000,
    podStartDelayMs: 100,
    tickMs: 20,
    log: () => undefined,
    ...extra,
  });
  running.push(sim);
  await sim.start();
  return sim;
}

function pod(name: string, nodeName: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName, containers: [{ name: 'main', image: 'nginx:1.25' }], ...extra },
  };
}

async function getPod(name: string): Promise<any> {
  return client.get(podRef, 'default', name);
}

beforeAll(async () => {
  server = await startTestServer();
  client = new ApiClient({ server: server.url });
  await client.create({ apiVersion: 'v1', kind: 'Namespace' }, undefined, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'kube-node-lease' },
  });
});

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

describe('periodicWorkers', () => {
  it.each([
    [20, 10_000, 16, 16], // small fleets: the configured concurrency
    [1000, 10_000, 16, 25], // 100 renewals/s at 250 ms each
    [5000, 10_000, 16, 125],
    [5000, 60_000, 4, 21], // status reports every minute
    [100_000, 1_000, 16, 256], // capped
  ])('%i nodes every %i ms, at least %i: %i in flight', (nodes, interval, min, expected) => {
    expect(periodicWorkers(nodes, interval, min)).toBe(expected);
  });
});

describe('NodeSimulator', () => {
  it('registers Ready nodes with zones and renews their leases', async () => {
    const sim = await startSim('reg', 4);
    const nodes = (
      await client.list(nodeRef, undefined, { labelSelector: 'flotilla.dev/simulated=true' })
    ).items
      .filter((n) => n.metadata.name?.startsWith('reg-'))
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '')) as any[];
    expect(nodes.map((n) => [n.metadata.name, n.metadata.labels['topology.kubernetes.io/zone']])).toEqual([
      ['reg-0', 'zone-0'],
      ['reg-1', 'zone-1'],
      ['reg-2', 'zone-0'],
      ['reg-3', 'zone-1'],
    ]);
    for (const n of nodes)
      expect(n.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    expect(sim.stats()).toMatchObject({ nodes: 4, created: 4, resumed: 0 });
    const first = (await client.get(leaseRef, 'kube-node-lease', 'reg-2')) as any;
    expect(first.spec).toMatchObject({ holderIdentity: 'reg-2', leaseDurationSeconds: 2 });
    expect(first.metadata.ownerReferences[0]).toMatchObject({ kind: 'Node', name: 'reg-2' });
    await eventually(async () => {
      const now = (await client.get(leaseRef, 'kube-node-lease', 'reg-2')) as any;
      expect(now.spec.renewTime).not.toBe(first.spec.renewTime);
    }, 5000);
  });

  it('runs a pod bound to a simulated node, leaves other pods alone, and finishes a deletion', async () => {
    await startSim('run', 3);
    await client.create(podRef, 'default', pod('sim-web', 'run-1'));
    await client.create(podRef, 'default', pod('elsewhere', 'real-node'));
    const p = await eventually(async () => {
      const p = await getPod('sim-web');
      expect(p.status.phase).toBe('Running');
      return p;
    }, 5000);
    expect(p.status.podIP).toMatch(/^10\.128\.1\.\d+$/);
    expect(p.status.hostIP).toBe('127.128.1.1');
    expect(p.status.containerStatuses[0]).toMatchObject({ ready: true, started: true, restartCount: 0 });
    expect((await getPod('elsewhere')).status.phase).toBe('Pending');

    const began = Date.now();
    await client.delete(podRef, 'default', 'sim-web');
    await eventually(async () => {
      await expect(getPod('sim-web')).rejects.toMatchObject({ reason: 'NotFound' });
    }, 5000);
    // min(grace 30 s, 1 s) and a little.
    expect(Date.now() - began).toBeLessThan(4000);
    await client.delete(podRef, 'default', 'elsewhere', { gracePeriodSeconds: 0 });
  });

  it('resumes its nodes after a restart without restarting running pods', async () => {
    const first = await startSim('keep', 2);
    await client.create(podRef, 'default', pod('kept', 'keep-0'));
    const before = await eventually(async () => {
      const p = await getPod('kept');
      expect(p.status.phase).toBe('Running');
      return p;
    }, 5000);
    await first.stop();
    await new Promise((r) => setTimeout(r, 1100)); // a new second: any rewrite would show in the times

    const second = await startSim('keep', 2);
    expect(second.stats()).toMatchObject({ created: 0, resumed: 2 });
    await new Promise((r) => setTimeout(r, 500));
    const after = await getPod('kept');
    expect(after.status.containerStatuses[0].containerID).toBe(
      before.status.containerStatuses[0].containerID,
    );
    expect(after.status.containerStatuses[0].state).toEqual(before.status.containerStatuses[0].state);
    expect(after.status.podIP).toBe(before.status.podIP);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(second.stats().podStatusWrites).toBe(0);
    // A new pod on the same node gets another address.
    await client.create(podRef, 'default', pod('fresh', 'keep-0'));
    const fresh = await eventually(async () => {
      const p = await getPod('fresh');
      expect(p.status.phase).toBe('Running');
      return p;
    }, 5000);
    expect(fresh.status.podIP).not.toBe(before.status.podIP);
  });

  it('leaves a real node of the same name alone', async () => {
    await client.create(nodeRef, undefined, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'mixed-1' },
    });
    const sim = await startSim('mixed', 3);
    expect(sim.stats()).toMatchObject({ nodes: 2, created: 2 });
    const real = (await client.get(nodeRef, undefined, 'mixed-1')) as any;
    expect(real.metadata.labels?.['flotilla.dev/simulated']).toBeUndefined();
  });

  it('registers a node again when someone deletes it', async () => {
    await startSim('again', 1, { statusIntervalMs: 1000 });
    await client.delete(nodeRef, undefined, 'again-0');
    await eventually(async () => {
      const n = (await client.get(nodeRef, undefined, 'again-0')) as any;
      expect(n.metadata.labels['flotilla.dev/simulated']).toBe('true');
    }, 5000);
  });

  it('removeSimulatedNodes deletes the nodes, their leases and their pods', async () => {
    const sim = await startSim('gone', 2);
    await client.create(podRef, 'default', pod('doomed', 'gone-1'));
    await sim.stop();
    const r = await removeSimulatedNodes(client, { count: 2, prefix: 'gone' });
    expect(r).toEqual({ nodes: 2, leases: 2, pods: 1 });
    await expect(client.get(nodeRef, undefined, 'gone-0')).rejects.toMatchObject({ reason: 'NotFound' });
    await expect(client.get(leaseRef, 'kube-node-lease', 'gone-1')).rejects.toMatchObject({
      reason: 'NotFound',
    });
    await expect(getPod('doomed')).rejects.toMatchObject({ reason: 'NotFound' });
  });
});
