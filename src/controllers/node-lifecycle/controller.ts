// Node-lifecycle wiring: watches Nodes, their Leases in kube-node-lease and Pods; runs the pure
// decisions of reconcile.ts and writes what they ask for.
//
// Two kinds of queue keys:
//   `nodes`        one monitor pass over every node (reconcileNodes): health from leases and
//                  heartbeats, conditions to Unknown (PUT nodes/{name}/status), taints (merge patch of
//                  spec.taints with a resourceVersion precondition), zone states, the NoExecute rate
//                  limit. Runs every `nodeMonitorPeriodMs`, soon after any Node event, and sooner when a
//                  rate-limit token is due.
//   `pod:<ns>/<n>` one pod on a node that is not ready or has NoExecute taints (reconcilePod): mark it
//                  not ready (PUT pods/{name}/status), delete it now, or look again when its
//                  tolerationSeconds run out. Queued by pod events, by Node changes of Ready or
//                  NoExecute taints, and by every monitor pass for the pods of unhealthy nodes.
//
// The interfaces the server implements to run it:
//   InformerProvider: informers for v1 Node, v1 Pod and coordination.k8s.io/v1 Lease (all namespaces;
//   only kube-node-lease is read).
//   NodeLifecycleExecutor (below), e.g. over an ApiClient `c`:
//     updateNodeStatus: (node) => c.updateStatus(Node, undefined, node)
//     patchNode:        (name, patch) => c.patch(Node, undefined, name, 'merge', patch)
//     updatePodStatus:  (pod) => c.updateStatus(Pod, pod.metadata.namespace, pod)
//     deletePod:        (ns, name, uid) => c.delete(Pod, ns, name, { preconditions: { uid } })
//   Errors are thrown as ApiError; NotFound and Conflict are tolerated (the next pass decides again).

import { isApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller } from '../../machinery/controller.js';
import { describeError, MachineryError } from '../../machinery/errors.js';
import { nullEventRecorder, type EventRecorder } from '../../machinery/event-recorder.js';
import { forEachLimit } from '../../machinery/limit.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import type { InformerProvider, ObjectSource } from '../../machinery/object-source.js';
import {
  emptyMemory,
  excludeDisruptionLabel,
  nodeConditions,
  nodeTaints,
  readyStatusOf,
  reconcileNodes,
  reconcilePod,
  type NodeAction,
  type NodeLifecycleMemory,
  type NodeLifecycleSettings,
  type Taint,
  type TimedTaint,
  zoneOf,
} from './reconcile.js';

export interface NodeLifecycleExecutor {
  /** PUT nodes/{name}/status with this object (it carries its resourceVersion); resolves to the result. */
  updateNodeStatus(node: KubeObject): Promise<KubeObject>;
  /** Merge patch of the Node; `metadata.resourceVersion` in the patch is a precondition. */
  patchNode(name: string, mergePatch: Record<string, unknown>): Promise<unknown>;
  /** PUT pods/{name}/status with this object. */
  updatePodStatus(pod: KubeObject): Promise<unknown>;
  /** Graceful DELETE of the pod (its own grace period), with a uid precondition. */
  deletePod(namespace: string, name: string, uid: string): Promise<unknown>;
}

/** The tunables, also the server's flags. Durations in milliseconds, rates in nodes per second. */
export interface NodeLifecycleOptions {
  /** `--node-monitor-grace-period`: a node silent this long becomes Unknown. Default 20 s. */
  nodeMonitorGracePeriodMs?: number;
  /** `--node-startup-grace-period`: the same for a node that never reported Ready. Default 60 s. */
  nodeStartupGracePeriodMs?: number;
  /** `--node-monitor-period`: how often every node is looked at. Default 2 s. */
  nodeMonitorPeriodMs?: number;
  /** `--node-eviction-rate`: nodes per second tainted NoExecute (pods evicted) per zone. Default 0.1. */
  evictionRate?: number;
  /** `--secondary-node-eviction-rate`: the rate in a partially disrupted large zone. Default 0.01. */
  secondaryEvictionRate?: number;
  /** `--unhealthy-zone-threshold`: fraction of not-ready nodes making a zone partially disrupted. Default 0.55. */
  unhealthyZoneThreshold?: number;
  /** `--large-cluster-size-threshold`: zones above this many nodes keep evicting when partially disrupted. Default 50. */
  largeClusterThreshold?: number;
}

export const defaultNodeLifecycleOptions: Required<NodeLifecycleOptions> = {
  nodeMonitorGracePeriodMs: 20_000,
  nodeStartupGracePeriodMs: 60_000,
  nodeMonitorPeriodMs: 2_000,
  evictionRate: 0.1,
  secondaryEvictionRate: 0.01,
  unhealthyZoneThreshold: 0.55,
  largeClusterThreshold: 50,
};

export interface NodeLifecycleControllerOptions extends NodeLifecycleOptions {
  informers: InformerProvider;
  executor: NodeLifecycleExecutor;
  clock: Clock;
  logger?: Logger;
  /** Events: NodeNotReady/NodeReady on nodes, NodeNotReady and TaintManagerEviction on pods. */
  recorder?: EventRecorder;
  /** Default 2. */
  workers?: number;
  /** Delay from a Node event to the pass it triggers. Default 50 ms. */
  debounceMs?: number;
}

/** Resolve options against the defaults; throws on values that make no sense. */
export function nodeLifecycleSettings(options: NodeLifecycleOptions): NodeLifecycleSettings & {
  monitorPeriodMs: number;
} {
  const o = { ...defaultNodeLifecycleOptions, ...stripUndefined(options) };
  const positive = (name: string, v: number): void => {
    if (!Number.isFinite(v) || v <= 0)
      throw new MachineryError('InvalidKey', `${name} must be a positive number, got ${v}`, {
        transient: false,
      });
  };
  const nonNegative = (name: string, v: number): void => {
    if (!Number.isFinite(v) || v < 0)
      throw new MachineryError('InvalidKey', `${name} must be zero or more, got ${v}`, { transient: false });
  };
  positive('nodeMonitorGracePeriodMs', o.nodeMonitorGracePeriodMs);
  positive('nodeStartupGracePeriodMs', o.nodeStartupGracePeriodMs);
  positive('nodeMonitorPeriodMs', o.nodeMonitorPeriodMs);
  nonNegative('evictionRate', o.evictionRate);
  nonNegative('secondaryEvictionRate', o.secondaryEvictionRate);
  nonNegative('largeClusterThreshold', o.largeClusterThreshold);
  if (!(o.unhealthyZoneThreshold > 0 && o.unhealthyZoneThreshold <= 1))
    throw new MachineryError(
      'InvalidKey',
      `unhealthyZoneThreshold must be in (0, 1], got ${o.unhealthyZoneThreshold}`,
      { transient: false },
    );
  return {
    gracePeriodMs: o.nodeMonitorGracePeriodMs,
    startupGracePeriodMs: o.nodeStartupGracePeriodMs,
    monitorPeriodMs: o.nodeMonitorPeriodMs,
    evictionRate: o.evictionRate,
    secondaryEvictionRate: o.secondaryEvictionRate,
    unhealthyZoneThreshold: o.unhealthyZoneThreshold,
    largeClusterThreshold: o.largeClusterThreshold,
  };
}

function stripUndefined(o: NodeLifecycleOptions): NodeLifecycleOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function infoFor(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined)
    throw new MachineryError('InvalidKey', `${kind} is missing from the resource table`, {
      transient: false,
    });
  return info;
}

const nodesKey = 'nodes';
const podPrefix = 'pod:';
const leaseNamespace = 'kube-node-lease';

function podKey(pod: KubeObject): string {
  return `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
}

function nodeNameOf(pod: KubeObject): string | undefined {
  const spec = pod.spec as { nodeName?: unknown } | undefined;
  return typeof spec?.nodeName === 'string' && spec.nodeName !== '' ? spec.nodeName : undefined;
}

function noExecuteSignature(node: KubeObject | undefined): string {
  if (node === undefined) return '';
  const taints = nodeTaints(node).filter((t) => t.effect === 'NoExecute');
  return `${readyStatusOf(node) ?? ''}|${JSON.stringify(taints)}`;
}

/** What a monitor pass reads from a node, heartbeats excluded. */
function passSignature(node: KubeObject): string {
  const labels = node.metadata.labels ?? {};
  return JSON.stringify([
    (node.spec as { unschedulable?: unknown } | undefined)?.unschedulable === true,
    nodeTaints(node),
    nodeConditions(node).map((c) => [c.type, c.status]),
    zoneOf(node),
    labels[excludeDisruptionLabel] !== undefined,
  ]);
}

export class NodeLifecycleController {
  private readonly nodeSource: ObjectSource;
  private readonly leaseSource: ObjectSource;
  private readonly podSource: ObjectSource;
  private readonly executor: NodeLifecycleExecutor;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly recorder: EventRecorder;
  private readonly settings: NodeLifecycleSettings & { monitorPeriodMs: number };
  private readonly debounceMs: number;
  private readonly controller: Controller;
  private memory: NodeLifecycleMemory = emptyMemory();
  // Indexes kept from informer events (ObjectSource has no lookup by key).
  private readonly nodes = new Map<string, KubeObject>();
  private readonly pods = new Map<string, KubeObject>();
  private readonly podsByNode = new Map<string, Set<string>>();
  /** Pods with an eviction scheduled, and when (for the cancel event). */
  private readonly scheduled = new Map<string, number>();
  /** When NoExecute taints without timeAdded were first seen (`node\0key\0value`). */
  private readonly taintFirstSeen = new Map<string, number>();
  private unsubscribe: (() => void)[] = [];
  private tickTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: NodeLifecycleControllerOptions) {
    this.nodeSource = options.informers.informerFor(infoFor('v1', 'Node'));
    this.leaseSource = options.informers.informerFor(infoFor('coordination.k8s.io/v1', 'Lease'));
    this.podSource = options.informers.informerFor(infoFor('v1', 'Pod'));
    this.executor = options.executor;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.recorder = options.recorder ?? nullEventRecorder;
    this.settings = nodeLifecycleSettings(options);
    this.debounceMs = options.debounceMs ?? 50;
    this.controller = new Controller({
      name: 'node-lifecycle',
      clock: options.clock,
      logger: this.logger,
      workers: options.workers ?? 2,
      sync: (key) => (key === nodesKey ? this.syncNodes() : this.syncPod(key.slice(podPrefix.length))),
    });
  }

  start(): void {
    this.controller.start();
    this.unsubscribe.push(
      this.nodeSource.addEventHandler({
        onAdd: (n) => this.onNode(undefined, n),
        onUpdate: (old, n) => this.onNode(old, n),
        onDelete: (n) => {
          this.nodes.delete(n.metadata.name ?? '');
          this.controller.queue.addAfter(nodesKey, this.debounceMs);
        },
      }),
      this.podSource.addEventHandler({
        onAdd: (p) => this.onPod(p),
        onUpdate: (_old, p) => this.onPod(p),
        onDelete: (p) => this.forgetPod(p),
      }),
    );
    this.controller.enqueue(nodesKey);
    this.scheduleTick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.tickTimer !== undefined) this.clock.clearTimeout(this.tickTimer);
    await this.controller.stop();
  }

  private scheduleTick(): void {
    if (this.stopped) return;
    this.tickTimer = this.clock.setTimeout(() => {
      this.controller.enqueue(nodesKey);
      this.scheduleTick();
    }, this.settings.monitorPeriodMs);
  }

  private onNode(old: KubeObject | undefined, node: KubeObject): void {
    const name = node.metadata.name ?? '';
    this.nodes.set(name, node);
    // Heartbeat-only status reports wait for the periodic pass: with many nodes they are most events.
    if (old === undefined || passSignature(old) !== passSignature(node))
      this.controller.queue.addAfter(nodesKey, this.debounceMs);
    // Ready or NoExecute taints changed: its pods may need marking, evicting, or a cancelled eviction.
    if (noExecuteSignature(old) !== noExecuteSignature(node)) this.enqueuePodsOf(name);
  }

  private onPod(pod: KubeObject): void {
    const key = podKey(pod);
    const previous = this.pods.get(key);
    const oldNode = previous === undefined ? undefined : nodeNameOf(previous);
    const nodeName = nodeNameOf(pod);
    if (oldNode !== undefined && oldNode !== nodeName) this.podsByNode.get(oldNode)?.delete(key);
    this.pods.set(key, pod);
    if (nodeName === undefined) return;
    let set = this.podsByNode.get(nodeName);
    if (set === undefined) {
      set = new Set();
      this.podsByNode.set(nodeName, set);
    }
    set.add(key);
    const node = this.nodes.get(nodeName);
    if (
      node !== undefined &&
      (readyStatusOf(node) !== 'True' || nodeTaints(node).some((t) => t.effect === 'NoExecute'))
    )
      this.controller.enqueue(podPrefix + key);
    else if (this.scheduled.has(key)) this.controller.enqueue(podPrefix + key);
  }

  private forgetPod(pod: KubeObject): void {
    const key = podKey(pod);
    const nodeName = nodeNameOf(this.pods.get(key) ?? pod);
    if (nodeName !== undefined) this.podsByNode.get(nodeName)?.delete(key);
    this.pods.delete(key);
    this.scheduled.delete(key);
  }

  private enqueuePodsOf(nodeName: string): void {
    for (const key of this.podsByNode.get(nodeName) ?? []) this.controller.enqueue(podPrefix + key);
  }

  private synced(): boolean {
    return this.nodeSource.hasSynced() && this.leaseSource.hasSynced() && this.podSource.hasSynced();
  }

  /** One monitor pass over every node (the queue worker's function for `nodes`; exposed for tests). */
  async syncNodes(): Promise<void> {
    if (!this.synced()) {
      this.controller.queue.addAfter(nodesKey, 200);
      return;
    }
    const nowMs = this.clock.now();
    const leases = new Map<string, KubeObject>();
    for (const l of this.leaseSource.list())
      if (l.metadata.namespace === leaseNamespace && l.metadata.name !== undefined)
        leases.set(l.metadata.name, l);
    const nodes = this.nodeSource.list();
    const result = reconcileNodes({ nodes, leases, memory: this.memory, nowMs, settings: this.settings });
    // Observations are facts whether or not the writes succeed.
    this.memory = result.memory;
    this.forgetStaleTaints(nodes);

    for (const n of result.notices) this.logger.warn(n, { controller: 'node-lifecycle' });
    for (const e of result.events) this.recorder.record(e.node, e.type, e.reason, e.message);

    const failures: unknown[] = [];
    let again = false;
    const byName = new Map(nodes.map((n) => [n.metadata.name ?? '', n]));
    await forEachLimit(result.actions, 8, async (a) => {
      try {
        await this.applyNodeAction(a, byName.get(a.name));
      } catch (err: unknown) {
        if (isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound')) {
          again = true;
          return;
        }
        failures.push(err);
        this.logger.warn('could not update node', { node: a.name, error: describeError(err) });
      }
    });
    for (const name of result.unhealthy) this.enqueuePodsOf(name);
    if (again) this.controller.queue.addAfter(nodesKey, this.debounceMs);
    if (result.nextPassInMs !== undefined && result.nextPassInMs < this.settings.monitorPeriodMs)
      this.controller.queue.addAfter(nodesKey, Math.max(result.nextPassInMs, 10));
    if (failures.length > 0)
      throw new MachineryError('ActionsFailed', `${failures.length} node write(s) failed`, {
        cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
      });
  }

  private async applyNodeAction(a: NodeAction, cached: KubeObject | undefined): Promise<void> {
    let resourceVersion = cached?.metadata.resourceVersion;
    if (a.status !== undefined) {
      const written = await this.executor.updateNodeStatus(a.status);
      resourceVersion = written.metadata.resourceVersion ?? resourceVersion;
      this.logger.info('node stopped reporting: conditions set to Unknown', { node: a.name });
    }
    if (a.taints !== undefined) {
      await this.executor.patchNode(a.name, {
        metadata: resourceVersion === undefined ? {} : { resourceVersion },
        spec: { taints: a.taints.length === 0 ? null : a.taints },
      });
      this.logger.info('node taints updated', {
        node: a.name,
        taints: a.taints.map((t) => `${t.key}:${t.effect}`),
      });
    }
  }

  private forgetStaleTaints(nodes: readonly KubeObject[]): void {
    const live = new Set<string>();
    for (const n of nodes) for (const t of nodeTaints(n)) live.add(this.taintId(n.metadata.name ?? '', t));
    for (const k of this.taintFirstSeen.keys()) if (!live.has(k)) this.taintFirstSeen.delete(k);
  }

  private taintId(node: string, t: Taint): string {
    return `${node}\u0000${t.key}\u0000${t.value ?? ''}`;
  }

  /** One pod (the queue worker's function for `pod:<ns>/<name>`; exposed for tests). */
  async syncPod(key: string): Promise<void> {
    if (!this.synced()) {
      this.controller.queue.addAfter(podPrefix + key, 200);
      return;
    }
    const pod = this.pods.get(key);
    const nodeName = pod === undefined ? undefined : nodeNameOf(pod);
    const node = nodeName === undefined ? undefined : this.nodes.get(nodeName);
    if (pod === undefined || nodeName === undefined || node === undefined) {
      this.scheduled.delete(key);
      return;
    }
    const nowMs = this.clock.now();
    const noExecuteTaints: TimedTaint[] = nodeTaints(node)
      .filter((t) => t.effect === 'NoExecute')
      .map((taint) => ({ taint, sinceMs: this.taintSince(nodeName, taint, nowMs) }));
    const plan = reconcilePod({ pod, nodeReady: readyStatusOf(node), noExecuteTaints, nowMs });
    const name = `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;

    if (plan.status !== undefined) {
      try {
        await this.executor.updatePodStatus(plan.status);
        if (plan.markedNotReady) this.recorder.record(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
      } catch (err: unknown) {
        if (isApiError(err) && err.reason === 'NotFound') return;
        // A conflict means a newer pod is on its way: the update event queues the pod again. That holds
        // for an eviction too: deleting now would drop the DisruptionTarget condition that says why the
        // pod went (upstream also writes the condition before it deletes, or does not delete).
        if (!(isApiError(err) && err.reason === 'Conflict')) throw err;
        return;
      }
    }

    const wasScheduled = this.scheduled.has(key);
    switch (plan.eviction.type) {
      case 'none':
      case 'tolerated':
        if (wasScheduled) {
          this.scheduled.delete(key);
          this.recorder.record(pod, 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${name}`);
        }
        return;
      case 'at':
        this.scheduled.set(key, plan.eviction.atMs);
        this.controller.queue.addAfter(podPrefix + key, plan.eviction.atMs - nowMs);
        return;
      case 'now': {
        this.scheduled.delete(key);
        this.recorder.record(pod, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${name}`);
        this.logger.info('evicting pod from tainted node', {
          pod: name,
          node: nodeName,
          taint: `${plan.eviction.taint.key}:${plan.eviction.taint.effect}`,
        });
        try {
          await this.executor.deletePod(
            pod.metadata.namespace ?? '',
            pod.metadata.name ?? '',
            pod.metadata.uid ?? '',
          );
        } catch (err: unknown) {
          if (isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict')) return;
          throw err;
        }
        return;
      }
    }
  }

  private taintSince(node: string, taint: Taint, nowMs: number): number {
    const added = typeof taint.timeAdded === 'string' ? Date.parse(taint.timeAdded) : Number.NaN;
    if (Number.isFinite(added)) return added;
    const id = this.taintId(node, taint);
    const seen = this.taintFirstSeen.get(id);
    if (seen !== undefined) return seen;
    this.taintFirstSeen.set(id, nowMs);
    return nowMs;
  }
}
