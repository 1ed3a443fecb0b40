import { describe, expect, it } from 'vitest';
import { node, pod, type SpreadOptions } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

const zone = 'topology.kubernetes.io/zone';
const host = 'kubernetes.io/hostname';
const skewReason = "node(s) didn't match pod topology spread constraints";
const missingReason = "node(s) didn't match pod topology spread constraints (missing required label)";

function harness(): SchedulerHarness {
  return new SchedulerHarness({
    profile: {
      schedulerName: 'default-scheduler',
      scoringStrategy: 'LeastAllocated',
      percentageOfNodesToScore: 100,
    },
  });
}

function feasible(h: SchedulerHarness, p: Parameters<SchedulerHarness['evaluate']>[0]): string[] {
  const r = h.evaluate(p);
  return r.kind === 'Scheduled' ? r.scores.map((s) => s.nodeName).sort() : [];
}

const web = (name: string, o: Partial<SpreadOptions> = {}) =>
  pod(name)
    .label('app', 'web')
    .spread({ topologyKey: zone, selector: { app: 'web' }, ...o });

describe('PodTopologySpread filter', () => {
  it('only the emptier zone is feasible once skew would exceed maxSkew', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('a2').zone('a'), node('b1').zone('b'))
      .addPod(pod('w0').label('app', 'web').node('a1'));
    expect(feasible(h, web('w1'))).toEqual(['b1']);
    expect(feasible(h, web('w1', { maxSkew: 2 }))).toEqual(['a1', 'a2', 'b1']);
  });

  it('reports skew and missing-label reasons', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'), node('nozone'))
      .addPod(pod('w0').label('app', 'web').node('a1'));
    h.addNode(node('b1').zone('b').cpu('0'));
    // a1: 1 + 1 - 0 (zone b is empty) = 2 > maxSkew 1
    expect(h.reasons(web('w1').req({ cpu: '1' }))).toEqual({
      a1: [skewReason],
      b1: ['Insufficient cpu'],
      nozone: [missingReason],
    });
  });

  it('pods that do not match the selector, or are in other namespaces, do not count', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'))
      .addPod(pod('other').label('app', 'db').node('a1'))
      .addPod(pod('elsewhere').ns('other').label('app', 'web').node('a1'));
    expect(feasible(h, web('w0'))).toEqual(['a1', 'b1']);
  });

  it('pods being deleted do not count', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'))
      .addPod(pod('w0').label('app', 'web').node('a1').deleting());
    expect(feasible(h, web('w1'))).toEqual(['a1', 'b1']);
  });

  it('the incoming pod counts itself only if it matches the selector', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'))
      .addPod(pod('w0').label('app', 'web').node('a1'));
    // skew for a1 = 1 + 0 - 0 = 1 <= 1 when the pod itself is not counted
    const outsider = pod('x').spread({ topologyKey: zone, selector: { app: 'web' } });
    expect(feasible(h, outsider)).toEqual(['a1', 'b1']);
  });

  it('nodeAffinityPolicy Honor (default) leaves out zones the pod cannot go to', () => {
    const h = harness()
      .addNode(
        node('a1').zone('a').label('pool', 'x'),
        node('b1').zone('b').label('pool', 'x'),
        node('c1').zone('c'),
      )
      .addPod(pod('w0').label('app', 'web').node('a1'));
    // zone c is not eligible (nodeSelector), so the min is taken over a and b only: b1 only.
    expect(feasible(h, web('w1').nodeSelector({ pool: 'x' }))).toEqual(['b1']);
    const h2 = harness()
      .addNode(node('a1').zone('a').label('pool', 'x'), node('c1').zone('c'))
      .addPod(pod('w0').label('app', 'web').node('a1'));
    // Honor: only zone a counts, min = 1, skew on a1 = 1 + 1 - 1 = 1: fits. Ignore: zone c (0) counts: no fit.
    expect(feasible(h2, web('w1').nodeSelector({ pool: 'x' }))).toEqual(['a1']);
    expect(feasible(h2, web('w1', { nodeAffinityPolicy: 'Ignore' }).nodeSelector({ pool: 'x' }))).toEqual([]);
  });

  it('nodeTaintsPolicy Honor leaves out tainted zones the pod does not tolerate', () => {
    const setup = () =>
      harness()
        .addNode(node('a1').zone('a'), node('t1').zone('t').taint('dedicated', 'x', 'NoSchedule'))
        .addPod(pod('w0').label('app', 'web').node('a1'));
    // Ignore (default): zone t counts with 0 pods, so a1 has skew 2 and t1 is tainted: nothing fits.
    expect(feasible(setup(), web('w1'))).toEqual([]);
    expect(feasible(setup(), web('w1', { nodeTaintsPolicy: 'Honor' }))).toEqual(['a1']);
  });

  it('minDomains: fewer domains than minDomains makes the global minimum 0', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'))
      .addPod(pod('w0').label('app', 'web').node('a1'))
      .addPod(pod('w1').label('app', 'web').node('b1'));
    expect(feasible(h, web('w2'))).toEqual(['a1', 'b1']);
    expect(feasible(h, web('w2', { minDomains: 3 }))).toEqual([]);
  });

  it('matchLabelKeys narrows the selector to pods with the same values', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'))
      .addPod(pod('old').label('app', 'web').label('rev', '1').node('a1'));
    const p = (keys?: string[]) =>
      pod('new')
        .label('app', 'web')
        .label('rev', '2')
        .spread({ topologyKey: zone, selector: { app: 'web' }, ...(keys ? { matchLabelKeys: keys } : {}) });
    expect(feasible(h, p())).toEqual(['b1']);
    expect(feasible(h, p(['rev']))).toEqual(['a1', 'b1']);
  });

  it('spreads replicas evenly over zones as they are scheduled', () => {
    const h = harness().addNode(
      node('a1').zone('a'),
      node('a2').zone('a'),
      node('b1').zone('b'),
      node('c1').zone('c'),
    );
    for (let i = 0; i < 9; i++) expect(h.schedule(web(`w${i}`)).kind).toBe('Scheduled');
    const perZone = new Map<string, number>();
    for (const [n, pods] of h.placements()) {
      const z = n.slice(0, 1);
      perZone.set(z, (perZone.get(z) ?? 0) + pods.length);
    }
    expect([...perZone.values()]).toEqual([3, 3, 3]);
    h.assertInvariants();
  });
});

describe('PodTopologySpread score (ScheduleAnyway)', () => {
  it('prefers the domain with fewer matching pods, never filters', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('b1').zone('b'))
      .addPod(pod('w0').label('app', 'web').node('a1'))
      .addPod(pod('w1').label('app', 'web').node('a1'));
    const p = web('w2', { whenUnsatisfiable: 'ScheduleAnyway' });
    const scores = h.scores(p, 'PodTopologySpread');
    expect((scores['b1'] ?? 0) > (scores['a1'] ?? 0)).toBe(true);
    expect(h.evaluate(p)).toMatchObject({ kind: 'Scheduled', nodeName: 'b1' });
  });

  it('nodes missing the topology key get 0', () => {
    const h = harness()
      .addNode(node('a1').zone('a'), node('nozone'))
      .addPod(pod('w0').label('app', 'web').node('a1'));
    const scores = h.scores(web('w1', { whenUnsatisfiable: 'ScheduleAnyway' }), 'PodTopologySpread');
    expect(scores['nozone']).toBe(0);
  });

  it('hostname spreading moves pods off the busier node', () => {
    const h = harness().addNode(node('n1'), node('n2'));
    h.addPod(pod('w0').label('app', 'web').node('n1'));
    const r = h.evaluate(
      pod('w1')
        .label('app', 'web')
        .spread({ topologyKey: host, selector: { app: 'web' }, whenUnsatisfiable: 'ScheduleAnyway' }),
    );
    expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'n2' });
  });
});
