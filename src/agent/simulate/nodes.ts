// Simulated nodes as pure data: names, zones, the per-node pod range and address, the Node object and its
// status. No I/O here; the simulator shell writes what these functions produce.
import type { KubeObject } from '../../api/types.js';
import { newNode, nodeStatus, type HostFacts, type NodeConfig, type Pressure } from '../node-status.js';

/** Label and annotation every simulated Node carries (the label lets `--remove` and listings find them). */
export const simulatedLabel = 'flotilla.dev/simulated';
export const simulatedAnnotation = 'flotilla.dev/simulated';
export const zoneLabel = 'topology.kubernetes.io/zone';
/** The pod range carved into per-node blocks when `--pod-cidr` is not given: far from real agents' 10.42.x. */
export const defaultSimPodRange = '10.128.0.0/9';

export interface SimFleetSpec {
  count: number;
  /** Node names are `<prefix>-<i>`. */
  prefix: string;
  /** Node i is in zone `zone-<i mod zones>`. */
  zones: number;
  cpuMilli: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
  maxPods: number;
  /** Extra labels (they win over ours, zone included). */
  labels: Record<string, string>;
  /** IPv4 range carved into one block per node (a /24 unless maxPods needs more). */
  podRange: string;
  /** Port the Node advertises for its (absent) agent server. */
  agentPort: number;
  /** Kubernetes arch name (amd64, arm64). */
  arch: string;
  agentVersion: string;
}

export interface SimNode {
  index: number;
  name: string;
  zone: string;
  podCidr: string;
  /** The node's simulated InternalIP: a loopback address, so nothing ever leaves the machine. */
  hostIP: string;
  /** First and last usable pod address of the block, as 32-bit integers. */
  firstPodIp: number;
  lastPodIp: number;
  config: NodeConfig;
  facts: HostFacts;
}

/** A fleet spec that cannot be built (bad range, too many nodes for it). */
export class SimSpecError extends Error {
  override readonly name = 'SimSpecError';
  readonly code = 'InvalidSimulation';
}

export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (m === null) return undefined;
  const parts = m.slice(1, 5).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + p, 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function parseCidr(cidr: string): { base: number; prefix: number } | undefined {
  const [ip, bits] = cidr.split('/');
  const addr = ipToInt(ip ?? '');
  const prefix = Number(bits);
  if (addr === undefined || bits === undefined || !/^\d{1,2}$/.test(bits) || prefix < 1 || prefix > 30)
    return undefined;
  const size = 2 ** (32 - prefix);
  return { base: addr - (addr % size), prefix };
}

/** Bits of one node's block: a /24 (kubelet-style) unless maxPods plus network, gateway and broadcast need more. */
export function blockBits(maxPods: number): number {
  return Math.max(8, Math.ceil(Math.log2(maxPods + 3)));
}

/** How many nodes a pod range holds at maxPods. */
export function rangeCapacity(podRange: string, maxPods: number): number {
  const r = parseCidr(podRange);
  if (r === undefined) return 0;
  const bits = 32 - r.prefix - blockBits(maxPods);
  return bits < 0 ? 0 : 2 ** bits;
}

/** Deterministic 32-bit FNV-1a, for made-up ids that stay the same across restarts. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** `hexChars` hex digits derived from `seed` (not cryptographic; ids only). */
export function fakeHex(seed: string, hexChars: number): string {
  let out = '';
  for (let i = 0; out.length < hexChars; i++) out += fnv1a(`${i}:${seed}`).toString(16).padStart(8, '0');
  return out.slice(0, hexChars);
}

export function simNodeName(prefix: string, index: number): string {
  return `${prefix}-${index}`;
}

/** Every node of the fleet. Throws SimSpecError when the pod range cannot hold them. */
export function simFleet(spec: SimFleetSpec): SimNode[] {
  const range = parseCidr(spec.podRange);
  if (range === undefined) throw new SimSpecError(`pod range "${spec.podRange}" is not an IPv4 CIDR`);
  const capacity = rangeCapacity(spec.podRange, spec.maxPods);
  if (spec.count > capacity)
    throw new SimSpecError(
      `pod range ${spec.podRange} holds ${capacity} nodes of ${spec.maxPods} pods, not ${spec.count}; give a larger --pod-cidr`,
    );
  const bits = blockBits(spec.maxPods);
  const nodes: SimNode[] = [];
  for (let i = 0; i < spec.count; i++) {
    const name = simNodeName(spec.prefix, i);
    const block = range.base + i * 2 ** bits;
    // 127.<2nd>.<3rd>.1 of the block: unique per block within a /8, loopback so no traffic leaves the host.
    const hostIP = `127.${(block >>> 16) & 255}.${(block >>> 8) & 255}.1`;
    const zone = `zone-${i % spec.zones}`;
    const config: NodeConfig = {
      nodeName: name,
      podCidr: `${intToIp(block)}/${32 - bits}`,
      agentPort: spec.agentPort,
      maxPods: spec.maxPods,
      labels: { [zoneLabel]: zone, [simulatedLabel]: 'true', ...spec.labels },
      reservedMemoryBytes: 0,
      reservedCpuMilli: 0,
      memoryPressureBelowBytes: 0,
      diskPressureBelowPercent: 0,
      pidPressureAbovePercent: 100,
    };
    const id = fakeHex(`machine/${name}`, 32);
    const facts: HostFacts = {
      hostname: name,
      internalIP: hostIP,
      os: 'linux',
      arch: spec.arch,
      kernelVersion: 'simulated',
      osImage: 'Flotilla simulated node',
      machineID: id,
      // Stable across simulator restarts: a new boot id would say the node rebooted.
      bootID: fakeHex(`boot/${name}`, 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'),
      cpuCores: spec.cpuMilli / 1000,
      memoryBytes: spec.memoryBytes,
      ephemeralStorageBytes: spec.ephemeralStorageBytes,
      runtimeVersion: `fake://flotilla-sim/${spec.agentVersion}`,
      agentVersion: spec.agentVersion,
    };
    nodes.push({
      index: i,
      name,
      zone,
      podCidr: config.podCidr,
      hostIP,
      firstPodIp: block + 2,
      lastPodIp: block + 2 ** bits - 2,
      config,
      facts,
    });
  }
  return nodes;
}

/** A simulated node never runs short of anything. */
function noPressure(node: SimNode): Pressure {
  return {
    memoryAvailableBytes: node.facts.memoryBytes,
    diskAvailableBytes: node.facts.ephemeralStorageBytes,
    diskTotalBytes: node.facts.ephemeralStorageBytes,
    pidsInUse: 0,
    pidMax: 4_194_304,
  };
}

type Conditions = Parameters<typeof nodeStatus>[5];

/** The node status the simulator reports (Ready, no pressure), keeping transition times of `previous`. */
export function simNodeStatus(node: SimNode, previous: Conditions, now: string): Record<string, unknown> {
  return nodeStatus(node.config, node.facts, noPressure(node), { ready: true }, [], previous, now);
}

/** The Node to create: labels, the simulated annotation, pod CIDR, and a Ready status. */
export function simNodeObject(node: SimNode, now: string): KubeObject {
  const obj = newNode(node.config, node.facts);
  obj.metadata.annotations = { [simulatedAnnotation]: 'true' };
  obj.status = simNodeStatus(node, undefined, now);
  return obj;
}

/** The labels and annotation an existing Node must carry (ours over theirs), or undefined when it already does. */
export function simNodeDrift(
  node: SimNode,
  current: KubeObject,
): { labels: Record<string, string>; annotations: Record<string, string>; podCidr?: string } | undefined {
  const wanted = newNode(node.config, node.facts);
  const labels = { ...(current.metadata.labels ?? {}), ...(wanted.metadata.labels ?? {}) };
  const annotations = { ...(current.metadata.annotations ?? {}), [simulatedAnnotation]: 'true' };
  const spec = (current.spec ?? {}) as Record<string, unknown>;
  const sameLabels = JSON.stringify(labels) === JSON.stringify(current.metadata.labels ?? {});
  const sameAnn = JSON.stringify(annotations) === JSON.stringify(current.metadata.annotations ?? {});
  const cidrMissing = typeof spec['podCIDR'] !== 'string' || spec['podCIDR'] === '';
  if (sameLabels && sameAnn && !cidrMissing) return undefined;
  return { labels, annotations, ...(cidrMissing ? { podCidr: node.podCidr } : {}) };
}
