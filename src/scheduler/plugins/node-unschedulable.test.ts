import { describe, expect, it } from 'vitest';
import { node, pod } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

describe('NodeUnschedulable', () => {
  const cases = [
    { name: 'cordoned node rejects a plain pod', tolerate: undefined, fits: false },
    {
      name: 'toleration of the unschedulable taint lets the pod in',
      tolerate: {
        key: 'node.kubernetes.io/unschedulable',
        operator: 'Exists' as const,
        effect: 'NoSchedule',
      },
      fits: true,
    },
    {
      name: 'a tolerate-everything toleration lets the pod in',
      tolerate: { operator: 'Exists' as const },
      fits: true,
    },
    {
      name: 'a NoExecute-only toleration does not',
      tolerate: { key: 'node.kubernetes.io/unschedulable', operator: 'Exists' as const, effect: 'NoExecute' },
      fits: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const h = new SchedulerHarness().addNode(node('n1').unschedulable());
      const p = pod('p');
      if (c.tolerate !== undefined) p.toleration(c.tolerate);
      const r = h.evaluate(p);
      if (c.fits) expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'n1' });
      else
        expect(r).toMatchObject({
          kind: 'Unschedulable',
          perNode: { n1: ['node(s) were unschedulable'] },
        });
    });
  }

  it('uncordoned nodes next to a cordoned one take the pod', () => {
    const h = new SchedulerHarness().addNode(node('n1').unschedulable(), node('n2'));
    expect(h.evaluate(pod('p'))).toMatchObject({ kind: 'Scheduled', nodeName: 'n2' });
  });
});
