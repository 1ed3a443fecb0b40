import { describe, expect, it } from 'vitest';
import { node, pod, type PodBuilder } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

const reason = "node(s) didn't match Pod's node affinity/selector";

function fitsOn(p: PodBuilder): string[] {
  const h = new SchedulerHarness({
    profile: {
      schedulerName: 'default-scheduler',
      scoringStrategy: 'LeastAllocated',
      percentageOfNodesToScore: 100,
    },
  }).addNode(
    node('a').label('disk', 'ssd').label('gen', '5'),
    node('b').label('disk', 'hdd').label('gen', '3'),
    node('c').label('gen', 'x'),
  );
  const r = h.evaluate(p);
  if (r.kind === 'Unschedulable') {
    for (const reasons of Object.values(r.perNode)) expect(reasons).toEqual([reason]);
    return [];
  }
  return r.scores.map((s) => s.nodeName).sort();
}

describe('NodeAffinity filter', () => {
  const cases: { name: string; pod: () => PodBuilder; nodes: string[] }[] = [
    { name: 'no selector', pod: () => pod('p'), nodes: ['a', 'b', 'c'] },
    { name: 'nodeSelector', pod: () => pod('p').nodeSelector({ disk: 'ssd' }), nodes: ['a'] },
    { name: 'nodeSelector matching nothing', pod: () => pod('p').nodeSelector({ disk: 'nvme' }), nodes: [] },
    {
      name: 'In',
      pod: () => pod('p').requiredNodeAffinity([{ key: 'disk', operator: 'In', values: ['ssd', 'hdd'] }]),
      nodes: ['a', 'b'],
    },
    {
      name: 'NotIn (matches nodes without the label)',
      pod: () => pod('p').requiredNodeAffinity([{ key: 'disk', operator: 'NotIn', values: ['ssd'] }]),
      nodes: ['b', 'c'],
    },
    {
      name: 'Exists',
      pod: () => pod('p').requiredNodeAffinity([{ key: 'disk', operator: 'Exists' }]),
      nodes: ['a', 'b'],
    },
    {
      name: 'DoesNotExist',
      pod: () => pod('p').requiredNodeAffinity([{ key: 'disk', operator: 'DoesNotExist' }]),
      nodes: ['c'],
    },
    {
      name: 'Gt (non-integer labels never match)',
      pod: () => pod('p').requiredNodeAffinity([{ key: 'gen', operator: 'Gt', values: ['4'] }]),
      nodes: ['a'],
    },
    {
      name: 'Lt',
      pod: () => pod('p').requiredNodeAffinity([{ key: 'gen', operator: 'Lt', values: ['4'] }]),
      nodes: ['b'],
    },
    {
      name: 'expressions in one term are ANDed',
      pod: () =>
        pod('p').requiredNodeAffinity([
          { key: 'disk', operator: 'Exists' },
          { key: 'gen', operator: 'Lt', values: ['4'] },
        ]),
      nodes: ['b'],
    },
    {
      name: 'terms are ORed',
      pod: () =>
        pod('p')
          .requiredNodeAffinity([{ key: 'disk', operator: 'In', values: ['ssd'] }])
          .requiredNodeAffinity([{ key: 'gen', operator: 'In', values: ['x'] }]),
      nodes: ['a', 'c'],
    },
    {
      name: 'matchFields metadata.name',
      pod: () => pod('p').requiredNodeAffinity([], [{ key: 'metadata.name', operator: 'In', values: ['c'] }]),
      nodes: ['c'],
    },
    {
      name: 'matchFields metadata.name NotIn',
      pod: () =>
        pod('p').requiredNodeAffinity([], [{ key: 'metadata.name', operator: 'NotIn', values: ['c'] }]),
      nodes: ['a', 'b'],
    },
    { name: 'an empty term matches nothing', pod: () => pod('p').requiredNodeAffinity([]), nodes: [] },
    {
      name: 'nodeSelector and affinity must both hold',
      pod: () =>
        pod('p')
          .nodeSelector({ disk: 'hdd' })
          .requiredNodeAffinity([{ key: 'gen', operator: 'Gt', values: ['4'] }]),
      nodes: [],
    },
  ];
  for (const c of cases) {
    it(`${c.name} -> ${c.nodes.join(',') || 'none'}`, () => {
      expect(fitsOn(c.pod())).toEqual(c.nodes);
    });
  }
});

describe('NodeAffinity score', () => {
  it('sums preferred weights, normalized to 100 for the best node, times weight 2', () => {
    const h = new SchedulerHarness().addNode(
      node('a').label('disk', 'ssd').label('zone', 'z1'),
      node('b').label('disk', 'ssd'),
      node('c'),
    );
    const scores = h.scores(
      pod('p')
        .preferredNodeAffinity(80, [{ key: 'disk', operator: 'In', values: ['ssd'] }])
        .preferredNodeAffinity(20, [{ key: 'zone', operator: 'Exists' }]),
      'NodeAffinity',
    );
    // raw 100, 80, 0 -> normalized 100, 80, 0 -> x2
    expect(scores).toEqual({ a: 200, b: 160, c: 0 });
  });

  it('the preferred node wins when everything else is equal', () => {
    const h = new SchedulerHarness().addNode(node('a'), node('b').label('disk', 'ssd'), node('c'));
    const r = h.evaluate(
      pod('p').preferredNodeAffinity(1, [{ key: 'disk', operator: 'In', values: ['ssd'] }]),
    );
    expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'b' });
  });
});
