// Background loops of the control plane: event expiry, store compaction, and the built-in controllers.
import { isApiError } from '../api/errors.js';
import type { KubeObject } from '../api/types.js';
import type { Store } from '../store/store.js';
import type { StoreKind } from './open-store.js';
import type { ApiServer } from './server.js';
import { startControllers, type ControllerSet } from './controllers.js';
import type { NodeLifecycleOptions } from '../controllers/node-lifecycle/controller.js';
import { defaultProfile, type SchedulerProfile } from '../scheduler/core.js';
import type { SchedulerOptions } from '../scheduler/scheduler.js';
import { startScheduler, type RunningScheduler } from '../scheduler/start.js';

export interface BackgroundConfig {
  api: ApiServer;
  store: Store;
  storeKind: StoreKind;
  url: string;
  /** The API server's local socket: the controllers and scheduler connect there when set. */
  localSocket?: string;
  caPem: string | undefined;
  token: string;
  eventTtlSeconds: number;
  log: (line: string) => void;
  /** How often expired events are swept (default 60 s). */
  sweepIntervalMs?: number;
  /** etcd compaction period (default 5 min) and retained revisions (default 10,000). */
  compactIntervalMs?: number;
  compactRetain?: number;
  /** Node lifecycle tunables (`--node-monitor-grace-period`, ...). */
  nodeLifecycle?: NodeLifecycleOptions;
  /** Automatic rollback for Deployments without the annotation (`--deployment-rollback-on-failure`). */
  deploymentRollbackOnFailure?: boolean;
  /** How often each HPA is evaluated (`--hpa-sync-period`); default 15 s. */
  hpaSyncPeriodMs?: number;
  /** The scheduler's profile (default: the core's defaultProfile). */
  schedulerProfile?: SchedulerProfile;
  /** Run without the scheduler (`--disable-scheduler`). */
  disableScheduler?: boolean;
}

function sharedInformers(controllers: ControllerSet): { informers?: SchedulerOptions['informers'] } {
  const pods = controllers.informer('pods');
  const nodes = controllers.informer('nodes');
  const namespaces = controllers.informer('namespaces');
  if (pods === undefined || nodes === undefined || namespaces === undefined) return {};
  return { informers: { pods, nodes, namespaces } };
}

export interface BackgroundLoops {
  stop(): Promise<void>;
}

function eventTime(ev: KubeObject): number {
  const candidates = [ev.lastTimestamp, ev.eventTime, ev.metadata.creationTimestamp];
  for (const c of candidates) {
    if (typeof c === 'string' && c !== '') {
      const t = Date.parse(c);
      if (Number.isFinite(t)) return t;
    }
  }
  return Date.now();
}

/** Delete events older than the TTL. Returns how many went. */
export async function sweepEvents(api: ApiServer, ttlSeconds: number, nowMs = Date.now()): Promise<number> {
  const registry = api.registry({ group: '', version: 'v1', resource: 'events' });
  const listed = await registry.list({ namespace: undefined });
  let removed = 0;
  for (const text of listed.items) {
    const ev = JSON.parse(text) as KubeObject;
    if (nowMs - eventTime(ev) < ttlSeconds * 1000) continue;
    try {
      await registry.delete(ev.metadata.namespace, ev.metadata.name ?? '', {}, false);
      removed++;
    } catch (err) {
      if (!(isApiError(err) && err.reason === 'NotFound')) throw err;
    }
  }
  return removed;
}

export async function startBackgroundLoops(config: BackgroundConfig): Promise<BackgroundLoops> {
  const timers: NodeJS.Timeout[] = [];
  let stopping = false;
  const every = (name: string, ms: number, fn: () => Promise<unknown>): void => {
    const run = (): void => {
      if (stopping) return;
      fn()
        .catch((err: unknown) => config.log(`${name}: ${(err as Error).message}`))
        .finally(() => {
          if (!stopping) timers.push(setTimeout(run, ms).unref());
        });
    };
    timers.push(setTimeout(run, ms).unref());
  };

  every('event expiry', config.sweepIntervalMs ?? 60_000, () =>
    sweepEvents(config.api, config.eventTtlSeconds),
  );

  if (config.storeKind === 'etcd') {
    // SQLite compacts itself; etcd is compacted by its client, as kube-apiserver does.
    const retain = config.compactRetain ?? 10_000;
    every('compaction', config.compactIntervalMs ?? 5 * 60_000, async () => {
      const current = await config.store.currentRevision();
      const target = current - retain;
      if (target > (await config.store.compactedRevision())) await config.store.compact(target);
    });
  }

  const controllers: ControllerSet = await startControllers({
    url: config.url,
    ...(config.localSocket === undefined ? {} : { localSocket: config.localSocket }),
    caPem: config.caPem,
    token: config.token,
    log: config.log,
    ...(config.nodeLifecycle === undefined ? {} : { nodeLifecycle: config.nodeLifecycle }),
    deploymentRollbackOnFailure: config.deploymentRollbackOnFailure === true,
    ...(config.hpaSyncPeriodMs === undefined ? {} : { hpaSyncPeriodMs: config.hpaSyncPeriodMs }),
    // The controllers run in this process: their workqueues show on the API server's /metrics.
    metrics: config.api.prometheus,
  });

  const scheduler: RunningScheduler | undefined =
    config.disableScheduler === true
      ? undefined
      : startScheduler({
          url: config.url,
          ...(config.localSocket === undefined ? {} : { localSocket: config.localSocket }),
          // One parsed copy of every pod, node and namespace in this process, not two.
          ...sharedInformers(controllers),
          caPem: config.caPem,
          token: config.token,
          profile: config.schedulerProfile ?? defaultProfile,
          log: config.log,
        });

  return {
    stop: async () => {
      stopping = true;
      for (const t of timers) clearTimeout(t);
      await scheduler?.stop();
      await controllers.stop();
    },
  };
}
