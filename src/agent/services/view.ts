// ServiceView: the agent's cached view of every Service and EndpointSlice in the cluster, shared by the
// service proxy (agent/proxy), the cluster DNS (agent/dns) and the service environment variables of new
// containers. One pair of informers per agent; consumers read snapshots and are told, batched, that
// something changed.
import type { ApiClient } from '../../api/client/client.js';
import { Informer, listerWatcherFor } from '../../api/client/informer.js';
import type { KubeObject } from '../../api/types.js';

export interface ServiceView {
  /** Every Service in the cluster (cached; do not mutate). */
  services(): KubeObject[];
  /** Every EndpointSlice in the cluster (cached; do not mutate). */
  slices(): KubeObject[];
  /** One Service by namespace and name. */
  service(namespace: string, name: string): KubeObject | undefined;
  /**
   * Calls `fn` after Services or EndpointSlices changed. Bursts of watch events arriving in the same
   * turn of the event loop produce one call. Returns the unsubscribe function.
   */
  onChange(fn: () => void): () => void;
  /** True once both informers have listed. */
  synced(): boolean;
  /** The highest resourceVersion seen in either informer (what a consumer has "caught up to"). */
  revision(): number;
}

const serviceRef = { apiVersion: 'v1', kind: 'Service' };
const sliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };

/** The informer-backed ServiceView of a real (or simulated) node. */
export class InformerServiceView implements ServiceView {
  private readonly svc: Informer;
  private readonly eps: Informer;
  private readonly listeners = new Set<() => void>();
  private pending = false;
  private highest = 0;

  constructor(client: ApiClient) {
    this.svc = new Informer(listerWatcherFor(client, serviceRef, undefined));
    this.eps = new Informer(listerWatcherFor(client, sliceRef, undefined));
    for (const inf of [this.svc, this.eps]) {
      inf.addEventHandler({
        onAdd: (o) => this.changed(o),
        onUpdate: (_old, o) => this.changed(o),
        onDelete: (o) => this.changed(o),
      });
    }
  }

  async start(): Promise<void> {
    this.svc.start();
    this.eps.start();
    await Promise.all([this.svc.waitForSync(), this.eps.waitForSync()]);
    for (const inf of [this.svc, this.eps]) this.seen(inf.lastSyncResourceVersion());
    this.schedule();
  }

  stop(): void {
    this.svc.stop();
    this.eps.stop();
    this.listeners.clear();
  }

  services(): KubeObject[] {
    return this.svc.list();
  }

  slices(): KubeObject[] {
    return this.eps.list();
  }

  service(namespace: string, name: string): KubeObject | undefined {
    return this.svc.get(namespace, name);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  synced(): boolean {
    return this.svc.hasSynced() && this.eps.hasSynced();
  }

  revision(): number {
    for (const inf of [this.svc, this.eps]) this.seen(inf.lastSyncResourceVersion());
    return this.highest;
  }

  private seen(rv: string | undefined): void {
    const n = Number(rv);
    if (Number.isFinite(n) && n > this.highest) this.highest = n;
  }

  private changed(o: KubeObject): void {
    this.seen(o.metadata.resourceVersion);
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      if (!this.synced()) return;
      for (const fn of [...this.listeners]) {
        try {
          fn();
        } catch {
          // A consumer's failure must not stop the others from hearing about the change.
        }
      }
    });
  }
}

/** A ServiceView over fixed arrays, for unit tests: call `set()` then `emit()`. */
export class StaticServiceView implements ServiceView {
  private svcs: KubeObject[] = [];
  private eps: KubeObject[] = [];
  private rev = 0;
  private readonly listeners = new Set<() => void>();

  set(services: KubeObject[], slices: KubeObject[]): void {
    this.svcs = services;
    this.eps = slices;
    this.rev += 1;
  }

  emit(): void {
    for (const fn of [...this.listeners]) fn();
  }

  services(): KubeObject[] {
    return this.svcs;
  }

  slices(): KubeObject[] {
    return this.eps;
  }

  service(namespace: string, name: string): KubeObject | undefined {
    return this.svcs.find((s) => s.metadata.namespace === namespace && s.metadata.name === name);
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  synced(): boolean {
    return true;
  }

  revision(): number {
    return this.rev;
  }
}
