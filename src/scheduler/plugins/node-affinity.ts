// NodeAffinity: spec.nodeSelector and required node affinity must both hold (Filter); preferred
// terms add their weights (Score, normalized so the best node gets 100).

import { nodeSelectorTermMatches, nodeSelectorTermsMatch } from '../framework/match.js';
import type { NodeInfo } from '../framework/node-info.js';
import { defaultNormalizeScore } from '../framework/normalize.js';
import type { PodInfo } from '../framework/pod-info.js';
import {
  unresolvable,
  type FilterPlugin,
  type PreFilterPlugin,
  type ScorePlugin,
} from '../framework/types.js';

export const NodeAffinityName = 'NodeAffinity';
export const ErrReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector";

const failure = unresolvable(NodeAffinityName, ErrReasonNodeAffinity);

/** nodeSelector and required node affinity (also used by PodTopologySpread's nodeAffinityPolicy). */
export function podMatchesNodeSelectorAndAffinity(pod: PodInfo, node: NodeInfo): boolean {
  if (pod.nodeSelector !== undefined) {
    for (const k in pod.nodeSelector) if (node.labels[k] !== pod.nodeSelector[k]) return false;
  }
  if (pod.requiredNodeAffinity !== undefined) {
    return nodeSelectorTermsMatch(pod.requiredNodeAffinity, node.name, node.labels);
  }
  return true;
}

export function nodeAffinity(): PreFilterPlugin & FilterPlugin & ScorePlugin {
  return {
    name: NodeAffinityName,
    preFilter(_state, pod) {
      return pod.nodeSelector === undefined && pod.requiredNodeAffinity === undefined ? 'Skip' : 'Success';
    },
    filter(_state, pod, node) {
      if (pod.nodeSelector === undefined && pod.requiredNodeAffinity === undefined) return null;
      return podMatchesNodeSelectorAndAffinity(pod, node) ? null : failure;
    },
    preScore(_state, pod) {
      if (pod.preferredNodeAffinity.length === 0) return 'Skip';
    },
    score(_state, pod, node) {
      let total = 0;
      for (const { weight, term } of pod.preferredNodeAffinity) {
        if (nodeSelectorTermMatches(term, node.name, node.labels)) total += weight;
      }
      return total;
    },
    normalizeScore(_state, _pod, _nodes, scores) {
      defaultNormalizeScore(scores, false);
    },
  };
}
