// Restart safety: kill -9 of the agent with 20 pods running restarts no container; statuses stay right;
// deleting every pod afterwards leaves no process, mount, cgroup, netns, veth or file behind.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/api/types.js';
import { eventually } from '../../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../../src/testkit/images.js';
import { startNodeCluster, type NodeCluster } from '../../src/testkit/node.js';
import { startRegistry, type TestRegistry } from '../../src/testkit/registry.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
let cluster: NodeCluster;
let registry: TestRegistry;
let image = '';
let layoutDir = '';

beforeAll(async () => {
  registry = await startRegistry();
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'busybox:1');
  image = `${registry.host}/busybox:1`;
  cluster = await startNodeCluster({ agentArgs: ['--lease-seconds', '2'] });
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

interface Snapshot {
  phase: string;
  podIP: string;
  containerID: string;
  startedAt: string;
  restartCount: number;
  ready: boolean;
}

async function snapshot(): Promise<Map<string, Snapshot>> {
  const list = await cluster.client.list(podRef, 'default', { labelSelector: 'app=fleet' });
  const out = new Map<string, Snapshot>();
  for (const p of list.items as any[]) {
    const cs = p.status?.containerStatuses?.[0];
    out.set(p.metadata.name, {
      phase: p.status?.phase,
      podIP: p.status?.podIP,
      containerID: cs?.containerID,
      startedAt: cs?.state?.running?.startedAt,
      restartCount: cs?.restartCount,
      ready: cs?.ready,
    });
  }
  return out;
}

describe('agent restart safety', () => {
  it('adopts 20 running pods after kill -9 without restarting any, then cleans up completely', async () => {
    for (let i = 0; i < 20; i++) {
      const pod: KubeObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `fleet-${i}`, namespace: 'default', labels: { app: 'fleet' } },
        spec: {
          nodeName: cluster.nodeName,
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'main',
              image,
              command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'],
              readinessProbe: { exec: { command: ['true'] }, periodSeconds: 2 },
            },
          ],
        },
      };
      await cluster.client.create(podRef, 'default', pod);
    }
    const before = await eventually(
      async () => {
        const s = await snapshot();
        const notReady = [...s.entries()].filter(([, v]) => v.phase !== 'Running' || !v.ready);
        if (s.size !== 20 || notReady.length > 0) throw new Error(`${notReady.length} pods not ready yet`);
        return s;
      },
      180_000,
      500,
    );

    await cluster.agent.kill9();
    await cluster.restartAgent();
    const restartedAt = Date.now();

    // Statuses are right within one heartbeat (2 s here, plus a probe period), and nothing restarted.
    const after = await eventually(
      async () => {
        const s = await snapshot();
        for (const [name, b] of before) {
          const a = s.get(name);
          expect(a, name).toEqual(b);
        }
        return s;
      },
      15_000,
      250,
    );
    expect(Date.now() - restartedAt).toBeLessThan(15_000);
    expect([...after.values()].every((s) => s.restartCount === 0)).toBe(true);

    // The node keeps renewing its lease after the restart.
    const lease1: any = await cluster.client.get(
      { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
      'kube-node-lease',
      cluster.nodeName,
    );
    await eventually(
      async () => {
        const lease2: any = await cluster.client.get(
          { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
          'kube-node-lease',
          cluster.nodeName,
        );
        expect(lease2.spec.renewTime).not.toBe(lease1.spec.renewTime);
      },
      10_000,
      250,
    );

    await cluster.client.request('DELETE', '/api/v1/namespaces/default/pods?labelSelector=app%3Dfleet');
    await eventually(
      async () => {
        const s = await snapshot();
        if (s.size > 0) throw new Error(`${s.size} pods left`);
        const left = cluster.leftovers();
        if (left.length > 0) throw new Error(left.join('\n'));
      },
      120_000,
      500,
    );
  });
});
