// Test helpers for the ReplicaSet and Deployment controllers: executors over FakeApi (which has no
// generateName, creationTimestamp or PUT), a cache that can fall behind, and a fake kubelet.

import { ApiError } from '../../api/errors.js';
import { findByKind, type ResourceInfo } from '../../api/resources.js';
import { isObject, type KubeObject } from '../../api/types.js';
import type { Clock } from '../../machinery/clock.js';
import type { FakeApi } from '../../machinery/fake-api.js';
import type { InformerProvider, ObjectSource, SourceHandlers } from '../../machinery/object-source.js';
import type { ReplicaSetExecutor } from './controller.js';
import { formatTime } from './pods.js';

const info = (apiVersion: string, kind: string): ResourceInfo => findByKind(apiVersion, kind) as ResourceInfo;
export const PodInfo = info('v1', 'Pod');
export const ReplicaSetInfo = info('apps/v1', 'ReplicaSet');
export const DeploymentInfo = info('apps/v1', 'Deployment');

const alphabet = 'bcdfghjklmnpqrstvwxz2456789';

/** Create through FakeApi as the API server would: a generated name, creationTimestamp, generation 1. */
export function createLikeServer(
  api: FakeApi,
  resource: ResourceInfo,
  namespace: string,
  obj: KubeObject,
  clock: Clock,
  seq: { n: number },
): KubeObject {
  let name = obj.metadata.name;
  if (name === undefined || name === '') {
    let n = ++seq.n;
    let suffix = '';
    for (let i = 0; i < 5; i++) {
      suffix += alphabet[n % alphabet.length] ?? 'b';
      n = Math.floor(n / alphabet.length);
    }
    name = `${obj.metadata.generateName ?? ''}${suffix}`;
  }
  const metadata = { ...obj.metadata, name, namespace, creationTimestamp: formatTime(clock.now()) };
  delete metadata.generateName;
  if (resource.kind !== 'Pod') metadata.generation = 1;
  return api.create(resource, { ...obj, metadata });
}

/** A ReplicaSetExecutor over FakeApi; `createFailures` makes the next pod creates fail in order. */
export function fakeReplicaSetExecutor(
  api: FakeApi,
  clock: Clock,
): ReplicaSetExecutor & { createFailures: Error[]; creates: number; seq: { n: number } } {
  const ex = {
    createFailures: [] as Error[],
    creates: 0,
    seq: { n: 0 },
    createPod: async (ns: string, pod: KubeObject) => {
      ex.creates++;
      const failure = ex.createFailures.shift();
      if (failure !== undefined) throw failure;
      return createLikeServer(api, PodInfo, ns, pod, clock, ex.seq);
    },
    deletePod: (ns: string, name: string, uid: string) => api.delete(PodInfo, ns, name, 'Background', uid),
    patchPod: (ns: string, name: string, patch: Record<string, unknown>) =>
      api.patch(PodInfo, ns, name, patch),
    getReplicaSet: (ns: string, name: string) => api.get(ReplicaSetInfo, ns, name),
    updateReplicaSetStatus: (rs: KubeObject) => api.updateStatus(ReplicaSetInfo, rs),
  };
  return ex;
}

export function quotaError(): ApiError {
  return new ApiError('Forbidden', 'pods "web-" is forbidden: exceeded quota: compute, requested: pods=1');
}

/**
 * An ObjectSource in front of another that can fall behind: while frozen, `list()` answers the
 * snapshot taken at `freeze()` and events wait; `catchUp()` delivers them in order.
 */
export class LaggingSource implements ObjectSource {
  private frozen: readonly KubeObject[] | undefined;
  private readonly pending: ((h: SourceHandlers) => void)[] = [];
  private readonly handlers = new Set<SourceHandlers>();

  constructor(private readonly inner: ObjectSource) {
    inner.addEventHandler({
      onAdd: (o) => this.deliver((h) => h.onAdd?.(o)),
      onUpdate: (old, o) => this.deliver((h) => h.onUpdate?.(old, o)),
      onDelete: (o) => this.deliver((h) => h.onDelete?.(o)),
    });
  }

  freeze(): void {
    this.frozen = this.inner.list();
  }

  catchUp(): void {
    this.frozen = undefined;
    for (const event of this.pending.splice(0)) for (const h of this.handlers) event(h);
  }

  hasSynced(): boolean {
    return this.inner.hasSynced();
  }

  list(): readonly KubeObject[] {
    return this.frozen ?? this.inner.list();
  }

  addEventHandler(handlers: SourceHandlers): () => void {
    this.handlers.add(handlers);
    for (const o of this.list()) handlers.onAdd?.(o);
    return () => this.handlers.delete(handlers);
  }

  private deliver(event: (h: SourceHandlers) => void): void {
    if (this.frozen !== undefined) this.pending.push(event);
    else for (const h of this.handlers) event(h);
  }
}

/** FakeApi's informers, with the pod informer replaced by `pods`. */
export function withPodSource(api: FakeApi, pods: ObjectSource): InformerProvider {
  return { informerFor: (i) => (i.resource === 'pods' ? pods : api.informerFor(i)) };
}

/** What a kubelet would report: Running, and Ready since `readySince` (ms) unless `ready` is false. */
export async function markPodRunning(
  api: FakeApi,
  pod: KubeObject,
  readySince: number,
  opts: { ready?: boolean; nodeName?: string; restarts?: number } = {},
): Promise<void> {
  const current = api.find(PodInfo, pod.metadata.namespace, pod.metadata.name ?? '');
  if (current === undefined) return;
  const status = {
    ...(isObject(current.status) ? current.status : {}),
    phase: 'Running',
    conditions: [
      {
        type: 'Ready',
        status: opts.ready === false ? 'False' : 'True',
        lastTransitionTime: formatTime(readySince),
      },
    ],
    containerStatuses: [{ name: 'c', ready: opts.ready !== false, restartCount: opts.restarts ?? 0 }],
  };
  if (opts.nodeName !== undefined) {
    await api.patch(PodInfo, pod.metadata.namespace, pod.metadata.name ?? '', {
      spec: { ...(isObject(current.spec) ? current.spec : {}), nodeName: opts.nodeName },
    });
  }
  const latest = api.find(PodInfo, pod.metadata.namespace, pod.metadata.name ?? '') as KubeObject;
  await api.updateStatus(PodInfo, { ...latest, status });
}
