// The life of a pod on a simulated node, as pure functions of (what the simulator remembers, the pod, now):
// ContainerCreating for the start delay, then Running; containers that "exit" (command `false`, `true`,
// `sleep N`, `sh -c 'exit N'`, or the flotilla.dev/sim-* annotations) restart under the pod's restart
// policy with the kubelet's back-off (first restart at once, then 10 s doubling to 5 min, or the
// flotilla.dev/restart-backoff-* annotations); a deleted pod stops after min(grace, 1 s) and is then
// deleted for good. Times come from the state, so rendering twice gives the same status.

import { podQosClass } from '../../api/kinds/pod.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, asStr, type Obj } from '../../api/validation/access.js';
import {
  deletionGraceSeconds,
  formatGoDuration,
  isHostNetwork,
  isTerminalPhase,
  parseDuration,
  podContainers,
  podFullName,
  podStatusOf,
  podUid,
  restartBackoffPolicy,
  restartPolicy,
  type PodContainer,
  type RestartPolicy,
} from '../pod/pod-view.js';
import { fakeHex } from './nodes.js';

/** Exit code every container of the pod exits with (after flotilla.dev/sim-run-for, default at once). */
export const simExitCodeAnnotation = 'flotilla.dev/sim-exit-code';
/** How long containers run before exiting (exit code 0 unless sim-exit-code says otherwise). */
export const simRunForAnnotation = 'flotilla.dev/sim-run-for';
/** "false": containers never become ready (a readiness probe that never passes). */
export const simReadyAnnotation = 'flotilla.dev/sim-ready';

export const fakeRuntimePrefix = 'fake://';

/** One regular container's current instance. */
export interface SimContainer {
  restartCount: number;
  /** When the current instance started (ms). */
  startedAt: number;
  /** When it exited; undefined while it runs. */
  finishedAt?: number;
  exitCode?: number;
  /** Back-off before the next restart; 0 until the first restart (which is immediate). */
  backoffMs: number;
  /** The instance before, for lastState. */
  last?: { exitCode: number; startedAt: number; finishedAt: number };
}

export interface SimPod {
  uid: string;
  /** When the simulator took the pod on (the sandbox "starts being created"). */
  seenAt: number;
  /** When its containers start (seenAt + the start delay). */
  startAt: number;
  /** Undefined for host-network pods (they use the node's address) and before an address was given. */
  podIP?: string;
  /** Regular containers by name, from startAt on. */
  containers: Record<string, SimContainer>;
  /** When the simulator first saw the deletion. */
  terminatingAt?: number;
}

/** What a container does when started, read from its command or the pod's sim annotations. */
export interface Behaviour {
  /** Undefined: runs until stopped. */
  exitCode?: number;
  runForMs: number;
}

export interface SimStepInput {
  pod: KubeObject;
  sim: SimPod;
  now: number;
  hostIP: string;
  /** Longest simulated shutdown of a deleted pod (default 1 s); the pod's own grace period if shorter. */
  stopMaxMs: number;
}

export interface SimStepResult {
  sim: SimPod;
  /** The status the pod should have now (undefined: leave it alone). */
  status?: Obj;
  /** Finish the graceful deletion: DELETE with grace 0 and the uid as precondition. */
  deleteFromApi: boolean;
  /** The pod address is free again (pod stopped or finished). */
  releaseIp: boolean;
  /** Look at the pod again at this time. */
  wakeAt?: number;
}

const commandExits: Record<string, Behaviour> = {
  false: { exitCode: 1, runForMs: 0 },
  true: { exitCode: 0, runForMs: 0 },
};

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** A `sleep` argument: seconds (`5`, `0.5`) or a duration (`5s`, `1m`). */
function sleepMs(arg: string | undefined): number | undefined {
  if (arg === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(arg)) return Number(arg) * 1000;
  return parseDuration(arg);
}

function fromArgv(argv: string[]): Behaviour | undefined {
  const prog = basename(argv[0] ?? '');
  const exits = commandExits[prog];
  if (exits !== undefined) return exits;
  if (prog === 'sleep') {
    const ms = sleepMs(argv[1]);
    return ms === undefined ? undefined : { exitCode: 0, runForMs: ms };
  }
  if ((prog === 'sh' || prog === 'bash' || prog === 'ash') && argv[1] === '-c' && argv[2] !== undefined) {
    const script = argv[2].trim();
    const exit = /^exit\s+(\d{1,3})$/.exec(script);
    if (exit !== null) return { exitCode: Number(exit[1]), runForMs: 0 };
    return fromArgv(script.split(/\s+/));
  }
  return undefined;
}

/** How the simulator runs `c`: the pod's sim annotations first, then a recognised command, else forever. */
export function containerBehaviour(pod: KubeObject, c: PodContainer): Behaviour {
  const ann = pod.metadata.annotations ?? {};
  const exitRaw = ann[simExitCodeAnnotation];
  const runRaw = ann[simRunForAnnotation];
  const runFor = runRaw === undefined ? undefined : parseDuration(runRaw);
  const exit = exitRaw !== undefined && /^\d{1,3}$/.test(exitRaw.trim()) ? Number(exitRaw) : undefined;
  if (exit !== undefined) return { exitCode: exit, runForMs: runFor ?? 0 };
  if (runFor !== undefined) return { exitCode: 0, runForMs: runFor };
  const strings = (v: unknown): string[] => asArr(v).filter((x): x is string => typeof x === 'string');
  const command = strings(c.spec['command']);
  if (command.length === 0) return { runForMs: 0 }; // the image's entrypoint: a server, we assume
  return fromArgv([...command, ...strings(c.spec['args'])]) ?? { runForMs: 0 };
}

function restarts(policy: RestartPolicy, exitCode: number): boolean {
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

type ContainerView = { kind: 'running' } | { kind: 'backoff'; backoffMs: number } | { kind: 'exited' };

/**
 * Plays a container forward to `now`: exits, immediate first restart, later restarts after a back-off
 * that doubles to the max (reset when an instance ran longer than twice the max), as the kubelet does.
 */
export function advanceContainer(
  start: SimContainer,
  b: Behaviour,
  policy: RestartPolicy,
  backoff: { initialMs: number; maxMs: number },
  now: number,
): { c: SimContainer; view: ContainerView; wakeAt?: number } {
  let c = start;
  for (let guard = 0; guard < 10_000; guard++) {
    if (c.finishedAt === undefined || c.exitCode === undefined) {
      if (b.exitCode === undefined) return { c, view: { kind: 'running' } };
      const end = c.startedAt + b.runForMs;
      if (now < end) return { c, view: { kind: 'running' }, wakeAt: end };
      c = { ...c, finishedAt: end, exitCode: b.exitCode };
    }
    const finishedAt = c.finishedAt as number;
    const exitCode = c.exitCode as number;
    if (!restarts(policy, exitCode)) return { c, view: { kind: 'exited' } };
    const live = c.backoffMs > 0 && finishedAt - c.startedAt <= 2 * backoff.maxMs;
    const delay = live ? c.backoffMs : 0;
    if (now < finishedAt + delay)
      return { c, view: { kind: 'backoff', backoffMs: delay }, wakeAt: finishedAt + delay };
    c = {
      restartCount: c.restartCount + 1,
      startedAt: finishedAt + delay,
      backoffMs: live ? Math.min(c.backoffMs * 2, backoff.maxMs) : backoff.initialMs,
      last: { exitCode, startedAt: c.startedAt, finishedAt },
    };
  }
  // Hopelessly far behind (tiny back-off overrides, long outage): start afresh now.
  return { c: { ...c, startedAt: now, backoffMs: backoff.initialMs }, view: { kind: 'running' } };
}

/** RFC 3339, second precision (metav1.Time). */
export function simTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(v: unknown): number | undefined {
  const s = asStr(v);
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
}

/** `fake://<64 hex>`, the same for the same pod, container and restart. */
export function fakeContainerId(uid: string, name: string, restartCount: number): string {
  return `${fakeRuntimePrefix}${fakeHex(`${uid}/${name}/${restartCount}`, 64)}`;
}

/** `<repository>@sha256:<64 hex>`, a made-up digest that is the same for the same image reference. */
export function fakeImageId(image: string): string {
  const at = image.indexOf('@');
  if (at >= 0) return image;
  const lastSlash = image.lastIndexOf('/');
  const colon = image.indexOf(':', lastSlash + 1);
  const repo = colon < 0 ? image : image.slice(0, colon);
  return `${repo}@sha256:${fakeHex(`image/${image}`, 64)}`;
}

/** A pod the simulator has not seen yet: starting now, or as its status says after a simulator restart. */
export function adoptSimPod(pod: KubeObject, now: number, startDelayMs: number): SimPod {
  const status = podStatusOf(pod);
  const uid = podUid(pod);
  const podIP = isHostNetwork(pod) ? undefined : asStr(status['podIP']);
  const containers: Record<string, SimContainer> = {};
  const byName = new Map<string, Obj>();
  for (const cs of asArr(status['containerStatuses'])) {
    const o = asObj(cs);
    const name = asStr(o?.['name']);
    if (o !== undefined && name !== undefined) byName.set(name, o);
  }
  const backoff = restartBackoffPolicy(pod);
  for (const c of podContainers(pod, 'regular')) {
    const cs = byName.get(c.name);
    if (cs === undefined || !(asStr(cs['containerID']) ?? '').startsWith(fakeRuntimePrefix)) continue;
    const restartCount = asNum(cs['restartCount']) ?? 0;
    const state = asObj(cs['state']) ?? {};
    const lastT = asObj(asObj(cs['lastState'])?.['terminated']);
    const last =
      lastT === undefined
        ? undefined
        : {
            exitCode: asNum(lastT['exitCode']) ?? 0,
            startedAt: parseTime(lastT['startedAt']) ?? now,
            finishedAt: parseTime(lastT['finishedAt']) ?? now,
          };
    const running = asObj(state['running']);
    const terminated = asObj(state['terminated']);
    const waiting = asObj(state['waiting']);
    if (running !== undefined) {
      containers[c.name] = {
        restartCount,
        startedAt: parseTime(running['startedAt']) ?? now,
        backoffMs: restartCount > 0 ? backoff.initialMs : 0,
        ...(last === undefined ? {} : { last }),
      };
    } else if (terminated !== undefined) {
      containers[c.name] = {
        restartCount,
        startedAt: parseTime(terminated['startedAt']) ?? now,
        finishedAt: parseTime(terminated['finishedAt']) ?? now,
        exitCode: asNum(terminated['exitCode']) ?? 0,
        backoffMs: 0,
        ...(last === undefined ? {} : { last }),
      };
    } else if (waiting !== undefined && last !== undefined) {
      // In CrashLoopBackOff: the instance that exited is the "current" one, waiting for its restart.
      const m = /back-off (\S+) restarting/.exec(asStr(waiting['message']) ?? '');
      containers[c.name] = {
        restartCount,
        startedAt: last.startedAt,
        finishedAt: last.finishedAt,
        exitCode: last.exitCode,
        backoffMs: (m === null ? undefined : parseDuration(m[1] ?? '')) ?? backoff.initialMs,
      };
    }
  }
  const starts = Object.values(containers).map((c) => c.last?.startedAt ?? c.startedAt);
  if (starts.length === 0) {
    return {
      uid,
      seenAt: now,
      startAt: now + startDelayMs,
      containers,
      ...(podIP === undefined ? {} : { podIP }),
    };
  }
  const seenAt = parseTime(status['startTime']) ?? Math.min(...starts);
  return {
    uid,
    seenAt,
    startAt: Math.min(seenAt, ...starts),
    containers,
    ...(podIP === undefined ? {} : { podIP }),
  };
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
  const c: Obj = { type, status, lastProbeTime: null };
  c['lastTransitionTime'] =
    prev !== undefined && prev['status'] === status && typeof prev['lastTransitionTime'] === 'string'
      ? prev['lastTransitionTime']
      : simTime(now);
  if (reason !== undefined) c['reason'] = reason;
  if (message !== undefined) c['message'] = message;
  return c;
}

function terminated(
  uid: string,
  name: string,
  restartCount: number,
  exitCode: number,
  startedAt: number,
  finishedAt: number,
): Obj {
  return {
    terminated: {
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      containerID: fakeContainerId(uid, name, restartCount),
      startedAt: simTime(startedAt),
      finishedAt: simTime(finishedAt),
    },
  };
}

function probeDelayMs(spec: Obj, probe: 'readinessProbe' | 'startupProbe'): number | undefined {
  const p = asObj(spec[probe]);
  if (p === undefined) return undefined;
  return (asNum(p['initialDelaySeconds']) ?? 0) * 1000;
}

interface Rendered {
  status: Obj;
  ready: boolean;
  /** running, or waiting to be restarted */
  live: boolean;
  exitCode?: number;
}

/** The status of one regular container at `now` (`stoppedAt`: the pod was stopped for deletion then). */
function renderContainer(
  pod: KubeObject,
  c: PodContainer,
  sc: SimContainer | undefined,
  view: ContainerView | undefined,
  waitingReason: string,
  now: number,
  stoppedAt: number | undefined,
  wake: (t: number) => void,
): Rendered {
  const uid = podUid(pod);
  const base: Obj = { name: c.name, image: c.image, imageID: '' };
  if (sc === undefined || view === undefined) {
    return {
      status: {
        ...base,
        state: { waiting: { reason: waitingReason } },
        lastState: {},
        ready: false,
        restartCount: 0,
        started: false,
      },
      ready: false,
      live: true,
    };
  }
  const status: Obj = {
    ...base,
    imageID: fakeImageId(c.image),
    containerID: fakeContainerId(uid, c.name, sc.restartCount),
    restartCount: sc.restartCount,
  };
  const last =
    sc.last === undefined
      ? {}
      : terminated(uid, c.name, sc.restartCount - 1, sc.last.exitCode, sc.last.startedAt, sc.last.finishedAt);
  if (stoppedAt !== undefined) {
    // Stopped for deletion: a running instance ends now with 0 (it handled SIGTERM); an exited one stays as it ended.
    const running = view.kind === 'running';
    const exitCode = running ? 0 : (sc.exitCode ?? 0);
    status['state'] = terminated(
      uid,
      c.name,
      sc.restartCount,
      exitCode,
      sc.startedAt,
      running ? stoppedAt : (sc.finishedAt ?? stoppedAt),
    );
    status['lastState'] = last;
    status['ready'] = false;
    status['started'] = false;
    return { status, ready: false, live: false, exitCode };
  }
  switch (view.kind) {
    case 'running': {
      const startupMs = probeDelayMs(c.spec, 'startupProbe');
      const readinessMs = probeDelayMs(c.spec, 'readinessProbe');
      const startedBy = sc.startedAt + (startupMs ?? 0);
      const readyBy = Math.max(startedBy, sc.startedAt + (readinessMs ?? 0));
      const started = now >= startedBy;
      const neverReady = (pod.metadata.annotations ?? {})[simReadyAnnotation] === 'false';
      const ready = started && now >= readyBy && !neverReady;
      if (!started) wake(startedBy);
      else if (!ready && !neverReady) wake(readyBy);
      status['state'] = { running: { startedAt: simTime(sc.startedAt) } };
      status['lastState'] = last;
      status['ready'] = ready;
      status['started'] = started;
      return { status, ready, live: true };
    }
    case 'backoff': {
      const message = `back-off ${formatGoDuration(view.backoffMs)} restarting failed container=${c.name} pod=${podFullName(pod)}`;
      status['state'] = { waiting: { reason: 'CrashLoopBackOff', message } };
      status['lastState'] = terminated(
        uid,
        c.name,
        sc.restartCount,
        sc.exitCode ?? 0,
        sc.startedAt,
        sc.finishedAt ?? now,
      );
      status['ready'] = false;
      status['started'] = false;
      return { status, ready: false, live: true, exitCode: sc.exitCode ?? 0 };
    }
    case 'exited':
      status['state'] = terminated(
        uid,
        c.name,
        sc.restartCount,
        sc.exitCode ?? 0,
        sc.startedAt,
        sc.finishedAt ?? now,
      );
      status['lastState'] = last;
      status['ready'] = false;
      status['started'] = false;
      return { status, ready: false, live: false, exitCode: sc.exitCode ?? 0 };
  }
}

/** Phase from the containers, as the kubelet's getPhase (and the real agent's buildPodStatus). */
function phaseOf(policy: RestartPolicy, rendered: Rendered[]): string {
  if (rendered.some((r) => r.live)) return 'Running';
  const failed = rendered.some((r) => (r.exitCode ?? 0) !== 0);
  if (policy === 'Always') return 'Running';
  if (policy === 'OnFailure') return failed ? 'Running' : 'Succeeded';
  return failed ? 'Failed' : 'Succeeded';
}

/** The whole PodStatus for the simulator's view of the pod at `now`. */
export function renderSimPodStatus(input: {
  pod: KubeObject;
  sim: SimPod;
  views: Record<string, ContainerView>;
  now: number;
  hostIP: string;
  stoppedAt?: number;
  wake: (t: number) => void;
  blocked?: string;
}): Obj {
  const { pod, sim, now, hostIP } = input;
  const previous = podStatusOf(pod);
  const prevConditions = asArr(previous['conditions'])
    .map((c) => asObj(c))
    .filter((c): c is Obj => c !== undefined);
  const started = now >= sim.startAt && input.blocked === undefined;
  const inits = podContainers(pod, 'init');
  const regularSpecs = podContainers(pod, 'regular');
  const waitingReason = inits.length > 0 ? 'PodInitializing' : 'ContainerCreating';
  const rendered = regularSpecs.map((c) =>
    renderContainer(
      pod,
      c,
      sim.containers[c.name],
      input.views[c.name],
      waitingReason,
      now,
      input.stoppedAt,
      input.wake,
    ),
  );
  if (input.blocked !== undefined)
    for (const r of rendered)
      r.status['state'] = { waiting: { reason: 'ContainerCreating', message: input.blocked } };

  let phase: string;
  const prevPhase = previous['phase'];
  if (isTerminalPhase(prevPhase)) phase = prevPhase;
  else if (!started) phase = 'Pending';
  else phase = phaseOf(restartPolicy(pod), rendered);
  const terminal = isTerminalPhase(phase);

  const podIPs = isHostNetwork(pod) ? [hostIP] : sim.podIP === undefined ? [] : [sim.podIP];
  const notReady = regularSpecs.filter((_, i) => rendered[i]?.ready !== true).map((c) => c.name);
  const containersReady = notReady.length === 0 && !terminal;
  const readyReason = terminal ? 'PodCompleted' : 'ContainersNotReady';
  const readyMessage = terminal ? undefined : `containers with unready status: [${notReady.join(' ')}]`;
  const conditions: Obj[] = [
    condition(prevConditions, 'PodReadyToStartContainers', podIPs.length > 0, now),
    started || terminal || inits.length === 0
      ? condition(prevConditions, 'Initialized', true, now)
      : condition(
          prevConditions,
          'Initialized',
          false,
          now,
          'ContainersNotInitialized',
          `containers with incomplete status: [${inits.map((c) => c.name).join(' ')}]`,
        ),
    containersReady
      ? condition(prevConditions, 'Ready', true, now)
      : condition(prevConditions, 'Ready', false, now, readyReason, readyMessage),
    containersReady
      ? condition(prevConditions, 'ContainersReady', true, now)
      : condition(prevConditions, 'ContainersReady', false, now, readyReason, readyMessage),
    prevConditions.find((c) => c['type'] === 'PodScheduled') ??
      condition(prevConditions, 'PodScheduled', true, now),
  ];
  const status: Obj = { phase, conditions, hostIP, hostIPs: [{ ip: hostIP }] };
  if (podIPs.length > 0) {
    status['podIP'] = podIPs[0];
    status['podIPs'] = podIPs.map((ip) => ({ ip }));
  }
  status['startTime'] = asStr(previous['startTime']) ?? simTime(sim.seenAt);
  if (inits.length > 0) {
    // Init containers are not played out: they all complete, at once, when the pod starts.
    status['initContainerStatuses'] = inits.map((c) =>
      started
        ? {
            name: c.name,
            image: c.image,
            imageID: fakeImageId(c.image),
            containerID: fakeContainerId(podUid(pod), c.name, 0),
            state: terminated(podUid(pod), c.name, 0, 0, sim.startAt, sim.startAt),
            lastState: {},
            ready: true,
            restartCount: 0,
            started: false,
          }
        : {
            name: c.name,
            image: c.image,
            imageID: '',
            state: { waiting: { reason: 'PodInitializing' } },
            lastState: {},
            ready: false,
            restartCount: 0,
            started: false,
          },
    );
  }
  status['containerStatuses'] = rendered.map((r) => r.status);
  status['qosClass'] = asStr(previous['qosClass']) ?? podQosClass(pod.spec);
  return status;
}

/** One look at a pod: where its simulated life stands now, the status to report, what to do next. */
export function stepSimPod(input: SimStepInput): SimStepResult {
  const { pod, now } = input;
  let sim = input.sim;
  let wakeAt: number | undefined;
  const wake = (t: number): void => {
    if (t > now && (wakeAt === undefined || t < wakeAt)) wakeAt = t;
  };
  const terminalBefore = isTerminalPhase(podStatusOf(pod)['phase']);
  const blocked =
    sim.podIP === undefined && !isHostNetwork(pod) && !terminalBefore
      ? 'no free pod address on this node'
      : undefined;

  const deleting = pod.metadata.deletionTimestamp !== undefined;
  if (deleting && sim.terminatingAt === undefined) sim = { ...sim, terminatingAt: now };

  // Containers play forward from startAt (nothing runs before, or while no address could be given);
  // a pod being deleted is frozen at the moment the deletion was seen.
  const views: Record<string, ContainerView> = {};
  if (now >= sim.startAt && blocked === undefined && !terminalBefore) {
    const policy = restartPolicy(pod);
    const backoff = restartBackoffPolicy(pod);
    const until = Math.min(now, sim.terminatingAt ?? now);
    const containers: Record<string, SimContainer> = {};
    for (const c of podContainers(pod, 'regular')) {
      const from = sim.containers[c.name] ?? { restartCount: 0, startedAt: sim.startAt, backoffMs: 0 };
      const r = advanceContainer(from, containerBehaviour(pod, c), policy, backoff, until);
      containers[c.name] = r.c;
      views[c.name] = r.view;
      if (r.wakeAt !== undefined && !deleting) wake(r.wakeAt);
    }
    sim = { ...sim, containers };
  } else if (!terminalBefore && !deleting) {
    wake(blocked === undefined ? sim.startAt : now + 5_000);
  }

  if (deleting) {
    const terminatingAt = sim.terminatingAt ?? now;
    // Nothing runs (not started yet, or finished): nothing to stop.
    const running = Object.values(views).some((v) => v.kind !== 'exited');
    if (!running || terminalBefore) return { sim, deleteFromApi: true, releaseIp: true };
    const stopAt = terminatingAt + Math.min(deletionGraceSeconds(pod) * 1000, input.stopMaxMs);
    if (now < stopAt) return { sim, deleteFromApi: false, releaseIp: false, wakeAt: stopAt };
    const status = renderSimPodStatus({
      pod,
      sim,
      views,
      now,
      hostIP: input.hostIP,
      stoppedAt: stopAt,
      wake: () => undefined,
    });
    return { sim, status, deleteFromApi: true, releaseIp: true };
  }
  if (terminalBefore) return { sim, deleteFromApi: false, releaseIp: true };

  const status = renderSimPodStatus({
    pod,
    sim,
    views,
    now,
    hostIP: input.hostIP,
    wake,
    ...(blocked === undefined ? {} : { blocked }),
  });
  const terminal = isTerminalPhase(status['phase']);
  return {
    sim,
    status,
    deleteFromApi: false,
    releaseIp: terminal,
    ...(terminal || wakeAt === undefined ? {} : { wakeAt }),
  };
}
