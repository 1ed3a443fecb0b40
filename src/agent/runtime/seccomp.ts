// Flotilla's RuntimeDefault seccomp profile, in the spirit of Docker's default but written as a deny list:
// every syscall is allowed (defaultAction SCMP_ACT_ALLOW) except the ones that reach kernel-global state
// or have a long CVE history, which fail with EPERM. Groups gated on a capability are allowed again when the
// container was granted that capability (as Docker does), so `capabilities.add: [SYS_TIME]` really lets a
// container set the clock. See docs/design/agent-runtime.md for the reasoning and the trade-offs.

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_MASKED_EQ' | 'SCMP_CMP_EQ' | 'SCMP_CMP_NE';
}

export interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_ALLOW';
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  architectures: string[];
  syscalls: SeccompRule[];
}

export const EPERM = 1;
export const ENOSYS = 38;

/** Namespace flags of clone(2)/unshare(2). */
export const NAMESPACE_FLAGS: Readonly<Record<string, number>> = {
  CLONE_NEWTIME: 0x00000080,
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
};

/** Syscalls no container gets, whatever its capabilities (obsolete, or a kernel-wide attack surface). */
const ALWAYS_DENIED = [
  // obsolete module and sysctl interfaces
  'create_module',
  'get_kernel_syms',
  'query_module',
  'nfsservctl',
  'uselib',
  'ustat',
  'sysfs',
  '_sysctl',
  'vm86',
  'vm86old',
  // the kernel keyring is not namespaced
  'add_key',
  'keyctl',
  'request_key',
  // page-fault handling from user space: a favourite exploit primitive
  'userfaultfd',
  // io_uring bypasses seccomp for the operations it performs and has had many escapes
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
];

/** Syscalls denied unless the container holds the capability (the kernel checks the capability as well). */
const DENIED_WITHOUT_CAPABILITY: ReadonlyArray<{ capability: string; names: string[] }> = [
  { capability: 'CAP_SYS_MODULE', names: ['init_module', 'finit_module', 'delete_module'] },
  { capability: 'CAP_SYS_BOOT', names: ['reboot', 'kexec_load', 'kexec_file_load'] },
  { capability: 'CAP_SYS_PACCT', names: ['acct'] },
  {
    capability: 'CAP_SYS_TIME',
    names: [
      'settimeofday',
      'stime',
      'clock_settime',
      'clock_settime64',
      'adjtimex',
      'clock_adjtime',
      'clock_adjtime64',
    ],
  },
  { capability: 'CAP_SYS_RAWIO', names: ['iopl', 'ioperm'] },
  { capability: 'CAP_SYS_TTY_CONFIG', names: ['vhangup'] },
  { capability: 'CAP_SYSLOG', names: ['syslog'] },
  { capability: 'CAP_DAC_READ_SEARCH', names: ['open_by_handle_at'] },
  {
    capability: 'CAP_SYS_NICE',
    names: ['get_mempolicy', 'mbind', 'set_mempolicy', 'move_pages', 'migrate_pages'],
  },
  { capability: 'CAP_BPF', names: ['bpf'] },
  { capability: 'CAP_PERFMON', names: ['perf_event_open'] },
  {
    capability: 'CAP_SYS_ADMIN',
    names: [
      'mount',
      'umount',
      'umount2',
      'pivot_root',
      'swapon',
      'swapoff',
      'setns',
      'quotactl',
      'quotactl_fd',
      'lookup_dcookie',
      'name_to_handle_at',
      'fanotify_init',
      'fsopen',
      'fsconfig',
      'fsmount',
      'fspick',
      'move_mount',
      'open_tree',
      'mount_setattr',
    ],
  },
];

export function seccompArchitectures(arch: string): string[] {
  switch (arch) {
    case 'x64':
    case 'x86_64':
      return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
    case 'arm64':
    case 'aarch64':
      return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
    default:
      return [];
  }
}

/**
 * The RuntimeDefault profile for a container holding `capabilities` (CAP_* names) on `arch`
 * (Node's process.arch or the uname machine name).
 */
export function runtimeDefaultSeccomp(capabilities: readonly string[], arch: string): SeccompProfile {
  const caps = new Set(capabilities);
  const denied = [...ALWAYS_DENIED];
  for (const group of DENIED_WITHOUT_CAPABILITY) {
    // CAP_SYS_ADMIN historically covered bpf and perf_event_open as well.
    const granted =
      caps.has(group.capability) ||
      ((group.capability === 'CAP_BPF' || group.capability === 'CAP_PERFMON') && caps.has('CAP_SYS_ADMIN'));
    if (!granted) denied.push(...group.names);
  }
  const syscalls: SeccompRule[] = [{ names: denied, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }];
  if (!caps.has('CAP_SYS_ADMIN')) {
    // New namespaces need CAP_SYS_ADMIN, except user namespaces, which would hand out a full capability set
    // over fresh namespaces: refuse every namespace flag. One rule per flag: separate rules are OR-ed.
    for (const flag of Object.values(NAMESPACE_FLAGS)) {
      const args: SeccompArg[] = [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }];
      syscalls.push({ names: ['unshare', 'clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args });
    }
    // clone3 passes its flags in a struct seccomp cannot inspect: ENOSYS makes libc fall back to clone.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: seccompArchitectures(arch), syscalls };
}
