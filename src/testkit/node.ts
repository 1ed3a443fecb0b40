// A real one-node cluster for integration tests: `flotilla server` and `flotilla agent` as separate
// processes (so a test can kill -9 the agent alone), each test with its own bridge, pod CIDR, netns
// prefix, cgroup root and runc root so test files running in parallel never meet. `leftovers()` lists
// anything the agent left on the machine.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../api/client/client.js';
import { ensureNodeToken, ensureTokens } from '../apiserver/auth.js';
import { ensureBuilt, flotillaBin, freePort, startFlotillaProcess, type FlotillaProcess } from './process.js';

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
}

export interface NodeCluster {
  server: FlotillaProcess;
  agent: AgentProcess;
  /** Admin client. */
  client: ApiClient;
  nodeName: string;
  dataDir: string;
  bridge: string;
  podCidr: string;
  netnsPrefix: string;
  cgroupRoot: string;
  runcRoot: string;
  agentPort: number;
  /** The agent's nftables table (`table ip <name>`) and the server's Service ranges. */
  nftTable: string;
  serviceCidr: string;
  nodePortRange: string;
  /** An admin kubeconfig for kubectl / the flotilla CLI. */
  kubeconfig: string;
  /** Starts the agent again after kill9/stop (same flags, same state). */
  restartAgent(): Promise<AgentProcess>;
  /** Everything the agent left behind: processes, mounts, netns, links, cgroups, container dirs. */
  leftovers(): string[];
  /** Stops both processes, runs `flotilla agent reset`, removes the data dir. */
  close(): Promise<void>;
}

function agentArgs(c: {
  dataDir: string;
  url: string;
  token: string;
  nodeName: string;
  agentPort: number;
  podCidr: string;
  bridge: string;
  netnsPrefix: string;
  cgroupRoot: string;
  runcRoot: string;
  nftTable: string;
  extra: string[];
}): string[] {
  return [
    flotillaBin,
    'agent',
    '--server',
    c.url,
    '--token',
    c.token,
    '--certificate-authority',
    join(c.dataDir, 'pki', 'ca.crt'),
    '--data-dir',
    c.dataDir,
    '--node-name',
    c.nodeName,
    '--node-ip',
    '127.0.0.1',
    '--agent-port',
    String(c.agentPort),
    '--pod-cidr',
    c.podCidr,
    '--bridge',
    c.bridge,
    '--netns-prefix',
    c.netnsPrefix,
    '--cgroup-root',
    c.cgroupRoot,
    '--runc-root',
    c.runcRoot,
    '--nft-table',
    c.nftTable,
    // Never the host's resolver: names outside the cluster go to a closed loopback port (SERVFAIL) unless
    // the test passes its own --dns-upstream (the last one given wins).
    '--dns-upstream',
    '127.0.0.1:9',
    ...c.extra,
  ];
}

async function spawnAgent(args: string[]): Promise<AgentProcess> {
  // FLOTILLA_AGENT_CPU_PROF=<dir>: a V8 CPU profile of the agent, written there when it stops.
  const profDir = process.env['FLOTILLA_AGENT_CPU_PROF'];
  const nodeFlags = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
  const child = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // FLOTILLA_AGENT_LOG=<file>: the agent's output also goes there as it comes (e.g. with FLOTILLA_AGENT_DEBUG=1).
  const logFile = process.env['FLOTILLA_AGENT_LOG'];
  const take = (d: Buffer): void => {
    out += d.toString();
    if (logFile !== undefined) appendFileSync(logFile, d);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('is running')) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`flotilla agent exited ${child.exitCode ?? child.signalCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`flotilla agent did not start in 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => out,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/**
 * The Service ranges of one test cluster: a /24 in 10.100.0.0–10.149.255.0 (virtual addresses, only ever in
 * this cluster's nft table) and a 100-port window of the NodePort range, so parallel clusters rarely meet.
 */
function pickServiceRanges(): { cidr: string; nodePorts: string } {
  const a = 100 + Math.floor(Math.random() * 50);
  const b = Math.floor(Math.random() * 256);
  const start = 30000 + 100 * Math.floor(Math.random() * 27);
  return { cidr: `10.${a}.${b}.0/24`, nodePorts: `${start}-${start + 99}` };
}

/** A /24 in 10.200.0.0–10.250.255.0 not used by another bridge on this machine. */
function pickPodCidr(): string {
  const used = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  for (;;) {
    const a = 200 + Math.floor(Math.random() * 50);
    const b = Math.floor(Math.random() * 256);
    if (!used.includes(` 10.${a}.${b}.`)) return `10.${a}.${b}.0/24`;
  }
}

export async function startNodeCluster(
  opts: { agentArgs?: string[]; serverArgs?: string[] } = {},
): Promise<NodeCluster> {
  ensureBuilt();
  const id = randomBytes(3).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-node-'));
  ensureTokens(dataDir);
  const nodeName = `node-${id}`;
  const nodeToken = ensureNodeToken(dataDir, nodeName);
  const ranges = pickServiceRanges();
  const server = await startFlotillaProcess({
    dataDir,
    port: await freePort(),
    extraArgs: [
      '--service-cluster-ip-range',
      ranges.cidr,
      '--service-node-port-range',
      ranges.nodePorts,
      ...(opts.serverArgs ?? []),
    ],
  });
  const cfg = {
    dataDir,
    url: server.url,
    token: nodeToken,
    nodeName,
    agentPort: await freePort(),
    podCidr: pickPodCidr(),
    bridge: `fl-${id}`,
    netnsPrefix: `fl-${id}-`,
    cgroupRoot: `flotilla-test-${id}`,
    runcRoot: join(dataDir, 'runc-state'),
    nftTable: `fl-${id}`,
    extra: opts.agentArgs ?? [],
  };
  let agent: AgentProcess;
  try {
    agent = await spawnAgent(agentArgs(cfg));
  } catch (err) {
    await server.stop();
    throw err;
  }
  const client = new ApiClient({ server: server.url, token: server.token, caPem: server.ca });
  const cluster: NodeCluster = {
    server,
    agent,
    client,
    nodeName,
    dataDir,
    bridge: cfg.bridge,
    podCidr: cfg.podCidr,
    netnsPrefix: cfg.netnsPrefix,
    cgroupRoot: cfg.cgroupRoot,
    runcRoot: cfg.runcRoot,
    agentPort: cfg.agentPort,
    nftTable: cfg.nftTable,
    serviceCidr: ranges.cidr,
    nodePortRange: ranges.nodePorts,
    kubeconfig: join(dataDir, 'kubeconfig.yaml'),
    async restartAgent() {
      cluster.agent = await spawnAgent(agentArgs(cfg));
      return cluster.agent;
    },
    leftovers() {
      const a = cluster.agent.child;
      return findLeftovers(a.exitCode === null && a.signalCode === null, cfg);
    },
    async close() {
      await cluster.agent.stop().catch(() => undefined);
      const logDir = process.env.FLOTILLA_TEST_LOGS;
      if (logDir !== undefined) {
        // Keeping the log is a courtesy: it must never stop the clean-up below.
        try {
          mkdirSync(logDir, { recursive: true });
          writeFileSync(join(logDir, `agent-${id}.log`), cluster.agent.output());
        } catch (err) {
          process.stderr.write(`could not keep the agent log in ${logDir}: ${(err as Error).message}\n`);
        }
      }
      const reset = spawnSync(
        process.execPath,
        [
          flotillaBin,
          'agent',
          'reset',
          '--data-dir',
          dataDir,
          '--bridge',
          cfg.bridge,
          '--pod-cidr',
          cfg.podCidr,
          '--netns-prefix',
          cfg.netnsPrefix,
          '--cgroup-root',
          cfg.cgroupRoot,
          '--runc-root',
          cfg.runcRoot,
          '--nft-table',
          cfg.nftTable,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      await client.close();
      await server.stop();
      const left = findLeftovers(false, cfg);
      rmSync(dataDir, { recursive: true, force: true });
      if (reset.status !== 0 || left.length > 0) {
        const log = join(tmpdir(), `flotilla-agent-${id}.log`);
        writeFileSync(log, cluster.agent.output());
        throw new Error(
          `agent reset left things behind (exit ${reset.status}; agent log in ${log}):\n${reset.stderr}\n${left.join('\n')}`,
        );
      }
    },
  };
  return cluster;
}

function findLeftovers(
  agentRunning: boolean,
  cfg: {
    dataDir: string;
    bridge: string;
    netnsPrefix: string;
    cgroupRoot: string;
    runcRoot: string;
    nftTable: string;
  },
): string[] {
  const found: string[] = [];
  // The Service datapath's table stays while the agent runs (and after a kill -9); reset removes it.
  if (
    !agentRunning &&
    spawnSync('nft', ['list', 'table', 'ip', cfg.nftTable], { stdio: 'ignore' }).status === 0
  )
    found.push(`nft table ip ${cfg.nftTable}`);
  // Processes: conmon monitors and container processes of this agent's runc root / data dir.
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    const argv0 = cmd.split(' ')[0] ?? '';
    if (cmd.includes(cfg.dataDir) && /(^|\/)(conmon|runc)$/.test(argv0))
      found.push(`process ${pid}: ${cmd.slice(0, 160)}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(cfg.dataDir)) found.push(`mount: ${line.slice(0, 200)}`);
    if (line.includes(`/run/netns/${cfg.netnsPrefix}`)) found.push(`netns mount: ${line.slice(0, 200)}`);
  }
  const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const ns of netns.split('\n')) if (ns.startsWith(cfg.netnsPrefix)) found.push(`netns ${ns}`);
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout ?? '';
  // The bridge stays while the agent runs; pod veths on it must not.
  for (const l of links.split('\n'))
    if (l.includes(`master ${cfg.bridge} `) || (!agentRunning && l.includes(`: ${cfg.bridge}:`)))
      found.push(`link ${l.slice(0, 120)}`);
  // While the agent runs its root cgroup stays (like the kubelet's kubepods); pod cgroups must not.
  for (const root of cgroupRoots()) {
    const dir = join(root, cfg.cgroupRoot);
    if (!existsSync(dir)) continue;
    if (!agentRunning) found.push(`cgroup ${dir}`);
    else
      for (const e of readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) found.push(`cgroup ${join(dir, e.name)}`);
  }
  const containers = join(cfg.dataDir, 'agent', 'containers');
  if (existsSync(containers) && readdirSync(containers).length > 0)
    found.push(`container dirs: ${readdirSync(containers).join(', ')}`);
  const pods = join(cfg.dataDir, 'agent', 'pods');
  if (existsSync(pods) && readdirSync(pods).length > 0)
    found.push(`pod dirs: ${readdirSync(pods).join(', ')}`);
  return found;
}

/** Every cgroup hierarchy root mounted on this machine (v1 controllers and the v2 tree). */
export function cgroupRoots(): string[] {
  const roots: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const parts = line.split(' ');
    const sep = parts.indexOf('-');
    if (sep < 0) continue;
    const fstype = parts[sep + 1];
    if (fstype === 'cgroup' || fstype === 'cgroup2') roots.push(parts[4] ?? '');
  }
  return roots.filter((r) => r !== '');
}
