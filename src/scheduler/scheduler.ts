// Scheduler: the I/O shell around the pure core (`schedulePod`). Informers on nodes and pods keep the
// SchedulerCache and the SchedulingQueue current; one loop pops a pod, asks the core for a node, assumes
// the pod there and binds it in the background (at most `maxBindsInFlight` binds at once), so the next
// pod is placed while earlier binds are on the wire.
//
// Outcomes, as kube-scheduler reports them:
// - Scheduled: POST pods/{name}/binding; a Normal `Scheduled` event "Successfully assigned ns/name to node".
//   A failed bind forgets the assumed pod, records `FailedScheduling` "binding rejected: ..." and retries
//   after a back-off.
// - Unschedulable: the pod's PodScheduled condition becomes False/Unschedulable with the core's message
//   (written only when it changed), a Warning `FailedScheduling` event carries the same message, and the
//   pod is parked until a cluster event may help.
// - Preemption (part of Unschedulable): `status.nominatedNodeName` is set on the pod, each victim gets a
//   DisruptionTarget condition, a `Preempted` event and a graceful delete; when the victims are gone the
//   pod-deleted event moves the pod back to the queue and it is tried again.
import type { ApiClient } from '../api/client/client.js';
import { Informer, listerWatcherFor } from '../api/client/informer.js';
import { isApiError } from '../api/errors.js';
import type { KubeObject } from '../api/types.js';
import { systemClock, type Clock } from '../machinery/clock.js';
import { describeError } from '../machinery/errors.js';
import { SinkEventRecorder, kubeTime, type EventRecorder } from '../machinery/event-recorder.js';
import { nullLogger, type Logger } from '../machinery/logger.js';
import { schedulePod, SchedulerCache, type ScheduleResult, type SchedulerProfile } from './core.js';
import { podKey, SchedulingQueue, type QueuedPod, type SchedulingQueueOptions } from './queue.js';

const podRef = { apiVersion: 'v1', kind: 'Pod' } as const;
const nodeRef = { apiVersion: 'v1', kind: 'Node' } as const;
const eventRef = { apiVersion: 'v1', kind: 'Event' } as const;
const namespaceRef = { apiVersion: 'v1', kind: 'Namespace' } as const;

export interface SchedulerOptions {
  client: ApiClient;
  profile: SchedulerProfile;
  clock?: Clock;
  /** Default: events written through `client`, source component = the profile's schedulerName. */
  recorder?: EventRecorder;
  logger?: Logger;
  /** Tie-breaking between equally scored nodes (default Math.random). */
  random?: () => number;
  /** Binds on the wire at once (default 16). */
  maxBindsInFlight?: number;
  /** Back-off and parking times of the queue (defaults 1 s, 10 s, 5 min). */
  queue?: Omit<SchedulingQueueOptions, 'clock'>;
  /**
   * Informers someone else owns (the controller manager's, in `flotilla server`): the scheduler adds its
   * handlers and starts them if needed, but never stops them, and must not modify their objects. Default:
   * its own, on `client`.
   */
  informers?: { nodes: Informer; pods: Informer; namespaces: Informer };
}

/** What a scheduling attempt led to; for tests and logs. */
export interface AttemptRecord {
  pod: string;
  result: ScheduleResult['kind'];
  nodeName?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function specOf(pod: KubeObject): Record<string, unknown> {
  const s = pod.spec;
  return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
}

function statusOf(obj: KubeObject): Record<string, unknown> {
  const s = obj.status;
  return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
}

export function nodeNameOf(pod: KubeObject): string | undefined {
  return str(specOf(pod)['nodeName']);
}

export function isTerminal(pod: KubeObject): boolean {
  const phase = statusOf(pod)['phase'];
  return phase === 'Succeeded' || phase === 'Failed';
}

/** The contract's rule: unbound, not being deleted, and for this scheduler (or for no one in particular). */
export function isOurs(pod: KubeObject, schedulerName: string): boolean {
  const name = str(specOf(pod)['schedulerName']);
  return (
    (name === undefined || name === schedulerName) &&
    nodeNameOf(pod) === undefined &&
    str(pod.metadata.deletionTimestamp) === undefined
  );
}

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  const list = statusOf(obj)['conditions'];
  if (!Array.isArray(list)) return undefined;
  return (list as Condition[]).find((c) => typeof c === 'object' && c !== null && c.type === type);
}

/** The parts of a node whose change may let a parked pod fit (heartbeats are not among them). */
function nodeSchedulingView(node: KubeObject): string {
  const spec = (node.spec ?? {}) as Record<string, unknown>;
  const status = statusOf(node);
  const conditions = Array.isArray(status['conditions'])
    ? (status['conditions'] as Condition[]).map((c) => `${c.type ?? ''}=${c.status ?? ''}`).sort()
    : [];
  return JSON.stringify([
    node.metadata.labels ?? {},
    spec['taints'] ?? [],
    spec['unschedulable'] === true,
    status['allocatable'] ?? {},
    conditions,
  ]);
}

/** Pods that a pod arriving on some node may help: inter-pod affinity, topology spread. */
function dependsOnOtherPods(pod: KubeObject): boolean {
  const spec = specOf(pod);
  const affinity = spec['affinity'];
  const spread = spec['topologySpreadConstraints'];
  return (
    (typeof affinity === 'object' && affinity !== null && 'podAffinity' in affinity) ||
    (Array.isArray(spread) && spread.length > 0)
  );
}

export class Scheduler {
  readonly cache = new SchedulerCache();
  readonly queue: SchedulingQueue;
  /** The last attempts (at most 1000), newest last. */
  readonly attempts: AttemptRecord[] = [];

  private readonly client: ApiClient;
  private readonly profile: SchedulerProfile;
  private readonly clock: Clock;
  private readonly recorder: EventRecorder;
  private readonly ownRecorder: SinkEventRecorder | undefined;
  private readonly logger: Logger;
  private readonly random: () => number;
  private readonly maxBinds: number;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  /** Namespace labels, for pod affinity terms with a namespaceSelector. */
  private readonly namespaces: Informer;
  /** The informers belong to someone else: leave them running at stop. */
  private readonly sharedInformers: boolean;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly abort = new AbortController();
  /** Binds, status writes and deletes still on the wire (awaited by stop). */
  private readonly pending = new Set<Promise<void>>();
  private bindsInFlight = 0;
  private slotWaiter: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private started = false;
  private stopped = false;

  constructor(options: SchedulerOptions) {
    this.client = options.client;
    this.profile = options.profile;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? nullLogger;
    this.random = options.random ?? Math.random;
    this.maxBinds = Math.max(1, options.maxBindsInFlight ?? 16);
    this.queue = new SchedulingQueue({ clock: this.clock, ...(options.queue ?? {}) });
    if (options.recorder !== undefined) {
      this.recorder = options.recorder;
    } else {
      const client = this.client;
      this.ownRecorder = new SinkEventRecorder({
        sink: {
          create: (ns, ev) => client.create(eventRef, ns, ev),
          update: (ns, ev) => client.update(eventRef, ns, ev),
        },
        clock: this.clock,
        component: this.profile.schedulerName,
        logger: this.logger,
      });
      this.recorder = this.ownRecorder;
    }
    const onError = (what: string) => (err: unknown) => {
      if (!(isApiError(err) && err.reason === 'ServiceUnavailable'))
        this.logger.warn(`scheduler: ${what} informer`, { error: describeError(err) });
    };
    this.sharedInformers = options.informers !== undefined;
    this.nodes =
      options.informers?.nodes ??
      new Informer(listerWatcherFor(this.client, nodeRef, undefined), { onError: onError('node') });
    this.pods =
      options.informers?.pods ??
      new Informer(listerWatcherFor(this.client, podRef, undefined), { onError: onError('pod') });
    this.namespaces =
      options.informers?.namespaces ??
      new Informer(listerWatcherFor(this.client, namespaceRef, undefined), { onError: onError('namespace') });
    this.unsubscribe.push(
      this.namespaces.addEventHandler({
        onAdd: (n) => this.cache.upsertNamespace(n),
        onUpdate: (o, n) => {
          this.cache.upsertNamespace(n);
          if (JSON.stringify(o.metadata.labels ?? {}) !== JSON.stringify(n.metadata.labels ?? {}))
            this.queue.moveAllToActiveOrBackoff(dependsOnOtherPods);
        },
        onDelete: (n) => this.cache.removeNamespace(n.metadata.name ?? ''),
      }),
    );
    this.unsubscribe.push(
      this.nodes.addEventHandler({
        onAdd: (n) => this.onNodeAdd(n),
        onUpdate: (o, n) => this.onNodeUpdate(o, n),
        onDelete: (n) => this.cache.removeNode(n.metadata.name ?? ''),
      }),
    );
    this.unsubscribe.push(
      this.pods.addEventHandler({
        onAdd: (p) => this.onPodAdd(p),
        onUpdate: (o, p) => this.onPodUpdate(o, p),
        onDelete: (p) => this.onPodDelete(p),
      }),
    );
  }

  /** Start the informers; the loop begins once both have listed. Resolves when it has begun. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.namespaces.start();
    this.nodes.start();
    this.pods.start();
    try {
      await Promise.all([this.namespaces.waitForSync(), this.nodes.waitForSync(), this.pods.waitForSync()]);
    } catch (err) {
      if (this.stopped) return;
      throw err;
    }
    if (this.stopped) return;
    this.logger.info('scheduler: started', {
      nodes: this.cache.nodeCount(),
      pending: this.queue.stats().active,
      scoringStrategy: this.profile.scoringStrategy,
    });
    this.loop = this.run();
  }

  /** Stop the loop and the informers; waits for binds and writes already on the wire. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    this.queue.close();
    this.slotWaiter?.();
    await this.loop;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    if (!this.sharedInformers) {
      this.namespaces.stop();
      this.nodes.stop();
      this.pods.stop();
    }
    await this.ownRecorder?.flush();
  }

  // ---- informer handlers: keep the cache and the queue current -------------------------------------

  private onNodeAdd(node: KubeObject): void {
    this.cache.upsertNode(node);
    this.queue.moveAllToActiveOrBackoff();
  }

  private onNodeUpdate(old: KubeObject, node: KubeObject): void {
    this.cache.upsertNode(node);
    if (nodeSchedulingView(old) !== nodeSchedulingView(node)) this.queue.moveAllToActiveOrBackoff();
  }

  private onPodAdd(pod: KubeObject): void {
    if (nodeNameOf(pod) !== undefined) {
      if (isTerminal(pod)) return;
      this.cache.upsertPod(pod);
      // Only pod affinity and topology spread can start to fit because a pod arrived somewhere.
      this.queue.moveAllToActiveOrBackoff(dependsOnOtherPods);
      return;
    }
    if (isOurs(pod, this.profile.schedulerName)) this.queue.add(pod);
  }

  private onPodUpdate(old: KubeObject, pod: KubeObject): void {
    if (nodeNameOf(pod) !== undefined) {
      if (nodeNameOf(old) === undefined) this.queue.delete(pod); // bound (by us or by someone else)
      if (isTerminal(pod)) {
        this.cache.removePod(pod);
        if (!isTerminal(old)) this.queue.moveAllToActiveOrBackoff(); // its node has room again
      } else {
        this.cache.upsertPod(pod);
      }
      return;
    }
    if (isOurs(pod, this.profile.schedulerName)) this.queue.update(pod);
    else this.queue.delete(pod);
  }

  private onPodDelete(pod: KubeObject): void {
    this.queue.delete(pod);
    if (nodeNameOf(pod) !== undefined) {
      this.cache.removePod(pod);
      this.queue.moveAllToActiveOrBackoff();
    }
  }

  // ---- the loop -----------------------------------------------------------------------------------

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      await this.bindSlot();
      if (signal.aborted) return;
      const info = await this.queue.pop(signal);
      if (info === undefined) return;
      try {
        this.scheduleOne(info);
      } catch (err) {
        this.logger.error('scheduler: attempt failed', { pod: info.key, error: describeError(err) });
        this.queue.requeueBackoff(info);
      }
      // Let informer events and bind answers in between attempts.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private bindSlot(): Promise<void> {
    if (this.bindsInFlight < this.maxBinds || this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      this.slotWaiter = () => {
        this.slotWaiter = undefined;
        resolve();
      };
    });
  }

  private note(record: AttemptRecord): void {
    this.attempts.push(record);
    if (this.attempts.length > 1000) this.attempts.splice(0, this.attempts.length - 1000);
  }

  private scheduleOne(info: QueuedPod): void {
    // The informer's copy is the newest; the pod may have been bound or deleted since it was queued.
    const latest = this.pods.get(info.pod.metadata.namespace, info.pod.metadata.name ?? '');
    if (latest === undefined || !isOurs(latest, this.profile.schedulerName)) {
      this.queue.done(info.key);
      return;
    }
    info.pod = latest;
    const result = schedulePod(latest, this.cache, this.profile, this.random);
    switch (result.kind) {
      case 'Scheduled':
        this.note({ pod: info.key, result: 'Scheduled', nodeName: result.nodeName });
        this.cache.assume(latest, result.nodeName);
        this.bindsInFlight++;
        this.track(this.bind(info, latest, result.nodeName));
        return;
      case 'Unschedulable':
        this.note({ pod: info.key, result: 'Unschedulable' });
        this.queue.requeueUnschedulable(info);
        this.recorder.record(latest, 'Warning', 'FailedScheduling', result.message);
        this.track(
          this.setPodScheduledFalse(latest, 'Unschedulable', result.message, result.preemption?.nodeName),
        );
        if (result.preemption !== undefined)
          this.track(this.preempt(latest, result.preemption.nodeName, result.preemption.victims));
        return;
    }
  }

  private track(p: Promise<void>): void {
    const tracked = p
      .catch((err: unknown) => this.logger.error('scheduler: write failed', { error: describeError(err) }))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private async bind(info: QueuedPod, pod: KubeObject, nodeName: string): Promise<void> {
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    try {
      await this.client.request(
        'POST',
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/binding`,
        {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, namespace },
          target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
        },
      );
      this.queue.done(info.key);
      this.recorder.record(
        pod,
        'Normal',
        'Scheduled',
        `Successfully assigned ${namespace}/${name} to ${nodeName}`,
      );
    } catch (err) {
      this.cache.forget(pod);
      // The room it held is free again for the others.
      this.queue.moveAllToActiveOrBackoff();
      if (isApiError(err) && err.reason === 'NotFound') {
        this.queue.done(info.key); // deleted meanwhile
        return;
      }
      const message = `binding rejected: ${err instanceof Error ? err.message : String(err)}`;
      this.logger.warn('scheduler: bind failed', {
        pod: info.key,
        node: nodeName,
        error: describeError(err),
      });
      this.queue.requeueBackoff(info);
      if (isApiError(err) && err.reason === 'Conflict') return; // bound by someone else, or stale: retry quietly
      this.recorder.record(pod, 'Warning', 'FailedScheduling', message);
      await this.setPodScheduledFalse(pod, 'SchedulerError', message, undefined);
    } finally {
      this.bindsInFlight--;
      this.slotWaiter?.();
    }
  }

  /** PodScheduled=False with the reason and message (and nominatedNodeName), only when they changed. */
  private async setPodScheduledFalse(
    pod: KubeObject,
    reason: string,
    message: string,
    nominatedNodeName: string | undefined,
  ): Promise<void> {
    const current = conditionOf(pod, 'PodScheduled');
    const nominatedNow = str(statusOf(pod)['nominatedNodeName']);
    const conditionSame =
      current !== undefined &&
      current.status === 'False' &&
      current.reason === reason &&
      current.message === message;
    const nominationSame = nominatedNodeName === undefined || nominatedNow === nominatedNodeName;
    if (conditionSame && nominationSame) return;
    const condition: Record<string, unknown> = {
      type: 'PodScheduled',
      status: 'False',
      reason,
      message,
      lastProbeTime: null,
      lastTransitionTime:
        current?.status === 'False'
          ? ((current as { lastTransitionTime?: string }).lastTransitionTime ?? kubeTime(this.clock.now()))
          : kubeTime(this.clock.now()),
    };
    const status: Record<string, unknown> = { conditions: [condition] };
    if (nominatedNodeName !== undefined) status['nominatedNodeName'] = nominatedNodeName;
    try {
      await this.client.patch(
        podRef,
        pod.metadata.namespace,
        pod.metadata.name ?? '',
        'strategic',
        { status },
        { subresource: 'status' },
      );
    } catch (err) {
      if (isApiError(err) && err.reason === 'NotFound') return;
      throw err;
    }
  }

  private async preempt(preemptor: KubeObject, nodeName: string, victims: KubeObject[]): Promise<void> {
    const uid = preemptor.metadata.uid ?? '';
    await Promise.all(
      victims.map(async (victim) => {
        if (str(victim.metadata.deletionTimestamp) !== undefined) return; // already going
        const ns = victim.metadata.namespace;
        const name = victim.metadata.name ?? '';
        try {
          await this.client.patch(
            podRef,
            ns,
            name,
            'strategic',
            {
              status: {
                conditions: [
                  {
                    type: 'DisruptionTarget',
                    status: 'True',
                    reason: 'PreemptionByScheduler',
                    message: `${this.profile.schedulerName}: preempting to accommodate a higher priority pod`,
                    lastTransitionTime: kubeTime(this.clock.now()),
                  },
                ],
              },
            },
            { subresource: 'status' },
          );
        } catch (err) {
          if (isApiError(err) && err.reason === 'NotFound') return;
          this.logger.warn('scheduler: could not mark preemption victim', {
            pod: podKey(victim),
            error: describeError(err),
          });
        }
        this.recorder.record(victim, 'Normal', 'Preempted', `Preempted by pod ${uid} on node ${nodeName}`);
        try {
          const preconditions = victim.metadata.uid === undefined ? undefined : { uid: victim.metadata.uid };
          await this.client.delete(podRef, ns, name, preconditions === undefined ? {} : { preconditions });
        } catch (err) {
          if (isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict')) return;
          throw err;
        }
      }),
    );
  }
}
