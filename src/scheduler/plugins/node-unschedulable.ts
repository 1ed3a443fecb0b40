// NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods that tolerate the
// node.kubernetes.io/unschedulable:NoSchedule taint.

import { tolerated, type Taint } from '../framework/match.js';
import { unresolvable, type FilterPlugin } from '../framework/types.js';

export const NodeUnschedulableName = 'NodeUnschedulable';
export const ErrReasonUnschedulable = 'node(s) were unschedulable';

const unschedulableTaint: Taint = {
  key: 'node.kubernetes.io/unschedulable',
  value: '',
  effect: 'NoSchedule',
};
const failure = unresolvable(NodeUnschedulableName, ErrReasonUnschedulable);

export function nodeUnschedulable(): FilterPlugin {
  return {
    name: NodeUnschedulableName,
    filter(_state, pod, node) {
      if (!node.unschedulable) return null;
      return tolerated(pod.tolerations, unschedulableTaint) ? null : failure;
    },
  };
}
