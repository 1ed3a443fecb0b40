// Which Services to sync when something changes, shared by the EndpointSlice and Endpoints controllers:
// a Service's own events; a pod's events when what its endpoint shows changed (address, readiness,
// deletion, labels, node, hostname, ports), for every Service of its namespace that selects it before
// or after; a Node's zone label, for the Services of the pods on that node.

import type { KubeObject } from '../../api/types.js';
import { keyOf } from '../../machinery/controller.js';
import type { ObjectSource } from '../../machinery/object-source.js';
import { NamespacedCache } from '../replicaset/cache.js';
import { podEndpointFingerprint, serviceSelects, ZONE_LABEL } from './service-pods.js';

export interface ServiceTriggerOptions {
  services: ObjectSource;
  pods: ObjectSource;
  nodes: ObjectSource;
  /** Queue a Service key (`namespace/name`); `fromPod` tells pod-driven syncs apart (for batching). */
  enqueue(key: string, fromPod: boolean): void;
}

export class ServiceTriggers {
  readonly services = new NamespacedCache();
  readonly pods = new NamespacedCache();
  readonly nodes = new NamespacedCache();
  private readonly opts: ServiceTriggerOptions;

  constructor(opts: ServiceTriggerOptions) {
    this.opts = opts;
  }

  hasSynced(): boolean {
    return this.opts.services.hasSynced() && this.opts.pods.hasSynced() && this.opts.nodes.hasSynced();
  }

  /** Follow the three sources; returns the function that detaches them. */
  start(): () => void {
    const enqueueSvc = (svc: KubeObject): void => this.opts.enqueue(keyOf(svc), false);
    const removers = [
      this.services.follow(this.opts.services, {
        onAdd: enqueueSvc,
        onUpdate: (_old, svc) => enqueueSvc(svc),
        onDelete: enqueueSvc,
      }),
      this.pods.follow(this.opts.pods, {
        onAdd: (pod) => this.podChanged(undefined, pod),
        onUpdate: (old, pod) => this.podChanged(old, pod),
        onDelete: (pod) => this.podChanged(undefined, pod),
      }),
      this.nodes.follow(this.opts.nodes, {
        onAdd: (node) => this.nodeChanged(undefined, node),
        onUpdate: (old, node) => this.nodeChanged(old, node),
        onDelete: (node) => this.nodeChanged(node, undefined),
      }),
    ];
    return () => {
      for (const r of removers) r();
    };
  }

  /** The zone of a cached node, if labelled. */
  zoneOf(nodeName: string): string | undefined {
    return this.nodes.get(undefined, nodeName)?.metadata.labels?.[ZONE_LABEL];
  }

  /** Cached Services of the pod's namespace selecting these labels. */
  servicesSelecting(namespace: string | undefined, labels: KubeObject['metadata']['labels']): KubeObject[] {
    return this.services.inNamespace(namespace).filter((svc) => serviceSelects(svc, labels));
  }

  /** Cached pods of the Service's namespace its selector matches. */
  podsOf(svc: KubeObject): KubeObject[] {
    return this.pods
      .inNamespace(svc.metadata.namespace)
      .filter((p) => serviceSelects(svc, p.metadata.labels));
  }

  private podChanged(old: KubeObject | undefined, pod: KubeObject): void {
    if (old !== undefined && podEndpointFingerprint(old) === podEndpointFingerprint(pod)) return;
    const keys = new Set<string>();
    for (const svc of this.servicesSelecting(pod.metadata.namespace, pod.metadata.labels))
      keys.add(keyOf(svc));
    if (old !== undefined)
      for (const svc of this.servicesSelecting(old.metadata.namespace, old.metadata.labels))
        keys.add(keyOf(svc));
    for (const key of keys) this.opts.enqueue(key, true);
  }

  private nodeChanged(old: KubeObject | undefined, node: KubeObject | undefined): void {
    const before = old?.metadata.labels?.[ZONE_LABEL];
    const after = node?.metadata.labels?.[ZONE_LABEL];
    if (before === after) return;
    const name = (node ?? old)?.metadata.name ?? '';
    const keys = new Set<string>();
    for (const pod of this.pods.all()) {
      const spec = pod.spec as { nodeName?: unknown } | undefined;
      if (spec?.nodeName !== name) continue;
      for (const svc of this.servicesSelecting(pod.metadata.namespace, pod.metadata.labels))
        keys.add(keyOf(svc));
    }
    for (const key of keys) this.opts.enqueue(key, false);
  }
}
