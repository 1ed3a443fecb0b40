// Server start-up as a flat list of named steps (k3s style): data dir, store, PKI, tokens, API, kubeconfig,
// built-in namespaces, background loops. Each step logs what it did; a failing step names itself.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KubeObject } from '../api/types.js';
import { isApiError } from '../api/errors.js';
import type { Store } from '../store/store.js';
import { ensureNodeToken, ensureTokens } from './auth.js';
import { ensurePki } from './certs.js';
import { writeKubeconfig } from './kubeconfig.js';
import { startApiServer, type ApiServer, type RunningApiServer } from './server.js';
import { openStore, type StoreKind } from './open-store.js';
import { startBackgroundLoops, type BackgroundLoops } from './background.js';
import type { NodeLifecycleOptions } from '../controllers/node-lifecycle/controller.js';
import type { SchedulerProfile } from '../scheduler/core.js';

export interface ServerConfig {
  dataDir: string;
  listen: string;
  store: StoreKind;
  etcdEndpoints: string[];
  /** Plain HTTP without authentication: only for tests that need it. */
  insecure?: boolean;
  /** Events older than this are deleted (default one hour). */
  eventTtlSeconds?: number;
  log?: (line: string) => void;
  /** `flotilla up`: also issue a token for the local node agent `system:node:<nodeName>`. */
  nodeName?: string;
  /** tolerationSeconds of the not-ready NoExecute toleration admission adds to pods (default 10). */
  defaultNotReadyTolerationSeconds?: number;
  /** tolerationSeconds of the unreachable NoExecute toleration admission adds to pods (default 10). */
  defaultUnreachableTolerationSeconds?: number;
  /** Node lifecycle tunables (`--node-monitor-grace-period`, ...); defaults when absent. */
  nodeLifecycle?: NodeLifecycleOptions;
  /** Automatic rollback for Deployments without the annotation (`--deployment-rollback-on-failure`). */
  deploymentRollbackOnFailure?: boolean;
  /** How often each HPA is evaluated (`--hpa-sync-period`); default 15 s. */
  hpaSyncPeriodMs?: number;
  /** The scheduler's profile (`--scheduler-scoring`, `--scheduler-config`); default the core's. */
  schedulerProfile?: SchedulerProfile;
  /** Run without the scheduler (`--disable-scheduler`). */
  disableScheduler?: boolean;
  /** Service ClusterIPs come from this CIDR (`--service-cluster-ip-range`, default 10.43.0.0/16). */
  serviceClusterIPRange?: string;
  /** Service node ports come from this range (`--service-node-port-range`, default 30000-32767). */
  serviceNodePortRange?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  kubeconfig: string;
  adminToken: string;
  /** The local agent's token when `nodeName` was given. */
  nodeToken: string | undefined;
  caPem: string | undefined;
  store: Store;
  api: ApiServer;
  http: RunningApiServer;
  stop(): Promise<void>;
}

export const builtinNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/**
 * The API server's local socket in the data dir, for the controllers and scheduler of this process; none
 * when the path would be too long for a unix socket (they then use the HTTPS address like anyone else).
 */
function localSocketPath(dataDir: string): string | undefined {
  const path = join(resolve(dataDir), 'apiserver.sock');
  return Buffer.byteLength(path) <= 100 ? path : undefined;
}

async function step<T>(name: string, log: (line: string) => void, fn: () => Promise<T> | T): Promise<T> {
  try {
    const out = await fn();
    log(`start: ${name}: ok`);
    return out;
  } catch (err) {
    throw new Error(`start: ${name} failed: ${(err as Error).message}`, { cause: err });
  }
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const log = config.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await step(`data dir ${config.dataDir}`, log, () =>
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 }),
  );
  const store = await step(`store (${config.store})`, log, () =>
    openStore(config.store, { dataDir: config.dataDir, etcdEndpoints: config.etcdEndpoints }),
  );
  let http: (RunningApiServer & { api: ApiServer }) | undefined;
  let loops: BackgroundLoops | undefined;
  try {
    const pki =
      config.insecure === true ? undefined : await step('certificates', log, () => ensurePki(config.dataDir));
    const tokens = await step('tokens', log, () => {
      const first = ensureTokens(config.dataDir);
      if (config.nodeName === undefined) return { ...first, nodeToken: undefined };
      const nodeToken = ensureNodeToken(config.dataDir, config.nodeName);
      return { ...ensureTokens(config.dataDir), nodeToken };
    });
    http = await step(`API server on ${config.listen}`, log, () =>
      startApiServer({
        store,
        listen: config.listen,
        localSocket: localSocketPath(config.dataDir),
        tls: pki === undefined ? undefined : { certPem: pki.certPem, keyPem: pki.keyPem },
        tokens: config.insecure === true ? undefined : tokens.entries,
        log,
        defaultNotReadyTolerationSeconds: config.defaultNotReadyTolerationSeconds,
        defaultUnreachableTolerationSeconds: config.defaultUnreachableTolerationSeconds,
        serviceClusterIPRange: config.serviceClusterIPRange,
        serviceNodePortRange: config.serviceNodePortRange,
      }),
    );
    const running = http;
    const kubeconfig = await step('kubeconfig', log, () =>
      writeKubeconfig(config.dataDir, running.url, pki?.caCertPem, tokens.adminToken),
    );
    await step('built-in namespaces', log, () => ensureNamespaces(running.api));
    loops = await step('controllers', log, () =>
      startBackgroundLoops({
        api: running.api,
        store,
        storeKind: config.store,
        url: running.url,
        ...(running.localSocket === undefined ? {} : { localSocket: running.localSocket }),
        caPem: pki?.caCertPem,
        token: tokens.adminToken,
        eventTtlSeconds: config.eventTtlSeconds ?? 3600,
        log,
        ...(config.nodeLifecycle === undefined ? {} : { nodeLifecycle: config.nodeLifecycle }),
        deploymentRollbackOnFailure: config.deploymentRollbackOnFailure === true,
        ...(config.hpaSyncPeriodMs === undefined ? {} : { hpaSyncPeriodMs: config.hpaSyncPeriodMs }),
        ...(config.schedulerProfile === undefined ? {} : { schedulerProfile: config.schedulerProfile }),
        ...(config.disableScheduler === undefined ? {} : { disableScheduler: config.disableScheduler }),
      }),
    );
    const started = loops;
    let stopped = false;
    return {
      url: running.url,
      port: running.port,
      kubeconfig,
      adminToken: tokens.adminToken,
      nodeToken: tokens.nodeToken,
      caPem: pki?.caCertPem,
      store,
      api: running.api,
      http: running,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await started.stop();
        await running.close();
        await store.close();
      },
    };
  } catch (err) {
    await loops?.stop();
    await http?.close();
    await store.close();
    throw err;
  }
}

async function ensureNamespaces(api: ApiServer): Promise<void> {
  const registry = api.registry({ group: '', version: 'v1', resource: 'namespaces' });
  for (const name of builtinNamespaces) {
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
    try {
      await registry.create(undefined, ns, { dryRun: false, fieldValidation: 'Strict' });
    } catch (err) {
      if (!(isApiError(err) && err.reason === 'AlreadyExists')) throw err;
    }
  }
}

export function defaultDbPath(dataDir: string): string {
  return join(dataDir, 'db', 'state.db');
}
