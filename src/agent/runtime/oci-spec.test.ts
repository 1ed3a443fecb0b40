import { describe, expect, it } from 'vitest';
import { isRuntimeError } from './errors.js';
import {
  ALL_CAPABILITIES,
  buildOciSpec,
  capabilitiesFromMask,
  cpuQuota,
  cpuShares,
  DEFAULT_CAPABILITIES,
  effectiveCapabilities,
  MASKED_PATHS,
  type HostFacts,
} from './oci-spec.js';
import { busyboxSpec } from './testing.js';

const host: HostFacts = {
  cgroupVersion: 1,
  user: { uid: 0, gid: 0, additionalGids: [] },
  arch: 'x64',
  rootfsPath: '/c/bundle/rootfs',
  swapAccounting: true,
};

describe('buildOciSpec', () => {
  it('builds a locked-down container by default', () => {
    const oci = buildOciSpec(
      busyboxSpec('/layer', 'flotilla/podabc', ['sh', '-c', 'true'], { id: 'c1' }),
      host,
    );
    expect(oci.process.args).toEqual(['sh', '-c', 'true']);
    expect(oci.process.noNewPrivileges).toBe(true);
    expect(oci.process.capabilities.bounding).toEqual([...DEFAULT_CAPABILITIES]);
    expect(oci.process.capabilities.effective).not.toContain('CAP_SYS_ADMIN');
    expect(oci.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1048576, soft: 1048576 }]);
    expect(oci.linux.cgroupsPath).toBe('/flotilla/podabc/c1');
    expect(oci.linux.maskedPaths).toEqual([...MASKED_PATHS]);
    expect(oci.linux.readonlyPaths).toContain('/proc/sys');
    expect(oci.linux.seccomp?.defaultAction).toBe('SCMP_ACT_ALLOW');
    expect(oci.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(oci.mounts.find((m) => m.destination === '/sys')?.options).toContain('ro');
    expect(oci.mounts.find((m) => m.destination === '/sys/fs/cgroup')?.options).toContain('ro');
    expect(oci.linux.resources.devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(oci.root).toEqual({ path: '/c/bundle/rootfs', readonly: false });
  });

  it('joins the pod network namespace by path, and a cgroup namespace on v2', () => {
    const spec = busyboxSpec('/l', 'p', ['true'], { netnsPath: '/var/run/netns/flotilla-x' });
    const oci = buildOciSpec(spec, { ...host, cgroupVersion: 2 });
    expect(oci.linux.namespaces).toContainEqual({ type: 'network', path: '/var/run/netns/flotilla-x' });
    expect(oci.linux.namespaces).toContainEqual({ type: 'cgroup' });
  });

  it('translates resources as Kubernetes does', () => {
    const spec = busyboxSpec('/l', 'p', ['true'], {
      resources: { cpuRequestMilli: 250, cpuLimitMilli: 500, memoryLimitBytes: 64 << 20, pidsLimit: 100 },
    });
    const r = buildOciSpec(spec, host).linux.resources;
    expect(r.cpu).toEqual({ shares: 256, quota: 50_000, period: 100_000 });
    expect(r.memory).toEqual({ limit: 64 << 20, swap: 64 << 20 });
    expect(r.pids).toEqual({ limit: 100 });
    expect(cpuShares(0)).toBe(2);
    expect(cpuShares(1000)).toBe(1024);
    expect(cpuQuota(1)).toBe(1000);
    const noSwap = buildOciSpec(spec, { ...host, swapAccounting: false }).linux.resources.memory;
    expect(noSwap).toEqual({ limit: 64 << 20 });
  });

  it('sets user, read-only rootfs, bind mounts and privilege escalation from the spec', () => {
    const spec = busyboxSpec('/l', 'p', ['true'], {
      mounts: [{ containerPath: '/etc/hosts', hostPath: '/pods/x/hosts', readOnly: true }],
      workingDir: '',
      env: ['A=1'],
      security: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: true },
    });
    const oci = buildOciSpec(spec, { ...host, user: { uid: 1000, gid: 100, additionalGids: [5, 6] } });
    expect(oci.process.user).toEqual({ uid: 1000, gid: 100, additionalGids: [5, 6] });
    expect(oci.root.readonly).toBe(true);
    expect(oci.process.noNewPrivileges).toBe(false);
    expect(oci.process.cwd).toBe('/');
    expect(oci.process.env[0]).toMatch(/^PATH=/);
    expect(oci.mounts.at(-1)).toEqual({
      destination: '/etc/hosts',
      type: 'bind',
      source: '/pods/x/hosts',
      options: ['rbind', 'rprivate', 'ro'],
    });
  });

  it('privileged: every capability and device, no seccomp, no masked paths, writable /sys', () => {
    const spec = busyboxSpec('/l', 'p', ['true'], { security: { privileged: true } });
    const dev = { path: '/dev/loop0', type: 'b' as const, major: 7, minor: 0 };
    const oci = buildOciSpec(spec, { ...host, hostDevices: [dev] });
    expect(oci.process.capabilities.bounding).toEqual([...ALL_CAPABILITIES]);
    expect(oci.linux.seccomp).toBeUndefined();
    expect(oci.linux.maskedPaths).toEqual([]);
    expect(oci.linux.readonlyPaths).toEqual([]);
    expect(oci.linux.resources.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(oci.linux.devices).toEqual([dev]);
    expect(oci.mounts.find((m) => m.destination === '/sys')?.options).toContain('rw');
    expect(oci.process.noNewPrivileges).toBe(false);
  });

  it('Unconfined seccomp leaves the profile out', () => {
    const spec = busyboxSpec('/l', 'p', ['true'], { security: { seccomp: 'Unconfined' } });
    expect(buildOciSpec(spec, host).linux.seccomp).toBeUndefined();
  });
});

describe('effectiveCapabilities', () => {
  it('adds and drops by name, with or without the CAP_ prefix', () => {
    const caps = effectiveCapabilities(['NET_ADMIN', 'cap_sys_time'], ['NET_RAW', 'CAP_MKNOD'], false);
    expect(caps).toContain('CAP_NET_ADMIN');
    expect(caps).toContain('CAP_SYS_TIME');
    expect(caps).not.toContain('CAP_NET_RAW');
    expect(caps).not.toContain('CAP_MKNOD');
    expect(caps).toContain('CAP_CHOWN');
  });
  it('drop ALL then add one gives just that one; add ALL gives all but the dropped', () => {
    expect(effectiveCapabilities(['NET_BIND_SERVICE'], ['ALL'], false)).toEqual(['CAP_NET_BIND_SERVICE']);
    const all = effectiveCapabilities(['ALL'], ['SYS_ADMIN'], false);
    expect(all).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(all).not.toContain('CAP_SYS_ADMIN');
  });
  it('privileged and add ALL mean every capability the agent holds', () => {
    const own = capabilitiesFromMask('1fffeffffff');
    expect(own).not.toContain('CAP_SYS_RESOURCE');
    expect(own).toHaveLength(ALL_CAPABILITIES.length - 1);
    expect(effectiveCapabilities([], [], true, own)).toEqual(own);
    expect(effectiveCapabilities(['ALL'], [], false, own)).toEqual(own);
  });
  it('refuses an unknown capability', () => {
    let err: unknown;
    try {
      effectiveCapabilities(['FLY'], [], false);
    } catch (e) {
      err = e;
    }
    expect(isRuntimeError(err) && err.code).toBe('InvalidSpec');
  });
});
