// Self-healing on a real node: a Deployment placed by the scheduler onto a real agent (runc + conmon)
// comes back to full readiness after one of its pods is deleted and after one of its containers is
// killed from outside.
import { spawnSync } from 'node:child_process';
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
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
let cluster: NodeCluster;
let registry: TestRegistry;
let layoutDir = '';
let image = '';

beforeAll(async () => {
  registry = await startRegistry();
  layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bb-'));
  await buildBusyboxLayout(layoutDir, '1');
  await pushImage(layoutDir, '1', registry, 'tools/busybox:1');
  image = `${registry.host}/tools/busybox:1`;
  cluster = await startNodeCluster();
}, 240_000);

afterAll(async () => {
  await cluster?.close();
  await registry?.stop();
  rmSync(layoutDir, { recursive: true, force: true });
}, 240_000);

function deployment(name: string, replicas: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            {
              name: 'web',
              image,
              command: ['sh', '-c', 'echo ok > /index.html; exec httpd -f -p 8080 -h /'],
              readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

interface PodView {
  name: string;
  uid: string;
  node: string;
  ready: boolean;
  restarts: number;
  containerId: string;
  terminating: boolean;
}

async function podsOf(app: string): Promise<PodView[]> {
  const list = await cluster.client.list(podRef, 'default', { labelSelector: `app=${app}` });
  return list.items.map((p) => {
    const status = (p.status ?? {}) as Record<string, any>;
    const cs = (status['containerStatuses'] ?? [])[0] ?? {};
    const ready = ((status['conditions'] ?? []) as { type: string; status: string }[]).some(
      (c) => c.type === 'Ready' && c.status === 'True',
    );
    return {
      name: p.metadata.name ?? '',
      uid: p.metadata.uid ?? '',
      node: (p.spec as { nodeName?: string } | undefined)?.nodeName ?? '',
      ready,
      restarts: Number(cs.restartCount ?? 0),
      containerId: String(cs.containerID ?? '').replace(/^[a-z]+:\/\//, ''),
      terminating: p.metadata.deletionTimestamp !== undefined && p.metadata.deletionTimestamp !== null,
    };
  });
}

/** Waits until the Deployment reports `replicas` ready and available, and exactly that many live pods are ready. */
async function fullyReady(name: string, replicas: number, timeoutMs = 90_000): Promise<PodView[]> {
  return eventually(async () => {
    const d = await cluster.client.get(deployRef, 'default', name);
    const st = (d.status ?? {}) as Record<string, unknown>;
    const pods = (await podsOf(name)).filter((p) => !p.terminating);
    if (st['readyReplicas'] !== replicas || st['availableReplicas'] !== replicas)
      throw new Error(`deployment status ${JSON.stringify(st)}`);
    if (pods.length !== replicas || !pods.every((p) => p.ready))
      throw new Error(`pods ${JSON.stringify(pods)}`);
    return pods;
  }, timeoutMs);
}

describe('self-healing on a real node', () => {
  it('a Deployment is scheduled onto the node and becomes ready', async () => {
    await cluster.client.create(deployRef, 'default', deployment('heal', 3));
    const pods = await fullyReady('heal', 3);
    expect(pods.every((p) => p.node === cluster.nodeName)).toBe(true);
  }, 120_000);

  it('a deleted pod is replaced and the Deployment is fully ready again', async () => {
    const before = await fullyReady('heal', 3);
    const victim = before[0]!;
    await cluster.client.delete(podRef, 'default', victim.name);
    const after = await fullyReady('heal', 3);
    expect(after.map((p) => p.uid)).not.toContain(victim.uid);
    // The two untouched pods are still the same pods.
    for (const p of before.slice(1)) expect(after.map((x) => x.uid)).toContain(p.uid);
  }, 120_000);

  it('a killed container is restarted in place and the Deployment is fully ready again', async () => {
    const before = await fullyReady('heal', 3);
    const victim = before[0]!;
    const state = spawnSync('runc', ['--root', cluster.runcRoot, 'state', victim.containerId], {
      encoding: 'utf8',
    });
    expect(state.status, state.stderr).toBe(0);
    const pid = Number((JSON.parse(state.stdout) as { pid: number }).pid);
    expect(pid).toBeGreaterThan(1);
    process.kill(pid, 'SIGKILL');
    await eventually(async () => {
      const p = (await podsOf('heal')).find((x) => x.uid === victim.uid);
      if (p === undefined || p.restarts < victim.restarts + 1)
        throw new Error(`not restarted yet: ${JSON.stringify(p)}`);
    }, 60_000);
    const after = await fullyReady('heal', 3);
    // The same three pods: the container came back inside its pod, nothing was replaced.
    expect(after.map((p) => p.uid).sort()).toEqual(before.map((p) => p.uid).sort());
  }, 120_000);

  it('scaling to zero leaves no pods', async () => {
    await cluster.client.patch(deployRef, 'default', 'heal', 'merge', { spec: { replicas: 0 } });
    await eventually(async () => {
      const pods = await podsOf('heal');
      if (pods.length > 0) throw new Error(`${pods.length} pods left`);
    }, 60_000);
    await cluster.client.delete(deployRef, 'default', 'heal');
  }, 90_000);
});
