// The node-lifecycle controller on FakeApi with a virtual clock: exact timings of eviction deadlines and
// cancellations, which the real-time test against the API server can only check loosely.
import { beforeEach, afterEach, describe, expect, it } from 'vitest';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { FakeApi } from '../../machinery/fake-api.js';
import { MemoryLogger } from '../../machinery/logger.js';
import { VirtualClock } from '../../testkit/clock.js';
import { NodeLifecycleController, type NodeLifecycleExecutor } from './controller.js';
import { kubeTime, nodeTaints } from './reconcile.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
const Node = info('v1', 'Node');
const Pod = info('v1', 'Pod');
const Lease = info('coordination.k8s.io/v1', 'Lease');

function executorFor(api: FakeApi): NodeLifecycleExecutor {
  return {
    updateNodeStatus: (n) => api.updateStatus(Node, n),
    // FakeApi replaces top-level fields whole: merge spec here, as the API server's merge patch does.
    patchNode: async (name, patch) => {
      const current = api.find(Node, undefined, name);
      const spec = { ...((current?.spec as object | undefined) ?? {}), ...(patch.spec as object) };
      return api.patch(Node, undefined, name, { metadata: patch.metadata, spec });
    },
    updatePodStatus: (p) => api.updateStatus(Pod, p),
    deletePod: (ns, name, uid) => api.delete(Pod, ns, name, 'Background', uid),
  };
}

let api: FakeApi;
let clock: VirtualClock;
let recorder: MemoryEventRecorder;
let logger: MemoryLogger;
let controller: NodeLifecycleController;
const silent = new Set<string>();

function conditions(ready: string, atMs: number): Record<string, unknown>[] {
  const t = kubeTime(atMs);
  return ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'].map((type) => ({
    type,
    status: type === 'Ready' ? ready : 'False',
    lastHeartbeatTime: t,
    lastTransitionTime: t,
  }));
}

function renew(name: string): void {
  const spec = {
    holderIdentity: name,
    leaseDurationSeconds: 40,
    renewTime: new Date(clock.now()).toISOString(),
  };
  if (api.find(Lease, 'kube-node-lease', name) === undefined)
    api.create(Lease, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease' },
      spec,
    });
  else void api.patch(Lease, 'kube-node-lease', name, { spec });
}

async function report(name: string, ready: string): Promise<void> {
  const n = api.find(Node, undefined, name) as KubeObject;
  await api.updateStatus(Node, { ...n, status: { conditions: conditions(ready, clock.now()) } });
}

/** Advance in 1 s steps; agents that are not silent renew every 10 s. */
async function tick(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 1000) {
    await clock.advance(1000);
    if (clock.now() % 10_000 === 0) for (const n of ['a', 'b', 'c']) if (!silent.has(n)) renew(n);
  }
}

function pod(name: string, seconds: number | undefined): void {
  api.create(Pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeName: 'a',
      containers: [{ name: 'c', image: 'x' }],
      tolerations: [
        {
          key: 'node.kubernetes.io/unreachable',
          operator: 'Exists',
          effect: 'NoExecute',
          ...(seconds === undefined ? {} : { tolerationSeconds: seconds }),
        },
      ],
    },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
}

const exists = (name: string): boolean => api.find(Pod, 'default', name) !== undefined;
const noExecute = (name: string): { key: string; timeAdded?: string } | undefined =>
  nodeTaints(api.find(Node, undefined, name) as KubeObject).find((t) => t.effect === 'NoExecute');

beforeEach(() => {
  api = new FakeApi();
  clock = new VirtualClock(Date.UTC(2024, 0, 1, 12, 0, 0));
  recorder = new MemoryEventRecorder();
  logger = new MemoryLogger();
  silent.clear();
  for (const name of ['a', 'b', 'c']) {
    api.create(Node, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name },
      spec: {},
      status: { conditions: conditions('True', clock.now()) },
    });
    renew(name);
  }
  controller = new NodeLifecycleController({
    informers: api,
    executor: executorFor(api),
    clock,
    recorder,
    logger,
    nodeMonitorGracePeriodMs: 20_000,
    nodeMonitorPeriodMs: 2000,
  });
});
afterEach(async () => {
  await controller.stop();
  expect(clock.pendingTimers()).toBe(0);
});

describe('NodeLifecycleController (FakeApi, virtual clock)', () => {
  it('evicts a pod exactly tolerationSeconds after the taint, keeps one tolerating forever', async () => {
    pod('p30', 30);
    pod('forever', undefined);
    controller.start();
    await tick(10_000);
    silent.add('a'); // last renewal at 10 s, seen by the pass at 12 s
    await tick(22_000);
    expect(noExecute('a')).toBeUndefined(); // 20 s since it was seen is still within the grace period
    await tick(2_000);
    const taint = noExecute('a');
    expect(taint?.key).toBe('node.kubernetes.io/unreachable');
    const addedAt = Date.parse(taint?.timeAdded ?? '');
    expect(recorder.events.filter((e) => e.reason === 'NodeNotReady').map((e) => e.message)).toEqual([
      'Node a status is now: NodeNotReady',
      'Node is not ready',
      'Node is not ready',
    ]);

    await tick(addedAt + 29_000 - clock.now()); // b and c keep renewing
    expect(exists('p30')).toBe(true);
    await tick(1_000);
    expect(exists('p30')).toBe(false);
    expect(recorder.events.filter((e) => e.reason === 'TaintManagerEviction').map((e) => e.message)).toEqual([
      'Marking for deletion Pod default/p30',
    ]);
    await tick(60_000);
    expect(exists('forever')).toBe(true);
    expect(logger.find('sync failed')).toEqual([]);
  });

  it('an eviction whose condition write conflicts waits for the newer pod: the deleted pod says why it went', async () => {
    pod('p0', 0);
    const base = executorFor(api);
    const disruption = (p: KubeObject | undefined): unknown =>
      (
        (p?.status as { conditions?: { type: string; reason?: string }[] } | undefined)?.conditions ?? []
      ).find((c) => c.type === 'DisruptionTarget')?.reason;
    let raced = false;
    const reasonsAtDeletion: unknown[] = [];
    // Another writer (the agent, a probe) updates the pod's status just before the controller's write.
    controller = new NodeLifecycleController({
      informers: api,
      executor: {
        ...base,
        updatePodStatus: async (p) => {
          const current = api.find(Pod, 'default', 'p0');
          if (!raced && disruption(p) !== undefined && current !== undefined) {
            raced = true;
            await api.updateStatus(Pod, {
              ...current,
              status: { ...(current.status ?? {}), message: 'agent' },
            });
          }
          return base.updatePodStatus(p);
        },
        deletePod: async (ns, name, uid) => {
          reasonsAtDeletion.push(disruption(api.find(Pod, ns, name)));
          return base.deletePod(ns, name, uid);
        },
      },
      clock,
      recorder,
      logger,
      nodeMonitorGracePeriodMs: 20_000,
      nodeMonitorPeriodMs: 2000,
    });
    controller.start();
    await tick(10_000);
    silent.add('a');
    await tick(26_000);
    expect(raced).toBe(true);
    expect(exists('p0')).toBe(false);
    expect(reasonsAtDeletion).toEqual(['DeletionByTaintManager']);
    expect(recorder.events.filter((e) => e.reason === 'TaintManagerEviction').map((e) => e.message)).toEqual([
      'Marking for deletion Pod default/p0',
    ]);
  });

  it('cancels a pending eviction when the node comes back in time', async () => {
    pod('p60', 60);
    controller.start();
    await tick(10_000);
    silent.add('a');
    await tick(24_000);
    expect(noExecute('a')).toBeDefined();
    silent.delete('a');
    renew('a');
    await report('a', 'True');
    await tick(2_000);
    expect(noExecute('a')).toBeUndefined();
    await tick(90_000);
    expect(exists('p60')).toBe(true);
    expect(recorder.events.filter((e) => e.reason === 'TaintManagerEviction').map((e) => e.message)).toEqual([
      'Cancelling deletion of Pod default/p60',
    ]);
    expect(recorder.events.filter((e) => e.reason === 'NodeReady').map((e) => e.message)).toEqual([
      'Node a status is now: NodeReady',
    ]);
  });

  it('taints a second failed node only when the eviction rate allows (one node per 10 s)', async () => {
    controller.start();
    await tick(10_000);
    silent.add('a');
    silent.add('b');
    await tick(24_000);
    const first = ['a', 'b'].filter((n) => noExecute(n) !== undefined);
    expect(first).toHaveLength(1);
    await tick(8_000);
    expect(['a', 'b'].filter((n) => noExecute(n) !== undefined)).toHaveLength(1);
    await tick(2_000);
    expect(['a', 'b'].filter((n) => noExecute(n) !== undefined)).toHaveLength(2);
  });
});
