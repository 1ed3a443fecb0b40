// Placement and self-healing at cluster scale on simulated nodes: a real `flotilla server` (scheduler,
// Deployment and ReplicaSet controllers, node lifecycle, all with default settings) and
// `flotilla agent --simulate N` processes.
//
// 1. 30 replicas with required anti-affinity on the host name and a zone spread over 20 nodes: 20 run,
//    10 stay Pending with the scheduler's explanation; 10 more nodes schedule the rest.
// 2. Over 40 nodes in 3 zones, a fresh Deployment of 30 lands one per node with zone skew ≤ 1.
// 3. kill -9 of a simulated node's agent: its pod is replaced on another node within 40 s of the kill;
//    when the node comes back, its stale pod is removed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/api/client/client.js';
import type { KubeObject } from '../../src/api/types.js';
import { eventually } from '../../src/testkit/eventually.js';
import { freePort, startFlotillaProcess, type FlotillaProcess } from '../../src/testkit/process.js';
import { startSimNodes, type SimNodes, type SimNodesOptions } from '../../src/testkit/sim.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const zoneKey = 'topology.kubernetes.io/zone';

let dataDir = '';
let server: FlotillaProcess;
let client: ApiClient;
const sims: SimNodes[] = [];
let cidrIndex = 0;

async function addSim(opts: Partial<SimNodesOptions> & { count: number; prefix: string }): Promise<SimNodes> {
  const sim = await startSimNodes({
    url: server.url,
    token: server.token,
    caPem: server.ca,
    zones: 3,
    podStartDelay: '200ms',
    // Each process gets its own /12 so simulated pod addresses never repeat across processes.
    podCidr: `10.${128 + 16 * cidrIndex++}.0.0/12`,
    ...opts,
  });
  sims.push(sim);
  return sim;
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'flotilla-sched-'));
  server = await startFlotillaProcess({ dataDir, port: await freePort() });
  client = new ApiClient({ server: server.url, caPem: server.ca, token: server.token });
}, 60_000);

afterAll(async () => {
  for (const s of sims) await s.close().catch(() => undefined);
  await client?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

function spreadDeployment(
  name: string,
  replicas: number,
  extraSpec: Record<string, unknown> = {},
): KubeObject {
  const selector = { matchLabels: { app: name } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: 'default' },
    spec: {
      replicas,
      selector,
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [
            { name: 'app', image: 'registry.local/app:1', resources: { requests: { cpu: '100m' } } },
          ],
          affinity: {
            podAntiAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: [
                { labelSelector: selector, topologyKey: 'kubernetes.io/hostname' },
              ],
            },
          },
          topologySpreadConstraints: [
            { maxSkew: 1, topologyKey: zoneKey, whenUnsatisfiable: 'DoNotSchedule', labelSelector: selector },
          ],
          ...extraSpec,
        },
      },
    },
  };
}

interface PodView {
  name: string;
  node: string;
  phase: string;
  ready: boolean;
  terminating: boolean;
  scheduledMessage: string;
}

async function podsOf(app: string): Promise<PodView[]> {
  const list = await client.list(podRef, 'default', { labelSelector: `app=${app}` });
  return list.items.map((p) => {
    const status = (p.status ?? {}) as Record<string, unknown>;
    const conditions = (status['conditions'] ?? []) as { type: string; status: string; message?: string }[];
    return {
      name: p.metadata.name ?? '',
      node: (p.spec as { nodeName?: string } | undefined)?.nodeName ?? '',
      phase: (status['phase'] as string | undefined) ?? '',
      ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
      terminating: p.metadata.deletionTimestamp !== undefined && p.metadata.deletionTimestamp !== null,
      scheduledMessage:
        conditions.find((c) => c.type === 'PodScheduled' && c.status === 'False')?.message ?? '',
    };
  });
}

async function zonesOfNodes(): Promise<Map<string, string>> {
  const nodes = await client.list(nodeRef, undefined);
  return new Map(nodes.items.map((n) => [n.metadata.name ?? '', n.metadata.labels?.[zoneKey] ?? '']));
}

function assertOnePerNodeAndZoneSkew(pods: PodView[], zones: Map<string, string>): void {
  const nodes = pods.map((p) => p.node);
  expect(new Set(nodes).size).toBe(nodes.length);
  const perZone = new Map<string, number>();
  for (const z of new Set(zones.values())) perZone.set(z, 0);
  for (const n of nodes) perZone.set(zones.get(n) ?? '?', (perZone.get(zones.get(n) ?? '?') ?? 0) + 1);
  const counts = [...perZone.values()];
  expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
}

describe('scheduling on simulated nodes', () => {
  it('20 nodes: 20 of 30 anti-affine replicas run, 10 stay Pending with the reason', async () => {
    await addSim({ count: 20, prefix: 'a' });
    await client.create(deployRef, 'default', spreadDeployment('web', 30));
    const pods = await eventually(async () => {
      const ps = await podsOf('web');
      const running = ps.filter((p) => p.phase === 'Running' && p.ready);
      const pending = ps.filter((p) => p.node === '' && p.scheduledMessage !== '');
      if (ps.length !== 30 || running.length !== 20 || pending.length !== 10)
        throw new Error(
          `${ps.length} pods, ${running.length} running, ${pending.length} pending with a reason`,
        );
      return ps;
    }, 90_000);
    const pending = pods.filter((p) => p.node === '');
    for (const p of pending) {
      expect(p.phase).toBe('Pending');
      expect(p.scheduledMessage).toMatch(/^0\/20 nodes are available: /);
      // Every node is rejected either by the host anti-affinity or by the zone spread.
      expect(p.scheduledMessage).toMatch(/anti-affinity rules/);
    }
    // The FailedScheduling event says the same thing.
    await eventually(async () => {
      const events = await client.list({ apiVersion: 'v1', kind: 'Event' }, 'default', {
        fieldSelector: `involvedObject.name=${pending[0]!.name}`,
      });
      const failed = events.items.filter((e) => (e as { reason?: string }).reason === 'FailedScheduling');
      if (failed.length === 0)
        throw new Error(
          `no FailedScheduling event: ${JSON.stringify(events.items.map((e) => (e as { reason?: string }).reason))}`,
        );
      expect((failed[0] as { message?: string }).message).toMatch(/^0\/20 nodes are available: /);
    }, 20_000);
    assertOnePerNodeAndZoneSkew(
      pods.filter((p) => p.node !== ''),
      await zonesOfNodes(),
    );
  }, 150_000);

  it('10 more nodes schedule the rest', async () => {
    // 20 nodes are in zones of 7, 7 and 6; these make it 10, 10 and 10.
    await addSim({ count: 9, prefix: 'b' });
    await addSim({ count: 1, prefix: 'b1', labels: { [zoneKey]: 'zone-2' } });
    const pods = await eventually(async () => {
      const ps = await podsOf('web');
      const running = ps.filter((p) => p.phase === 'Running' && p.ready);
      if (running.length !== 30) throw new Error(`${running.length} of 30 running`);
      return running;
    }, 90_000);
    assertOnePerNodeAndZoneSkew(pods, await zonesOfNodes());
  }, 150_000);

  it('over 40 nodes in 3 zones, 30 replicas land one per node with zone skew at most 1', async () => {
    await addSim({ count: 10, prefix: 'c' });
    await client.delete(deployRef, 'default', 'web', { propagationPolicy: 'Foreground' });
    await eventually(async () => {
      const left = await podsOf('web');
      if (left.length > 0) throw new Error(`${left.length} pods of web left`);
    }, 90_000);
    const zones = await zonesOfNodes();
    expect(zones.size).toBe(40);
    await client.create(deployRef, 'default', spreadDeployment('api', 30));
    const pods = await eventually(async () => {
      const ps = await podsOf('api');
      const running = ps.filter((p) => p.phase === 'Running' && p.ready);
      if (running.length !== 30) throw new Error(`${running.length} of 30 running`);
      return running;
    }, 90_000);
    assertOnePerNodeAndZoneSkew(pods, zones);
    await client.delete(deployRef, 'default', 'api');
  }, 240_000);

  it('a killed node agent: its pod is replaced elsewhere within 40 s, and removed when the node returns', async () => {
    const lone = await addSim({ count: 1, prefix: 'lone', zones: 1, labels: { pool: 'lone' } });
    const loneNode = lone.nodeNames[0]!;
    // Three replicas, one per host, preferring the lone node: one of them lands there.
    await client.create(
      deployRef,
      'default',
      spreadDeployment('svc', 3, {
        topologySpreadConstraints: [],
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { labelSelector: { matchLabels: { app: 'svc' } }, topologyKey: 'kubernetes.io/hostname' },
            ],
          },
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                preference: { matchExpressions: [{ key: 'pool', operator: 'In', values: ['lone'] }] },
              },
            ],
          },
        },
      }),
    );
    const before = await eventually(async () => {
      const ps = (await podsOf('svc')).filter((p) => p.ready);
      if (ps.length !== 3 || !ps.some((p) => p.node === loneNode))
        throw new Error(`pods: ${JSON.stringify(ps.map((p) => [p.name, p.node]))}`);
      return ps;
    }, 90_000);
    const stale = before.find((p) => p.node === loneNode)!;

    const killedAt = Date.now();
    await lone.kill9();
    await eventually(
      async () => {
        const live = (await podsOf('svc')).filter((p) => !p.terminating && p.ready && p.node !== loneNode);
        if (live.length !== 3) throw new Error(`${live.length} of 3 ready off the dead node`);
      },
      60_000,
      250,
    );
    const replacedInMs = Date.now() - killedAt;
    process.stderr.write(`replaced the dead node's pod in ${replacedInMs} ms\n`);
    expect(replacedInMs).toBeLessThan(40_000);
    const node = await client.get(nodeRef, undefined, loneNode);
    const taints = ((node.spec as Record<string, unknown>)['taints'] ?? []) as { key: string }[];
    expect(taints.map((t) => t.key)).toContain('node.kubernetes.io/unreachable');

    // The node comes back: the stale pod (deleted while the node was away) goes for good.
    await lone.restart();
    await eventually(async () => {
      const ps = await podsOf('svc');
      if (ps.some((p) => p.name === stale.name)) throw new Error(`${stale.name} still there`);
      const ready = ps.filter((p) => p.ready && !p.terminating);
      if (ready.length !== 3) throw new Error(`${ready.length} of 3 ready`);
    }, 60_000);
    await eventually(async () => {
      const n = await client.get(nodeRef, undefined, loneNode);
      const t = ((n.spec as Record<string, unknown>)['taints'] ?? []) as { key: string }[];
      if (t.some((x) => x.key === 'node.kubernetes.io/unreachable')) throw new Error('still tainted');
    }, 30_000);
  }, 180_000);
});
