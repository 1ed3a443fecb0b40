// Facts about the host the agent runs on, read from the kernel and /etc (the I/O half of node-status.ts).
import { readFileSync, readdirSync, statfsSync } from 'node:fs';
import { arch, cpus, hostname, networkInterfaces, release, totalmem } from 'node:os';
import { kubeArch, type HostFacts, type Pressure } from './node-status.js';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function osImage(): string {
  const text = readText('/etc/os-release') ?? '';
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m?.[1] ?? 'Linux';
}

/** The first global IPv4 address that is not on a bridge of ours (or loopback when there is none). */
export function defaultInternalIP(excludeInterfaces: (name: string) => boolean = () => false): string {
  for (const [name, list] of Object.entries(networkInterfaces())) {
    if (excludeInterfaces(name)) continue;
    for (const addr of list ?? []) {
      if (addr.family === 'IPv4' && !addr.internal) return addr.address;
    }
  }
  return '127.0.0.1';
}

/** CPU cores usable by this process (cgroup cpuset/quota ignored: the node's own view). */
function cpuCores(): number {
  return Math.max(1, cpus().length);
}

export function hostFacts(opts: {
  dataDir: string;
  internalIP: string;
  runtimeVersion: string;
  agentVersion: string;
  hostname?: string;
}): HostFacts {
  let storage = 0;
  try {
    const s = statfsSync(opts.dataDir);
    storage = s.blocks * s.bsize;
  } catch {
    storage = 0;
  }
  return {
    hostname: opts.hostname ?? hostname(),
    internalIP: opts.internalIP,
    os: 'linux',
    arch: kubeArch(arch()),
    kernelVersion: release(),
    osImage: osImage(),
    machineID: (readText('/etc/machine-id') ?? '').trim(),
    bootID: (readText('/proc/sys/kernel/random/boot_id') ?? '').trim(),
    cpuCores: cpuCores(),
    memoryBytes: totalmem(),
    ephemeralStorageBytes: storage,
    runtimeVersion: opts.runtimeVersion,
    agentVersion: opts.agentVersion,
  };
}

/** Current pressure readings: MemAvailable, free space of the data dir's filesystem, pids. */
export function readPressure(dataDir: string): Pressure {
  const meminfo = readText('/proc/meminfo') ?? '';
  const avail = /^MemAvailable:\s+(\d+) kB/m.exec(meminfo);
  let diskAvailable = 0;
  let diskTotal = 0;
  try {
    const s = statfsSync(dataDir);
    diskAvailable = s.bavail * s.bsize;
    diskTotal = s.blocks * s.bsize;
  } catch {
    // leave zeros: reported as no pressure
  }
  let pids = 0;
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
  } catch {
    pids = 0;
  }
  return {
    memoryAvailableBytes: avail === null ? totalmem() : Number(avail[1]) * 1024,
    diskAvailableBytes: diskAvailable,
    diskTotalBytes: diskTotal,
    pidsInUse: pids,
    pidMax: Number((readText('/proc/sys/kernel/pid_max') ?? '32768').trim()),
  };
}
