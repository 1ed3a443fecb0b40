// TaintToleration: Filter rejects nodes with a NoSchedule/NoExecute taint the pod does not tolerate;
// Score counts the PreferNoSchedule taints it does not tolerate (fewer is better).

import { tolerated, type Toleration } from '../framework/match.js';
import { defaultNormalizeScore } from '../framework/normalize.js';
import { firstUntoleratedHardTaint } from '../framework/match.js';
import { unresolvable, type FilterPlugin, type ScorePlugin } from '../framework/types.js';

export const TaintTolerationName = 'TaintToleration';

export function untoleratedTaintReason(key: string, value: string): string {
  return `node(s) had untolerated taint {${key}: ${value}}`;
}

const preferKey = 'TaintToleration/prefer';

export function taintToleration(): FilterPlugin & ScorePlugin {
  return {
    name: TaintTolerationName,
    filter(_state, pod, node) {
      if (node.taints.length === 0) return null;
      const taint = firstUntoleratedHardTaint(node.taints, pod.tolerations);
      if (taint === undefined) return null;
      return unresolvable(TaintTolerationName, untoleratedTaintReason(taint.key, taint.value));
    },
    preScore(state, pod) {
      // Only tolerations that apply to PreferNoSchedule count for scoring (upstream).
      const prefer = pod.tolerations.filter((t) => t.effect === '' || t.effect === 'PreferNoSchedule');
      state.write(preferKey, prefer);
    },
    score(state, _pod, node) {
      if (node.taints.length === 0) return 0;
      const prefer = state.read<Toleration[]>(preferKey) ?? [];
      let count = 0;
      for (const taint of node.taints) {
        if (taint.effect === 'PreferNoSchedule' && !tolerated(prefer, taint)) count++;
      }
      return count;
    },
    normalizeScore(_state, _pod, _nodes, scores) {
      defaultNormalizeScore(scores, true);
    },
  };
}
