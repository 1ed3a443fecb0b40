// `flotilla agent --simulate N`: the simulator with its own API client, a periodic one-line summary, and
// `--remove`. The CLI parses the flags (options.ts) and calls these.
import { ApiClient } from '../../api/client/client.js';
import { kubeArch } from '../node-status.js';
import { agentVersion } from '../start.js';
import type { SimulateSettings } from './options.js';
import { NodeSimulator, removeSimulatedNodes, type SimulatorStats } from './simulator.js';

export interface SimulationConnection {
  server: string;
  token: string;
  caPem: string | undefined;
}

export interface RunningSimulation {
  simulator: NodeSimulator;
  /** First and last node name. */
  first: string;
  last: string;
  stop(): Promise<void>;
}

function clientFor(conn: SimulationConnection, prefix: string): ApiClient {
  return new ApiClient({
    server: conn.server,
    token: conn.token,
    ...(conn.caPem === undefined ? {} : { caPem: conn.caPem }),
    userAgent: `flotilla-agent/${agentVersion} (simulator ${prefix})`,
  });
}

export function describeStats(s: SimulatorStats, sinceMs: number, before: SimulatorStats): string {
  const secs = Math.max(1, sinceMs / 1000);
  const rate = (a: number, b: number): string => ((a - b) / secs).toFixed(1);
  const renewals = s.leaseRenewals - before.leaseRenewals;
  const avg = renewals > 0 ? (s.leaseLatencyTotalMs - before.leaseLatencyTotalMs) / renewals : 0;
  return (
    `sim: ${s.nodes} nodes; leases ${rate(s.leaseRenewals, before.leaseRenewals)}/s` +
    ` (avg ${avg.toFixed(0)} ms, ${s.leaseFailures - before.leaseFailures} failed,` +
    ` ${s.leaseSkipped - before.leaseSkipped} late), node status ${rate(s.statusReports, before.statusReports)}/s,` +
    ` pods ${s.podsRunning}/${s.pods} running, pod writes ${rate(s.podStatusWrites + s.podDeletes, before.podStatusWrites + before.podDeletes)}/s`
  );
}

export async function startSimulation(
  conn: SimulationConnection,
  settings: SimulateSettings,
  opts: { log?: (line: string) => void; statsEveryMs?: number } = {},
): Promise<RunningSimulation> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const client = clientFor(conn, settings.fleet.prefix);
  const simulator = new NodeSimulator({
    client,
    fleet: { ...settings.fleet, arch: kubeArch(process.arch), agentVersion },
    leaseIntervalMs: settings.leaseIntervalMs,
    statusIntervalMs: settings.statusIntervalMs,
    podStartDelayMs: settings.podStartDelayMs,
    concurrency: settings.concurrency,
    log,
  });
  try {
    await simulator.start();
  } catch (err) {
    await simulator.stop();
    await client.close();
    throw err;
  }
  const s = simulator.stats();
  log(
    `sim: ${s.nodes} nodes registered in ${((s.registeredInMs ?? 0) / 1000).toFixed(1)} s (${s.created} created, ${s.resumed} resumed)`,
  );
  let before = s;
  let at = Date.now();
  const every = opts.statsEveryMs ?? 60_000;
  const timer =
    every > 0
      ? setInterval(() => {
          const now = simulator.stats();
          log(describeStats(now, Date.now() - at, before));
          before = now;
          at = Date.now();
        }, every)
      : undefined;
  timer?.unref();
  const prefix = settings.fleet.prefix;
  return {
    simulator,
    first: `${prefix}-0`,
    last: `${prefix}-${settings.fleet.count - 1}`,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      await simulator.stop();
      await client.close();
    },
  };
}

export async function removeSimulation(
  conn: SimulationConnection,
  settings: SimulateSettings,
): Promise<{ nodes: number; leases: number; pods: number }> {
  const client = clientFor(conn, settings.fleet.prefix);
  try {
    return await removeSimulatedNodes(client, settings.fleet, { concurrency: settings.concurrency });
  } finally {
    await client.close();
  }
}
