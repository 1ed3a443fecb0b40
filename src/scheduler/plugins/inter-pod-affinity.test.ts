import { describe, expect, it } from 'vitest';
import { namespace, node, pod } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

const host = 'kubernetes.io/hostname';
const zone = 'topology.kubernetes.io/zone';
const affinityReason = "node(s) didn't match pod affinity rules";
const antiReason = "node(s) didn't match pod anti-affinity rules";
const existingAntiReason = "node(s) didn't satisfy existing pods anti-affinity rules";

/** Three nodes: a1, a2 in zone a; b1 in zone b. */
function zones(): SchedulerHarness {
  return new SchedulerHarness({
    profile: {
      schedulerName: 'default-scheduler',
      scoringStrategy: 'LeastAllocated',
      percentageOfNodesToScore: 100,
    },
  }).addNode(node('a1').zone('a'), node('a2').zone('a'), node('b1').zone('b'));
}

function feasible(h: SchedulerHarness, p: Parameters<SchedulerHarness['evaluate']>[0]): string[] {
  const r = h.evaluate(p);
  return r.kind === 'Scheduled' ? r.scores.map((s) => s.nodeName).sort() : [];
}

describe('InterPodAffinity required affinity', () => {
  it('goes to the domain of a matching pod (zone)', () => {
    const h = zones().addPod(pod('db').label('app', 'db').node('a2'));
    expect(feasible(h, pod('web').affinity(zone, { app: 'db' }))).toEqual(['a1', 'a2']);
  });

  it('hostname topology pins to the node', () => {
    const h = zones().addPod(pod('db').label('app', 'db').node('b1'));
    expect(feasible(h, pod('web').affinity(host, { app: 'db' }))).toEqual(['b1']);
  });

  it('no matching pod anywhere: unschedulable with the affinity reason', () => {
    const h = zones();
    const r = h.evaluate(pod('web').affinity(zone, { app: 'db' }));
    expect(r).toMatchObject({
      kind: 'Unschedulable',
      reasons: { [affinityReason]: 3 },
      message: `0/3 nodes are available: 3 ${affinityReason}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.`,
    });
  });

  it('the first pod of a self-affine group may go anywhere', () => {
    const h = zones();
    expect(feasible(h, pod('web-0').label('app', 'web').affinity(zone, { app: 'web' }))).toEqual([
      'a1',
      'a2',
      'b1',
    ]);
  });

  it('nodes without the topology key are rejected', () => {
    const h = zones().addNode(node('nozone')).addPod(pod('db').label('app', 'db').node('a1'));
    expect(h.reasons(pod('web').affinity('rack', { app: 'db' }))).toEqual({
      a1: [affinityReason],
      a2: [affinityReason],
      b1: [affinityReason],
      nozone: [affinityReason],
    });
  });

  it('pods in another namespace do not match unless the term names it', () => {
    const h = zones().addPod(pod('db').ns('data').label('app', 'db').node('b1'));
    expect(feasible(h, pod('web').affinity(host, { app: 'db' }))).toEqual([]);
    expect(feasible(h, pod('web').affinity(host, { app: 'db' }, { namespaces: ['data'] }))).toEqual(['b1']);
    expect(feasible(h, pod('web').affinity(host, { app: 'db' }, { namespaceSelector: {} }))).toEqual(['b1']);
  });

  it('namespaceSelector matches namespace labels the cache knows', () => {
    const h = zones()
      .addNamespace(namespace('data', { team: 'storage' }))
      .addPod(pod('db').ns('data').label('app', 'db').node('a1'));
    expect(
      feasible(h, pod('web').affinity(host, { app: 'db' }, { namespaceSelector: { team: 'storage' } })),
    ).toEqual(['a1']);
    expect(
      feasible(h, pod('web').affinity(host, { app: 'db' }, { namespaceSelector: { team: 'other' } })),
    ).toEqual([]);
  });

  it('with two terms, a pod counts only if it matches both', () => {
    const h = zones()
      .addPod(pod('x').label('app', 'db').node('a1'))
      .addPod(pod('y').label('tier', 'cache').node('b1'));
    expect(feasible(h, pod('web').affinity(zone, { app: 'db' }).affinity(zone, { tier: 'cache' }))).toEqual(
      [],
    );
    h.addPod(pod('z').label('app', 'db').label('tier', 'cache').node('b1'));
    expect(feasible(h, pod('web').affinity(zone, { app: 'db' }).affinity(zone, { tier: 'cache' }))).toEqual([
      'b1',
    ]);
  });
});

describe('InterPodAffinity required anti-affinity', () => {
  it('avoids domains with matching pods', () => {
    const h = zones().addPod(pod('web-0').label('app', 'web').node('a1'));
    expect(feasible(h, pod('web-1').label('app', 'web').antiAffinity(zone, { app: 'web' }))).toEqual(['b1']);
    expect(feasible(h, pod('web-1').label('app', 'web').antiAffinity(host, { app: 'web' }))).toEqual([
      'a2',
      'b1',
    ]);
  });

  it('reports the anti-affinity reason', () => {
    const h = zones()
      .addPod(pod('w0').label('app', 'web').node('a1'))
      .addPod(pod('w1').label('app', 'web').node('b1'));
    expect(h.reasons(pod('w2').label('app', 'web').antiAffinity(zone, { app: 'web' }))).toEqual({
      a1: [antiReason],
      a2: [antiReason],
      b1: [antiReason],
    });
  });

  it("existing pods' anti-affinity keeps matching pods away (symmetry)", () => {
    const h = zones().addPod(
      pod('loner').label('app', 'loner').antiAffinity(zone, { app: 'web' }).node('a1'),
    );
    expect(feasible(h, pod('web').label('app', 'web'))).toEqual(['b1']);
    expect(
      h.reasons(pod('web').label('app', 'web').nodeSelector({ 'topology.kubernetes.io/zone': 'a' })),
    ).toEqual({
      a1: [existingAntiReason],
      a2: [existingAntiReason],
      b1: ["node(s) didn't match Pod's node affinity/selector"],
    });
  });

  it('nodes without the topology key are fine for anti-affinity', () => {
    const h = zones().addNode(node('nozone')).addPod(pod('w0').label('app', 'web').node('a1'));
    expect(feasible(h, pod('w1').label('app', 'web').antiAffinity('rack', { app: 'web' }))).toEqual([
      'a1',
      'a2',
      'b1',
      'nozone',
    ]);
  });

  it('replicas with hostname anti-affinity spread one per node, then stop', () => {
    const h = zones();
    const results = [0, 1, 2, 3].map((i) =>
      h.schedule(pod(`w${i}`).label('app', 'web').antiAffinity(host, { app: 'web' })),
    );
    expect(results.map((r) => r.kind)).toEqual(['Scheduled', 'Scheduled', 'Scheduled', 'Unschedulable']);
    expect(new Set(['w0', 'w1', 'w2'].map((n) => h.nodeOf(n))).size).toBe(3);
    h.assertInvariants();
  });
});

describe('InterPodAffinity score', () => {
  it('preferred affinity pulls towards matching pods, anti-affinity pushes away', () => {
    const h = zones().addPod(pod('db').label('app', 'db').node('a1'));
    const toward = h.scores(pod('web').preferredAffinity(10, zone, { app: 'db' }), 'InterPodAffinity');
    expect(toward).toEqual({ a1: 200, a2: 200, b1: 0 });
    const away = h.scores(pod('web').preferredAntiAffinity(10, host, { app: 'db' }), 'InterPodAffinity');
    expect(away).toEqual({ a1: 0, a2: 200, b1: 200 });
  });

  it("existing pods' preferred terms attract the incoming pod (symmetry)", () => {
    const h = zones().addPod(pod('cache').preferredAffinity(5, host, { app: 'web' }).node('b1'));
    const r = h.evaluate(pod('web').label('app', 'web'));
    expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'b1' });
  });
});
