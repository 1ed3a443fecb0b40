// The control plane's built-in controllers, talking to the API over HTTP with the same client a remote
// component would use: garbage collector (ownerReferences) and namespace lifecycle.
// Also EndpointSlice and Endpoints controllers for Services.
import { ApiClient } from '../api/client/client.js';
import { Informer, listerWatcherFor } from '../api/client/informer.js';
import { isApiError } from '../api/errors.js';
import { resources, type ResourceInfo } from '../api/resources.js';
import { GarbageCollector, type GcExecutor } from '../controllers/garbage-collector/controller.js';
import { NamespaceController, type NamespaceExecutor } from '../controllers/namespace/controller.js';
import {
  NodeLifecycleController,
  type NodeLifecycleExecutor,
  type NodeLifecycleOptions,
} from '../controllers/node-lifecycle/controller.js';
import { DeploymentController, type DeploymentExecutor } from '../controllers/deployment/controller.js';
import { ReplicaSetController, type ReplicaSetExecutor } from '../controllers/replicaset/controller.js';
import {
  EndpointSliceController,
  type EndpointSliceExecutor,
} from '../controllers/endpointslice/controller.js';
import { EndpointsController, type EndpointsExecutor } from '../controllers/endpoints/controller.js';
import { HpaController, type HpaExecutor } from '../controllers/hpa/controller.js';
import { HttpMetricsSource } from '../controllers/hpa/metrics.js';
import { systemClock } from '../machinery/clock.js';
import type { Logger } from '../machinery/logger.js';
import type { ObjectSource } from '../machinery/object-source.js';
import { SinkEventRecorder, type EventSink } from '../machinery/event-recorder.js';
import { workQueueMetrics, type MetricsRegistry } from '../machinery/prom/index.js';
import { withWorkQueueMetrics } from '../machinery/workqueue.js';

export interface ControllerSet {
  client: ApiClient;
  /** The shared informer of a resource (by plural name), for other components of this process. */
  informer(resource: string): Informer | undefined;
  stop(): Promise<void>;
}

function loggerFrom(log: (line: string) => void): Logger {
  const fmt = (level: string, msg: string, fields?: Record<string, unknown>): string =>
    `${level} ${msg}${fields === undefined || Object.keys(fields).length === 0 ? '' : ` ${JSON.stringify(fields)}`}`;
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (m, f) => log(fmt('warn', m, f)),
    error: (m, f) => log(fmt('error', m, f)),
  };
}

export async function startControllers(opts: {
  url: string;
  /** Connect over the API server's local socket instead of `url` (in-process controllers). */
  localSocket?: string;
  caPem: string | undefined;
  token: string;
  log: (line: string) => void;
  /** Node lifecycle tunables (`--node-monitor-grace-period`, ...); defaults when absent. */
  nodeLifecycle?: NodeLifecycleOptions;
  /** `--deployment-rollback-on-failure`: automatic rollback for Deployments without the annotation. */
  deploymentRollbackOnFailure?: boolean;
  /** `--hpa-sync-period`: how often each HorizontalPodAutoscaler is evaluated. Default 15 s. */
  hpaSyncPeriodMs?: number;
  /** Record the controllers' workqueue metrics here (the API server's `prometheus` registry). */
  metrics?: MetricsRegistry;
}): Promise<ControllerSet> {
  const client = new ApiClient({
    server: opts.url,
    ...(opts.caPem === undefined ? {} : { caPem: opts.caPem }),
    token: opts.token,
    ...(opts.localSocket === undefined ? {} : { socketPath: opts.localSocket }),
    userAgent: 'flotilla-controller-manager',
  });
  const logger = loggerFrom(opts.log);
  // Controllers make their queues in their constructors: each `instrumented(() => new X(...))` gets metrics.
  const queueMetrics = opts.metrics === undefined ? undefined : workQueueMetrics(opts.metrics);
  const instrumented = <T>(build: () => T): T => withWorkQueueMetrics(queueMetrics, build);
  const informers = new Map<string, Informer>();
  for (const info of resources) {
    const inf = new Informer(listerWatcherFor(client, info, undefined), {
      onError: (err) => {
        if (!(isApiError(err) && err.reason === 'ServiceUnavailable'))
          opts.log(`informer ${info.resource}: ${(err as Error).message}`);
      },
    });
    informers.set(info.resource, inf);
  }
  const provider = {
    informerFor(info: ResourceInfo): ObjectSource {
      const inf = informers.get(info.resource);
      if (inf === undefined) throw new Error(`no informer for ${info.resource}`);
      return inf;
    },
  };
  // Events own nothing and are owned by nothing: the GC skips them, the namespace controller empties them.
  const gcKinds = resources.filter((r) => r.kind !== 'Event');

  const gcExecutor: GcExecutor = {
    delete: (info, ns, name, propagationPolicy, uid) =>
      client.delete(info, ns, name, { propagationPolicy, preconditions: { uid } }),
    patch: (info, ns, name, mergePatch) => client.patch(info, ns, name, 'merge', mergePatch),
    get: async (info, ns, name) => {
      try {
        return await client.get(info, ns, name);
      } catch (err) {
        if (isApiError(err) && err.reason === 'NotFound') return undefined;
        throw err;
      }
    },
  };
  const nsExecutor: NamespaceExecutor = {
    delete: (info, ns, name, propagationPolicy, uid) =>
      client.delete(info, ns, name, { propagationPolicy, preconditions: { uid } }),
    updateStatus: (ns) => client.updateStatus({ apiVersion: 'v1', kind: 'Namespace' }, undefined, ns),
    finalize: (ns) =>
      client.request('PUT', `/api/v1/namespaces/${encodeURIComponent(ns.metadata.name ?? '')}/finalize`, ns),
    list: async (info, ns) => (await client.list(info, ns)).items,
  };
  const eventsInfo = { apiVersion: 'v1', kind: 'Event' };
  const sink: EventSink = {
    create: (ns, ev) => client.create(eventsInfo, ns, ev),
    update: (ns, ev) => client.update(eventsInfo, ns, ev),
  };
  const recorder = new SinkEventRecorder({
    sink,
    clock: systemClock,
    component: 'garbage-collector',
    logger,
  });
  const gc = instrumented(
    () =>
      new GarbageCollector({
        informers: provider,
        executor: gcExecutor,
        clock: systemClock,
        kinds: gcKinds,
        logger,
        recorder,
      }),
  );
  const nsc = instrumented(
    () =>
      new NamespaceController({
        informers: provider,
        executor: nsExecutor,
        clock: systemClock,
        kinds: resources.filter((k) => k.namespaced),
        logger,
      }),
  );
  // Node lifecycle: node health from leases, Unknown conditions, taints, taint-based eviction.
  const nodeRef = { apiVersion: 'v1', kind: 'Node' };
  const podRef = { apiVersion: 'v1', kind: 'Pod' };
  const nodeLifecycleExecutor: NodeLifecycleExecutor = {
    updateNodeStatus: (node) => client.updateStatus(nodeRef, undefined, node),
    patchNode: (name, patch) => client.patch(nodeRef, undefined, name, 'merge', patch),
    updatePodStatus: (pod) => client.updateStatus(podRef, pod.metadata.namespace, pod),
    deletePod: (ns, name, uid) => client.delete(podRef, ns, name, { preconditions: { uid } }),
  };
  const nodeRecorder = new SinkEventRecorder({
    sink,
    clock: systemClock,
    component: 'node-controller',
    logger,
  });
  const nodeLifecycle = instrumented(
    () =>
      new NodeLifecycleController({
        ...opts.nodeLifecycle,
        informers: provider,
        executor: nodeLifecycleExecutor,
        clock: systemClock,
        logger,
        recorder: nodeRecorder,
      }),
  );
  // Workloads: ReplicaSets keep pods, Deployments keep ReplicaSets.
  const rsRef = { apiVersion: 'apps/v1', kind: 'ReplicaSet' };
  const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
  const getOrUndefined = async (ref: typeof rsRef, ns: string, name: string) => {
    try {
      return await client.get(ref, ns, name);
    } catch (err) {
      if (isApiError(err) && err.reason === 'NotFound') return undefined;
      throw err;
    }
  };
  const replicaSetExecutor: ReplicaSetExecutor = {
    createPod: (ns, pod) => client.create(podRef, ns, pod),
    deletePod: (ns, name, uid) => client.delete(podRef, ns, name, { preconditions: { uid } }),
    patchPod: (ns, name, patch) => client.patch(podRef, ns, name, 'merge', patch),
    getReplicaSet: (ns, name) => getOrUndefined(rsRef, ns, name),
    updateReplicaSetStatus: (rs) => client.updateStatus(rsRef, rs.metadata.namespace, rs),
  };
  const replicaSetRecorder = new SinkEventRecorder({
    sink,
    clock: systemClock,
    component: 'replicaset-controller',
    logger,
  });
  const replicaSetController = instrumented(
    () =>
      new ReplicaSetController({
        informers: provider,
        executor: replicaSetExecutor,
        clock: systemClock,
        logger,
        recorder: replicaSetRecorder,
      }),
  );
  const deploymentExecutor: DeploymentExecutor = {
    createReplicaSet: (ns, rs) => client.create(rsRef, ns, rs),
    updateReplicaSet: (rs) => client.update(rsRef, rs.metadata.namespace, rs),
    deleteReplicaSet: (ns, name, uid) => client.delete(rsRef, ns, name, { preconditions: { uid } }),
    patchReplicaSet: (ns, name, patch) => client.patch(rsRef, ns, name, 'merge', patch),
    getReplicaSet: (ns, name) => getOrUndefined(rsRef, ns, name),
    getDeployment: (ns, name) => getOrUndefined(deployRef, ns, name),
    patchDeployment: (ns, name, patch) => client.patch(deployRef, ns, name, 'merge', patch),
    updateDeploymentStatus: (d) => client.updateStatus(deployRef, d.metadata.namespace, d),
  };
  const deploymentRecorder = new SinkEventRecorder({
    sink,
    clock: systemClock,
    component: 'deployment-controller',
    logger,
  });
  const deploymentController = instrumented(
    () =>
      new DeploymentController({
        informers: provider,
        executor: deploymentExecutor,
        clock: systemClock,
        logger,
        recorder: deploymentRecorder,
        rollbackOnFailure: opts.deploymentRollbackOnFailure === true,
      }),
  );
  // Services: EndpointSlices (what proxies and DNS read) and the legacy Endpoints.
  const sliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };
  const endpointsRef = { apiVersion: 'v1', kind: 'Endpoints' };
  const endpointSliceExecutor: EndpointSliceExecutor = {
    createSlice: (ns, slice) => client.create(sliceRef, ns, slice),
    updateSlice: (slice) => client.update(sliceRef, slice.metadata.namespace, slice),
    deleteSlice: (ns, name, uid) => client.delete(sliceRef, ns, name, { preconditions: { uid } }),
  };
  const endpointSliceController = instrumented(
    () =>
      new EndpointSliceController({
        informers: provider,
        executor: endpointSliceExecutor,
        clock: systemClock,
        logger,
      }),
  );
  const endpointsExecutor: EndpointsExecutor = {
    createEndpoints: (ns, ep) => client.create(endpointsRef, ns, ep),
    updateEndpoints: (ep) => client.update(endpointsRef, ep.metadata.namespace, ep),
    deleteEndpoints: (ns, name) => client.delete(endpointsRef, ns, name),
  };
  const endpointsController = instrumented(
    () =>
      new EndpointsController({
        informers: provider,
        executor: endpointsExecutor,
        clock: systemClock,
        logger,
      }),
  );
  // HorizontalPodAutoscalers: scale subresource of the target, PodMetrics from metrics.k8s.io.
  const hpaRef = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' };
  const hpaExecutor: HpaExecutor = {
    getScale: (ref, ns, name) => client.getScale(ref, ns, name),
    updateScale: (ref, ns, name, scale) =>
      client.updateScale(ref, ns, name, { metadata: scale.metadata, spec: scale.spec }),
    updateHpaStatus: (hpa) => client.updateStatus(hpaRef, hpa.metadata.namespace, hpa),
  };
  const hpaRecorder = new SinkEventRecorder({
    sink,
    clock: systemClock,
    component: 'horizontal-pod-autoscaler',
    logger,
  });
  const hpaController = instrumented(
    () =>
      new HpaController({
        informers: provider,
        executor: hpaExecutor,
        metrics: new HttpMetricsSource((path) => client.request('GET', path)),
        clock: systemClock,
        logger,
        recorder: hpaRecorder,
        ...(opts.hpaSyncPeriodMs === undefined ? {} : { syncPeriodMs: opts.hpaSyncPeriodMs }),
      }),
  );
  for (const inf of informers.values()) inf.start();
  replicaSetController.start();
  deploymentController.start();
  endpointSliceController.start();
  endpointsController.start();
  hpaController.start();
  nodeLifecycle.start();
  gc.start();
  nsc.start();
  return {
    client,
    informer: (resource) => informers.get(resource),
    stop: async () => {
      await gc.stop();
      await nsc.stop();
      await nodeLifecycle.stop();
      await Promise.all([replicaSetController.stop(), deploymentController.stop()]);
      await Promise.all([endpointSliceController.stop(), endpointsController.stop()]);
      await hpaController.stop();
      await hpaRecorder.flush();
      await Promise.all([replicaSetRecorder.flush(), deploymentRecorder.flush()]);
      await nodeRecorder.flush();
      await recorder.flush();
      for (const inf of informers.values()) inf.stop();
      await client.close();
    },
  };
}
