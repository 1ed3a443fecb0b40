// Reading and removing the cgroups runc creates (cgroupfs driver): v1 (one hierarchy per controller,
// e.g. cpu and cpuacct mounted apart on our machines), v2, and the hybrid layout (v1 controllers plus
// a v2 mount at /sys/fs/cgroup/unified, which runc also populates).

import { readFile, rmdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const CGROUP2_SUPER_MAGIC = 0x63677270;

export interface CgroupLayout {
  version: 1 | 2;
  /** v1: controller name (cpu, cpuacct, memory, ..., name=systemd) → mount point. */
  v1: Map<string, string>;
  /** The v2 mount point (the whole tree on v2, /sys/fs/cgroup/unified in hybrid mode). */
  unified?: string;
}

/** v2 only when /sys/fs/cgroup itself is cgroup2fs (hybrid machines count as v1). */
export async function detectCgroupLayout(mountinfo = '/proc/self/mountinfo'): Promise<CgroupLayout> {
  let version: 1 | 2 = 1;
  try {
    version = (await statfs('/sys/fs/cgroup')).type === CGROUP2_SUPER_MAGIC ? 2 : 1;
  } catch {
    version = 1;
  }
  const layout: CgroupLayout = { version, v1: new Map() };
  const text = await readFile(mountinfo, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const mountPoint = unescapeMount(left[4] ?? '');
    const fstype = right[0];
    if (fstype === 'cgroup2') {
      if (layout.unified === undefined || mountPoint === '/sys/fs/cgroup') layout.unified = mountPoint;
    } else if (fstype === 'cgroup') {
      for (const opt of (right[2] ?? '').split(',')) {
        if (['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec'].includes(opt)) continue;
        if (opt.startsWith('release_agent') || opt === 'clone_children' || opt === 'xattr') continue;
        if (!layout.v1.has(opt)) layout.v1.set(opt, mountPoint);
      }
    }
  }
  return layout;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Every directory a cgroup path has on this host (each v1 hierarchy, and the v2 tree). */
export function cgroupDirs(layout: CgroupLayout, cgroupPath: string): string[] {
  const rel = cgroupPath.replace(/^\/+/, '');
  const mounts = new Set<string>(layout.v1.values());
  if (layout.unified !== undefined) mounts.add(layout.unified);
  return [...mounts].map((m) => join(m, rel));
}

async function readNumber(path: string): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Parses "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k !== undefined && v !== undefined && k !== '') out.set(k, Number(v));
  }
  return out;
}

async function readKeyed(path: string): Promise<Map<string, number> | undefined> {
  try {
    return parseFlatKeyed(await readFile(path, 'utf8'));
  } catch {
    return undefined;
  }
}

export interface CgroupUsage {
  cpuUsageNanos: number;
  memoryUsageBytes: number;
  memoryWorkingSetBytes: number;
}

/** CPU and memory usage of a cgroup; undefined when the cgroup is gone. */
export async function readUsage(layout: CgroupLayout, cgroupPath: string): Promise<CgroupUsage | undefined> {
  const rel = cgroupPath.replace(/^\/+/, '');
  if (layout.version === 2 && layout.unified !== undefined) {
    const dir = join(layout.unified, rel);
    const cpu = await readKeyed(join(dir, 'cpu.stat'));
    if (cpu === undefined) return undefined;
    const usage = (await readNumber(join(dir, 'memory.current'))) ?? 0;
    const inactive = (await readKeyed(join(dir, 'memory.stat')))?.get('inactive_file') ?? 0;
    return {
      cpuUsageNanos: (cpu.get('usage_usec') ?? 0) * 1000,
      memoryUsageBytes: usage,
      memoryWorkingSetBytes: Math.max(0, usage - inactive),
    };
  }
  const cpuacct = layout.v1.get('cpuacct');
  const memory = layout.v1.get('memory');
  if (cpuacct === undefined || memory === undefined) return undefined;
  const cpu = await readNumber(join(cpuacct, rel, 'cpuacct.usage'));
  if (cpu === undefined) return undefined;
  const usage = (await readNumber(join(memory, rel, 'memory.usage_in_bytes'))) ?? 0;
  const inactive = (await readKeyed(join(memory, rel, 'memory.stat')))?.get('total_inactive_file') ?? 0;
  return {
    cpuUsageNanos: cpu,
    memoryUsageBytes: usage,
    memoryWorkingSetBytes: Math.max(0, usage - inactive),
  };
}

/** Number of OOM kills in the cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
export async function readOomKills(layout: CgroupLayout, cgroupPath: string): Promise<number | undefined> {
  const rel = cgroupPath.replace(/^\/+/, '');
  if (layout.version === 2 && layout.unified !== undefined) {
    return (await readKeyed(join(layout.unified, rel, 'memory.events')))?.get('oom_kill');
  }
  const memory = layout.v1.get('memory');
  if (memory === undefined) return undefined;
  return (await readKeyed(join(memory, rel, 'memory.oom_control')))?.get('oom_kill');
}

/** rmdir the cgroup in every hierarchy; retries while the kernel still counts exiting tasks. Idempotent. */
export async function removeCgroup(layout: CgroupLayout, cgroupPath: string): Promise<void> {
  const failures: string[] = [];
  for (const dir of cgroupDirs(layout, cgroupPath)) {
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') break;
        if (code === 'EBUSY' && attempt < 50) {
          await sleep(100);
          continue;
        }
        failures.push(`${dir}: ${code ?? String(err)}`);
        break;
      }
    }
  }
  if (failures.length > 0) throw new Error(`cannot remove cgroup ${cgroupPath}: ${failures.join('; ')}`);
}
