// A node with running totals of what its pods request, kept up to date as pods come and go, so
// Filter and Score are O(1) per node (upstream framework.NodeInfo).

import { quantityToMillis, quantityValue, tryParseQuantity } from '../../api/quantity.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asBool, asNum, asObj, objItems } from '../../api/validation/access.js';
import { parseTaints, type Taint } from './match.js';
import {
  hasPodAffinity,
  normalizedImageName,
  type HostPort,
  type PodInfo,
  type Resources,
} from './pod-info.js';

export interface Allocatable extends Resources {
  pods: number;
}

function parseAllocatable(status: Record<string, unknown>): Allocatable {
  // The API server defaults allocatable to capacity; do the same for objects that skipped it.
  const src = asObj(status['allocatable']) ?? asObj(status['capacity']) ?? {};
  const out: Allocatable = { milliCpu: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalar: new Map() };
  for (const [name, raw] of Object.entries(src)) {
    const q = tryParseQuantity(raw);
    if (q === undefined) continue;
    switch (name) {
      case 'cpu':
        out.milliCpu = quantityToMillis(q);
        break;
      case 'memory':
        out.memory = quantityValue(q);
        break;
      case 'ephemeral-storage':
        out.ephemeralStorage = quantityValue(q);
        break;
      case 'pods':
        out.pods = quantityValue(q);
        break;
      default:
        out.scalar.set(name, quantityValue(q));
    }
  }
  return out;
}

function parseImages(status: Record<string, unknown>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [img] of objItems(status['images'])) {
    const size = asNum(img['sizeBytes']) ?? 0;
    for (const n of asArr(img['names'])) {
      if (typeof n !== 'string') continue;
      out.set(n, size);
      out.set(normalizedImageName(n), size);
    }
  }
  return out;
}

function portKey(protocol: string, port: number): string {
  return `${protocol}/${port}`;
}

export class NodeInfo {
  name: string;
  /** undefined for a placeholder: pods that name a node the cache has not seen (yet). */
  node: KubeObject | undefined;
  labels: Readonly<Record<string, string>> = {};
  taints: readonly Taint[] = [];
  unschedulable = false;
  allocatable: Allocatable = { milliCpu: 0, memory: 0, ephemeralStorage: 0, pods: 0, scalar: new Map() };
  /** Image name (as listed and normalized) -> size in bytes. */
  images: ReadonlyMap<string, number> = new Map();

  readonly pods = new Map<string, PodInfo>();
  readonly requested: Resources = { milliCpu: 0, memory: 0, ephemeralStorage: 0, scalar: new Map() };
  /** Requests with upstream's defaults for pods that ask nothing (scoring only). */
  nonZeroMilliCpu = 0;
  nonZeroMemory = 0;
  /** "TCP/80" -> host IP -> how many pods use it */
  readonly usedPorts = new Map<string, Map<string, number>>();
  podsWithAffinity = 0;
  podsWithRequiredAntiAffinity = 0;

  constructor(name: string, node?: KubeObject) {
    this.name = name;
    this.node = undefined;
    if (node !== undefined) this.setNode(node);
  }

  setNode(node: KubeObject): void {
    this.node = node;
    const spec = asObj(node.spec) ?? {};
    const status = asObj(node.status) ?? {};
    this.labels = node.metadata.labels ?? {};
    this.taints = parseTaints(spec['taints']);
    this.unschedulable = asBool(spec['unschedulable']) ?? false;
    this.allocatable = parseAllocatable(status);
    this.images = parseImages(status);
  }

  addPod(p: PodInfo): void {
    this.pods.set(p.uid, p);
    this.adjust(p, 1);
  }

  /** Returns false when the pod was not on this node. */
  removePod(uid: string): boolean {
    const p = this.pods.get(uid);
    if (p === undefined) return false;
    this.pods.delete(uid);
    this.adjust(p, -1);
    return true;
  }

  private adjust(p: PodInfo, sign: 1 | -1): void {
    const r = p.requests;
    this.requested.milliCpu += sign * r.milliCpu;
    this.requested.memory += sign * r.memory;
    this.requested.ephemeralStorage += sign * r.ephemeralStorage;
    for (const [k, v] of r.scalar) {
      const next = (this.requested.scalar.get(k) ?? 0) + sign * v;
      if (next === 0) this.requested.scalar.delete(k);
      else this.requested.scalar.set(k, next);
    }
    this.nonZeroMilliCpu += sign * p.nonZeroMilliCpu;
    this.nonZeroMemory += sign * p.nonZeroMemory;
    for (const hp of p.hostPorts) this.adjustPort(hp, sign);
    if (hasPodAffinity(p)) this.podsWithAffinity += sign;
    if (p.requiredAntiAffinity.length > 0) this.podsWithRequiredAntiAffinity += sign;
  }

  private adjustPort(hp: HostPort, sign: 1 | -1): void {
    const key = portKey(hp.protocol, hp.port);
    let ips = this.usedPorts.get(key);
    if (ips === undefined) {
      if (sign < 0) return;
      ips = new Map();
      this.usedPorts.set(key, ips);
    }
    const n = (ips.get(hp.hostIP) ?? 0) + sign;
    if (n <= 0) ips.delete(hp.hostIP);
    else ips.set(hp.hostIP, n);
    if (ips.size === 0) this.usedPorts.delete(key);
  }

  /** upstream HostPortInfo.CheckConflict: same protocol and port, and the same or a wildcard address. */
  portConflicts(hp: HostPort): boolean {
    const ips = this.usedPorts.get(portKey(hp.protocol, hp.port));
    if (ips === undefined) return false;
    if (hp.hostIP === '0.0.0.0') return true;
    return ips.has(hp.hostIP) || ips.has('0.0.0.0');
  }

  /** A copy whose pod set and totals can change independently (preemption dry runs, cache clones). */
  clone(): NodeInfo {
    const c = new NodeInfo(this.name);
    c.node = this.node;
    c.labels = this.labels;
    c.taints = this.taints;
    c.unschedulable = this.unschedulable;
    c.allocatable = this.allocatable;
    c.images = this.images;
    for (const [k, v] of this.pods) c.pods.set(k, v);
    c.requested.milliCpu = this.requested.milliCpu;
    c.requested.memory = this.requested.memory;
    c.requested.ephemeralStorage = this.requested.ephemeralStorage;
    for (const [k, v] of this.requested.scalar) c.requested.scalar.set(k, v);
    c.nonZeroMilliCpu = this.nonZeroMilliCpu;
    c.nonZeroMemory = this.nonZeroMemory;
    for (const [k, ips] of this.usedPorts) c.usedPorts.set(k, new Map(ips));
    c.podsWithAffinity = this.podsWithAffinity;
    c.podsWithRequiredAntiAffinity = this.podsWithRequiredAntiAffinity;
    return c;
  }
}
