// podStep: the pure heart of the pod worker. From the desired Pod, what the runtime and the network
// report, probe results, back-off records and `now`, it decides the next actions and the waiting reason
// of every container that is not running. No node:* imports, no I/O, no clock: time is an argument.
//
// The worker (worker.ts) executes the actions against the ports and calls podStep again; every call
// reads the whole state (level-triggered), so a lost wake-up or an agent restart changes nothing.

import type { KubeObject } from '../../api/types.js';
import type { ContainerStatus } from '../runtime/types.js';
import {
  deletionGraceSeconds,
  formatGoDuration,
  isHostNetwork,
  isTerminalPhase,
  podContainers,
  podFullName,
  podStatusOf,
  restartBackoffPolicy,
  restartPolicy,
  terminationGraceSeconds,
  type ContainerKind,
  type PodContainer,
} from './pod-view.js';

/** What the probes of one running container say (see probes.ts). */
export interface ProbeState {
  /** Startup probe succeeded (true when there is none). */
  started: boolean;
  /** Readiness probe succeeded (true when there is none and the container started). */
  ready: boolean;
  /** The liveness probe reached its failure threshold. */
  livenessFailed: boolean;
  /** The startup probe reached its failure threshold. */
  startupFailed: boolean;
}

/** Restart back-off of one container (the kubelet's flowcontrol.Backoff entry). */
export interface BackoffRecord {
  /** Spec hash the record belongs to; a changed spec starts afresh. */
  specHash: string;
  backoffMs: number;
  /** When the last restart was allowed (ms). */
  lastUpdate: number;
}

export type WaitingReason =
  | 'ContainerCreating'
  | 'PodInitializing'
  | 'CrashLoopBackOff'
  | 'ErrImagePull'
  | 'ImagePullBackOff'
  | 'ErrImageNeverPull'
  | 'CreateContainerConfigError'
  | 'CreateContainerError'
  | 'RunContainerError';

export interface Waiting {
  reason: WaitingReason;
  message?: string;
}

/** A failure before the container could exist (pull, config, create), retried after backoffMs. */
export interface StartFailure {
  /** The image the failure was about (a changed image retries at once). */
  image: string;
  reason: 'ErrImagePull' | 'ErrImageNeverPull' | 'CreateContainerConfigError' | 'CreateContainerError';
  message: string;
  at: number;
  backoffMs: number;
}

export interface StepInput {
  pod: KubeObject;
  /** The pod is gone from the API (informer delete): clean up without the final API delete. */
  removed: boolean;
  /** Runtime containers of this pod (every instance, exited ones included). */
  containers: ContainerStatus[];
  /** Pod network; undefined = not set up (ignored for hostNetwork pods). */
  network: { ips: string[] } | undefined;
  /** preparePod (volumes, hosts, resolv.conf) done for this worker. */
  prepared: boolean;
  /** Spec hash of every container of the desired pod, by name. */
  desiredHashes: Record<string, string>;
  /** Probe results by container id. */
  probes: Record<string, ProbeState>;
  /** Restart back-off by container name. */
  backoff: Record<string, BackoffRecord>;
  /** Pull/config/create failures by container name. */
  startFailures: Record<string, StartFailure>;
  now: number;
}

export type KillReason = 'Deleting' | 'SpecChanged' | 'LivenessFailed' | 'StartupFailed';

export type PodAction =
  | { type: 'setUpNetwork' }
  | { type: 'preparePod' }
  | { type: 'startContainer'; name: string; kind: ContainerKind; attempt: number }
  | {
      type: 'killContainer';
      id: string;
      name: string;
      gracePeriodSeconds: number;
      reason: KillReason;
      /** The `Killing` event message. */
      message: string;
    }
  | { type: 'removeContainer'; id: string; name: string }
  | { type: 'tearDownNetwork' }
  | { type: 'cleanupPod' }
  | { type: 'deleteFromApi' };

/** A back-off the worker should announce once (BackOff event), keyed so it is announced once per wait. */
export interface BackoffNotice {
  name: string;
  kind: 'restart' | 'pull';
  key: string;
  message: string;
}

export interface StepResult {
  /** Run in order; consecutive actions of the same type may run concurrently. */
  actions: PodAction[];
  /** Waiting reason of containers without a running instance (and of exited ones to be restarted). */
  waiting: Record<string, Waiting>;
  /** Back-off records after this step (restarts it allowed move them forward). */
  backoff: Record<string, BackoffRecord>;
  notices: BackoffNotice[];
  /** Call again at this time even if nothing changes (a back-off ends). */
  wakeAt?: number;
  /** All init containers succeeded (or a regular container already ran). */
  initialized: boolean;
  /** An init container failed and restartPolicy is Never: the pod is Failed. */
  initFailed: boolean;
  terminating: boolean;
  /** After these actions the pod is fully cleaned up; the worker ends. */
  done: boolean;
}

/** The latest instance first: highest attempt, then newest. */
function byRecency(a: ContainerStatus, b: ContainerStatus): number {
  if (a.labels.attempt !== b.labels.attempt) return b.labels.attempt - a.labels.attempt;
  return b.createdAt.getTime() - a.createdAt.getTime();
}

/** A container that exited, or was created but never started (its start failed). */
export function hasStopped(c: ContainerStatus): boolean {
  return c.state === 'exited' || (c.state === 'created' && c.startedAt === undefined);
}

export function exitCodeOf(c: ContainerStatus): number {
  return c.exitCode ?? (c.state === 'created' ? 128 : 0);
}

/** Instances of every container name, latest first. */
export function instancesByName(containers: ContainerStatus[]): Map<string, ContainerStatus[]> {
  const map = new Map<string, ContainerStatus[]>();
  for (const c of containers) {
    const key = `${c.labels.kind}/${c.labels.containerName}`;
    const list = map.get(key) ?? [];
    list.push(c);
    map.set(key, list);
  }
  for (const list of map.values()) list.sort(byRecency);
  return map;
}

function instancesOf(
  byName: Map<string, ContainerStatus[]>,
  kind: ContainerKind,
  name: string,
): ContainerStatus[] {
  return byName.get(`${kind}/${name}`) ?? [];
}

export function podStep(input: StepInput): StepResult {
  const { pod } = input;
  const result: StepResult = {
    actions: [],
    waiting: {},
    backoff: { ...input.backoff },
    notices: [],
    initialized: false,
    initFailed: false,
    terminating: input.removed || pod.metadata.deletionTimestamp !== undefined,
    done: false,
  };
  const byName = instancesByName(input.containers);
  const inits = podContainers(pod, 'init');
  const regulars = podContainers(pod, 'regular');
  const hostNetwork = isHostNetwork(pod);

  if (result.terminating) {
    terminate(input, result);
    return result;
  }

  // Keep the latest instance of each container and the last exited one; remove older instances and
  // instances of containers no longer in the spec that have stopped.
  const known = new Set([...inits, ...regulars].map((c) => `${c.kind}/${c.name}`));
  for (const [key, list] of byName) {
    if (!known.has(key)) {
      for (const c of list) if (hasStopped(c)) result.actions.push(remove(c));
      continue;
    }
    const latest = list[0];
    const keepPrevious =
      latest !== undefined && !hasStopped(latest) ? list.slice(1).find(hasStopped) : undefined;
    for (const c of list.slice(1)) {
      if (c !== keepPrevious && hasStopped(c)) result.actions.push(remove(c));
    }
  }

  const defaultWaiting: Waiting = { reason: inits.length > 0 ? 'PodInitializing' : 'ContainerCreating' };
  const setDefaultWaiting = (): void => {
    for (const c of [...inits, ...regulars]) result.waiting[c.name] ??= defaultWaiting;
  };

  // A terminal pod stays terminal: nothing is started again.
  if (isTerminalPhase(podStatusOf(pod)['phase'])) {
    result.initialized = true;
    return result;
  }

  const anyRegularRan = regulars.some((c) => instancesOf(byName, 'regular', c.name).length > 0);
  // Network and pod files come first. A pod adopted after an agent restart has its containers already:
  // it was initialized before, and its status must not fall back to Pending while they are re-checked.
  if (!hostNetwork && input.network === undefined) {
    result.actions.push({ type: 'setUpNetwork' });
    setDefaultWaiting();
    result.initialized = anyRegularRan;
    return result;
  }
  if (!input.prepared) {
    result.actions.push({ type: 'preparePod' });
    setDefaultWaiting();
    result.initialized = anyRegularRan;
    return result;
  }

  const policy = restartPolicy(pod);

  // Init containers: strictly in order, each to success.
  let initDone = true;
  for (const c of inits) {
    const latest = instancesOf(byName, 'init', c.name)[0];
    if (latest === undefined) {
      if (anyRegularRan) continue; // initialized earlier; its instances were removed since
      start(input, result, c, 0);
      initDone = false;
      break;
    }
    if (!hasStopped(latest)) {
      initDone = false;
      break;
    }
    if (exitCodeOf(latest) === 0) continue;
    initDone = false;
    if (policy === 'Never') {
      result.initFailed = true;
    } else {
      restartWithBackoff(input, result, c, latest);
    }
    break;
  }
  result.initialized = initDone;
  if (!initDone) {
    for (const c of regulars) result.waiting[c.name] ??= { reason: 'PodInitializing' };
    return result;
  }

  // Regular containers: started together, restarted per restartPolicy.
  for (const c of regulars) {
    const latest = instancesOf(byName, 'regular', c.name)[0];
    if (latest === undefined) {
      start(input, result, c, 0);
      continue;
    }
    if (latest.state === 'running') {
      const grace = terminationGraceSeconds(pod);
      const desiredHash = input.desiredHashes[c.name];
      const probe = input.probes[latest.id];
      if (desiredHash !== undefined && latest.labels.specHash !== desiredHash) {
        result.actions.push(
          kill(latest, grace, 'SpecChanged', `Container ${c.name} definition changed, will be restarted`),
        );
      } else if (probe?.startupFailed === true) {
        result.actions.push(
          kill(latest, grace, 'StartupFailed', `Container ${c.name} failed startup probe, will be restarted`),
        );
      } else if (probe?.livenessFailed === true) {
        result.actions.push(
          kill(
            latest,
            grace,
            'LivenessFailed',
            `Container ${c.name} failed liveness probe, will be restarted`,
          ),
        );
      }
      continue;
    }
    if (!hasStopped(latest)) continue; // created and about to start, or unknown: wait
    const failed = exitCodeOf(latest) !== 0;
    // A container killed because its spec changed is recreated whatever the policy (as the kubelet).
    const replaced =
      input.desiredHashes[c.name] !== undefined && latest.labels.specHash !== input.desiredHashes[c.name];
    if (replaced || policy === 'Always' || (policy === 'OnFailure' && failed)) {
      restartWithBackoff(input, result, c, latest);
    }
  }
  return result;
}

function remove(c: ContainerStatus): PodAction {
  return { type: 'removeContainer', id: c.id, name: c.labels.containerName };
}

function kill(c: ContainerStatus, grace: number, reason: KillReason, message: string): PodAction {
  return {
    type: 'killContainer',
    id: c.id,
    name: c.labels.containerName,
    gracePeriodSeconds: grace,
    reason,
    message,
  };
}

function setWake(result: StepResult, at: number): void {
  if (result.wakeAt === undefined || at < result.wakeAt) result.wakeAt = at;
}

/** Start a container unless a recent pull/config failure is still backing off. */
function start(input: StepInput, result: StepResult, c: PodContainer, attempt: number): void {
  const failure = input.startFailures[c.name];
  if (failure !== undefined && failure.image === c.image && input.now < failure.at + failure.backoffMs) {
    setWake(result, failure.at + failure.backoffMs);
    if (failure.reason === 'ErrImagePull') {
      const message = `Back-off pulling image "${c.image}"`;
      result.waiting[c.name] = { reason: 'ImagePullBackOff', message };
      result.notices.push({ name: c.name, kind: 'pull', key: `pull/${c.name}/${failure.at}`, message });
    } else {
      result.waiting[c.name] = { reason: failure.reason, message: failure.message };
    }
    return;
  }
  result.actions.push({ type: 'startContainer', name: c.name, kind: c.kind, attempt });
  result.waiting[c.name] = {
    reason: c.kind === 'regular' || attempt > 0 ? 'ContainerCreating' : 'PodInitializing',
  };
}

/**
 * The kubelet's restart back-off (flowcontrol.Backoff keyed by container and spec hash): the first
 * restart is immediate; each further one waits backoff since the container finished, doubling from the
 * initial value to the max. A container that ran longer than twice the max since its last restart
 * starts afresh.
 */
function restartWithBackoff(
  input: StepInput,
  result: StepResult,
  c: PodContainer,
  latest: ContainerStatus,
): void {
  const { initialMs, maxMs } = restartBackoffPolicy(input.pod);
  const hash = input.desiredHashes[c.name] ?? latest.labels.specHash;
  const finishedAt = (latest.finishedAt ?? latest.createdAt).getTime();
  const record = input.backoff[c.name];
  const live =
    record !== undefined && record.specHash === hash && finishedAt - record.lastUpdate <= 2 * maxMs;
  if (live && input.now - finishedAt < record.backoffMs) {
    const message = `back-off ${formatGoDuration(record.backoffMs)} restarting failed container=${c.name} pod=${podFullName(input.pod)}`;
    result.waiting[c.name] = { reason: 'CrashLoopBackOff', message };
    result.notices.push({
      name: c.name,
      kind: 'restart',
      key: `restart/${latest.id}`,
      message: `Back-off restarting failed container ${c.name} in pod ${podFullName(input.pod)}`,
    });
    setWake(result, finishedAt + record.backoffMs);
    return;
  }
  const failure = input.startFailures[c.name];
  const pullBlocked =
    failure !== undefined && failure.image === c.image && input.now < failure.at + failure.backoffMs;
  if (!pullBlocked) {
    result.backoff[c.name] = {
      specHash: hash,
      backoffMs: live ? Math.min(record.backoffMs * 2, maxMs) : initialMs,
      lastUpdate: input.now,
    };
  }
  start(input, result, c, latest.labels.attempt + 1);
}

/** Deletion: stop what runs (preStop, SIGTERM, SIGKILL after the grace), then remove everything. */
function terminate(input: StepInput, result: StepResult): void {
  const grace = deletionGraceSeconds(input.pod);
  const running = input.containers.filter((c) => c.state === 'running' || c.state === 'unknown');
  for (const c of running) {
    result.actions.push(kill(c, grace, 'Deleting', `Stopping container ${c.labels.containerName}`));
  }
  if (running.length > 0) return;
  for (const c of input.containers) result.actions.push(remove(c));
  if (!isHostNetwork(input.pod)) result.actions.push({ type: 'tearDownNetwork' });
  result.actions.push({ type: 'cleanupPod' });
  if (!input.removed) result.actions.push({ type: 'deleteFromApi' });
  result.done = true;
}
