import { describe, expect, it } from 'vitest';
import { memoryIO } from './io.js';
import { run } from './main.js';
import { nodeLifecycleFromFlags } from './node-lifecycle-flags.js';

describe('node lifecycle server flags', () => {
  it('turn durations and rates into controller options; absent flags keep the defaults', () => {
    expect(nodeLifecycleFromFlags({})).toEqual({});
    expect(
      nodeLifecycleFromFlags({
        nodeMonitorGracePeriod: '40s',
        nodeStartupGracePeriod: '2m',
        nodeMonitorPeriod: '500ms',
        nodeEvictionRate: '0.5',
        secondaryNodeEvictionRate: '0',
        unhealthyZoneThreshold: '0.7',
        largeClusterSizeThreshold: '10',
      }),
    ).toEqual({
      nodeMonitorGracePeriodMs: 40_000,
      nodeStartupGracePeriodMs: 120_000,
      nodeMonitorPeriodMs: 500,
      evictionRate: 0.5,
      secondaryEvictionRate: 0,
      unhealthyZoneThreshold: 0.7,
      largeClusterThreshold: 10,
    });
  });

  it.each([
    [{ nodeMonitorGracePeriod: 'soon' }, '--node-monitor-grace-period'],
    [{ nodeMonitorGracePeriod: '0s' }, '--node-monitor-grace-period must be longer than 0'],
    [{ nodeEvictionRate: '-1' }, '--node-eviction-rate'],
    [{ nodeEvictionRate: 'fast' }, '--node-eviction-rate'],
    [{ unhealthyZoneThreshold: '1.5' }, '--unhealthy-zone-threshold'],
    [{ largeClusterSizeThreshold: '2.5' }, '--large-cluster-size-threshold'],
    [{ nodeMonitorGracePeriod: '5s', nodeMonitorPeriod: '10s' }, 'shorter than --node-monitor-grace-period'],
  ])('%j is a usage error naming the flag', (flags, text) => {
    expect(() => nodeLifecycleFromFlags(flags)).toThrow(expect.objectContaining({ exitCode: 2 }));
    expect(() => nodeLifecycleFromFlags(flags)).toThrow(text);
  });

  it('are listed by `flotilla server --help` and `flotilla up --help`', async () => {
    for (const cmd of ['server', 'up']) {
      const io = memoryIO();
      expect(await run([cmd, '--help'], io)).toBe(0);
      for (const flag of [
        '--node-monitor-grace-period',
        '--node-eviction-rate',
        '--unhealthy-zone-threshold',
      ])
        expect(io.out()).toContain(flag);
    }
  });
});
