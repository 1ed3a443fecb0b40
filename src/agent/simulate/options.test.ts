import { describe, expect, it } from 'vitest';
import { parseSimulateFlags, simulateDefaults, type SimulateFlagValues } from './options.js';

const base: SimulateFlagValues = {
  ...simulateDefaults,
  simulate: '20',
  labels: [],
  agentPort: '10250',
};

describe('parseSimulateFlags', () => {
  it('turns the defaults into kubelet-like settings', () => {
    const s = parseSimulateFlags(base);
    expect(s).toEqual({
      fleet: {
        count: 20,
        prefix: 'sim',
        zones: 3,
        cpuMilli: 4000,
        memoryBytes: 16 * 1024 ** 3,
        ephemeralStorageBytes: 100 * 1024 ** 3,
        maxPods: 110,
        labels: {},
        podRange: '10.128.0.0/9',
        agentPort: 10250,
      },
      leaseIntervalMs: 10_000,
      statusIntervalMs: 60_000,
      podStartDelayMs: 500,
      concurrency: 16,
    });
  });

  it('reads quantities, durations, label lists and an explicit pod range', () => {
    const s = parseSimulateFlags({
      ...base,
      nodeCpu: '3500m',
      nodeMemory: '8G',
      labels: ['tier=edge,pool=a', 'pool=b'],
      leaseInterval: '2s',
      podStartDelay: '0',
      podCidr: '10.64.0.0/16',
    });
    expect(s.fleet.cpuMilli).toBe(3500);
    expect(s.fleet.memoryBytes).toBe(8e9);
    expect(s.fleet.labels).toEqual({ tier: 'edge', pool: 'b' });
    expect(s.leaseIntervalMs).toBe(2000);
    expect(s.podStartDelayMs).toBe(0);
    expect(s.fleet.podRange).toBe('10.64.0.0/16');
  });

  it.each([
    [{ simulate: '0' }, '--simulate must be a whole number from 1'],
    [{ simulate: 'lots' }, '--simulate must be a whole number'],
    [{ namePrefix: 'Sim_' }, '--name-prefix "Sim_"'],
    [{ namePrefix: 'x'.repeat(62) }, 'must be no more than 63 characters'],
    [{ zones: '0' }, '--zones must be a whole number from 1'],
    [{ nodeCpu: 'four' }, '--node-cpu must be a CPU quantity'],
    [{ nodeMemory: '0' }, '--node-memory must be a memory quantity'],
    [{ nodePods: '-1' }, '--node-pods must be a whole number'],
    [{ labels: ['novalue'] }, '--labels entries must be key=value'],
    [{ labels: ['bad key=x'] }, '--labels: "bad key=x" is not a valid label'],
    [{ leaseInterval: '10' }, '--lease-interval must be a duration'],
    [{ leaseInterval: '10ms' }, 'at least 100 ms'],
    [{ podStartDelay: 'soon' }, '--pod-start-delay must be a duration'],
    [{ concurrency: '0' }, '--concurrency must be a whole number from 1'],
    [{ podCidr: '10.0.0.0/24', simulate: '2' }, '--pod-cidr 10.0.0.0/24 holds 1 simulated nodes'],
    [{ podCidr: 'ten' }, '--pod-cidr must be an IPv4 CIDR'],
  ] as [Partial<SimulateFlagValues>, string][])('rejects %j naming the flag', (bad, message) => {
    expect(() => parseSimulateFlags({ ...base, ...bad })).toThrow(message);
  });
});
