// NodeSimulator: many simulated nodes in one process (kwok-style) for scale tests and capacity planning.
// It registers the Nodes, renews their Leases spread evenly over the lease interval, re-posts their status
// (Ready heartbeat) spread over the status interval, and plays the pods bound to them through the pure
// pod-sim state machine. One informer over all pods serves every node; status writes, lease renewals and
// deletions go through work queues with a bounded number of workers, and a pod's key is queued once however
// often it changes, so thousands of pods at once never flood the API server.
//
// Like the real agent it talks to the control plane only through the HTTP API. Killing the process stops
// the leases (the node-lifecycle controller then marks the nodes Unknown); starting it again with the same
// flags resumes the same nodes and adopts their pods from their status, restarting nothing.
import type { ApiClient } from '../../api/client/client.js';
import { Informer, listerWatcherFor, objectKey } from '../../api/client/informer.js';
import { isApiError } from '../../api/errors.js';
import { asStr } from '../../api/validation/access.js';
import type { KubeList, KubeObject } from '../../api/types.js';
import { systemClock, type Clock, type TimerHandle } from '../../machinery/clock.js';
import { Controller } from '../../machinery/controller.js';
import { forEachLimit } from '../../machinery/limit.js';
import { ExponentialBackoffRateLimiter } from '../../machinery/workqueue.js';
import { nodeLease } from '../node-status.js';
import {
  isHostNetwork,
  isTerminalPhase,
  podName,
  podNamespace,
  podSpec,
  podStatusOf,
  podUid,
} from '../pod/pod-view.js';
import { sameStatus } from '../pod/status.js';
import { PodIpPool } from './ip-pool.js';
import {
  simFleet,
  simNodeDrift,
  simNodeObject,
  simNodeStatus,
  simulatedLabel,
  type SimFleetSpec,
  type SimNode,
} from './nodes.js';
import { adoptSimPod, simTime, stepSimPod, type SimPod } from './pod-sim.js';
import { dueInWindow } from './schedule.js';

const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };
const leaseNamespace = 'kube-node-lease';

export interface SimulatorOptions {
  client: ApiClient;
  fleet: SimFleetSpec;
  /** Lease renewal period of every node (default 10 s, the kubelet's). */
  leaseIntervalMs?: number;
  /** Lease duration (default 4 × the interval, as the kubelet's 40 s for 10 s). */
  leaseDurationSeconds?: number;
  /** Node status (Ready heartbeat) period (default 60 s). */
  statusIntervalMs?: number;
  /** ContainerCreating → Running after this long (default 500 ms). */
  podStartDelayMs?: number;
  /** A deleted pod stops after min(its grace period, this) (default 1 s). */
  podStopMaxMs?: number;
  /**
   * Workers for pod writes and the least for lease renewals and registrations (default 16); lease and
   * status workers grow with the fleet (`periodicWorkers`).
   */
  concurrency?: number;
  clock?: Clock;
  log?: (line: string) => void;
  /** Period of the loop that hands out due lease renewals and status reports (default 100 ms). */
  tickMs?: number;
}

export interface SimulatorStats {
  nodes: number;
  /** How long registration took (create or resume every node and its lease), once done. */
  registeredInMs: number | undefined;
  created: number;
  resumed: number;
  leaseRenewals: number;
  leaseFailures: number;
  /** Sum and maximum of successful renewal round trips (ms), for the average over a window. */
  leaseLatencyTotalMs: number;
  leaseLatencyMaxMs: number;
  /** Renewals that were due while the node's previous one still waited or ran (the server is too slow). */
  leaseSkipped: number;
  statusReports: number;
  statusFailures: number;
  podStatusWrites: number;
  podDeletes: number;
  podFailures: number;
  /** Pods bound to this process's nodes that it tracks, and how many of them are Running. */
  pods: number;
  podsRunning: number;
}

type Conditions = Parameters<typeof simNodeStatus>[1];

interface NodeEntry {
  node: SimNode;
  uid: string | undefined;
  conditions: Conditions;
  pool: PodIpPool;
  /** A Node of that name exists and is not simulated: left alone. */
  foreign: boolean;
}

interface PodEntry {
  sim: SimPod;
  nodeName: string;
  ipReleased: boolean;
  phase: string;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function nodeNameOf(pod: KubeObject): string {
  return asStr(podSpec(pod)['nodeName']) ?? '';
}

function rv(obj: KubeObject): number {
  const n = Number(obj.metadata.resourceVersion ?? '0');
  return Number.isFinite(n) ? n : 0;
}

/**
 * Workers for per-node periodic work: enough requests in flight to keep its rate (nodes / interval) at a
 * 250 ms round trip, at least `min`, at most 256. 5,000 leases at 10 s: 125 in flight.
 */
export function periodicWorkers(nodes: number, intervalMs: number, min: number): number {
  const perSecond = nodes / Math.max(0.001, intervalMs / 1000);
  return Math.min(256, Math.max(min, Math.ceil(perSecond / 4)));
}

/** Every object of a collection, page by page. */
export async function listAll(
  client: ApiClient,
  ref: { apiVersion: string; kind: string },
  namespace: string | undefined,
  opts: { labelSelector?: string; fieldSelector?: string } = {},
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  let cont: string | undefined;
  do {
    const page: KubeList = await client.list(ref, namespace, { ...opts, limit: 500, continue: cont });
    out.push(...page.items);
    cont =
      page.metadata.continue !== undefined && page.metadata.continue !== ''
        ? page.metadata.continue
        : undefined;
  } while (cont !== undefined);
  return out;
}

export class NodeSimulator {
  private readonly client: ApiClient;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly leaseIntervalMs: number;
  private readonly leaseDurationSeconds: number;
  private readonly statusIntervalMs: number;
  private readonly podStartDelayMs: number;
  private readonly podStopMaxMs: number;
  private readonly concurrency: number;
  private readonly tickMs: number;
  private readonly entries: NodeEntry[];
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly pods = new Map<string, PodEntry>();
  /** Pods as this simulator last wrote them, until the informer catches up. */
  private readonly written = new Map<string, KubeObject>();
  private informer: Informer | undefined;
  private leaseCtl: Controller | undefined;
  private statusCtl: Controller | undefined;
  private podCtl: Controller | undefined;
  private timer: TimerHandle | undefined;
  /** Nodes whose renewal is queued or running. */
  private readonly leasePending = new Set<string>();
  private lastTick = 0;
  private stopped = false;
  private readonly counters = {
    created: 0,
    resumed: 0,
    leaseRenewals: 0,
    leaseFailures: 0,
    leaseLatencyTotalMs: 0,
    leaseLatencyMaxMs: 0,
    leaseSkipped: 0,
    statusReports: 0,
    statusFailures: 0,
    podStatusWrites: 0,
    podDeletes: 0,
    podFailures: 0,
  };
  private registeredInMs: number | undefined;
  private recentFailures = new Map<string, { count: number; last: string }>();
  private lastFailureLog = 0;

  constructor(opts: SimulatorOptions) {
    this.client = opts.client;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.leaseIntervalMs = opts.leaseIntervalMs ?? 10_000;
    this.leaseDurationSeconds =
      opts.leaseDurationSeconds ?? Math.max(1, Math.ceil((4 * this.leaseIntervalMs) / 1000));
    this.statusIntervalMs = opts.statusIntervalMs ?? 60_000;
    this.podStartDelayMs = opts.podStartDelayMs ?? 500;
    this.podStopMaxMs = opts.podStopMaxMs ?? 1_000;
    this.concurrency = Math.max(1, opts.concurrency ?? 16);
    this.tickMs = opts.tickMs ?? 100;
    this.entries = simFleet(opts.fleet).map((node) => ({
      node,
      uid: undefined,
      conditions: undefined,
      pool: new PodIpPool(node.firstPodIp, node.lastPodIp),
      foreign: false,
    }));
    for (const e of this.entries) this.nodes.set(e.node.name, e);
  }

  /** The simulated nodes (index order). */
  get nodeList(): readonly SimNode[] {
    return this.entries.map((e) => e.node);
  }

  stats(): SimulatorStats {
    let podsRunning = 0;
    for (const p of this.pods.values()) if (p.phase === 'Running') podsRunning++;
    return {
      nodes: this.entries.filter((e) => !e.foreign).length,
      registeredInMs: this.registeredInMs,
      ...this.counters,
      pods: this.pods.size,
      podsRunning,
    };
  }

  /** Registers (or resumes) every node with its lease, then starts the pod informer and the periodic loops. */
  async start(): Promise<void> {
    const began = this.clock.now();
    await this.registerAll();
    this.registeredInMs = this.clock.now() - began;

    const n = this.entries.length;
    this.leaseCtl = new Controller({
      name: 'sim-leases',
      clock: this.clock,
      workers: periodicWorkers(n, this.leaseIntervalMs, this.concurrency),
      // A failed renewal is tried again soon, then left to the next period.
      rateLimiter: new ExponentialBackoffRateLimiter({ baseDelayMs: 1000, maxDelayMs: this.leaseIntervalMs }),
      maxRetries: 2,
      sync: (name) =>
        this.withNode(name, (e) => this.renewLease(e)).finally(() => this.leasePending.delete(name)),
    });
    this.statusCtl = new Controller({
      name: 'sim-node-status',
      clock: this.clock,
      workers: periodicWorkers(n, this.statusIntervalMs, Math.max(2, Math.ceil(this.concurrency / 4))),
      rateLimiter: new ExponentialBackoffRateLimiter({ baseDelayMs: 1000, maxDelayMs: 10_000 }),
      maxRetries: 3,
      sync: (name) => this.withNode(name, (e) => this.reportStatus(e)),
    });
    this.podCtl = new Controller({
      name: 'sim-pods',
      clock: this.clock,
      workers: this.concurrency,
      rateLimiter: new ExponentialBackoffRateLimiter({ baseDelayMs: 200, maxDelayMs: 30_000 }),
      sync: (key) => this.syncPod(key),
    });

    const informer = new Informer(listerWatcherFor(this.client, podRef, undefined), {
      onError: (err) => {
        if (!(isApiError(err) && err.reason === 'ServiceUnavailable')) this.failure('pod watch', err);
      },
    });
    const mine = (pod: KubeObject): boolean => this.nodes.has(nodeNameOf(pod));
    informer.addEventHandler({
      onAdd: (pod) => {
        if (mine(pod)) this.podCtl?.enqueue(objectKey(pod));
      },
      onUpdate: (old, pod) => {
        if (mine(pod) || mine(old)) this.podCtl?.enqueue(objectKey(pod));
      },
      onDelete: (pod) => {
        const key = objectKey(pod);
        if (mine(pod) || this.pods.has(key)) this.podCtl?.enqueue(key);
      },
    });
    this.informer = informer;
    informer.start();
    await informer.waitForSync();
    this.podCtl.start();
    this.leaseCtl.start();
    this.statusCtl.start();
    this.lastTick = this.clock.now();
    this.schedule();
  }

  /** Stops the loops and waits for writes in flight. The Nodes stay (`removeSimulatedNodes` deletes them). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.informer?.stop();
    await Promise.all([this.leaseCtl?.stop(), this.statusCtl?.stop(), this.podCtl?.stop()]);
  }

  // ------------------------------------------------------------------ nodes

  private async registerAll(): Promise<void> {
    const existing = new Map<string, KubeObject>();
    for (const n of await listAll(this.client, nodeRef, undefined, {
      labelSelector: `${simulatedLabel}=true`,
    }))
      if (n.metadata.name !== undefined && this.nodes.has(n.metadata.name)) existing.set(n.metadata.name, n);
    let done = 0;
    const total = this.entries.length;
    const progressEvery = total >= 2000 ? 1000 : Infinity;
    // Registration (two writes a node) runs as wide as the renewals of a 10 s lease would.
    await forEachLimit(this.entries, periodicWorkers(total, 10_000, this.concurrency), async (e) => {
      for (let attempt = 0; ; attempt++) {
        if (this.stopped) return;
        try {
          await this.register(e, existing.get(e.node.name));
          if (!e.foreign) await this.renewLease(e);
          break;
        } catch (err) {
          if (attempt >= 5)
            throw new Error(`registering node ${e.node.name}: ${errorMessage(err)}`, { cause: err });
          await this.clock.sleep(500 * 2 ** attempt);
        }
      }
      done++;
      if (done % progressEvery === 0) this.log(`sim: registered ${done}/${total} nodes`);
    });
  }

  private async register(e: NodeEntry, current: KubeObject | undefined): Promise<void> {
    const now = simTime(this.clock.now());
    if (current === undefined) {
      try {
        const created = await this.client.create(nodeRef, undefined, simNodeObject(e.node, now));
        e.uid = created.metadata.uid;
        e.conditions = (created.status as { conditions?: Conditions } | undefined)?.conditions;
        this.counters.created++;
        return;
      } catch (err) {
        if (!(isApiError(err) && err.reason === 'AlreadyExists')) throw err;
      }
      current = await this.client.get(nodeRef, undefined, e.node.name);
      if ((current.metadata.labels ?? {})[simulatedLabel] !== 'true') {
        e.foreign = true;
        this.log(`sim: node ${e.node.name} exists and is not simulated; leaving it alone`);
        return;
      }
    }
    // Resuming: keep user labels and taints, restore ours, and say Ready again with a fresh heartbeat.
    e.uid = current.metadata.uid;
    e.conditions = (current.status as { conditions?: Conditions } | undefined)?.conditions;
    const drift = simNodeDrift(e.node, current);
    if (drift !== undefined) {
      await this.client.patch(nodeRef, undefined, e.node.name, 'merge', {
        metadata: { labels: drift.labels, annotations: drift.annotations },
        ...(drift.podCidr === undefined
          ? {}
          : { spec: { podCIDR: drift.podCidr, podCIDRs: [drift.podCidr] } }),
      });
    }
    await this.reportStatus(e);
    this.counters.resumed++;
  }

  private async withNode(name: string, fn: (e: NodeEntry) => Promise<void>): Promise<void> {
    const e = this.nodes.get(name);
    if (e === undefined || e.foreign || this.stopped) return;
    await fn(e);
  }

  /** One request per renewal: an unconditional PUT (this process is the lease's only holder), a create when missing. */
  private async renewLease(e: NodeEntry): Promise<void> {
    const began = this.clock.now();
    const lease = nodeLease(e.node.name, e.uid, this.leaseDurationSeconds, began);
    try {
      try {
        await this.client.update(leaseRef, leaseNamespace, lease);
      } catch (err) {
        if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
        await this.client.create(leaseRef, leaseNamespace, lease).catch((cerr: unknown) => {
          if (!(isApiError(cerr) && cerr.reason === 'AlreadyExists')) throw cerr;
        });
      }
      this.counters.leaseRenewals++;
      const took = this.clock.now() - began;
      this.counters.leaseLatencyTotalMs += took;
      this.counters.leaseLatencyMaxMs = Math.max(this.counters.leaseLatencyMaxMs, took);
    } catch (err) {
      this.counters.leaseFailures++;
      this.failure('lease renewal', err);
      throw err;
    }
  }

  /** The Ready heartbeat: an unconditional status write; a Node deleted by someone is registered again. */
  private async reportStatus(e: NodeEntry): Promise<void> {
    const status = simNodeStatus(e.node, e.conditions, simTime(this.clock.now()));
    try {
      await this.client.updateStatus(nodeRef, undefined, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: e.node.name },
        status,
      });
      e.conditions = (status as { conditions?: Conditions }).conditions;
      this.counters.statusReports++;
    } catch (err) {
      if (isApiError(err) && err.reason === 'NotFound') {
        this.log(`sim: node ${e.node.name} was deleted; registering it again`);
        e.conditions = undefined;
        await this.register(e, undefined);
        return;
      }
      this.counters.statusFailures++;
      this.failure('node status', err);
      throw err;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.tick();
      this.schedule();
    }, this.tickMs);
  }

  /** Hands out the lease renewals and status reports due since the last tick (a queued one is not queued twice). */
  private tick(): void {
    const now = this.clock.now();
    const from = this.lastTick;
    this.lastTick = now;
    const n = this.entries.length;
    const leases = this.leaseCtl;
    for (const i of dueInWindow(from, now, this.leaseIntervalMs, n)) {
      const e = this.entries[i];
      if (e === undefined || e.foreign || leases === undefined) continue;
      if (this.leasePending.has(e.node.name)) {
        this.counters.leaseSkipped++;
        continue;
      }
      this.leasePending.add(e.node.name);
      leases.enqueue(e.node.name);
    }
    // Status reports run half a lease period out of step with the renewals of the same node.
    const shift = this.leaseIntervalMs / 2;
    for (const i of dueInWindow(from + shift, now + shift, this.statusIntervalMs, n)) {
      const e = this.entries[i];
      if (e !== undefined && !e.foreign) this.statusCtl?.enqueue(e.node.name);
    }
  }

  // ------------------------------------------------------------------ pods

  private dropPod(key: string): void {
    const p = this.pods.get(key);
    this.written.delete(key);
    if (p === undefined) return;
    this.pods.delete(key);
    if (p.sim.podIP !== undefined && !p.ipReleased) this.nodes.get(p.nodeName)?.pool.release(p.sim.podIP);
  }

  /** The newest copy of a pod: the informer's, or the one this simulator wrote when the informer lags. */
  private currentPod(key: string): KubeObject | undefined {
    const cached = this.informer?.getByKey(key);
    const mine = this.written.get(key);
    if (cached === undefined || mine === undefined) {
      this.written.delete(key);
      return cached;
    }
    if (podUid(mine) === podUid(cached) && rv(mine) > rv(cached)) return mine;
    this.written.delete(key);
    return cached;
  }

  private async syncPod(key: string): Promise<void> {
    if (this.stopped) return;
    const pod = this.currentPod(key);
    const nodeName = pod === undefined ? '' : nodeNameOf(pod);
    const node = this.nodes.get(nodeName);
    if (pod === undefined || node === undefined || node.foreign) {
      this.dropPod(key);
      return;
    }
    let entry = this.pods.get(key);
    if (entry !== undefined && (entry.sim.uid !== podUid(pod) || entry.nodeName !== nodeName)) {
      this.dropPod(key);
      entry = undefined;
    }
    const now = this.clock.now();
    const terminal = isTerminalPhase(podStatusOf(pod)['phase']);
    if (entry === undefined) {
      const sim = adoptSimPod(pod, now, this.podStartDelayMs);
      entry = { sim, nodeName, ipReleased: terminal, phase: asStr(podStatusOf(pod)['phase']) ?? 'Pending' };
      // An address from before a restart stays the pod's, unless it is outside this node's block now.
      if (sim.podIP !== undefined && !terminal && !node.pool.claim(sim.podIP)) {
        const { podIP: _gone, ...rest } = sim;
        entry.sim = rest;
      }
      this.pods.set(key, entry);
    }
    if (
      entry.sim.podIP === undefined &&
      !isHostNetwork(pod) &&
      !terminal &&
      pod.metadata.deletionTimestamp === undefined
    ) {
      const ip = node.pool.allocate();
      if (ip !== undefined) {
        entry.sim = { ...entry.sim, podIP: ip };
        entry.ipReleased = false;
      }
    }
    const r = stepSimPod({
      pod,
      sim: entry.sim,
      now,
      hostIP: node.node.hostIP,
      stopMaxMs: this.podStopMaxMs,
    });
    entry.sim = r.sim;
    if (r.status !== undefined && !sameStatus(r.status, pod.status)) {
      const written = await this.writeStatus(key, pod, r.status);
      if (written === 'conflict') {
        // Someone else changed the pod; the informer brings the new version and we look again.
        this.podCtl?.queue.addAfter(key, 100);
        return;
      }
      if (written === 'gone') return;
    }
    if (r.status !== undefined) entry.phase = asStr(r.status['phase']) ?? entry.phase;
    if (r.releaseIp && !entry.ipReleased && entry.sim.podIP !== undefined) {
      node.pool.release(entry.sim.podIP);
      entry.ipReleased = true;
    }
    if (r.deleteFromApi) await this.finishDeletion(pod);
    if (r.wakeAt !== undefined) this.podCtl?.queue.addAfter(key, Math.max(1, r.wakeAt - now));
  }

  private async writeStatus(
    key: string,
    pod: KubeObject,
    status: Record<string, unknown>,
  ): Promise<'ok' | 'conflict' | 'gone'> {
    try {
      // The server takes only the status and the resourceVersion (the precondition) from a status write.
      const { name, uid, resourceVersion } = pod.metadata;
      const written = await this.client.updateStatus(podRef, podNamespace(pod), {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          namespace: podNamespace(pod),
          ...(name === undefined ? {} : { name }),
          ...(uid === undefined ? {} : { uid }),
          ...(resourceVersion === undefined ? {} : { resourceVersion }),
        },
        status,
      });
      this.counters.podStatusWrites++;
      if (podUid(written) === podUid(pod)) this.written.set(key, written);
      return 'ok';
    } catch (err) {
      if (isApiError(err) && err.reason === 'NotFound') return 'gone';
      if (isApiError(err) && err.reason === 'Conflict') return 'conflict';
      this.counters.podFailures++;
      this.failure('pod status', err);
      throw err;
    }
  }

  /** As the real agent: DELETE with grace 0 and the pod's uid as precondition, so a new pod of that name survives. */
  private async finishDeletion(pod: KubeObject): Promise<void> {
    try {
      await this.client.delete(podRef, podNamespace(pod), podName(pod), {
        gracePeriodSeconds: 0,
        preconditions: { uid: podUid(pod) },
      });
      this.counters.podDeletes++;
    } catch (err) {
      if (isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict')) return;
      this.counters.podFailures++;
      this.failure('pod deletion', err);
      throw err;
    }
  }

  /** Failures are counted and logged at most once per 10 s per kind, so a server outage is a few lines, not thousands. */
  private failure(what: string, err: unknown): void {
    const entry = this.recentFailures.get(what) ?? { count: 0, last: '' };
    entry.count++;
    entry.last = errorMessage(err);
    this.recentFailures.set(what, entry);
    const now = this.clock.now();
    if (now - this.lastFailureLog < 10_000) return;
    this.lastFailureLog = now;
    for (const [kind, f] of this.recentFailures)
      this.log(`sim: ${f.count} ${kind} failure${f.count === 1 ? '' : 's'} (last: ${f.last})`);
    this.recentFailures = new Map();
  }
}

/** Deletes the fleet's Nodes (only simulated ones), their Leases, and the pods bound to them (grace 0: no agent will finish them). */
export async function removeSimulatedNodes(
  client: ApiClient,
  fleet: Pick<SimFleetSpec, 'count' | 'prefix'>,
  opts: { concurrency?: number } = {},
): Promise<{ nodes: number; leases: number; pods: number }> {
  const names = new Set(Array.from({ length: fleet.count }, (_, i) => `${fleet.prefix}-${i}`));
  const limit = Math.max(1, opts.concurrency ?? 16);
  const nodes = (await listAll(client, nodeRef, undefined, { labelSelector: `${simulatedLabel}=true` }))
    .map((n) => n.metadata.name ?? '')
    .filter((name) => names.has(name));
  const pods = (await listAll(client, podRef, undefined)).filter((p) => names.has(nodeNameOf(p)));
  const ignoreGone = (err: unknown): void => {
    if (!(isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict'))) throw err;
  };
  let podCount = 0;
  await forEachLimit(pods, limit, async (p) => {
    await client
      .delete(podRef, podNamespace(p), podName(p), {
        gracePeriodSeconds: 0,
        preconditions: { uid: podUid(p) },
      })
      .then(() => podCount++, ignoreGone);
  });
  let leases = 0;
  let deleted = 0;
  await forEachLimit(nodes, limit, async (name) => {
    await client.delete(leaseRef, leaseNamespace, name).then(() => leases++, ignoreGone);
    await client.delete(nodeRef, undefined, name).then(() => deleted++, ignoreGone);
  });
  return { nodes: deleted, leases, pods: podCount };
}
