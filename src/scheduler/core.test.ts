import { describe, expect, it } from 'vitest';
import { SchedulerCache } from './cache.js';
import {
  defaultProfile,
  isPodForProfile,
  numFeasibleNodesToFind,
  schedulePod,
  type SchedulerProfile,
} from './core.js';
import { node, pod } from './testing/builders.js';
import { SchedulerHarness } from './testing/harness.js';

const all: SchedulerProfile = { ...defaultProfile, percentageOfNodesToScore: 100 };

describe('schedulePod: the unschedulable message', () => {
  it('counts reasons per node, sorted as upstream, then the preemption sentence', () => {
    const h = new SchedulerHarness().addNode(
      node('small-1').cpu('1'),
      node('small-2').cpu('1'),
      node('small-3').cpu('1'),
      node('tainted-1').taint('node.kubernetes.io/unreachable', '', 'NoExecute'),
      node('tainted-2').taint('node.kubernetes.io/unreachable', '', 'NoExecute'),
      node('elsewhere').label('pool', 'other'),
    );
    const r = h.evaluate(
      pod('p')
        .req({ cpu: '2' })
        .requiredNodeAffinity([{ key: 'pool', operator: 'NotIn', values: ['other'] }]),
    );
    expect(r).toEqual({
      kind: 'Unschedulable',
      message:
        "0/6 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
        '2 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 3 Insufficient cpu. ' +
        'preemption: 0/6 nodes are available: 3 No preemption victims found for incoming pod, ' +
        '3 Preemption is not helpful for scheduling.',
      reasons: {
        'Insufficient cpu': 3,
        'node(s) had untolerated taint {node.kubernetes.io/unreachable: }': 2,
        "node(s) didn't match Pod's node affinity/selector": 1,
      },
      perNode: {
        'small-1': ['Insufficient cpu'],
        'small-2': ['Insufficient cpu'],
        'small-3': ['Insufficient cpu'],
        'tainted-1': ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }'],
        'tainted-2': ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }'],
        elsewhere: ["node(s) didn't match Pod's node affinity/selector"],
      },
    });
  });

  it('a node lacking several resources counts once per reason', () => {
    const h = new SchedulerHarness().addNode(node('n1').cpu('1').memory('1Gi'));
    const r = h.evaluate(pod('p').req({ cpu: '2', memory: '2Gi' }));
    expect(r.kind === 'Unschedulable' && r.message).toBe(
      '0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. ' +
        'preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
    );
  });

  it('preemptionPolicy Never says so', () => {
    const h = new SchedulerHarness().addNode(node('n1').cpu('1'));
    const r = h.evaluate(pod('p').req({ cpu: '2' }).preemptionPolicy('Never'));
    expect(r.kind === 'Unschedulable' && r.message).toBe(
      '0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.',
    );
  });

  it('an empty cluster', () => {
    const r = schedulePod(pod('p').obj(), new SchedulerCache(), defaultProfile);
    expect(r).toEqual({
      kind: 'Unschedulable',
      message: 'no nodes available to schedule pods',
      reasons: {},
      perNode: {},
    });
  });
});

describe('schedulePod: scoring strategies', () => {
  const place = (strategy: SchedulerProfile['scoringStrategy']) => {
    const h = new SchedulerHarness({ profile: { ...all, scoringStrategy: strategy } }).addNode(
      node('n1').cpu('4').memory('8Gi'),
      node('n2').cpu('4').memory('8Gi'),
      node('n3').cpu('4').memory('8Gi'),
    );
    for (let i = 0; i < 3; i++)
      expect(h.schedule(pod(`p${i}`).req({ cpu: '1', memory: '2Gi' })).kind).toBe('Scheduled');
    return [...h.placements().values()].map((pods) => pods.length).sort();
  };

  it('LeastAllocated spreads pods over the nodes', () => {
    expect(place('LeastAllocated')).toEqual([1, 1, 1]);
  });

  it('MostAllocated packs them onto one node', () => {
    expect(place('MostAllocated')).toEqual([3]);
  });

  it('BalancedAllocation alone does not care how full a node is', () => {
    const h = new SchedulerHarness({ profile: { ...all, scoringStrategy: 'BalancedAllocation' } }).addNode(
      node('n1').cpu('4').memory('8Gi'),
      node('n2').cpu('4').memory('8Gi'),
    );
    h.addPod(pod('cpu-hog').node('n1').req({ cpu: '2' }));
    // a memory-heavy pod balances n1 (cpu-heavy) better than the empty n2
    expect(h.evaluate(pod('p').req({ memory: '4Gi' }))).toMatchObject({ kind: 'Scheduled', nodeName: 'n1' });
  });

  it('scoreWeights and disabled plugins change the outcome', () => {
    const nodes = [node('n1').taint('a', 'b', 'PreferNoSchedule'), node('n2')];
    const h = new SchedulerHarness({ profile: all }).addNode(...nodes);
    h.addPod(pod('busy').node('n2').req({ cpu: '3' }));
    // TaintToleration (weight 3) beats LeastAllocated: n2 despite its load
    expect(h.evaluate(pod('p'))).toMatchObject({ nodeName: 'n2' });
    const off = new SchedulerHarness({ profile: { ...all, disabled: ['TaintToleration'] } }).addNode(
      ...nodes,
    );
    off.addPod(pod('busy').node('n2').req({ cpu: '3' }));
    expect(off.evaluate(pod('p'))).toMatchObject({ nodeName: 'n1' });
    const light = new SchedulerHarness({ profile: { ...all, scoreWeights: { TaintToleration: 0 } } }).addNode(
      ...nodes,
    );
    light.addPod(pod('busy').node('n2').req({ cpu: '3' }));
    expect(light.evaluate(pod('p'))).toMatchObject({ nodeName: 'n1' });
  });

  it('a disabled filter no longer rejects', () => {
    const h = new SchedulerHarness({ profile: { ...all, disabled: ['TaintToleration'] } }).addNode(
      node('n1').taint('a', 'b', 'NoSchedule'),
    );
    expect(h.evaluate(pod('p')).kind).toBe('Scheduled');
  });
});

describe('schedulePod: the result', () => {
  it('lists the 10 best nodes, chosen one first, totals descending and equal to the plugin sum', () => {
    const h = new SchedulerHarness({ profile: all });
    for (let i = 0; i < 15; i++) h.addNode(node(`n${i}`));
    for (let i = 0; i < 15; i++)
      h.addPod(
        pod(`load${i}`)
          .node(`n${i}`)
          .req({ cpu: `${i * 200}m` }),
      );
    const r = h.evaluate(pod('p').req({ cpu: '100m' }));
    if (r.kind !== 'Scheduled') throw new Error(r.message);
    expect(r.feasibleNodes).toBe(15);
    expect(r.evaluatedNodes).toBe(15);
    expect(r.scores).toHaveLength(10);
    expect(r.scores[0]?.nodeName).toBe(r.nodeName);
    expect(r.nodeName).toBe('n0');
    for (let i = 1; i < r.scores.length; i++)
      expect(r.scores[i - 1]!.total).toBeGreaterThanOrEqual(r.scores[i]!.total);
    for (const s of r.scores) expect(Object.values(s.byPlugin).reduce((a, b) => a + b, 0)).toBe(s.total);
  });

  it('ties are broken by the injected random source', () => {
    const cache = new SchedulerCache();
    for (const n of ['a', 'b', 'c']) cache.upsertNode(node(n).obj());
    const keepFirst = schedulePod(pod('p').obj(), cache, all, () => 0.99);
    cache.nextStartNodeIndex = 0;
    const takeLast = schedulePod(pod('p').obj(), cache, all, () => 0);
    expect(keepFirst).toMatchObject({ nodeName: 'a' });
    expect(takeLast).toMatchObject({ nodeName: 'c' });
  });

  it('does not change the cluster in the cache', () => {
    const h = new SchedulerHarness().addNode(node('n1'));
    h.evaluate(pod('p').req({ cpu: '1' }));
    expect(h.cache.getNodeInfo('n1')?.requested.milliCpu).toBe(0);
    expect(h.cache.pods()).toHaveLength(0);
  });
});

describe('schedulePod: percentageOfNodesToScore', () => {
  it.each([
    [undefined, 50, 50],
    [0, 99, 99],
    [0, 100, 100],
    [0, 1000, 420],
    [0, 5000, 500],
    [0, 10000, 500],
    [0, 300, 144],
    [30, 5000, 1500],
    [1, 5000, 100],
    [100, 5000, 5000],
  ])('percentage %s of %i nodes -> stop after %i feasible', (pct, nodes, want) => {
    expect(numFeasibleNodesToFind(pct, nodes)).toBe(want);
  });

  it('stops after enough feasible nodes and starts the next search where this one ended', () => {
    const cache = new SchedulerCache();
    for (let i = 0; i < 300; i++) cache.upsertNode(node(`n${i}`).obj());
    const r1 = schedulePod(pod('p1').obj(), cache, defaultProfile);
    expect(r1).toMatchObject({ kind: 'Scheduled', feasibleNodes: 144, evaluatedNodes: 144 });
    expect(cache.nextStartNodeIndex).toBe(144);
    const r2 = schedulePod(pod('p2').obj(), cache, defaultProfile);
    expect(r2).toMatchObject({ feasibleNodes: 144 });
    // the second search looked at n144..n287
    const second = r2.kind === 'Scheduled' ? r2.scores.map((s) => Number(s.nodeName.slice(1))) : [];
    for (const i of second) expect(i).toBeGreaterThanOrEqual(144);
    expect(cache.nextStartNodeIndex).toBe(288);
  });

  it('infeasible nodes do not count towards the stop', () => {
    const cache = new SchedulerCache();
    for (let i = 0; i < 300; i++)
      cache.upsertNode(
        node(`n${i}`)
          .cpu(i % 2 === 0 ? '0' : '4')
          .obj(),
      );
    const r = schedulePod(pod('p').req({ cpu: '1' }).obj(), cache, defaultProfile);
    expect(r).toMatchObject({ kind: 'Scheduled', feasibleNodes: 144, evaluatedNodes: 288 });
  });
});

describe('isPodForProfile', () => {
  it.each([
    ['no schedulerName', pod('p'), true],
    ['default-scheduler', pod('p').schedulerName('default-scheduler'), true],
    ['another scheduler', pod('p').schedulerName('other'), false],
    ['already bound', pod('p').node('n1'), false],
    ['being deleted', pod('p').deleting(), false],
  ])('%s', (_name, p, want) => {
    expect(isPodForProfile(p.obj(), defaultProfile)).toBe(want);
  });
});
