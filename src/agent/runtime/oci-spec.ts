// Builds the OCI runtime config (config.json) for one container. Pure: everything it needs from the host
// (cgroup version, the resolved user, the machine's arch and devices) is passed in as HostFacts.

import type { ContainerCreateSpec, Mount } from './types.js';
import { RuntimeError } from './errors.js';
import { runtimeDefaultSeccomp, type SeccompProfile } from './seccomp.js';

/** Docker's default capability set (also containerd's and CRI-O's). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Every capability Linux 5.9+ knows (runc 1.1 knows them all), in bit order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** runc's defaults (`runc spec`). */
export const MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
export const READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const NOFILE_LIMIT = 1048576;

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface OciDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface HostFacts {
  cgroupVersion: 1 | 2;
  user: ResolvedUser;
  /** process.arch ('x64', 'arm64') or a uname machine name. */
  arch: string;
  /** Path of the rootfs (absolute, or relative to the bundle). */
  rootfsPath: string;
  /** v1: memory.memsw.* exists, so swap can be limited (swap = limit disables swap, as Kubernetes does). */
  swapAccounting: boolean;
  /** Host devices given to privileged containers. */
  hostDevices?: OciDevice[];
  /**
   * RLIMIT_NOFILE to give (default 1048576). An agent without CAP_SYS_RESOURCE cannot raise a limit above
   * its own hard limit, so the runtime passes that instead.
   */
  nofileLimit?: number;
  /** Capabilities the agent holds (its effective set); "all" for privileged and add ALL means these. */
  availableCapabilities?: string[];
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits: Array<{ type: string; hard: number; soft: number }>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    resources: {
      devices: Array<{ allow: boolean; access: string; type?: string; major?: number; minor?: number }>;
      cpu: { shares: number; quota?: number; period?: number };
      memory?: { limit: number; swap?: number };
      pids?: { limit: number };
    };
    cgroupsPath: string;
    namespaces: Array<{ type: string; path?: string }>;
    devices?: OciDevice[];
    maskedPaths: string[];
    readonlyPaths: string[];
    seccomp?: SeccompProfile;
  };
}

function capName(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** Docker/containerd semantics: drop ALL empties the default set, add ALL grants every capability. */
export function effectiveCapabilities(
  add: readonly string[],
  drop: readonly string[],
  privileged: boolean,
  available: readonly string[] = ALL_CAPABILITIES,
): string[] {
  // "All" means all the agent itself holds (containerd does the same): runc cannot grant more.
  const all = ALL_CAPABILITIES.filter((c) => available.includes(c));
  if (privileged) return all;
  const adds = add.map(capName);
  const drops = new Set(drop.map(capName));
  for (const c of [...adds, ...drops]) {
    if (c !== 'ALL' && !ALL_CAPABILITIES.includes(c)) {
      throw new RuntimeError('InvalidSpec', `unknown capability "${c}"`);
    }
  }
  let caps: string[];
  if (adds.includes('ALL')) {
    caps = all.filter((c) => !drops.has(c));
  } else {
    caps = drops.has('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drops.has(c));
    for (const c of adds) if (!caps.includes(c)) caps.push(c);
  }
  return caps;
}

/** Capability names of a /proc/<pid>/status mask such as CapEff (hex). */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => ((mask >> BigInt(bit)) & 1n) === 1n);
}

/** CPU shares from a request in millicores (Kubernetes' MilliCPUToShares). */
export function cpuShares(milli: number): number {
  return Math.max(2, Math.floor((milli * 1024) / 1000));
}

export const CPU_PERIOD_US = 100_000;

/** CFS quota for a limit in millicores over a 100 ms period (Kubernetes' MilliCPUToQuota, minimum 1 ms). */
export function cpuQuota(milli: number): number {
  return Math.max(1000, Math.floor((milli * CPU_PERIOD_US) / 1000));
}

function bindMount(m: Mount): OciMount {
  return {
    destination: m.containerPath,
    type: 'bind',
    source: m.hostPath,
    options: ['rbind', 'rprivate', m.readOnly ? 'ro' : 'rw'],
  };
}

export function buildOciSpec(spec: ContainerCreateSpec, host: HostFacts): OciSpec {
  const sec = spec.security;
  const privileged = sec.privileged;
  const caps = effectiveCapabilities(
    sec.capabilitiesAdd,
    sec.capabilitiesDrop,
    privileged,
    host.availableCapabilities ?? ALL_CAPABILITIES,
  );
  const env = [...spec.env];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);

  const sysOptions = ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'];
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: sysOptions },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [...sysOptions, 'relatime'] },
    ...spec.mounts.map(bindMount),
  ];

  const namespaces: Array<{ type: string; path?: string }> = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (spec.netnsPath !== undefined) namespaces.push({ type: 'network', path: spec.netnsPath });
  if (host.cgroupVersion === 2) namespaces.push({ type: 'cgroup' });

  const r = spec.resources;
  const resources: OciSpec['linux']['resources'] = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : [{ allow: false, access: 'rwm' }],
    cpu: { shares: cpuShares(r.cpuRequestMilli) },
  };
  if (r.cpuLimitMilli !== undefined && r.cpuLimitMilli > 0) {
    resources.cpu.quota = cpuQuota(r.cpuLimitMilli);
    resources.cpu.period = CPU_PERIOD_US;
  }
  if (r.memoryLimitBytes !== undefined && r.memoryLimitBytes > 0) {
    resources.memory = { limit: r.memoryLimitBytes };
    // swap = limit: no swap on top of the limit, so the OOM killer acts at the limit (v2: swap.max 0).
    if (host.swapAccounting || host.cgroupVersion === 2) resources.memory.swap = r.memoryLimitBytes;
  }
  if (r.pidsLimit !== undefined && r.pidsLimit > 0) resources.pids = { limit: r.pidsLimit };

  const nofile = host.nofileLimit ?? NOFILE_LIMIT;
  const user: OciSpec['process']['user'] = { uid: host.user.uid, gid: host.user.gid };
  if (host.user.additionalGids.length > 0) user.additionalGids = [...host.user.additionalGids];

  const oci: OciSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: spec.tty,
      user,
      args: [...spec.args],
      env,
      cwd: spec.workingDir === '' ? '/' : spec.workingDir,
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }],
      noNewPrivileges: !privileged && !sec.allowPrivilegeEscalation,
    },
    root: { path: host.rootfsPath, readonly: sec.readOnlyRootFilesystem },
    hostname: spec.hostname,
    mounts,
    linux: {
      resources,
      cgroupsPath: `/${spec.cgroupParent.replace(/^\/+|\/+$/g, '')}/${spec.id}`,
      namespaces,
      maskedPaths: privileged ? [] : [...MASKED_PATHS],
      readonlyPaths: privileged ? [] : [...READONLY_PATHS],
    },
  };
  if (privileged && host.hostDevices !== undefined && host.hostDevices.length > 0) {
    oci.linux.devices = host.hostDevices.map((d) => ({ ...d }));
  }
  if (!privileged && sec.seccomp === 'RuntimeDefault') {
    oci.linux.seccomp = runtimeDefaultSeccomp(caps, host.arch);
  }
  return oci;
}
