// Simulated-node scale: how long `flotilla agent --simulate N` takes to register N nodes (Node + Lease each)
// against a `flotilla server` on SQLite, and what the server and the simulator cost while idle (only lease
// renewals and status heartbeats). Run: npm run build && node dist/bench/sim-nodes.js [N ...] [--idle 60]
// [--lease-interval 10s] [--pods P] [-- extra simulator flags]. With --pods, P pods bound to the nodes
// are created after the idle window and timed until all are Running. Prints one block per N; the machine's load average is shown because the
// figures are only comparable on a quiet machine.
import { runAsScript } from './lib/main.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNodeToken, ensureTokens } from '../src/apiserver/auth.js';
import { ApiClient } from '../src/api/client/client.js';
import { freePort, startFlotillaProcess, type FlotillaProcess } from '../src/testkit/process.js';
import { startSimNodes } from '../src/testkit/sim.js';

const ticksPerSecond = 100;

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

async function measure(
  count: number,
  idleSeconds: number,
  leaseInterval: string,
  extraArgs: string[],
  pods: number,
): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-sim-'));
  ensureTokens(dataDir);
  const token = ensureNodeToken(dataDir, 'bench-sim');
  const server = await startFlotillaProcess({ dataDir, port: await freePort() });
  try {
    const serverPid = server.child.pid as number;
    const began = Date.now();
    const cpu0 = cpuSeconds(serverPid);
    const sim = await startSimNodes({
      url: server.url,
      token,
      caPem: server.ca,
      count,
      prefix: 'bench',
      leaseInterval,
      extraArgs,
      startTimeoutMs: 30 * 60_000,
    });
    try {
      const wall = (Date.now() - began) / 1000;
      const simPid = sim.child.pid as number;
      const registered = /registered in ([\d.]+) s/.exec(sim.output())?.[1] ?? '?';
      const regServerCpu = cpuSeconds(serverPid) - cpu0;
      // Idle: leases and status heartbeats only.
      await new Promise((r) => setTimeout(r, 5000));
      const s0 = cpuSeconds(serverPid);
      const m0 = cpuSeconds(simPid);
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      const secs = (Date.now() - t0) / 1000;
      const serverPct = ((cpuSeconds(serverPid) - s0) / secs) * 100;
      const simPct = ((cpuSeconds(simPid) - m0) / secs) * 100;
      const out = sim.output();
      const failures = [...out.matchAll(/(\d+) lease renewal failures?/g)].reduce(
        (a, m) => a + Number(m[1]),
        0,
      );
      const podLines = pods > 0 ? await podBurst(server, count, pods, serverPid) : [];
      process.stdout.write(
        [
          `simulated nodes: ${count} (lease interval ${leaseInterval}${extraArgs.length > 0 ? `, ${extraArgs.join(' ')}` : ''}), load average ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')} on this machine`,
          `  register (Node + Lease each): ${registered} s in the simulator, ${wall.toFixed(1)} s to "running"; server CPU ${regServerCpu.toFixed(1)} s`,
          `  idle ${secs.toFixed(0)} s: server ${serverPct.toFixed(1)}% CPU (RSS ${rssMiB(serverPid).toFixed(0)} MiB), simulator ${simPct.toFixed(1)}% CPU (RSS ${rssMiB(simPid).toFixed(0)} MiB)`,
          ...podLines,
          `  lease renewal failures logged: ${failures}`,
          ...[...out.matchAll(/sim: \d+ [a-z ]+ failures?.*/g)].slice(-3).map((m) => `    ${m[0]}`),
          `  simulator's own figures: ${[...out.matchAll(/sim: \d+ nodes; leases.*/g)].pop()?.[0] ?? '(none yet)'}`,
          '',
        ].join('\n'),
      );
    } finally {
      await sim.stop();
    }
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Creates `pods` pods bound round-robin to the nodes, 16 creates in flight; times until all are Running. */
async function podBurst(
  server: FlotillaProcess,
  nodes: number,
  pods: number,
  serverPid: number,
): Promise<string[]> {
  const client = new ApiClient({ server: server.url, token: server.token, caPem: server.ca });
  try {
    const cpu0 = cpuSeconds(serverPid);
    const began = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < pods) {
          const i = next++;
          await client.create({ apiVersion: 'v1', kind: 'Pod' }, 'default', {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: `burst-${i}`, namespace: 'default', labels: { app: 'burst' } },
            spec: { nodeName: `bench-${i % nodes}`, containers: [{ name: 'main', image: 'nginx:1.25' }] },
          });
        }
      }),
    );
    const created = (Date.now() - began) / 1000;
    for (;;) {
      const list = await client.list({ apiVersion: 'v1', kind: 'Pod' }, 'default', {
        labelSelector: 'app=burst',
      });
      const running = list.items.filter(
        (p) => (p.status as { phase?: string } | undefined)?.phase === 'Running',
      );
      if (running.length === pods) break;
      if (Date.now() - began > 20 * 60_000)
        throw new Error(`only ${running.length}/${pods} pods Running after 20 min`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const allRunning = (Date.now() - began) / 1000;
    return [
      `  ${pods} pods bound to the nodes: created in ${created.toFixed(1)} s, all Running after ${allRunning.toFixed(1)} s; server CPU ${(cpuSeconds(serverPid) - cpu0).toFixed(1)} s`,
    ];
  } finally {
    await client.close();
  }
}

async function main(argv: string[]): Promise<void> {
  let idle = 60;
  let leaseInterval = '10s';
  let extra: string[] = [];
  let pods = 0;
  const counts: number[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--idle') idle = Number(argv[++i]);
    else if (a === '--lease-interval') leaseInterval = argv[++i] ?? '10s';
    else if (a === '--pods') pods = Number(argv[++i]);
    else if (a === '--') extra = argv.splice(i + 1);
    else counts.push(Number(a));
  }
  for (const n of counts.length > 0 ? counts : [1000, 5000])
    await measure(n, idle, leaseInterval, extra, pods);
}

runAsScript(
  import.meta.url,
  async (args) => {
    await main(args);
    return 0;
  },
  'usage: sim-nodes.js [N ...] [--idle 60] [--lease-interval 10s] [--pods P] [-- extra simulator flags]',
);
