// Legacy Endpoints controller wiring: Service, Pod, Node and Endpoints informers → queue of Service
// keys → sync.
//
// The interfaces the server implements to run it:
//
//   InformerProvider (src/machinery/object-source.ts): informerFor(info) for v1 Services, Pods, Nodes
//   and Endpoints (all namespaces).
//
//   EndpointsExecutor (below), e.g. over an ApiClient `c`:
//     createEndpoints: (ns, ep) => c.create(endpointsInfo, ns, ep)
//     updateEndpoints: (ep) => c.update(endpointsInfo, ns, ep)          PUT, resourceVersion precondition
//     deleteEndpoints: (ns, name) => c.delete(endpointsInfo, ns, name)
//   Errors are thrown as ApiError.
//
// Behaviour (upstream pkg/controller/endpoint): for each Service with a selector (not ExternalName)
// the Endpoints object of the same name lists its pods' addresses, ready or not, per resolved port
// set; it is written only when it changed. Endpoints of Services without a selector are the user's.
// When a Service is deleted its Endpoints object is deleted (Endpoints carry no ownerReference).

import { isApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import type { KubeObject } from '../../api/types.js';
import type { Clock, TimerHandle } from '../../machinery/clock.js';
import { Controller, keyOf, splitKey } from '../../machinery/controller.js';
import { MachineryError } from '../../machinery/errors.js';
import { nullLogger, type Logger } from '../../machinery/logger.js';
import type { InformerProvider, ObjectSource } from '../../machinery/object-source.js';
import { selectsPods } from '../endpointslice/service-pods.js';
import { ServiceTriggers } from '../endpointslice/triggers.js';
import { NamespacedCache } from '../replicaset/cache.js';
import { reconcileEndpoints } from './reconcile.js';

/** Endpoints used as leader-election records carry this annotation; they belong to no Service. */
const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

export interface EndpointsExecutor {
  createEndpoints(namespace: string, endpoints: KubeObject): Promise<unknown>;
  /** PUT; `metadata.resourceVersion` is a precondition. */
  updateEndpoints(endpoints: KubeObject): Promise<unknown>;
  deleteEndpoints(namespace: string, name: string): Promise<unknown>;
}

export interface EndpointsControllerOptions {
  informers: InformerProvider;
  executor: EndpointsExecutor;
  clock: Clock;
  logger?: Logger;
  /** Concurrent syncs. Default 5, as upstream. */
  workers?: number;
  /** How soon to look again while informers are not synced. Default 100 ms. */
  syncPollMs?: number;
  /** Every Service is synced at least this often. Default 10 min. */
  resyncPeriodMs?: number;
  /** Most addresses kept in one Endpoints object. Default 1000, as upstream. */
  maxCapacity?: number;
}

function resourceInfo(apiVersion: string, kind: string): ResourceInfo {
  const info = findByKind(apiVersion, kind);
  if (info === undefined)
    throw new MachineryError('InvalidKey', `${kind} is missing from the resource table`);
  return info;
}

export class EndpointsController {
  private readonly triggers: ServiceTriggers;
  private readonly endpointsSource: ObjectSource;
  private readonly endpoints = new NamespacedCache();
  private readonly executor: EndpointsExecutor;
  private readonly clock: Clock;
  private readonly syncPollMs: number;
  private readonly resyncPeriodMs: number;
  private readonly maxCapacity: number | undefined;
  private readonly controller: Controller;
  /** Services seen deleted whose Endpoints are still to delete. */
  private readonly deletedServices = new Set<string>();
  private unsubscribe: (() => void)[] = [];
  private resyncTimer: TimerHandle | undefined;
  private leftoverTimer: TimerHandle | undefined;
  private stopped = false;

  constructor(options: EndpointsControllerOptions) {
    const services = options.informers.informerFor(resourceInfo('v1', 'Service'));
    this.triggers = new ServiceTriggers({
      services,
      pods: options.informers.informerFor(resourceInfo('v1', 'Pod')),
      nodes: options.informers.informerFor(resourceInfo('v1', 'Node')),
      enqueue: (key) => this.controller.enqueue(key),
    });
    this.endpointsSource = options.informers.informerFor(resourceInfo('v1', 'Endpoints'));
    this.executor = options.executor;
    this.clock = options.clock;
    this.syncPollMs = options.syncPollMs ?? 100;
    this.resyncPeriodMs = options.resyncPeriodMs ?? 10 * 60_000;
    this.maxCapacity = options.maxCapacity;
    this.controller = new Controller({
      name: 'endpoints',
      clock: options.clock,
      logger: options.logger ?? nullLogger,
      workers: options.workers ?? 5,
      sync: (key) => this.sync(key),
    });
    // Registered before the triggers' own handler, so the key is marked before it is queued.
    this.unsubscribe.push(
      services.addEventHandler({
        onAdd: (svc) => this.deletedServices.delete(keyOf(svc)),
        onDelete: (svc) => this.deletedServices.add(keyOf(svc)),
      }),
    );
  }

  start(): void {
    this.controller.start();
    this.unsubscribe.push(
      this.triggers.start(),
      this.endpoints.follow(this.endpointsSource, {
        // Someone deleted Endpoints we keep: write them again.
        onDelete: (ep) => {
          const svc = this.triggers.services.get(ep.metadata.namespace, ep.metadata.name ?? '');
          if (svc !== undefined && selectsPods(svc)) this.controller.enqueueObject(svc);
        },
      }),
    );
    this.scheduleResync();
    this.sweepLeftovers();
  }

  /**
   * Once the caches are loaded: Endpoints whose Service is gone (deleted while no controller ran) are
   * deleted, as upstream's checkLeftoverEndpoints does; leader-election records are not Service endpoints.
   */
  private sweepLeftovers(): void {
    if (this.stopped) return;
    if (!this.triggers.hasSynced() || !this.endpointsSource.hasSynced()) {
      this.leftoverTimer = this.clock.setTimeout(() => this.sweepLeftovers(), this.syncPollMs);
      return;
    }
    this.leftoverTimer = undefined;
    for (const ep of this.endpoints.all()) {
      if (ep.metadata.annotations?.[LEADER_ANNOTATION] !== undefined) continue;
      if (this.triggers.services.get(ep.metadata.namespace, ep.metadata.name ?? '') !== undefined) continue;
      const key = keyOf(ep);
      this.deletedServices.add(key);
      this.controller.enqueue(key);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    if (this.leftoverTimer !== undefined) this.clock.clearTimeout(this.leftoverTimer);
    await this.controller.stop();
  }

  /** One sync of Service `key`; the queue worker's function, exposed for tests. */
  async sync(key: string): Promise<void> {
    if (!this.triggers.hasSynced() || !this.endpointsSource.hasSynced()) {
      this.controller.queue.addAfter(key, this.syncPollMs);
      return;
    }
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? '';
    const svc = this.triggers.services.get(namespace, name);
    const current = this.endpoints.get(namespace, name);
    if (svc === undefined) {
      if (!this.deletedServices.has(key)) return;
      try {
        if (current !== undefined) await this.executor.deleteEndpoints(ns, name);
      } catch (err: unknown) {
        if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
      }
      this.deletedServices.delete(key);
      return;
    }
    if (!selectsPods(svc)) return;
    const plan = reconcileEndpoints({
      service: svc,
      pods: this.triggers.podsOf(svc),
      current,
      ...(this.maxCapacity === undefined ? {} : { maxCapacity: this.maxCapacity }),
    });
    try {
      if (plan.action === 'create') await this.executor.createEndpoints(ns, plan.endpoints);
      else if (plan.action === 'update') await this.executor.updateEndpoints(plan.endpoints);
    } catch (err: unknown) {
      if (!isApiError(err)) throw err;
      // Our cache was behind (created or changed meanwhile): plan again once the informer caught up.
      if (err.reason === 'AlreadyExists' || err.reason === 'Conflict') {
        this.controller.queue.addAfter(key, this.syncPollMs);
        return;
      }
      // Deleted meanwhile (the informer's delete event queues us again), or the namespace is being
      // deleted or gone (creates keep failing, and nothing needs the object).
      if (err.reason === 'NotFound' || (plan.action === 'create' && err.reason === 'Forbidden')) return;
      throw err;
    }
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    this.resyncTimer = this.clock.setTimeout(() => {
      for (const svc of this.triggers.services.all()) this.controller.enqueue(keyOf(svc));
      this.scheduleResync();
    }, this.resyncPeriodMs);
  }
}
