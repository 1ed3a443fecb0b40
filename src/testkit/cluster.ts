// Start a real Flotilla control plane in-process (HTTPS, tokens, kubeconfig) on a temporary data dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../apiserver/bootstrap.js';
import { installKindHooks } from '../apiserver/hooks.js';
import type { StoreKind } from '../apiserver/open-store.js';
import type { NodeLifecycleOptions } from '../controllers/node-lifecycle/controller.js';

export interface TestCluster extends RunningServer {
  dataDir: string;
  /** Stop the server and remove the data dir. */
  destroy(): Promise<void>;
}

export async function startTestCluster(
  opts: {
    store?: StoreKind;
    etcdEndpoints?: string[];
    dataDir?: string;
    eventTtlSeconds?: number;
    /** Node lifecycle tunables, e.g. a short grace period. */
    nodeLifecycle?: NodeLifecycleOptions;
    /** How often the HPA controller evaluates each HPA (`--hpa-sync-period`). */
    hpaSyncPeriodMs?: number;
    /** `--service-cluster-ip-range` (default 10.43.0.0/16). */
    serviceClusterIPRange?: string;
  } = {},
): Promise<TestCluster> {
  installKindHooks();
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'flotilla-test-'));
  const server = await startServer({
    dataDir,
    listen: '127.0.0.1:0',
    store: opts.store ?? 'sqlite',
    etcdEndpoints: opts.etcdEndpoints ?? [],
    ...(opts.eventTtlSeconds === undefined ? {} : { eventTtlSeconds: opts.eventTtlSeconds }),
    ...(opts.nodeLifecycle === undefined ? {} : { nodeLifecycle: opts.nodeLifecycle }),
    ...(opts.hpaSyncPeriodMs === undefined ? {} : { hpaSyncPeriodMs: opts.hpaSyncPeriodMs }),
    ...(opts.serviceClusterIPRange === undefined
      ? {}
      : { serviceClusterIPRange: opts.serviceClusterIPRange }),
    log: () => undefined,
  });
  return {
    ...server,
    dataDir,
    async destroy() {
      await server.stop();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
