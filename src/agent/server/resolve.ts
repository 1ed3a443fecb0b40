// Which runtime container holds a pod container's logs or takes an exec: found by the labels every
// container carries. The highest `attempt` is the current instance; `previous` is the newest exited
// instance below it (what the kubelet calls lastState.terminated).
import type { ContainerRuntime, ContainerStatus } from '../runtime/types.js';

export interface ContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

export interface ResolvedContainers {
  /** Every instance of this pod container, newest attempt first. */
  instances: ContainerStatus[];
  /** The highest attempt, whatever its state. */
  current: ContainerStatus | undefined;
  /** The newest exited instance below the current attempt. */
  previous: ContainerStatus | undefined;
}

function hasStarted(c: ContainerStatus): boolean {
  return c.state === 'running' || (c.state === 'exited' && c.startedAt !== undefined);
}

/** Pure: pick the instances of `ref` among `all`. */
export function resolveContainers(all: readonly ContainerStatus[], ref: ContainerRef): ResolvedContainers {
  const instances = all
    .filter(
      (c) =>
        c.labels.podNamespace === ref.namespace &&
        c.labels.podName === ref.pod &&
        c.labels.containerName === ref.container,
    )
    .sort((a, b) => b.labels.attempt - a.labels.attempt || b.createdAt.getTime() - a.createdAt.getTime());
  const current = instances[0];
  const previous =
    current === undefined
      ? undefined
      : instances.find((c) => c.labels.attempt < current.labels.attempt && c.state === 'exited');
  return { instances, current, previous };
}

export async function findContainers(
  runtime: ContainerRuntime,
  ref: ContainerRef,
): Promise<ResolvedContainers> {
  return resolveContainers(await runtime.listContainers(), ref);
}

export type LogTarget = { ok: true; container: ContainerStatus } | { ok: false; message: string };

/**
 * The instance whose log `kubectl logs [--previous]` reads, or the kubelet's message when there is none.
 * A current instance that never started (waiting to start or restart) falls back to the last one that ran,
 * as the kubelet shows a crash-looping container's last run.
 */
export function logTarget(resolved: ResolvedContainers, ref: ContainerRef, previous: boolean): LogTarget {
  const { current } = resolved;
  if (previous) {
    if (resolved.previous === undefined)
      return {
        ok: false,
        message: `previous terminated container "${ref.container}" in pod "${ref.pod}" not found`,
      };
    return { ok: true, container: resolved.previous };
  }
  if (current !== undefined && hasStarted(current)) return { ok: true, container: current };
  const lastRun = resolved.instances.find(hasStarted);
  if (lastRun !== undefined) return { ok: true, container: lastRun };
  const reason =
    current?.message !== undefined && current.state === 'exited' ? 'RunContainerError' : 'ContainerCreating';
  return {
    ok: false,
    message: `container "${ref.container}" in pod "${ref.pod}" is waiting to start: ${reason}`,
  };
}

export type ExecTarget = { ok: true; container: ContainerStatus } | { ok: false; message: string };

/** The running instance an exec goes into. */
export function execTarget(resolved: ResolvedContainers, ref: ContainerRef): ExecTarget {
  const c = resolved.current;
  if (c === undefined) return { ok: false, message: `container not found ("${ref.container}")` };
  if (c.state !== 'running')
    return {
      ok: false,
      message: `container "${ref.container}" in pod "${ref.pod}" is not running (state: ${c.state})`,
    };
  return { ok: true, container: c };
}
