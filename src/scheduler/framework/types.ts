// The scheduling framework's extension points, after kube-scheduler's framework/interface.go:
// each phase is a tiny interface and "does not fit" is a value, never an exception. Everything
// here is pure: plugins read a ClusterView (the cache) and the pod, and write only to the
// per-attempt CycleState.

import type { KubeObject } from '../../api/types.js';
import type { CycleState } from './cycle-state.js';
import type { NodeInfo } from './node-info.js';
import type { PodInfo } from './pod-info.js';

export type { CycleState } from './cycle-state.js';
export type { NodeInfo } from './node-info.js';
export type { PodInfo } from './pod-info.js';

/** Scores are 0..MaxNodeScore after NormalizeScore, before weights. */
export const MaxNodeScore = 100;

/**
 * Why a node (or, from PreFilter, every node) cannot take the pod. `Unschedulable` failures may
 * go away when lower-priority pods are evicted (preemption); `UnschedulableAndUnresolvable` ones
 * cannot (node name, affinity, taints...).
 */
export interface FilterFailure {
  readonly code: 'Unschedulable' | 'UnschedulableAndUnresolvable';
  readonly reasons: readonly string[];
  readonly plugin: string;
}

export function unschedulable(plugin: string, ...reasons: string[]): FilterFailure {
  return { code: 'Unschedulable', reasons, plugin };
}

export function unresolvable(plugin: string, ...reasons: string[]): FilterFailure {
  return { code: 'UnschedulableAndUnresolvable', reasons, plugin };
}

/** PreFilter answers: go on, skip this plugin's Filter for this pod, or reject the pod everywhere. */
export type PreFilterOutcome = 'Success' | 'Skip' | FilterFailure;

/** A group of pods that share namespace, labels and deletion state, counted per node. */
export interface PodGroup {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly deleting: boolean;
  /** node name -> number of pods of the group on it */
  readonly byNode: ReadonlyMap<string, number>;
}

/** Pods that share namespace and pod (anti-)affinity terms (replicas of one template), per node. */
export interface AffinityGroup {
  /** One of the pods: its terms stand for the group's. */
  readonly representative: PodInfo;
  /** node name -> number of pods of the group on it */
  readonly byNode: ReadonlyMap<string, number>;
}

/** What plugins may read of the cluster: the scheduler cache implements it. */
export interface ClusterView {
  /** Real nodes (known Node objects), in a stable order. */
  nodeInfos(): readonly NodeInfo[];
  /** A real node by name (undefined for unknown nodes or pods' placeholders). */
  getNodeInfo(name: string): NodeInfo | undefined;
  /** Every pod on a node, grouped by (namespace, labels, deleting): selectors are evaluated per group. */
  podGroups(): Iterable<PodGroup>;
  /** Pods on nodes with any pod affinity or anti-affinity, grouped by namespace and terms. */
  affinityGroups(): Iterable<AffinityGroup>;
  /** The affinity groups whose pods have required anti-affinity terms. */
  antiAffinityGroups(): Iterable<AffinityGroup>;
  /** Labels of a namespace when known (for namespaceSelector), undefined otherwise. */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
  /** On how many nodes an image (by any of its names) is present. */
  imageNodeCount(image: string): number;
  /** How many real nodes carry label `key`. */
  nodesWithLabel(key: string): number;
  /** The values real nodes have for label `key`, each with its number of nodes. */
  labelValues(key: string): ReadonlyMap<string, number>;
}

export interface Plugin {
  readonly name: string;
}

export interface PreFilterPlugin extends Plugin {
  preFilter(state: CycleState, pod: PodInfo, cluster: ClusterView): PreFilterOutcome;
}

/**
 * Lets preemption simulate removing (and re-adding) pods on a node without recomputing PreFilter:
 * the plugin adjusts its PreFilter state in `state`.
 */
export interface PreFilterExtensions {
  addPod(state: CycleState, pod: PodInfo, podToAdd: PodInfo, node: NodeInfo, cluster: ClusterView): void;
  removePod(
    state: CycleState,
    pod: PodInfo,
    podToRemove: PodInfo,
    node: NodeInfo,
    cluster: ClusterView,
  ): void;
}

export interface FilterPlugin extends Plugin {
  /** null when the node fits. Must be O(1)-ish: it runs for every node looked at. */
  filter(state: CycleState, pod: PodInfo, node: NodeInfo): FilterFailure | null;
  preFilterExtensions?: PreFilterExtensions;
}

export interface ScorePlugin extends Plugin {
  /** Per-pod precomputation over the feasible nodes; 'Skip' leaves every score at 0. */
  preScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], cluster: ClusterView): 'Skip' | void;
  /** The raw score of one node. */
  score(state: CycleState, pod: PodInfo, node: NodeInfo, cluster: ClusterView): number;
  /** Rescales raw scores in place to 0..MaxNodeScore (omit when score already is). */
  normalizeScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], scores: Float64Array): void;
}

export type AnyPlugin = Partial<PreFilterPlugin & FilterPlugin & ScorePlugin> & Plugin;

export function isPreFilter(p: AnyPlugin): p is AnyPlugin & PreFilterPlugin {
  return typeof p.preFilter === 'function';
}
export function isFilter(p: AnyPlugin): p is AnyPlugin & FilterPlugin {
  return typeof p.filter === 'function';
}
export function isScore(p: AnyPlugin): p is AnyPlugin & ScorePlugin {
  return typeof p.score === 'function';
}

/** A pod with its node, as preemption reports victims. */
export interface Victim {
  pod: KubeObject;
  nodeName: string;
}
