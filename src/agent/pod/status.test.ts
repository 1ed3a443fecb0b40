import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ContainerStatus } from '../runtime/types.js';
import { buildPodStatus, sameStatus, type StatusInput } from './status.js';

const T0 = Date.UTC(2024, 0, 1);

function pod(spec: Record<string, unknown> = {}, status?: Record<string, unknown>): KubeObject {
  const p: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1' },
    spec: { containers: [{ name: 'app', image: 'busybox:1' }], restartPolicy: 'Always', ...spec },
  };
  if (status !== undefined) p.status = status;
  return p;
}

function ctr(
  name: string,
  state: ContainerStatus['state'],
  o: { attempt?: number; exitCode?: number; oom?: boolean; kind?: 'init' | 'regular'; id?: string } = {},
): ContainerStatus {
  const c: ContainerStatus = {
    id: o.id ?? `${name}-${o.attempt ?? 0}`,
    labels: {
      podUid: 'uid-1',
      podName: 'web',
      podNamespace: 'default',
      containerName: name,
      attempt: o.attempt ?? 0,
      kind: o.kind ?? 'regular',
      specHash: 'h',
    },
    imageRef: 'busybox:1',
    imageId: 'sha256:abc',
    state,
    createdAt: new Date(T0),
    startedAt: new Date(T0 + 1000),
    logPath: '/dev/null',
  };
  if (state === 'exited') {
    c.exitCode = o.exitCode ?? 0;
    c.finishedAt = new Date(T0 + 5000);
    if (o.oom === true) c.oomKilled = true;
  }
  return c;
}

function input(over: Partial<StatusInput>): StatusInput {
  return {
    pod: pod(),
    hostIP: '192.168.1.10',
    podIPs: ['10.88.0.2'],
    containers: [],
    probes: {},
    waiting: {},
    initialized: true,
    initFailed: false,
    imageIds: { 'sha256:abc': 'docker.io/library/busybox@sha256:def' },
    now: T0 + 10_000,
    ...over,
  };
}

const cond = (s: Record<string, unknown>, type: string): Record<string, unknown> | undefined =>
  (s['conditions'] as Array<Record<string, unknown>>).find((c) => c['type'] === type);

describe('buildPodStatus', () => {
  it('reports a Pending pod with ContainerCreating before anything runs', () => {
    const s = buildPodStatus(input({ podIPs: [], waiting: { app: { reason: 'ContainerCreating' } } }));
    expect(s['phase']).toBe('Pending');
    expect(s['hostIP']).toBe('192.168.1.10');
    expect(s['podIP']).toBeUndefined();
    expect(s['qosClass']).toBe('BestEffort');
    expect((s['containerStatuses'] as unknown[])[0]).toMatchObject({
      name: 'app',
      image: 'busybox:1',
      ready: false,
      restartCount: 0,
      state: { waiting: { reason: 'ContainerCreating' } },
    });
  });

  it('reports a Running, Ready pod with container ids, image digests and IPs', () => {
    const s = buildPodStatus(input({ containers: [ctr('app', 'running')] }));
    expect(s['phase']).toBe('Running');
    expect(s['podIP']).toBe('10.88.0.2');
    expect(s['podIPs']).toEqual([{ ip: '10.88.0.2' }]);
    expect(cond(s, 'Ready')?.['status']).toBe('True');
    expect(cond(s, 'ContainersReady')?.['status']).toBe('True');
    expect((s['containerStatuses'] as unknown[])[0]).toMatchObject({
      containerID: 'runc://app-0',
      imageID: 'docker.io/library/busybox@sha256:def',
      ready: true,
      started: true,
      state: { running: { startedAt: '2024-01-01T00:00:01Z' } },
    });
  });

  it('shows CrashLoopBackOff with the last termination and the restart count', () => {
    const s = buildPodStatus(
      input({
        containers: [
          ctr('app', 'exited', { attempt: 3, exitCode: 1 }),
          ctr('app', 'exited', { attempt: 2, exitCode: 1 }),
        ],
        waiting: {
          app: {
            reason: 'CrashLoopBackOff',
            message: 'back-off 40s restarting failed container=app pod=web_default(uid-1)',
          },
        },
      }),
    );
    expect(s['phase']).toBe('Running');
    const cs = (s['containerStatuses'] as Array<Record<string, unknown>>)[0];
    expect(cs?.['restartCount']).toBe(3);
    expect(cs?.['state']).toEqual({
      waiting: {
        reason: 'CrashLoopBackOff',
        message: 'back-off 40s restarting failed container=app pod=web_default(uid-1)',
      },
    });
    expect(cs?.['lastState']).toMatchObject({
      terminated: { exitCode: 1, reason: 'Error', containerID: 'runc://app-3' },
    });
    expect(cond(s, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'ContainersNotReady',
      message: 'containers with unready status: [app]',
    });
  });

  it('reports OOMKilled, and a Failed phase for Never', () => {
    const s = buildPodStatus(
      input({
        pod: pod({ restartPolicy: 'Never' }),
        containers: [ctr('app', 'exited', { exitCode: 137, oom: true })],
      }),
    );
    expect(s['phase']).toBe('Failed');
    expect((s['containerStatuses'] as Array<Record<string, any>>)[0]?.['state']['terminated']).toMatchObject({
      reason: 'OOMKilled',
      exitCode: 137,
      finishedAt: '2024-01-01T00:00:05Z',
    });
  });

  it('reports Succeeded for OnFailure when every container exited 0', () => {
    const s = buildPodStatus(
      input({
        pod: pod({ restartPolicy: 'OnFailure' }),
        containers: [ctr('app', 'exited', { exitCode: 0 })],
      }),
    );
    expect(s['phase']).toBe('Succeeded');
    expect((s['containerStatuses'] as Array<Record<string, any>>)[0]?.['state']['terminated']['reason']).toBe(
      'Completed',
    );
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'PodCompleted' });
  });

  it('keeps Ready false while the readiness probe fails, without touching the running state', () => {
    const c = ctr('app', 'running');
    const s = buildPodStatus(
      input({
        containers: [c],
        probes: { [c.id]: { started: true, ready: false, livenessFailed: false, startupFailed: false } },
      }),
    );
    expect(s['phase']).toBe('Running');
    expect(cond(s, 'Ready')?.['status']).toBe('False');
    expect((s['containerStatuses'] as Array<Record<string, unknown>>)[0]?.['state']).toHaveProperty(
      'running',
    );
  });

  it('reports init containers and the Initialized condition', () => {
    const p = pod({ initContainers: [{ name: 'init', image: 'busybox:1' }] });
    const s = buildPodStatus(
      input({
        pod: p,
        initialized: false,
        containers: [ctr('init', 'running', { kind: 'init' })],
        waiting: { app: { reason: 'PodInitializing' } },
      }),
    );
    expect(s['phase']).toBe('Pending');
    expect(cond(s, 'Initialized')).toMatchObject({
      status: 'False',
      message: 'containers with incomplete status: [init]',
    });
    expect((s['initContainerStatuses'] as unknown[]).length).toBe(1);
    expect((s['containerStatuses'] as Array<Record<string, unknown>>)[0]?.['state']).toEqual({
      waiting: { reason: 'PodInitializing' },
    });
  });

  it('keeps lastTransitionTime and startTime while nothing changes', () => {
    const first = buildPodStatus(input({ containers: [ctr('app', 'running')] }));
    const again = buildPodStatus(
      input({ pod: pod({}, first), containers: [ctr('app', 'running')], now: T0 + 99_000 }),
    );
    expect(cond(again, 'Ready')?.['lastTransitionTime']).toBe(cond(first, 'Ready')?.['lastTransitionTime']);
    expect(again['startTime']).toBe(first['startTime']);
    expect(sameStatus(first, again)).toBe(true);
  });

  it('keeps a terminal phase', () => {
    const s = buildPodStatus(input({ pod: pod({}, { phase: 'Succeeded' }), containers: [] }));
    expect(s['phase']).toBe('Succeeded');
  });
});
