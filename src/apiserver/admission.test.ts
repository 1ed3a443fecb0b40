import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../api/types.js';
import {
  addDefaultTolerations,
  admitPodPriority,
  checkSingleGlobalDefault,
  globalDefaultClass,
  keepPodPriority,
  type PriorityClassView,
} from './admission.js';

const pod = (spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default' },
  spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec },
});
const spec = (p: KubeObject) => p.spec as Record<string, unknown>;

const high: PriorityClassView = {
  name: 'high',
  value: 1000,
  globalDefault: false,
  preemptionPolicy: 'PreemptLowerPriority',
};
const batch: PriorityClassView = {
  name: 'batch',
  value: -10,
  globalDefault: true,
  preemptionPolicy: 'Never',
};

function refusal(fn: () => void): { code: number; message: string } {
  try {
    fn();
  } catch (err) {
    const e = err as { code: number; message: string };
    return { code: e.code, message: e.message };
  }
  throw new Error('expected a refusal');
}

describe('admitPodPriority', () => {
  it('takes priority and preemptionPolicy from the named class', () => {
    const p = pod({ priorityClassName: 'high' });
    admitPodPriority(p, high, undefined);
    expect(spec(p)).toMatchObject({
      priorityClassName: 'high',
      priority: 1000,
      preemptionPolicy: 'PreemptLowerPriority',
    });
  });

  it('gives a pod without a class the global default, naming it', () => {
    const p = pod();
    admitPodPriority(p, undefined, batch);
    expect(spec(p)).toMatchObject({ priorityClassName: 'batch', priority: -10, preemptionPolicy: 'Never' });
  });

  it('gives priority 0 when there is no class and no default', () => {
    const p = pod();
    admitPodPriority(p, undefined, undefined);
    expect(spec(p)['priority']).toBe(0);
    expect(spec(p)['priorityClassName']).toBeUndefined();
  });

  it('accepts a pod that already carries the values its class gives', () => {
    const p = pod({ priorityClassName: 'high', priority: 1000, preemptionPolicy: 'PreemptLowerPriority' });
    admitPodPriority(p, high, undefined);
    expect(spec(p)['priority']).toBe(1000);
  });

  it.each([
    [
      'an unknown class',
      pod({ priorityClassName: 'nope' }),
      undefined,
      'pods "web" is forbidden: no PriorityClass with name nope was found',
    ],
    [
      'a priority that disagrees with the class',
      pod({ priorityClassName: 'high', priority: 7 }),
      high,
      'pods "web" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name',
    ],
    [
      'a priority without any class',
      pod({ priority: 7 }),
      undefined,
      'must not be provided in pod spec; priority admission controller computed 0',
    ],
    [
      'a preemptionPolicy that disagrees with the class',
      pod({ priorityClassName: 'high', preemptionPolicy: 'Never' }),
      high,
      'the string value of PreemptionPolicy (Never) must not be provided in pod spec',
    ],
  ])('refuses %s with 403', (_what, p, named, message) => {
    const r = refusal(() => admitPodPriority(p, named, undefined));
    expect(r.code).toBe(403);
    expect(r.message).toContain(message);
  });
});

describe('globalDefaultClass', () => {
  it('picks the marked class, the lowest value when a race left several', () => {
    expect(globalDefaultClass([high])).toBeUndefined();
    expect(globalDefaultClass([high, batch])).toBe(batch);
    const other = { ...high, globalDefault: true };
    expect(globalDefaultClass([other, batch])).toBe(batch);
  });
});

describe('keepPodPriority', () => {
  it('keeps what admission set when an update leaves it out', () => {
    const old = pod({ priorityClassName: 'batch', priority: -10, preemptionPolicy: 'Never' });
    const next = pod();
    keepPodPriority(next, old);
    expect(spec(next)).toMatchObject({
      priorityClassName: 'batch',
      priority: -10,
      preemptionPolicy: 'Never',
    });
    const changed = pod({ priority: 5 });
    keepPodPriority(changed, old);
    expect(spec(changed)['priority']).toBe(5); // validation refuses the change, not admission
  });
});

describe('addDefaultTolerations', () => {
  const opts = { notReadySeconds: 10, unreachableSeconds: 20 };

  it('adds not-ready and unreachable NoExecute tolerations with the configured seconds', () => {
    const p = pod({ tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }] });
    addDefaultTolerations(p, opts);
    expect(spec(p)['tolerations']).toEqual([
      { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 },
      {
        key: 'node.kubernetes.io/unreachable',
        operator: 'Exists',
        effect: 'NoExecute',
        tolerationSeconds: 20,
      },
    ]);
    // Idempotent: an update of the admitted pod adds nothing.
    addDefaultTolerations(p, opts);
    expect(spec(p)['tolerations']).toHaveLength(3);
  });

  it.each([
    ['tolerates everything', [{ operator: 'Exists' }], 0],
    ['tolerates every NoExecute taint', [{ operator: 'Exists', effect: 'NoExecute' }], 0],
    [
      'sets its own not-ready seconds',
      [
        {
          key: 'node.kubernetes.io/not-ready',
          operator: 'Exists',
          effect: 'NoExecute',
          tolerationSeconds: 600,
        },
      ],
      1,
    ],
    [
      'tolerates unreachable for any effect',
      [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists' }],
      1,
    ],
    [
      'tolerates not-ready only for NoSchedule',
      [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoSchedule' }],
      2,
    ],
  ])('leaves a pod that %s with only what it lacks', (_what, tolerations, added) => {
    const p = pod({ tolerations });
    addDefaultTolerations(p, opts);
    expect((spec(p)['tolerations'] as unknown[]).length - tolerations.length).toBe(added);
  });
});

describe('checkSingleGlobalDefault', () => {
  const pc = (name: string, globalDefault: boolean): KubeObject => ({
    apiVersion: 'scheduling.k8s.io/v1',
    kind: 'PriorityClass',
    metadata: { name },
    value: 1,
    globalDefault,
  });

  it('refuses a second default with 403 naming the first', () => {
    const r = refusal(() => checkSingleGlobalDefault(pc('new', true), [batch]));
    expect(r.code).toBe(403);
    expect(r.message).toBe(
      'priorityclasses.scheduling.k8s.io "new" is forbidden: PriorityClass batch is already marked as default. Only one default can exist',
    );
  });

  it('allows a default when none exists, the same class again, and non-defaults', () => {
    expect(() => checkSingleGlobalDefault(pc('new', true), [high])).not.toThrow();
    expect(() => checkSingleGlobalDefault(pc('batch', true), [batch])).not.toThrow();
    expect(() => checkSingleGlobalDefault(pc('new', false), [batch])).not.toThrow();
  });
});
