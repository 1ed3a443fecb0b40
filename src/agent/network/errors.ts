// Errors raised by the pod network. Recognised by `code`, never by `instanceof` or message text.

export type PodNetworkErrorCode =
  /** The options or the request are malformed (bad CIDR, name too long, duplicate hostPort in one pod). */
  | 'InvalidConfig'
  /** A hostPort is held by another pod, another CNI network or a process on the host. */
  | 'HostPortConflict'
  /** A CNI plugin returned an error (its `msg`, `details` and CNI `code` are in the message and fields). */
  | 'PluginFailed'
  /** A command the network drives (`ip netns`, `iptables-restore`) failed. */
  | 'CommandFailed'
  /** Teardown could not remove everything; the state is kept so that a later call can retry. */
  | 'TeardownFailed';

export class PodNetworkError extends Error {
  readonly code: PodNetworkErrorCode;
  readonly transient: boolean;
  /** The CNI error code when a plugin failed (e.g. 7 = invalid network config, 11 = try again later). */
  readonly cniCode: number | undefined;

  constructor(
    code: PodNetworkErrorCode,
    message: string,
    options?: { cause?: unknown; transient?: boolean; cniCode?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PodNetworkError';
    this.code = code;
    this.cniCode = options?.cniCode;
    this.transient =
      options?.transient ??
      (code === 'PluginFailed' || code === 'CommandFailed' || code === 'TeardownFailed');
  }
}

export function isPodNetworkError(err: unknown): err is PodNetworkError {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'PodNetworkError';
}
