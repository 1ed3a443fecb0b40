// `flotilla agent` (a node agent joining a control plane) and `flotilla agent reset`; the agent flags
// shared with `flotilla up`.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { loadKubeconfig } from '../api/client/kubeconfig.js';
import { parseUpstreamList } from '../agent/dns/config.js';
import { isValidTableName, type Balance } from '../agent/proxy/ruleset.js';
import type { AgentFlags, RunningAgent } from '../agent/start.js';
import { parseSimulateFlags, simulateDefaults, type SimulateFlagValues } from '../agent/simulate/options.js';

export interface AgentCliFlags {
  dataDir: string;
  nodeName?: string;
  nodeIp?: string;
  agentPort: string;
  podCidr: string;
  bridge: string;
  netnsPrefix: string;
  cgroupRoot: string;
  runcRoot?: string;
  maxPods: string;
  label: string[];
  insecureRegistry: string[];
  allowPrivileged?: boolean;
  leaseSeconds: string;
  clusterDns?: boolean | string;
  clusterDomain: string;
  dnsUpstream?: string;
  nftTable: string;
  proxyBalance: string;
  endpointDrainTimeout: string;
  disableProxy?: boolean;
  metricsInterval?: string;
  activatorTimeout?: string;
  activatorMaxHeld?: string;
}

/** `flotilla agent --simulate N`: simulated nodes (docs/simulated-nodes.md). */
function addSimulateFlags(cmd: Command): Command {
  const d = simulateDefaults;
  return cmd
    .option(
      '--simulate <n>',
      'run N simulated nodes (kwok-style) instead of a real node; see docs/simulated-nodes.md',
    )
    .option('--name-prefix <prefix>', 'with --simulate: node names are <prefix>-<i>', d.namePrefix)
    .option('--zones <n>', 'with --simulate: node i is in topology zone zone-<i mod n>', d.zones)
    .option('--node-cpu <quantity>', 'with --simulate: CPU of each node', d.nodeCpu)
    .option('--node-memory <quantity>', 'with --simulate: memory of each node', d.nodeMemory)
    .option('--node-pods <n>', 'with --simulate: pods each node accepts', d.nodePods)
    .option('--labels <k=v,...>', 'with --simulate: extra node labels (repeatable)', collect, [])
    .option(
      '--lease-interval <duration>',
      'with --simulate: lease renewal period of each node',
      d.leaseInterval,
    )
    .option(
      '--status-interval <duration>',
      'with --simulate: node status (Ready heartbeat) period',
      d.statusInterval,
    )
    .option(
      '--pod-start-delay <duration>',
      'with --simulate: ContainerCreating lasts this long',
      d.podStartDelay,
    )
    .option('--concurrency <n>', 'with --simulate: API requests in flight per kind of work', d.concurrency)
    .option(
      '--remove',
      'with --simulate: delete the simulated Nodes, their Leases and their pods, then exit',
    );
}

async function runSimulation(
  f: AgentCliFlags & Record<string, unknown>,
  cmd: Command,
  conn: { server: string; token: string; caPem: string | undefined },
): Promise<void> {
  const str = (k: string): string => String(f[k]);
  const values: SimulateFlagValues = {
    simulate: str('simulate'),
    namePrefix: str('namePrefix'),
    zones: str('zones'),
    nodeCpu: str('nodeCpu'),
    nodeMemory: str('nodeMemory'),
    nodePods: str('nodePods'),
    labels: [...(f['labels'] as string[]), ...f.label],
    leaseInterval: str('leaseInterval'),
    statusInterval: str('statusInterval'),
    podStartDelay: str('podStartDelay'),
    concurrency: str('concurrency'),
    // The real agent's default range is not carved up; an explicit --pod-cidr is.
    podCidr: cmd.getOptionValueSource('podCidr') === 'cli' ? f.podCidr : undefined,
    agentPort: f.agentPort,
  };
  let settings;
  try {
    settings = parseSimulateFlags(values);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  if (f['remove'] === true) {
    const { removeSimulation } = await import('../agent/simulate/start.js');
    const r = await removeSimulation(conn, settings);
    process.stdout.write(`removed ${r.nodes} simulated nodes, ${r.leases} leases and ${r.pods} pods\n`);
    return;
  }
  const { startSimulation } = await import('../agent/simulate/start.js');
  const running = await startSimulation(conn, settings);
  process.stdout.write(
    `Flotilla simulated nodes ${running.first} … ${running.last} are running (control plane ${conn.server})\n`,
  );
  await untilSignal(() => running.stop());
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${flag} must be a positive whole number`);
  return n;
}

function cidr(value: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (m === null || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) < 8 || Number(m[5]) > 30)
    throw new InvalidArgumentError(
      `--pod-cidr must be an IPv4 CIDR such as 10.42.0.0/24 (prefix 8–30), got "${value}"`,
    );
  return value;
}

/** The flags every agent has (`flotilla agent` and `flotilla up`). */
export function addAgentFlags(cmd: Command, opts: { dataDir: boolean }): Command {
  if (opts.dataDir)
    cmd.option(
      '--data-dir <dir>',
      'where the agent keeps images, containers and pod state (in <dir>/agent)',
      '/var/lib/flotilla',
    );
  return cmd
    .option('--node-name <name>', 'name of this node (default: the host name)')
    .option(
      '--node-ip <ip>',
      'address the control plane reaches this agent at (default: the first global IPv4)',
    )
    .option(
      '--agent-port <port>',
      'port of the agent server for logs, exec and stats (HTTPS, mutual TLS)',
      '10250',
    )
    .option('--pod-cidr <cidr>', "this node's pod address range", '10.42.0.0/24')
    .option('--bridge <name>', 'Linux bridge of the pod network', 'flotilla0')
    .option('--netns-prefix <prefix>', 'prefix of pod network namespace names', 'flotilla-')
    .option('--cgroup-root <path>', 'cgroup under which pods are placed', 'flotilla')
    .option('--runc-root <dir>', "runc's state dir (default: <data-dir>/agent/runc)")
    .option('--max-pods <n>', 'pods this node accepts', '110')
    .option('--label <key=value>', 'node label (repeatable)', collect, [])
    .option(
      '--insecure-registry <host:port>',
      'registry reached over plain HTTP (repeatable; loopback ones always are)',
      collect,
      [],
    )
    .option('--allow-privileged', 'let pods run privileged containers')
    .option('--lease-seconds <n>', 'node lease renewal period', '10')
    .option(
      '--cluster-dns [enabled]',
      'serve cluster DNS on the bridge address (port 53) and point pods at it (true/false)',
      true,
    )
    .option('--no-cluster-dns', 'do not serve cluster DNS; pods use the host resolv.conf')
    .option('--cluster-domain <domain>', 'DNS domain of Services and pods', 'cluster.local')
    .option(
      '--dns-upstream <ip[:port],...>',
      "resolvers for names outside the cluster domain (default: the host's /etc/resolv.conf nameservers)",
    )
    .option('--nft-table <name>', 'nftables table of the Service proxy (table ip <name>)', 'flotilla')
    .option('--proxy-balance <mode>', 'how Services spread new connections: random or round-robin', 'random')
    .option(
      '--endpoint-drain-timeout <seconds>',
      "how long a deleting pod waits for every node's Service datapath to stop sending to it (0: no wait)",
      '5',
    )
    .option('--disable-proxy', 'no Service datapath (nftables) on this node')
    .option(
      '--activator-timeout <seconds>',
      'scale to zero: how long a connection to a Service at zero replicas is held for a pod to become ready',
      '60',
    )
    .option(
      '--activator-max-held <n>',
      'scale to zero: connections held per Service at most while it starts; more get a 503 at once',
      '100',
    )
    .option(
      '--metrics-interval <duration>',
      'how often container CPU and memory are sampled for metrics.k8s.io and kubectl top (e.g. 10s, 1s, 500ms)',
      '10s',
    );
}

/** `--metrics-interval`: a duration such as 10s, 1.5s, 500ms or 1m (100 ms to 10 min), in ms. */
export function metricsIntervalMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v.trim());
  const ms = m === null ? NaN : Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  if (!(ms >= 100 && ms <= 600_000))
    throw new InvalidArgumentError(
      `--metrics-interval must be a duration between 100ms and 10m such as 10s or 500ms, got "${v}"`,
    );
  return Math.round(ms);
}

function nftTable(v: string): string {
  if (!isValidTableName(v))
    throw new InvalidArgumentError(
      `--nft-table must be a letter followed by up to 63 letters, digits, - or _, got "${v}"`,
    );
  return v;
}

function proxyBalance(v: string): Balance {
  if (v === 'random' || v === 'round-robin') return v;
  throw new InvalidArgumentError(`--proxy-balance must be random or round-robin, got "${v}"`);
}

function drainSeconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 3600)
    throw new InvalidArgumentError(`--endpoint-drain-timeout must be seconds between 0 and 3600, got "${v}"`);
  return n;
}

function activatorSeconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 1 || n > 3600)
    throw new InvalidArgumentError(`--activator-timeout must be seconds between 1 and 3600, got "${v}"`);
  return n;
}

function clusterDnsEnabled(v: boolean | string | undefined): boolean {
  if (v === undefined || v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new InvalidArgumentError(`--cluster-dns must be true or false, got "${String(v)}"`);
}

function clusterDomain(v: string): string {
  const d = v.replace(/\.$/, '').toLowerCase();
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(d) || d.length > 253)
    throw new InvalidArgumentError(`--cluster-domain must be a DNS domain such as cluster.local, got "${v}"`);
  return d;
}

function dnsUpstreams(v: string): NonNullable<AgentFlags['dnsUpstreams']> {
  try {
    return parseUpstreamList(v);
  } catch (err) {
    throw new InvalidArgumentError(`--dns-upstream: ${(err as Error).message}`);
  }
}

export function agentFlagsFrom(
  f: AgentCliFlags,
  conn: { server: string; token: string; caPem: string | undefined },
): AgentFlags {
  const labels: Record<string, string> = {};
  for (const l of f.label) {
    const i = l.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`--label must be key=value, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  return {
    dataDir: f.dataDir,
    ...conn,
    ...(f.nodeName === undefined ? {} : { nodeName: f.nodeName }),
    ...(f.nodeIp === undefined ? {} : { nodeIP: f.nodeIp }),
    port: positiveInt('--agent-port', f.agentPort),
    podCidr: cidr(f.podCidr),
    bridge: f.bridge,
    netnsPrefix: f.netnsPrefix,
    cgroupRoot: f.cgroupRoot,
    ...(f.runcRoot === undefined ? {} : { runcRoot: f.runcRoot }),
    maxPods: positiveInt('--max-pods', f.maxPods),
    labels,
    insecureRegistries: f.insecureRegistry,
    allowPrivileged: f.allowPrivileged === true,
    leaseRenewSeconds: positiveInt('--lease-seconds', f.leaseSeconds),
    clusterDns: clusterDnsEnabled(f.clusterDns),
    clusterDomain: clusterDomain(f.clusterDomain),
    ...(f.dnsUpstream === undefined ? {} : { dnsUpstreams: dnsUpstreams(f.dnsUpstream) }),
    nftTable: nftTable(f.nftTable),
    proxyBalance: proxyBalance(f.proxyBalance),
    endpointDrainSeconds: drainSeconds(f.endpointDrainTimeout),
    disableProxy: f.disableProxy === true,
    metricsIntervalMs: metricsIntervalMs(f.metricsInterval ?? '10s'),
    activatorTimeoutMs: activatorSeconds(f.activatorTimeout ?? '60') * 1000,
    activatorMaxHeld: positiveInt('--activator-max-held', f.activatorMaxHeld ?? '100'),
  };
}

/** Runs until SIGINT/SIGTERM; containers keep running when the agent stops (it adopts them at its next start). */
export async function untilSignal(stop: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: shutting down\n`);
      stop()
        .catch((err: unknown) => process.stderr.write(`shutdown: ${(err as Error).message}\n`))
        .finally(resolve);
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  });
}

export function registerAgentCommands(program: Command): void {
  const agent = addAgentFlags(
    program
      .command('agent')
      .description('run a node agent: real containers (runc + conmon), images, pod network, logs and exec')
      .addHelpText(
        'after',
        `
The agent joins the control plane named by the kubeconfig (--kubeconfig, or --server with --token and
--certificate-authority) with its own node credentials. Stopping it leaves containers running; the next
start adopts them. \`flotilla agent reset\` removes every container and pod network of this agent.

Examples:
  flotilla agent --kubeconfig /var/lib/flotilla/agent-kubeconfig.yaml
  flotilla agent --server https://10.0.0.1:6443 --token $NODE_TOKEN --certificate-authority ca.crt --pod-cidr 10.42.1.0/24
  flotilla agent --kubeconfig admin.yaml --simulate 1000 --zones 3     # 1,000 simulated nodes (docs/simulated-nodes.md)
`,
      ),
    { dataDir: true },
  ).option('--certificate-authority <file>', 'CA bundle of the API server (with --server)');
  addSimulateFlags(agent);
  agent.action(async (_f: unknown, cmd: Command) => {
    const f = cmd.optsWithGlobals<
      AgentCliFlags & {
        kubeconfig?: string;
        server?: string;
        token?: string;
        certificateAuthority?: string;
      } & Record<string, unknown>
    >();
    let conn: { server: string; token: string; caPem: string | undefined };
    if (f.server !== undefined) {
      if (f.token === undefined) throw new InvalidArgumentError('--server needs --token (the node token)');
      conn = {
        server: f.server,
        token: f.token,
        caPem:
          f.certificateAuthority === undefined ? undefined : readFileSync(f.certificateAuthority, 'utf8'),
      };
    } else {
      const cfg = await loadKubeconfig(f.kubeconfig === undefined ? {} : { path: f.kubeconfig });
      if (cfg.token === undefined)
        throw new InvalidArgumentError(`the kubeconfig ${cfg.source ?? ''} has no token for the agent`);
      conn = { server: cfg.server, token: cfg.token, caPem: cfg.caPem };
    }
    if (f['simulate'] !== undefined) {
      await runSimulation(f, cmd, conn);
      return;
    }
    const { startAgent } = await import('../agent/start.js');
    const running: RunningAgent = await startAgent(agentFlagsFrom(f, conn));
    process.stdout.write(
      `Flotilla agent for node ${running.nodeName} is running (control plane ${conn.server})\n`,
    );
    await untilSignal(() => running.stop());
  });
  agent
    .command('reset')
    .description(
      'stop and remove every container and pod network of this agent, its bridge, cgroups and nft table (images stay); takes the agent flags --data-dir, --bridge, --pod-cidr, --netns-prefix, --cgroup-root, --runc-root, --nft-table',
    )
    .action(async (_f: unknown, cmd: Command) => {
      // The agent's own flags (given before or after `reset`) name what to remove.
      const f = cmd.optsWithGlobals<AgentCliFlags>();
      const { resetAgent } = await import('../agent/start.js');
      const r = await resetAgent({
        dataDir: f.dataDir,
        bridge: f.bridge,
        podCidr: cidr(f.podCidr),
        netnsPrefix: f.netnsPrefix,
        cgroupRoot: f.cgroupRoot,
        ...(f.runcRoot === undefined ? {} : { runcRoot: f.runcRoot }),
        nftTable: nftTable(f.nftTable),
      });
      process.stdout.write(`removed ${r.containers} containers and ${r.networks} pod networks\n`);
    });
}
