// PodTopologySpread: spread matching pods evenly over topology domains. DoNotSchedule constraints
// filter (skew = pods in the node's domain + 1 - fewest in any domain must stay <= maxSkew);
// ScheduleAnyway constraints score (fewer matching pods in the domain is better).
//
// Counts are per domain, built per pod in PreFilter/PreScore from the cache's pod groups; the
// domains are those of eligible nodes (with every constraint's key, matching the pod's node
// affinity when nodeAffinityPolicy is Honor (default), tolerated when nodeTaintsPolicy is Honor).
// Not done: system default constraints for pods without any (upstream derives them from Services
// and ReplicaSets).

import { asArr, asNum, asStr, objItems } from '../../api/validation/access.js';
import type { StateData } from '../framework/cycle-state.js';
import {
  compileLabelSelector,
  firstUntoleratedHardTaint,
  withMatchLabelKeys,
  type LabelMatcher,
} from '../framework/match.js';
import type { NodeInfo } from '../framework/node-info.js';
import type { PodInfo } from '../framework/pod-info.js';
import {
  MaxNodeScore,
  unresolvable,
  unschedulable,
  type ClusterView,
  type FilterPlugin,
  type PreFilterPlugin,
  type ScorePlugin,
} from '../framework/types.js';
import { podMatchesNodeSelectorAndAffinity } from './node-affinity.js';

export const PodTopologySpreadName = 'PodTopologySpread';
export const ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints";
export const ErrReasonNodeLabelNotMatch = `${ErrReasonConstraintsNotMatch} (missing required label)`;

const hostnameKey = 'kubernetes.io/hostname';

export interface SpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  selector: LabelMatcher;
  minDomains: number;
  honorNodeAffinity: boolean;
  honorTaints: boolean;
}

/** The pod's constraints with the given whenUnsatisfiable. */
export function spreadConstraints(
  pod: PodInfo,
  action: 'DoNotSchedule' | 'ScheduleAnyway',
): SpreadConstraint[] {
  const out: SpreadConstraint[] = [];
  for (const [c] of objItems(pod.spec['topologySpreadConstraints'])) {
    if ((asStr(c['whenUnsatisfiable']) ?? 'DoNotSchedule') !== action) continue;
    const keys = asArr(c['matchLabelKeys']).filter((k): k is string => typeof k === 'string');
    out.push({
      maxSkew: asNum(c['maxSkew']) ?? 1,
      topologyKey: asStr(c['topologyKey']) ?? '',
      selector: withMatchLabelKeys(compileLabelSelector(c['labelSelector']), keys, pod.labels),
      minDomains: asNum(c['minDomains']) ?? 1,
      honorNodeAffinity: (asStr(c['nodeAffinityPolicy']) ?? 'Honor') === 'Honor',
      honorTaints: (asStr(c['nodeTaintsPolicy']) ?? 'Ignore') === 'Honor',
    });
  }
  return out;
}

function hasAllKeys(node: NodeInfo, constraints: readonly SpreadConstraint[]): boolean {
  for (const c of constraints) if (node.labels[c.topologyKey] === undefined) return false;
  return true;
}

/** Does the node's domain count for constraint `c` (inclusion policies)? */
function includes(c: SpreadConstraint, pod: PodInfo, node: NodeInfo): boolean {
  if (c.honorNodeAffinity && !podMatchesNodeSelectorAndAffinity(pod, node)) return false;
  if (c.honorTaints && firstUntoleratedHardTaint(node.taints, pod.tolerations) !== undefined) return false;
  return true;
}

/**
 * Counts matching pods per domain for each constraint. Domains with no pods are present with 0
 * when `allDomains`; otherwise only values already in `counts` are counted (PreScore restricts
 * them to the feasible nodes' domains).
 */
function countPods(
  pod: PodInfo,
  constraints: readonly SpreadConstraint[],
  cluster: ClusterView,
  counts: Map<string, number>[],
  allDomains: boolean,
): void {
  // Fast path: when every node is eligible for every constraint, domains come from the cache's
  // label index and eligibility needs no per-node check.
  const total = cluster.nodeInfos().length;
  const trivial =
    constraints.every(
      (c) =>
        !c.honorTaints &&
        (!c.honorNodeAffinity || (pod.nodeSelector === undefined && pod.requiredNodeAffinity === undefined)),
    ) && constraints.every((c) => cluster.nodesWithLabel(c.topologyKey) === total);
  let eligible: Set<string>[] | undefined;
  if (allDomains) {
    if (trivial) {
      constraints.forEach((c, i) => {
        for (const v of cluster.labelValues(c.topologyKey).keys()) counts[i]?.set(v, 0);
      });
    } else {
      eligible = constraints.map(() => new Set<string>());
      for (const node of cluster.nodeInfos()) {
        if (!hasAllKeys(node, constraints)) continue;
        constraints.forEach((c, i) => {
          if (!includes(c, pod, node)) return;
          eligible?.[i]?.add(node.name);
          const v = node.labels[c.topologyKey] ?? '';
          const m = counts[i];
          if (m !== undefined && !m.has(v)) m.set(v, 0);
        });
      }
    }
  }
  for (const group of cluster.podGroups()) {
    if (group.deleting || group.namespace !== pod.namespace) continue;
    constraints.forEach((c, i) => {
      if (!c.selector(group.labels)) return;
      const m = counts[i];
      if (m === undefined) return;
      for (const [nodeName, n] of group.byNode) {
        const node = cluster.getNodeInfo(nodeName);
        if (node === undefined) continue;
        if (eligible !== undefined) {
          if (!eligible[i]?.has(nodeName)) continue;
        } else if (!trivial && (!hasAllKeys(node, constraints) || !includes(c, pod, node))) continue;
        const v = node.labels[c.topologyKey];
        if (v === undefined) continue;
        const cur = m.get(v);
        if (cur !== undefined) m.set(v, cur + n);
        else if (allDomains) m.set(v, n);
      }
    });
  }
}

class FilterState implements StateData {
  private mins: number[] | undefined;
  constructor(
    readonly constraints: SpreadConstraint[],
    readonly counts: Map<string, number>[],
    readonly selfMatch: number[],
  ) {}
  /** Fewest matching pods in any eligible domain (0 while there are fewer domains than minDomains). */
  min(i: number): number {
    if (this.mins === undefined) {
      this.mins = this.constraints.map((c, j) => {
        const m = this.counts[j];
        if (m === undefined || m.size < c.minDomains) return 0;
        let low = Infinity;
        for (const v of m.values()) if (v < low) low = v;
        return low === Infinity ? 0 : low;
      });
    }
    return this.mins[i] ?? 0;
  }
  update(pod: PodInfo, other: PodInfo, node: NodeInfo, sign: 1 | -1): void {
    if (other.namespace !== pod.namespace || other.deleting || !hasAllKeys(node, this.constraints)) return;
    this.constraints.forEach((c, i) => {
      if (!includes(c, pod, node) || !c.selector(other.labels)) return;
      const v = node.labels[c.topologyKey] ?? '';
      const m = this.counts[i];
      if (m === undefined) return;
      m.set(v, (m.get(v) ?? 0) + sign);
    });
    this.mins = undefined;
  }
  clone(): FilterState {
    return new FilterState(
      this.constraints,
      this.counts.map((m) => new Map(m)),
      this.selfMatch,
    );
  }
}

const filterKey = 'PodTopologySpread/filter';
const scoreKey = 'PodTopologySpread/score';

const missingLabel = unresolvable(PodTopologySpreadName, ErrReasonNodeLabelNotMatch);
const skewFailure = unschedulable(PodTopologySpreadName, ErrReasonConstraintsNotMatch);

interface ScoreState {
  constraints: SpreadConstraint[];
  counts: Map<string, number>[];
  weights: number[];
  ignored: Set<string>;
}

export function podTopologySpread(): PreFilterPlugin & FilterPlugin & ScorePlugin {
  return {
    name: PodTopologySpreadName,
    preFilter(state, pod, cluster) {
      const constraints = spreadConstraints(pod, 'DoNotSchedule');
      if (constraints.length === 0) return 'Skip';
      const counts = constraints.map(() => new Map<string, number>());
      countPods(pod, constraints, cluster, counts, true);
      const selfMatch = constraints.map((c) => (c.selector(pod.labels) ? 1 : 0));
      state.write(filterKey, new FilterState(constraints, counts, selfMatch));
      return 'Success';
    },
    filter(state, _pod, node) {
      const s = state.read<FilterState>(filterKey);
      if (s === undefined) return null;
      const cs = s.constraints;
      for (let i = 0; i < cs.length; i++) {
        const c = cs[i];
        if (c === undefined) continue;
        const v = node.labels[c.topologyKey];
        if (v === undefined) return missingLabel;
        const matched = s.counts[i]?.get(v) ?? 0;
        if (matched + (s.selfMatch[i] ?? 0) - s.min(i) > c.maxSkew) return skewFailure;
      }
      return null;
    },
    preFilterExtensions: {
      addPod(state, pod, podToAdd, node) {
        state.read<FilterState>(filterKey)?.update(pod, podToAdd, node, 1);
      },
      removePod(state, pod, podToRemove, node) {
        state.read<FilterState>(filterKey)?.update(pod, podToRemove, node, -1);
      },
    },
    preScore(state, pod, nodes, cluster) {
      const constraints = spreadConstraints(pod, 'ScheduleAnyway');
      if (constraints.length === 0) return 'Skip';
      const ignored = new Set<string>();
      const counts = constraints.map(() => new Map<string, number>());
      for (const node of nodes) {
        if (!hasAllKeys(node, constraints)) {
          ignored.add(node.name);
          continue;
        }
        constraints.forEach((c, i) => counts[i]?.set(node.labels[c.topologyKey] ?? '', 0));
      }
      const weights = constraints.map((c, i) =>
        Math.log((c.topologyKey === hostnameKey ? nodes.length - ignored.size : (counts[i]?.size ?? 0)) + 2),
      );
      countPods(pod, constraints, cluster, counts, false);
      const s: ScoreState = { constraints, counts, weights, ignored };
      state.write(scoreKey, s);
    },
    score(state, _pod, node) {
      const s = state.read<ScoreState>(scoreKey);
      if (s === undefined || s.ignored.has(node.name)) return 0;
      let total = 0;
      s.constraints.forEach((c, i) => {
        const v = node.labels[c.topologyKey];
        if (v === undefined) return;
        total += (s.counts[i]?.get(v) ?? 0) * (s.weights[i] ?? 0) + (c.maxSkew - 1);
      });
      return Math.round(total);
    },
    normalizeScore(state, _pod, nodes, scores) {
      const s = state.read<ScoreState>(scoreKey);
      if (s === undefined) return;
      let min = Infinity;
      let max = 0;
      nodes.forEach((n, i) => {
        if (s.ignored.has(n.name)) return;
        const v = scores[i] ?? 0;
        if (v < min) min = v;
        if (v > max) max = v;
      });
      nodes.forEach((n, i) => {
        if (s.ignored.has(n.name)) scores[i] = 0;
        else if (max === 0) scores[i] = MaxNodeScore;
        else scores[i] = Math.trunc((MaxNodeScore * (max + min - (scores[i] ?? 0))) / max);
      });
    },
  };
}
