import { describe, expect, it } from 'vitest';
import { node, pod } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

describe('TaintToleration filter', () => {
  type Tol = { key?: string; operator?: 'Equal' | 'Exists'; value?: string; effect?: string };
  const cases: {
    name: string;
    taint: [string, string, 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule'];
    tol?: Tol;
    fits: boolean;
  }[] = [
    { name: 'untolerated NoSchedule', taint: ['dedicated', 'gpu', 'NoSchedule'], fits: false },
    { name: 'untolerated NoExecute', taint: ['dedicated', 'gpu', 'NoExecute'], fits: false },
    { name: 'PreferNoSchedule never filters', taint: ['dedicated', 'gpu', 'PreferNoSchedule'], fits: true },
    {
      name: 'Equal toleration with the value',
      taint: ['dedicated', 'gpu', 'NoSchedule'],
      tol: { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' },
      fits: true,
    },
    {
      name: 'Equal toleration with another value',
      taint: ['dedicated', 'gpu', 'NoSchedule'],
      tol: { key: 'dedicated', value: 'db', effect: 'NoSchedule' },
      fits: false,
    },
    {
      name: 'Exists toleration on the key, any effect',
      taint: ['dedicated', 'gpu', 'NoExecute'],
      tol: { key: 'dedicated', operator: 'Exists' },
      fits: true,
    },
    {
      name: 'toleration for another effect',
      taint: ['dedicated', 'gpu', 'NoExecute'],
      tol: { key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' },
      fits: false,
    },
    {
      name: 'empty key with Exists tolerates everything',
      taint: ['a', 'b', 'NoSchedule'],
      tol: { operator: 'Exists' },
      fits: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.fits ? 'fits' : 'rejected'}`, () => {
      const h = new SchedulerHarness().addNode(node('n1').taint(...c.taint));
      const p = pod('p');
      if (c.tol !== undefined) p.toleration(c.tol);
      const r = h.evaluate(p);
      if (c.fits) expect(r.kind).toBe('Scheduled');
      else
        expect(r).toMatchObject({
          kind: 'Unschedulable',
          perNode: { n1: [`node(s) had untolerated taint {${c.taint[0]}: ${c.taint[1]}}`] },
        });
    });
  }

  it('reports the first untolerated taint, empty values as "{key: }"', () => {
    const h = new SchedulerHarness().addNode(
      node('n1').taint('node.kubernetes.io/unreachable', '', 'NoExecute').taint('other', 'x', 'NoSchedule'),
    );
    const r = h.evaluate(pod('p'));
    expect(r).toMatchObject({
      perNode: { n1: ['node(s) had untolerated taint {node.kubernetes.io/unreachable: }'] },
    });
  });
});

describe('TaintToleration score', () => {
  it('prefers nodes with fewer untolerated PreferNoSchedule taints (weight 3)', () => {
    const h = new SchedulerHarness({
      profile: {
        schedulerName: 'default-scheduler',
        scoringStrategy: 'LeastAllocated',
        percentageOfNodesToScore: 100,
      },
    }).addNode(
      node('clean'),
      node('one').taint('a', '1', 'PreferNoSchedule'),
      node('two').taint('a', '1', 'PreferNoSchedule').taint('b', '2', 'PreferNoSchedule'),
      node('tolerated').taint('b', '2', 'PreferNoSchedule'),
    );
    const scores = h.scores(
      pod('p').toleration({ key: 'b', operator: 'Exists', effect: 'PreferNoSchedule' }),
      'TaintToleration',
    );
    // raw untolerated counts 0,1,1,0 -> reversed normalization 100,0,0,100 -> times weight 3
    expect(scores).toEqual({ clean: 300, one: 0, two: 0, tolerated: 300 });
  });

  it('a NoSchedule-only toleration does not count for PreferNoSchedule taints', () => {
    const h = new SchedulerHarness().addNode(node('n1').taint('a', '1', 'PreferNoSchedule'), node('n2'));
    const scores = h.scores(
      pod('p').toleration({ key: 'a', operator: 'Exists', effect: 'NoSchedule' }),
      'TaintToleration',
    );
    expect(scores).toEqual({ n1: 0, n2: 300 });
  });
});
