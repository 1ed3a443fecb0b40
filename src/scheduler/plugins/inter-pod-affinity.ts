// InterPodAffinity: required pod affinity / anti-affinity of the incoming pod, and existing pods'
// required anti-affinity against it (symmetry), as Filter; preferred terms of both sides (and
// existing pods' required affinity, weight 1) as Score.
//
// PreFilter turns every term into counts per topology domain (topologyKey -> value -> pods), using
// the cache's pod groups (pods sharing namespace and labels), so Filter is a few map lookups per
// node instead of a scan of the node's pods.

import type { CycleState, StateData } from '../framework/cycle-state.js';
import type { NodeInfo } from '../framework/node-info.js';
import { termMatchesPod, type AffinityTerm, type PodInfo } from '../framework/pod-info.js';
import {
  MaxNodeScore,
  unresolvable,
  unschedulable,
  type AffinityGroup,
  type ClusterView,
  type FilterPlugin,
  type PreFilterPlugin,
  type ScorePlugin,
} from '../framework/types.js';

export const InterPodAffinityName = 'InterPodAffinity';
export const ErrReasonExistingAntiAffinityRulesNotMatch =
  "node(s) didn't satisfy existing pods anti-affinity rules";
export const ErrReasonAffinityRulesNotMatch = "node(s) didn't match pod affinity rules";
export const ErrReasonAntiAffinityRulesNotMatch = "node(s) didn't match pod anti-affinity rules";

/** Weight of an existing pod's required affinity term when scoring (upstream hardPodAffinityWeight). */
const hardPodAffinityWeight = 1;

type DomainCounts = Map<string, Map<string, number>>;

function bump(m: DomainCounts, key: string, value: string, delta: number): void {
  let values = m.get(key);
  if (values === undefined) {
    if (delta === 0) return;
    values = new Map();
    m.set(key, values);
  }
  const n = (values.get(value) ?? 0) + delta;
  if (n === 0) values.delete(value);
  else values.set(value, n);
  if (values.size === 0) m.delete(key);
}

function count(m: DomainCounts, key: string, value: string): number {
  return m.get(key)?.get(value) ?? 0;
}

function cloneCounts(m: DomainCounts): DomainCounts {
  const out: DomainCounts = new Map();
  for (const [k, v] of m) out.set(k, new Map(v));
  return out;
}

class FilterState implements StateData {
  constructor(
    /** existing pods' required anti-affinity terms that select the incoming pod */
    readonly existingAnti: DomainCounts,
    /** pods matching all of the incoming pod's required affinity terms, per term's domain */
    readonly affinity: DomainCounts,
    /** pods matching each of the incoming pod's required anti-affinity terms */
    readonly anti: DomainCounts,
    /** the incoming pod matches its own affinity terms (first pod of a self-affine group) */
    readonly selfAffine: boolean,
  ) {}
  clone(): FilterState {
    return new FilterState(
      cloneCounts(this.existingAnti),
      cloneCounts(this.affinity),
      cloneCounts(this.anti),
      this.selfAffine,
    );
  }
}

const filterKey = 'InterPodAffinity/filter';
const scoreKey = 'InterPodAffinity/score';

function matchesAllTerms(
  terms: readonly AffinityTerm[],
  p: { namespace: string; labels: Readonly<Record<string, string>> },
  nsLabels: (ns: string) => Readonly<Record<string, string>> | undefined,
): boolean {
  if (terms.length === 0) return false;
  for (const t of terms) if (!termMatchesPod(t, p, nsLabels)) return false;
  return true;
}

/** Adds `weight * pods` to each term's domain for every pod group the term selects. */
function addGroupCounts(
  cluster: ClusterView,
  group: { byNode: ReadonlyMap<string, number> },
  term: AffinityTerm,
  weight: number,
  into: DomainCounts,
): void {
  for (const [nodeName, n] of group.byNode) {
    const node = cluster.getNodeInfo(nodeName);
    if (node === undefined) continue;
    const v = node.labels[term.topologyKey];
    if (v !== undefined) bump(into, term.topologyKey, v, weight * n);
  }
}

/** Adjusts the filter counts for one pod appearing (+1) or leaving (-1) `node`. */
function updateWithPod(
  s: FilterState,
  pod: PodInfo,
  other: PodInfo,
  node: NodeInfo,
  cluster: ClusterView,
  sign: 1 | -1,
): void {
  const ns = (n: string) => cluster.namespaceLabels(n);
  for (const term of other.requiredAntiAffinity) {
    const v = node.labels[term.topologyKey];
    if (v !== undefined && termMatchesPod(term, pod, ns)) bump(s.existingAnti, term.topologyKey, v, sign);
  }
  if (matchesAllTerms(pod.requiredAffinity, other, ns)) {
    for (const term of pod.requiredAffinity) {
      const v = node.labels[term.topologyKey];
      if (v !== undefined) bump(s.affinity, term.topologyKey, v, sign);
    }
  }
  for (const term of pod.requiredAntiAffinity) {
    const v = node.labels[term.topologyKey];
    if (v !== undefined && termMatchesPod(term, other, ns)) bump(s.anti, term.topologyKey, v, sign);
  }
}

function preFilter(state: CycleState, pod: PodInfo, cluster: ClusterView): 'Success' | 'Skip' {
  const ns = (n: string) => cluster.namespaceLabels(n);
  const existingAnti: DomainCounts = new Map();
  for (const group of cluster.antiAffinityGroups()) {
    for (const term of group.representative.requiredAntiAffinity) {
      if (termMatchesPod(term, pod, ns)) addGroupCounts(cluster, group, term, 1, existingAnti);
    }
  }
  if (pod.requiredAffinity.length === 0 && pod.requiredAntiAffinity.length === 0 && existingAnti.size === 0)
    return 'Skip';
  const affinity: DomainCounts = new Map();
  const anti: DomainCounts = new Map();
  if (pod.requiredAffinity.length > 0 || pod.requiredAntiAffinity.length > 0) {
    for (const group of cluster.podGroups()) {
      if (matchesAllTerms(pod.requiredAffinity, group, ns)) {
        for (const term of pod.requiredAffinity) addGroupCounts(cluster, group, term, 1, affinity);
      }
      for (const term of pod.requiredAntiAffinity) {
        if (termMatchesPod(term, group, ns)) addGroupCounts(cluster, group, term, 1, anti);
      }
    }
  }
  const selfAffine = matchesAllTerms(pod.requiredAffinity, pod, ns);
  state.write(filterKey, new FilterState(existingAnti, affinity, anti, selfAffine));
  return 'Success';
}

const existingAntiFailure = unschedulable(InterPodAffinityName, ErrReasonExistingAntiAffinityRulesNotMatch);
const antiFailure = unschedulable(InterPodAffinityName, ErrReasonAntiAffinityRulesNotMatch);
const affinityFailure = unresolvable(InterPodAffinityName, ErrReasonAffinityRulesNotMatch);

function filter(state: CycleState, pod: PodInfo, node: NodeInfo) {
  const s = state.read<FilterState>(filterKey);
  if (s === undefined) return null;
  if (s.existingAnti.size > 0) {
    for (const [key, values] of s.existingAnti) {
      const v = node.labels[key];
      if (v !== undefined && (values.get(v) ?? 0) > 0) return existingAntiFailure;
    }
  }
  for (const term of pod.requiredAntiAffinity) {
    const v = node.labels[term.topologyKey];
    if (v !== undefined && count(s.anti, term.topologyKey, v) > 0) return antiFailure;
  }
  if (pod.requiredAffinity.length > 0) {
    let podsExist = true;
    for (const term of pod.requiredAffinity) {
      const v = node.labels[term.topologyKey];
      // Every topology key of the terms must be on the node.
      if (v === undefined) return affinityFailure;
      if (count(s.affinity, term.topologyKey, v) <= 0) podsExist = false;
    }
    // The first pod of a group that wants to be with itself may go anywhere with the keys.
    if (!podsExist && !(s.affinity.size === 0 && s.selfAffine)) return affinityFailure;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Score

/** Adds each term's weight (times pods) to its domains when the term selects `target`. */
function scoreTerms(
  cluster: ClusterView,
  group: AffinityGroup,
  terms: readonly (AffinityTerm & { weight?: number })[],
  fixedWeight: number | undefined,
  sign: 1 | -1,
  target: PodInfo,
  into: DomainCounts,
): void {
  const ns = (n: string) => cluster.namespaceLabels(n);
  for (const term of terms) {
    if (!termMatchesPod(term, target, ns)) continue;
    addGroupCounts(cluster, group, term, sign * (fixedWeight ?? term.weight ?? 0), into);
  }
}

function preScore(
  state: CycleState,
  pod: PodInfo,
  _nodes: readonly NodeInfo[],
  cluster: ClusterView,
): 'Skip' | void {
  const ns = (n: string) => cluster.namespaceLabels(n);
  const hasPreferred = pod.preferredAffinity.length > 0 || pod.preferredAntiAffinity.length > 0;
  const scores: DomainCounts = new Map();
  let existingWithAffinity = false;
  for (const group of cluster.affinityGroups()) {
    existingWithAffinity = true;
    const other = group.representative;
    scoreTerms(cluster, group, other.requiredAffinity, hardPodAffinityWeight, 1, pod, scores);
    scoreTerms(cluster, group, other.preferredAffinity, undefined, 1, pod, scores);
    scoreTerms(cluster, group, other.preferredAntiAffinity, undefined, -1, pod, scores);
  }
  if (!hasPreferred && !existingWithAffinity) return 'Skip';
  if (hasPreferred) {
    for (const group of cluster.podGroups()) {
      for (const term of pod.preferredAffinity) {
        if (termMatchesPod(term, group, ns)) addGroupCounts(cluster, group, term, term.weight, scores);
      }
      for (const term of pod.preferredAntiAffinity) {
        if (termMatchesPod(term, group, ns)) addGroupCounts(cluster, group, term, -term.weight, scores);
      }
    }
  }
  if (scores.size === 0) return 'Skip';
  state.write(scoreKey, scores);
}

function score(state: CycleState, _pod: PodInfo, node: NodeInfo): number {
  const scores = state.read<DomainCounts>(scoreKey);
  if (scores === undefined) return 0;
  let total = 0;
  for (const [key, values] of scores) {
    const v = node.labels[key];
    if (v !== undefined) total += values.get(v) ?? 0;
  }
  return total;
}

/** Min-max scaling: scores may be negative (anti-affinity). */
function normalizeScore(
  _state: CycleState,
  _pod: PodInfo,
  _nodes: readonly NodeInfo[],
  scores: Float64Array,
): void {
  let min = Infinity;
  let max = -Infinity;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  const diff = max - min;
  for (let i = 0; i < scores.length; i++) {
    scores[i] = diff > 0 ? Math.trunc((MaxNodeScore * ((scores[i] ?? 0) - min)) / diff) : 0;
  }
}

export function interPodAffinity(): PreFilterPlugin & FilterPlugin & ScorePlugin {
  return {
    name: InterPodAffinityName,
    preFilter,
    filter,
    preFilterExtensions: {
      addPod(state, pod, podToAdd, node, cluster) {
        const s = state.read<FilterState>(filterKey);
        if (s !== undefined) updateWithPod(s, pod, podToAdd, node, cluster, 1);
      },
      removePod(state, pod, podToRemove, node, cluster) {
        const s = state.read<FilterState>(filterKey);
        if (s !== undefined) updateWithPod(s, pod, podToRemove, node, cluster, -1);
      },
    },
    preScore,
    score,
    normalizeScore,
  };
}
