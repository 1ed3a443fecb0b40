// NodeName: a pod that names its node (spec.nodeName) fits only there.

import { asStr } from '../../api/validation/access.js';
import { unresolvable, type FilterPlugin, type PreFilterPlugin } from '../framework/types.js';

export const NodeNameName = 'NodeName';
export const ErrReasonNodeName = "node(s) didn't match the requested node name";

const failure = unresolvable(NodeNameName, ErrReasonNodeName);

export function nodeName(): PreFilterPlugin & FilterPlugin {
  return {
    name: NodeNameName,
    preFilter(_state, pod) {
      const wanted = asStr(pod.spec['nodeName']);
      return wanted === undefined || wanted === '' ? 'Skip' : 'Success';
    },
    filter(_state, pod, node) {
      const wanted = asStr(pod.spec['nodeName']);
      if (wanted === undefined || wanted === '' || wanted === node.name) return null;
      return failure;
    },
  };
}
