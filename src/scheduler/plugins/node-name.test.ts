import { describe, expect, it } from 'vitest';
import { node, pod } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

describe('NodeName', () => {
  it('a pod that names a node fits only there', () => {
    const h = new SchedulerHarness().addNode(node('n1'), node('n2'), node('n3'));
    const r = h.evaluate(pod('p').node('n2'));
    expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'n2', feasibleNodes: 1 });
  });

  it('naming a node that is full reports the other nodes as not matching', () => {
    const h = new SchedulerHarness().addNode(node('n1').cpu('1'), node('n2'));
    const r = h.evaluate(pod('p').node('n1').req({ cpu: '2' }));
    expect(r.kind).toBe('Unschedulable');
    if (r.kind !== 'Unschedulable') return;
    expect(r.perNode).toEqual({
      n1: ['Insufficient cpu'],
      n2: ["node(s) didn't match the requested node name"],
    });
  });
});
