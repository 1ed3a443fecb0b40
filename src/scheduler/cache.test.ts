import { describe, expect, it } from 'vitest';
import { SchedulerCache } from './cache.js';
import { node, pod } from './testing/builders.js';

function cpu(cache: SchedulerCache, n: string): number | undefined {
  return cache.getNodeInfo(n)?.requested.milliCpu;
}

describe('SchedulerCache', () => {
  it('assume counts the pod at once, forget takes it back', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').obj());
    const p = pod('p').req({ cpu: '500m' }).obj();
    c.assume(p, 'n1');
    expect(cpu(c, 'n1')).toBe(500);
    expect(c.isAssumed(p)).toBe(true);
    c.forget(p);
    expect(cpu(c, 'n1')).toBe(0);
  });

  it('the bound pod replaces the assumed copy, counted once', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').obj());
    const p = pod('p').req({ cpu: '500m' });
    c.assume(p.obj(), 'n1');
    c.upsertPod(p.node('n1').obj());
    expect(cpu(c, 'n1')).toBe(500);
    expect(c.isAssumed(p.obj())).toBe(false);
    // forget after the bind was confirmed does nothing
    c.forget(p.obj());
    expect(cpu(c, 'n1')).toBe(500);
  });

  it('a pod bound elsewhere than assumed moves', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').obj());
    c.upsertNode(node('n2').obj());
    const p = pod('p').req({ cpu: '1' });
    c.assume(p.obj(), 'n1');
    c.upsertPod(p.node('n2').obj());
    expect([cpu(c, 'n1'), cpu(c, 'n2')]).toEqual([0, 1000]);
  });

  it('ignores pods without a node and drops finished ones', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').obj());
    c.upsertPod(pod('pending').req({ cpu: '1' }).obj());
    expect(cpu(c, 'n1')).toBe(0);
    const p = pod('p').node('n1').req({ cpu: '1' });
    c.upsertPod(p.obj());
    expect(cpu(c, 'n1')).toBe(1000);
    c.upsertPod(p.phase('Failed').obj());
    expect(cpu(c, 'n1')).toBe(0);
    expect(c.pods()).toHaveLength(0);
  });

  it('pods may arrive before their node, and outlive it', () => {
    const c = new SchedulerCache();
    c.upsertPod(pod('p').node('n1').req({ cpu: '1' }).obj());
    expect(c.nodeCount()).toBe(0);
    c.upsertNode(node('n1').obj());
    expect(c.nodeNames()).toEqual(['n1']);
    expect(cpu(c, 'n1')).toBe(1000);
    c.removeNode('n1');
    expect(c.nodeCount()).toBe(0);
    expect(c.getNodeInfo('n1')).toBeUndefined();
    c.upsertNode(node('n1').obj());
    expect(cpu(c, 'n1')).toBe(1000);
  });

  it('a node update keeps its pods and refreshes labels and allocatable', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').cpu('2').obj());
    c.upsertPod(pod('p').node('n1').req({ cpu: '1' }).obj());
    c.upsertNode(node('n1').cpu('8').label('zone', 'z').obj());
    const info = c.getNodeInfo('n1');
    expect(info?.allocatable.milliCpu).toBe(8000);
    expect(info?.labels['zone']).toBe('z');
    expect(cpu(c, 'n1')).toBe(1000);
    expect(c.labelValues('zone')).toEqual(new Map([['z', 1]]));
    expect(c.nodesWithLabel('zone')).toBe(1);
  });

  it('counts image holders and label values over real nodes', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('a').zone('z1').image(['app:1'], 100).obj());
    c.upsertNode(node('b').zone('z1').image(['app:1'], 100).obj());
    c.upsertNode(node('c').zone('z2').obj());
    expect(c.imageNodeCount('app:1')).toBe(2);
    expect(c.labelValues('topology.kubernetes.io/zone')).toEqual(
      new Map([
        ['z1', 2],
        ['z2', 1],
      ]),
    );
    c.removeNode('a');
    expect(c.imageNodeCount('app:1')).toBe(1);
    expect(c.labelValues('topology.kubernetes.io/zone').get('z1')).toBe(1);
  });

  it('groups pods by namespace and labels, and by affinity terms', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').obj());
    c.upsertNode(node('n2').obj());
    for (let i = 0; i < 3; i++)
      c.upsertPod(
        pod(`w${i}`)
          .label('app', 'web')
          .antiAffinity('kubernetes.io/hostname', { app: 'web' })
          .node(i < 2 ? 'n1' : 'n2')
          .obj(),
      );
    const groups = [...c.podGroups()];
    expect(groups).toHaveLength(1);
    expect(groups[0]?.byNode).toEqual(
      new Map([
        ['n1', 2],
        ['n2', 1],
      ]),
    );
    expect([...c.antiAffinityGroups()]).toHaveLength(1);
    c.removePod(pod('w2').obj());
    expect(groups[0]?.byNode).toEqual(new Map([['n1', 2]]));
  });

  it('clone is independent', () => {
    const c = new SchedulerCache();
    c.upsertNode(node('n1').obj());
    c.upsertPod(pod('p').node('n1').req({ cpu: '1' }).obj());
    const d = c.clone();
    d.assume(pod('q').req({ cpu: '1' }).obj(), 'n1');
    d.upsertNode(node('n2').obj());
    expect(cpu(d, 'n1')).toBe(2000);
    expect(cpu(c, 'n1')).toBe(1000);
    expect(c.nodeNames()).toEqual(['n1']);
    expect(d.nodeNames()).toEqual(['n1', 'n2']);
  });
});
