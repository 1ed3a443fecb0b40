import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { podContainers } from '../pod/pod-view.js';
import { sameStatus } from '../pod/status.js';
import { adoptSimPod, containerBehaviour, stepSimPod, type SimPod, type SimStepResult } from './pod-sim.js';

const t0 = Date.parse('2024-05-01T10:00:00Z');
const hostIP = '127.128.0.1';
const delay = 500;

function makePod(
  opts: {
    name?: string;
    containers?: Record<string, unknown>[];
    initContainers?: Record<string, unknown>[];
    annotations?: Record<string, string>;
    restartPolicy?: string;
    hostNetwork?: boolean;
    grace?: number;
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: opts.name ?? 'web',
      namespace: 'default',
      uid: `uid-${opts.name ?? 'web'}`,
      resourceVersion: '10',
      ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
    },
    spec: {
      nodeName: 'sim-0',
      restartPolicy: opts.restartPolicy ?? 'Always',
      terminationGracePeriodSeconds: opts.grace ?? 30,
      ...(opts.hostNetwork === true ? { hostNetwork: true } : {}),
      containers: opts.containers ?? [{ name: 'main', image: 'nginx:1.25' }],
      ...(opts.initContainers === undefined ? {} : { initContainers: opts.initContainers }),
    },
    status: {
      phase: 'Pending',
      qosClass: 'BestEffort',
      conditions: [{ type: 'PodScheduled', status: 'True', lastTransitionTime: '2024-05-01T09:59:59Z' }],
    },
  };
}

/** A pod played through the simulator the way the shell does: each written status becomes the pod's. */
class Harness {
  pod: KubeObject;
  sim: SimPod;
  writes = 0;
  last: SimStepResult | undefined;

  constructor(pod: KubeObject, ip: string | null = '10.128.0.2') {
    this.pod = pod;
    const sim = adoptSimPod(pod, t0, delay);
    this.sim = ip === null ? sim : { ...sim, podIP: ip };
  }

  at(t: number): SimStepResult {
    const r = stepSimPod({ pod: this.pod, sim: this.sim, now: t, hostIP, stopMaxMs: 1000 });
    this.sim = r.sim;
    this.last = r;
    if (r.status !== undefined && !sameStatus(r.status, this.pod.status)) {
      this.writes++;
      this.pod = { ...this.pod, status: r.status };
    }
    return r;
  }

  get status(): any {
    return this.pod.status;
  }

  container(name = 'main'): any {
    return this.status.containerStatuses.find((c: any) => c.name === name);
  }

  condition(type: string): string {
    return this.status.conditions.find((c: any) => c.type === type)?.status;
  }

  delete(graceSeconds: number): void {
    this.pod = {
      ...this.pod,
      metadata: {
        ...this.pod.metadata,
        deletionTimestamp: '2024-05-01T11:00:00Z',
        deletionGracePeriodSeconds: graceSeconds,
      },
    };
  }
}

describe('containerBehaviour', () => {
  const cases: [string, Record<string, unknown>, Record<string, string> | undefined, object][] = [
    ['no command: the image entrypoint runs forever', {}, undefined, { runForMs: 0 }],
    [
      'a server command runs forever',
      { command: ['nginx', '-g', 'daemon off;'] },
      undefined,
      { runForMs: 0 },
    ],
    ['false exits 1 at once', { command: ['false'] }, undefined, { exitCode: 1, runForMs: 0 }],
    ['/bin/false too', { command: ['/bin/false'] }, undefined, { exitCode: 1, runForMs: 0 }],
    ['true exits 0', { command: ['true'] }, undefined, { exitCode: 0, runForMs: 0 }],
    ['sleep 5 exits 0 after 5 s', { command: ['sleep', '5'] }, undefined, { exitCode: 0, runForMs: 5000 }],
    ['sleep from args', { command: ['sleep'], args: ['2m'] }, undefined, { exitCode: 0, runForMs: 120_000 }],
    ['sh -c "exit 3"', { command: ['sh', '-c', 'exit 3'] }, undefined, { exitCode: 3, runForMs: 0 }],
    [
      'sh -c "sleep 1"',
      { command: ['/bin/sh', '-c', 'sleep 1'] },
      undefined,
      { exitCode: 0, runForMs: 1000 },
    ],
    ['annotation exit code', {}, { 'flotilla.dev/sim-exit-code': '1' }, { exitCode: 1, runForMs: 0 }],
    [
      'annotation exit code after a while',
      { command: ['sleep', '100'] },
      { 'flotilla.dev/sim-exit-code': '2', 'flotilla.dev/sim-run-for': '3s' },
      { exitCode: 2, runForMs: 3000 },
    ],
    [
      'annotation run-for alone exits 0',
      {},
      { 'flotilla.dev/sim-run-for': '1m' },
      { exitCode: 0, runForMs: 60_000 },
    ],
  ];
  it.each(cases)('%s', (_name, container, annotations, expected) => {
    const pod = makePod({
      containers: [{ name: 'main', image: 'busybox', ...container }],
      ...(annotations === undefined ? {} : { annotations }),
    });
    expect(containerBehaviour(pod, podContainers(pod, 'regular')[0]!)).toEqual(expected);
  });
});

describe('a pod on a simulated node', () => {
  it('is ContainerCreating with the node address, then Running and ready after the start delay', () => {
    const h = new Harness(makePod());
    const r = h.at(t0);
    expect(r.wakeAt).toBe(t0 + delay);
    expect(h.status).toMatchObject({
      phase: 'Pending',
      hostIP,
      podIP: '10.128.0.2',
      startTime: '2024-05-01T10:00:00Z',
    });
    expect(h.container().state).toEqual({ waiting: { reason: 'ContainerCreating' } });
    expect(h.condition('Ready')).toBe('False');

    h.at(t0 + delay);
    expect(h.status.phase).toBe('Running');
    expect(h.status.podIPs).toEqual([{ ip: '10.128.0.2' }]);
    expect(h.status.hostIPs).toEqual([{ ip: hostIP }]);
    const c = h.container();
    expect(c).toMatchObject({ ready: true, started: true, restartCount: 0, image: 'nginx:1.25' });
    expect(c.state.running.startedAt).toBe('2024-05-01T10:00:00Z');
    expect(c.containerID).toMatch(/^fake:\/\/[0-9a-f]{64}$/);
    expect(c.imageID).toMatch(/^nginx@sha256:[0-9a-f]{64}$/);
    for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready', 'PodReadyToStartContainers'])
      expect(h.condition(t)).toBe('True');
    // The scheduler's PodScheduled condition is kept as it was.
    expect(h.status.conditions.find((c: any) => c.type === 'PodScheduled').lastTransitionTime).toBe(
      '2024-05-01T09:59:59Z',
    );
  });

  it('writes nothing more while nothing happens', () => {
    const h = new Harness(makePod());
    h.at(t0);
    h.at(t0 + delay);
    const writes = h.writes;
    for (let t = t0 + 1000; t < t0 + 3_600_000; t += 60_000) expect(h.at(t).wakeAt).toBeUndefined();
    expect(h.writes).toBe(writes);
  });

  it('becomes ready only after the readiness probe initial delay', () => {
    const h = new Harness(
      makePod({ containers: [{ name: 'main', image: 'nginx', readinessProbe: { initialDelaySeconds: 5 } }] }),
    );
    h.at(t0);
    const r = h.at(t0 + delay);
    expect(h.container()).toMatchObject({ ready: false, started: true });
    expect(h.condition('Ready')).toBe('False');
    expect(r.wakeAt).toBe(t0 + delay + 5000);
    h.at(t0 + delay + 5000);
    expect(h.container().ready).toBe(true);
    expect(h.condition('Ready')).toBe('True');
  });

  it('never becomes ready with flotilla.dev/sim-ready: "false"', () => {
    const h = new Harness(makePod({ annotations: { 'flotilla.dev/sim-ready': 'false' } }));
    h.at(t0);
    h.at(t0 + delay);
    h.at(t0 + 3_600_000);
    expect(h.status.phase).toBe('Running');
    expect(h.container().ready).toBe(false);
  });

  it('crash-loops a container that exits: first restart at once, then 10 s, 20 s back-off', () => {
    const h = new Harness(
      makePod({ name: 'crash', containers: [{ name: 'main', image: 'busybox', command: ['false'] }] }),
    );
    h.at(t0);
    let r = h.at(t0 + delay);
    expect(h.status.phase).toBe('Running');
    expect(h.condition('Ready')).toBe('False');
    expect(h.container()).toMatchObject({
      restartCount: 1,
      ready: false,
      state: {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: 'back-off 10s restarting failed container=main pod=crash_default(uid-crash)',
        },
      },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    });
    expect(r.wakeAt).toBe(t0 + delay + 10_000);
    r = h.at(t0 + delay + 10_000);
    expect(h.container().restartCount).toBe(2);
    expect(h.container().state.waiting.message).toMatch(/^back-off 20s /);
    expect(r.wakeAt).toBe(t0 + delay + 30_000);
    // Far later: the back-off reached its 5 minute ceiling.
    h.at(t0 + 3_600_000);
    expect(h.container().state.waiting.message).toMatch(/^back-off 5m0s /);
    expect(h.container().restartCount).toBeGreaterThan(10);
  });

  it('follows the restart back-off annotations of the real agent', () => {
    const h = new Harness(
      makePod({
        containers: [{ name: 'main', image: 'busybox' }],
        annotations: {
          'flotilla.dev/sim-exit-code': '1',
          'flotilla.dev/restart-backoff-initial': '1s',
          'flotilla.dev/restart-backoff-max': '2s',
        },
      }),
    );
    h.at(t0 + delay);
    expect(h.container().restartCount).toBe(1);
    h.at(t0 + delay + 1000);
    expect(h.container().restartCount).toBe(2);
    h.at(t0 + delay + 3000);
    expect(h.container().restartCount).toBe(3);
  });

  it.each([
    ['Never', ['false'], 'Failed', 1],
    ['Never', ['true'], 'Succeeded', 0],
    ['OnFailure', ['true'], 'Succeeded', 0],
  ])('restartPolicy %s with %j ends %s', (restartPolicy, command, phase, exitCode) => {
    const h = new Harness(
      makePod({ restartPolicy, containers: [{ name: 'main', image: 'busybox', command }] }),
    );
    const r = h.at(t0 + delay);
    expect(h.status.phase).toBe(phase);
    expect(h.container().state.terminated).toMatchObject({
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
    });
    expect(h.condition('Ready')).toBe('False');
    expect(r.releaseIp).toBe(true);
    // Terminal: left alone from now on.
    expect(h.at(t0 + 60_000).status).toBeUndefined();
  });

  it('restarts a failing container under OnFailure', () => {
    const h = new Harness(
      makePod({
        restartPolicy: 'OnFailure',
        containers: [{ name: 'main', image: 'b', command: ['sh', '-c', 'exit 3'] }],
      }),
    );
    h.at(t0 + delay);
    expect(h.status.phase).toBe('Running');
    expect(h.container().restartCount).toBe(1);
  });

  it('runs a `sleep 2` job to completion', () => {
    const h = new Harness(
      makePod({
        restartPolicy: 'Never',
        containers: [{ name: 'main', image: 'b', command: ['sleep', '2'] }],
      }),
    );
    const r = h.at(t0 + delay);
    expect(h.status.phase).toBe('Running');
    expect(r.wakeAt).toBe(t0 + delay + 2000);
    h.at(t0 + delay + 2000);
    expect(h.status.phase).toBe('Succeeded');
    expect(h.container().state.terminated.finishedAt).toBe('2024-05-01T10:00:02Z');
  });

  it('stops a deleted pod after min(grace, 1 s), reports its containers terminated, then deletes it', () => {
    const h = new Harness(makePod());
    h.at(t0);
    h.at(t0 + delay);
    h.delete(30);
    const t = t0 + 60_000;
    let r = h.at(t);
    expect(r).toMatchObject({ deleteFromApi: false, wakeAt: t + 1000 });
    expect(r.status).toBeUndefined();
    r = h.at(t + 1000);
    expect(r.deleteFromApi).toBe(true);
    expect(r.releaseIp).toBe(true);
    expect(h.container().state.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(h.condition('Ready')).toBe('False');
  });

  it('stops after the pod grace period when it is shorter than the cap', () => {
    const h = new Harness(makePod());
    h.at(t0 + delay);
    h.delete(2);
    const t = t0 + 10_000;
    const r = stepSimPod({ pod: h.pod, sim: h.sim, now: t, hostIP, stopMaxMs: 5000 });
    expect(r.wakeAt).toBe(t + 2000);
  });

  it('deletes at once a pod deleted before its containers started, or after it finished', () => {
    const early = new Harness(makePod());
    early.at(t0);
    early.delete(30);
    expect(early.at(t0 + 100)).toMatchObject({ deleteFromApi: true });

    const done = new Harness(
      makePod({ restartPolicy: 'Never', containers: [{ name: 'main', image: 'b', command: ['true'] }] }),
    );
    done.at(t0 + delay);
    done.delete(30);
    expect(done.at(t0 + 5000)).toMatchObject({ deleteFromApi: true });
  });

  it('completes init containers when the pod starts', () => {
    const h = new Harness(
      makePod({ initContainers: [{ name: 'setup', image: 'busybox', command: ['true'] }] }),
    );
    h.at(t0);
    expect(h.container().state.waiting.reason).toBe('PodInitializing');
    expect(h.status.initContainerStatuses[0].state.waiting.reason).toBe('PodInitializing');
    expect(h.condition('Initialized')).toBe('False');
    h.at(t0 + delay);
    expect(h.status.initContainerStatuses[0].state.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(h.condition('Initialized')).toBe('True');
    expect(h.status.phase).toBe('Running');
  });

  it('gives a host-network pod the node address', () => {
    const h = new Harness(makePod({ hostNetwork: true }), null);
    h.at(t0 + delay);
    expect(h.status.podIP).toBe(hostIP);
  });

  it('waits, saying why, while the node has no free pod address', () => {
    const h = new Harness(makePod(), null);
    const r = h.at(t0 + delay);
    expect(h.status.phase).toBe('Pending');
    expect(h.container().state.waiting).toEqual({
      reason: 'ContainerCreating',
      message: 'no free pod address on this node',
    });
    expect(r.wakeAt).toBe(t0 + delay + 5000);
  });
});

describe('adoptSimPod (after a simulator restart)', () => {
  it('takes a running pod as it is: same container id, start time and count, nothing to write', () => {
    const h = new Harness(makePod());
    h.at(t0);
    h.at(t0 + delay);
    const before = structuredClone(h.status);
    const later = t0 + 3_600_000;
    const adopted = adoptSimPod(h.pod, later, delay);
    expect(adopted.podIP).toBe('10.128.0.2');
    const r = stepSimPod({ pod: h.pod, sim: adopted, now: later, hostIP, stopMaxMs: 1000 });
    expect(sameStatus(r.status, before)).toBe(true);
  });

  it('keeps a crash loop going at its back-off', () => {
    const h = new Harness(
      makePod({ name: 'crash', containers: [{ name: 'main', image: 'busybox', command: ['false'] }] }),
    );
    h.at(t0 + delay);
    h.at(t0 + delay + 10_000); // restart 2, back-off 20 s
    const before = structuredClone(h.status);
    const now = t0 + delay + 15_000;
    const adopted = adoptSimPod(h.pod, now, delay);
    const r = stepSimPod({ pod: h.pod, sim: adopted, now, hostIP, stopMaxMs: 1000 });
    expect(sameStatus(r.status, before)).toBe(true);
    // Status times have second precision: the restart comes within a second of the original plan.
    expect(Math.abs((r.wakeAt ?? 0) - (t0 + delay + 30_000))).toBeLessThanOrEqual(1000);
  });

  it('starts afresh a pod that never started', () => {
    const h = new Harness(makePod());
    h.at(t0);
    const adopted = adoptSimPod(h.pod, t0 + 60_000, delay);
    expect(adopted.startAt).toBe(t0 + 60_000 + delay);
    expect(adopted.podIP).toBe('10.128.0.2');
  });
});
