// Deployment controller wiring: Deployment, ReplicaSet and Pod informers → queue of Deployment keys → sync.
//
// The interfaces the server implements to run it:
//
//   InformerProvider (src/machinery/object-source.ts): informerFor(info) for apps/v1 Deployments,
//   apps/v1 ReplicaSets and v1 Pods (all namespaces).
//
//   DeploymentExecutor (below), e.g. over an ApiClient `c`:
//     createReplicaSet: (ns, rs) => c.create(rsInfo, ns, rs)
//     updateReplicaSet: (rs) => c.update(rsInfo, rs.metadata.namespace, rs)          PUT, resourceVersion checked
//     deleteReplicaSet: (ns, name, uid) => c.delete(rsInfo, ns, name, { preconditions: { uid } })
//     patchReplicaSet:  (ns, name, patch) => c.patch(rsInfo, ns, name, 'merge', patch)  (owner references)
//     getReplicaSet / getDeployment: live GETs, NotFound → undefined
//     patchDeployment:  (ns, name, patch) => c.patch(deployInfo, ns, name, 'merge', patch)  (annotations)
//     updateDeploymentStatus: (d) => c.updateStatus(deployInfo, ns, d)                 PUT .../status
//   Errors are thrown as ApiError.
//
// Behaviour (upstream pkg/controller/deployment): a sync claims the namespace's ReplicaSets by the
// Deployment's selector (adopting orphans after re-reading the Deployment live, releasing ones that
// stopped matching), asks `reconcileDeployment` for a plan and executes it in order, each write
// carrying the resourceVersion the previous write of the same object returned. A create answered
// with AlreadyExists is either our ReplicaSet not cached yet (the plan is made again with it) or a
// hash collision (status.collisionCount + 1, so the next name differs). Writes of ReplicaSets wake
// the ReplicaSet controller; their status changes wake this one again.
//
// Flotilla's automatic rollback (autorollback.ts) is decided before planning: when it applies, the
// sync is one merge patch of the Deployment (template back, failed template marked), a Warning event
// `RolledBack` and a status write; the patched Deployment brings the next sync. Pods whose failure
// state changes (crash loop, image pull) queue their Deployment, since no ReplicaSet count moves.

import { isApiError } from '../../api/errors.js';
import { jsonEqual } from '../../api/patch/json.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import { isObject, type KubeObject, type OwnerReference } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller, keyOf, splitKey } from '../../machinery/controller.js';
import { describeError, MachineryError } from '../../machinery/errors.js';
import { nullEventRecorder, type EventRecorder } from '../../machinery/event-recorder.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import type { InformerProvider, ObjectSource } from '../../machinery/object-source.js';
import { NamespacedCache } from '../replicaset/cache.js';
import { adoptPatch, claimObjects, releasePatch } from '../replicaset/claim.js';
import { controllerRefOf } from '../replicaset/pods.js';
import { selectorMatcher, selectorOf } from '../replicaset/reconcile.js';
import { createMergePatch } from '../../api/patch/merge-patch.js';
import { decideRollback, podFailure } from './autorollback.js';
import { equalIgnoreHash } from './hash.js';
import {
  collisionStatus,
  deploymentParams,
  failedCreateStatus,
  reconcileDeployment,
  Reasons,
  type DeploymentAction,
  type DeploymentPlan,
} from './reconcile.js';

export interface DeploymentExecutor {
  createReplicaSet(namespace: string, rs: KubeObject): Promise<KubeObject>;
  /** PUT the ReplicaSet; its metadata.resourceVersion is a precondition. */
  updateReplicaSet(rs: KubeObject): Promise<KubeObject>;
  deleteReplicaSet(namespace: string, name: string, uid: string): Promise<unknown>;
  /** Merge patch; `metadata.resourceVersion` in it is a precondition. */
  patchReplicaSet(namespace: string, name: string, mergePatch: Record<string, unknown>): Promise<unknown>;
  /** Live GETs (not a cache); undefined when the object does not exist. */
  getReplicaSet(namespace: string, name: string): Promise<KubeObject | undefined>;
  getDeployment(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** Merge patch of the Deployment (its annotations); `metadata.resourceVersion` in it is a precondition. */
  patchDeployment(namespace: string, name: string, mergePatch: Record<string, unknown>): Promise<KubeObject>;
  /** PUT the Deployment's status subresource (the object carries its resourceVersion). */
  updateDeploymentStatus(deployment: KubeObject): Promise<unknown>;
}

export interface DeploymentControllerOptions {
  informers: InformerProvider;
  executor: DeploymentExecutor;
  clock: Clock;
  logger?: Logger;
  /** Events (ScalingReplicaSet, ReplicaSetCreateError, SelectingAll) about Deployments. */
  recorder?: EventRecorder;
  /** Concurrent syncs (of different Deployments). Default 5, as upstream. */
  workers?: number;
  /** How soon to look again while informers are not synced. Default 200 ms. */
  syncPollMs?: number;
  /** Every Deployment is synced at least this often. Default 10 min. */
  resyncPeriodMs?: number;
  /**
   * Automatic rollback for Deployments without a `flotilla.dev/rollback-on-failure` annotation
   * (server flag `--deployment-rollback-on-failure`). Default false.
   */
  rollbackOnFailure?: boolean;
}

function resourceInfo(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined)
    throw new MachineryError('InvalidKey', `${kind} is missing from the resource table`);
  return info;
}

function reasonOf(err: unknown): string | undefined {
  return isApiError(err) ? err.reason : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class DeploymentController {
  private readonly deploySource: ObjectSource;
  private readonly rsSource: ObjectSource;
  private readonly podSource: ObjectSource;
  private readonly deployments = new NamespacedCache();
  private readonly replicaSets = new NamespacedCache();
  private readonly pods = new NamespacedCache();
  private readonly executor: DeploymentExecutor;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly recorder: EventRecorder;
  private readonly syncPollMs: number;
  private readonly resyncPeriodMs: number;
  private readonly rollbackOnFailure: boolean;
  private readonly controller: Controller;
  private unsubscribe: (() => void)[] = [];
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: DeploymentControllerOptions) {
    this.deploySource = options.informers.informerFor(resourceInfo('apps/v1', 'Deployment'));
    this.rsSource = options.informers.informerFor(resourceInfo('apps/v1', 'ReplicaSet'));
    this.podSource = options.informers.informerFor(resourceInfo('v1', 'Pod'));
    this.executor = options.executor;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.recorder = options.recorder ?? nullEventRecorder;
    this.syncPollMs = options.syncPollMs ?? 200;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 10 * 60_000;
    this.rollbackOnFailure = options.rollbackOnFailure ?? false;
    this.controller = new Controller({
      name: 'deployment',
      clock: options.clock,
      logger: this.logger,
      workers: options.workers ?? 5,
      sync: (key) => this.sync(key),
    });
  }

  start(): void {
    this.controller.start();
    this.unsubscribe.push(
      this.deployments.follow(this.deploySource, {
        onAdd: (d) => this.controller.enqueueObject(d),
        onUpdate: (_old, d) => this.controller.enqueueObject(d),
        onDelete: (d) => this.controller.enqueueObject(d),
      }),
      this.replicaSets.follow(this.rsSource, {
        onAdd: (rs) => this.replicaSetAdded(rs),
        onUpdate: (old, rs) => this.replicaSetUpdated(old, rs),
        onDelete: (rs) => this.enqueueOwner(rs),
      }),
      this.pods.follow(this.podSource, {
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

  // ---------------------------------------------------------------- event handlers

  private resolve(namespace: string | undefined, ref: OwnerReference | undefined): KubeObject | undefined {
    if (ref?.kind !== 'Deployment') return undefined;
    const d = this.deployments.get(namespace, ref.name);
    return d?.metadata.uid === ref.uid ? d : undefined;
  }

  private enqueueOwner(rs: KubeObject): void {
    const d = this.resolve(rs.metadata.namespace, controllerRefOf(rs));
    if (d !== undefined) this.controller.enqueueObject(d);
  }

  /** Deployments that could adopt an orphan ReplicaSet. */
  private enqueueMatching(rs: KubeObject): void {
    for (const d of this.deployments.inNamespace(rs.metadata.namespace)) {
      if (selectorMatcher(d)(rs.metadata.labels)) this.controller.enqueueObject(d);
    }
  }

  private replicaSetAdded(rs: KubeObject): void {
    if (controllerRefOf(rs) !== undefined) this.enqueueOwner(rs);
    else if (rs.metadata.deletionTimestamp === undefined) this.enqueueMatching(rs);
  }

  private replicaSetUpdated(old: KubeObject, rs: KubeObject): void {
    if (old.metadata.resourceVersion === rs.metadata.resourceVersion) return;
    const ref = controllerRefOf(rs);
    const oldRef = controllerRefOf(old);
    const refChanged = !jsonEqual(ref ?? null, oldRef ?? null);
    if (refChanged && oldRef !== undefined) {
      const previous = this.resolve(old.metadata.namespace, oldRef);
      if (previous !== undefined) this.controller.enqueueObject(previous);
    }
    if (ref !== undefined) {
      this.enqueueOwner(rs);
      return;
    }
    const labelsChanged = !jsonEqual(old.metadata.labels ?? {}, rs.metadata.labels ?? {});
    if (labelsChanged || refChanged) this.enqueueMatching(rs);
  }

  /** The Deployment owning `pod` through its ReplicaSet, if cached. */
  private deploymentOfPod(pod: KubeObject): KubeObject | undefined {
    const ref = controllerRefOf(pod);
    if (ref?.kind !== 'ReplicaSet') return undefined;
    const rs = this.replicaSets.get(pod.metadata.namespace, ref.name);
    if (rs === undefined || rs.metadata.uid !== ref.uid) return undefined;
    return this.resolve(rs.metadata.namespace, controllerRefOf(rs));
  }

  /**
   * A pod starting or stopping to fail (crash loop, image pull) changes no ReplicaSet count, yet may
   * trigger an automatic rollback: look at its Deployment.
   */
  private podUpdated(old: KubeObject, pod: KubeObject): void {
    if (podFailure(old) === podFailure(pod)) return;
    const d = this.deploymentOfPod(pod);
    if (d !== undefined) this.controller.enqueueObject(d);
  }

  /** Recreate waits for old pods to be gone: their deletion may unblock it. */
  private podDeleted(pod: KubeObject): void {
    const ref = controllerRefOf(pod);
    if (ref?.kind !== 'ReplicaSet') return;
    const rs = this.replicaSets.get(pod.metadata.namespace, ref.name);
    if (rs === undefined || rs.metadata.uid !== ref.uid) return;
    const d = this.resolve(rs.metadata.namespace, controllerRefOf(rs));
    if (d !== undefined && deploymentParams(d).strategy.type === 'Recreate') this.controller.enqueueObject(d);
  }

  // ---------------------------------------------------------------- sync

  /** One sync of Deployment `key` (`namespace/name`); the queue worker's function, exposed for tests. */
  async sync(key: string): Promise<void> {
    if (!this.deploySource.hasSynced() || !this.rsSource.hasSynced() || !this.podSource.hasSynced()) {
      this.controller.queue.addAfter(key, this.syncPollMs);
      return;
    }
    const { namespace, name } = splitKey(key);
    const d = this.deployments.get(namespace, name);
    if (d === undefined) return;
    const sel = selectorOf(d);
    if (
      sel === undefined ||
      (Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0)
    ) {
      // Validation forbids it; an object written around validation must not take every pod.
      this.recorder.record(
        d,
        'Warning',
        'SelectingAll',
        'This deployment is selecting all pods. A non-empty selector is required.',
      );
      return;
    }
    const owned = await this.claimReplicaSets(d);
    if (await this.rollBackIfFailed(d, owned)) return;
    await this.execute(d, owned, true);
  }

  private podsOf(d: KubeObject, owned: readonly KubeObject[]): KubeObject[] {
    const uids = new Set(owned.map((rs) => rs.metadata.uid));
    return this.pods.inNamespace(d.metadata.namespace).filter((p) => uids.has(controllerRefOf(p)?.uid));
  }

  /**
   * Automatic rollback (autorollback.ts): when the decision says so, one update of the Deployment
   * (template back, failed template marked), a Warning event, then the status (condition RolledBack).
   * The update wakes the next sync, which rolls the old revision back out. True when it rolled back.
   */
  private async rollBackIfFailed(d: KubeObject, owned: readonly KubeObject[]): Promise<boolean> {
    const decision = decideRollback({
      deployment: d,
      replicaSets: owned,
      pods: this.podsOf(d, owned),
      now: this.clock.now(),
      clusterDefault: this.rollbackOnFailure,
    });
    if (decision === undefined) return false;
    const ns = d.metadata.namespace ?? '';
    const name = d.metadata.name ?? '';
    const { status: _s, ...from } = d;
    const { status: _t, ...to } = decision.deployment;
    const patch = createMergePatch(from, to) as Record<string, unknown>;
    const meta = isObject(patch.metadata) ? patch.metadata : {};
    patch.metadata = { ...meta, resourceVersion: d.metadata.resourceVersion };
    const updated = await this.executor.patchDeployment(ns, name, patch);
    this.recorder.record(d, decision.event.type, decision.event.reason, decision.event.message);
    this.logger.info('automatic rollback', {
      deployment: keyOf(d),
      toRevision: decision.toRevision,
      failedRevision: decision.failedRevision,
      why: decision.why,
    });
    try {
      await this.executor.updateDeploymentStatus({ ...updated, status: decision.status });
    } catch (err: unknown) {
      // The next sync reports the status; the event says what happened meanwhile.
      if (reasonOf(err) !== 'Conflict' && reasonOf(err) !== 'NotFound') throw err;
    }
    return true;
  }

  private async claimReplicaSets(d: KubeObject): Promise<KubeObject[]> {
    const ns = d.metadata.namespace ?? '';
    const matches = selectorMatcher(d);
    const claim = claimObjects(d, this.replicaSets.inNamespace(ns), (rs) => matches(rs.metadata.labels));
    const owned = [...claim.owned];
    if (claim.adopt.length > 0) {
      const live = await this.executor.getDeployment(ns, d.metadata.name ?? '');
      const canAdopt =
        live !== undefined &&
        live.metadata.uid === d.metadata.uid &&
        live.metadata.deletionTimestamp === undefined;
      for (const rs of canAdopt ? claim.adopt : []) {
        try {
          await this.executor.patchReplicaSet(ns, rs.metadata.name ?? '', adoptPatch(rs, d));
          owned.push(rs);
        } catch (err: unknown) {
          if (reasonOf(err) !== 'NotFound') throw err;
        }
      }
    }
    for (const rs of claim.release) {
      try {
        await this.executor.patchReplicaSet(ns, rs.metadata.name ?? '', releasePatch(rs, d));
      } catch (err: unknown) {
        if (reasonOf(err) !== 'NotFound') throw err;
      }
    }
    return owned;
  }

  private async execute(d: KubeObject, owned: KubeObject[], mayReplan: boolean): Promise<void> {
    const ns = d.metadata.namespace ?? '';
    const name = d.metadata.name ?? '';
    const pods = this.podsOf(d, owned);
    const now = this.clock.now();
    const plan: DeploymentPlan = reconcileDeployment({ deployment: d, replicaSets: owned, pods, now });

    /** resourceVersions returned by this sync's writes, by ReplicaSet name. */
    const latest = new Map<string, string>();
    let deploymentRv = d.metadata.resourceVersion;
    for (const action of plan.actions) {
      switch (action.type) {
        case 'createReplicaSet': {
          const found = await this.createReplicaSet(d, action, latest);
          if (found !== undefined) {
            // Ours, but not in the cache yet: plan again knowing it (once).
            if (!mayReplan) {
              throw new MachineryError(
                'ActionsFailed',
                `replica set ${found.metadata.name ?? ''} is not cached yet`,
              );
            }
            await this.execute(
              d,
              [...owned.filter((o) => o.metadata.uid !== found.metadata.uid), found],
              false,
            );
            return;
          }
          break;
        }
        case 'updateReplicaSet': {
          const rs = action.replicaSet;
          const rv = latest.get(rs.metadata.name ?? '') ?? rs.metadata.resourceVersion;
          const updated = await this.updateReplicaSet(
            {
              ...rs,
              metadata: { ...rs.metadata, ...(rv === undefined ? {} : { resourceVersion: rv }) },
            },
            owned,
          );
          if (updated.metadata.resourceVersion !== undefined)
            latest.set(rs.metadata.name ?? '', updated.metadata.resourceVersion);
          if (action.event !== undefined)
            this.recorder.record(d, action.event.type, action.event.reason, action.event.message);
          break;
        }
        case 'deleteReplicaSet':
          try {
            await this.executor.deleteReplicaSet(ns, action.name, action.uid);
          } catch (err: unknown) {
            if (reasonOf(err) !== 'NotFound') throw err;
          }
          break;
        case 'patchDeploymentAnnotations': {
          const patched = await this.executor.patchDeployment(ns, name, {
            metadata: { resourceVersion: deploymentRv, annotations: action.annotations },
          });
          deploymentRv = patched.metadata.resourceVersion;
          break;
        }
        case 'patchDeploymentPaused': {
          const patched = await this.executor.patchDeployment(ns, name, {
            metadata: { resourceVersion: deploymentRv },
            spec: { paused: action.paused },
          });
          deploymentRv = patched.metadata.resourceVersion;
          if (action.event !== undefined)
            this.recorder.record(d, action.event.type, action.event.reason, action.event.message);
          break;
        }
        case 'updateStatus':
          try {
            await this.executor.updateDeploymentStatus({
              ...d,
              metadata: {
                ...d.metadata,
                ...(deploymentRv === undefined ? {} : { resourceVersion: deploymentRv }),
              },
              status: action.status,
            });
          } catch (err: unknown) {
            // A newer Deployment is on its way through the informer and queues another sync.
            if (reasonOf(err) !== 'Conflict' && reasonOf(err) !== 'NotFound') throw err;
          }
          break;
        default: {
          const never: never = action;
          throw new MachineryError('InvalidKey', `unknown action ${JSON.stringify(never)}`);
        }
      }
    }
    if (plan.requeueAfterMs !== undefined) this.controller.queue.addAfter(keyOf(d), plan.requeueAfterMs);
  }

  /**
   * A planned ReplicaSet write. On a Conflict, the live object is read: when only its status (or its
   * resourceVersion) moved since the plan was made (same uid, generation, labels and annotations as the
   * cached copy the plan started from), the same change is written again on it at once. The ReplicaSet
   * controller writes status after every pod that turns ready, so during a rollout this is the common
   * case, and a retry through the workqueue's back-off would hold the rollout back for nothing. Any other
   * change fails the sync as before: it is planned again from the newer object.
   */
  private async updateReplicaSet(rs: KubeObject, owned: KubeObject[]): Promise<KubeObject> {
    try {
      return await this.executor.updateReplicaSet(rs);
    } catch (err: unknown) {
      if (reasonOf(err) !== 'Conflict') throw err;
      const planned = owned.find((o) => o.metadata.uid === rs.metadata.uid);
      const live = await this.executor.getReplicaSet(rs.metadata.namespace ?? '', rs.metadata.name ?? '');
      if (
        planned === undefined ||
        live === undefined ||
        live.metadata.uid !== planned.metadata.uid ||
        live.metadata.generation !== planned.metadata.generation ||
        !jsonEqual(live.metadata.labels ?? {}, planned.metadata.labels ?? {}) ||
        !jsonEqual(live.metadata.annotations ?? {}, planned.metadata.annotations ?? {})
      ) {
        throw err;
      }
      return this.executor.updateReplicaSet({
        ...rs,
        metadata: { ...rs.metadata, resourceVersion: live.metadata.resourceVersion ?? '' },
      });
    }
  }

  /**
   * Create the new ReplicaSet. Resolves undefined when created, or with the existing ReplicaSet when
   * the name is taken by ours (a cache behind); throws on a collision or any other failure.
   */
  private async createReplicaSet(
    d: KubeObject,
    action: Extract<DeploymentAction, { type: 'createReplicaSet' }>,
    latest: Map<string, string>,
  ): Promise<KubeObject | undefined> {
    const ns = d.metadata.namespace ?? '';
    const rsName = action.replicaSet.metadata.name ?? '';
    try {
      const created = await this.executor.createReplicaSet(ns, action.replicaSet);
      if (created.metadata.resourceVersion !== undefined)
        latest.set(rsName, created.metadata.resourceVersion);
      if (action.event !== undefined)
        this.recorder.record(d, action.event.type, action.event.reason, action.event.message);
      return undefined;
    } catch (err: unknown) {
      if (reasonOf(err) === 'AlreadyExists') {
        const existing = this.replicaSets.get(ns, rsName) ?? (await this.executor.getReplicaSet(ns, rsName));
        const template = isObject(existing?.spec) ? existing.spec.template : undefined;
        if (
          existing !== undefined &&
          controllerRefOf(existing)?.uid === d.metadata.uid &&
          equalIgnoreHash(deploymentParams(d).template, template)
        ) {
          return existing;
        }
        // Another object holds the name: change the hash through collisionCount and try again.
        await this.executor.updateDeploymentStatus({ ...d, status: collisionStatus(d) });
        this.logger.info('pod-template-hash collision, bumping collisionCount', {
          deployment: keyOf(d),
          replicaSet: rsName,
        });
        throw new MachineryError('ActionsFailed', `replica set ${rsName} already exists`, { cause: err });
      }
      const failed = failedCreateStatus(d, rsName, errorMessage(err), this.clock.now());
      this.recorder.record(d, 'Warning', Reasons.ReplicaSetCreateError, failed.message);
      if (failed.status !== undefined) {
        try {
          await this.executor.updateDeploymentStatus({ ...d, status: failed.status });
        } catch (statusErr: unknown) {
          this.logger.debug('could not report the failed create', { error: describeError(statusErr) });
        }
      }
      throw err;
    }
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const d of this.deployments.all()) this.controller.enqueueObject(d);
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }
}
