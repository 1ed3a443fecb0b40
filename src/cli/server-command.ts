// `flotilla server` and `flotilla up`: run the control plane (and, once the agent lands, a node agent).
import { InvalidArgumentError, type Command } from 'commander';
import { renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../apiserver/bootstrap.js';
import { renderKubeconfig } from '../apiserver/kubeconfig.js';
import type { StoreKind } from '../apiserver/open-store.js';
import type { RunningAgent } from '../agent/start.js';
import { addAgentFlags, agentFlagsFrom, untilSignal, type AgentCliFlags } from './agent-command.js';
import { parseDuration } from './duration.js';
import { nodeLifecycleFromFlags, type NodeLifecycleFlags } from './node-lifecycle-flags.js';
import {
  isSchedulerConfigError,
  isScoringStrategy,
  profileFromFlags,
  scoringStrategies,
} from '../scheduler/config.js';
import type { SchedulerProfile } from '../scheduler/core.js';
import { usageError } from './io.js';
import {
  defaultServiceClusterIPRange,
  defaultServiceNodePortRange,
  parsePortRange,
  parseServiceCIDR,
} from '../apiserver/services/ranges.js';

/** Check a range flag at parse time, so a typo is a usage error before anything starts. */
function rangeFlag(parse: (text: string) => unknown): (value: string) => string {
  return (value) => {
    try {
      parse(value);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
    return value;
  };
}

interface ServerFlags extends NodeLifecycleFlags {
  dataDir: string;
  listen: string;
  store: string;
  etcdEndpoints: string;
  eventTtl: string;
  schedulerScoring?: string;
  schedulerConfig?: string;
  disableScheduler?: boolean;
  deploymentRollbackOnFailure?: boolean;
  hpaSyncPeriod?: string;
  defaultNotReadyTolerationSeconds?: string;
  defaultUnreachableTolerationSeconds?: string;
  serviceClusterIpRange: string;
  serviceNodePortRange: string;
}

/** A whole number of seconds, 0 or more, for a toleration flag; undefined when the flag is absent. */
function tolerationSeconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${flag} must be a whole number of seconds (0 or more), got "${value}"`);
  return n;
}

function parseStore(value: string): StoreKind {
  if (value === 'sqlite' || value === 'etcd' || value === 'memory') return value;
  throw new InvalidArgumentError('must be sqlite, etcd or memory');
}

function addServerFlags(cmd: Command): Command {
  return cmd
    .option(
      '--data-dir <dir>',
      'where state, certificates, tokens and the kubeconfig live',
      '/var/lib/flotilla',
    )
    .option('--listen <host:port>', 'address of the HTTPS API', '127.0.0.1:6443')
    .option(
      '--store <kind>',
      'state store: sqlite (embedded, default), etcd, or memory (lost on exit)',
      'sqlite',
    )
    .option('--etcd-endpoints <urls>', 'comma-separated etcd client URLs, with --store etcd', '')
    .option('--event-ttl <seconds>', 'events expire after this long', '3600')
    .option(
      '--node-monitor-grace-period <duration>',
      'a node whose agent renewed neither its lease nor its status for this long becomes Unknown (default 20s)',
    )
    .option(
      '--node-startup-grace-period <duration>',
      'the same for a node that never reported Ready, counted from its registration (default 60s)',
    )
    .option('--node-monitor-period <duration>', 'how often node health is checked (default 2s)')
    .option(
      '--node-eviction-rate <nodes/s>',
      'nodes per second, per zone, whose pods are evicted when nodes fail (default 0.1)',
    )
    .option(
      '--secondary-node-eviction-rate <nodes/s>',
      'the eviction rate in a zone of more than --large-cluster-size-threshold nodes that is partly down (default 0.01)',
    )
    .option(
      '--unhealthy-zone-threshold <fraction>',
      'fraction of the nodes of a zone (at least 3) not ready from which its evictions slow or stop (default 0.55)',
    )
    .option(
      '--large-cluster-size-threshold <nodes>',
      'zones above this size keep evicting at the secondary rate when partly down (default 50)',
    )
    .option(
      '--scheduler-scoring <strategy>',
      `how the scheduler ranks nodes that fit: ${scoringStrategies.join(', ')} (default LeastAllocated)`,
      (value: string) => {
        if (!isScoringStrategy(value)) throw new InvalidArgumentError(`want ${scoringStrategies.join(', ')}`);
        return value;
      },
    )
    .option(
      '--scheduler-config <file>',
      'scheduler profile YAML: schedulerName, scoringStrategy, scoreWeights, disabled, percentageOfNodesToScore',
    )
    .option(
      '--default-not-ready-toleration-seconds <seconds>',
      'tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration added to every pod that has none (default 10)',
    )
    .option(
      '--default-unreachable-toleration-seconds <seconds>',
      'the same for node.kubernetes.io/unreachable:NoExecute (default 10)',
    )
    .option(
      '--disable-scheduler',
      'run without the scheduler (pods stay Pending unless spec.nodeName is set)',
    )
    .option(
      '--deployment-rollback-on-failure',
      'roll Deployments back automatically when a new revision fails (those annotated flotilla.dev/rollback-on-failure: "false" excepted)',
    )
    .option(
      '--hpa-sync-period <duration>',
      'how often each HorizontalPodAutoscaler is evaluated (default 15s)',
      (value: string) => {
        let ms: number;
        try {
          ms = parseDuration(value);
        } catch {
          throw new InvalidArgumentError('use a duration such as 15s, 500ms or 1m');
        }
        if (!(ms > 0)) throw new InvalidArgumentError('must be longer than 0');
        return value;
      },
    )
    .option(
      '--service-cluster-ip-range <cidr>',
      'IPv4 CIDR Service ClusterIPs are allocated from (/12 to /30)',
      rangeFlag(parseServiceCIDR),
      defaultServiceClusterIPRange,
    )
    .option(
      '--service-node-port-range <min-max>',
      'ports NodePort and LoadBalancer Services are allocated from',
      rangeFlag(parsePortRange),
      defaultServiceNodePortRange,
    );
}

async function run(flags: ServerFlags & Partial<AgentCliFlags>, role: 'server' | 'up'): Promise<void> {
  const store = parseStore(flags.store);
  const ttl = Number(flags.eventTtl);
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new InvalidArgumentError('--event-ttl must be a positive number of seconds');
  const notReadySeconds = tolerationSeconds(
    '--default-not-ready-toleration-seconds',
    flags.defaultNotReadyTolerationSeconds,
  );
  const unreachableSeconds = tolerationSeconds(
    '--default-unreachable-toleration-seconds',
    flags.defaultUnreachableTolerationSeconds,
  );
  let schedulerProfile: SchedulerProfile;
  try {
    schedulerProfile = await profileFromFlags({
      scoring: flags.schedulerScoring,
      configFile: flags.schedulerConfig,
    });
  } catch (err) {
    if (isSchedulerConfigError(err)) throw usageError(err.message);
    throw err;
  }
  const server: RunningServer = await startServer({
    dataDir: flags.dataDir,
    listen: flags.listen,
    store,
    etcdEndpoints: flags.etcdEndpoints
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    eventTtlSeconds: ttl,
    nodeLifecycle: nodeLifecycleFromFlags(flags),
    schedulerProfile,
    disableScheduler: flags.disableScheduler === true,
    deploymentRollbackOnFailure: flags.deploymentRollbackOnFailure === true,
    ...(flags.hpaSyncPeriod === undefined ? {} : { hpaSyncPeriodMs: parseDuration(flags.hpaSyncPeriod) }),
    serviceClusterIPRange: flags.serviceClusterIpRange,
    serviceNodePortRange: flags.serviceNodePortRange,
    ...(notReadySeconds === undefined ? {} : { defaultNotReadyTolerationSeconds: notReadySeconds }),
    ...(unreachableSeconds === undefined ? {} : { defaultUnreachableTolerationSeconds: unreachableSeconds }),
    ...(role === 'up' ? { nodeName: (flags.nodeName ?? hostname()).toLowerCase() } : {}),
  });
  let agent: RunningAgent | undefined;
  if (role === 'up' && server.nodeToken !== undefined) {
    // The local agent uses its own node credentials over HTTPS, exactly as a remote agent would.
    const agentKubeconfig = join(flags.dataDir, 'agent-kubeconfig.yaml');
    writeFileSync(`${agentKubeconfig}.tmp`, renderKubeconfig(server.url, server.caPem, server.nodeToken), {
      mode: 0o600,
    });
    renameSync(`${agentKubeconfig}.tmp`, agentKubeconfig);
    try {
      // Loaded only for `up`: `flotilla server` never pays for the agent's modules.
      const { startAgent } = await import('../agent/start.js');
      agent = await startAgent(
        agentFlagsFrom(flags as ServerFlags & AgentCliFlags, {
          server: server.url,
          token: server.nodeToken,
          caPem: server.caPem,
        }),
      );
    } catch (err) {
      await server.stop();
      throw err;
    }
  }
  process.stdout.write(
    [
      `Flotilla ${role === 'up' ? 'single-node cluster' : 'control plane'} is up at ${server.url} (store: ${store})`,
      `kubeconfig: ${server.kubeconfig}`,
      `  export KUBECONFIG=${server.kubeconfig}`,
      `  flotilla get namespaces     # or: kubectl get ns`,
      agent === undefined
        ? ''
        : `node ${agent.nodeName} is ready to run pods (agent state in ${join(flags.dataDir, 'agent')})`,
      '',
    ]
      .filter((l, i, all) => l !== '' || i === all.length - 1)
      .join('\n'),
  );
  await untilSignal(async () => {
    await agent?.stop();
    await server.stop();
  });
}

export function registerServerCommands(program: Command): void {
  addServerFlags(
    program
      .command('server')
      .description('run the control plane: API server, store and controllers')
      .addHelpText(
        'after',
        '\nExample:\n  flotilla server --data-dir /var/lib/flotilla --listen 127.0.0.1:6443\n',
      ),
  ).action((flags: ServerFlags) => run(flags, 'server'));
  const up = addServerFlags(
    program
      .command('up')
      .description(
        'run a single-node cluster on this machine: control plane (embedded SQLite store) and node agent',
      )
      .addHelpText(
        'after',
        '\nExample:\n  flotilla up                       # state in /var/lib/flotilla\n  flotilla up --data-dir ./.flotilla --listen 127.0.0.1:7443\n',
      ),
  );
  addAgentFlags(up, { dataDir: false }).action((flags: ServerFlags & AgentCliFlags) => run(flags, 'up'));
}
