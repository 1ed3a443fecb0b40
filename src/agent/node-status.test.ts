import { describe, expect, it } from 'vitest';
import {
  kubeArch,
  microTime,
  newNode,
  nodeConditions,
  nodeLease,
  nodeStatus,
  type HostFacts,
  type NodeConfig,
} from './node-status.js';

const cfg: NodeConfig = {
  nodeName: 'n1',
  podCidr: '10.42.0.0/24',
  agentPort: 10250,
  maxPods: 110,
  labels: { zone: 'a' },
  reservedMemoryBytes: 100 * 1048576,
  reservedCpuMilli: 0,
  memoryPressureBelowBytes: 100 * 1048576,
  diskPressureBelowPercent: 10,
  pidPressureAbovePercent: 90,
};
const facts: HostFacts = {
  hostname: 'host1',
  internalIP: '192.0.2.10',
  os: 'linux',
  arch: 'amd64',
  kernelVersion: '6.1.0',
  osImage: 'Debian GNU/Linux 12 (bookworm)',
  machineID: 'm',
  bootID: 'b',
  cpuCores: 2,
  memoryBytes: 4 * 1024 ** 3,
  ephemeralStorageBytes: 100 * 1024 ** 3,
  runtimeVersion: 'runc://1.1.5',
  agentVersion: 'v0.1.0',
};
const calm = {
  memoryAvailableBytes: 2 * 1024 ** 3,
  diskAvailableBytes: 50,
  diskTotalBytes: 100,
  pidsInUse: 100,
  pidMax: 32768,
};

describe('node status', () => {
  it('registers with the well-known labels and the pod CIDR', () => {
    const node = newNode(cfg, facts);
    expect(node.metadata.labels).toMatchObject({
      'kubernetes.io/hostname': 'n1',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      zone: 'a',
    });
    expect(node.spec).toEqual({ podCIDR: '10.42.0.0/24', podCIDRs: ['10.42.0.0/24'] });
  });

  it('reports capacity, allocatable, addresses, the agent port and nodeInfo', () => {
    const s = nodeStatus(cfg, facts, calm, { ready: true }, [], undefined, '2026-01-01T00:00:00Z') as any;
    expect(s.capacity).toEqual({
      cpu: '2',
      memory: '4194304Ki',
      pods: '110',
      'ephemeral-storage': '104857600Ki',
    });
    expect(s.allocatable.memory).toBe('4091904Ki');
    expect(s.addresses).toEqual([
      { type: 'InternalIP', address: '192.0.2.10' },
      { type: 'Hostname', address: 'host1' },
    ]);
    expect(s.daemonEndpoints).toEqual({ kubeletEndpoint: { Port: 10250 } });
    expect(s.nodeInfo).toMatchObject({
      kernelVersion: '6.1.0',
      containerRuntimeVersion: 'runc://1.1.5',
      architecture: 'amd64',
    });
    expect(s.conditions.map((c: any) => `${c.type}=${c.status}`)).toEqual([
      'MemoryPressure=False',
      'DiskPressure=False',
      'PIDPressure=False',
      'Ready=True',
    ]);
  });

  it('turns on pressure conditions past their thresholds and keeps transition times while unchanged', () => {
    const low = {
      memoryAvailableBytes: 10 * 1048576,
      diskAvailableBytes: 5,
      diskTotalBytes: 100,
      pidsInUse: 32000,
      pidMax: 32768,
    };
    const first = nodeConditions(cfg, low, { ready: false, message: 'runtime down' }, undefined, 't1');
    expect(first.map((c) => c.status)).toEqual(['True', 'True', 'True', 'False']);
    expect(first[3]?.message).toBe('runtime down');
    const second = nodeConditions(cfg, low, { ready: true }, first, 't2');
    expect(second[0]?.lastTransitionTime).toBe('t1');
    expect(second[0]?.lastHeartbeatTime).toBe('t2');
    expect(second[3]).toMatchObject({ status: 'True', lastTransitionTime: 't2', reason: 'KubeletReady' });
  });

  it('builds the node lease with a microsecond renew time and an owner reference to the node', () => {
    const lease = nodeLease('n1', 'uid-1', 40, Date.UTC(2026, 0, 1, 0, 0, 0, 123));
    expect(lease.metadata).toMatchObject({ name: 'n1', namespace: 'kube-node-lease' });
    expect(lease.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'Node', uid: 'uid-1' });
    expect(lease.spec).toEqual({
      holderIdentity: 'n1',
      leaseDurationSeconds: 40,
      renewTime: '2026-01-01T00:00:00.123000Z',
    });
    expect(microTime(0)).toBe('1970-01-01T00:00:00.000000Z');
    expect(kubeArch('x64')).toBe('amd64');
    expect(kubeArch('arm64')).toBe('arm64');
  });
});
