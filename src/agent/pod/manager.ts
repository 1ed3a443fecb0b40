// PodManager: the API the agent wiring calls. One PodWorker per pod bound to this node; adoption of what
// the runtime and network already run after an agent restart (the workers observe existing containers
// by their labels and restart nothing that runs); orphan cleanup once the informer's initial list is
// known. Each worker lists its own pod's containers; the node-wide listing is for start and resync.

import { readdir } from 'node:fs/promises';
import type { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import type { Clock } from '../../machinery/clock.js';
import type { EventRecorder } from '../../machinery/event-recorder.js';
import type { ImageService } from '../image/types.js';
import type { PodNetwork } from '../network/types.js';
import type { ContainerRuntime } from '../runtime/types.js';
import { podSpec, podUid } from './pod-view.js';
import { apiObjectLookup, defaultSpecBuilder, type PodContext, type SpecBuilder } from './spec-builder.js';
import { PodWorker, type PodWorkerDeps } from './worker.js';

export type { SpecBuilder } from './spec-builder.js';

export interface PodManagerDeps {
  nodeName: string;
  hostIP: string;
  runtime: ContainerRuntime;
  images: ImageService;
  network: PodNetwork;
  client: ApiClient;
  recorder: EventRecorder;
  clock: Clock;
  /** `<data-dir>/agent`; pod dirs in `<dataDir>/pods/<uid>`. */
  dataDir: string;
  /** 'flotilla': pod cgroups are `<cgroupRoot>/pod<uid>`. */
  cgroupRoot: string;
  clusterDns?: PodContext['clusterDns'];
  /** Every Service in the cluster (the agent's ServiceView), for service environment variables. */
  services?: PodContext['services'];
  log?: (msg: string) => void;
  specBuilder?: SpecBuilder;
  /** How often each worker looks at the runtime without a wake-up (default 1000 ms). */
  pollIntervalMs?: number;
  /** Graceful endpoint removal (the Service proxy), see PodWorkerDeps. */
  endpointDrain?: PodWorkerDeps['endpointDrain'];
  /** Pod start latency and image pulls (Prometheus), see PodWorkerDeps. */
  metrics?: PodWorkerDeps['metrics'];
}

export class PodManager {
  private readonly workers = new Map<string, PodWorker>();
  /** Uids whose cleanup finished, so a late informer event does not start them again. */
  private readonly finished = new Set<string>();
  private readonly workerDeps: PodWorkerDeps;
  private readonly log: (msg: string) => void;
  private stopped = false;
  private readonly unsubscribeExits: (() => void) | undefined;

  constructor(private readonly deps: PodManagerDeps) {
    this.log = deps.log ?? (() => undefined);
    const pollIntervalMs = deps.pollIntervalMs ?? 1000;
    this.workerDeps = {
      nodeName: deps.nodeName,
      hostIP: deps.hostIP,
      runtime: deps.runtime,
      images: deps.images,
      network: deps.network,
      client: deps.client,
      recorder: deps.recorder,
      clock: deps.clock,
      dataDir: deps.dataDir,
      cgroupRoot: deps.cgroupRoot,
      log: this.log,
      specBuilder: deps.specBuilder ?? defaultSpecBuilder,
      lookup: apiObjectLookup(deps.client),
      listContainers: (podUid) => this.deps.runtime.listContainers({ podUid }),
      pollIntervalMs,
    };
    if (deps.clusterDns !== undefined) this.workerDeps.clusterDns = deps.clusterDns;
    if (deps.endpointDrain !== undefined) this.workerDeps.endpointDrain = deps.endpointDrain;
    if (deps.services !== undefined) this.workerDeps.services = deps.services;
    if (deps.metrics !== undefined) this.workerDeps.metrics = deps.metrics;
    // An exit wakes its pod's worker at once (the restart does not wait for a poll).
    this.unsubscribeExits = deps.runtime.onExit?.((_id, labels) => {
      this.workers.get(labels.podUid)?.wake();
    });
  }

  /** Adopts what the runtime and network already have (after an agent restart): no container restarted. */
  async start(): Promise<void> {
    // Workers adopt containers by their labels when the informer hands them their pods; nothing runs
    // until then. Listing once here surfaces a broken runtime early.
    const containers = await this.deps.runtime.listContainers();
    const uids = new Set(containers.map((c) => c.labels.podUid));
    this.log(`pod manager: ${containers.length} containers of ${uids.size} pods found in the runtime`);
  }

  /** Informer add/update. */
  upsert(pod: KubeObject): void {
    if (this.stopped) return;
    const uid = podUid(pod);
    if (uid === '' || podSpec(pod)['nodeName'] !== this.deps.nodeName) return;
    const w = this.workers.get(uid);
    if (w !== undefined) {
      w.update(pod);
      return;
    }
    if (this.finished.has(uid)) return;
    this.spawn(pod, false);
  }

  /** Informer delete: the pod is gone from the API; clean up without the final API delete. */
  remove(pod: KubeObject): void {
    if (this.stopped) return;
    const uid = podUid(pod);
    if (uid === '') return;
    const w = this.workers.get(uid);
    if (w !== undefined) {
      w.markRemoved(pod);
      return;
    }
    if (this.finished.has(uid)) return;
    if (podSpec(pod)['nodeName'] !== this.deps.nodeName) return;
    this.spawn(pod, true);
  }

  /**
   * The full set of pods bound to this node after the informer's initial list: containers, networks and
   * pod dirs of pods not in it are orphans and are removed.
   */
  resync(pods: KubeObject[]): void {
    if (this.stopped) return;
    const mine = pods.filter((p) => podSpec(p)['nodeName'] === this.deps.nodeName && podUid(p) !== '');
    const keep = new Set(mine.map(podUid));
    for (const p of mine) this.upsert(p);
    for (const [uid, w] of this.workers) if (!keep.has(uid)) w.markRemoved();
    void this.removeOrphans(keep).catch((err: unknown) =>
      this.log(`pod manager: orphan cleanup failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /** Stops workers and probes; containers keep running (agent shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeExits?.();
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
  }

  /** Pods this node is running (or still cleaning up). */
  podCount(): number {
    return this.workers.size;
  }

  /** Pods with at least one running container. */
  runningPodCount(): number {
    let n = 0;
    for (const w of this.workers.values()) if (w.running()) n++;
    return n;
  }

  private spawn(pod: KubeObject, removed: boolean): void {
    const uid = podUid(pod);
    const w = new PodWorker(this.workerDeps, pod, { removed });
    this.workers.set(uid, w);
    void w.done.then(() => {
      if (this.workers.get(uid) === w && w.finished) {
        this.workers.delete(uid);
        this.finished.add(uid);
        if (this.finished.size > 10_000) {
          const first = this.finished.values().next();
          if (first.done !== true) this.finished.delete(first.value);
        }
      }
    });
  }

  private async removeOrphans(keep: Set<string>): Promise<void> {
    const orphans = new Map<string, KubeObject>();
    const add = (uid: string, name = uid.slice(0, 8), namespace = 'default'): void => {
      if (uid === '' || keep.has(uid) || this.workers.has(uid) || orphans.has(uid)) return;
      // A stand-in pod for the worker: enough to stop, remove and tear down what carries its uid.
      orphans.set(uid, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, uid },
        spec: { nodeName: this.deps.nodeName, terminationGracePeriodSeconds: 10 },
      });
    };
    for (const c of await this.deps.runtime.listContainers())
      add(c.labels.podUid, c.labels.podName, c.labels.podNamespace);
    for (const uid of await this.deps.network.list()) add(uid);
    try {
      for (const entry of await readdir(`${this.deps.dataDir}/pods`, { withFileTypes: true })) {
        if (entry.isDirectory()) add(entry.name);
      }
    } catch (err: unknown) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
    }
    if (this.stopped) return;
    for (const [uid, pod] of orphans) {
      if (this.workers.has(uid)) continue;
      this.log(`pod manager: removing orphaned pod ${uid}`);
      this.spawn(pod, true);
    }
  }
}
