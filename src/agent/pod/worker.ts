// PodWorker: one serialized loop per pod. Each pass observes (runtime containers, network, probes),
// asks podStep what to do, executes the actions against the ports, records events as the kubelet does
// and writes the pod status when it changed. A pass runs on a wake-up (pod update, probe change,
// actions done) or every pollIntervalMs; errors are logged and retried, never thrown out of the loop.

import type { ApiClient } from '../../api/client/client.js';
import { imageTag } from '../../api/kinds/pod.js';
import { isApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { asArr, asNum, asObj, type Obj } from '../../api/validation/access.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import type { EventRecorder } from '../../machinery/event-recorder.js';
import type { AgentMetrics } from '../../machinery/prom/index.js';
import { ImageError, type ImageInfo, type ImageService, type PullPolicy } from '../image/types.js';
import type { PodNetwork, PodNetworkStatus, HostPortMapping } from '../network/types.js';
import type { EndpointDrainer } from '../proxy/proxy.js';
import { isRuntimeError } from '../runtime/errors.js';
import type { ContainerRuntime, ContainerStatus } from '../runtime/types.js';
import {
  isHostNetwork,
  isTerminalPhase,
  podStatusOf,
  podContainers,
  podName,
  podNamespace,
  podUid,
  type PodContainer,
} from './pod-view.js';
import { PodProber, runLifecycleHook } from './probes.js';
import type { ObjectLookup, PodContext, PreparedPod, SpecBuilder } from './spec-builder.js';
import { buildPodStatus, sameStatus } from './status.js';
import { podStep, type BackoffRecord, type PodAction, type StartFailure, type Waiting } from './step.js';

/** FLOTILLA_AGENT_DEBUG=1 logs every action a pod worker takes. */
const debugActions = process.env['FLOTILLA_AGENT_DEBUG'] === '1';

export interface PodWorkerDeps {
  nodeName: string;
  hostIP: string;
  runtime: ContainerRuntime;
  images: ImageService;
  network: PodNetwork;
  client: ApiClient;
  recorder: EventRecorder;
  clock: Clock;
  /** `<data-dir>/agent`; the pod dir is `<dataDir>/pods/<uid>`. */
  dataDir: string;
  cgroupRoot: string;
  clusterDns?: PodContext['clusterDns'];
  /** Every Service in the cluster (the agent's ServiceView), for service environment variables. */
  services?: PodContext['services'];
  log: (msg: string) => void;
  specBuilder: SpecBuilder;
  lookup: ObjectLookup;
  /** The runtime's containers of one pod, as they are now. */
  listContainers: (podUid: string) => Promise<ContainerStatus[]>;
  pollIntervalMs: number;
  /**
   * Graceful endpoint removal: before the containers of a deleting pod are stopped, wait (at most
   * timeoutMs) until the Service datapath sends its IPs no new connections.
   */
  endpointDrain?: { drainer: EndpointDrainer; timeoutMs: number };
  /** Pod start latency and image pulls (Prometheus, the agent's /metrics). */
  metrics?: AgentMetrics;
}

/** Every regular container of the pod has started (it runs, or ran and exited). */
export function allContainersStarted(pod: KubeObject, containers: readonly ContainerStatus[]): boolean {
  const wanted = podContainers(pod, 'regular');
  return (
    wanted.length > 0 &&
    wanted.every((w) =>
      containers.some(
        (c) =>
          c.labels.kind === 'regular' &&
          c.labels.containerName === w.name &&
          (c.state === 'running' || (c.state === 'exited' && c.startedAt !== undefined)),
      ),
    )
  );
}

const podRef = { apiVersion: 'v1', kind: 'Pod' } as const;

/** A container created while its pod's network was being set up, to start once the pod has its IP. */
interface EarlyContainer {
  c: PodContainer;
  id: string;
  imageId: string;
}
/** Pull failures back off 10 s doubling to 300 s (the kubelet's image back-off). */
const pullBackoff = { initialMs: 10_000, maxMs: 300_000 };
/** Config/create failures are retried sooner: a missing ConfigMap is often created a moment later. */
const configBackoff = { initialMs: 1_000, maxMs: 30_000 };
/** The kubelet's minimum grace after a preStop hook used part of it. */
const minimumGraceSeconds = 2;
/** A new pod's first status, while it is only being set up, waits until this long after the pod was seen. */
const startStatusHoldMs = 2000;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function humanDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
}

/** Actions of one kind may run at the same time; removing containers and tearing the network down are one kind. */
function parallelKind(type: PodAction['type'] | undefined): string | undefined {
  return type === 'removeContainer' || type === 'tearDownNetwork' ? 'teardown' : type;
}

export class PodWorker {
  private pod: KubeObject;
  private removed: boolean;
  private stopped = false;
  private network: PodNetworkStatus | undefined;
  private networkChecked = false;
  private prepared: PreparedPod | undefined;
  private backoff: Record<string, BackoffRecord> = {};
  private startFailures: Record<string, StartFailure> = {};
  private overlay: Record<string, Waiting> = {};
  private readonly announced = new Set<string>();
  private readonly imageIds: Record<string, string> = {};
  private readonly imageLookups = new Set<string>();
  private readonly prober: PodProber;
  private holdUntil = 0;
  private holdMs = 0;
  private woken = false;
  private wakeup: (() => void) | undefined;
  private lastContainers: ContainerStatus[] = [];
  /**
   * Status writes run beside the next pass (a pod's start does not wait for the API round trip of its
   * intermediate status): one in flight, the newest waiting; `queued` is the last status handed over.
   */
  private readonly statusWrites: {
    running?: Promise<void> | undefined;
    next?: Obj | undefined;
    queued?: Obj | undefined;
  } = {};
  private drainAsked = false;
  /** Aborts the hold of a first status (holdFor) when something waits for the writes. */
  private statusHold: AbortController | undefined;
  /** When this worker first saw the pod, for the pod start latency. */
  private readonly seenAt: number;
  /** This worker started a regular container (adopted pods are not counted as started by us). */
  private startedContainer = false;
  private startCounted = false;
  /** Resolves when the loop ended: stop() was called, or the pod was fully cleaned up (`finished`). */
  readonly done: Promise<void>;
  finished = false;

  constructor(
    private readonly deps: PodWorkerDeps,
    pod: KubeObject,
    opts: { removed?: boolean } = {},
  ) {
    this.pod = pod;
    this.removed = opts.removed === true;
    this.seenAt = deps.clock.now();
    if (debugActions) deps.log(`${new Date().toISOString()} pod ${this.describe()}: worker started`);
    this.prober = new PodProber({
      runtime: deps.runtime,
      clock: deps.clock,
      recorder: deps.recorder,
      onChange: () => this.wake(),
    });
    this.done = this.run();
  }

  get uid(): string {
    return podUid(this.pod);
  }

  /** At least one of the pod's containers runs (as last observed). */
  running(): boolean {
    return this.lastContainers.some((c) => c.state === 'running');
  }

  /** A newer version of the pod (informer add/update). */
  update(pod: KubeObject): void {
    if (podUid(pod) !== this.uid) return;
    this.setPod(pod);
    this.wake();
  }

  private setPod(pod: KubeObject): void {
    const rv = (o: KubeObject): number => Number(o.metadata.resourceVersion ?? '0');
    if (Number.isNaN(rv(pod)) || Number.isNaN(rv(this.pod)) || rv(pod) >= rv(this.pod)) this.pod = pod;
  }

  /** The pod is gone from the API: stop its containers and clean up, without the final API delete. */
  markRemoved(pod?: KubeObject): void {
    if (pod !== undefined && podUid(pod) === this.uid) this.pod = pod;
    this.removed = true;
    this.wake();
  }

  wake(): void {
    this.woken = true;
    this.wakeup?.();
  }

  /** Stops the loop and the probes; containers keep running. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.prober.stop();
    this.wake();
    await this.done;
  }

  private async run(): Promise<void> {
    let immediate = 0;
    while (!this.stopped) {
      let progressed = false;
      let wakeAt: number | undefined;
      try {
        const r = await this.sync(immediate < 20);
        if (r.done) {
          this.finished = true;
          break;
        }
        progressed = r.progressed;
        wakeAt = r.wakeAt;
      } catch (err: unknown) {
        this.deps.log(`pod ${this.describe()}: ${errorMessage(err)}`);
      }
      if (this.stopped) break;
      // Progress: look again at once (bounded, so a no-op action can never spin).
      if (progressed && immediate < 20) {
        immediate++;
        continue;
      }
      immediate = 0;
      await this.sleep(wakeAt);
    }
    this.prober.stop();
    await this.statusWritesDone();
  }

  private async sleep(wakeAt: number | undefined): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return;
    }
    const { clock } = this.deps;
    let ms = this.deps.pollIntervalMs;
    if (wakeAt !== undefined) ms = Math.min(ms, Math.max(0, wakeAt - clock.now()));
    let handle: TimerHandle | undefined;
    await new Promise<void>((resolve) => {
      this.wakeup = resolve;
      handle = clock.setTimeout(resolve, ms);
    });
    this.wakeup = undefined;
    if (handle !== undefined) clock.clearTimeout(handle);
    this.woken = false;
  }

  private describe(): string {
    return `${podNamespace(this.pod)}/${podName(this.pod)}`;
  }

  private podDir(): string {
    return `${this.deps.dataDir}/pods/${this.uid}`;
  }

  private cgroupParent(): string {
    return `${this.deps.cgroupRoot}/pod${this.uid}`;
  }

  private podIPs(): string[] {
    if (isHostNetwork(this.pod)) return [this.deps.hostIP];
    return this.network?.ips ?? [];
  }

  private context(): PodContext {
    const ctx: PodContext = {
      pod: this.pod,
      nodeName: this.deps.nodeName,
      hostIP: this.deps.hostIP,
      podIPs: this.podIPs(),
      podDir: this.podDir(),
      cgroupParent: this.cgroupParent(),
    };
    if (!isHostNetwork(this.pod) && this.network !== undefined) ctx.netnsPath = this.network.netnsPath;
    if (this.deps.clusterDns !== undefined) {
      ctx.clusterDns = this.deps.clusterDns;
      if (this.deps.clusterDns.clusterDomain !== undefined)
        ctx.clusterDomain = this.deps.clusterDns.clusterDomain;
    }
    if (this.deps.services !== undefined) ctx.services = this.deps.services;
    return ctx;
  }

  private async observe(): Promise<ContainerStatus[]> {
    const mine = await this.deps.listContainers(this.uid);
    this.lastContainers = mine;
    for (const c of mine) {
      if (this.imageIds[c.imageId] !== undefined || this.imageLookups.has(c.imageId)) continue;
      this.imageLookups.add(c.imageId);
      try {
        const info = await this.deps.images.get(c.imageId);
        if (info !== undefined) this.rememberImage(info);
      } catch {
        // status shows the image id
      }
    }
    return mine;
  }

  private rememberImage(info: ImageInfo): void {
    this.imageIds[info.id] = info.repoDigests[0] ?? info.id;
  }

  /**
   * One pass. `again`: a pass that makes progress is followed at once by another, which writes the status
   * after this pass's actions; this pass then writes the status before them (a pod shows ContainerCreating
   * while its image is pulled) and not after, so the next pass's fresher status does not queue behind it.
   */
  private async sync(again: boolean): Promise<{ done: boolean; progressed: boolean; wakeAt?: number }> {
    const pod = this.pod;
    const { clock } = this.deps;
    const terminating = this.removed || pod.metadata.deletionTimestamp !== undefined;
    const containers = await this.observe();
    if (!isHostNetwork(pod) && !this.networkChecked) {
      // Adoption: a network set up before an agent restart is used as it is.
      this.network = await this.deps.network.status(this.uid);
      this.networkChecked = true;
    }
    const desiredHashes: Record<string, string> = {};
    for (const c of [...podContainers(pod, 'init'), ...podContainers(pod, 'regular')]) {
      desiredHashes[c.name] = this.deps.specBuilder.containerSpecHash(c.spec);
    }
    this.prober.sync(pod, terminating ? [] : containers, this.podIPs()[0]);
    const probes = this.prober.results();
    const now = clock.now();
    const res = podStep({
      pod,
      removed: this.removed,
      containers,
      network: this.network === undefined ? undefined : { ips: this.network.ips },
      prepared: this.prepared !== undefined,
      desiredHashes,
      probes,
      backoff: this.backoff,
      startFailures: this.startFailures,
      now,
    });
    this.backoff = res.backoff;
    this.announce(res.notices);

    this.overlay = {};
    let allOk = true;
    const actions = res.actions.filter(
      (a) => !((a.type === 'setUpNetwork' || a.type === 'preparePod') && now < this.holdUntil),
    );
    // A deleting pod's last steps (kill, API delete) wait for the status write in flight.
    if (res.terminating && actions.length > 0) await this.statusWritesDone();
    const writeFirst = again && !res.terminating && !this.removed && actions.length > 0;
    if (writeFirst && !isTerminalPhase(podStatusOf(pod)['phase'])) {
      await this.writeStatus(containers, res.waiting, res.initialized, res.initFailed);
    }
    if (res.terminating && actions.some((a) => a.type === 'killContainer')) await this.drainEndpoints();
    // Consecutive actions of one kind run together: containers start in parallel, and a deleted pod's
    // containers are removed while its network is torn down (neither needs the other).
    for (let i = 0; i < actions.length;) {
      const type = actions[i]?.type;
      const kind = parallelKind(type);
      let j = i;
      while (j < actions.length && parallelKind(actions[j]?.type) === kind) j++;
      const group = actions.slice(i, j);
      const results = await Promise.all(group.map((a) => this.execute(a)));
      if (results.includes(false)) {
        allOk = false;
        // While terminating, nothing further runs after a failure: the API delete comes only once all is clean.
        if (res.terminating || type === 'setUpNetwork' || type === 'preparePod' || type === 'deleteFromApi')
          break;
      }
      i = j;
    }
    const after = actions.length > 0 ? await this.observe() : containers;
    this.countStart(after, res.terminating);
    // A terminal pod whose containers are gone (cleaned up before an agent restart) keeps its last status.
    const keepTerminal = isTerminalPhase(podStatusOf(pod)['phase']) && after.length === 0;
    // A failure's reason (ErrImagePull, RunContainerError) is known only to this pass: written after all,
    // and not merged away by the next pass's status (the write before the actions goes first).
    const failureShown = Object.keys(this.overlay).length > 0;
    const deferred = writeFirst && allOk && !failureShown;
    if (writeFirst && failureShown) await this.statusWritesDone();
    if (!this.removed && !(res.done && allOk) && !keepTerminal && !deferred) {
      await this.writeStatus(after, { ...res.waiting, ...this.overlay }, res.initialized, res.initFailed);
    }
    const out: { done: boolean; progressed: boolean; wakeAt?: number } = {
      done: res.done && allOk,
      progressed: actions.length > 0 && allOk,
    };
    if (res.wakeAt !== undefined) out.wakeAt = res.wakeAt;
    if (actions.length < res.actions.length) out.wakeAt = Math.min(out.wakeAt ?? Infinity, this.holdUntil);
    return out;
  }

  /** Once per pod this worker started: the start latency from first sight to every container started. */
  private countStart(containers: readonly ContainerStatus[], terminating: boolean): void {
    const metrics = this.deps.metrics;
    if (metrics === undefined || this.startCounted || !this.startedContainer || terminating) return;
    if (!allContainersStarted(this.pod, containers)) return;
    this.startCounted = true;
    metrics.podStarted(this.deps.clock.now() - this.seenAt);
  }

  private announce(notices: ReturnType<typeof podStep>['notices']): void {
    for (const n of notices) {
      if (this.announced.has(n.key)) continue;
      this.announced.add(n.key);
      if (n.kind === 'restart') {
        this.deps.recorder.record(this.pod, 'Warning', 'BackOff', n.message);
      } else {
        this.deps.recorder.record(this.pod, 'Normal', 'BackOff', n.message);
        this.deps.recorder.record(this.pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      }
    }
    if (this.announced.size > 1000) this.announced.clear();
  }

  private hold(): void {
    this.holdMs = this.holdMs === 0 ? 1000 : Math.min(this.holdMs * 2, 30_000);
    this.holdUntil = this.deps.clock.now() + this.holdMs;
  }

  private async execute(action: PodAction): Promise<boolean> {
    if (!debugActions) return this.executeAction(action);
    const started = Date.now();
    this.deps.log(`${new Date(started).toISOString()} pod ${this.describe()}: ${JSON.stringify(action)}`);
    const ok = await this.executeAction(action);
    this.deps.log(
      `${new Date().toISOString()} pod ${this.describe()}: ${action.type} ${ok ? 'done' : 'failed'} in ${Date.now() - started} ms`,
    );
    return ok;
  }

  private async executeAction(action: PodAction): Promise<boolean> {
    try {
      switch (action.type) {
        case 'setUpNetwork':
          return await this.setUpNetwork();
        case 'preparePod':
          return await this.preparePod();
        case 'startContainer':
          return await this.startContainer(action.name, action.kind, action.attempt);
        case 'killContainer':
          await this.killContainer(action);
          return true;
        case 'removeContainer': {
          const c = this.lastContainers.find((x) => x.id === action.id);
          await this.deps.runtime.removeContainer(action.id);
          if (c !== undefined) this.deps.images.release(c.imageId, c.id);
          return true;
        }
        case 'tearDownNetwork':
          await this.deps.network.tearDown(this.uid);
          this.network = undefined;
          return true;
        case 'cleanupPod':
          await this.deps.specBuilder.cleanupPodDir(this.podDir());
          await this.deps.runtime.removePodCgroup(this.cgroupParent());
          this.prepared = undefined;
          return true;
        case 'deleteFromApi':
          return await this.deleteFromApi();
      }
    } catch (err: unknown) {
      this.deps.log(`pod ${this.describe()}: ${action.type} failed: ${errorMessage(err)}`);
      return false;
    }
  }

  private async setUpNetwork(): Promise<boolean> {
    const hostPorts: HostPortMapping[] = [];
    for (const c of podContainers(this.pod, 'regular')) {
      for (const p of asArr(c.spec['ports'])) {
        const o = asObj(p);
        const hostPort = asNum(o?.['hostPort']);
        const containerPort = asNum(o?.['containerPort']);
        if (o === undefined || hostPort === undefined || hostPort <= 0 || containerPort === undefined)
          continue;
        const proto = o['protocol'];
        const m: HostPortMapping = {
          hostPort,
          containerPort,
          protocol: proto === 'UDP' || proto === 'SCTP' ? proto : 'TCP',
        };
        if (typeof o['hostIP'] === 'string' && o['hostIP'] !== '') m.hostIP = o['hostIP'];
        hostPorts.push(m);
      }
    }
    const early = this.earlyStartContainers();
    let namespaceReady: (netnsPath: string | undefined) => void = () => undefined;
    const namespace = new Promise<string | undefined>((resolve) => (namespaceReady = resolve));
    const setUp = this.deps.network.setUp(
      {
        podUid: this.uid,
        podName: podName(this.pod),
        podNamespace: podNamespace(this.pod),
        hostPorts,
      },
      early.length > 0 ? { namespaceReady } : undefined,
    );
    // Without the hook (a network set up before) nothing waits for the namespace.
    setUp.then(
      () => namespaceReady(undefined),
      () => namespaceReady(undefined),
    );
    let preparing: Promise<PreparedPod | undefined> = Promise.resolve(undefined);
    let created: Promise<EarlyContainer[]> = Promise.resolve([]);
    if (early.length > 0) {
      const netnsPath = this.deps.network.namespacePath(this.uid);
      // runc joins the namespace by its path: the containers' processes wait until it exists.
      const inNamespace = namespace.then((path) => {
        if (path !== netnsPath) throw new Error(`the pod's network namespace ${netnsPath} was not created`);
      });
      inNamespace.catch(() => undefined);
      const ctx = { ...this.context(), netnsPath, podIPs: [] };
      preparing = this.deps.specBuilder.preparePod(ctx, this.deps.lookup).catch(() => undefined);
      created = preparing.then((prepared) =>
        prepared === undefined ? [] : this.createEarly(ctx, prepared, early, inNamespace),
      );
    }
    try {
      this.network = await setUp;
      this.holdMs = 0;
    } catch (err: unknown) {
      await this.discardEarly(await created);
      this.deps.recorder.record(
        this.pod,
        'Warning',
        'FailedCreatePodSandBox',
        `Failed to create pod sandbox: ${errorMessage(err)}`,
      );
      this.hold();
      return false;
    }
    const prepared = await preparing;
    if (prepared === undefined) {
      // preparePod runs as its own step, which reports a failure; anything created early is not used.
      await this.discardEarly(await created);
      return true;
    }
    try {
      // The pod IP into /etc/hosts, while the containers may still be being created (rewritten in place).
      await this.deps.specBuilder.refreshPodFiles(this.context());
    } catch (err: unknown) {
      this.deps.log(`pod ${this.describe()}: pod files with the pod IP: ${errorMessage(err)}`);
      await this.discardEarly(await created);
      return true;
    }
    this.prepared = prepared;
    const ready = await created;
    await Promise.all(ready.map(({ c, id }) => this.startInstance(c, id)));
    return true;
  }

  /**
   * The containers a fresh pod can create while its network is set up: podStep's next steps would be
   * preparePod and then starting every regular container at attempt 0, and nothing in them needs the pod IP
   * except /etc/hosts, which is rewritten in place before they start. Not for pods with init containers,
   * containers already there (adoption, restarts), earlier failures, or env from `status.podIP(s)`.
   */
  private earlyStartContainers(): PodContainer[] {
    const pod = this.pod;
    if (this.removed || pod.metadata.deletionTimestamp !== undefined || isHostNetwork(pod)) return [];
    if (this.prepared !== undefined || this.lastContainers.length > 0) return [];
    if (Object.keys(this.startFailures).length > 0) return [];
    if (podContainers(pod, 'init').length > 0) return [];
    const regulars = podContainers(pod, 'regular');
    const wantsPodIP = regulars.some((c) =>
      asArr(c.spec['env']).some((e) => {
        const path = asObj(asObj(asObj(e)?.['valueFrom'])?.['fieldRef'])?.['fieldPath'];
        return typeof path === 'string' && path.startsWith('status.podIP');
      }),
    );
    return wantsPodIP ? [] : regulars;
  }

  /**
   * Before the pod has an IP: its containers, created with their files and rootfs ready while the namespace
   * is being made, and their processes once it exists (`inNamespace`).
   */
  private async createEarly(
    ctx: PodContext,
    prepared: PreparedPod,
    containers: PodContainer[],
    inNamespace: Promise<void>,
  ): Promise<EarlyContainer[]> {
    const made = await Promise.all(
      containers.map(async (c) => {
        const info = await this.resolveImage(c);
        if (info === undefined) return undefined;
        const id = await this.createInstance(c, 0, info, ctx, prepared, inNamespace);
        return id === undefined ? undefined : { c, id, imageId: info.id };
      }),
    );
    return made.filter((m) => m !== undefined);
  }

  /** Containers created early that will not be started (the network or the pod files failed): removed, so the
   * next attempt starts afresh. */
  private async discardEarly(ready: EarlyContainer[]): Promise<void> {
    this.prepared = undefined;
    for (const { id, imageId } of ready) {
      try {
        await this.deps.runtime.removeContainer(id);
        this.deps.images.release(imageId, id);
      } catch (err: unknown) {
        this.deps.log(`pod ${this.describe()}: removing container ${id}: ${errorMessage(err)}`);
      }
    }
  }

  private async preparePod(): Promise<boolean> {
    try {
      this.prepared = await this.deps.specBuilder.preparePod(this.context(), this.deps.lookup);
      this.holdMs = 0;
      return true;
    } catch (err: unknown) {
      this.deps.recorder.record(this.pod, 'Warning', 'FailedMount', errorMessage(err));
      this.hold();
      return false;
    }
  }

  private fail(
    c: PodContainer,
    reason: StartFailure['reason'],
    message: string,
    backoff: typeof pullBackoff,
  ): void {
    const prev = this.startFailures[c.name];
    const backoffMs =
      prev !== undefined && prev.image === c.image && prev.reason === reason
        ? Math.min(prev.backoffMs * 2, backoff.maxMs)
        : backoff.initialMs;
    this.startFailures[c.name] = { image: c.image, reason, message, at: this.deps.clock.now(), backoffMs };
    this.overlay[c.name] = { reason, message };
  }

  /** Pull (per policy), build the spec, create, start, then the postStart hook. */
  private async startContainer(name: string, kind: 'regular' | 'init', attempt: number): Promise<boolean> {
    const c = podContainers(this.pod, kind).find((x) => x.name === name);
    if (c === undefined || this.prepared === undefined) return false;
    const info = await this.resolveImage(c);
    if (info === undefined) return false;
    const id = await this.createInstance(c, attempt, info, this.context(), this.prepared);
    if (id === undefined) return false;
    return this.startInstance(c, id);
  }

  /** 1. The image, per pull policy: its info, or undefined after recording the failure. */
  private async resolveImage(c: PodContainer): Promise<ImageInfo | undefined> {
    const { recorder, images, clock, specBuilder } = this.deps;
    const pod = this.pod;
    const image = c.image;
    const policyRaw = c.spec['imagePullPolicy'];
    const policy: PullPolicy =
      policyRaw === 'Always' || policyRaw === 'Never' || policyRaw === 'IfNotPresent'
        ? policyRaw
        : imageTag(image) === 'latest'
          ? 'Always'
          : 'IfNotPresent';
    let info: ImageInfo;
    let pullStarted: number | undefined;
    try {
      const present = policy === 'Always' ? undefined : await images.get(image);
      if (present !== undefined) {
        info = present;
        recorder.record(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
      } else if (policy === 'Never') {
        throw new ImageError('NotPresent', `image "${image}" is not present`);
      } else {
        const { credentials, warnings } = await specBuilder.pullCredentials(pod, this.deps.lookup);
        for (const w of warnings) recorder.record(pod, 'Warning', 'FailedToRetrieveImagePullSecret', w);
        recorder.record(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
        const started = clock.now();
        pullStarted = started;
        info = await images.ensureImage(image, policy, { credentials });
        this.deps.metrics?.imagePulled('success', clock.now() - started);
        pullStarted = undefined;
        const took = humanDuration(clock.now() - started);
        recorder.record(
          pod,
          'Normal',
          'Pulled',
          `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${info.size} bytes.`,
        );
      }
      this.rememberImage(info);
      return info;
    } catch (err: unknown) {
      if (pullStarted !== undefined) this.deps.metrics?.imagePulled('failure', clock.now() - pullStarted);
      const reason = (err as { reason?: unknown }).reason;
      if (err instanceof Error && err.name === 'ImageError' && reason === 'NotPresent') {
        const message = `Container image "${image}" is not present with pull policy of Never`;
        recorder.record(pod, 'Warning', 'ErrImageNeverPull', message);
        recorder.record(pod, 'Warning', 'Failed', 'Error: ErrImageNeverPull');
        this.fail(c, 'ErrImageNeverPull', message, pullBackoff);
      } else {
        const message = `Failed to pull image "${image}": ${errorMessage(err)}`;
        recorder.record(pod, 'Warning', 'Failed', message);
        recorder.record(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
        this.fail(c, 'ErrImagePull', message, pullBackoff);
      }
      return undefined;
    }
  }

  /** 2. The spec, 3. create: the new container's id, or undefined after recording the failure. */
  private async createInstance(
    c: PodContainer,
    attempt: number,
    info: ImageInfo,
    ctx: PodContext,
    prepared: PreparedPod,
    after?: Promise<void>,
  ): Promise<string | undefined> {
    const { recorder, images, runtime, specBuilder } = this.deps;
    const pod = this.pod;
    const id = specBuilder.newContainerId(this.uid, c.name, attempt);
    try {
      const spec = await specBuilder.buildContainerSpec({
        ctx,
        prepared,
        container: c.spec,
        kind: c.kind,
        attempt,
        id,
        image: info,
        lookup: this.deps.lookup,
      });
      spec.labels = {
        podUid: this.uid,
        podName: podName(pod),
        podNamespace: podNamespace(pod),
        containerName: c.name,
        attempt,
        kind: c.kind,
        specHash: specBuilder.containerSpecHash(c.spec),
      };
      await runtime.createContainer(spec, after === undefined ? {} : { after });
    } catch (err: unknown) {
      // Called off because the pod's network did not come: setUpNetwork reports that, not the container.
      if (isRuntimeError(err) && err.code === 'Cancelled') return undefined;
      const reason = (err as { reason?: unknown }).reason;
      const r =
        reason === 'CreateContainerConfigError' ? 'CreateContainerConfigError' : 'CreateContainerError';
      const message = errorMessage(err);
      recorder.record(pod, 'Warning', 'Failed', `Error: ${message}`);
      this.fail(c, r, message, configBackoff);
      return undefined;
    }
    delete this.startFailures[c.name];
    images.markUsed(info.id, id);
    recorder.record(pod, 'Normal', 'Created', `Created container: ${c.name}`);
    return id;
  }

  /** 4. start, 5. the postStart hook. */
  private async startInstance(c: PodContainer, id: string): Promise<boolean> {
    const { recorder, runtime, clock } = this.deps;
    const pod = this.pod;
    const name = c.name;
    try {
      await runtime.startContainer(id);
    } catch (err: unknown) {
      const message = `failed to start container "${name}": ${errorMessage(err)}`;
      recorder.record(pod, 'Warning', 'Failed', `Error: ${message}`);
      this.overlay[name] = { reason: 'RunContainerError', message };
      return false;
    }
    recorder.record(pod, 'Normal', 'Started', `Started container ${name}`);

    // The container does not count as running until its postStart hook returned.
    const postStart = asObj(asObj(c.spec['lifecycle'])?.['postStart']);
    if (postStart !== undefined) {
      const grace = asNum((pod.spec as Obj | undefined)?.['terminationGracePeriodSeconds']) ?? 30;
      const failure = await runLifecycleHook(
        postStart,
        { podIP: this.podIPs()[0], containerId: id, container: c.spec, containerName: name, pod },
        { runtime, clock },
        Math.max(grace, minimumGraceSeconds) * 1000,
      );
      if (failure !== undefined) {
        recorder.record(pod, 'Warning', 'FailedPostStartHook', failure);
        recorder.record(pod, 'Normal', 'Killing', `FailedPostStartHook`);
        await runtime.stopContainer(id, Math.max(grace, minimumGraceSeconds));
        return false;
      }
    }
    if (c.kind === 'regular') this.startedContainer = true;
    return true;
  }

  /**
   * Once per deleting pod, before its first container is stopped: wait until no Service datapath sends the
   * pod new connections (its endpoint turned terminating), bounded by the drain timeout. No preStop sleep
   * needed. Host-network pods share the node's address with others and are not waited for.
   */
  private async drainEndpoints(): Promise<void> {
    const drain = this.deps.endpointDrain;
    if (drain === undefined || this.drainAsked || isHostNetwork(this.pod)) return;
    this.drainAsked = true;
    const ips = this.podIPs();
    if (ips.length === 0) return;
    try {
      const r = await drain.drainer.drained(ips, drain.timeoutMs);
      this.deps.log(
        `pod ${this.describe()}: ${r.drained ? 'endpoints drained' : 'endpoint drain timed out'} after ${r.waitedMs} ms (${r.detail}); stopping containers`,
      );
    } catch (err: unknown) {
      this.deps.log(`pod ${this.describe()}: endpoint drain failed: ${errorMessage(err)}`);
    }
  }

  /** Killing event, preStop bounded by the grace period, then SIGTERM and SIGKILL after what is left. */
  private async killContainer(a: Extract<PodAction, { type: 'killContainer' }>): Promise<void> {
    const { recorder, runtime, clock } = this.deps;
    const pod = this.pod;
    recorder.record(pod, 'Normal', 'Killing', a.message);
    const started = clock.now();
    const observed = this.lastContainers.find((c) => c.id === a.id);
    const kind = observed?.labels.kind ?? 'regular';
    const spec = podContainers(pod, kind).find((c) => c.name === a.name)?.spec;
    const preStop = asObj(asObj(spec?.['lifecycle'])?.['preStop']);
    let grace = a.gracePeriodSeconds;
    if (preStop !== undefined && spec !== undefined && observed?.state === 'running' && grace > 0) {
      const failure = await runLifecycleHook(
        preStop,
        { podIP: this.podIPs()[0], containerId: a.id, container: spec, containerName: a.name, pod },
        { runtime, clock },
        grace * 1000,
      );
      if (failure !== undefined) recorder.record(pod, 'Warning', 'FailedPreStopHook', failure);
      const used = Math.ceil((clock.now() - started) / 1000);
      grace = Math.max(grace - used, minimumGraceSeconds);
    }
    await runtime.stopContainer(a.id, grace);
  }

  private async deleteFromApi(): Promise<boolean> {
    try {
      await this.deps.client.delete(podRef, podNamespace(this.pod), podName(this.pod), {
        gracePeriodSeconds: 0,
        preconditions: { uid: this.uid },
      });
      return true;
    } catch (err: unknown) {
      // Gone already, or a different pod by that name now: either way ours is gone.
      if (isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict')) return true;
      throw err;
    }
  }

  private async writeStatus(
    containers: ContainerStatus[],
    waiting: Record<string, Waiting>,
    initialized: boolean,
    initFailed: boolean,
  ): Promise<void> {
    const status = buildPodStatus({
      pod: this.pod,
      hostIP: this.deps.hostIP,
      podIPs: this.podIPs(),
      containers,
      probes: this.prober.results(),
      waiting,
      initialized,
      initFailed,
      imageIds: this.imageIds,
      now: this.deps.clock.now(),
    });
    const w = this.statusWrites;
    if (sameStatus(status, w.running !== undefined ? w.queued : this.pod.status)) return;
    w.queued = status;
    w.next = status;
    // A held first status gives way at once to one that is not held (it runs, or it failed).
    if (this.statusHold !== undefined && this.holdFor(status) === 0) this.statusHold.abort();
    w.running ??= this.flushStatus();
  }

  /** The status writes handed over so far, sent (a held first status goes at once). */
  private async statusWritesDone(): Promise<void> {
    this.statusHold?.abort();
    await this.statusWrites.running;
  }

  /**
   * How long to hold this status back: a new pod's first status, while it is only being set up (Pending,
   * every container ContainerCreating or PodInitializing), waits until `startStatusHoldMs` after the
   * worker first saw the pod. When the pod runs by then, its Running status replaces it and one write
   * (with the API server's work and a watch event to every pod watcher) is saved; a slow start (an image
   * pull) still shows ContainerCreating after that long. A failure is never held.
   */
  private holdFor(status: Obj): number {
    if (this.removed || this.pod.metadata.deletionTimestamp !== undefined) return 0;
    // Only while the API has no container statuses of ours yet (the server itself sets phase Pending).
    if (status['phase'] !== 'Pending' || podStatusOf(this.pod)['containerStatuses'] !== undefined) return 0;
    const all = [
      ...((status['initContainerStatuses'] as Obj[] | undefined) ?? []),
      ...((status['containerStatuses'] as Obj[] | undefined) ?? []),
    ];
    const settingUp = all.every((c) => {
      const waiting = ((c['state'] as Obj | undefined)?.['waiting'] as Obj | undefined)?.['reason'];
      return waiting === 'ContainerCreating' || waiting === 'PodInitializing';
    });
    if (!settingUp) return 0;
    return Math.max(0, this.seenAt + startStatusHoldMs - this.deps.clock.now());
  }

  private async flushStatus(): Promise<void> {
    const w = this.statusWrites;
    try {
      for (let status = w.next; status !== undefined; status = w.next) {
        w.next = undefined;
        const hold = this.holdFor(status);
        if (hold > 0) {
          const ctl = (this.statusHold = new AbortController());
          await this.deps.clock.sleep(hold, ctl.signal).catch(() => undefined);
          this.statusHold = undefined;
          if (w.next !== undefined) continue; // a newer status replaces the held one
        }
        try {
          await this.sendStatus(status);
        } catch (err: unknown) {
          this.deps.log(`pod ${this.describe()}: status write failed: ${errorMessage(err)}`);
          w.queued = undefined; // the next pass compares with what the API has and tries again
          this.wake();
        }
      }
    } finally {
      w.running = undefined;
    }
  }

  private async sendStatus(status: Obj): Promise<void> {
    const ns = podNamespace(this.pod);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const sent = Date.now();
        const written = await this.deps.client.updateStatus(podRef, ns, { ...this.pod, status });
        if (debugActions)
          this.deps.log(
            `${new Date().toISOString()} pod ${this.describe()}: status written (phase ${String(status['phase'])}) in ${Date.now() - sent} ms`,
          );
        if (podUid(written) === this.uid) this.setPod(written);
        return;
      } catch (err: unknown) {
        if (!isApiError(err)) throw err;
        if (err.reason === 'NotFound') return; // the informer will tell us it is gone
        if (err.reason !== 'Conflict') throw err;
        const fresh = await this.deps.client.get(podRef, ns, podName(this.pod)).catch(() => undefined);
        if (fresh === undefined || podUid(fresh) !== this.uid) return;
        this.pod = fresh;
      }
    }
  }
}
