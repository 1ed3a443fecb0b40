// The PodNetwork port: one network namespace per pod, configured by the standard CNI plugins
// (bridge + host-local IPAM over the node's pod CIDR, loopback, portmap for hostPort).

export interface HostPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  hostIP?: string;
}

export interface PodNetworkRequest {
  podUid: string;
  podName: string;
  podNamespace: string;
  hostPorts: HostPortMapping[];
}

export interface PodNetworkStatus {
  podUid: string;
  /** `/var/run/netns/<name>`: containers of the pod join it. */
  netnsPath: string;
  /** Pod IPs, IPv4 first. */
  ips: string[];
}

export interface PodNetworkHooks {
  namespaceReady?: (netnsPath: string) => void;
}

export interface PodNetwork {
  /**
   * Creates the netns and runs CNI ADD; idempotent for a pod already set up (returns its status).
   * `hooks.namespaceReady` is called once the pod's namespace exists and before the plugins run, so the
   * caller can create containers in it meanwhile; it is not called when the pod was already set up.
   */
  setUp(req: PodNetworkRequest, hooks?: PodNetworkHooks): Promise<PodNetworkStatus>;
  /** CNI DEL and netns removal; always safe to call (also for pods the agent no longer knows). */
  tearDown(podUid: string): Promise<void>;
  /** Where setUp puts the pod's namespace (its `netnsPath`), known before setUp runs. */
  namespacePath(podUid: string): string;
  status(podUid: string): Promise<PodNetworkStatus | undefined>;
  /** Pod uids that have a network on this node (from disk), for orphan cleanup after a restart. */
  list(): Promise<string[]>;
  /** Removes the bridge, IPAM state and everything the network owns (agent uninstall / test cleanup). */
  destroy(): Promise<void>;
}
