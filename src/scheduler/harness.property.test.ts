// Property: whatever the cluster and the pods, placements never over-commit a node, required pod
// affinity / anti-affinity hold, and DoNotSchedule spread constraints keep skew <= maxSkew.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ScoringStrategy } from './core.js';
import { firstUntoleratedHardTaint } from './framework/match.js';
import { newPodInfo } from './framework/pod-info.js';
import { spreadConstraints } from './plugins/pod-topology-spread.js';
import { node, pod, type PodBuilder } from './testing/builders.js';
import { SchedulerHarness } from './testing/harness.js';

const zoneKey = 'topology.kubernetes.io/zone';
const hostKey = 'kubernetes.io/hostname';

const nodeArb = fc.record({
  cpu: fc.constantFrom('1', '2', '4'),
  memory: fc.constantFrom('2Gi', '4Gi', '8Gi'),
  pods: fc.integer({ min: 2, max: 10 }),
  zone: fc.option(fc.constantFrom('a', 'b', 'c'), { freq: 8 }),
  taint: fc.constantFrom('none', 'none', 'none', 'prefer', 'dedicated'),
  gpus: fc.constantFrom(0, 0, 2),
});

/** Each app's pods share one placement rule, as replicas of one template do. */
const ruleArb = fc.oneof(
  fc.constant({ kind: 'plain' as const }),
  fc.record({ kind: fc.constant('anti' as const), key: fc.constantFrom(hostKey, zoneKey) }),
  fc.record({
    kind: fc.constant('spread' as const),
    key: fc.constantFrom(hostKey, zoneKey),
    maxSkew: fc.integer({ min: 1, max: 2 }),
  }),
  fc.record({
    kind: fc.constant('affinity' as const),
    key: fc.constantFrom(hostKey, zoneKey),
    target: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('preferred' as const),
    key: fc.constantFrom(hostKey, zoneKey),
    weight: fc.integer({ min: -50, max: 50 }),
  }),
);

const podArb = fc.record({
  app: fc.integer({ min: 0, max: 3 }),
  cpu: fc.constantFrom('0', '100m', '500m', '1', '1500m'),
  memory: fc.constantFrom('0', '256Mi', '1Gi', '2Gi'),
  gpu: fc.constantFrom(0, 0, 0, 1),
  tolerateDedicated: fc.boolean(),
});

const scenarioArb = fc.record({
  nodes: fc.array(nodeArb, { minLength: 1, maxLength: 8 }),
  rules: fc.array(ruleArb, { minLength: 4, maxLength: 4 }),
  pods: fc.array(podArb, { minLength: 1, maxLength: 40 }),
  strategy: fc.constantFrom<ScoringStrategy>('LeastAllocated', 'MostAllocated', 'BalancedAllocation'),
  percentage: fc.constantFrom(0, 100),
  seed: fc.integer(),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function buildPod(i: number, p: Scenario['pods'][number], rules: Scenario['rules']): PodBuilder {
  const app = `app${p.app}`;
  const b = pod(`p${i}`).label('app', app);
  const req: Record<string, string> = { cpu: p.cpu, memory: p.memory };
  if (p.gpu > 0) req['example.com/gpu'] = String(p.gpu);
  b.req(req);
  if (p.tolerateDedicated) b.toleration({ key: 'dedicated', operator: 'Exists' });
  const rule = rules[p.app] ?? { kind: 'plain' as const };
  switch (rule.kind) {
    case 'plain':
      break;
    case 'anti':
      b.antiAffinity(rule.key, { app });
      break;
    case 'spread':
      b.spread({ topologyKey: rule.key, maxSkew: rule.maxSkew, selector: { app } });
      break;
    case 'affinity':
      b.affinity(rule.key, { app: `app${rule.target}` });
      break;
    case 'preferred':
      if (rule.weight > 0) b.preferredAffinity(rule.weight, rule.key, { app });
      else if (rule.weight < 0) b.preferredAntiAffinity(-rule.weight, rule.key, { app });
      break;
  }
  return b;
}

function setup(s: Scenario): SchedulerHarness {
  const h = new SchedulerHarness({
    profile: {
      schedulerName: 'default-scheduler',
      scoringStrategy: s.strategy,
      percentageOfNodesToScore: s.percentage,
    },
    seed: s.seed,
  });
  s.nodes.forEach((n, i) => {
    const b = node(`n${i}`).cpu(n.cpu).memory(n.memory).pods(n.pods);
    if (n.zone !== null) b.zone(n.zone);
    if (n.taint === 'prefer') b.taint('spot', 'true', 'PreferNoSchedule');
    if (n.taint === 'dedicated') b.taint('dedicated', 'infra', 'NoSchedule');
    if (n.gpus > 0) b.resource('example.com/gpu', String(n.gpus));
    h.addNode(b);
  });
  return h;
}

function run(s: Scenario): SchedulerHarness {
  const h = setup(s);
  s.pods.forEach((p, i) => h.schedule(buildPod(i, p, s.rules)));
  return h;
}

describe('scheduler invariants over random clusters', () => {
  it('no over-commit, required (anti-)affinity holds, spread skew within maxSkew', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const h = run(s);
        expect(h.checkInvariants()).toEqual([]);
        for (const a of h.attempts) {
          if (a.result.kind !== 'Unschedulable') continue;
          // every node is explained, and the counts add up to the per-node reasons
          expect(Object.keys(a.result.perNode).sort()).toEqual(h.cache.nodeNames().sort());
          const total = Object.values(a.result.perNode).reduce((n, r) => n + r.length, 0);
          expect(Object.values(a.result.reasons).reduce((n, c) => n + c, 0)).toBe(total);
          expect(a.result.message).toMatch(/^0\/\d+ nodes are available: .*\. preemption: .*\.$/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('"unschedulable" only when placing the pod on any node by hand would break a rule', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const h = setup({ ...s, percentage: 100 });
        s.pods.forEach((p, i) => {
          const b = buildPod(i, p, s.rules);
          const r = h.schedule(b);
          const obj = b.obj();
          const info = newPodInfo(obj);
          const hasSpread = spreadConstraints(info, 'DoNotSchedule').length > 0;
          const allowed = (n: string): boolean => {
            const ni = h.cache.getNodeInfo(n);
            if (ni === undefined) return false;
            if (firstUntoleratedHardTaint(ni.taints, info.tolerations) !== undefined) return false;
            if (
              hasSpread &&
              spreadConstraints(info, 'DoNotSchedule').some((c) => ni.labels[c.topologyKey] === undefined)
            )
              return false;
            return true;
          };
          if (r.kind === 'Scheduled') {
            expect(allowed(r.nodeName)).toBe(true);
            return;
          }
          for (const n of h.cache.nodeNames()) {
            if (!allowed(n)) continue;
            const what = h.fork();
            what.cache.assume(obj, n);
            expect(what.checkInvariants(), `${obj.metadata.name} could go to ${n}: ${r.message}`).not.toEqual(
              [],
            );
          }
        });
      }),
      { numRuns: 150 },
    );
  });
});
