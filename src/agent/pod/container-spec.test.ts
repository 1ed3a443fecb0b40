import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ImageConfig, ImageInfo } from '../image/types.js';
import type { ContainerCreateSpec } from '../runtime/types.js';
import {
  buildContainerSpec,
  cleanupPodDir,
  containerSpecHash,
  isContainerConfigError,
  newContainerId,
  preparePod,
  terminationLogPath,
  type ObjectLookup,
  type PodContext,
} from './container-spec.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'podspec-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const noObjects: ObjectLookup = { configMap: async () => undefined, secret: async () => undefined };

function image(config: ImageConfig = {}): ImageInfo {
  return {
    id: 'sha256:img',
    repoTags: ['127.0.0.1:5000/app:1'],
    repoDigests: [],
    size: 1,
    config,
    os: 'linux',
    architecture: 'amd64',
    layerDirs: ['/layers/a', '/layers/b'],
  };
}

function ctx(spec: Record<string, unknown> = {}): PodContext {
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'shop', uid: '0123456789abcdef' },
    spec: { containers: [], ...spec },
  };
  return {
    pod,
    nodeName: 'node-a',
    hostIP: '10.0.0.5',
    podIPs: ['10.244.1.7'],
    netnsPath: '/var/run/netns/flotilla-x',
    podDir: join(dir, 'pod'),
    cgroupParent: 'flotilla/pod0123',
    hostResolvConfPath: join(dir, 'none'),
  };
}

async function build(
  container: Record<string, unknown>,
  opts: { img?: ImageInfo; spec?: Record<string, unknown>; c?: PodContext; kind?: 'regular' | 'init' } = {},
): Promise<ContainerCreateSpec> {
  const c = opts.c ?? ctx(opts.spec);
  const prepared = await preparePod(c, noObjects);
  return buildContainerSpec({
    ctx: c,
    prepared,
    container: { name: 'app', image: '127.0.0.1:5000/app:1', ...container },
    kind: opts.kind ?? 'regular',
    attempt: 2,
    id: 'abcd-app-2-000000',
    image: opts.img ?? image(),
    lookup: noObjects,
  });
}

async function configErrorOf(p: Promise<unknown>): Promise<{ reason: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isContainerConfigError(err)) return { reason: err.reason, message: err.message };
    throw err;
  }
  throw new Error('expected a ContainerConfigError');
}

describe('command and args', () => {
  const img = image({ Entrypoint: ['/entry'], Cmd: ['--default'] });
  it.each([
    ['neither: Entrypoint + Cmd', {}, ['/entry', '--default']],
    ['command replaces Entrypoint and drops Cmd', { command: ['/bin/sh'] }, ['/bin/sh']],
    ['command and args', { command: ['/bin/sh'], args: ['-c', 'true'] }, ['/bin/sh', '-c', 'true']],
    ['args alone replace Cmd', { args: ['--other'] }, ['/entry', '--other']],
  ])('%s', async (_name, container, want) => {
    expect((await build(container, { img })).args).toEqual(want);
  });

  it('expands $(VAR) from the pod env, leaves unknown ones, and honours $$ escapes', async () => {
    const spec = await build({
      command: ['echo', '$(GREETING)', '$$(GREETING)', '$(NOPE)'],
      env: [{ name: 'GREETING', value: 'hi' }],
    });
    expect(spec.args).toEqual(['echo', 'hi', '$(GREETING)', '$(NOPE)']);
  });

  it('is a CreateContainerError "no command specified" when nothing is left', async () => {
    expect(await configErrorOf(build({}, { img: image({ Entrypoint: [''] }) }))).toEqual({
      reason: 'CreateContainerError',
      message: 'no command specified',
    });
  });
});

describe('buildContainerSpec', () => {
  it('fills identity, image, working dir, hostname, netns, tty/stdin and the cgroup parent', async () => {
    const spec = await build(
      { tty: true, stdin: true },
      { kind: 'init', img: image({ Cmd: ['run'], WorkingDir: '/srv' }) },
    );
    expect(spec.id).toBe('abcd-app-2-000000');
    expect(spec.labels).toMatchObject({
      podUid: '0123456789abcdef',
      podName: 'web-1',
      podNamespace: 'shop',
      containerName: 'app',
      attempt: 2,
      kind: 'init',
    });
    expect(spec.imageRef).toBe('127.0.0.1:5000/app:1');
    expect(spec.imageId).toBe('sha256:img');
    expect(spec.layerDirs).toEqual(['/layers/a', '/layers/b']);
    expect(spec.workingDir).toBe('/srv');
    expect(spec.hostname).toBe('web-1');
    expect(spec.env).toContain('HOSTNAME=web-1');
    expect(spec.netnsPath).toBe('/var/run/netns/flotilla-x');
    expect(spec.tty).toBe(true);
    expect(spec.stdin).toBe(true);
    expect(spec.cgroupParent).toBe('flotilla/pod0123');
    expect(
      (await build({ workingDir: '/work' }, { img: image({ Cmd: ['x'], WorkingDir: '/srv' }) })).workingDir,
    ).toBe('/work');
    expect((await build({ command: ['x'] })).workingDir).toBe('/');
  });

  it('mounts /etc/hosts, /etc/hostname, /etc/resolv.conf and a 0666 termination log, after the volumes', async () => {
    const spec = await build(
      {
        command: ['x'],
        terminationMessagePath: '/tmp/term',
        volumeMounts: [{ name: 'scratch', mountPath: '/data' }],
      },
      { spec: { volumes: [{ name: 'scratch', emptyDir: {} }] } },
    );
    const podDir = join(dir, 'pod');
    const term = terminationLogPath(podDir, 'app', 'abcd-app-2-000000');
    expect(spec.mounts).toEqual([
      {
        containerPath: '/data',
        hostPath: join(podDir, 'volumes', 'kubernetes.io~empty-dir', 'scratch'),
        readOnly: false,
      },
      { containerPath: '/etc/hosts', hostPath: join(podDir, 'etc-hosts'), readOnly: false },
      { containerPath: '/etc/hostname', hostPath: join(podDir, 'hostname'), readOnly: false },
      { containerPath: '/etc/resolv.conf', hostPath: join(podDir, 'resolv.conf'), readOnly: false },
      { containerPath: '/tmp/term', hostPath: term, readOnly: false },
    ]);
    expect(statSync(term).mode & 0o777).toBe(0o666);
    const def = await build({ command: ['x'] });
    expect(def.mounts.at(-1)?.containerPath).toBe('/dev/termination-log');
  });

  it("does not mount its own /etc/hosts over the container's volume there; read-only root makes them read-only", async () => {
    const spec = await build(
      {
        command: ['x'],
        volumeMounts: [{ name: 'h', mountPath: '/etc/hosts' }],
        securityContext: { readOnlyRootFilesystem: true },
      },
      { spec: { volumes: [{ name: 'h', hostPath: { path: '/etc/hosts', type: 'File' } }] } },
    );
    const hosts = spec.mounts.filter((m) => m.containerPath === '/etc/hosts');
    expect(hosts).toEqual([{ containerPath: '/etc/hosts', hostPath: '/etc/hosts', readOnly: false }]);
    expect(spec.mounts.find((m) => m.containerPath === '/etc/resolv.conf')?.readOnly).toBe(true);
    expect(spec.security.readOnlyRootFilesystem).toBe(true);
  });

  it('turns resources into limits: cpu request (else limit), cpu and memory limits', async () => {
    expect(
      (
        await build({
          command: ['x'],
          resources: { requests: { cpu: '250m' }, limits: { cpu: '1', memory: '128Mi' } },
        })
      ).resources,
    ).toEqual({ cpuRequestMilli: 250, cpuLimitMilli: 1000, memoryLimitBytes: 128 * 1024 * 1024 });
    expect((await build({ command: ['x'], resources: { limits: { cpu: '0.5' } } })).resources).toEqual({
      cpuRequestMilli: 500,
      cpuLimitMilli: 500,
    });
    expect((await build({ command: ['x'] })).resources).toEqual({ cpuRequestMilli: 0 });
  });
});

describe('security', () => {
  it('defaults: unprivileged, may escalate, RuntimeDefault seccomp, image user when no runAsUser', async () => {
    const spec = await build({}, { img: image({ Cmd: ['x'], User: 'nobody' }) });
    expect(spec.security).toEqual({
      privileged: false,
      allowPrivilegeEscalation: true,
      readOnlyRootFilesystem: false,
      capabilitiesAdd: [],
      capabilitiesDrop: [],
      seccomp: 'RuntimeDefault',
    });
    expect(spec.imageUser).toBe('nobody');
  });

  it('merges pod and container securityContext, the container winning; fsGroup joins supplementalGroups', async () => {
    const spec = await build(
      {
        command: ['x'],
        securityContext: {
          runAsUser: 2000,
          allowPrivilegeEscalation: false,
          capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] },
          seccompProfile: { type: 'Unconfined' },
        },
      },
      {
        img: image({ User: '1' }),
        spec: {
          securityContext: {
            runAsUser: 1000,
            runAsGroup: 3000,
            supplementalGroups: [4000],
            fsGroup: 5000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
        },
      },
    );
    expect(spec.security).toEqual({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilitiesAdd: ['NET_ADMIN'],
      capabilitiesDrop: ['ALL'],
      seccomp: 'Unconfined',
      runAsUser: 2000,
      runAsGroup: 3000,
      supplementalGroups: [4000, 5000],
    });
    expect(spec.imageUser).toBeUndefined();
  });

  it('privileged containers may escalate and run unconfined', async () => {
    const spec = await build({ command: ['x'], securityContext: { privileged: true } });
    expect(spec.security.privileged).toBe(true);
    expect(spec.security.allowPrivilegeEscalation).toBe(true);
    expect(spec.security.seccomp).toBe('Unconfined');
  });

  it('runAsNonRoot refuses root (runAsUser 0, root or empty image user, non-numeric image user)', async () => {
    const nonRoot = { securityContext: { runAsNonRoot: true } };
    expect(
      await configErrorOf(build({ command: ['x'], securityContext: { runAsUser: 0 } }, { spec: nonRoot })),
    ).toEqual({
      reason: 'CreateContainerConfigError',
      message: `container's runAsUser breaks non-root policy (pod: "web-1_shop(0123456789abcdef)", container: app)`,
    });
    expect((await configErrorOf(build({ command: ['x'] }, { spec: nonRoot }))).message).toContain(
      'container has runAsNonRoot and image will run as root',
    );
    expect(
      (await configErrorOf(build({ command: ['x'] }, { spec: nonRoot, img: image({ User: '0:0' }) })))
        .message,
    ).toContain('image will run as root');
    expect(
      (await configErrorOf(build({ command: ['x'] }, { spec: nonRoot, img: image({ User: 'app' }) })))
        .message,
    ).toContain('image has non-numeric user (app)');
    const ok = await build({ command: ['x'] }, { spec: nonRoot, img: image({ User: '1000:1000' }) });
    expect(ok.imageUser).toBe('1000:1000');
    expect(ok.security.runAsNonRoot).toBe(true);
  });
});

describe('ids, hashes and cleanup', () => {
  it('hashes a container spec stably (key order, empty lists) and changes with the image', () => {
    const a = containerSpecHash({ name: 'app', image: 'a:1', env: [{ name: 'X', value: '1' }], ports: [] });
    const b = containerSpecHash({ env: [{ value: '1', name: 'X' }], image: 'a:1', name: 'app' });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(containerSpecHash({ name: 'app', image: 'a:2', env: [{ name: 'X', value: '1' }] })).not.toBe(a);
  });

  it('makes runc-safe unique ids of at most 64 characters', () => {
    const id = newContainerId('0123456789abcdef-uid', 'web', 3);
    expect(id).toMatch(/^01234567-web-3-[0-9a-f]{6}$/);
    expect(newContainerId('0123456789abcdef', 'web', 3)).not.toBe(id);
    const long = newContainerId('0123456789abcdef', 'x'.repeat(63), 12);
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^01234567-x+-12-[0-9a-f]{6}$/);
  });

  it('removes the pod dir, idempotently', async () => {
    const c = ctx();
    await preparePod(c, noObjects);
    expect(existsSync(c.podDir)).toBe(true);
    await cleanupPodDir(c.podDir);
    expect(existsSync(c.podDir)).toBe(false);
    await cleanupPodDir(c.podDir);
  });
});
