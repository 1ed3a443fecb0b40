// buildPodStatus: the Pod status as the kubelet reports it, from what the runtime shows, the waiting
// reasons podStep decided, probe results and the previous status (kept transition times). Pure.

import { podQosClass } from '../../api/kinds/pod.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asObj, asStr, type Obj } from '../../api/validation/access.js';
import type { ContainerStatus } from '../runtime/types.js';
import {
  isTerminalPhase,
  podContainers,
  podStatusOf,
  restartPolicy,
  type ContainerKind,
  type PodContainer,
} from './pod-view.js';
import { exitCodeOf, hasStopped, instancesByName, type ProbeState, type Waiting } from './step.js';

export interface StatusInput {
  pod: KubeObject;
  hostIP: string;
  /** Pod IPs, IPv4 first ([] before the network is set up). */
  podIPs: string[];
  containers: ContainerStatus[];
  probes: Record<string, ProbeState>;
  waiting: Record<string, Waiting>;
  initialized: boolean;
  initFailed: boolean;
  /** Runtime image id → what status.imageID shows (`<repo>@sha256:...`), when known. */
  imageIds: Record<string, string>;
  now: number;
}

/** RFC 3339, second precision (metav1.Time). */
export function kubeTimestamp(ms: number | Date): string {
  const d = typeof ms === 'number' ? new Date(ms) : ms;
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const runtimeIdPrefix = 'runc://';

function terminatedState(c: ContainerStatus): Obj {
  const code = exitCodeOf(c);
  const neverStarted = c.startedAt === undefined;
  const reason =
    c.oomKilled === true
      ? 'OOMKilled'
      : neverStarted && code !== 0
        ? 'StartError'
        : code === 0
          ? 'Completed'
          : 'Error';
  const t: Obj = { exitCode: code, reason, containerID: runtimeIdPrefix + c.id };
  t['startedAt'] = kubeTimestamp(c.startedAt ?? c.createdAt);
  t['finishedAt'] = kubeTimestamp(c.finishedAt ?? c.startedAt ?? c.createdAt);
  if (c.message !== undefined && c.message !== '') t['message'] = c.message;
  return { terminated: t };
}

function containerStatusFor(
  input: StatusInput,
  spec: PodContainer,
  instances: ContainerStatus[],
): { status: Obj; ready: boolean; running: boolean; stoppedKind?: 'succeeded' | 'failed'; waiting: boolean } {
  const latest = instances[0];
  const status: Obj = { name: spec.name, image: spec.image, imageID: '' };
  if (latest === undefined) {
    const w = input.waiting[spec.name] ?? { reason: 'ContainerCreating' };
    status['state'] = { waiting: waitingObj(w) };
    status['lastState'] = {};
    status['ready'] = false;
    status['restartCount'] = 0;
    status['started'] = false;
    return { status, ready: false, running: false, waiting: true };
  }
  status['imageID'] = input.imageIds[latest.imageId] ?? latest.imageId;
  status['containerID'] = runtimeIdPrefix + latest.id;
  status['restartCount'] = latest.labels.attempt;
  const previous = instances.slice(1).find(hasStopped);
  const probe = input.probes[latest.id];
  if (
    latest.state === 'running' ||
    latest.state === 'unknown' ||
    (latest.state === 'created' && !hasStopped(latest))
  ) {
    const running = latest.state === 'running';
    status['state'] = running
      ? { running: { startedAt: kubeTimestamp(latest.startedAt ?? latest.createdAt) } }
      : { waiting: waitingObj(input.waiting[spec.name] ?? { reason: 'ContainerCreating' }) };
    status['lastState'] = previous === undefined ? {} : terminatedState(previous);
    const started = running && (probe?.started ?? true);
    const ready = started && (probe?.ready ?? true);
    status['started'] = started;
    status['ready'] = ready;
    return { status, ready, running, waiting: !running };
  }
  // The latest instance stopped: either it waits to be restarted or it stays terminated.
  const w = input.waiting[spec.name];
  status['ready'] = false;
  status['started'] = false;
  if (w !== undefined) {
    status['state'] = { waiting: waitingObj(w) };
    status['lastState'] = terminatedState(latest);
    return {
      status,
      ready: false,
      running: false,
      waiting: false,
      stoppedKind: exitCodeOf(latest) === 0 ? 'succeeded' : 'failed',
    };
  }
  status['state'] = terminatedState(latest);
  status['lastState'] = previous === undefined ? {} : terminatedState(previous);
  return {
    status,
    ready: false,
    running: false,
    waiting: false,
    stoppedKind: exitCodeOf(latest) === 0 ? 'succeeded' : 'failed',
  };
}

function waitingObj(w: Waiting): Obj {
  const o: Obj = { reason: w.reason };
  if (w.message !== undefined && w.message !== '') o['message'] = w.message;
  return o;
}

function condition(
  previous: Obj[],
  type: string,
  ok: boolean,
  now: number,
  reason?: string,
  message?: string,
): Obj {
  const status = ok ? 'True' : 'False';
  const prev = previous.find((c) => c['type'] === type);
  const c: Obj = { type, status };
  c['lastProbeTime'] = null;
  c['lastTransitionTime'] =
    prev !== undefined && prev['status'] === status && typeof prev['lastTransitionTime'] === 'string'
      ? prev['lastTransitionTime']
      : kubeTimestamp(now);
  if (reason !== undefined) c['reason'] = reason;
  if (message !== undefined) c['message'] = message;
  return c;
}

/** The whole PodStatus. */
export function buildPodStatus(input: StatusInput): Obj {
  const { pod, now } = input;
  const previous = podStatusOf(pod);
  const prevConditions = asArr(previous['conditions'])
    .map((c) => asObj(c))
    .filter((c): c is Obj => c !== undefined);
  const byName = instancesByName(input.containers);
  const list = (kind: ContainerKind): ReturnType<typeof containerStatusFor>[] =>
    podContainers(pod, kind).map((c) => containerStatusFor(input, c, byName.get(`${kind}/${c.name}`) ?? []));
  const inits = list('init');
  const regulars = list('regular');
  const regularSpecs = podContainers(pod, 'regular');
  const initSpecs = podContainers(pod, 'init');

  // Phase, as the kubelet's getPhase.
  let phase: string;
  const prevPhase = previous['phase'];
  if (isTerminalPhase(prevPhase)) {
    phase = prevPhase;
  } else if (input.initFailed) {
    phase = 'Failed';
  } else if (!input.initialized) {
    phase = 'Pending';
  } else {
    let running = 0;
    let waiting = 0;
    let stopped = 0;
    let succeeded = 0;
    for (const r of regulars) {
      if (r.running) running++;
      else if (r.stoppedKind !== undefined) {
        stopped++;
        if (r.stoppedKind === 'succeeded' && asObj(r.status['state'])?.['terminated'] !== undefined)
          succeeded++;
      } else if (r.waiting) waiting++;
    }
    const policy = restartPolicy(pod);
    if (waiting > 0) phase = 'Pending';
    else if (running > 0) phase = 'Running';
    else if (stopped > 0) {
      if (policy === 'Always') phase = 'Running';
      else if (policy === 'OnFailure') phase = stopped === succeeded ? 'Succeeded' : 'Running';
      else {
        const failed = regulars.some((r) => r.stoppedKind === 'failed');
        phase = failed ? 'Failed' : 'Succeeded';
      }
    } else phase = 'Pending';
  }
  const terminal = isTerminalPhase(phase);

  const notReady = regularSpecs.filter((_, i) => regulars[i]?.ready !== true).map((c) => c.name);
  const notInit = initSpecs
    .filter((_, i) => {
      const t = asObj(asObj(inits[i]?.status['state'])?.['terminated']);
      return !(t !== undefined && t['exitCode'] === 0);
    })
    .map((c) => c.name);
  const containersReady = notReady.length === 0 && !terminal;
  const conditions: Obj[] = [];
  conditions.push(
    condition(
      prevConditions,
      'PodReadyToStartContainers',
      input.podIPs.length > 0 || input.containers.length > 0,
      now,
    ),
  );
  if (input.initialized || terminal) {
    conditions.push(condition(prevConditions, 'Initialized', true, now));
  } else {
    conditions.push(
      condition(
        prevConditions,
        'Initialized',
        false,
        now,
        'ContainersNotInitialized',
        `containers with incomplete status: [${notInit.join(' ')}]`,
      ),
    );
  }
  const readyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const readyMessage = terminal ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
  conditions.push(
    containersReady
      ? condition(prevConditions, 'Ready', true, now)
      : condition(prevConditions, 'Ready', false, now, readyReason, readyMessage),
  );
  conditions.push(
    containersReady
      ? condition(prevConditions, 'ContainersReady', true, now)
      : condition(prevConditions, 'ContainersReady', false, now, readyReason, readyMessage),
  );
  const scheduled = prevConditions.find((c) => c['type'] === 'PodScheduled');
  conditions.push(scheduled ?? condition(prevConditions, 'PodScheduled', true, now));

  const status: Obj = { phase, conditions };
  status['hostIP'] = input.hostIP;
  status['hostIPs'] = [{ ip: input.hostIP }];
  const ips =
    input.podIPs.length > 0
      ? input.podIPs
      : asArr(previous['podIPs'])
          .map((p) => asStr(asObj(p)?.['ip']) ?? '')
          .filter((s) => s !== '');
  if (ips.length > 0) {
    status['podIP'] = ips[0];
    status['podIPs'] = ips.map((ip) => ({ ip }));
  }
  status['startTime'] = asStr(previous['startTime']) ?? kubeTimestamp(now);
  if (inits.length > 0) status['initContainerStatuses'] = inits.map((r) => r.status);
  status['containerStatuses'] = regulars.map((r) => r.status);
  status['qosClass'] = podQosClass(pod.spec);
  return status;
}

/**
 * Equality of two statuses as the API server would store them: empty objects, arrays and strings and
 * undefined fields count as absent (the server drops them), key order does not matter.
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(canonical).filter((x) => x !== undefined);
    return items.length === 0 ? undefined : items;
  }
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const c = canonical((v as Record<string, unknown>)[k]);
      if (c !== undefined) out[k] = c;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (v === '' || v === undefined || v === null) return undefined;
  return v;
}
