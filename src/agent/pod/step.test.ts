import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import type { ContainerStatus } from '../runtime/types.js';
import { formatGoDuration, parseDuration, restartBackoffPolicy } from './pod-view.js';
import { podStep, type BackoffRecord, type PodAction, type StepInput } from './step.js';

const T0 = Date.UTC(2024, 0, 1);

function pod(
  over: { spec?: Record<string, unknown>; meta?: Partial<KubeObject['metadata']> } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'uid-1', ...over.meta },
    spec: { containers: [{ name: 'app', image: 'busybox:1' }], restartPolicy: 'Always', ...over.spec },
  };
}

let seq = 0;
function ctr(
  name: string,
  state: ContainerStatus['state'],
  o: {
    attempt?: number;
    exitCode?: number;
    finishedAt?: number;
    kind?: 'init' | 'regular';
    hash?: string;
  } = {},
): ContainerStatus {
  seq++;
  const c: ContainerStatus = {
    id: `${name}-${o.attempt ?? 0}-${seq}`,
    labels: {
      podUid: 'uid-1',
      podName: 'web',
      podNamespace: 'default',
      containerName: name,
      attempt: o.attempt ?? 0,
      kind: o.kind ?? 'regular',
      specHash: o.hash ?? 'h',
    },
    imageRef: 'busybox:1',
    imageId: 'sha256:abc',
    state,
    createdAt: new Date(T0),
    logPath: '/dev/null',
  };
  if (state !== 'created') c.startedAt = new Date(T0);
  if (state === 'exited') {
    c.exitCode = o.exitCode ?? 0;
    c.finishedAt = new Date(o.finishedAt ?? T0);
  }
  return c;
}

function input(over: Partial<StepInput> = {}): StepInput {
  const p = over.pod ?? pod();
  const hashes: Record<string, string> = {};
  for (const list of ['containers', 'initContainers'] as const) {
    for (const c of ((p.spec as Record<string, unknown>)[list] as Array<{ name: string }> | undefined) ??
      []) {
      hashes[c.name] = 'h';
    }
  }
  return {
    pod: p,
    removed: false,
    containers: [],
    network: { ips: ['10.88.0.2'] },
    prepared: true,
    desiredHashes: hashes,
    probes: {},
    backoff: {},
    startFailures: {},
    now: T0,
    ...over,
  };
}

const types = (actions: PodAction[]): string[] =>
  actions.map((a) => (a.type === 'startContainer' ? `start:${a.name}:${a.attempt}` : a.type));

describe('podStep: setting a pod up', () => {
  it('sets up the network first, then prepares the pod, then starts the containers together', () => {
    const p = pod({
      spec: {
        containers: [
          { name: 'a', image: 'x' },
          { name: 'b', image: 'y' },
        ],
      },
    });
    const r1 = podStep(input({ pod: p, network: undefined, prepared: false }));
    expect(types(r1.actions)).toEqual(['setUpNetwork']);
    expect(r1.waiting['a']?.reason).toBe('ContainerCreating');
    expect(types(podStep(input({ pod: p, prepared: false })).actions)).toEqual(['preparePod']);
    expect(types(podStep(input({ pod: p })).actions)).toEqual(['start:a:0', 'start:b:0']);
  });

  it('counts a pod adopted after an agent restart as initialized while its files are prepared again', () => {
    const fresh = podStep(input({ prepared: false }));
    expect(fresh.initialized).toBe(false);
    const adopted = podStep(input({ prepared: false, containers: [ctr('app', 'running')] }));
    expect(types(adopted.actions)).toEqual(['preparePod']);
    expect(adopted.initialized).toBe(true);
    expect(podStep(input({ network: undefined, containers: [ctr('app', 'running')] })).initialized).toBe(
      true,
    );
  });

  it('needs no network for a hostNetwork pod', () => {
    const r = podStep(input({ pod: pod({ spec: { hostNetwork: true } }), network: undefined }));
    expect(types(r.actions)).toEqual(['start:app:0']);
  });

  it('runs init containers strictly in order, each to success, before any regular container', () => {
    const p = pod({
      spec: {
        initContainers: [
          { name: 'i1', image: 'x' },
          { name: 'i2', image: 'x' },
        ],
      },
    });
    const r0 = podStep(input({ pod: p }));
    expect(types(r0.actions)).toEqual(['start:i1:0']);
    expect(r0.waiting['app']?.reason).toBe('PodInitializing');
    expect(r0.initialized).toBe(false);
    const running = podStep(input({ pod: p, containers: [ctr('i1', 'running', { kind: 'init' })] }));
    expect(running.actions).toEqual([]);
    const i1done = [ctr('i1', 'exited', { kind: 'init', exitCode: 0 })];
    expect(types(podStep(input({ pod: p, containers: i1done })).actions)).toEqual(['start:i2:0']);
    const both = [...i1done, ctr('i2', 'exited', { kind: 'init', exitCode: 0 })];
    const r3 = podStep(input({ pod: p, containers: both }));
    expect(types(r3.actions)).toEqual(['start:app:0']);
    expect(r3.initialized).toBe(true);
  });

  it('fails the pod when an init container fails and restartPolicy is Never; restarts it otherwise', () => {
    const spec = { initContainers: [{ name: 'i1', image: 'x' }] };
    const failed = [ctr('i1', 'exited', { kind: 'init', exitCode: 2 })];
    const never = podStep(
      input({ pod: pod({ spec: { ...spec, restartPolicy: 'Never' } }), containers: failed }),
    );
    expect(never.initFailed).toBe(true);
    expect(never.actions).toEqual([]);
    const onFailure = podStep(
      input({ pod: pod({ spec: { ...spec, restartPolicy: 'OnFailure' } }), containers: failed }),
    );
    expect(types(onFailure.actions)).toEqual(['start:i1:1']);
  });
});

describe('podStep: restart policy and back-off', () => {
  it('restarts per policy: Always always, OnFailure only on failure, Never never', () => {
    const exited0 = [ctr('app', 'exited', { exitCode: 0 })];
    const exited1 = [ctr('app', 'exited', { exitCode: 1 })];
    const run = (policy: string, cs: ContainerStatus[]): string[] =>
      types(podStep(input({ pod: pod({ spec: { restartPolicy: policy } }), containers: cs })).actions);
    expect(run('Always', exited0)).toEqual(['start:app:1']);
    expect(run('Always', exited1)).toEqual(['start:app:1']);
    expect(run('OnFailure', exited0)).toEqual([]);
    expect(run('OnFailure', exited1)).toEqual(['start:app:1']);
    expect(run('Never', exited1)).toEqual([]);
  });

  it('backs off 10s, 20s, 40s ... 300s between restarts of a crashing container', () => {
    let backoff: Record<string, BackoffRecord> = {};
    let now = T0;
    const waits: number[] = [];
    for (let attempt = 0; attempt < 9; attempt++) {
      // The container ran 1 s and crashed.
      now += 1000;
      const crashed = ctr('app', 'exited', { attempt, exitCode: 1, finishedAt: now });
      let r = podStep(input({ containers: [crashed], backoff, now }));
      let waited = 0;
      while (r.actions.length === 0) {
        expect(r.waiting['app']?.reason).toBe('CrashLoopBackOff');
        expect(r.wakeAt).toBeDefined();
        waited = (r.wakeAt ?? 0) - now + waited;
        now = r.wakeAt ?? now;
        r = podStep(input({ containers: [crashed], backoff, now }));
      }
      expect(types(r.actions)).toEqual([`start:app:${attempt + 1}`]);
      waits.push(waited / 1000);
      backoff = r.backoff;
    }
    expect(waits).toEqual([0, 10, 20, 40, 80, 160, 300, 300, 300]);
  });

  it('says how long it backs off in the CrashLoopBackOff message', () => {
    const backoff = { app: { specHash: 'h', backoffMs: 20_000, lastUpdate: T0 } };
    const crashed = ctr('app', 'exited', { attempt: 2, exitCode: 1, finishedAt: T0 + 1000 });
    const r = podStep(input({ containers: [crashed], backoff, now: T0 + 2000 }));
    expect(r.waiting['app']).toEqual({
      reason: 'CrashLoopBackOff',
      message: 'back-off 20s restarting failed container=app pod=web_default(uid-1)',
    });
    expect(r.notices[0]?.message).toBe('Back-off restarting failed container app in pod web_default(uid-1)');
  });

  it('resets the back-off once a container ran longer than twice the max (10 min)', () => {
    const backoff = { app: { specHash: 'h', backoffMs: 300_000, lastUpdate: T0 } };
    const ranLong = ctr('app', 'exited', { attempt: 7, exitCode: 1, finishedAt: T0 + 11 * 60_000 });
    const r = podStep(input({ containers: [ranLong], backoff, now: T0 + 11 * 60_000 }));
    expect(types(r.actions)).toEqual(['start:app:8']);
    expect(r.backoff['app']?.backoffMs).toBe(10_000);
  });

  it('takes the back-off from the pod annotations', () => {
    const p = pod({
      meta: {
        annotations: {
          'flotilla.dev/restart-backoff-initial': '500ms',
          'flotilla.dev/restart-backoff-max': '2s',
        },
      },
    });
    expect(restartBackoffPolicy(p)).toEqual({ initialMs: 500, maxMs: 2000 });
    const crashed = ctr('app', 'exited', { attempt: 0, exitCode: 1, finishedAt: T0 });
    const r = podStep(input({ pod: p, containers: [crashed] }));
    expect(r.backoff['app']?.backoffMs).toBe(500);
  });

  it('keeps the last exited instance and removes older ones', () => {
    const old = ctr('app', 'exited', { attempt: 0, exitCode: 1 });
    const prev = ctr('app', 'exited', { attempt: 1, exitCode: 1 });
    const cur = ctr('app', 'running', { attempt: 2 });
    const r = podStep(input({ containers: [old, prev, cur] }));
    expect(r.actions).toEqual([{ type: 'removeContainer', id: old.id, name: 'app' }]);
  });
});

describe('podStep: replacing and killing containers', () => {
  it('kills and recreates a container whose spec hash changed (an image update)', () => {
    const cur = ctr('app', 'running', { hash: 'old' });
    const r = podStep(input({ containers: [cur], desiredHashes: { app: 'new' } }));
    expect(r.actions).toEqual([
      {
        type: 'killContainer',
        id: cur.id,
        name: 'app',
        gracePeriodSeconds: 30,
        reason: 'SpecChanged',
        message: 'Container app definition changed, will be restarted',
      },
    ]);
    const killed = ctr('app', 'exited', { hash: 'old', exitCode: 143 });
    const next = podStep(input({ containers: [killed], desiredHashes: { app: 'new' } }));
    expect(types(next.actions)).toEqual(['start:app:1']);
    // ... even under restartPolicy Never.
    const never = pod({ spec: { restartPolicy: 'Never' } });
    expect(
      types(podStep(input({ pod: never, containers: [killed], desiredHashes: { app: 'new' } })).actions),
    ).toEqual(['start:app:1']);
  });

  it('kills a container whose liveness or startup probe failed', () => {
    const cur = ctr('app', 'running');
    const live = podStep(
      input({
        containers: [cur],
        probes: { [cur.id]: { started: true, ready: true, livenessFailed: true, startupFailed: false } },
      }),
    );
    expect(live.actions[0]).toMatchObject({ type: 'killContainer', reason: 'LivenessFailed' });
    const startup = podStep(
      input({
        containers: [cur],
        probes: { [cur.id]: { started: false, ready: false, livenessFailed: false, startupFailed: true } },
      }),
    );
    expect(startup.actions[0]).toMatchObject({
      type: 'killContainer',
      reason: 'StartupFailed',
      message: 'Container app failed startup probe, will be restarted',
    });
  });
});

describe('podStep: image pull back-off', () => {
  it('shows ImagePullBackOff while a failed pull backs off, and pulls again after', () => {
    const failure = {
      image: 'busybox:1',
      reason: 'ErrImagePull' as const,
      message: 'x',
      at: T0,
      backoffMs: 10_000,
    };
    const r = podStep(input({ startFailures: { app: failure }, now: T0 + 1000 }));
    expect(r.actions).toEqual([]);
    expect(r.waiting['app']).toEqual({
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image "busybox:1"',
    });
    expect(r.wakeAt).toBe(T0 + 10_000);
    expect(types(podStep(input({ startFailures: { app: failure }, now: T0 + 10_000 })).actions)).toEqual([
      'start:app:0',
    ]);
  });

  it('retries at once when the image was changed', () => {
    const failure = {
      image: 'busybox:typo',
      reason: 'ErrImagePull' as const,
      message: 'x',
      at: T0,
      backoffMs: 10_000,
    };
    expect(types(podStep(input({ startFailures: { app: failure }, now: T0 + 1 })).actions)).toEqual([
      'start:app:0',
    ]);
  });
});

describe('podStep: deletion', () => {
  const deleting = pod({
    meta: { deletionTimestamp: '2024-01-01T00:00:00Z', deletionGracePeriodSeconds: 7 },
  });

  it('stops running containers with the deletion grace period first', () => {
    const a = ctr('app', 'running');
    const r = podStep(input({ pod: deleting, containers: [a] }));
    expect(r.actions).toEqual([
      {
        type: 'killContainer',
        id: a.id,
        name: 'app',
        gracePeriodSeconds: 7,
        reason: 'Deleting',
        message: 'Stopping container app',
      },
    ]);
    expect(r.done).toBe(false);
  });

  it('then removes containers, tears down the network, cleans up and deletes from the API', () => {
    const a = ctr('app', 'exited', { exitCode: 143 });
    const r = podStep(input({ pod: deleting, containers: [a] }));
    expect(types(r.actions)).toEqual(['removeContainer', 'tearDownNetwork', 'cleanupPod', 'deleteFromApi']);
    expect(r.done).toBe(true);
  });

  it('does not delete from the API a pod that is already gone from it', () => {
    const r = podStep(input({ pod: pod(), removed: true }));
    expect(types(r.actions)).toEqual(['tearDownNetwork', 'cleanupPod']);
  });
});

describe('durations', () => {
  it('parses Go durations and prints them as Go does', () => {
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('soon')).toBeUndefined();
    expect(formatGoDuration(20_000)).toBe('20s');
    expect(formatGoDuration(300_000)).toBe('5m0s');
    expect(formatGoDuration(80_000)).toBe('1m20s');
    expect(formatGoDuration(500)).toBe('500ms');
  });
});
