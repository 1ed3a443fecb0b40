// The agent's Node object and Lease, as pure functions of what the agent measured (no I/O here).
import type { KubeObject } from '../api/types.js';

export interface HostFacts {
  hostname: string;
  /** InternalIP the API server uses to reach the agent (logs, exec, stats). */
  internalIP: string;
  os: string;
  /** OCI/Kubernetes arch name: amd64, arm64, ... */
  arch: string;
  kernelVersion: string;
  osImage: string;
  machineID: string;
  bootID: string;
  cpuCores: number;
  memoryBytes: number;
  /** Size of the filesystem holding the agent's data dir. */
  ephemeralStorageBytes: number;
  runtimeVersion: string;
  agentVersion: string;
}

export interface Pressure {
  memoryAvailableBytes: number;
  diskAvailableBytes: number;
  diskTotalBytes: number;
  pidsInUse: number;
  pidMax: number;
}

export interface NodeConfig {
  nodeName: string;
  podCidr: string;
  agentPort: number;
  maxPods: number;
  labels: Record<string, string>;
  /** Held back from allocatable for the system and eviction headroom. */
  reservedMemoryBytes: number;
  reservedCpuMilli: number;
  /** Thresholds for the pressure conditions. */
  memoryPressureBelowBytes: number;
  diskPressureBelowPercent: number;
  pidPressureAbovePercent: number;
}

export interface NodeReadiness {
  ready: boolean;
  /** Why not, when not ready (runtime or network down). */
  message?: string;
}

export interface ImageSummary {
  names: string[];
  sizeBytes: number;
}

type Condition = {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastHeartbeatTime: string;
  lastTransitionTime: string;
};

/** Kubernetes arch names for node's process.arch values. */
export function kubeArch(nodeArch: string): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'arm':
      return 'arm';
    default:
      return nodeArch; // arm64, ppc64, s390x, riscv64
  }
}

function kib(bytes: number): string {
  return `${Math.max(0, Math.floor(bytes / 1024))}Ki`;
}

function cpu(milli: number): string {
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

export function nodeLabels(cfg: NodeConfig, facts: HostFacts): Record<string, string> {
  return {
    'kubernetes.io/hostname': cfg.nodeName,
    'kubernetes.io/os': facts.os,
    'kubernetes.io/arch': facts.arch,
    'beta.kubernetes.io/os': facts.os,
    'beta.kubernetes.io/arch': facts.arch,
    ...cfg.labels,
  };
}

/** The conditions the agent reports, keeping lastTransitionTime when a status did not change. */
export function nodeConditions(
  cfg: NodeConfig,
  pressure: Pressure,
  readiness: NodeReadiness,
  previous: Condition[] | undefined,
  now: string,
): Condition[] {
  const diskFreePct =
    pressure.diskTotalBytes > 0 ? (100 * pressure.diskAvailableBytes) / pressure.diskTotalBytes : 100;
  const pidPct = pressure.pidMax > 0 ? (100 * pressure.pidsInUse) / pressure.pidMax : 0;
  const memPressure = pressure.memoryAvailableBytes < cfg.memoryPressureBelowBytes;
  const diskPressure = diskFreePct < cfg.diskPressureBelowPercent;
  const pidPressure = pidPct > cfg.pidPressureAbovePercent;
  const fresh: Omit<Condition, 'lastHeartbeatTime' | 'lastTransitionTime'>[] = [
    memPressure
      ? {
          type: 'MemoryPressure',
          status: 'True',
          reason: 'KubeletHasInsufficientMemory',
          message: `available memory ${Math.floor(pressure.memoryAvailableBytes / 1048576)}Mi is below ${Math.floor(cfg.memoryPressureBelowBytes / 1048576)}Mi`,
        }
      : {
          type: 'MemoryPressure',
          status: 'False',
          reason: 'KubeletHasSufficientMemory',
          message: 'agent has sufficient memory available',
        },
    diskPressure
      ? {
          type: 'DiskPressure',
          status: 'True',
          reason: 'KubeletHasDiskPressure',
          message: `only ${diskFreePct.toFixed(1)}% of the agent's filesystem is free (threshold ${cfg.diskPressureBelowPercent}%)`,
        }
      : {
          type: 'DiskPressure',
          status: 'False',
          reason: 'KubeletHasNoDiskPressure',
          message: 'agent has no disk pressure',
        },
    pidPressure
      ? {
          type: 'PIDPressure',
          status: 'True',
          reason: 'KubeletHasInsufficientPID',
          message: `${pressure.pidsInUse} of ${pressure.pidMax} process ids in use`,
        }
      : {
          type: 'PIDPressure',
          status: 'False',
          reason: 'KubeletHasSufficientPID',
          message: 'agent has sufficient PID available',
        },
    readiness.ready
      ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'agent is posting ready status' }
      : {
          type: 'Ready',
          status: 'False',
          reason: 'KubeletNotReady',
          message: readiness.message ?? 'agent is not ready',
        },
  ];
  return fresh.map((c) => {
    const prev = previous?.find((p) => p.type === c.type);
    return {
      ...c,
      lastHeartbeatTime: now,
      lastTransitionTime: prev !== undefined && prev.status === c.status ? prev.lastTransitionTime : now,
    };
  });
}

/** The Node's status as the agent reports it. */
export function nodeStatus(
  cfg: NodeConfig,
  facts: HostFacts,
  pressure: Pressure,
  readiness: NodeReadiness,
  images: ImageSummary[],
  previous: Condition[] | undefined,
  now: string,
): Record<string, unknown> {
  const cpuMilli = facts.cpuCores * 1000;
  const capacity = {
    cpu: cpu(cpuMilli),
    memory: kib(facts.memoryBytes),
    pods: String(cfg.maxPods),
    'ephemeral-storage': kib(facts.ephemeralStorageBytes),
  };
  const allocatable = {
    cpu: cpu(Math.max(0, cpuMilli - cfg.reservedCpuMilli)),
    memory: kib(facts.memoryBytes - cfg.reservedMemoryBytes),
    pods: String(cfg.maxPods),
    'ephemeral-storage': kib(facts.ephemeralStorageBytes * 0.9),
  };
  return {
    capacity,
    allocatable,
    conditions: nodeConditions(cfg, pressure, readiness, previous, now),
    addresses: [
      { type: 'InternalIP', address: facts.internalIP },
      { type: 'Hostname', address: facts.hostname },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: cfg.agentPort } },
    nodeInfo: {
      machineID: facts.machineID,
      systemUUID: facts.machineID,
      bootID: facts.bootID,
      kernelVersion: facts.kernelVersion,
      osImage: facts.osImage,
      containerRuntimeVersion: facts.runtimeVersion,
      kubeletVersion: facts.agentVersion,
      kubeProxyVersion: facts.agentVersion,
      operatingSystem: facts.os,
      architecture: facts.arch,
    },
    // Largest first, at most 50, as the kubelet reports them (the scheduler's ImageLocality reads them).
    images: [...images].sort((a, b) => b.sizeBytes - a.sizeBytes).slice(0, 50),
  };
}

/** A new Node object for registration. */
export function newNode(cfg: NodeConfig, facts: HostFacts): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: cfg.nodeName, labels: nodeLabels(cfg, facts) },
    spec: { podCIDR: cfg.podCidr, podCIDRs: [cfg.podCidr] },
  };
}

/** MicroTime as the API expects for Lease renewTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function nodeLease(
  nodeName: string,
  nodeUid: string | undefined,
  durationSeconds: number,
  nowMs: number,
): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: nodeName,
      namespace: 'kube-node-lease',
      ...(nodeUid === undefined
        ? {}
        : { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] }),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: durationSeconds, renewTime: microTime(nowMs) },
  };
}
