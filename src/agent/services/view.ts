// ServiceView: the agent's cached view of every Service and EndpointSlice in the cluster (and the
// ServiceCIDRs their ClusterIPs come from), shared by the service proxy (agent/proxy), the cluster DNS
// (agent/dns) and the service environment variables of new containers. One set of informers per agent;
// consumers read snapshots and are told, batched, that something changed.
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
  /** The ranges ClusterIPs are allocated from (every ServiceCIDR's `spec.cidrs`), sorted. */
  serviceCidrs(): string[];
  /**
   * Calls `fn` after Services, EndpointSlices or ServiceCIDRs changed. Bursts of watch events arriving in the same
   * turn of the event loop produce one call. Returns the unsubscribe function.
   */
  onChange(fn: () => void): () => void;
  /** True once every informer has listed. */
  synced(): boolean;
  /** The highest resourceVersion seen in any informer (what a consumer has "caught up to"). */
  revision(): number;
}

const serviceRef = { apiVersion: 'v1', kind: 'Service' };
const sliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };
const serviceCidrRef = { apiVersion: 'networking.k8s.io/v1', kind: 'ServiceCIDR' };

/** The sorted, distinct `spec.cidrs` of ServiceCIDR objects. */
export function cidrsOf(objects: readonly KubeObject[]): string[] {
  const out = new Set<string>();
  for (const o of objects) {
    const cidrs = (o.spec as { cidrs?: unknown } | undefined)?.cidrs;
    if (Array.isArray(cidrs)) for (const c of cidrs) if (typeof c === 'string') out.add(c);
  }
  return [...out].sort();
}

/** The informer-backed ServiceView of a real (or simulated) node. */
export class InformerServiceView implements ServiceView {
  private readonly svc: Informer;
  private readonly eps: Informer;
  private readonly cidrs: Informer;
  private readonly listeners = new Set<() => void>();
  private pending = false;
  private highest = 0;

  constructor(client: ApiClient) {
    this.svc = new Informer(listerWatcherFor(client, serviceRef, undefined));
    this.eps = new Informer(listerWatcherFor(client, sliceRef, undefined));
    this.cidrs = new Informer(listerWatcherFor(client, serviceCidrRef, undefined));
    for (const inf of this.informers()) {
      inf.addEventHandler({
        onAdd: (o) => this.changed(o),
        onUpdate: (_old, o) => this.changed(o),
        onDelete: (o) => this.changed(o),
      });
    }
  }

  private informers(): Informer[] {
    return [this.svc, this.eps, this.cidrs];
  }

  async start(): Promise<void> {
    for (const inf of this.informers()) inf.start();
    await Promise.all(this.informers().map((inf) => inf.waitForSync()));
    for (const inf of this.informers()) this.seen(inf.lastSyncResourceVersion());
    this.schedule();
  }

  stop(): void {
    for (const inf of this.informers()) inf.stop();
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

  serviceCidrs(): string[] {
    return cidrsOf(this.cidrs.list());
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  synced(): boolean {
    return this.informers().every((inf) => inf.hasSynced());
  }

  revision(): number {
    for (const inf of this.informers()) this.seen(inf.lastSyncResourceVersion());
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
  private cidrs: string[] = [];
  private rev = 0;
  private readonly listeners = new Set<() => void>();

  set(services: KubeObject[], slices: KubeObject[], serviceCidrs?: string[]): void {
    this.svcs = services;
    this.eps = slices;
    if (serviceCidrs !== undefined) this.cidrs = [...serviceCidrs].sort();
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

  serviceCidrs(): string[] {
    return this.cidrs;
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
