// ReplicaSet controller wiring: pod and ReplicaSet informers → queue of ReplicaSet keys → sync.
//
// The interfaces the server implements to run it:
//
//   InformerProvider (src/machinery/object-source.ts): informerFor(info) for apps/v1 ReplicaSets and
//   v1 Pods (all namespaces).
//
//   ReplicaSetExecutor (below), e.g. over an ApiClient `c`:
//     createPod:    (ns, pod) => c.create(podInfo, ns, pod)                       POST (generateName)
//     deletePod:    (ns, name, uid) => c.delete(podInfo, ns, name, { preconditions: { uid } })
//     patchPod:     (ns, name, patch) => c.patch(podInfo, ns, name, 'merge', patch)
//     getReplicaSet:(ns, name) => c.get(rsInfo, ns, name), NotFound → undefined  (a live read)
//     updateReplicaSetStatus: (rs) => c.updateStatus(rsInfo, ns, rs)               PUT .../status
//   Errors are thrown as ApiError.
//
// Behaviour (upstream pkg/controller/replicaset): a sync claims the namespace's active pods (adopting
// matching orphans after re-reading the ReplicaSet live, releasing owned pods that stopped matching),
// then, when its expectations are satisfied, creates the missing pods in slow-start batches (1, 2,
// 4 ...; a failing batch stops the rest) or deletes the surplus in `sortPodsForDeletion` order, then
// writes the status through the status subresource when it changed. Expectations are raised before
// the writes and lowered by the pod informer's events, so a cache that has not seen the new pods yet
// cannot cause a second round of creates; an unobserved expectation expires after 5 minutes.

import { isApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import { jsonEqual } from '../../api/patch/json.js';
import type { KubeObject, OwnerReference } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller, keyOf, splitKey } from '../../machinery/controller.js';
import { describeError, MachineryError } from '../../machinery/errors.js';
import { nullEventRecorder, type EventRecorder } from '../../machinery/event-recorder.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import type { InformerProvider, ObjectSource } from '../../machinery/object-source.js';
import { NamespacedCache } from './cache.js';
import { adoptPatch, releasePatch } from './claim.js';
import { ControllerExpectations, EXPECTATIONS_TTL_MS } from './expectations.js';
import { controllerRefOf, isPodActive, isPodReady, podKey } from './pods.js';
import {
  BURST_REPLICAS,
  claimPods,
  minReadySecondsOf,
  planReplicas,
  podFromTemplate,
  replicaSetStatus,
  selectorMatcher,
  slowStartBatches,
  type ManageError,
} from './reconcile.js';

export interface ReplicaSetExecutor {
  /** POST a pod (it carries `generateName`); resolves with the created pod. */
  createPod(namespace: string, pod: KubeObject): Promise<KubeObject>;
  /** DELETE a pod with a uid precondition. */
  deletePod(namespace: string, name: string, uid: string): Promise<unknown>;
  /** Merge-patch a pod's metadata (owner references); `metadata.resourceVersion` in it is a precondition. */
  patchPod(namespace: string, name: string, mergePatch: Record<string, unknown>): Promise<unknown>;
  /** GET the ReplicaSet from the API server (not a cache); undefined when it does not exist. */
  getReplicaSet(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** PUT the ReplicaSet's status subresource (the object carries its resourceVersion). */
  updateReplicaSetStatus(rs: KubeObject): Promise<unknown>;
}

export interface ReplicaSetControllerOptions {
  informers: InformerProvider;
  executor: ReplicaSetExecutor;
  clock: Clock;
  logger?: Logger;
  /** Events (SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete) about ReplicaSets. */
  recorder?: EventRecorder;
  /** Concurrent syncs (of different ReplicaSets). Default 5, as upstream. */
  workers?: number;
  /** Most pods created or deleted per sync. Default 500. */
  burstReplicas?: number;
  /** How soon to look again while informers are not synced. Default 200 ms. */
  syncPollMs?: number;
  /** Every ReplicaSet is synced at least this often. Default 10 min. */
  resyncPeriodMs?: number;
  /** Unobserved expectations are given up after this long. Default 5 min. */
  expectationsTtlMs?: number;
}

function resourceInfo(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined)
    throw new MachineryError('InvalidKey', `${kind} is missing from the resource table`);
  return info;
}

function tolerated(err: unknown): boolean {
  return isApiError(err) && (err.reason === 'NotFound' || err.reason === 'Conflict');
}

export class ReplicaSetController {
  readonly expectations: ControllerExpectations;
  private readonly rsSource: ObjectSource;
  private readonly podSource: ObjectSource;
  private readonly replicaSets = new NamespacedCache();
  private readonly pods = new NamespacedCache();
  private readonly executor: ReplicaSetExecutor;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly recorder: EventRecorder;
  private readonly burstReplicas: number;
  private readonly syncPollMs: number;
  private readonly resyncPeriodMs: number;
  private readonly controller: Controller;
  private unsubscribe: (() => void)[] = [];
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: ReplicaSetControllerOptions) {
    this.rsSource = options.informers.informerFor(resourceInfo('apps/v1', 'ReplicaSet'));
    this.podSource = options.informers.informerFor(resourceInfo('v1', 'Pod'));
    this.executor = options.executor;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.recorder = options.recorder ?? nullEventRecorder;
    this.burstReplicas = options.burstReplicas ?? BURST_REPLICAS;
    this.syncPollMs = options.syncPollMs ?? 200;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 10 * 60_000;
    this.expectations = new ControllerExpectations(
      () => this.clock.now(),
      options.expectationsTtlMs ?? EXPECTATIONS_TTL_MS,
    );
    this.controller = new Controller({
      name: 'replicaset',
      clock: options.clock,
      logger: this.logger,
      workers: options.workers ?? 5,
      sync: (key) => this.sync(key),
    });
  }

  start(): void {
    this.controller.start();
    this.unsubscribe.push(
      this.replicaSets.follow(this.rsSource, {
        onAdd: (rs) => this.enqueue(rs),
        onUpdate: (_old, rs) => this.enqueue(rs),
        onDelete: (rs) => {
          this.expectations.delete(keyOf(rs));
          this.enqueue(rs);
        },
      }),
      this.pods.follow(this.podSource, {
        onAdd: (pod) => this.podAdded(pod),
        onUpdate: (old, pod) => this.podUpdated(old, pod),
        onDelete: (pod) => this.podDeleted(pod),
      }),
    );
    this.scheduleResync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    await this.controller.stop();
  }

  private enqueue(rs: KubeObject): void {
    this.controller.enqueueObject(rs);
  }

  /** The cached ReplicaSet a controller reference points at (kind and uid must match). */
  private resolve(namespace: string | undefined, ref: OwnerReference): KubeObject | undefined {
    if (ref.kind !== 'ReplicaSet') return undefined;
    const rs = this.replicaSets.get(namespace, ref.name);
    return rs?.metadata.uid === ref.uid ? rs : undefined;
  }

  /** ReplicaSets of the pod's namespace whose selector matches it (candidates to adopt an orphan). */
  private matchingReplicaSets(pod: KubeObject): KubeObject[] {
    return this.replicaSets
      .inNamespace(pod.metadata.namespace)
      .filter((rs) => selectorMatcher(rs)(pod.metadata.labels));
  }

  private podAdded(pod: KubeObject): void {
    if (pod.metadata.deletionTimestamp !== undefined) {
      // Seen for the first time while terminating (e.g. after a relist): a deletion to count.
      this.podDeleted(pod);
      return;
    }
    const ref = controllerRefOf(pod);
    if (ref !== undefined) {
      const rs = this.resolve(pod.metadata.namespace, ref);
      if (rs === undefined) return;
      this.expectations.creationObserved(keyOf(rs));
      this.enqueue(rs);
      return;
    }
    for (const rs of this.matchingReplicaSets(pod)) this.enqueue(rs);
  }

  private podUpdated(old: KubeObject, pod: KubeObject): void {
    if (old.metadata.resourceVersion === pod.metadata.resourceVersion) return;
    const labelsChanged = !jsonEqual(old.metadata.labels ?? {}, pod.metadata.labels ?? {});
    if (pod.metadata.deletionTimestamp !== undefined) {
      // A graceful delete starts: replace the pod now, not when its agent finally removes it.
      this.podDeleted(pod);
      if (labelsChanged) this.podDeleted(old);
      return;
    }
    const ref = controllerRefOf(pod);
    const oldRef = controllerRefOf(old);
    const refChanged = !jsonEqual(ref ?? null, oldRef ?? null);
    if (refChanged && oldRef !== undefined) {
      const previous = this.resolve(old.metadata.namespace, oldRef);
      if (previous !== undefined) this.enqueue(previous);
    }
    if (ref !== undefined) {
      const rs = this.resolve(pod.metadata.namespace, ref);
      if (rs === undefined) return;
      this.enqueue(rs);
      const minReady = minReadySecondsOf(rs);
      if (!isPodReady(old) && isPodReady(pod) && minReady > 0) {
        // The pod becomes available after minReadySeconds: look again then.
        this.controller.queue.addAfter(keyOf(rs), minReady * 1000 + 1000);
      }
      return;
    }
    if (labelsChanged || refChanged) for (const rs of this.matchingReplicaSets(pod)) this.enqueue(rs);
  }

  private podDeleted(pod: KubeObject): void {
    const ref = controllerRefOf(pod);
    if (ref === undefined) return;
    const rs = this.resolve(pod.metadata.namespace, ref);
    if (rs === undefined) return;
    const key = keyOf(rs);
    this.expectations.deletionObserved(key, podKey(pod));
    this.controller.enqueue(key);
  }

  /** Active pods of the ReplicaSets that share `rs`'s controller (a Deployment's other ReplicaSets). */
  private siblingPods(rs: KubeObject): KubeObject[] {
    const owner = controllerRefOf(rs);
    if (owner === undefined) return [];
    const siblings = new Set(
      this.replicaSets
        .inNamespace(rs.metadata.namespace)
        .filter((o) => o.metadata.uid !== rs.metadata.uid && controllerRefOf(o)?.uid === owner.uid)
        .map((o) => o.metadata.uid),
    );
    if (siblings.size === 0) return [];
    return this.pods
      .inNamespace(rs.metadata.namespace)
      .filter((p) => isPodActive(p) && siblings.has(controllerRefOf(p)?.uid));
  }

  /** One sync of ReplicaSet `key` (`namespace/name`); the queue worker's function, exposed for tests. */
  async sync(key: string): Promise<void> {
    if (!this.rsSource.hasSynced() || !this.podSource.hasSynced()) {
      this.controller.queue.addAfter(key, this.syncPollMs);
      return;
    }
    const { namespace, name } = splitKey(key);
    const rs = this.replicaSets.get(namespace, name);
    if (rs === undefined) {
      this.expectations.delete(key);
      return;
    }
    const ns = namespace ?? '';
    const needsSync = this.expectations.satisfied(key);
    const claim = claimPods(rs, this.pods.inNamespace(namespace));
    const owned = [...claim.owned, ...(await this.adopt(rs, claim.adopt))];
    await this.release(rs, claim.release);

    let manageError: ManageError | undefined;
    if (needsSync && rs.metadata.deletionTimestamp === undefined) {
      const plan = planReplicas({
        rs,
        owned,
        relatedPods: [...owned, ...this.siblingPods(rs)],
        burstReplicas: this.burstReplicas,
      });
      if (plan.create > 0) manageError = await this.createPods(key, ns, rs, plan.create);
      else if (plan.delete.length > 0) manageError = await this.deletePods(key, ns, rs, plan.delete);
    } else if (!needsSync) {
      // Nothing will lower an expectation whose event was lost; look again when it expires.
      this.controller.queue.addAfter(key, this.expectations.expiresInMs(key));
    }

    const status = replicaSetStatus({ rs, owned, now: this.clock.now(), manageError });
    if (status.changed) {
      try {
        await this.executor.updateReplicaSetStatus({ ...rs, status: status.status });
      } catch (err: unknown) {
        // A Conflict means a newer ReplicaSet is on its way through the informer, which queues it again.
        if (!tolerated(err)) throw err;
      }
    }
    if (status.requeueAfterMs !== undefined) this.controller.queue.addAfter(key, status.requeueAfterMs);
    if (manageError !== undefined) {
      throw new MachineryError('ActionsFailed', `replica set ${key}: ${manageError.message}`);
    }
  }

  /** Adopt orphans after checking live that the ReplicaSet is still this one and not being deleted. */
  private async adopt(rs: KubeObject, orphans: readonly KubeObject[]): Promise<KubeObject[]> {
    if (orphans.length === 0) return [];
    const ns = rs.metadata.namespace ?? '';
    const live = await this.executor.getReplicaSet(ns, rs.metadata.name ?? '');
    if (live === undefined || live.metadata.uid !== rs.metadata.uid) return [];
    if (live.metadata.deletionTimestamp !== undefined) return [];
    const adopted: KubeObject[] = [];
    for (const pod of orphans) {
      try {
        await this.executor.patchPod(ns, pod.metadata.name ?? '', adoptPatch(pod, rs));
        adopted.push(pod);
      } catch (err: unknown) {
        if (isApiError(err) && err.reason === 'NotFound') continue;
        throw err;
      }
    }
    return adopted;
  }

  private async release(rs: KubeObject, pods: readonly KubeObject[]): Promise<void> {
    for (const pod of pods) {
      try {
        await this.executor.patchPod(
          rs.metadata.namespace ?? '',
          pod.metadata.name ?? '',
          releasePatch(pod, rs),
        );
      } catch (err: unknown) {
        if (isApiError(err) && err.reason === 'NotFound') continue;
        throw err;
      }
    }
  }

  private async createPods(
    key: string,
    ns: string,
    rs: KubeObject,
    count: number,
  ): Promise<ManageError | undefined> {
    this.expectations.expectCreations(key, count);
    let created = 0;
    let failure: unknown;
    for (const size of slowStartBatches(count)) {
      const results = await Promise.allSettled(
        Array.from({ length: size }, () => this.executor.createPod(ns, podFromTemplate(rs))),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') {
          created++;
          this.recorder.record(
            rs,
            'Normal',
            'SuccessfulCreate',
            `Created pod: ${r.value.metadata.name ?? ''}`,
          );
        } else {
          failure ??= r.reason;
          this.recorder.record(rs, 'Warning', 'FailedCreate', `Error creating: ${errorMessage(r.reason)}`);
        }
      }
      if (failure !== undefined) break;
    }
    // Creates never attempted or failed will not be observed: stop expecting them.
    for (let i = created; i < count; i++) this.expectations.creationObserved(key);
    if (failure === undefined) return undefined;
    this.logger.warn('could not create pods', {
      replicaSet: key,
      created,
      wanted: count,
      error: describeError(failure),
    });
    return { message: errorMessage(failure) };
  }

  private async deletePods(
    key: string,
    ns: string,
    rs: KubeObject,
    pods: readonly KubeObject[],
  ): Promise<ManageError | undefined> {
    this.expectations.expectDeletions(key, pods.map(podKey));
    let failure: unknown;
    await Promise.all(
      pods.map(async (pod) => {
        const name = pod.metadata.name ?? '';
        try {
          await this.executor.deletePod(ns, name, pod.metadata.uid ?? '');
          this.recorder.record(rs, 'Normal', 'SuccessfulDelete', `Deleted pod: ${name}`);
        } catch (err: unknown) {
          // The informer will not see this deletion happen: stop expecting it.
          this.expectations.deletionObserved(key, podKey(pod));
          if (tolerated(err)) return;
          failure ??= err;
          this.recorder.record(rs, 'Warning', 'FailedDelete', `Error deleting: ${errorMessage(err)}`);
        }
      }),
    );
    if (failure === undefined) return undefined;
    this.logger.warn('could not delete pods', { replicaSet: key, error: describeError(failure) });
    return { message: errorMessage(failure) };
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const rs of this.replicaSets.all()) this.enqueue(rs);
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
