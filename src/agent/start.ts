// Assembles a real node agent from its parts: runc + conmon, the local image store, CNI pod network,
// the streaming server, and the NodeAgent loops. `flotilla agent` and `flotilla up` call startAgent().
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../api/client/client.js';
import { Informer, listerWatcherFor } from '../api/client/informer.js';
import {
  agentMetrics,
  newMetricsRegistry,
  proxyMetrics,
  type MetricsRegistry,
} from '../machinery/prom/index.js';
import { NodeAgent } from './agent.js';
import { podClusterDns, upstreamsFromResolvConf, type Upstream } from './dns/config.js';
import { DnsServer } from './dns/server.js';
import { defaultInternalIP, hostFacts, readPressure } from './host.js';
import { LocalImageService } from './image/store.js';
import { CniPodNetwork } from './network/cni.js';
import type { NodeConfig } from './node-status.js';
import { RuncRuntime } from './runtime/runc.js';
import { removeNftTable } from './proxy/host.js';
import { TrafficMeter } from './proxy/traffic.js';
import { Activator, wakeThroughApi } from './activator/activator.js';
import { ServiceProxy } from './proxy/proxy.js';
import type { Balance } from './proxy/ruleset.js';
import { AgentServer } from './server/server.js';
import { StatsCollector } from './server/stats.js';
import { InformerServiceView } from './services/view.js';

export const agentVersion = 'v0.1.0-flotilla';

export interface AgentFlags {
  /** The Flotilla data dir; the agent keeps its state in `<dataDir>/agent`. */
  dataDir: string;
  server: string;
  token: string;
  caPem: string | undefined;
  nodeName?: string;
  nodeIP?: string;
  /** Address the streaming server listens on (default 0.0.0.0). */
  listenAddress?: string;
  port?: number;
  podCidr?: string;
  bridge?: string;
  netnsPrefix?: string;
  cgroupRoot?: string;
  runcRoot?: string;
  maxPods?: number;
  labels?: Record<string, string>;
  insecureRegistries?: string[];
  allowPrivileged?: boolean;
  leaseRenewSeconds?: number;
  /** The nftables table of the Service proxy, `table ip <name>` (default flotilla). */
  nftTable?: string;
  /** How the proxy spreads new connections over endpoints (default random). */
  proxyBalance?: Balance;
  /** How long a deleting pod waits for the Service datapath to stop sending to it (default 5 s; 0: no wait). */
  endpointDrainSeconds?: number;
  /** No Service datapath on this node (no nft table). */
  disableProxy?: boolean;
  /** Serve cluster DNS on the bridge address, port 53, and point pods at it (default true). */
  clusterDns?: boolean;
  /** Default `cluster.local`. */
  clusterDomain?: string;
  /** Resolvers for names outside the cluster domain (default: the host's /etc/resolv.conf nameservers). */
  dnsUpstreams?: Upstream[];
  /** How often the stats collector samples cgroups for metrics.k8s.io (default 10 s). */
  metricsIntervalMs?: number;
  /** Scale to zero: how long the activator holds a connection for a pod to become ready (default 60 s). */
  activatorTimeoutMs?: number;
  /** Scale to zero: connections held per Service at most (default 100). */
  activatorMaxHeld?: number;
  log?: (line: string) => void;
}

const hpaRef = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' } as const;

/** Defaults that let several agents share one machine (tests, simulated clusters) when each sets its own. */
export function agentPaths(flags: Pick<AgentFlags, 'dataDir' | 'runcRoot'>): {
  root: string;
  containers: string;
  images: string;
  network: string;
  pods: string;
  runcRoot: string;
} {
  const root = join(flags.dataDir, 'agent');
  return {
    root,
    containers: join(root, 'containers'),
    images: join(root, 'images'),
    network: join(root, 'network'),
    pods: join(root, 'pods'),
    runcRoot: flags.runcRoot ?? join(root, 'runc'),
  };
}

export interface RunningAgent {
  agent: NodeAgent;
  nodeName: string;
  /** The node's Service datapath (undefined with disableProxy). */
  proxy: ServiceProxy | undefined;
  /** What the agent serves on `GET /metrics` (scraped through the API server's node proxy). */
  metrics: MetricsRegistry;
  stop(): Promise<void>;
}

export async function startAgent(flags: AgentFlags): Promise<RunningAgent> {
  const log = flags.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const paths = agentPaths(flags);
  for (const dir of [paths.root, paths.containers, paths.images, paths.network, paths.pods])
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bridge = flags.bridge ?? 'flotilla0';
  const nodeName = (flags.nodeName ?? hostname()).toLowerCase();
  const nodeIP =
    flags.nodeIP ?? defaultInternalIP((ifname) => ifname === bridge || ifname.startsWith('veth'));
  const port = flags.port ?? 10250;
  const podCidr = flags.podCidr ?? '10.42.0.0/24';

  const client = new ApiClient({
    server: flags.server,
    token: flags.token,
    ...(flags.caPem === undefined ? {} : { caPem: flags.caPem }),
    userAgent: `flotilla-agent/${agentVersion} (${nodeName})`,
  });
  const runtime = new RuncRuntime({
    root: paths.containers,
    runcRoot: paths.runcRoot,
    allowPrivileged: flags.allowPrivileged ?? false,
  });
  // Nothing is being created yet: container dirs without a record are what a crash cut short.
  for (const id of await runtime.removeIncomplete())
    log(`runtime: removed the unfinished container dir ${id}`);
  const images = new LocalImageService({
    root: paths.images,
    insecureRegistries: flags.insecureRegistries ?? [],
    log,
  });
  await images.init();
  const network = new CniPodNetwork({
    name: bridge,
    podCidr,
    stateDir: paths.network,
    netnsPrefix: flags.netnsPrefix ?? 'flotilla-',
    log,
  });
  const info = await runtime.info();
  // Prometheus metrics of this agent: pod starts, image pulls, running pods (and the proxy's syncs).
  const metrics = newMetricsRegistry();
  // The agent's one cache of Services and EndpointSlices: cluster DNS, the service proxy and the service
  // environment variables of new containers all read it.
  const serviceView = new InformerServiceView(client);
  // The Service datapath: this node's nftables table follows the view; deleting pods wait for it.
  // Scale from zero: the proxy sends a Service at zero replicas to the activator (started below).
  let activator: Activator | undefined;
  const proxy =
    flags.disableProxy === true
      ? undefined
      : new ServiceProxy({
          view: serviceView,
          node: { nodeName, nodeIPs: [nodeIP], bridge, podCidr },
          table: flags.nftTable ?? 'flotilla',
          balance: flags.proxyBalance ?? 'random',
          acks: { client },
          metrics: proxyMetrics(metrics),
          activators: () => activator?.addresses() ?? new Map<string, string>(),
          log,
        });
  // Connection and request rates per Service and Pod from the proxy's counters, for /stats/summary.
  const traffic =
    proxy === undefined
      ? undefined
      : new TrafficMeter({
          table: flags.nftTable ?? 'flotilla',
          view: serviceView,
          ...(flags.metricsIntervalMs === undefined ? {} : { intervalMs: flags.metricsIntervalMs }),
          log,
        });
  const drainSeconds = flags.endpointDrainSeconds ?? 5;
  const clusterDomain = flags.clusterDomain ?? 'cluster.local';
  let dns: DnsServer | undefined;
  let clusterDns: ReturnType<typeof podClusterDns> | undefined;
  if (flags.clusterDns !== false) {
    // CNI creates the bridge on the first pod; DNS listens on its address before any pod runs.
    const bridgeIP = await network.ensureBridge();
    dns = new DnsServer({
      address: bridgeIP,
      port: 53,
      view: serviceView,
      domain: clusterDomain,
      upstreams: flags.dnsUpstreams ?? hostUpstreams([bridgeIP]),
      log,
    });
    await dns.start().catch((err: unknown) => {
      throw new Error(
        `cluster DNS cannot listen on ${bridgeIP}:53: ${(err as Error).message} (--no-cluster-dns runs without it)`,
      );
    });
    clusterDns = podClusterDns(bridgeIP, clusterDomain);
  }
  const node: NodeConfig = {
    nodeName,
    podCidr,
    agentPort: port,
    maxPods: flags.maxPods ?? 110,
    labels: flags.labels ?? {},
    reservedMemoryBytes: 100 * 1048576,
    reservedCpuMilli: 0,
    memoryPressureBelowBytes: 100 * 1048576,
    diskPressureBelowPercent: 10,
    pidPressureAbovePercent: 90,
  };
  const agent = new NodeAgent({
    node,
    client,
    dataDir: paths.root,
    cgroupRoot: flags.cgroupRoot ?? 'flotilla',
    facts: () =>
      hostFacts({
        dataDir: paths.root,
        internalIP: nodeIP,
        runtimeVersion: `runc://${info.version}`,
        agentVersion,
      }),
    pressure: () => readPressure(paths.root),
    ...(flags.leaseRenewSeconds === undefined ? {} : { leaseRenewSeconds: flags.leaseRenewSeconds }),
    ...(clusterDns === undefined ? {} : { clusterDns }),
    services: () => (serviceView.synced() ? serviceView.services() : undefined),
    ...(proxy === undefined || drainSeconds <= 0
      ? {}
      : { endpointDrain: { drainer: proxy, timeoutMs: drainSeconds * 1000 } }),
    log,
    metrics: agentMetrics(metrics),
    parts: {
      runtime,
      images,
      network,
      startServer: async () => {
        const server = new AgentServer({
          host: flags.listenAddress ?? '0.0.0.0',
          port,
          ...(flags.caPem === undefined ? {} : { caPem: flags.caPem }),
          runtime,
          log,
          metrics,
          // Per-container CPU and memory from cgroups, per-node totals: /stats/summary for the control plane.
          stats: new StatsCollector({
            runtime,
            nodeName,
            log,
            ...(flags.metricsIntervalMs === undefined ? {} : { intervalMs: flags.metricsIntervalMs }),
            ...(traffic === undefined ? {} : { traffic }),
          }),
        });
        await server.start();
        return () => server.stop();
      },
    },
  });
  // Not awaited: containers wait for it through `services` (as the kubelet does), DNS answers SERVFAIL for
  // cluster names until it synced.
  // Subscribed before the view lists: the first sync rewrites the table left by a previous run in one
  // transaction, so Services keep answering across an agent restart.
  await proxy?.start();
  traffic?.start();
  serviceView.start().catch((err: unknown) => log(`agent: service view: ${(err as Error).message}`));
  let hpaInformer: Informer | undefined;
  if (proxy !== undefined) {
    const hpas = new Informer(listerWatcherFor(client, hpaRef, undefined));
    hpaInformer = hpas;
    activator = new Activator({
      address: await network.ensureBridge(),
      view: serviceView,
      hpas: {
        list: () => hpas.list(),
        onChange: (fn) => hpas.addEventHandler({ onAdd: fn, onUpdate: fn, onDelete: fn }),
      },
      wake: wakeThroughApi(client),
      ...(flags.activatorTimeoutMs === undefined ? {} : { timeoutMs: flags.activatorTimeoutMs }),
      ...(flags.activatorMaxHeld === undefined ? {} : { maxHeld: flags.activatorMaxHeld }),
      onAddressesChanged: () => proxy.refresh(),
      log,
    });
    hpas.start();
    await activator.start();
  }
  try {
    await agent.start();
  } catch (err) {
    serviceView.stop();
    proxy?.stop();
    traffic?.stop();
    hpaInformer?.stop();
    await activator?.stop();
    await dns?.stop();
    throw err;
  }
  return {
    agent,
    nodeName,
    proxy,
    metrics,
    stop: async () => {
      await agent.stop();
      // The rules stay: the kernel keeps serving Services while the agent is down.
      proxy?.stop();
      traffic?.stop();
      hpaInformer?.stop();
      await activator?.stop();
      serviceView.stop();
      await dns?.stop();
      await client.close();
    },
  };
}

/** The host's resolvers for names outside the cluster (none when /etc/resolv.conf is unreadable). */
function hostUpstreams(skip: string[]): Upstream[] {
  try {
    return upstreamsFromResolvConf(readFileSync('/etc/resolv.conf', 'utf8'), skip);
  } catch {
    return [];
  }
}

/**
 * `flotilla agent reset`: stops and removes every container of this agent, tears down every pod network,
 * removes the bridge, the nft table of the Service proxy and the pod dirs. Images stay. For uninstalling,
 * and for tests to leave nothing behind.
 */
export async function resetAgent(
  flags: Pick<
    AgentFlags,
    'dataDir' | 'runcRoot' | 'bridge' | 'podCidr' | 'netnsPrefix' | 'cgroupRoot' | 'log' | 'nftTable'
  >,
): Promise<{ containers: number; networks: number }> {
  const paths = agentPaths(flags);
  const log = flags.log ?? (() => undefined);
  const runtime = new RuncRuntime({ root: paths.containers, runcRoot: paths.runcRoot });
  const network = new CniPodNetwork({
    name: flags.bridge ?? 'flotilla0',
    podCidr: flags.podCidr ?? '10.42.0.0/24',
    stateDir: paths.network,
    netnsPrefix: flags.netnsPrefix ?? 'flotilla-',
    log,
  });
  // Each part is cleaned up even when an earlier one failed; the failures are reported together at the end.
  const failures: string[] = [];
  const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const cgroupRoot = flags.cgroupRoot ?? 'flotilla';
  const containers = await runtime.listContainers();
  await Promise.all(
    containers.map((c) =>
      step(`container ${c.id}`, async () => {
        if (c.state === 'running' || c.state === 'created') await runtime.stopContainer(c.id, 0);
        await runtime.removeContainer(c.id);
      }),
    ),
  );
  await step('incomplete containers', async () => {
    await runtime.removeIncomplete();
  });
  // Every pod cgroup under the root, whether a container was still in it or not (a teardown cut short
  // removes the containers first), then the root.
  await step('pod cgroups', async () => {
    for (const c of await runtime.childCgroups(cgroupRoot)) await runtime.removePodCgroup(c);
  });
  await step('cgroup root', () => runtime.removePodCgroup(cgroupRoot));
  let pods: string[] = [];
  await step('pod networks', async () => {
    pods = await network.list();
    for (const uid of pods) await network.tearDown(uid);
  });
  await step('bridge', () => network.destroy());
  // The Service datapath's table (Services stop answering on this node from here on).
  await step('nft table', () => removeNftTable(flags.nftTable ?? 'flotilla'));
  rmSync(paths.pods, { recursive: true, force: true });
  if (failures.length > 0) throw new Error(`agent reset left some parts behind: ${failures.join('; ')}`);
  return { containers: containers.length, networks: pods.length };
}
