// The scheduler's incremental view of the cluster: nodes with running request totals, every pod
// that sits on a node (bound or assumed), pods grouped by (namespace, labels) for affinity and
// spreading, and a few indexes (image spread, node label values). Pure: fed by the shell's
// informers, read by schedulePod.

import type { KubeObject } from '../api/types.js';
import { asObj, asStr } from '../api/validation/access.js';
import { NodeInfo } from './framework/node-info.js';
import { hasPodAffinity, newPodInfo, withNodeName, type PodInfo } from './framework/pod-info.js';
import type { AffinityGroup, ClusterView, PodGroup } from './framework/types.js';

interface CachedPod {
  info: PodInfo;
  assumed: boolean;
}

class Group implements PodGroup {
  readonly byNode = new Map<string, number>();
  size = 0;
  constructor(
    readonly namespace: string,
    readonly labels: Readonly<Record<string, string>>,
    readonly deleting: boolean,
  ) {}
}

class TermGroup implements AffinityGroup {
  readonly byNode = new Map<string, number>();
  size = 0;
  constructor(public representative: PodInfo) {}
}

function termGroupKey(p: PodInfo): string {
  const a = asObj(p.spec['affinity']) ?? {};
  return `${p.namespace}\u0000${JSON.stringify(a['podAffinity'] ?? null)}\u0000${JSON.stringify(a['podAntiAffinity'] ?? null)}`;
}

function bumpNode(byNode: Map<string, number>, nodeName: string, delta: number): void {
  const n = (byNode.get(nodeName) ?? 0) + delta;
  if (n <= 0) byNode.delete(nodeName);
  else byNode.set(nodeName, n);
}

function groupKey(p: PodInfo): string {
  const keys = Object.keys(p.labels).sort();
  let s = `${p.namespace}\u0000${p.deleting ? '1' : '0'}`;
  for (const k of keys) s += `\u0000${k}=${p.labels[k] ?? ''}`;
  return s;
}

function isTerminal(pod: KubeObject): boolean {
  const phase = asStr(asObj(pod.status)?.['phase']);
  return phase === 'Succeeded' || phase === 'Failed';
}

function assignedNode(pod: KubeObject): string {
  return asStr(asObj(pod.spec)?.['nodeName']) ?? '';
}

function uidOf(pod: KubeObject): string {
  return pod.metadata.uid ?? `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
}

export class SchedulerCache implements ClusterView {
  /** Real nodes and placeholders for nodes that pods name but the cache has not seen. */
  private readonly infos = new Map<string, NodeInfo>();
  /** Real nodes in a stable order (the order the feasible-node search rotates through). */
  private nodeList: NodeInfo[] = [];
  private readonly podsByUid = new Map<string, CachedPod>();
  private readonly groups = new Map<string, Group>();
  private readonly termGroups = new Map<string, TermGroup>();
  private readonly antiTermGroups = new Map<string, TermGroup>();
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();
  private readonly imageCounts = new Map<string, number>();
  private readonly labelIndex = new Map<string, Map<string, number>>();
  private readonly labelNodeCounts = new Map<string, number>();
  /**
   * Where the next feasible-node search starts (upstream nextStartNodeIndex), so consecutive pods
   * look at different nodes first when percentageOfNodesToScore stops the search early. This is
   * search bookkeeping, not cluster state.
   */
  nextStartNodeIndex = 0;

  // -------------------------------------------------------------------------------------------
  // Nodes

  upsertNode(node: KubeObject): void {
    const name = node.metadata.name ?? '';
    if (name === '') return;
    let info = this.infos.get(name);
    if (info === undefined) {
      info = new NodeInfo(name, node);
      this.infos.set(name, info);
      this.nodeList.push(info);
      this.indexNode(info, 1);
      return;
    }
    const wasReal = info.node !== undefined;
    if (wasReal) this.indexNode(info, -1);
    info.setNode(node);
    if (!wasReal) this.nodeList.push(info);
    this.indexNode(info, 1);
  }

  removeNode(name: string): void {
    const info = this.infos.get(name);
    if (info === undefined || info.node === undefined) return;
    this.indexNode(info, -1);
    this.nodeList = this.nodeList.filter((n) => n !== info);
    if (info.pods.size === 0) this.infos.delete(name);
    else info.node = undefined; // pods still count until they are removed (upstream keeps a ghost)
  }

  private indexNode(info: NodeInfo, sign: 1 | -1): void {
    for (const img of info.images.keys()) {
      this.imageCounts.set(img, (this.imageCounts.get(img) ?? 0) + sign);
      if ((this.imageCounts.get(img) ?? 0) <= 0) this.imageCounts.delete(img);
    }
    for (const [k, v] of Object.entries(info.labels)) {
      let values = this.labelIndex.get(k);
      if (values === undefined) {
        values = new Map();
        this.labelIndex.set(k, values);
      }
      const n = (values.get(v) ?? 0) + sign;
      if (n <= 0) values.delete(v);
      else values.set(v, n);
      if (values.size === 0) this.labelIndex.delete(k);
      const total = (this.labelNodeCounts.get(k) ?? 0) + sign;
      if (total <= 0) this.labelNodeCounts.delete(k);
      else this.labelNodeCounts.set(k, total);
    }
  }

  nodeCount(): number {
    return this.nodeList.length;
  }

  nodeNames(): string[] {
    return this.nodeList.map((n) => n.name);
  }

  // -------------------------------------------------------------------------------------------
  // Namespaces (optional: only needed for pod affinity terms with a non-empty namespaceSelector)

  upsertNamespace(ns: KubeObject): void {
    const name = ns.metadata.name;
    if (name !== undefined) this.namespaces.set(name, ns.metadata.labels ?? {});
  }

  removeNamespace(name: string): void {
    this.namespaces.delete(name);
  }

  // -------------------------------------------------------------------------------------------
  // Pods

  /** A pod with spec.nodeName set. Terminal pods (Succeeded/Failed) are removed; pods without a node ignored. */
  upsertPod(pod: KubeObject): void {
    if (isTerminal(pod)) {
      this.removePod(pod);
      return;
    }
    const nodeName = assignedNode(pod);
    if (nodeName === '') return;
    this.removeByUid(uidOf(pod));
    this.add(newPodInfo(pod, nodeName), false);
  }

  removePod(pod: KubeObject): void {
    this.removeByUid(uidOf(pod));
  }

  assume(pod: KubeObject, nodeName: string): void {
    this.removeByUid(uidOf(pod));
    this.add(newPodInfo(pod, nodeName), true);
  }

  forget(pod: KubeObject): void {
    const cached = this.podsByUid.get(uidOf(pod));
    if (cached?.assumed === true) this.removeByUid(cached.info.uid);
  }

  /** Is the pod in the cache only because it was assumed (bind not yet confirmed)? */
  isAssumed(pod: KubeObject): boolean {
    return this.podsByUid.get(uidOf(pod))?.assumed === true;
  }

  /** The node the cache has the pod on, if any. */
  podNode(pod: KubeObject): string | undefined {
    return this.podsByUid.get(uidOf(pod))?.info.nodeName;
  }

  private add(info: PodInfo, assumed: boolean): void {
    this.podsByUid.set(info.uid, { info, assumed });
    let node = this.infos.get(info.nodeName);
    if (node === undefined) {
      node = new NodeInfo(info.nodeName);
      this.infos.set(info.nodeName, node);
    }
    node.addPod(info);
    const key = groupKey(info);
    let g = this.groups.get(key);
    if (g === undefined) {
      g = new Group(info.namespace, info.labels, info.deleting);
      this.groups.set(key, g);
    }
    bumpNode(g.byNode, info.nodeName, 1);
    g.size++;
    if (hasPodAffinity(info)) {
      const tk = termGroupKey(info);
      let tg = this.termGroups.get(tk);
      if (tg === undefined) {
        tg = new TermGroup(info);
        this.termGroups.set(tk, tg);
        if (info.requiredAntiAffinity.length > 0) this.antiTermGroups.set(tk, tg);
      }
      bumpNode(tg.byNode, info.nodeName, 1);
      tg.size++;
    }
  }

  private removeByUid(uid: string): void {
    const cached = this.podsByUid.get(uid);
    if (cached === undefined) return;
    const info = cached.info;
    this.podsByUid.delete(uid);
    const node = this.infos.get(info.nodeName);
    if (node !== undefined) {
      node.removePod(uid);
      if (node.node === undefined && node.pods.size === 0) this.infos.delete(info.nodeName);
    }
    const key = groupKey(info);
    const g = this.groups.get(key);
    if (g !== undefined) {
      bumpNode(g.byNode, info.nodeName, -1);
      g.size--;
      if (g.size <= 0) this.groups.delete(key);
    }
    if (hasPodAffinity(info)) {
      const tk = termGroupKey(info);
      const tg = this.termGroups.get(tk);
      if (tg !== undefined) {
        bumpNode(tg.byNode, info.nodeName, -1);
        tg.size--;
        if (tg.size <= 0) {
          this.termGroups.delete(tk);
          this.antiTermGroups.delete(tk);
        }
      }
    }
  }

  /** Every pod the cache holds, with its node (bound and assumed). */
  pods(): PodInfo[] {
    return [...this.podsByUid.values()].map((c) => c.info);
  }

  // -------------------------------------------------------------------------------------------
  // ClusterView

  nodeInfos(): readonly NodeInfo[] {
    return this.nodeList;
  }

  getNodeInfo(name: string): NodeInfo | undefined {
    const info = this.infos.get(name);
    return info?.node === undefined ? undefined : info;
  }

  podGroups(): Iterable<PodGroup> {
    return this.groups.values();
  }

  affinityGroups(): Iterable<AffinityGroup> {
    return this.termGroups.values();
  }

  antiAffinityGroups(): Iterable<AffinityGroup> {
    return this.antiTermGroups.values();
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(namespace);
  }

  imageNodeCount(image: string): number {
    return this.imageCounts.get(image) ?? 0;
  }

  nodesWithLabel(key: string): number {
    return this.labelNodeCounts.get(key) ?? 0;
  }

  labelValues(key: string): ReadonlyMap<string, number> {
    return this.labelIndex.get(key) ?? emptyMap;
  }

  // -------------------------------------------------------------------------------------------

  /** A copy whose changes (assume, upserts) do not affect this cache: dry runs (`flotilla plan`). */
  clone(): SchedulerCache {
    const c = new SchedulerCache();
    for (const info of this.nodeList) c.upsertNode(info.node as KubeObject);
    for (const [name, labels] of this.namespaces) c.namespaces.set(name, labels);
    for (const { info, assumed } of this.podsByUid.values())
      c.add(withNodeName(info, info.nodeName), assumed);
    c.nextStartNodeIndex = this.nextStartNodeIndex;
    return c;
  }
}

const emptyMap: ReadonlyMap<string, number> = new Map();
