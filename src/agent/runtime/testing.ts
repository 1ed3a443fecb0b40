// Test helpers for the runtime: a busybox layer dir and a ContainerCreateSpec builder.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ContainerCreateSpec } from './types.js';

export const BUSYBOX = '/bin/busybox';

/** Why real-container tests cannot run here, or undefined when they can. */
export function realRuntimeUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const bin of ['/usr/sbin/runc', '/usr/bin/conmon', BUSYBOX]) {
    if (!existsSync(bin)) return `${bin} is missing (apt-get install runc conmon busybox-static)`;
  }
  return undefined;
}

/**
 * A one-layer busybox image: /bin/busybox with its applets as relative symlinks (`busybox --install -s`
 * writes absolute links to wherever busybox was when installing, which point outside the rootfs), and
 * /etc/passwd, /etc/group with root and nobody.
 */
export function makeBusyboxLayer(dir: string): string {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o1777 });
  mkdirSync(join(dir, 'mnt'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  execFileSync('chmod', ['755', join(dir, 'bin', 'busybox')]);
  const applets = execFileSync(BUSYBOX, ['--list']).toString().split('\n');
  for (const a of applets) {
    if (a === '' || a === 'busybox' || a.includes('/')) continue;
    if (!existsSync(join(dir, 'bin', a))) symlinkSync('busybox', join(dir, 'bin', a));
  }
  writeFileSync(
    join(dir, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n',
  );
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  return dir;
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function busyboxSpec(
  layerDir: string,
  cgroupParent: string,
  args: string[],
  overrides: Partial<Omit<ContainerCreateSpec, 'security'>> & {
    security?: Partial<ContainerCreateSpec['security']>;
  } = {},
): ContainerCreateSpec {
  const id = overrides.id ?? uniqueId('t');
  const { security, ...rest } = overrides;
  return {
    id,
    labels: {
      podUid: '0000-test',
      podName: 'test',
      podNamespace: 'default',
      containerName: id,
      attempt: 0,
      kind: 'regular',
      specHash: 'h',
    },
    imageRef: 'busybox:test',
    imageId: 'sha256:test',
    layerDirs: [layerDir],
    args,
    env: ['PATH=/bin'],
    workingDir: '/',
    hostname: 'test',
    mounts: [],
    resources: { cpuRequestMilli: 100 },
    tty: false,
    stdin: false,
    cgroupParent,
    ...rest,
    security: {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilitiesAdd: [],
      capabilitiesDrop: [],
      seccomp: 'RuntimeDefault',
      ...security,
    },
  };
}
