// `flotilla agent --simulate 20` against a real `flotilla server` (SQLite), both as child processes:
// 20 Ready nodes with zones, a pod bound to one runs with an address and its deletion completes, a crashing
// container crash-loops, and after kill -9 and a restart of the simulator the running pod is not restarted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import { ensureNodeToken, ensureTokens } from '../../apiserver/auth.js';
import { eventually } from '../../testkit/eventually.js';
import { freePort, startFlotillaProcess, type FlotillaProcess } from '../../testkit/process.js';
import { startSimNodes, type SimNodes } from '../../testkit/sim.js';

const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };

let dataDir = '';
let server: FlotillaProcess;
let client: ApiClient;
let sim: SimNodes;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'flotilla-sim-int-'));
  ensureTokens(dataDir);
  const token = ensureNodeToken(dataDir, 'simulator');
  server = await startFlotillaProcess({ dataDir, port: await freePort() });
  client = new ApiClient({ server: server.url, token: server.token, caPem: server.ca });
  sim = await startSimNodes({
    url: server.url,
    token,
    caPem: server.ca,
    count: 20,
    prefix: 'simint',
    zones: 3,
    leaseInterval: '1s',
    podStartDelay: '200ms',
  });
}, 120_000);

afterAll(async () => {
  await sim?.close();
  await client?.close();
  await server?.stop();
  if (dataDir !== '') rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

function pod(
  name: string,
  nodeName: string,
  extra: Partial<KubeObject> & { spec?: object } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...(extra.metadata ?? {}) },
    spec: {
      nodeName,
      containers: [{ name: 'main', image: 'nginx:1.25' }],
      ...(extra.spec ?? {}),
    },
  };
}

async function running(name: string): Promise<any> {
  return eventually(async () => {
    const p = (await client.get(podRef, 'default', name)) as any;
    expect(p.status.phase).toBe('Running');
    expect(p.status.containerStatuses[0].ready).toBe(true);
    return p;
  }, 15_000);
}

async function renewTime(name: string): Promise<string> {
  return ((await client.get(leaseRef, 'kube-node-lease', name)) as any).spec.renewTime;
}

describe('flotilla agent --simulate', () => {
  it('registers 20 Ready nodes spread over 3 zones, with leases', async () => {
    const nodes = (await client.list(nodeRef, undefined, { labelSelector: 'flotilla.dev/simulated=true' }))
      .items as any[];
    expect(nodes.map((n) => n.metadata.name).sort()).toEqual([...sim.nodeNames].sort());
    const zones = new Map<string, number>();
    for (const n of nodes) {
      expect(n.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
      expect(n.metadata.annotations['flotilla.dev/simulated']).toBe('true');
      const z = n.metadata.labels['topology.kubernetes.io/zone'];
      zones.set(z, (zones.get(z) ?? 0) + 1);
    }
    expect(Object.fromEntries(zones)).toEqual({ 'zone-0': 7, 'zone-1': 7, 'zone-2': 6 });
    const first = await renewTime('simint-5');
    await eventually(async () => expect(await renewTime('simint-5')).not.toBe(first), 5000);
  });

  it('runs a pod bound to a simulated node with an address, and completes its deletion', async () => {
    await client.create(podRef, 'default', pod('web', 'simint-4'));
    const p = await running('web');
    expect(p.status.podIP).toMatch(/^10\.128\.4\.\d+$/);
    expect(p.status.hostIP).toBe('127.128.4.1');
    expect(p.status.containerStatuses[0].containerID).toMatch(/^fake:\/\//);
    await client.delete(podRef, 'default', 'web');
    await eventually(async () => {
      await expect(client.get(podRef, 'default', 'web')).rejects.toMatchObject({ reason: 'NotFound' });
    }, 10_000);
  });

  it('crash-loops a container whose command fails', async () => {
    await client.create(
      podRef,
      'default',
      pod('crasher', 'simint-7', {
        metadata: { annotations: { 'flotilla.dev/restart-backoff-initial': '1s' } },
        spec: { containers: [{ name: 'main', image: 'busybox', command: ['false'] }] },
      }),
    );
    await eventually(async () => {
      const p = (await client.get(podRef, 'default', 'crasher')) as any;
      const c = p.status.containerStatuses[0];
      expect(c.restartCount).toBeGreaterThanOrEqual(2);
      expect(c.lastState.terminated.exitCode).toBe(1);
    }, 15_000);
  });

  it('after kill -9 and a restart, resumes the same nodes without restarting running pods', async () => {
    await client.create(podRef, 'default', pod('steady', 'simint-11'));
    const before = await running('steady');
    await sim.kill9();
    // Leases stop while the simulator is dead.
    const stalled = await renewTime('simint-11');
    await new Promise((r) => setTimeout(r, 2500));
    expect(await renewTime('simint-11')).toBe(stalled);

    await sim.restart();
    expect(sim.output()).toContain('(0 created, 20 resumed)');
    await eventually(async () => expect(await renewTime('simint-11')).not.toBe(stalled), 5000);
    // A fresh pod works on the resumed node, and the old one was left exactly as it was.
    await client.create(podRef, 'default', pod('after', 'simint-11'));
    const after = await running('after');
    expect(after.status.podIP).not.toBe(before.status.podIP);
    const steady = (await client.get(podRef, 'default', 'steady')) as any;
    expect(steady.status.containerStatuses[0]).toEqual(before.status.containerStatuses[0]);
    expect(steady.status.podIP).toBe(before.status.podIP);
  });

  it('stops on SIGTERM, and --remove deletes its nodes', async () => {
    expect(await sim.stop()).toBe(0);
    const out = await sim.remove();
    expect(out).toContain('removed 20 simulated nodes');
    const left = await client.list(nodeRef, undefined, { labelSelector: 'flotilla.dev/simulated=true' });
    expect(left.items).toEqual([]);
    await expect(client.get(podRef, 'default', 'steady')).rejects.toMatchObject({ reason: 'NotFound' });
  });
});
