import { describe, expect, it } from 'vitest';
import { node, pod } from '../testing/builders.js';
import { SchedulerHarness } from '../testing/harness.js';

const reason = "node(s) didn't have free ports for the requested pod ports";

describe('NodePorts', () => {
  const cases: {
    name: string;
    existing: { port: number; protocol?: string; ip?: string };
    wanted: { port: number; protocol?: string; ip?: string };
    conflict: boolean;
  }[] = [
    { name: 'same port, both wildcard', existing: { port: 80 }, wanted: { port: 80 }, conflict: true },
    { name: 'different port', existing: { port: 80 }, wanted: { port: 81 }, conflict: false },
    {
      name: 'same port, other protocol',
      existing: { port: 53 },
      wanted: { port: 53, protocol: 'UDP' },
      conflict: false,
    },
    {
      name: 'same port, two specific addresses',
      existing: { port: 80, ip: '10.0.0.1' },
      wanted: { port: 80, ip: '10.0.0.2' },
      conflict: false,
    },
    {
      name: 'same port, same specific address',
      existing: { port: 80, ip: '10.0.0.1' },
      wanted: { port: 80, ip: '10.0.0.1' },
      conflict: true,
    },
    {
      name: 'wildcard wanted, specific taken',
      existing: { port: 80, ip: '10.0.0.1' },
      wanted: { port: 80 },
      conflict: true,
    },
    {
      name: 'specific wanted, wildcard taken',
      existing: { port: 80 },
      wanted: { port: 80, ip: '10.0.0.1' },
      conflict: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.conflict ? 'conflict' : 'fits'}`, () => {
      const h = new SchedulerHarness()
        .addNode(node('n1'))
        .addPod(pod('old').node('n1').hostPort(c.existing.port, c.existing.protocol, c.existing.ip));
      const r = h.evaluate(pod('new').hostPort(c.wanted.port, c.wanted.protocol, c.wanted.ip));
      if (c.conflict) expect(r).toMatchObject({ kind: 'Unschedulable', perNode: { n1: [reason] } });
      else expect(r).toMatchObject({ kind: 'Scheduled', nodeName: 'n1' });
    });
  }

  it('a port freed by a deleted pod is free again', () => {
    const old = pod('old').node('n1').hostPort(80).obj();
    const h = new SchedulerHarness().addNode(node('n1')).addPod(old);
    expect(h.evaluate(pod('new').hostPort(80)).kind).toBe('Unschedulable');
    h.cache.removePod(old);
    expect(h.evaluate(pod('new').hostPort(80)).kind).toBe('Scheduled');
  });
});
