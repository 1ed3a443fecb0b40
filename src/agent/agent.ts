// The node agent: registers its Node, renews its Lease, runs the pods bound to it through the pod manager,
// and reports node status. It talks to the control plane only through the HTTP API with its own
// credentials, exactly as a remote agent does, even inside `flotilla up`.
import { ApiClient } from '../api/client/client.js';
import { Informer, listerWatcherFor } from '../api/client/informer.js';
import { isApiError } from '../api/errors.js';
import type { KubeObject } from '../api/types.js';
import { systemClock, type Clock } from '../machinery/clock.js';
import { SinkEventRecorder, type EventSink } from '../machinery/event-recorder.js';
import type { AgentMetrics } from '../machinery/prom/index.js';
import type { ImageService } from './image/types.js';
import type { PodNetwork } from './network/types.js';
import {
  newNode,
  nodeLabels,
  nodeLease,
  nodeStatus,
  type HostFacts,
  type NodeConfig,
  type Pressure,
} from './node-status.js';
import { PodManager } from './pod/manager.js';
import type { EndpointDrainer } from './proxy/proxy.js';
import type { ContainerRuntime } from './runtime/types.js';

export interface AgentParts {
  runtime: ContainerRuntime;
  images: ImageService;
  network: PodNetwork;
  /** Starts the streaming server (logs, exec, stats) and returns its stop function. */
  startServer?: () => Promise<() => Promise<void>>;
}

export interface AgentOptions {
  node: NodeConfig;
  client: ApiClient;
  parts: AgentParts;
  /** `<data-dir>/agent`: pod dirs, runtime state, images, network state. */
  dataDir: string;
  /** Facts about the host (hostFacts() for a real node; made up for simulated ones). */
  facts: () => HostFacts;
  pressure: () => Pressure;
  cgroupRoot: string;
  /** Graceful endpoint removal: deleting pods wait for the Service proxy before their containers stop. */
  endpointDrain?: { drainer: EndpointDrainer; timeoutMs: number };
  /** Lease renewal period (default 10 s) and duration (default 40 s). */
  leaseRenewSeconds?: number;
  leaseDurationSeconds?: number;
  /** Node status is written when it changed and at least this often (default 60 s). */
  statusReportSeconds?: number;
  clock?: Clock;
  log?: (line: string) => void;
  clusterDns?: { nameservers: string[]; searches: string[]; options: string[]; clusterDomain?: string };
  /** Every Service (undefined until the agent's Service cache synced), for service environment variables. */
  services?: () => KubeObject[] | undefined;
  /** Prometheus recorder (pod starts, image pulls, running pods) for the agent's /metrics. */
  metrics?: AgentMetrics;
}

const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const leaseRef = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };

export class NodeAgent {
  private readonly opts: AgentOptions;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly manager: PodManager;
  private readonly recorder: SinkEventRecorder;
  private informer: Informer | undefined;
  private stopServer: (() => Promise<void>) | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];
  private nodeUid: string | undefined;
  private lastStatusJson = '';
  private lastStatusAt = 0;
  private statusInFlight = false;
  private leaseInFlight = false;
  private stopped = false;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    const eventsRef = { apiVersion: 'v1', kind: 'Event' };
    const sink: EventSink = {
      create: (ns, ev) => opts.client.create(eventsRef, ns, ev),
      update: (ns, ev) => opts.client.update(eventsRef, ns, ev),
    };
    this.recorder = new SinkEventRecorder({
      sink,
      clock: this.clock,
      component: 'kubelet',
      host: opts.node.nodeName,
    });
    this.manager = new PodManager({
      nodeName: opts.node.nodeName,
      hostIP: opts.facts().internalIP,
      runtime: opts.parts.runtime,
      images: opts.parts.images,
      network: opts.parts.network,
      client: opts.client,
      recorder: this.recorder,
      clock: this.clock,
      dataDir: opts.dataDir,
      cgroupRoot: opts.cgroupRoot,
      ...(opts.endpointDrain === undefined ? {} : { endpointDrain: opts.endpointDrain }),
      ...(opts.clusterDns === undefined ? {} : { clusterDns: opts.clusterDns }),
      ...(opts.services === undefined ? {} : { services: opts.services }),
      ...(opts.metrics === undefined ? {} : { metrics: opts.metrics }),
      log: this.log,
    });
    const manager = this.manager;
    opts.metrics?.runningPods(() => manager.runningPodCount());
  }

  get nodeName(): string {
    return this.opts.node.nodeName;
  }

  get pods(): PodManager {
    return this.manager;
  }

  /** Registers the node, adopts existing containers, starts the pod informer, lease and status loops. */
  async start(): Promise<void> {
    const { client, node } = this.opts;
    await this.manager.start();
    if (this.opts.parts.startServer !== undefined) this.stopServer = await this.opts.parts.startServer();
    await this.register();
    await this.renewLease();
    await this.reportStatus(true);

    const informer = new Informer(
      listerWatcherFor(client, podRef, undefined, { fieldSelector: `spec.nodeName=${node.nodeName}` }),
      {
        onError: (err) => {
          if (!(isApiError(err) && err.reason === 'ServiceUnavailable'))
            this.log(`agent: pod watch: ${(err as Error).message}`);
        },
      },
    );
    informer.addEventHandler({
      onAdd: (pod) => this.manager.upsert(pod),
      onUpdate: (_old, pod) => this.manager.upsert(pod),
      onDelete: (pod) => this.manager.remove(pod),
    });
    this.informer = informer;
    informer.start();
    await informer.waitForSync();
    this.manager.resync(informer.list());

    const leaseMs = (this.opts.leaseRenewSeconds ?? 10) * 1000;
    this.timers.push(setInterval(() => void this.renewLease(), leaseMs));
    this.timers.push(setInterval(() => void this.reportStatus(false), Math.min(leaseMs, 10_000)));
    for (const t of this.timers) t.unref();
    this.log(`agent: node ${node.nodeName} registered; running pods bound to it`);
  }

  /** Stops the loops; containers keep running (an agent restart adopts them). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.informer?.stop();
    await this.manager.stop();
    await this.stopServer?.();
    await this.recorder.flush();
  }

  private async register(): Promise<void> {
    const { client, node } = this.opts;
    const facts = this.opts.facts();
    const wanted = newNode(node, facts);
    try {
      const created = await client.create(nodeRef, undefined, wanted);
      this.nodeUid = created.metadata.uid;
      this.log(`agent: registered node ${node.nodeName}`);
      return;
    } catch (err) {
      if (!(isApiError(err) && err.reason === 'AlreadyExists')) throw err;
    }
    // Re-registration: keep user labels and taints, refresh ours and the pod CIDR.
    const current = await client.get(nodeRef, undefined, node.nodeName);
    this.nodeUid = current.metadata.uid;
    const labels = { ...(current.metadata.labels ?? {}), ...nodeLabels(node, facts) };
    const spec = (current.spec ?? {}) as Record<string, unknown>;
    if (
      JSON.stringify(labels) !== JSON.stringify(current.metadata.labels ?? {}) ||
      spec['podCIDR'] === undefined
    ) {
      await client.patch(nodeRef, undefined, node.nodeName, 'merge', {
        metadata: { labels },
        ...(spec['podCIDR'] === undefined
          ? { spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr] } }
          : {}),
      });
    }
  }

  private async renewLease(): Promise<void> {
    if (this.leaseInFlight || this.stopped) return;
    this.leaseInFlight = true;
    const { client, node } = this.opts;
    const lease = nodeLease(
      node.nodeName,
      this.nodeUid,
      this.opts.leaseDurationSeconds ?? 40,
      this.clock.now(),
    );
    try {
      try {
        for (let attempt = 0; ; attempt++) {
          const current = await client.get(leaseRef, 'kube-node-lease', node.nodeName);
          const metadata = { ...lease.metadata };
          if (current.metadata.resourceVersion !== undefined)
            metadata.resourceVersion = current.metadata.resourceVersion;
          // Annotations written by others on our Lease (the proxy's applied revision) are kept.
          if (current.metadata.annotations !== undefined) metadata.annotations = current.metadata.annotations;
          try {
            await client.update(leaseRef, 'kube-node-lease', { ...lease, metadata });
            break;
          } catch (err) {
            // The proxy patched the Lease between our read and write: read again.
            if (!(isApiError(err) && err.reason === 'Conflict' && attempt < 2)) throw err;
          }
        }
      } catch (err) {
        if (isApiError(err) && err.reason === 'NotFound')
          await client.create(leaseRef, 'kube-node-lease', lease);
        else throw err;
      }
    } catch (err) {
      this.log(`agent: lease renewal failed: ${(err as Error).message}`);
    } finally {
      this.leaseInFlight = false;
    }
  }

  /** Writes the node status when it changed (ignoring heartbeat times) or when the report period passed. */
  private async reportStatus(force: boolean): Promise<void> {
    if (this.statusInFlight || this.stopped) return;
    this.statusInFlight = true;
    const { client, node } = this.opts;
    try {
      const current = await client.get(nodeRef, undefined, node.nodeName).catch((err: unknown) => {
        if (isApiError(err) && err.reason === 'NotFound') return undefined;
        throw err;
      });
      if (current === undefined) {
        // Deleted by someone: register again, as the kubelet does.
        await this.register();
        force = true;
      }
      const prev = ((current?.status ?? {}) as { conditions?: never[] }).conditions;
      const images = (await this.opts.parts.images.list()).map((i) => ({
        names: [...i.repoDigests, ...i.repoTags],
        sizeBytes: i.size,
      }));
      let readiness: { ready: boolean; message?: string } = { ready: true };
      try {
        await this.opts.parts.runtime.info();
      } catch (err) {
        readiness = { ready: false, message: `container runtime is down: ${(err as Error).message}` };
      }
      const now = new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
      const status = nodeStatus(node, this.opts.facts(), this.opts.pressure(), readiness, images, prev, now);
      const comparable = JSON.stringify(status, (k, v: unknown) =>
        k === 'lastHeartbeatTime' ? undefined : v,
      );
      const due = this.clock.now() - this.lastStatusAt >= (this.opts.statusReportSeconds ?? 60) * 1000;
      if (!force && !due && comparable === this.lastStatusJson) return;
      const latest: KubeObject = current ?? (await client.get(nodeRef, undefined, node.nodeName));
      await client.updateStatus(nodeRef, undefined, { ...latest, status });
      this.lastStatusJson = comparable;
      this.lastStatusAt = this.clock.now();
    } catch (err) {
      if (!(isApiError(err) && err.reason === 'Conflict'))
        this.log(`agent: node status update failed: ${(err as Error).message}`);
    } finally {
      this.statusInFlight = false;
    }
  }
}
