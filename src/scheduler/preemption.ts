// DefaultPreemption (PostFilter): when no node fits, look for a node where evicting pods of lower
// priority makes room. Victims are chosen minimally (remove every lower-priority pod, then give
// back the most important ones while the pod still fits) and the node is picked as upstream does
// (lowest highest-priority victim, then smallest priority sum, fewest victims, youngest victims).

import { asObj, asStr } from '../api/validation/access.js';
import type { CycleState } from './framework/cycle-state.js';
import type { NodeInfo } from './framework/node-info.js';
import type { PodInfo } from './framework/pod-info.js';
import type { Framework } from './framework/runtime.js';
import type { ClusterView, FilterFailure } from './framework/types.js';

export const ReasonNotHelpful = 'Preemption is not helpful for scheduling';
export const ReasonNoVictims = 'No preemption victims found for incoming pod';

/** upstream: look at 10% of the potential nodes, at least 100. */
const minCandidateNodesPercentage = 10;
const minCandidateNodesAbsolute = 100;

export interface PreemptionCandidate {
  nodeName: string;
  /** Most important first. */
  victims: PodInfo[];
}

export interface PreemptionOutcome {
  candidate?: PreemptionCandidate;
  /** The text after "preemption: " when no candidate was found (ends with a period). */
  message: string;
}

/** "0/N nodes are available: 3 A, 2 B." with the "count reason" strings sorted, as upstream. */
export function fitErrorMessage(numAllNodes: number, histogram: ReadonlyMap<string, number>): string {
  const parts = [...histogram].map(([reason, n]) => `${n} ${reason}`).sort();
  return `0/${numAllNodes} nodes are available: ${parts.join(', ')}.`;
}

/** More important: higher priority, then started earlier (upstream MoreImportantPod). */
function moreImportantFirst(a: PodInfo, b: PodInfo): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  return a.startTime - b.startTime;
}

/** The fewest victims on `node` that let `pod` fit, or undefined when evicting cannot help. */
export function selectVictimsOnNode(
  fw: Framework,
  state: CycleState,
  pod: PodInfo,
  node: NodeInfo,
  cluster: ClusterView,
): PodInfo[] | undefined {
  const lower: PodInfo[] = [];
  for (const p of node.pods.values()) if (p.priority < pod.priority) lower.push(p);
  if (lower.length === 0) return undefined;
  const copy = node.clone();
  const st = state.clone();
  for (const p of lower) {
    copy.removePod(p.uid);
    fw.removePod(st, pod, p, copy, cluster);
  }
  if (fw.runFilter(st, pod, copy) !== null) return undefined;
  lower.sort(moreImportantFirst);
  const victims: PodInfo[] = [];
  for (const p of lower) {
    copy.addPod(p);
    fw.addPod(st, pod, p, copy, cluster);
    if (fw.runFilter(st, pod, copy) !== null) {
      copy.removePod(p.uid);
      fw.removePod(st, pod, p, copy, cluster);
      victims.push(p);
    }
  }
  return victims;
}

/** upstream pickOneNodeForPreemption, without PodDisruptionBudgets. */
export function pickCandidate(candidates: readonly PreemptionCandidate[]): PreemptionCandidate | undefined {
  let best: PreemptionCandidate | undefined;
  let bestKey: number[] = [];
  for (const c of candidates) {
    const highest = c.victims[0]?.priority ?? Number.MIN_SAFE_INTEGER;
    // Offsetting by 2^31 keeps every term positive, so more victims never lowers the sum.
    let sum = 0;
    for (const v of c.victims) sum += v.priority + 2 ** 31;
    let earliest = Infinity;
    for (const v of c.victims) if (v.priority === highest && v.startTime < earliest) earliest = v.startTime;
    // Smaller is better on each key, in order; a later earliest start time is better.
    const key = [highest, sum, c.victims.length, -earliest];
    if (best === undefined || lexLess(key, bestKey)) {
      best = c;
      bestKey = key;
    }
  }
  return best;
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

/** Why the pod may not preempt at all, or undefined when it may (upstream PodEligibleToPreemptOthers). */
function notEligible(pod: PodInfo, cluster: ClusterView): string | undefined {
  if (pod.preemptionPolicy === 'Never') return 'not eligible due to preemptionPolicy=Never.';
  const nominated = asStr(asObj(pod.pod.status)?.['nominatedNodeName']) ?? '';
  if (nominated !== '') {
    const node = cluster.getNodeInfo(nominated);
    if (node !== undefined) {
      for (const p of node.pods.values()) {
        if (p.deleting && p.priority < pod.priority)
          return 'not eligible due to a terminating pod on the nominated node.';
      }
    }
  }
  return undefined;
}

/**
 * Runs preemption after every node failed Filter with `statuses`. `random` picks where the
 * candidate search starts, as upstream's random offset does.
 */
export function preempt(
  fw: Framework,
  state: CycleState,
  pod: PodInfo,
  cluster: ClusterView,
  statuses: ReadonlyMap<string, FilterFailure>,
  random: () => number,
): PreemptionOutcome {
  const why = notEligible(pod, cluster);
  if (why !== undefined) return { message: why };
  const all = cluster.nodeInfos();
  const histogram = new Map<string, number>();
  const note = (reason: string) => histogram.set(reason, (histogram.get(reason) ?? 0) + 1);
  const potential: NodeInfo[] = [];
  for (const node of all) {
    const st = statuses.get(node.name);
    if (st !== undefined && st.code === 'Unschedulable') potential.push(node);
    else note(ReasonNotHelpful);
  }
  if (potential.length === 0) return { message: fitErrorMessage(all.length, histogram) };

  let numCandidates = Math.floor((potential.length * minCandidateNodesPercentage) / 100);
  numCandidates = Math.min(Math.max(numCandidates, minCandidateNodesAbsolute), potential.length);
  const offset = Math.min(potential.length - 1, Math.floor(random() * potential.length));
  const candidates: PreemptionCandidate[] = [];
  for (let i = 0; i < potential.length; i++) {
    const node = potential[(offset + i) % potential.length];
    if (node === undefined) continue;
    const victims = selectVictimsOnNode(fw, state, pod, node, cluster);
    if (victims === undefined) {
      note(ReasonNoVictims);
      continue;
    }
    candidates.push({ nodeName: node.name, victims });
    if (candidates.length >= numCandidates) break;
  }
  const best = pickCandidate(candidates);
  if (best === undefined) return { message: fitErrorMessage(all.length, histogram) };
  return { candidate: best, message: '' };
}
