import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readUsage } from '../runtime/cgroups.js';
import { settle, VirtualClock } from '../../testkit/clock.js';
import type { ContainerStats, ContainerStatus } from '../runtime/types.js';
import {
  cpuRate,
  parseMeminfo,
  parseProcStat,
  sampleWindowSeconds,
  StatsCollector,
  summarize,
  type HostSample,
  type StatsSample,
} from './stats.js';

const t0 = new Date('2026-11-26T12:00:00Z');
const at = (s: number): Date => new Date(t0.getTime() + s * 1000);

function host(s: number, cpuSeconds: number): HostSample {
  return {
    time: at(s),
    bootTime: new Date('2026-11-20T08:00:00Z'),
    cpuUsageNanos: cpuSeconds * 1e9,
    memTotalBytes: 8 * 2 ** 30,
    memAvailableBytes: 6 * 2 ** 30,
    memFreeBytes: 2 * 2 ** 30,
  };
}

function status(
  pod: string,
  name: string,
  state: ContainerStatus['state'] = 'running',
  attempt = 0,
): ContainerStatus {
  return {
    id: `${pod}-${name}-${attempt}`,
    labels: {
      podUid: `uid-${pod}`,
      podName: pod,
      podNamespace: 'default',
      containerName: name,
      attempt,
      kind: 'regular',
      specHash: 'h',
    },
    imageRef: 'busybox',
    imageId: 'sha256:0',
    state,
    createdAt: at(-120 + attempt),
    startedAt: at(-100 + attempt),
    logPath: '/dev/null',
  };
}

function stats(c: ContainerStatus, s: number, cpuMillis: number, wsMiB: number): ContainerStats {
  return {
    id: c.id,
    cpuUsageNanos: cpuMillis * 1e6,
    memoryWorkingSetBytes: wsMiB * 2 ** 20,
    memoryUsageBytes: (wsMiB + 1) * 2 ** 20,
    timestamp: at(s),
  };
}

describe('summarize', () => {
  const webApp = status('web', 'app');
  const webSide = status('web', 'side');
  const dbMain = status('db', 'main');

  const first: StatsSample = {
    host: host(0, 1000),
    containers: [
      { status: webApp, stats: stats(webApp, 0, 1000, 10) },
      { status: webSide, stats: stats(webSide, 0, 500, 5) },
      { status: dbMain, stats: stats(dbMain, 0, 0, 100) },
    ],
  };
  const second: StatsSample = {
    host: host(10, 1015),
    containers: [
      // 250 ms of CPU in 10 s: 25 millicores.
      { status: webApp, stats: stats(webApp, 10, 1250, 12) },
      // 1 s of CPU in 10 s: 100 millicores.
      { status: webSide, stats: stats(webSide, 10, 1500, 6) },
      { status: dbMain, stats: stats(dbMain, 10, 20_000, 120) },
    ],
  };

  it('turns two samples into usage rates: node, containers and pods', () => {
    const s = summarize('n1', second, first);
    // 15 s of CPU over 10 s of wall time: 1.5 cores.
    expect(s.node).toEqual({
      nodeName: 'n1',
      startTime: '2026-11-20T08:00:00.000Z',
      cpu: { time: at(10).toISOString(), usageNanoCores: 1_500_000_000, usageCoreNanoSeconds: 1015e9 },
      memory: {
        time: at(10).toISOString(),
        workingSetBytes: 2 * 2 ** 30,
        usageBytes: 6 * 2 ** 30,
        availableBytes: 6 * 2 ** 30,
      },
    });
    const web = s.pods.find((p) => p.podRef.name === 'web');
    expect(web?.containers.map((c) => [c.name, c.cpu.usageNanoCores])).toEqual([
      ['app', 25_000_000],
      ['side', 100_000_000],
    ]);
    expect(web?.containers[0]).toEqual({
      name: 'app',
      startTime: at(-100).toISOString(),
      cpu: { time: at(10).toISOString(), usageNanoCores: 25_000_000, usageCoreNanoSeconds: 1250e6 },
      memory: { time: at(10).toISOString(), workingSetBytes: 12 * 2 ** 20, usageBytes: 13 * 2 ** 20 },
    });
    // db: 20 s of CPU in 10 s = 2 cores.
    expect(s.pods.find((p) => p.podRef.name === 'db')?.cpu.usageNanoCores).toBe(2_000_000_000);
  });

  it('aggregates each pod over its containers and sorts pods by namespace and name', () => {
    const s = summarize('n1', second, first);
    expect(s.pods.map((p) => p.podRef)).toEqual([
      { name: 'db', namespace: 'default', uid: 'uid-db' },
      { name: 'web', namespace: 'default', uid: 'uid-web' },
    ]);
    const web = s.pods[1];
    expect(web?.cpu).toEqual({
      time: at(10).toISOString(),
      usageNanoCores: 125_000_000,
      usageCoreNanoSeconds: 2750e6,
    });
    expect(web?.memory).toEqual({
      time: at(10).toISOString(),
      workingSetBytes: 18 * 2 ** 20,
      usageBytes: 20 * 2 ** 20,
    });
    expect(web?.startTime).toBe(at(-100).toISOString());
  });

  it('leaves out usageNanoCores when there is no earlier sample', () => {
    const s = summarize('n1', first);
    expect(s.node.cpu.usageNanoCores).toBeUndefined();
    expect(s.node.cpu.usageCoreNanoSeconds).toBe(1000e9);
    expect('usageNanoCores' in (s.pods[0]?.cpu ?? {})).toBe(false);
    expect(s.pods[0]?.containers[0]?.cpu.usageCoreNanoSeconds).toBe(0);
    expect(JSON.parse(JSON.stringify(s)).node.cpu).not.toHaveProperty('usageNanoCores');
  });

  it('excludes exited and created containers, and pods with nothing running', () => {
    const dead = status('dead', 'app', 'exited');
    const starting = status('web', 'init', 'created');
    const cur: StatsSample = {
      host: host(10, 1015),
      containers: [
        ...second.containers,
        { status: dead, stats: stats(dead, 10, 5, 1) },
        { status: starting, stats: stats(starting, 10, 0, 0) },
      ],
    };
    const s = summarize('n1', cur, first);
    expect(s.pods.map((p) => p.podRef.name)).toEqual(['db', 'web']);
    expect(s.pods[1]?.containers.map((c) => c.name)).toEqual(['app', 'side']);
  });

  it('gives a restarted container no rate until its new counter has two samples', () => {
    const restarted = status('web', 'app', 'running', 1);
    const cur: StatsSample = {
      host: host(10, 1015),
      containers: [
        { status: { ...webApp, state: 'exited' }, stats: undefined },
        { status: restarted, stats: stats(restarted, 10, 40, 3) },
        { status: webSide, stats: stats(webSide, 10, 1500, 6) },
      ],
    };
    const web = summarize('n1', cur, first).pods.find((p) => p.podRef.name === 'web');
    expect(web?.containers.map((c) => [c.name, c.cpu.usageNanoCores, c.startTime])).toEqual([
      ['app', undefined, at(-99).toISOString()],
      ['side', 100_000_000, at(-100).toISOString()],
    ]);
    // The pod's rate is what is known: side's.
    expect(web?.cpu.usageNanoCores).toBe(100_000_000);
  });

  it('skips a running container the runtime had no figures for', () => {
    const cur: StatsSample = {
      host: host(10, 1015),
      containers: [{ status: webApp, stats: undefined }],
    };
    expect(summarize('n1', cur, first).pods).toEqual([]);
  });
});

describe('cpuRate', () => {
  it('is undefined when no time passed or the counter went back', () => {
    expect(cpuRate(0, at(0), 1e9, at(1))).toBe(1e9);
    expect(cpuRate(0, at(1), 1e9, at(1))).toBeUndefined();
    expect(cpuRate(5e9, at(0), 1e9, at(1))).toBeUndefined();
  });
});

describe('/proc parsing', () => {
  it('counts non-idle jiffies of all CPUs as nanoseconds (USER_HZ 100) and reads btime', () => {
    const text = [
      'cpu  100 20 30 4000 50 6 7 8 90 0',
      'cpu0 50 10 15 2000 25 3 3 4 45 0',
      'intr 12345',
      'btime 1764158400',
    ].join('\n');
    // user+nice+system+irq+softirq+steal = 100+20+30+6+7+8 = 171 ticks = 1.71 s.
    expect(parseProcStat(text)).toEqual({
      cpuUsageNanos: 1_710_000_000,
      bootTime: new Date(1764158400 * 1000),
    });
    expect(() => parseProcStat('intr 1\n')).toThrow(/no aggregate "cpu" line/);
  });

  it('reads MemTotal, MemAvailable and MemFree in bytes (estimating MemAvailable when absent)', () => {
    expect(
      parseMeminfo(
        'MemTotal:       8000 kB\nMemFree:        1000 kB\nMemAvailable:   5000 kB\nActive(anon): 3 kB\n',
      ),
    ).toEqual({ total: 8000 * 1024, available: 5000 * 1024, free: 1000 * 1024 });
    expect(
      parseMeminfo('MemTotal: 8000 kB\nMemFree: 1000 kB\nBuffers: 200 kB\nCached: 300 kB\n').available,
    ).toBe(1500 * 1024);
  });

  it('parses this machine’s /proc', async () => {
    const { readHostSample } = await import('./stats.js');
    const h = await readHostSample(new Date());
    expect(h.memTotalBytes).toBeGreaterThan(h.memAvailableBytes);
    expect(h.cpuUsageNanos).toBeGreaterThan(0);
    expect(h.bootTime.getTime()).toBeLessThan(Date.now());
  });
});

describe('StatsCollector', () => {
  it('samples at start and then on its period (injected clock), rates from the last two samples', async () => {
    const clock = new VirtualClock(t0.getTime());
    const app = status('web', 'app');
    let cpuMillis = 0;
    const asked: string[] = [];
    const runtime = {
      listContainers: async () => [app, status('old', 'app', 'exited')],
      stats: async (id: string) => {
        asked.push(id);
        return stats(app, (clock.now() - t0.getTime()) / 1000, cpuMillis, 10);
      },
    };
    let hostCpu = 0;
    const c = new StatsCollector({
      runtime,
      nodeName: 'n1',
      intervalMs: 5000,
      clock,
      sampleHost: async (now) => ({ ...host(0, hostCpu), time: now }),
    });
    c.start();
    await settle();
    expect(clock.pendingTimers()).toBe(1); // the next sample is scheduled once the first is taken
    const one = await c.summary();
    expect(one.pods[0]?.cpu.usageNanoCores).toBeUndefined();
    expect(one.node.cpu.usageNanoCores).toBeUndefined();
    cpuMillis = 2500; // half a core over 5 s
    hostCpu = 10; // two cores over 5 s
    await clock.advance(5000);
    const two = await c.summary();
    expect(two.node.cpu).toMatchObject({ time: at(5).toISOString(), usageNanoCores: 2_000_000_000 });
    expect(two.pods[0]?.containers[0]?.cpu.usageNanoCores).toBe(500_000_000);
    // Only running containers are asked for their figures.
    expect(new Set(asked)).toEqual(new Set([app.id]));
    c.stop();
    expect(clock.pendingTimers()).toBe(0);
    await clock.advance(60_000);
    expect(asked).toHaveLength(2);
  });

  it('takes a sample on demand when asked for a summary before the first one', async () => {
    const c = new StatsCollector({
      runtime: { listContainers: async () => [], stats: async () => undefined },
      nodeName: 'n2',
      sampleHost: async (now) => ({ ...host(0, 1), time: now }),
    });
    const s = await c.summary();
    expect(s.node.nodeName).toBe('n2');
    expect(s.pods).toEqual([]);
  });
});

describe('the sampling window', () => {
  it('is the time between the two samples the rates come from, absent with one sample', () => {
    const a = sampleWith(0);
    const b = sampleWith(10_250);
    expect(summarize('n1', b, a).windowSeconds).toBe(10.25);
    expect(summarize('n1', b).windowSeconds).toBeUndefined();
    expect(sampleWindowSeconds(new Date(5), new Date(5))).toBeUndefined();
  });

  function sampleWith(ms: number): StatsSample {
    return {
      host: {
        time: new Date(Date.UTC(2026, 10, 20, 8, 0, 0) + ms),
        bootTime: new Date(0),
        cpuUsageNanos: ms * 1e6,
        memTotalBytes: 1,
        memAvailableBytes: 1,
        memFreeBytes: 1,
      },
      containers: [],
    };
  }
});

describe('cgroup figures the collector reads (working set = usage − inactive file, v1 and v2)', () => {
  const kib = 1024;
  function tree(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'flotilla-cg-'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, dirname(path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  it('v1: cpuacct.usage, memory.usage_in_bytes minus total_inactive_file', async () => {
    const root = tree({
      'cpuacct/pods/c1/cpuacct.usage': '123456789\n',
      'memory/pods/c1/memory.usage_in_bytes': `${100 * kib}\n`,
      'memory/pods/c1/memory.stat': `cache ${60 * kib}\ninactive_file ${1 * kib}\ntotal_inactive_file ${30 * kib}\n`,
    });
    try {
      const layout = {
        version: 1 as const,
        v1: new Map([
          ['cpuacct', join(root, 'cpuacct')],
          ['memory', join(root, 'memory')],
        ]),
      };
      expect(await readUsage(layout, '/pods/c1')).toEqual({
        cpuUsageNanos: 123456789,
        memoryUsageBytes: 100 * kib,
        memoryWorkingSetBytes: 70 * kib,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('v2: cpu.stat usage_usec, memory.current minus inactive_file; never below zero', async () => {
    const root = tree({
      'pods/c1/cpu.stat': 'usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n',
      'pods/c1/memory.current': `${100 * kib}\n`,
      'pods/c1/memory.stat': `anon ${50 * kib}\ninactive_file ${40 * kib}\n`,
      'pods/c2/cpu.stat': 'usage_usec 1\n',
      'pods/c2/memory.current': `${10 * kib}\n`,
      'pods/c2/memory.stat': `inactive_file ${40 * kib}\n`,
    });
    try {
      const layout = { version: 2 as const, v1: new Map<string, string>(), unified: root };
      expect(await readUsage(layout, '/pods/c1')).toEqual({
        cpuUsageNanos: 2_500_000,
        memoryUsageBytes: 100 * kib,
        memoryWorkingSetBytes: 60 * kib,
      });
      expect((await readUsage(layout, '/pods/c2'))?.memoryWorkingSetBytes).toBe(0);
      expect(await readUsage(layout, '/pods/gone')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
