// The node-lifecycle controller as the server runs it (startTestCluster, real HTTP API, SQLite store),
// with a 2 s grace period. The test plays the node agents: it registers Nodes, reports Ready and renews
// their Leases in kube-node-lease, then stops renewing. Pods state their unreachable toleration
// explicitly: the API server's DefaultTolerationSeconds admission adds one to pods without it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { startTestCluster, type TestCluster } from '../../testkit/cluster.js';
import { eventually } from '../../testkit/eventually.js';

const NodeRef = { apiVersion: 'v1', kind: 'Node' };
const PodRef = { apiVersion: 'v1', kind: 'Pod' };
const LeaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
const EventRef = { apiVersion: 'v1', kind: 'Event' };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const stamp = (ms = Date.now()): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Plays a node agent: registration, Ready status and a lease renewed every 300 ms. */
class FakeAgent {
  private timer: ReturnType<typeof setInterval> | undefined;
  constructor(
    private readonly client: ApiClient,
    readonly name: string,
  ) {}

  async register(): Promise<void> {
    await this.client.create(NodeRef, undefined, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: this.name, labels: { 'kubernetes.io/hostname': this.name } },
      spec: {},
    });
    await this.reportReady();
    await this.client.create(LeaseRef, 'kube-node-lease', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.name, namespace: 'kube-node-lease' },
      spec: { holderIdentity: this.name, leaseDurationSeconds: 40, renewTime: new Date().toISOString() },
    });
    this.start();
  }

  async reportReady(): Promise<void> {
    const node = await this.client.get(NodeRef, undefined, this.name);
    const t = stamp();
    const cond = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastHeartbeatTime: t,
      lastTransitionTime: t,
    });
    await this.client.updateStatus(NodeRef, undefined, {
      ...node,
      status: {
        conditions: [
          cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
          cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
          cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
          cond('Ready', 'True', 'KubeletReady'),
        ],
      },
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.renew(), 300);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async renew(): Promise<void> {
    try {
      const lease = await this.client.get(LeaseRef, 'kube-node-lease', this.name);
      await this.client.update(LeaseRef, 'kube-node-lease', {
        ...lease,
        spec: { ...(lease.spec as object), renewTime: new Date().toISOString() },
      });
    } catch {
      // a missed renewal is what node failure looks like; the next one retries
    }
  }
}

interface Tol {
  key?: string;
  operator: string;
  effect?: string;
  tolerationSeconds?: number;
}
const unreachable = (seconds?: number): Tol => ({
  key: 'node.kubernetes.io/unreachable',
  operator: 'Exists',
  effect: 'NoExecute',
  ...(seconds === undefined ? {} : { tolerationSeconds: seconds }),
});

let cluster: TestCluster;
let client: ApiClient;
let agents: FakeAgent[];

beforeEach(async () => {
  cluster = await startTestCluster({
    nodeLifecycle: { nodeMonitorGracePeriodMs: 2000, nodeMonitorPeriodMs: 250 },
  });
  client = new ApiClient({
    server: cluster.url,
    ...(cluster.caPem === undefined ? {} : { caPem: cluster.caPem }),
    token: cluster.adminToken,
  });
  agents = [];
});
afterEach(async () => {
  for (const a of agents) a.stop();
  await client.close();
  await cluster.destroy();
});

async function agent(name: string): Promise<FakeAgent> {
  const a = new FakeAgent(client, name);
  agents.push(a);
  await a.register();
  return a;
}

async function runningPod(name: string, node: string, tolerations: Tol[]): Promise<void> {
  const created = await client.create(PodRef, 'default', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { nodeName: node, tolerations, containers: [{ name: 'c', image: 'busybox:1' }] },
  });
  await client.updateStatus(PodRef, 'default', {
    ...created,
    status: {
      phase: 'Running',
      conditions: [
        { type: 'PodScheduled', status: 'True' },
        { type: 'Ready', status: 'True', lastTransitionTime: stamp() },
      ],
    },
  });
}

const getNode = (name: string): Promise<KubeObject> => client.get(NodeRef, undefined, name);
const getPod = (name: string): Promise<KubeObject> => client.get(PodRef, 'default', name);

function condition(obj: KubeObject, type: string): Record<string, unknown> | undefined {
  const list = (obj.status as { conditions?: Record<string, unknown>[] } | undefined)?.conditions ?? [];
  return list.find((c) => c['type'] === type);
}
function taints(node: KubeObject): { key: string; effect: string; timeAdded?: string }[] {
  return (
    (node.spec as { taints?: { key: string; effect: string; timeAdded?: string }[] } | undefined)?.taints ??
    []
  );
}
const taintNames = (node: KubeObject): string[] =>
  taints(node).map((t) => `${t.key.replace('node.kubernetes.io/', '')}:${t.effect}`);

async function eventMessages(reason: string): Promise<string[]> {
  const list = await client.list(EventRef, 'default');
  return list.items.filter((e) => e['reason'] === reason).map((e) => String(e['message']));
}

describe('node lifecycle controller (in-process API server, 2 s grace period)', () => {
  it('a node that stops renewing goes Unknown, is tainted unreachable, and its pods go as their tolerations say; back, it is cleared', async () => {
    const n1 = await agent('n1');
    await agent('n2');
    await agent('n3');
    await runningPod('tolerates-0s', 'n1', [unreachable(0)]);
    await runningPod('tolerates-1s', 'n1', [unreachable(1)]);
    await runningPod('tolerates-30s', 'n1', [unreachable(30)]);
    await runningPod('tolerates-forever', 'n1', [unreachable()]);
    await runningPod('elsewhere', 'n2', []);

    // Healthy: renewing keeps it Ready well past the grace period.
    await sleep(3000);
    expect(condition(await getNode('n1'), 'Ready')?.['status']).toBe('True');
    expect(taintNames(await getNode('n1'))).toEqual([]);

    n1.stop();
    const node = await eventually(async () => {
      const n = await getNode('n1');
      expect(condition(n, 'Ready')).toMatchObject({
        status: 'Unknown',
        reason: 'NodeStatusUnknown',
        message: 'Kubelet stopped posting node status.',
      });
      expect(condition(n, 'MemoryPressure')?.['status']).toBe('Unknown');
      expect(taintNames(n)).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
      return n;
    }, 10_000);
    const timeAdded = Date.parse(taints(node).find((t) => t.effect === 'NoExecute')?.timeAdded ?? '');
    expect(Number.isFinite(timeAdded)).toBe(true);

    // Tolerated for 0 s: deleted at once (gracefully: it stays Terminating while its node is gone).
    await eventually(async () => {
      const p = await getPod('tolerates-0s');
      expect(p.metadata.deletionTimestamp).toBeDefined();
      expect(condition(p, 'DisruptionTarget')).toMatchObject({
        status: 'True',
        reason: 'DeletionByTaintManager',
      });
    });
    // Tolerated for 1 s: deleted once that second has passed since the taint was added.
    const oneSecond = await eventually(async () => {
      const p = await getPod('tolerates-1s');
      expect(p.metadata.deletionTimestamp).toBeDefined();
      return p;
    });
    expect(Date.parse(oneSecond.metadata.deletionTimestamp ?? '')).toBeGreaterThanOrEqual(timeAdded + 1000);
    // Events are written in the background, in the order recorded, after the deletion is sent. timeAdded
    // has second precision, so the 1 s pod can fall due together with the 0 s one and be recorded first:
    // seeing both pods deleted does not mean both events are stored yet.
    await eventually(async () =>
      expect(await eventMessages('TaintManagerEviction')).toEqual(
        expect.arrayContaining([
          'Marking for deletion Pod default/tolerates-0s',
          'Marking for deletion Pod default/tolerates-1s',
        ]),
      ),
    );

    // Tolerating forever (and for 30 s, for now): still there, but no longer Ready for Services.
    await sleep(1500);
    for (const name of ['tolerates-forever', 'tolerates-30s']) {
      const p = await getPod(name);
      expect(p.metadata.deletionTimestamp, name).toBeUndefined();
      expect(condition(p, 'Ready')?.['status'], name).toBe('False');
    }
    const other = await getPod('elsewhere');
    expect(other.metadata.deletionTimestamp).toBeUndefined();
    expect(condition(other, 'Ready')?.['status']).toBe('True');
    await eventually(async () =>
      expect(await eventMessages('NodeNotReady')).toContain('Node n1 status is now: NodeNotReady'),
    );

    // The agent is back: renewing and reporting Ready clears the taints and cancels the pending eviction.
    n1.start();
    await n1.reportReady();
    await eventually(async () => {
      const n = await getNode('n1');
      expect(condition(n, 'Ready')?.['status']).toBe('True');
      expect(taintNames(n)).toEqual([]);
    });
    await eventually(async () =>
      expect(await eventMessages('TaintManagerEviction')).toContain(
        'Cancelling deletion of Pod default/tolerates-30s',
      ),
    );
    expect((await getPod('tolerates-30s')).metadata.deletionTimestamp).toBeUndefined();
  }, 40_000);

  it('when every node stops renewing (a control-plane network problem) nothing is evicted', async () => {
    const m1 = await agent('m1');
    const m2 = await agent('m2');
    await runningPod('on-m1', 'm1', [unreachable(0)]);
    await runningPod('on-m2', 'm2', [unreachable(0)]);

    // One node down while the other is fine: a real failure, its pod is evicted.
    m1.stop();
    await eventually(
      async () => expect((await getPod('on-m1')).metadata.deletionTimestamp).toBeDefined(),
      10_000,
    );

    // Now the other one too: the zone is fully disrupted, as is the whole cluster. Evictions stop and
    // the NoExecute taints go; the NoSchedule ones stay.
    m2.stop();
    await eventually(async () => {
      for (const name of ['m1', 'm2']) {
        const n = await getNode(name);
        expect(condition(n, 'Ready')?.['status'], name).toBe('Unknown');
        expect(taintNames(n), name).toEqual(['unreachable:NoSchedule']);
      }
    }, 10_000);
    await sleep(2000);
    const survivor = await getPod('on-m2');
    expect(survivor.metadata.deletionTimestamp).toBeUndefined();
    expect(condition(survivor, 'Ready')?.['status']).toBe('False');
    expect(taintNames(await getNode('m2'))).toEqual(['unreachable:NoSchedule']);
  }, 40_000);

  it('cordoning sets the unschedulable taint for the scheduler; uncordoning removes it', async () => {
    await agent('c1');
    await client.patch(NodeRef, undefined, 'c1', 'merge', { spec: { unschedulable: true } });
    await eventually(async () =>
      expect(taintNames(await getNode('c1'))).toEqual(['unschedulable:NoSchedule']),
    );
    await client.patch(NodeRef, undefined, 'c1', 'merge', { spec: { unschedulable: null } });
    await eventually(async () => expect(taintNames(await getNode('c1'))).toEqual([]));
    // A node deleted while being watched is forgotten without errors.
    await client.delete(NodeRef, undefined, 'c1');
    await expect(getNode('c1')).rejects.toSatisfy((e: unknown) => isApiError(e) && e.reason === 'NotFound');
  }, 20_000);
});
