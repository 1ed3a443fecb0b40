// NodePorts: a hostPort can be bound once per (protocol, port) on an address; 0.0.0.0 takes all.

import { unschedulable, type FilterPlugin, type PreFilterPlugin } from '../framework/types.js';

export const NodePortsName = 'NodePorts';
export const ErrReasonNodePorts = "node(s) didn't have free ports for the requested pod ports";

const failure = unschedulable(NodePortsName, ErrReasonNodePorts);

export function nodePorts(): PreFilterPlugin & FilterPlugin {
  return {
    name: NodePortsName,
    preFilter(_state, pod) {
      return pod.hostPorts.length === 0 ? 'Skip' : 'Success';
    },
    filter(_state, pod, node) {
      if (pod.hostPorts.length === 0 || node.usedPorts.size === 0) return null;
      for (const hp of pod.hostPorts) if (node.portConflicts(hp)) return failure;
      return null;
    },
  };
}
