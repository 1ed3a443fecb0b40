// The default plugin set, in upstream's default order (Filter order decides which reason a node
// reports: the first plugin that rejects it), and upstream's default Score weights.

import type { AnyPlugin } from '../framework/types.js';
import { imageLocality, ImageLocalityName } from './image-locality.js';
import { interPodAffinity, InterPodAffinityName } from './inter-pod-affinity.js';
import { nodeAffinity, NodeAffinityName } from './node-affinity.js';
import { nodeName } from './node-name.js';
import { nodePorts } from './node-ports.js';
import {
  balancedAllocation,
  BalancedAllocationName,
  nodeResourcesFit,
  NodeResourcesFitName,
} from './node-resources.js';
import { nodeUnschedulable } from './node-unschedulable.js';
import { podTopologySpread, PodTopologySpreadName } from './pod-topology-spread.js';
import { taintToleration, TaintTolerationName } from './taint-toleration.js';

export type ScoringStrategy = 'LeastAllocated' | 'MostAllocated' | 'BalancedAllocation';

export const defaultScoreWeights: Readonly<Record<string, number>> = {
  [TaintTolerationName]: 3,
  [NodeAffinityName]: 2,
  [PodTopologySpreadName]: 2,
  [InterPodAffinityName]: 2,
  [NodeResourcesFitName]: 1,
  [BalancedAllocationName]: 1,
  [ImageLocalityName]: 1,
};

/**
 * LeastAllocated / MostAllocated are NodeResourcesFit's scoring strategies, with
 * NodeResourcesBalancedAllocation also scoring as upstream's default profile does.
 * BalancedAllocation leaves NodeResourcesFit filtering only, so balance alone scores resources.
 */
export function defaultPlugins(strategy: ScoringStrategy): AnyPlugin[] {
  return [
    nodeUnschedulable(),
    nodeName(),
    taintToleration(),
    nodeAffinity(),
    nodePorts(),
    nodeResourcesFit(strategy === 'BalancedAllocation' ? 'None' : strategy),
    podTopologySpread(),
    interPodAffinity(),
    balancedAllocation(),
    imageLocality(),
  ];
}
