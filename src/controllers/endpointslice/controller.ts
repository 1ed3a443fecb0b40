// EndpointSlice controller wiring: Service, Pod, Node and EndpointSlice informers → queue of Service
// keys → sync.
//
// The interfaces the server implements to run it:
//
//   InformerProvider (src/machinery/object-source.ts): informerFor(info) for v1 Services, v1 Pods,
//   v1 Nodes and discovery.k8s.io/v1 EndpointSlices (all namespaces).
//
//   EndpointSliceExecutor (below), e.g. over an ApiClient `c`:
//     createSlice: (ns, slice) => c.create(sliceInfo, ns, slice)          POST (generateName)
//     updateSlice: (slice) => c.update(sliceInfo, ns, slice)               PUT, resourceVersion precondition
//     deleteSlice: (ns, name, uid) => c.delete(sliceInfo, ns, name, { preconditions: { uid } })
//   Errors are thrown as ApiError.
//
// Behaviour (upstream pkg/controller/endpointslice): a sync of Service `ns/name` lists the pods its
// selector matches and writes the minimal set of slice creates, updates and deletes that
// `reconcileSlices` plans. Services without a selector and ExternalName Services are left to the
// user (slices of other managers are never touched; ours, if any, are removed). A deleted Service's
// slices are deleted (the garbage collector would too, through their ownerReference). Pod events
// are filtered to changes an endpoint shows, so a readiness flip or a deletionTimestamp reaches the
// slice in one sync. A sync waits until the slice informer has seen this controller's previous
// writes, so a lagging cache cannot make it create slices twice.

import { isApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller, keyOf, splitKey } from '../../machinery/controller.js';
import { MachineryError } from '../../machinery/errors.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import type { InformerProvider, ObjectSource } from '../../machinery/object-source.js';
import { NamespacedCache } from '../replicaset/cache.js';
import {
  desiredEndpoints,
  isManagedSlice,
  MAX_ENDPOINTS_PER_SLICE,
  reconcileSlices,
  SERVICE_NAME_LABEL,
  type SlicePlan,
} from './reconcile.js';
import { selectsPods } from './service-pods.js';
import { SliceTracker } from './tracker.js';
import { ServiceTriggers } from './triggers.js';

export interface EndpointSliceExecutor {
  /** POST a slice (it carries `generateName`); resolves with the created slice. */
  createSlice(namespace: string, slice: KubeObject): Promise<KubeObject>;
  /** PUT a slice; its `metadata.resourceVersion` is a precondition. Resolves with the stored slice. */
  updateSlice(slice: KubeObject): Promise<KubeObject>;
  /** DELETE a slice with a uid precondition. */
  deleteSlice(namespace: string, name: string, uid: string): Promise<unknown>;
}

export interface EndpointSliceControllerOptions {
  informers: InformerProvider;
  executor: EndpointSliceExecutor;
  clock: Clock;
  logger?: Logger;
  /** Concurrent syncs (of different Services). Default 5, as upstream. */
  workers?: number;
  /** Most endpoints in one slice. Default 100, as upstream's `--max-endpoints-per-slice`. */
  maxEndpointsPerSlice?: number;
  /** Pod-driven syncs wait this long so a burst of pod changes makes one write. Default 0 (at once). */
  batchPeriodMs?: number;
  /** How soon to look again while informers are not synced or lag behind our writes. Default 100 ms. */
  syncPollMs?: number;
  /** Every Service is synced at least this often. Default 10 min. */
  resyncPeriodMs?: number;
}

function resourceInfo(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined)
    throw new MachineryError('InvalidKey', `${kind} is missing from the resource table`);
  return info;
}

/** The tracker gives up on an unobserved write after this long. */
const TRACKER_TTL_MS = 30_000;

export class EndpointSliceController {
  private readonly triggers: ServiceTriggers;
  private readonly sliceSource: ObjectSource;
  private readonly slices = new NamespacedCache();
  private readonly tracker: SliceTracker;
  private readonly executor: EndpointSliceExecutor;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly maxEndpointsPerSlice: number;
  private readonly batchPeriodMs: number;
  private readonly syncPollMs: number;
  private readonly resyncPeriodMs: number;
  private readonly controller: Controller;
  private unsubscribe: (() => void)[] = [];
  private resyncTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: EndpointSliceControllerOptions) {
    this.triggers = new ServiceTriggers({
      services: options.informers.informerFor(resourceInfo('v1', 'Service')),
      pods: options.informers.informerFor(resourceInfo('v1', 'Pod')),
      nodes: options.informers.informerFor(resourceInfo('v1', 'Node')),
      enqueue: (key, fromPod) => this.enqueue(key, fromPod),
    });
    this.sliceSource = options.informers.informerFor(resourceInfo('discovery.k8s.io/v1', 'EndpointSlice'));
    this.executor = options.executor;
    this.clock = options.clock;
    this.logger = options.logger ?? nullLogger;
    this.maxEndpointsPerSlice = options.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
    this.batchPeriodMs = options.batchPeriodMs ?? 0;
    this.syncPollMs = options.syncPollMs ?? 100;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 10 * 60_000;
    this.tracker = new SliceTracker(() => this.clock.now(), TRACKER_TTL_MS);
    this.controller = new Controller({
      name: 'endpointslice',
      clock: options.clock,
      logger: this.logger,
      workers: options.workers ?? 5,
      sync: (key) => this.sync(key),
    });
  }

  start(): void {
    this.controller.start();
    this.unsubscribe.push(
      this.triggers.start(),
      this.slices.follow(this.sliceSource, {
        onAdd: (s) => this.sliceChanged(s, false),
        onUpdate: (_old, s) => this.sliceChanged(s, false),
        onDelete: (s) => this.sliceChanged(s, true),
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

  private enqueue(key: string, fromPod: boolean): void {
    if (fromPod && this.batchPeriodMs > 0) this.controller.queue.addAfter(key, this.batchPeriodMs);
    else this.controller.enqueue(key);
  }

  /** Someone else changed or removed one of our slices: put the Service right. */
  private sliceChanged(slice: KubeObject, deleted: boolean): void {
    if (!isManagedSlice(slice)) return;
    const svcName = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (svcName === undefined || svcName === '') return;
    const key = `${slice.metadata.namespace ?? ''}/${svcName}`;
    if (this.tracker.isOwnEcho(key, slice, deleted)) return;
    this.controller.enqueue(key);
  }

  /** Our slices of Service `name` in `namespace`, from the cache. */
  private managedSlices(namespace: string | undefined, name: string): KubeObject[] {
    return this.slices
      .inNamespace(namespace)
      .filter((s) => isManagedSlice(s) && s.metadata.labels?.[SERVICE_NAME_LABEL] === name);
  }

  /** One sync of Service `key` (`namespace/name`); the queue worker's function, exposed for tests. */
  async sync(key: string): Promise<void> {
    if (!this.triggers.hasSynced() || !this.sliceSource.hasSynced()) {
      this.controller.queue.addAfter(key, this.syncPollMs);
      return;
    }
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? '';
    if (!this.tracker.caughtUp(key, (n) => this.slices.get(namespace, n))) {
      this.controller.queue.addAfter(key, this.syncPollMs);
      return;
    }
    const existing = this.managedSlices(namespace, name);
    const svc = this.triggers.services.get(namespace, name);
    if (svc === undefined || !selectsPods(svc)) {
      // Gone, or its endpoints are now the user's to write: our slices would only mislead.
      await this.apply(key, ns, { create: [], update: [], delete: existing });
      if (svc === undefined) this.tracker.forget(key);
      return;
    }
    const desired = desiredEndpoints({
      service: svc,
      pods: this.triggers.podsOf(svc),
      zoneOf: (node) => this.triggers.zoneOf(node),
    });
    const plan = reconcileSlices({
      service: svc,
      desired,
      existing,
      maxEndpointsPerSlice: this.maxEndpointsPerSlice,
    });
    await this.apply(key, ns, plan);
  }

  private async apply(key: string, ns: string, plan: SlicePlan): Promise<void> {
    let retry = false;
    for (const slice of plan.create) {
      try {
        const created = await this.executor.createSlice(ns, slice);
        this.tracker.wrote(key, created, true);
      } catch (err: unknown) {
        // The namespace is being deleted (or gone): creates keep failing, and nothing needs the slice.
        if (isApiError(err) && (err.reason === 'Forbidden' || err.reason === 'NotFound')) {
          this.logger.info('not creating endpoint slice', { service: key, error: err.message });
          return;
        }
        throw err;
      }
    }
    for (const slice of plan.update) {
      try {
        const updated = await this.executor.updateSlice(slice);
        this.tracker.wrote(key, updated, false);
      } catch (err: unknown) {
        // Our cache was behind: the informer brings the newer slice, and we plan again from it.
        if (!(isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound'))) throw err;
        retry = true;
      }
    }
    for (const slice of plan.delete) {
      const name = slice.metadata.name ?? '';
      try {
        await this.executor.deleteSlice(ns, name, slice.metadata.uid ?? '');
        this.tracker.deleted(key, name);
      } catch (err: unknown) {
        if (!(isApiError(err) && (err.reason === 'Conflict' || err.reason === 'NotFound'))) throw err;
        retry = true;
      }
    }
    if (retry) this.controller.queue.addAfter(key, this.syncPollMs);
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const svc of this.triggers.services.all()) this.controller.enqueue(keyOf(svc));
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }
}
