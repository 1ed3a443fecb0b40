// NodeResourcesFit (Filter: requests fit in allocatable minus what the node's pods request; Score
// by the profile's strategy) and NodeResourcesBalancedAllocation (Score: cpu and memory used in
// the same proportion). Totals come precomputed from NodeInfo, so each node costs O(1).

import type { NodeInfo } from '../framework/node-info.js';
import type { PodInfo } from '../framework/pod-info.js';
import { MaxNodeScore, unschedulable, type FilterPlugin, type ScorePlugin } from '../framework/types.js';

export const NodeResourcesFitName = 'NodeResourcesFit';
export const BalancedAllocationName = 'NodeResourcesBalancedAllocation';

export type FitStrategy = 'LeastAllocated' | 'MostAllocated';

const tooManyPods = 'Too many pods';
const insufficientCpu = 'Insufficient cpu';
const insufficientMemory = 'Insufficient memory';
const insufficientEphemeral = 'Insufficient ephemeral-storage';

/** The reasons a node lacks room for the pod; empty when it fits (upstream fitsRequest). */
export function insufficientResources(pod: PodInfo, node: NodeInfo): string[] {
  const out: string[] = [];
  const alloc = node.allocatable;
  if (node.pods.size + 1 > alloc.pods) out.push(tooManyPods);
  const r = pod.requests;
  if (r.milliCpu === 0 && r.memory === 0 && r.ephemeralStorage === 0 && r.scalar.size === 0) return out;
  const used = node.requested;
  if (r.milliCpu > 0 && r.milliCpu > alloc.milliCpu - used.milliCpu) out.push(insufficientCpu);
  if (r.memory > 0 && r.memory > alloc.memory - used.memory) out.push(insufficientMemory);
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage)
    out.push(insufficientEphemeral);
  for (const [name, v] of r.scalar) {
    if (v > (alloc.scalar.get(name) ?? 0) - (used.scalar.get(name) ?? 0)) out.push(`Insufficient ${name}`);
  }
  return out;
}

/** The allocation-free common case of insufficientResources: does everything fit? */
function fits(pod: PodInfo, node: NodeInfo): boolean {
  const alloc = node.allocatable;
  const used = node.requested;
  const r = pod.requests;
  if (node.pods.size + 1 > alloc.pods) return false;
  if (r.milliCpu > 0 && r.milliCpu > alloc.milliCpu - used.milliCpu) return false;
  if (r.memory > 0 && r.memory > alloc.memory - used.memory) return false;
  if (r.ephemeralStorage > 0 && r.ephemeralStorage > alloc.ephemeralStorage - used.ephemeralStorage)
    return false;
  if (r.scalar.size > 0) {
    for (const [name, v] of r.scalar) {
      if (v > (alloc.scalar.get(name) ?? 0) - (used.scalar.get(name) ?? 0)) return false;
    }
  }
  return true;
}

function leastRequested(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return Math.trunc(((capacity - requested) * MaxNodeScore) / capacity);
}

function mostRequested(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  return Math.trunc((Math.min(requested, capacity) * MaxNodeScore) / capacity);
}

/** cpu and memory, weight 1 each (upstream default `resources` of the scoring strategy). */
function resourceScore(pod: PodInfo, node: NodeInfo, f: (req: number, cap: number) => number): number {
  let sum = 0;
  let weights = 0;
  const alloc = node.allocatable;
  if (alloc.milliCpu !== 0) {
    sum += f(node.nonZeroMilliCpu + pod.nonZeroMilliCpu, alloc.milliCpu);
    weights++;
  }
  if (alloc.memory !== 0) {
    sum += f(node.nonZeroMemory + pod.nonZeroMemory, alloc.memory);
    weights++;
  }
  return weights === 0 ? 0 : Math.trunc(sum / weights);
}

export function nodeResourcesFit(strategy: FitStrategy | 'None'): FilterPlugin & ScorePlugin {
  const scorer = strategy === 'MostAllocated' ? mostRequested : leastRequested;
  return {
    name: NodeResourcesFitName,
    filter(_state, pod, node) {
      if (fits(pod, node)) return null;
      const reasons = insufficientResources(pod, node);
      return reasons.length === 0 ? null : unschedulable(NodeResourcesFitName, ...reasons);
    },
    preScore() {
      if (strategy === 'None') return 'Skip';
    },
    score(_state, pod, node) {
      return resourceScore(pod, node, scorer);
    },
  };
}

/** upstream balancedResourceScorer over cpu and memory: (1 - |cpuFraction - memFraction| / 2) * 100. */
export function balancedScore(pod: PodInfo, node: NodeInfo): number {
  const alloc = node.allocatable;
  const fractions: number[] = [];
  if (alloc.milliCpu !== 0)
    fractions.push(Math.min(1, (node.requested.milliCpu + pod.requests.milliCpu) / alloc.milliCpu));
  if (alloc.memory !== 0)
    fractions.push(Math.min(1, (node.requested.memory + pod.requests.memory) / alloc.memory));
  const std = fractions.length === 2 ? Math.abs(((fractions[0] ?? 0) - (fractions[1] ?? 0)) / 2) : 0;
  return Math.trunc((1 - std) * MaxNodeScore);
}

export function balancedAllocation(): ScorePlugin {
  return {
    name: BalancedAllocationName,
    preScore(_state, pod) {
      // Best-effort pods are not scored: they would all pile onto one node (upstream #129138).
      const r = pod.requests;
      if (r.milliCpu === 0 && r.memory === 0) return 'Skip';
    },
    score(_state, pod, node) {
      return balancedScore(pod, node);
    },
  };
}
