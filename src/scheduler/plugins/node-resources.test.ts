import { describe, expect, it } from 'vitest';
import type { SchedulerProfile } from '../core.js';
import { node, pod, type NodeBuilder, type PodBuilder } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

describe('NodeResourcesFit filter', () => {
  const cases: {
    name: string;
    node: NodeBuilder;
    existing?: PodBuilder[];
    pod: PodBuilder;
    reasons: string[];
  }[] = [
    {
      name: 'fits',
      node: node('n').cpu('2').memory('4Gi'),
      pod: pod('p').req({ cpu: '1', memory: '1Gi' }),
      reasons: [],
    },
    {
      name: 'cpu used by existing pods',
      node: node('n').cpu('1'),
      existing: [pod('old').node('n').req({ cpu: '600m' })],
      pod: pod('p').req({ cpu: '500m' }),
      reasons: ['Insufficient cpu'],
    },
    {
      name: 'exactly the free amount fits',
      node: node('n').cpu('1'),
      existing: [pod('old').node('n').req({ cpu: '600m' })],
      pod: pod('p').req({ cpu: '400m' }),
      reasons: [],
    },
    {
      name: 'memory',
      node: node('n').memory('1Gi'),
      pod: pod('p').req({ memory: '2Gi' }),
      reasons: ['Insufficient memory'],
    },
    {
      name: 'ephemeral-storage',
      node: node('n').ephemeralStorage('10Gi'),
      pod: pod('p').req({ 'ephemeral-storage': '20Gi' }),
      reasons: ['Insufficient ephemeral-storage'],
    },
    {
      name: 'extended resource the node lacks',
      node: node('n'),
      pod: pod('p').req({ 'example.com/gpu': '1' }),
      reasons: ['Insufficient example.com/gpu'],
    },
    {
      name: 'extended resource the node has',
      node: node('n').resource('example.com/gpu', '2'),
      existing: [pod('old').node('n').req({ 'example.com/gpu': '1' })],
      pod: pod('p').req({ 'example.com/gpu': '1' }),
      reasons: [],
    },
    {
      name: 'pod count',
      node: node('n').pods(1),
      existing: [pod('old').node('n')],
      pod: pod('p'),
      reasons: ['Too many pods'],
    },
    {
      name: 'every missing resource is listed',
      node: node('n').pods(1).cpu('1').memory('1Gi'),
      existing: [pod('old').node('n')],
      pod: pod('p').req({ cpu: '2', memory: '2Gi' }),
      reasons: ['Too many pods', 'Insufficient cpu', 'Insufficient memory'],
    },
    {
      name: 'a pod requesting nothing fits a full node',
      node: node('n').cpu('1'),
      existing: [pod('old').node('n').req({ cpu: '1' })],
      pod: pod('p'),
      reasons: [],
    },
    {
      name: 'containers add up',
      node: node('n').cpu('1'),
      pod: pod('p').req({ cpu: '600m' }).req({ cpu: '600m' }),
      reasons: ['Insufficient cpu'],
    },
    {
      name: 'an init container bigger than the containers counts',
      node: node('n').cpu('1'),
      pod: pod('p').req({ cpu: '200m' }).initReq({ cpu: '1500m' }),
      reasons: ['Insufficient cpu'],
    },
    {
      name: 'overhead counts',
      node: node('n').cpu('1'),
      pod: pod('p').req({ cpu: '900m' }).overhead({ cpu: '200m' }),
      reasons: ['Insufficient cpu'],
    },
    {
      name: 'terminal pods free their resources',
      node: node('n').cpu('1'),
      existing: [pod('old').node('n').req({ cpu: '1' }).phase('Succeeded')],
      pod: pod('p').req({ cpu: '1' }),
      reasons: [],
    },
    {
      name: 'pods being deleted still hold their resources',
      node: node('n').cpu('1'),
      existing: [pod('old').node('n').req({ cpu: '1' }).deleting()],
      pod: pod('p').req({ cpu: '1' }),
      reasons: ['Insufficient cpu'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const h = new SchedulerHarness().addNode(c.node).addPod(...(c.existing ?? []));
      const r = h.evaluate(c.pod);
      if (c.reasons.length === 0) expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'n' });
      else expect(r).toMatchObject({ kind: 'Unschedulable', perNode: { n: c.reasons } });
    });
  }
});

function profile(strategy: SchedulerProfile['scoringStrategy']): SchedulerProfile {
  return { schedulerName: 'default-scheduler', scoringStrategy: strategy, percentageOfNodesToScore: 100 };
}

function cluster(strategy: SchedulerProfile['scoringStrategy']): SchedulerHarness {
  return new SchedulerHarness({ profile: profile(strategy) })
    .addNode(node('empty').cpu('4').memory('8Gi'), node('half').cpu('4').memory('8Gi'))
    .addPod(pod('old').node('half').req({ cpu: '2', memory: '4Gi' }));
}

describe('NodeResourcesFit score', () => {
  const p = () => pod('p').req({ cpu: '1', memory: '2Gi' });

  it('LeastAllocated: free share after placing the pod', () => {
    // empty: (4-1)/4 -> 75 for cpu and memory; half: (4-3)/4 -> 25
    expect(cluster('LeastAllocated').scores(p(), 'NodeResourcesFit')).toEqual({ empty: 75, half: 25 });
  });

  it('MostAllocated: used share after placing the pod', () => {
    expect(cluster('MostAllocated').scores(p(), 'NodeResourcesFit')).toEqual({ empty: 25, half: 75 });
  });

  it('BalancedAllocation strategy: NodeResourcesFit does not score', () => {
    const r = cluster('BalancedAllocation').evaluate(p());
    expect(r.kind).toBe('Scheduled');
    if (r.kind !== 'Scheduled') return;
    for (const s of r.scores) expect(s.byPlugin['NodeResourcesFit']).toBeUndefined();
  });

  it('pods without requests are scored as 100m cpu / 200Mi memory', () => {
    // empty node: cpu (4000-100)/4000 -> 97, memory (8192-200)/8192 -> 97
    const h = new SchedulerHarness({ profile: profile('LeastAllocated') }).addNode(
      node('n').cpu('4').memory('8Gi'),
    );
    expect(h.scores(pod('p'), 'NodeResourcesFit')).toEqual({ n: 97 });
  });
});

describe('NodeResourcesBalancedAllocation score', () => {
  it('scores 100 minus half the gap between cpu and memory fractions', () => {
    const h = new SchedulerHarness({ profile: profile('LeastAllocated') }).addNode(
      node('balanced').cpu('4').memory('8Gi'),
      node('skewed').cpu('4').memory('8Gi'),
    );
    h.addPod(pod('mem-hog').node('skewed').req({ memory: '6Gi' }));
    // balanced: cpu 1/4, mem 2/8 -> 100; skewed: cpu 1/4, mem 8/8 -> (1 - 0.75/2) * 100 = 62
    expect(h.scores(pod('p').req({ cpu: '1', memory: '2Gi' }), 'NodeResourcesBalancedAllocation')).toEqual({
      balanced: 100,
      skewed: 62,
    });
  });

  it('best-effort pods are not scored for balance', () => {
    const h = new SchedulerHarness().addNode(node('n'));
    const r = h.evaluate(pod('p'));
    expect(
      r.kind === 'Scheduled' && r.scores[0]?.byPlugin['NodeResourcesBalancedAllocation'],
    ).toBeUndefined();
  });
});
