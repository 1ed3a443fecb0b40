import { describe, expect, it } from 'vitest';
import { PodIpPool } from './ip-pool.js';
import {
  blockBits,
  ipToInt,
  rangeCapacity,
  simFleet,
  simNodeDrift,
  simNodeObject,
  simNodeStatus,
  SimSpecError,
  type SimFleetSpec,
} from './nodes.js';

const spec: SimFleetSpec = {
  count: 5,
  prefix: 'sim',
  zones: 3,
  cpuMilli: 4000,
  memoryBytes: 16 * 1024 ** 3,
  ephemeralStorageBytes: 100 * 1024 ** 3,
  maxPods: 110,
  labels: { team: 'scale' },
  podRange: '10.128.0.0/9',
  agentPort: 10250,
  arch: 'amd64',
  agentVersion: 'v0.1.0-flotilla',
};

describe('simFleet', () => {
  it('names nodes <prefix>-<i>, spreads them over zones, gives each a /24 and a loopback address', () => {
    const fleet = simFleet(spec);
    expect(fleet.map((n) => [n.name, n.zone, n.podCidr, n.hostIP])).toEqual([
      ['sim-0', 'zone-0', '10.128.0.0/24', '127.128.0.1'],
      ['sim-1', 'zone-1', '10.128.1.0/24', '127.128.1.1'],
      ['sim-2', 'zone-2', '10.128.2.0/24', '127.128.2.1'],
      ['sim-3', 'zone-0', '10.128.3.0/24', '127.128.3.1'],
      ['sim-4', 'zone-1', '10.128.4.0/24', '127.128.4.1'],
    ]);
  });

  it('carries on past 256 nodes into the next octet', () => {
    const fleet = simFleet({ ...spec, count: 300 });
    expect(fleet[257]?.podCidr).toBe('10.129.1.0/24');
    expect(fleet[257]?.hostIP).toBe('127.129.1.1');
  });

  it('gives larger blocks when a node takes more pods than a /24 holds', () => {
    expect(blockBits(110)).toBe(8);
    expect(blockBits(253)).toBe(8);
    expect(blockBits(254)).toBe(9);
    const fleet = simFleet({ ...spec, count: 2, maxPods: 500 });
    expect(fleet.map((n) => n.podCidr)).toEqual(['10.128.0.0/23', '10.128.2.0/23']);
  });

  it('refuses a range too small for the fleet, saying how many it holds', () => {
    expect(rangeCapacity('10.128.0.0/9', 110)).toBe(32_768);
    expect(() => simFleet({ ...spec, count: 5, podRange: '10.0.0.0/22' })).toThrow(SimSpecError);
    expect(() => simFleet({ ...spec, count: 5, podRange: '10.0.0.0/22' })).toThrow(/holds 4 nodes/);
  });

  it('builds a Ready Node with the topology and simulated labels, capacity as given and a fake runtime', () => {
    const [node] = simFleet(spec);
    const obj = simNodeObject(node!, '2024-01-01T00:00:00Z') as any;
    expect(obj.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': 'sim-0',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'topology.kubernetes.io/zone': 'zone-0',
      'flotilla.dev/simulated': 'true',
      team: 'scale',
    });
    expect(obj.metadata.annotations).toEqual({ 'flotilla.dev/simulated': 'true' });
    expect(obj.spec).toEqual({ podCIDR: '10.128.0.0/24', podCIDRs: ['10.128.0.0/24'] });
    expect(obj.status.capacity).toMatchObject({ cpu: '4', memory: '16777216Ki', pods: '110' });
    expect(obj.status.allocatable).toMatchObject({ cpu: '4', memory: '16777216Ki', pods: '110' });
    expect(obj.status.addresses).toEqual([
      { type: 'InternalIP', address: '127.128.0.1' },
      { type: 'Hostname', address: 'sim-0' },
    ]);
    expect(obj.status.nodeInfo.containerRuntimeVersion).toBe('fake://flotilla-sim/v0.1.0-flotilla');
    const ready = obj.status.conditions.find((c: any) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'True', lastHeartbeatTime: '2024-01-01T00:00:00Z' });
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure'])
      expect(obj.status.conditions.find((c: any) => c.type === t).status).toBe('False');
  });

  it('keeps the same machine and boot ids across restarts (a new boot id would mean a reboot)', () => {
    expect(simFleet(spec)[2]?.facts.bootID).toBe(simFleet(spec)[2]?.facts.bootID);
    expect(simFleet(spec)[2]?.facts.bootID).not.toBe(simFleet(spec)[3]?.facts.bootID);
    expect(simFleet(spec)[2]?.facts.bootID).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
  });

  it('heartbeats keep the Ready transition time', () => {
    const [node] = simFleet(spec);
    const first = simNodeStatus(node!, undefined, '2024-01-01T00:00:00Z') as any;
    const later = simNodeStatus(node!, first.conditions, '2024-01-01T00:01:00Z') as any;
    const ready = later.conditions.find((c: any) => c.type === 'Ready');
    expect(ready.lastHeartbeatTime).toBe('2024-01-01T00:01:00Z');
    expect(ready.lastTransitionTime).toBe('2024-01-01T00:00:00Z');
  });

  it('on resume, restores our labels over edited ones and keeps user labels; nothing to do when unchanged', () => {
    const [node] = simFleet(spec);
    const obj = simNodeObject(node!, '2024-01-01T00:00:00Z');
    expect(simNodeDrift(node!, obj)).toBeUndefined();
    const edited = structuredClone(obj);
    edited.metadata.labels = {
      ...edited.metadata.labels,
      'topology.kubernetes.io/zone': 'moved',
      extra: 'x',
    };
    const drift = simNodeDrift(node!, edited);
    expect(drift?.labels['topology.kubernetes.io/zone']).toBe('zone-0');
    expect(drift?.labels['extra']).toBe('x');
  });
});

describe('PodIpPool', () => {
  it('hands out .2 to .254 round-robin, never the same address twice while in use', () => {
    const base = ipToInt('10.128.0.0')!;
    const pool = new PodIpPool(base + 2, base + 254);
    expect(pool.allocate()).toBe('10.128.0.2');
    expect(pool.allocate()).toBe('10.128.0.3');
    pool.release('10.128.0.2');
    // Not reused at once: the next one is handed out first.
    expect(pool.allocate()).toBe('10.128.0.4');
    const all = new Set<string>();
    for (let i = 0; i < 251; i++) all.add(pool.allocate()!);
    expect(all.size).toBe(251);
    expect(pool.allocate()).toBeUndefined();
    expect(pool.inUse()).toBe(253);
  });

  it('claims an adopted address only inside its block', () => {
    const base = ipToInt('10.128.0.0')!;
    const pool = new PodIpPool(base + 2, base + 254);
    expect(pool.claim('10.128.0.2')).toBe(true);
    expect(pool.claim('10.42.0.7')).toBe(false);
    expect(pool.allocate()).toBe('10.128.0.3');
  });
});
