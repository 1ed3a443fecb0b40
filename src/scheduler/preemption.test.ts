import { describe, expect, it } from 'vitest';
import type { ScheduleResult } from './core.js';
import { node, pod } from './testing/builders.js';
import { SchedulerHarness } from './testing/harness.js';

function victims(r: ScheduleResult): { node: string; victims: string[] } | undefined {
  if (r.kind !== 'Unschedulable' || r.preemption === undefined) return undefined;
  return { node: r.preemption.nodeName, victims: r.preemption.victims.map((v) => v.metadata.name ?? '') };
}

describe('DefaultPreemption', () => {
  it('evicts the fewest, least important lower-priority pods', () => {
    const h = new SchedulerHarness()
      .addNode(node('n1').cpu('4'))
      .addPod(
        pod('p1').node('n1').req({ cpu: '1' }).priority(1),
        pod('p2').node('n1').req({ cpu: '1' }).priority(2),
        pod('p3').node('n1').req({ cpu: '1' }).priority(3),
        pod('p4').node('n1').req({ cpu: '1' }).priority(4),
      );
    const r = h.evaluate(pod('big').req({ cpu: '2' }).priority(10));
    expect(victims(r)).toEqual({ node: 'n1', victims: ['p2', 'p1'] });
    expect(r.kind === 'Unschedulable' && r.message).toBe(
      '0/1 nodes are available: 1 Insufficient cpu. preemption: evicting 2 lower-priority pod(s) on node n1 would make room.',
    );
  });

  it('never evicts pods of equal or higher priority', () => {
    const h = new SchedulerHarness()
      .addNode(node('n1').cpu('2'))
      .addPod(
        pod('same').node('n1').req({ cpu: '1' }).priority(5),
        pod('higher').node('n1').req({ cpu: '1' }).priority(9),
      );
    const r = h.evaluate(pod('p').req({ cpu: '1' }).priority(5));
    expect(victims(r)).toBeUndefined();
    expect(r.kind === 'Unschedulable' && r.message).toMatch(
      /preemption: 0\/1 nodes are available: 1 No preemption victims found for incoming pod\.$/,
    );
  });

  it('is not attempted on nodes that fail for reasons eviction cannot fix', () => {
    const h = new SchedulerHarness()
      .addNode(
        node('tainted').cpu('1').taint('k', 'v', 'NoSchedule'),
        node('cordoned').cpu('1').unschedulable(),
      )
      .addPod(pod('low').node('tainted').req({ cpu: '1' }).priority(0));
    const r = h.evaluate(pod('p').req({ cpu: '1' }).priority(100));
    expect(victims(r)).toBeUndefined();
    expect(r.kind === 'Unschedulable' && r.message).toMatch(
      /preemption: 0\/2 nodes are available: 2 Preemption is not helpful for scheduling\.$/,
    );
  });

  it('picks the node whose most important victim has the lowest priority', () => {
    const h = new SchedulerHarness()
      .addNode(node('a').cpu('1'), node('b').cpu('1'))
      .addPod(
        pod('on-a').node('a').req({ cpu: '1' }).priority(5),
        pod('on-b').node('b').req({ cpu: '1' }).priority(3),
      );
    expect(victims(h.evaluate(pod('p').req({ cpu: '1' }).priority(10)))).toEqual({
      node: 'b',
      victims: ['on-b'],
    });
  });

  it('then the smallest priority sum, then the fewest victims', () => {
    const h = new SchedulerHarness()
      .addNode(node('two').cpu('2'), node('one').cpu('2'))
      .addPod(
        pod('t1').node('two').req({ cpu: '1' }).priority(1),
        pod('t2').node('two').req({ cpu: '1' }).priority(1),
        pod('o1').node('one').req({ cpu: '2' }).priority(1),
      );
    expect(victims(h.evaluate(pod('p').req({ cpu: '2' }).priority(10)))).toEqual({
      node: 'one',
      victims: ['o1'],
    });
  });

  it('then the node whose victims started last', () => {
    const h = new SchedulerHarness()
      .addNode(node('old').cpu('1'), node('young').cpu('1'))
      .addPod(
        pod('o').node('old').req({ cpu: '1' }).priority(1).startTime('2024-01-01T00:00:00Z'),
        pod('y').node('young').req({ cpu: '1' }).priority(1).startTime('2024-06-01T00:00:00Z'),
      );
    expect(victims(h.evaluate(pod('p').req({ cpu: '1' }).priority(10)))).toEqual({
      node: 'young',
      victims: ['y'],
    });
  });

  it('makes room for a pod blocked by a lower-priority pod it has anti-affinity to', () => {
    const h = new SchedulerHarness()
      .addNode(node('n1'))
      .addPod(pod('batch').label('app', 'batch').node('n1').priority(0));
    const incoming = pod('web').priority(100).antiAffinity('kubernetes.io/hostname', { app: 'batch' });
    const r = h.evaluate(incoming);
    expect(r).toMatchObject({ reasons: { "node(s) didn't match pod anti-affinity rules": 1 } });
    expect(victims(r)).toEqual({ node: 'n1', victims: ['batch'] });
  });

  it('after the victims are gone the pod fits where preemption said', () => {
    const low = pod('low').node('n2').req({ cpu: '3' }).priority(0).obj();
    const h = new SchedulerHarness()
      .addNode(node('n1').cpu('2'), node('n2').cpu('4'))
      .addPod(pod('keep').node('n1').req({ cpu: '2' }).priority(50))
      .addPod(low);
    const p = pod('p').req({ cpu: '3' }).priority(10);
    expect(victims(h.evaluate(p))).toEqual({ node: 'n2', victims: ['low'] });
    h.cache.removePod(low);
    expect(h.evaluate(p)).toMatchObject({ kind: 'Scheduled', nodeName: 'n2' });
  });

  it('a pod nominated to a node where a lower-priority pod is terminating waits', () => {
    const h = new SchedulerHarness()
      .addNode(node('n1').cpu('1'))
      .addPod(pod('going').node('n1').req({ cpu: '1' }).priority(0).deleting());
    const r = h.evaluate(pod('p').req({ cpu: '1' }).priority(10).nominatedNodeName('n1'));
    expect(r.kind === 'Unschedulable' && r.message).toMatch(
      /preemption: not eligible due to a terminating pod on the nominated node\.$/,
    );
  });

  it('respects topology spread when choosing victims', () => {
    const h = new SchedulerHarness()
      .addNode(node('a1').zone('a').cpu('1'), node('b1').zone('b').cpu('1'))
      .addPod(pod('w0').label('app', 'web').node('a1').req({ cpu: '500m' }).priority(0))
      .addPod(pod('filler').node('b1').req({ cpu: '1' }).priority(0));
    const r = h.evaluate(
      pod('w1')
        .label('app', 'web')
        .req({ cpu: '500m' })
        .priority(10)
        .spread({ topologyKey: 'topology.kubernetes.io/zone', selector: { app: 'web' } }),
    );
    // a1 has room but would make skew 2; evicting `filler` on b1 makes room in the empty zone.
    expect(victims(r)).toEqual({ node: 'b1', victims: ['filler'] });
  });
});
