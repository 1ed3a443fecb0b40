import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPABILITIES } from './oci-spec.js';
import { ENOSYS, EPERM, NAMESPACE_FLAGS, runtimeDefaultSeccomp } from './seccomp.js';

const denied = (caps: readonly string[]): string[] =>
  runtimeDefaultSeccomp(caps, 'x64').syscalls.find((r) => r.args === undefined && r.errnoRet === EPERM)
    ?.names ?? [];

describe('runtimeDefaultSeccomp', () => {
  it('denies the dangerous syscalls with EPERM for a default container', () => {
    const names = denied(DEFAULT_CAPABILITIES);
    for (const s of [
      'kexec_load',
      'init_module',
      'finit_module',
      'delete_module',
      'bpf',
      'perf_event_open',
      'userfaultfd',
      'keyctl',
      'add_key',
      'request_key',
      'mount',
      'umount2',
      'pivot_root',
      'swapon',
      'swapoff',
      'reboot',
      'acct',
      'settimeofday',
      'clock_settime',
      'adjtimex',
      'open_by_handle_at',
      'name_to_handle_at',
      'lookup_dcookie',
      'setns',
    ]) {
      expect(names).toContain(s);
    }
    expect(names).not.toContain('ptrace');
    expect(names).not.toContain('read');
  });

  it('refuses unshare/clone with any namespace flag and sends clone3 to ENOSYS', () => {
    const p = runtimeDefaultSeccomp(DEFAULT_CAPABILITIES, 'x64');
    const flagRules = p.syscalls.filter((r) => r.names.includes('unshare'));
    expect(flagRules.map((r) => r.args?.[0]?.value).sort()).toEqual(Object.values(NAMESPACE_FLAGS).sort());
    expect(
      flagRules.every((r) => r.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ' && r.names.includes('clone')),
    ).toBe(true);
    expect(p.syscalls.find((r) => r.names.includes('clone3'))?.errnoRet).toBe(ENOSYS);
  });

  it('gives back the syscalls of a granted capability', () => {
    const names = denied([...DEFAULT_CAPABILITIES, 'CAP_SYS_TIME', 'CAP_SYS_ADMIN']);
    expect(names).not.toContain('settimeofday');
    expect(names).not.toContain('mount');
    expect(names).not.toContain('bpf');
    expect(names).toContain('kexec_load');
    expect(names).toContain('keyctl');
    const p = runtimeDefaultSeccomp([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN'], 'x64');
    expect(p.syscalls.some((r) => r.names.includes('unshare'))).toBe(false);
  });

  it('lists the architectures of the machine', () => {
    expect(runtimeDefaultSeccomp([], 'x64').architectures).toEqual([
      'SCMP_ARCH_X86_64',
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
    ]);
    expect(runtimeDefaultSeccomp([], 'arm64').architectures).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  });
});
