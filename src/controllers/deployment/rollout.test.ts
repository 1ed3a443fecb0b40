import { describe, expect, it } from 'vitest';
import {
  DESIRED_REPLICAS_ANNOTATION,
  findActiveOrLatest,
  isScalingEvent,
  MAX_REPLICAS_ANNOTATION,
  maxSurge,
  maxUnavailable,
  newReplicaSetReplicas,
  oldPodsRunning,
  replicaSetsToCleanUp,
  canaryReached,
  canarySize,
  resolveFenceposts,
  REVISION_ANNOTATION,
  rollingUpdateStep,
  scaleDeployment,
  scaledValue,
  scaleDownOldForRecreate,
  type IntOrPercent,
  type RolloutDeployment,
  type RolloutReplicaSet,
  type Scale,
} from './rollout.js';

function rolling(
  replicas: number,
  maxSurge: IntOrPercent = '25%',
  maxUnavailable: IntOrPercent = '25%',
): RolloutDeployment {
  return {
    replicas,
    strategy: { type: 'RollingUpdate', maxSurge, maxUnavailable },
    revisionHistoryLimit: 10,
    paused: false,
  };
}

let seq = 0;
function rs(
  name: string,
  replicas: number,
  o: {
    available?: number;
    status?: number;
    created?: number;
    annotations?: Record<string, string>;
    revision?: number;
  } = {},
): RolloutReplicaSet {
  return {
    name,
    createdMs: o.created ?? ++seq,
    replicas,
    statusReplicas: o.status ?? replicas,
    readyReplicas: o.available ?? replicas,
    availableReplicas: o.available ?? replicas,
    annotations: {
      ...(o.revision === undefined ? {} : { [REVISION_ANNOTATION]: String(o.revision) }),
      ...(o.annotations ?? {}),
    },
    deleting: false,
    generation: 1,
    observedGeneration: 1,
  };
}

/** A Scale that records "name:from→to" and applies the size. */
function recorder(): { scale: Scale; log: string[] } {
  const log: string[] = [];
  return {
    log,
    scale: (r, to) => {
      if (r.replicas === to) return false;
      log.push(`${r.name}:${r.replicas}→${to}`);
      r.replicas = to;
      return true;
    },
  };
}

describe('int-or-percent arithmetic', () => {
  it.each<[IntOrPercent, number, boolean, number]>([
    [2, 10, true, 2],
    ['25%', 10, true, 3],
    ['25%', 10, false, 2],
    ['25%', 3, true, 1],
    ['25%', 3, false, 0],
    ['100%', 7, false, 7],
    ['0%', 7, true, 0],
  ])('%j of %i (round up: %s) is %i', (value, total, up, expected) => {
    expect(scaledValue(value, total, up)).toBe(expected);
  });

  it.each<[IntOrPercent, IntOrPercent, number, { surge: number; unavailable: number }]>([
    ['25%', '25%', 10, { surge: 3, unavailable: 2 }],
    ['25%', '25%', 1, { surge: 1, unavailable: 0 }],
    [0, 0, 5, { surge: 0, unavailable: 1 }], // never both zero
    ['0%', '10%', 5, { surge: 0, unavailable: 1 }],
    ['0%', '0%', 5, { surge: 0, unavailable: 1 }],
    ['30%', '30%', 7, { surge: 3, unavailable: 2 }], // 2.1: surge rounds up, unavailable down
    ['10%', '10%', 10, { surge: 1, unavailable: 1 }], // exact: no rounding
    ['1%', '99%', 10, { surge: 1, unavailable: 9 }],
    [3, '50%', 5, { surge: 3, unavailable: 2 }],
    ['100%', 0, 4, { surge: 4, unavailable: 0 }],
  ])('fenceposts surge %j unavailable %j of %i', (s, u, total, expected) => {
    expect(resolveFenceposts(s, u, total)).toEqual(expected);
  });

  it('Recreate has no surge and no unavailability budget; unavailable never exceeds replicas', () => {
    const recreate: RolloutDeployment = {
      replicas: 4,
      strategy: { type: 'Recreate' },
      revisionHistoryLimit: 10,
      paused: false,
    };
    expect(maxSurge(recreate)).toBe(0);
    expect(maxUnavailable(recreate)).toBe(0);
    expect(maxUnavailable(rolling(2, 0, 5))).toBe(2);
    expect(maxUnavailable(rolling(0))).toBe(0);
  });
});

describe('newReplicaSetReplicas', () => {
  it.each([
    { title: 'fresh deployment takes all replicas', d: rolling(3), old: [], cur: 0, want: 3 },
    { title: 'template change starts with the surge', d: rolling(10), old: [10], cur: 0, want: 3 },
    { title: 'no surge left', d: rolling(10), old: [10], cur: 3, want: 3 },
    { title: 'never above spec.replicas', d: rolling(4, 10), old: [0], cur: 2, want: 4 },
  ])('$title', ({ d, old, cur, want }) => {
    const n = rs('new', cur);
    expect(newReplicaSetReplicas(d, [...old.map((r, i) => rs(`old${i}`, r)), n], n)).toBe(want);
  });
});

describe('rolling update', () => {
  /** Run steps until idle; after each step the world catches up (pods of scaled sets become available or not). */
  function simulate(
    d: RolloutDeployment,
    oldSizes: number[],
    newPodsBecomeAvailable: boolean,
  ): { final: { old: number[]; new: number }; maxTotal: number; minAvailable: number; steps: number } {
    let olds = oldSizes.map((n, i) => rs(`old${i}`, n, { created: i }));
    let cur = rs('new', 0, { created: 100, available: 0 });
    let maxTotal = 0;
    let minAvailable = Infinity;
    let steps = 0;
    for (; steps < 100; steps++) {
      const { scale } = recorder();
      const result = rollingUpdateStep(d, cur, olds, scale);
      const total = cur.replicas + olds.reduce((n, r) => n + r.replicas, 0);
      maxTotal = Math.max(maxTotal, total);
      // Old pods scaled away vanish at once; new pods become available (or not).
      olds = olds.map((o) =>
        rs(o.name, o.replicas, {
          created: o.createdMs,
          available: Math.min(o.availableReplicas, o.replicas),
        }),
      );
      cur = rs('new', cur.replicas, { created: 100, available: newPodsBecomeAvailable ? cur.replicas : 0 });
      const available = cur.availableReplicas + olds.reduce((n, r) => n + r.availableReplicas, 0);
      minAvailable = Math.min(minAvailable, available);
      if (result === 'idle') break;
    }
    return { final: { old: olds.map((o) => o.replicas), new: cur.replicas }, maxTotal, minAvailable, steps };
  }

  it.each([
    { d: rolling(10), olds: [10], surge: 3, unavailable: 2 },
    { d: rolling(3), olds: [3], surge: 1, unavailable: 0 },
    { d: rolling(4, 0, 1), olds: [4], surge: 0, unavailable: 1 },
    { d: rolling(5, '100%', 0), olds: [5], surge: 5, unavailable: 0 },
    { d: rolling(6, 2, 2), olds: [3, 3], surge: 2, unavailable: 2 },
  ])(
    'replicas $d.replicas surge $surge unavailable $unavailable: completes within the budgets',
    ({ d, olds, surge, unavailable }) => {
      const r = simulate(d, olds, true);
      expect(r.final).toEqual({ old: olds.map(() => 0), new: d.replicas });
      expect(r.maxTotal).toBeLessThanOrEqual(d.replicas + surge);
      expect(r.minAvailable).toBeGreaterThanOrEqual(d.replicas - unavailable);
    },
  );

  it('stalls without losing availability when new pods never become available', () => {
    const r = simulate(rolling(10), [10], false);
    expect(r.final).toEqual({ old: [8], new: 5 });
    expect(r.minAvailable).toBe(8);
    expect(r.maxTotal).toBe(13);
  });

  it('never scales an old ReplicaSet up when its status still counts pods it already scaled away', () => {
    // Seen in a 100-replica rollout: the old ReplicaSet at 56 still reported 60 available (its status not
    // yet caught up with the last scale-down); spec − available is −4, which used to write 56 → 60 and then
    // 60 → 55 in the same sync, briefly 114 pods wanted where 110 were allowed.
    const d = rolling(100, 10, 0);
    const old = rs('old', 56, { available: 60, created: 1 });
    const cur = rs('new', 54, { available: 50, created: 2 });
    const { scale, log } = recorder();
    rollingUpdateStep(d, cur, [old], scale);
    // And it counts at most 56 of those 60 as available: 56 + 50 = 106, so 6 may go, not 10.
    expect(log).toEqual(['old:56→50']);
  });

  it('removes unavailable old pods first, even beyond what availability alone would allow', () => {
    const d = rolling(4, 1, 1);
    const old = rs('old', 4, { available: 1, created: 1 });
    const cur = rs('new', 1, { available: 1, created: 2 });
    const { scale, log } = recorder();
    expect(rollingUpdateStep(d, cur, [old], scale)).toBe('scaledDown');
    // maxScaledDown = 5 − 3 − 0 = 2: both come from the 3 unhealthy old pods.
    expect(log).toEqual(['old:4→2']);
  });
});

describe('recreate', () => {
  it('scales every old ReplicaSet to zero, then waits until no old pod runs', () => {
    const { scale, log } = recorder();
    const olds = [rs('a', 2), rs('b', 0), rs('c', 1)];
    expect(scaleDownOldForRecreate(olds, scale)).toBe(true);
    expect(log).toEqual(['a:2→0', 'c:1→0']);
    expect(scaleDownOldForRecreate(olds, scale)).toBe(false);
    expect(oldPodsRunning([rs('a', 0, { status: 1 })], [])).toBe(true);
    expect(oldPodsRunning([rs('a', 0, { status: 0 })], ['Running'])).toBe(true);
    expect(oldPodsRunning([rs('a', 0, { status: 0 })], ['Succeeded', 'Failed'])).toBe(false);
  });
});

describe('scaling a deployment (proportional while mid-rollout)', () => {
  const sized = (n: number, d: number, max: number, created: number): RolloutReplicaSet =>
    rs(`rs${created}`, n, {
      created,
      annotations: { [DESIRED_REPLICAS_ANNOTATION]: String(d), [MAX_REPLICAS_ANNOTATION]: String(max) },
    });
  const cases = [
    {
      title: 'one active ReplicaSet takes it all: 10 → 12',
      d: rolling(12, 0, 1),
      newSize: 10,
      olds: [] as number[],
      prev: 10,
      want: { new: 12, old: [] as number[] },
    },
    {
      title: 'proportional 5 → 10',
      d: rolling(10, 0, 1),
      newSize: 2,
      olds: [3],
      prev: 5,
      want: { new: 4, old: [6] },
    },
    {
      title: 'proportional 5 → 3',
      d: rolling(3, 0, 1),
      newSize: 2,
      olds: [3],
      prev: 5,
      want: { new: 1, old: [2] },
    },
    {
      title: 'proportional 9 → 4',
      d: rolling(4, 0, 1),
      newSize: 8,
      olds: [1],
      prev: 9,
      want: { new: 4, old: [0] },
    },
    {
      title: 'proportional 7 → 10',
      d: rolling(10, 0, 1),
      newSize: 2,
      olds: [3, 2],
      prev: 7,
      want: { new: 3, old: [4, 3] },
    },
    {
      title: 'proportional 13 → 8',
      d: rolling(8, 0, 1),
      newSize: 2,
      olds: [8, 3],
      prev: 13,
      want: { new: 1, old: [5, 2] },
    },
    { title: 'to zero', d: rolling(0, 0, 1), newSize: 2, olds: [3], prev: 5, want: { new: 0, old: [0] } },
  ];
  it.each(cases)('$title', ({ d, newSize, olds, prev, want }) => {
    const oldRss = olds.map((n, i) => sized(n, prev, prev, i + 1));
    const newRs = sized(newSize, prev, prev, 10);
    const { scale } = recorder();
    expect(isScalingEvent(d, [...oldRss, newRs])).toBe(prev !== d.replicas);
    scaleDeployment(d, newRs, oldRss, scale, prev);
    expect({ new: newRs.replicas, old: oldRss.map((r) => r.replicas) }).toEqual(want);
  });

  it('a saturated new ReplicaSet sends old ones to zero', () => {
    const d = rolling(3);
    const newRs = rs('new', 3, { annotations: { [DESIRED_REPLICAS_ANNOTATION]: '3' } });
    const old = rs('old', 1);
    const { scale } = recorder();
    scaleDeployment(d, newRs, [old], scale, 4);
    expect(old.replicas).toBe(0);
  });

  it('with nothing active, the new (else newest old) ReplicaSet gets the replicas', () => {
    expect(findActiveOrLatest(rs('n', 0), [rs('o', 0)])?.name).toBe('n');
    expect(
      findActiveOrLatest(undefined, [rs('o1', 0, { created: 1 }), rs('o2', 0, { created: 2 })])?.name,
    ).toBe('o2');
    expect(findActiveOrLatest(rs('n', 1), [rs('o', 1)])).toBeUndefined();
  });
});

describe('revision history cleanup', () => {
  it('deletes the oldest revisions beyond the limit, only when scaled down and settled', () => {
    const d = { ...rolling(1), revisionHistoryLimit: 2 };
    const olds = [
      rs('r1', 0, { revision: 1 }),
      rs('r2', 0, { revision: 2, status: 1 }), // still has a pod
      rs('r3', 0, { revision: 3 }),
      rs('r4', 0, { revision: 4 }),
      rs('r5', 0, { revision: 5 }),
    ];
    expect(replicaSetsToCleanUp(d, olds).map((r) => r.name)).toEqual(['r1', 'r3']);
    expect(replicaSetsToCleanUp({ ...d, revisionHistoryLimit: undefined }, olds)).toEqual([]);
    expect(replicaSetsToCleanUp({ ...d, revisionHistoryLimit: 0 }, olds).map((r) => r.name)).toEqual([
      'r1',
      'r3',
      'r4',
      'r5',
    ]);
  });
});

describe('canary sizes and steps', () => {
  it.each<[string | undefined, number, number | undefined]>([
    ['1', 10, 1],
    ['3', 10, 3],
    ['10%', 10, 1],
    ['15%', 10, 2], // rounded up
    ['1%', 10, 1], // at least one
    ['10', 10, undefined], // the whole Deployment: no canary step
    ['0', 10, undefined],
    ['abc', 10, undefined],
    [undefined, 10, undefined],
    ['1', 1, undefined],
  ])('canary %j of %i → %j', (value, replicas, want) => {
    expect(canarySize(value, replicas)).toBe(want);
  });

  it.each([
    {
      title: 'surge room: the canary comes first',
      d: rolling(10, '25%', 0),
      old: 10,
      cur: 0,
      avail: 0,
      want: ['new:0→1'],
    },
    {
      title: 'canary not ready: no old pod goes (maxUnavailable 0)',
      d: rolling(10, '25%', 0),
      old: 10,
      cur: 1,
      avail: 0,
      want: [],
    },
    {
      title: 'canary ready: one old pod goes',
      d: rolling(10, '25%', 0),
      old: 10,
      cur: 1,
      avail: 1,
      want: ['old:10→9'],
    },
    {
      title: 'with unavailability budget: old goes to replicas − canary only',
      d: rolling(10, '25%', '25%'),
      old: 10,
      cur: 1,
      avail: 0,
      want: ['old:10→9'],
    },
    {
      title: 'no surge: an old pod makes room first',
      d: rolling(10, 0, 1),
      old: 10,
      cur: 0,
      avail: 0,
      want: ['old:10→9'],
    },
    { title: 'reached: nothing more', d: rolling(10, '25%', '25%'), old: 9, cur: 1, avail: 1, want: [] },
  ])('$title', ({ d, old, cur, avail, want }) => {
    const { scale, log } = recorder();
    const o = rs('old', old, { created: 1 });
    const n = rs('new', cur, { available: avail, created: 2 });
    rollingUpdateStep(d, n, [o], scale, 1);
    expect(log).toEqual(want);
  });

  it('canaryReached: new at the size and old at the rest', () => {
    const d = rolling(10);
    expect(canaryReached(d, rs('n', 1), [rs('o', 9)], 1)).toBe(true);
    expect(canaryReached(d, rs('n', 1), [rs('o', 10)], 1)).toBe(false);
    expect(canaryReached(d, rs('n', 0), [rs('o', 9)], 1)).toBe(false);
  });
});
