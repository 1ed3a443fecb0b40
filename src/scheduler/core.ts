// The pure scheduler core: one scheduling attempt for one pod against the cache. PreFilter, Filter
// (stopping after enough feasible nodes, from a rotating start), Score, pick the best node; when
// nothing fits, explain why per node and try preemption. No I/O: the shell assumes/binds.

import type { KubeObject } from '../api/types.js';
import { asObj, asStr } from '../api/validation/access.js';
import type { SchedulerCache } from './cache.js';
import { CycleState } from './framework/cycle-state.js';
import type { NodeInfo } from './framework/node-info.js';
import { newPodInfo } from './framework/pod-info.js';
import { Framework } from './framework/runtime.js';
import type { FilterFailure } from './framework/types.js';
import { defaultPlugins, defaultScoreWeights, type ScoringStrategy } from './plugins/registry.js';
import { fitErrorMessage, preempt, ReasonNotHelpful } from './preemption.js';

export { SchedulerCache } from './cache.js';
export type { ScoringStrategy } from './plugins/registry.js';
export { defaultScoreWeights } from './plugins/registry.js';

export interface SchedulerProfile {
  /** default 'default-scheduler' */
  schedulerName: string;
  /** default 'LeastAllocated' */
  scoringStrategy: ScoringStrategy;
  /** Plugin name -> weight for Score plugins; missing = upstream default weight. */
  scoreWeights?: Record<string, number>;
  /** Plugins switched off by name. */
  disabled?: string[];
  /**
   * Stop looking after this percentage of nodes were found feasible (clusters of 100+ nodes).
   * 0 or unset = upstream's adaptive default (50% - nodes/125, at least 5%); 100 = all nodes.
   */
  percentageOfNodesToScore?: number;
}

export const defaultProfile: SchedulerProfile = {
  schedulerName: 'default-scheduler',
  scoringStrategy: 'LeastAllocated',
};

export interface NodeScore {
  nodeName: string;
  total: number;
  /** Plugin name -> its weighted, normalized score (they sum to `total`). */
  byPlugin: Record<string, number>;
}

export type ScheduleResult =
  | {
      kind: 'Scheduled';
      nodeName: string;
      feasibleNodes: number;
      evaluatedNodes: number;
      /** The best 10, the chosen node first. */
      scores: NodeScore[];
    }
  | {
      kind: 'Unschedulable';
      /** Upstream wording: "0/5 nodes are available: 3 Insufficient cpu, 2 .... preemption: ..." */
      message: string;
      /** reason string -> number of nodes that failed with it */
      reasons: Record<string, number>;
      /** node name -> the reasons it was rejected */
      perNode: Record<string, string[]>;
      /** Set when evicting lower-priority pods on one node would make room (DefaultPreemption). */
      preemption?: { nodeName: string; victims: KubeObject[] };
    };

/** Is this pod for this profile's scheduler to place (the contract's rule)? */
export function isPodForProfile(pod: KubeObject, profile: SchedulerProfile): boolean {
  const spec = asObj(pod.spec) ?? {};
  const name = asStr(spec['schedulerName']) ?? '';
  if (name !== '' && name !== profile.schedulerName) return false;
  if ((asStr(spec['nodeName']) ?? '') !== '') return false;
  return pod.metadata.deletionTimestamp === undefined || pod.metadata.deletionTimestamp === null;
}

const minFeasibleNodesToFind = 100;
const minFeasibleNodesPercentageToFind = 5;

/** upstream numFeasibleNodesToFind */
export function numFeasibleNodesToFind(percentage: number | undefined, numAllNodes: number): number {
  if (numAllNodes < minFeasibleNodesToFind) return numAllNodes;
  let pct = percentage ?? 0;
  if (pct <= 0) pct = Math.max(50 - Math.trunc(numAllNodes / 125), minFeasibleNodesPercentageToFind);
  if (pct >= 100) return numAllNodes;
  const n = Math.trunc((numAllNodes * pct) / 100);
  return Math.max(n, minFeasibleNodesToFind);
}

const frameworks = new WeakMap<SchedulerProfile, Framework>();

/** The profile's plugins, built once per profile object. */
export function frameworkFor(profile: SchedulerProfile): Framework {
  let fw = frameworks.get(profile);
  if (fw === undefined) {
    fw = new Framework(
      defaultPlugins(profile.scoringStrategy),
      { ...defaultScoreWeights, ...(profile.scoreWeights ?? {}) },
      profile.disabled ?? [],
    );
    frameworks.set(profile, fw);
  }
  return fw;
}

const topScores = 10;

/**
 * Runs PreFilter, Filter, Score (normalized 0-100, weighted), picks the best node (ties broken by
 * `random`), and on failure runs preemption. Does not change the cluster in the cache (the shell
 * calls assume); it only advances the cache's search start index.
 */
export function schedulePod(
  pod: KubeObject,
  cache: SchedulerCache,
  profile: SchedulerProfile,
  random: () => number = Math.random,
): ScheduleResult {
  const fw = frameworkFor(profile);
  const info = newPodInfo(pod);
  const nodes = cache.nodeInfos();
  const n = nodes.length;
  if (n === 0) {
    return {
      kind: 'Unschedulable',
      message: 'no nodes available to schedule pods',
      reasons: {},
      perNode: {},
    };
  }
  const state = new CycleState();

  const preFailure = fw.runPreFilter(state, info, cache);
  if (preFailure !== null) {
    const statuses = new Map<string, FilterFailure>();
    for (const node of nodes) statuses.set(node.name, preFailure);
    const message = `0/${n} nodes are available: ${preFailure.reasons.join(', ')}.`;
    return unschedulable(message, statuses, nodes, fw, state, info, cache, random);
  }

  const toFind = numFeasibleNodesToFind(profile.percentageOfNodesToScore, n);
  const feasible: NodeInfo[] = [];
  const statuses = new Map<string, FilterFailure>();
  const start = cache.nextStartNodeIndex % n;
  let processed = 0;
  for (; processed < n; processed++) {
    const idx = start + processed;
    const node = nodes[idx >= n ? idx - n : idx];
    if (node === undefined) continue;
    const failure = fw.runFilter(state, info, node);
    if (failure === null) {
      feasible.push(node);
      if (feasible.length >= toFind) {
        processed++;
        break;
      }
    } else statuses.set(node.name, failure);
  }
  cache.nextStartNodeIndex = (start + processed) % n;

  if (feasible.length === 0) {
    const histogram = new Map<string, number>();
    for (const f of statuses.values())
      for (const r of f.reasons) histogram.set(r, (histogram.get(r) ?? 0) + 1);
    return unschedulable(fitErrorMessage(n, histogram), statuses, nodes, fw, state, info, cache, random);
  }

  const { totals, byPlugin } = fw.runScore(state, info, feasible, cache);
  // Best total; ties broken uniformly at random (reservoir sampling, as upstream selectHost).
  let best = 0;
  let ties = 1;
  for (let i = 1; i < feasible.length; i++) {
    const t = totals[i] ?? 0;
    const b = totals[best] ?? 0;
    if (t > b) {
      best = i;
      ties = 1;
    } else if (t === b) {
      ties++;
      if (Math.floor(random() * ties) === 0) best = i;
    }
  }
  // Top 10 by total (the chosen node first), by insertion into a short sorted list.
  const top: number[] = [best];
  for (let i = 0; i < feasible.length; i++) {
    if (i === best) continue;
    const t = totals[i] ?? 0;
    if (top.length >= topScores && t <= (totals[top[top.length - 1] ?? 0] ?? 0)) continue;
    let at = top.length;
    while (at > 1 && (totals[top[at - 1] ?? 0] ?? 0) < t) at--;
    top.splice(at, 0, i);
    if (top.length > topScores) top.pop();
  }
  const scores: NodeScore[] = top.map((i) => {
    const byPluginRecord: Record<string, number> = {};
    for (const [name, arr] of byPlugin) byPluginRecord[name] = arr[i] ?? 0;
    return { nodeName: feasible[i]?.name ?? '', total: totals[i] ?? 0, byPlugin: byPluginRecord };
  });
  return {
    kind: 'Scheduled',
    nodeName: feasible[best]?.name ?? '',
    feasibleNodes: feasible.length,
    evaluatedNodes: processed,
    scores,
  };
}

function unschedulable(
  message: string,
  statuses: ReadonlyMap<string, FilterFailure>,
  nodes: readonly NodeInfo[],
  fw: Framework,
  state: CycleState,
  info: ReturnType<typeof newPodInfo>,
  cache: SchedulerCache,
  random: () => number,
): ScheduleResult {
  const reasons: Record<string, number> = {};
  const perNode: Record<string, string[]> = {};
  for (const node of nodes) {
    const f = statuses.get(node.name);
    if (f === undefined) continue;
    perNode[node.name] = [...f.reasons];
    for (const r of f.reasons) reasons[r] = (reasons[r] ?? 0) + 1;
  }
  const outcome = preempt(fw, state, info, cache, statuses, random);
  if (outcome.candidate !== undefined) {
    const { nodeName, victims } = outcome.candidate;
    return {
      kind: 'Unschedulable',
      message: `${message} preemption: evicting ${victims.length} lower-priority pod(s) on node ${nodeName} would make room.`,
      reasons,
      perNode,
      preemption: { nodeName, victims: victims.map((v) => v.pod) },
    };
  }
  return { kind: 'Unschedulable', message: `${message} preemption: ${outcome.message}`, reasons, perNode };
}

export { ReasonNotHelpful };
