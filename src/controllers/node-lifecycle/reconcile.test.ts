import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import {
  computeZoneState,
  emptyMemory,
  kubeTime,
  newBucket,
  nodeConditions,
  nodeTaints,
  observeNodeHealth,
  planEviction,
  reconcileNodes,
  reconcilePod,
  refillBucket,
  takeToken,
  toleratesTaint,
  withManagedTaints,
  zoneEvictionRate,
  zoneOf,
  type ConditionStatus,
  type NodeLifecycleMemory,
  type NodeLifecycleSettings,
  type NodePassResult,
  type Taint,
  type Toleration,
  type ZoneState,
} from './reconcile.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);

const settings: NodeLifecycleSettings = {
  gracePeriodMs: 20_000,
  startupGracePeriodMs: 60_000,
  evictionRate: 0.1,
  secondaryEvictionRate: 0.01,
  unhealthyZoneThreshold: 0.55,
  largeClusterThreshold: 50,
};

function agentConditions(ready: ConditionStatus, atMs: number): Record<string, unknown>[] {
  const t = kubeTime(atMs);
  return [
    {
      type: 'MemoryPressure',
      status: 'False',
      reason: 'KubeletHasSufficientMemory',
      lastHeartbeatTime: t,
      lastTransitionTime: t,
    },
    {
      type: 'DiskPressure',
      status: 'False',
      reason: 'KubeletHasNoDiskPressure',
      lastHeartbeatTime: t,
      lastTransitionTime: t,
    },
    {
      type: 'PIDPressure',
      status: 'False',
      reason: 'KubeletHasSufficientPID',
      lastHeartbeatTime: t,
      lastTransitionTime: t,
    },
    {
      type: 'Ready',
      status: ready,
      reason: ready === 'True' ? 'KubeletReady' : 'KubeletNotReady',
      lastHeartbeatTime: t,
      lastTransitionTime: t,
    },
  ];
}

function node(
  name: string,
  extra: {
    zone?: string;
    ready?: ConditionStatus;
    atMs?: number;
    taints?: Taint[];
    unschedulable?: boolean;
    labels?: Record<string, string>;
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      uid: `uid-${name}`,
      resourceVersion: '1',
      creationTimestamp: kubeTime(T0 - 3600_000),
      labels: {
        ...(extra.zone === undefined ? {} : { 'topology.kubernetes.io/zone': extra.zone }),
        ...extra.labels,
      },
    },
    spec: {
      ...(extra.taints === undefined ? {} : { taints: extra.taints }),
      ...(extra.unschedulable === true ? { unschedulable: true } : {}),
    },
    status: { conditions: agentConditions(extra.ready ?? 'True', extra.atMs ?? T0) },
  };
}

function lease(name: string, atMs: number): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace: 'kube-node-lease' },
    spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date(atMs).toISOString() },
  };
}

const taintList = (n: KubeObject | undefined): string[] =>
  n === undefined ? [] : nodeTaints(n).map((t) => `${t.key.replace('node.kubernetes.io/', '')}:${t.effect}`);

/** A tiny cluster: agents renew leases and post status; each pass's actions are applied to the nodes. */
class Sim {
  readonly nodes = new Map<string, KubeObject>();
  readonly leases = new Map<string, KubeObject>();
  memory: NodeLifecycleMemory = emptyMemory();
  now = T0;
  readonly silent = new Set<string>();
  constructor(readonly s: NodeLifecycleSettings = settings) {}

  add(name: string, zone?: string): void {
    this.nodes.set(name, node(name, { ...(zone === undefined ? {} : { zone }), atMs: this.now }));
    this.leases.set(name, lease(name, this.now));
  }
  /** Time passes; agents that are not silent renew their lease every 10 s. */
  advance(ms: number, passEveryMs = 2000): NodePassResult[] {
    const results: NodePassResult[] = [];
    const end = this.now + ms;
    while (this.now < end) {
      const step = Math.min(passEveryMs, end - this.now);
      this.now += step;
      for (const name of this.nodes.keys())
        if (!this.silent.has(name) && this.now % 10_000 < step) this.leases.set(name, lease(name, this.now));
      results.push(this.pass());
    }
    return results;
  }
  pass(): NodePassResult {
    const r = reconcileNodes({
      nodes: [...this.nodes.values()],
      leases: this.leases,
      memory: this.memory,
      nowMs: this.now,
      settings: this.s,
    });
    this.memory = r.memory;
    for (const a of r.actions) {
      let n = this.nodes.get(a.name) as KubeObject;
      if (a.status !== undefined) n = { ...n, status: a.status.status };
      if (a.taints !== undefined) n = { ...n, spec: { ...(n.spec as object), taints: a.taints } };
      this.nodes.set(a.name, n);
    }
    return r;
  }
  /** The agent posts its status (a new heartbeat). */
  report(name: string, ready: ConditionStatus): void {
    const n = this.nodes.get(name) as KubeObject;
    this.nodes.set(name, { ...n, status: { conditions: agentConditions(ready, this.now) } });
  }
  ready(name: string): string | undefined {
    return nodeConditions(this.nodes.get(name) as KubeObject).find((c) => c.type === 'Ready')?.status;
  }
  taints(name: string): string[] {
    return taintList(this.nodes.get(name));
  }
}

describe('observeNodeHealth', () => {
  const grace = { gracePeriodMs: 20_000, startupGracePeriodMs: 60_000 };

  it('sets every monitored condition to Unknown once the lease and heartbeat are older than the grace period', () => {
    const n = node('a', { atMs: T0 });
    const first = observeNodeHealth(undefined, n, lease('a', T0), T0, grace);
    expect(first.conditions).toBeUndefined();
    const at20 = observeNodeHealth(first.health, n, lease('a', T0), T0 + 20_000, grace);
    expect(at20.conditions).toBeUndefined(); // exactly the grace period is still fine
    const late = observeNodeHealth(at20.health, n, lease('a', T0), T0 + 20_001, grace);
    expect(late.ready).toBe('Unknown');
    expect(late.transition).toBe('NodeNotReady');
    expect(late.conditions?.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ['MemoryPressure', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'],
      ['DiskPressure', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'],
      ['PIDPressure', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'],
      ['Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'],
    ]);
    // The heartbeat stays the agent's last; the transition is now.
    const ready = late.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.lastHeartbeatTime).toBe(kubeTime(T0));
    expect(ready?.lastTransitionTime).toBe(kubeTime(T0 + 20_001));
  });

  it.each([
    ['a renewed lease', (t: number) => ({ n: node('a', { atMs: T0 }), l: lease('a', t) })],
    ['a new Ready heartbeat', (t: number) => ({ n: node('a', { atMs: t }), l: undefined })],
  ])('keeps a node healthy on %s', (_what, at) => {
    let h = observeNodeHealth(undefined, node('a'), undefined, T0, grace).health;
    for (let t = T0 + 10_000; t <= T0 + 120_000; t += 10_000) {
      const { n, l } = at(t);
      const o = observeNodeHealth(h, n, l, t + 5_000, grace);
      expect(o.conditions).toBeUndefined();
      h = o.health;
    }
  });

  it('gives a node that never reported the startup grace period from its creation', () => {
    const created = T0 - 30_000;
    const bare: KubeObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'new', creationTimestamp: kubeTime(created) },
    };
    expect(observeNodeHealth(undefined, bare, undefined, created + 59_000, grace).conditions).toBeUndefined();
    const o = observeNodeHealth(undefined, bare, undefined, created + 61_000, grace);
    expect(o.ready).toBe('Unknown');
    expect(o.transition).toBeUndefined(); // it never was ready
    expect(o.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'Unknown',
      reason: 'NodeStatusNeverUpdated',
      message: 'Kubelet never posted node status.',
      lastHeartbeatTime: kubeTime(created),
    });
    // Reading back our own write is no sign of life.
    const written: KubeObject = { ...bare, status: { conditions: o.conditions } };
    const again = observeNodeHealth(o.health, written, undefined, created + 200_000, grace);
    expect(again.conditions).toBeUndefined();
    expect(again.health.probeMs).toBe(o.health.probeMs);
  });

  it('writes nothing for a node already Unknown, and reports NodeReady when the agent is back', () => {
    const n = node('a', { atMs: T0 });
    const first = observeNodeHealth(undefined, n, undefined, T0, grace);
    const late = observeNodeHealth(first.health, n, undefined, T0 + 30_000, grace);
    const unknown: KubeObject = { ...n, status: { conditions: late.conditions } };
    const o = observeNodeHealth(late.health, unknown, undefined, T0 + 200_000, grace);
    expect(o.conditions).toBeUndefined();
    expect(o.ready).toBe('Unknown');
    expect(o.transition).toBeUndefined();
    const back = observeNodeHealth(
      o.health,
      node('a', { atMs: T0 + 201_000 }),
      undefined,
      T0 + 202_000,
      grace,
    );
    expect(back.transition).toBe('NodeReady');
    expect(back.conditions).toBeUndefined();
    expect(back.health.notReadySinceMs).toBeUndefined();
  });
});

describe('zones', () => {
  it.each<[string, (ConditionStatus | undefined)[], ZoneState]>([
    ['all ready', ['True', 'True', 'True'], 'Normal'],
    ['two of three down: too few to call it a disruption', ['True', 'Unknown', 'False'], 'Normal'],
    ['three of five down (60%)', ['True', 'True', 'Unknown', 'Unknown', 'False'], 'PartialDisruption'],
    ['three of six down (50%)', ['True', 'True', 'True', 'Unknown', 'Unknown', 'False'], 'Normal'],
    ['a node without Ready counts as down', ['True', undefined, undefined, undefined], 'PartialDisruption'],
    ['none ready', ['Unknown', 'False'], 'FullDisruption'],
    ['a single node down', ['Unknown'], 'FullDisruption'],
  ])('%s → %s', (_name, readies, state) => {
    expect(computeZoneState(readies, 0.55)).toBe(state);
  });

  it.each<[ZoneState, number, boolean, number]>([
    ['Normal', 3, false, 0.1],
    ['FullDisruption', 3, false, 0.1],
    ['PartialDisruption', 50, false, 0],
    ['PartialDisruption', 51, false, 0.01],
    ['Normal', 3, true, 0],
  ])('rate in %s, %d nodes, all disrupted %s → %d', (state, size, all, rate) => {
    expect(zoneEvictionRate(state, size, all, settings)).toBe(rate);
  });

  it('keys zones by region and zone labels, one zone for unlabelled nodes', () => {
    expect(zoneOf(node('a'))).toBe('');
    expect(zoneOf(node('a', { zone: 'z1' }))).not.toBe(zoneOf(node('b', { zone: 'z2' })));
    expect(zoneOf(node('a', { zone: 'z1' }))).toBe(zoneOf(node('b', { zone: 'z1' })));
  });

  it('token bucket: burst 1, refills at the rate, keeps its tokens when the rate changes', () => {
    let b = newBucket(0.1, T0);
    let r = takeToken(b);
    expect(r.taken).toBe(true);
    r = takeToken(r.bucket);
    expect(r.taken).toBe(false);
    b = refillBucket(r.bucket, 0.1, T0 + 9_000);
    expect(takeToken(b).taken).toBe(false);
    b = refillBucket(b, 0.1, T0 + 10_000);
    expect(takeToken(b).taken).toBe(true);
    const stopped = refillBucket(newBucket(0.1, T0), 0, T0 + 1);
    expect(takeToken(stopped).taken).toBe(false);
  });
});

describe('withManagedTaints', () => {
  const user: Taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
  const unreachableNoExec: Taint = {
    key: 'node.kubernetes.io/unreachable',
    effect: 'NoExecute',
    timeAdded: kubeTime(T0 - 60_000),
  };
  it.each<[string, Taint[], Taint[], string | undefined, string[] | undefined]>([
    ['nothing to do', [user], [], undefined, undefined],
    [
      'cordon adds unschedulable, keeps user taints first',
      [user],
      [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }],
      undefined,
      ['dedicated:NoSchedule', 'unschedulable:NoSchedule'],
    ],
    [
      'uncordon removes it',
      [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }, user],
      [],
      undefined,
      ['dedicated:NoSchedule'],
    ],
    [
      'not-ready swaps to unreachable',
      [{ key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: kubeTime(T0 - 5000) }],
      [],
      'node.kubernetes.io/unreachable',
      ['unreachable:NoExecute'],
    ],
    ['an existing taint is kept as is', [unreachableNoExec], [], 'node.kubernetes.io/unreachable', undefined],
    ['recovery removes it', [unreachableNoExec, user], [], undefined, ['dedicated:NoSchedule']],
    [
      'a user NoExecute taint with another key stays',
      [{ key: 'maintenance', effect: 'NoExecute' }],
      [],
      undefined,
      undefined,
    ],
  ])('%s', (_name, current, noSchedule, noExecute, expected) => {
    const out = withManagedTaints(current, noSchedule, noExecute, T0);
    expect(
      out === undefined
        ? undefined
        : out.map((t) => `${t.key.replace('node.kubernetes.io/', '')}:${t.effect}`),
    ).toEqual(expected);
  });

  it('stamps a new NoExecute taint with timeAdded', () => {
    const out = withManagedTaints([], [], 'node.kubernetes.io/not-ready', T0);
    expect(out).toEqual([
      { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute', timeAdded: kubeTime(T0) },
    ]);
  });
});

describe('reconcileNodes (a simulated cluster, 2 s monitor period)', () => {
  it('a silent node goes Unknown after the grace period and gets the unreachable taints; back, it loses them', () => {
    const sim = new Sim();
    for (const n of ['a', 'b', 'c']) sim.add(n);
    sim.pass();
    sim.silent.add('a');
    sim.advance(20_000);
    expect(sim.ready('a')).toBe('True'); // last renewal at T0+0: 20 s is not yet over the grace
    const results = sim.advance(2_000);
    expect(sim.ready('a')).toBe('Unknown');
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
    expect(results.at(-1)?.events.map((e) => e.reason)).toEqual(['NodeNotReady']);
    expect(results.at(-1)?.unhealthy).toEqual(['a']);
    expect(sim.ready('b')).toBe('True');
    expect(sim.taints('b')).toEqual([]);

    // The agent comes back: a renewed lease alone does not make it Ready (only the agent says so)...
    sim.silent.delete('a');
    sim.advance(10_000);
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
    // ...its status report does, and the taints go.
    sim.report('a', 'True');
    const back = sim.pass();
    expect(back.events.map((e) => e.reason)).toEqual(['NodeReady']);
    expect(sim.taints('a')).toEqual([]);
  });

  it('a node whose agent says NotReady gets not-ready taints, swapped for unreachable when it goes silent', () => {
    const sim = new Sim();
    for (const n of ['a', 'b', 'c']) sim.add(n);
    sim.pass();
    sim.report('a', 'False');
    sim.pass();
    expect(sim.taints('a')).toEqual(['not-ready:NoSchedule', 'not-ready:NoExecute']);
    sim.silent.add('a');
    sim.advance(30_000);
    expect(sim.ready('a')).toBe('Unknown');
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
  });

  it('cordon and uncordon add and remove the unschedulable taint', () => {
    const sim = new Sim();
    sim.add('a');
    sim.nodes.set('a', { ...(sim.nodes.get('a') as KubeObject), spec: { unschedulable: true } });
    sim.pass();
    expect(sim.taints('a')).toEqual(['unschedulable:NoSchedule']);
    sim.nodes.set('a', {
      ...(sim.nodes.get('a') as KubeObject),
      spec: { taints: nodeTaints(sim.nodes.get('a') as KubeObject) },
    });
    sim.pass();
    expect(sim.taints('a')).toEqual([]);
  });

  it('taints NoExecute at the eviction rate: one node now, the next 10 s later (0.1 nodes/s)', () => {
    const sim = new Sim();
    for (const n of ['a', 'b', 'c', 'd', 'e', 'f']) sim.add(n);
    sim.pass();
    sim.silent.add('a');
    sim.silent.add('b');
    const [r] = sim.advance(22_000).slice(-1);
    expect(sim.ready('a')).toBe('Unknown');
    expect(sim.ready('b')).toBe('Unknown');
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
    expect(sim.taints('b')).toEqual(['unreachable:NoSchedule']); // held back by the rate limit
    expect(r?.waiting).toEqual(['b']);
    expect(r?.nextPassInMs).toBe(10_000);
    sim.advance(8_000);
    expect(sim.taints('b')).toEqual(['unreachable:NoSchedule']);
    sim.advance(2_000);
    expect(sim.taints('b')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
  });

  it('a small zone in partial disruption stops tainting NoExecute; a large one slows down', () => {
    for (const [threshold, expectTainted] of [
      [50, 0],
      [3, 1],
    ] as const) {
      const sim = new Sim({ ...settings, largeClusterThreshold: threshold });
      for (const n of ['a', 'b', 'c', 'd', 'e']) sim.add(n);
      sim.pass();
      for (const n of ['a', 'b', 'c']) sim.silent.add(n);
      const [r] = sim.advance(22_000).slice(-1);
      expect(r?.memory.zones.get('')?.state).toBe('PartialDisruption');
      const tainted = ['a', 'b', 'c'].filter((n) => sim.taints(n).includes('unreachable:NoExecute'));
      expect(tainted).toHaveLength(expectTainted);
      // NoSchedule taints are never rate limited.
      for (const n of ['a', 'b', 'c']) expect(sim.taints(n)).toContain('unreachable:NoSchedule');
    }
  });

  it('when every zone is fully disrupted no node is tainted NoExecute, and existing ones are removed', () => {
    const sim = new Sim();
    sim.add('a', 'z1');
    sim.add('b', 'z2');
    sim.pass();
    sim.silent.add('a');
    sim.advance(22_000);
    // z1 is fully down but z2 is fine: that is a real failure, evict at the normal rate.
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
    sim.silent.add('b');
    const results = sim.advance(22_000);
    expect(results.flatMap((r) => r.notices)).toContain(
      'all nodes are not ready: entering master disruption mode, evictions stopped',
    );
    expect(sim.ready('b')).toBe('Unknown');
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule']);
    expect(sim.taints('b')).toEqual(['unreachable:NoSchedule']);
    // One comes back: normal rules again, with a fresh grace period for the others.
    sim.silent.delete('b');
    sim.report('b', 'True');
    const [r] = sim.advance(2_000);
    expect(r?.notices).toContain('some nodes are ready again: leaving master disruption mode');
    expect(sim.taints('a')).toEqual(['unreachable:NoSchedule', 'unreachable:NoExecute']);
  });

  it('a single-node cluster whose agent stops never has its pods evicted', () => {
    const sim = new Sim();
    sim.add('only');
    sim.pass();
    sim.silent.add('only');
    sim.advance(120_000);
    expect(sim.ready('only')).toBe('Unknown');
    expect(sim.taints('only')).toEqual(['unreachable:NoSchedule']);
  });

  it('nodes labelled exclude-disruption do not count towards zone states', () => {
    const sim = new Sim();
    sim.add('a');
    sim.nodes.set('a', node('a', { labels: { 'node.kubernetes.io/exclude-disruption': '' } }));
    sim.add('b');
    sim.pass();
    sim.silent.add('b');
    sim.advance(22_000);
    // Only b counts: the zone is fully disrupted, all zones are: no NoExecute taint.
    expect(sim.taints('b')).toEqual(['unreachable:NoSchedule']);
  });
});

describe('taint-based eviction', () => {
  const unreachable: Taint = { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' };
  const notReady: Taint = { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' };
  const since = T0 - 1000;

  it.each<[string, Toleration, Taint, boolean]>([
    [
      'same key, Exists',
      { key: unreachable.key, operator: 'Exists', effect: 'NoExecute' },
      unreachable,
      true,
    ],
    ['same key, no effect', { key: unreachable.key, operator: 'Exists' }, unreachable, true],
    ['other key', { key: notReady.key, operator: 'Exists' }, unreachable, false],
    ['empty key Exists tolerates everything', { operator: 'Exists' }, unreachable, true],
    ['other effect', { key: unreachable.key, operator: 'Exists', effect: 'NoSchedule' }, unreachable, false],
    [
      'Equal with value',
      { key: 'k', value: 'v', effect: 'NoExecute' },
      { key: 'k', value: 'v', effect: 'NoExecute' },
      true,
    ],
    [
      'Equal, other value',
      { key: 'k', value: 'w', effect: 'NoExecute' },
      { key: 'k', value: 'v', effect: 'NoExecute' },
      false,
    ],
  ])('toleratesTaint: %s', (_name, tol, taint, ok) => {
    expect(toleratesTaint(tol, taint)).toBe(ok);
  });

  it.each<[string, Toleration[], Taint[], ReturnType<typeof planEviction>['type'], number | undefined]>([
    ['no taints', [], [], 'none', undefined],
    ['untolerated: now', [], [unreachable], 'now', undefined],
    [
      'tolerated 60 s from the taint',
      [{ key: unreachable.key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }],
      [unreachable],
      'at',
      since + 60_000,
    ],
    [
      'tolerated forever',
      [{ key: unreachable.key, operator: 'Exists', effect: 'NoExecute' }],
      [unreachable],
      'tolerated',
      undefined,
    ],
    [
      'tolerationSeconds 0: now',
      [{ key: unreachable.key, operator: 'Exists', tolerationSeconds: 0 }],
      [unreachable],
      'now',
      undefined,
    ],
    [
      'already past: now',
      [{ key: unreachable.key, operator: 'Exists', tolerationSeconds: 1 }],
      [unreachable],
      'now',
      undefined,
    ],
    [
      'the shortest of two',
      [
        { key: unreachable.key, operator: 'Exists', tolerationSeconds: 300 },
        { key: 'maintenance', operator: 'Exists', tolerationSeconds: 30 },
      ],
      [unreachable, { key: 'maintenance', effect: 'NoExecute' }],
      'at',
      since + 30_000,
    ],
    [
      'one taint untolerated among two',
      [{ key: unreachable.key, operator: 'Exists' }],
      [unreachable, notReady],
      'now',
      undefined,
    ],
    [
      'first matching toleration wins (upstream)',
      [{ operator: 'Exists' }, { key: unreachable.key, operator: 'Exists', tolerationSeconds: 5 }],
      [unreachable],
      'tolerated',
      undefined,
    ],
  ])('planEviction: %s', (name, tolerations, taints, type, atMs) => {
    const now = name === 'already past: now' ? since + 1000 : T0;
    const plan = planEviction(
      tolerations,
      taints.map((taint) => ({ taint, sinceMs: since })),
      now,
    );
    expect(plan.type).toBe(type);
    if (atMs !== undefined) expect(plan).toMatchObject({ atMs });
  });

  function pod(
    extra: { deleting?: boolean; phase?: string; ready?: string; tolerations?: Toleration[] } = {},
  ): KubeObject {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'web-1',
        namespace: 'shop',
        uid: 'u1',
        ...(extra.deleting === true ? { deletionTimestamp: kubeTime(T0) } : {}),
      },
      spec: { nodeName: 'a', containers: [{ name: 'c', image: 'x' }], tolerations: extra.tolerations ?? [] },
      status: {
        phase: extra.phase ?? 'Running',
        conditions: [
          { type: 'PodScheduled', status: 'True' },
          { type: 'Ready', status: extra.ready ?? 'True', lastTransitionTime: kubeTime(T0 - 60_000) },
        ],
      },
    };
  }
  const conds = (p: KubeObject | undefined): string[] =>
    ((p?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).map(
      (c) => `${c.type}=${c.status}`,
    );

  it('marks the pods of a node that is not ready not ready, so Services stop sending to them', () => {
    const r = reconcilePod({
      pod: pod({ tolerations: [{ operator: 'Exists' }] }),
      nodeReady: 'Unknown',
      noExecuteTaints: [],
      nowMs: T0,
    });
    expect(r.markedNotReady).toBe(true);
    expect(conds(r.status)).toEqual(['PodScheduled=True', 'Ready=False']);
    expect(
      reconcilePod({ pod: pod(), nodeReady: 'True', noExecuteTaints: [], nowMs: T0 }).status,
    ).toBeUndefined();
    expect(
      reconcilePod({ pod: pod({ ready: 'False' }), nodeReady: 'False', noExecuteTaints: [], nowMs: T0 })
        .status,
    ).toBeUndefined();
    expect(
      reconcilePod({ pod: pod({ phase: 'Succeeded' }), nodeReady: 'Unknown', noExecuteTaints: [], nowMs: T0 })
        .status,
    ).toBeUndefined();
  });

  it('adds the DisruptionTarget condition to a pod it evicts, and leaves pods being deleted alone', () => {
    const r = reconcilePod({
      pod: pod(),
      nodeReady: 'Unknown',
      noExecuteTaints: [{ taint: unreachable, sinceMs: T0 }],
      nowMs: T0,
    });
    expect(r.eviction.type).toBe('now');
    expect(conds(r.status)).toEqual(['PodScheduled=True', 'Ready=False', 'DisruptionTarget=True']);
    const going = reconcilePod({
      pod: pod({ deleting: true }),
      nodeReady: 'Unknown',
      noExecuteTaints: [{ taint: unreachable, sinceMs: T0 }],
      nowMs: T0,
    });
    expect(going).toEqual({ status: undefined, markedNotReady: false, eviction: { type: 'none' } });
  });
});
