// PodManager with the fakes and an in-process API server: the pod lifecycle as a user sees it through
// the API (status, events) and as the node sees it (runtime calls, network, cleanup).
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../api/client/client.js';
import type { KubeObject } from '../../api/types.js';
import { systemClock } from '../../machinery/clock.js';
import { MemoryEventRecorder } from '../../machinery/event-recorder.js';
import { agentMetrics, newMetricsRegistry, type AgentMetrics } from '../../machinery/prom/index.js';
import { sampleValue } from '../../testkit/prometheus.js';
import { startTestServer, type TestServer } from '../../testkit/api-server.js';
import { eventually } from '../../testkit/eventually.js';
import { FakeImageService } from '../image/fake.js';
import { FakeNetwork } from '../network/fake.js';
import { FakeRuntime } from '../runtime/fake.js';
import type { ContainerCreateSpec } from '../runtime/types.js';
import { containerSpecHash, newContainerId } from './container-spec.js';
import { PodManager } from './manager.js';
import type { SpecBuilder } from './spec-builder.js';

const nodeName = `node-${randomBytes(3).toString('hex')}`;
const podRef = { apiVersion: 'v1', kind: 'Pod' };

let server: TestServer;
let client: ApiClient;
let runtime: FakeRuntime;
let images: FakeImageService;
let network: FakeNetwork;
let recorder: MemoryEventRecorder;
let cleaned: string[];
/** What the fake spec builder, and the wrappers of `traceOrder`, saw happen, in order. */
let order: string[];
let managers: PodManager[];

/** A spec builder that touches no disk: the container runs the pod's command. */
function fakeBuilder(): SpecBuilder {
  return {
    async preparePod() {
      return {
        volumes: new Map(),
        hostsFile: '/tmp/hosts',
        resolvConfFile: '/tmp/resolv',
        hostnameFile: '/tmp/hostname',
      };
    },
    async refreshPodFiles(ctx) {
      order.push(`refresh ${ctx.podIPs.join(',')}`);
    },
    async buildContainerSpec(a): Promise<ContainerCreateSpec> {
      const command = (a.container['command'] as string[] | undefined) ?? a.image.config.Cmd ?? [];
      const spec: ContainerCreateSpec = {
        id: a.id,
        labels: {
          podUid: a.ctx.pod.metadata.uid ?? '',
          podName: a.ctx.pod.metadata.name ?? '',
          podNamespace: a.ctx.pod.metadata.namespace ?? 'default',
          containerName: String(a.container['name']),
          attempt: a.attempt,
          kind: a.kind,
          specHash: containerSpecHash(a.container),
        },
        imageRef: String(a.container['image']),
        imageId: a.image.id,
        layerDirs: a.image.layerDirs,
        args: command,
        env: [],
        workingDir: '/',
        hostname: a.ctx.pod.metadata.name ?? '',
        mounts: [],
        resources: { cpuRequestMilli: 0 },
        security: {
          privileged: false,
          allowPrivilegeEscalation: true,
          readOnlyRootFilesystem: false,
          capabilitiesAdd: [],
          capabilitiesDrop: [],
          seccomp: 'RuntimeDefault',
        },
        tty: false,
        stdin: false,
        cgroupParent: a.ctx.cgroupParent,
      };
      if (a.ctx.netnsPath !== undefined) spec.netnsPath = a.ctx.netnsPath;
      return spec;
    },
    containerSpecHash,
    newContainerId,
    async cleanupPodDir(dir) {
      cleaned.push(dir);
    },
    async pullCredentials() {
      return { credentials: [], warnings: [] };
    },
  };
}

function newManager(metrics?: AgentMetrics): PodManager {
  const m = new PodManager({
    ...(metrics === undefined ? {} : { metrics }),
    nodeName,
    hostIP: '192.168.50.10',
    runtime,
    images,
    network,
    client,
    recorder,
    clock: systemClock,
    dataDir: `/nonexistent-${randomBytes(3).toString('hex')}/agent`,
    cgroupRoot: 'flotilla',
    specBuilder: fakeBuilder(),
    pollIntervalMs: 50,
  });
  managers.push(m);
  return m;
}

async function createPod(
  name: string,
  spec: Record<string, unknown>,
  annotations?: Record<string, string>,
): Promise<KubeObject> {
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...(annotations === undefined ? {} : { annotations }) },
    spec: { nodeName, ...spec },
  };
  return client.create(podRef, 'default', obj);
}

/** Logs container creates and starts and the end of each network setUp into `order`. */
function traceOrder(): void {
  const setUp = network.setUp.bind(network);
  network.setUp = async (req, hooks) => {
    const s = await setUp(req, hooks);
    order.push(`network ${s.ips.join(',')}`);
    return s;
  };
  const create = runtime.createContainer.bind(runtime);
  runtime.createContainer = async (spec) => {
    order.push(`create ${spec.labels.containerName} netns=${spec.netnsPath ?? ''}`);
    await create(spec);
  };
  const start = runtime.startContainer.bind(runtime);
  runtime.startContainer = async (id) => {
    order.push(`start ${runtime.spec(id)?.labels.containerName ?? id}`);
    await start(id);
  };
}

async function getPod(name: string): Promise<any> {
  return client.get(podRef, 'default', name);
}

beforeEach(async () => {
  server = await startTestServer();
  client = new ApiClient({ server: server.url });
  await client.create({ apiVersion: 'v1', kind: 'Node' }, undefined, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: nodeName },
  });
  runtime = new FakeRuntime(systemClock);
  images = new FakeImageService();
  network = new FakeNetwork('10.88.0.0/24');
  recorder = new MemoryEventRecorder();
  cleaned = [];
  order = [];
  managers = [];
});

afterEach(async () => {
  for (const m of managers) await m.stop();
  await client.close();
  await server.close();
});

describe('PodManager', () => {
  it('takes a pod from Pending (network not ready) to Running and Ready', async () => {
    network.failSetUp('failed to set up bridge');
    const m = newManager();
    await m.start();
    m.upsert(
      await createPod('web', {
        containers: [{ name: 'app', image: 'busybox:1', command: ['sleep', '3600'] }],
      }),
    );
    const pending = await eventually(async () => {
      const p = await getPod('web');
      expect(p.status.phase).toBe('Pending');
      expect(p.status.containerStatuses?.[0]?.state?.waiting?.reason).toBe('ContainerCreating');
      return p;
    });
    expect(pending.status.containerStatuses[0].state.waiting.reason).toBe('ContainerCreating');
    expect(recorder.events.some((e) => e.reason === 'FailedCreatePodSandBox')).toBe(true);
    network.failSetUp(undefined);
    const running = await eventually(async () => {
      const p = await getPod('web');
      expect(p.status.phase).toBe('Running');
      expect(p.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
      return p;
    });
    expect(running.status.podIP).toMatch(/^10\.88\.0\./);
    expect(running.status.hostIP).toBe('192.168.50.10');
    const cs = running.status.containerStatuses[0];
    expect(cs.containerID).toMatch(/^runc:\/\//);
    expect(cs.imageID).toMatch(/^busybox@sha256:/);
    expect(cs.state.running.startedAt).toBeDefined();
    expect(recorder.reasons()).toEqual(expect.arrayContaining(['Pulling', 'Pulled', 'Created', 'Started']));
    expect(m.podCount()).toBe(1);
  });

  it("creates a fresh pod's containers while its network is set up, and starts them once /etc/hosts has the pod IP", async () => {
    network.delayMs = 150;
    traceOrder();
    const m = newManager();
    await m.start();
    const pod = await createPod('early', {
      containers: [
        { name: 'a', image: 'busybox:1', command: ['sleep', '3600'] },
        { name: 'b', image: 'busybox:1', command: ['sleep', '3600'] },
      ],
    });
    m.upsert(pod);
    const running = await eventually(async () => {
      const p = await getPod('early');
      expect(p.status.phase).toBe('Running');
      return p;
    });
    const ip = running.status.podIP as string;
    const netns = `/var/run/netns/fake-${pod.metadata.uid}`;
    // Both containers are created in the pod's namespace before its network is ready; they start only after
    // the pod files were rewritten with the IP.
    const at = (entry: string): number => order.indexOf(entry);
    expect(order).toHaveLength(6);
    expect(at(`create a netns=${netns}`)).toBeLessThan(at(`network ${ip}`));
    expect(at(`create b netns=${netns}`)).toBeLessThan(at(`network ${ip}`));
    expect(at(`network ${ip}`)).toBeLessThan(at(`refresh ${ip}`));
    expect(at(`refresh ${ip}`)).toBeLessThan(at('start a'));
    expect(at(`refresh ${ip}`)).toBeLessThan(at('start b'));
    expect(running.status.containerStatuses.map((c: any) => c.restartCount)).toEqual([0, 0]);
  });

  it('creates the containers after the network when the env needs the pod IP', async () => {
    network.delayMs = 50;
    traceOrder();
    const m = newManager();
    await m.start();
    m.upsert(
      await createPod('needs-ip', {
        containers: [
          {
            name: 'app',
            image: 'busybox:1',
            command: ['sleep', '3600'],
            env: [{ name: 'MY_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          },
        ],
      }),
    );
    const running = await eventually(async () => {
      const p = await getPod('needs-ip');
      expect(p.status.phase).toBe('Running');
      return p;
    });
    expect(order.map((o) => o.split(' ')[0])).toEqual(['network', 'create', 'start']);
    expect(order[0]).toBe(`network ${running.status.podIP}`);
  });

  it('removes the containers created early when the pod network fails, and counts no restart', async () => {
    network.delayMs = 50;
    network.failSetUp('failed to set up bridge');
    const m = newManager();
    await m.start();
    m.upsert(
      await createPod('no-net', {
        containers: [{ name: 'app', image: 'busybox:1', command: ['sleep', '3600'] }],
      }),
    );
    await eventually(async () => {
      expect(recorder.events.some((e) => e.reason === 'FailedCreatePodSandBox')).toBe(true);
      expect(runtime.calls.some((c) => c.op === 'remove')).toBe(true);
    });
    expect(runtime.all()).toEqual([]);
    network.failSetUp(undefined);
    const running = await eventually(async () => {
      const p = await getPod('no-net');
      expect(p.status.phase).toBe('Running');
      return p;
    });
    expect(running.status.containerStatuses[0].restartCount).toBe(0);
    expect(runtime.all()).toHaveLength(1);
  });

  it('writes a pod that runs within two seconds as Running at once, without a ContainerCreating status first', async () => {
    const m = newManager();
    await m.start();
    const statuses: any[] = [];
    const list = await client.list(podRef, 'default');
    const watch = await client.watch(
      podRef,
      'default',
      { resourceVersion: list.metadata?.resourceVersion },
      (ev) => {
        if (ev.object.metadata.name === 'quick') statuses.push(ev.object.status);
      },
      () => undefined,
    );
    try {
      m.upsert(
        await createPod('quick', {
          containers: [{ name: 'app', image: 'busybox:1', command: ['sleep', '3600'] }],
        }),
      );
      await eventually(async () => {
        const p = await getPod('quick');
        expect(p.status.phase).toBe('Running');
        expect(p.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
      });
      const written = statuses.filter((st) => st?.containerStatuses !== undefined);
      expect(written.length).toBeGreaterThan(0);
      expect(written[0].phase).toBe('Running');
      expect(written.some((st) => st.containerStatuses[0].state.waiting !== undefined)).toBe(false);
    } finally {
      watch.close();
    }
  });

  it('restarts a crashing container with back-off and shows CrashLoopBackOff', async () => {
    runtime.script({ containerName: 'crash' }, { runForMs: 150, exitCode: 1 });
    const m = newManager();
    await m.start();
    m.upsert(
      await createPod(
        'crasher',
        { containers: [{ name: 'crash', image: 'busybox:1' }] },
        { 'flotilla.dev/restart-backoff-initial': '300ms', 'flotilla.dev/restart-backoff-max': '1s' },
      ),
    );
    const seen = new Set<string>();
    const messages = new Set<string>();
    const last = await eventually(
      async () => {
        const p = await getPod('crasher');
        const cs = p.status?.containerStatuses?.[0];
        if (cs?.state?.waiting?.reason !== undefined) seen.add(cs.state.waiting.reason);
        if (cs?.state?.waiting?.message !== undefined) messages.add(cs.state.waiting.message);
        expect(cs?.restartCount).toBeGreaterThanOrEqual(3);
        expect(seen.has('CrashLoopBackOff')).toBe(true);
        return cs;
      },
      30_000,
      20,
    );
    expect(last.lastState.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    const backoffs = recorder.events.filter((e) => e.reason === 'BackOff');
    expect(backoffs[0]?.message).toMatch(
      /^Back-off restarting failed container crash in pod crasher_default\(/,
    );
    // Only the latest instance and the last exited one are kept.
    const mine = runtime.all().filter((c) => c.labels.podName === 'crasher');
    expect(mine.length).toBeLessThanOrEqual(2);
    // The waiting message names the pod's own back-off (300ms from the annotation, doubling).
    const uid = (await getPod('crasher')).metadata.uid;
    expect(messages).toContain(
      `back-off 300ms restarting failed container=crash pod=crasher_default(${uid})`,
    );
  });

  it('flips Ready when the readiness probe fails, without restarting the container', async () => {
    let ready = true;
    runtime.onExec(() => ({ exitCode: ready ? 0 : 1, stdout: ready ? '' : 'not yet' }));
    const m = newManager();
    await m.start();
    m.upsert(
      await createPod('ready', {
        containers: [
          {
            name: 'app',
            image: 'busybox:1',
            readinessProbe: { exec: { command: ['check'] }, periodSeconds: 1, failureThreshold: 1 },
          },
        ],
      }),
    );
    const readyCond = async (): Promise<string> =>
      (await getPod('ready')).status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
    await eventually(async () => expect(await readyCond()).toBe('True'), 15_000);
    const idBefore = (await getPod('ready')).status.containerStatuses[0].containerID;
    ready = false;
    await eventually(async () => expect(await readyCond()).toBe('False'), 15_000);
    const p = await getPod('ready');
    expect(p.status.phase).toBe('Running');
    expect(p.status.containerStatuses[0].restartCount).toBe(0);
    expect(p.status.containerStatuses[0].containerID).toBe(idBefore);
    expect(
      recorder.events.some(
        (e) => e.reason === 'Unhealthy' && e.message === 'Readiness probe failed: not yet',
      ),
    ).toBe(true);
  });

  it('deletes gracefully: preStop, stop with the grace period, cleanup, then the pod is gone from the API', async () => {
    const m = newManager();
    await m.start();
    const created = await createPod('doomed', {
      terminationGracePeriodSeconds: 20,
      containers: [
        { name: 'app', image: 'busybox:1', lifecycle: { preStop: { exec: { command: ['drain'] } } } },
      ],
    });
    m.upsert(created);
    await eventually(async () => expect((await getPod('doomed')).status?.phase).toBe('Running'));
    const uid = created.metadata.uid ?? '';
    await client.delete(podRef, 'default', 'doomed');
    const deleting = await getPod('doomed');
    expect(deleting.metadata.deletionTimestamp).toBeDefined();
    m.upsert(deleting);
    await eventually(async () => {
      const res = await server.request('GET', '/api/v1/namespaces/default/pods/doomed');
      expect(res.status).toBe(404);
    });
    const ops = runtime.calls.filter((c) => c.name === 'app').map((c) => c.op);
    expect(ops.slice(-3)).toEqual(['exec', 'stop', 'remove']);
    const stop = runtime.calls.find((c) => c.op === 'stop');
    expect(stop?.timeoutSeconds).toBeGreaterThanOrEqual(2);
    expect(stop?.timeoutSeconds).toBeLessThanOrEqual(20);
    expect(
      recorder.events.some((e) => e.reason === 'Killing' && e.message === 'Stopping container app'),
    ).toBe(true);
    expect(network.tearDowns).toContain(uid);
    expect(runtime.removedCgroups).toContain(`flotilla/pod${uid}`);
    expect(cleaned.some((d) => d.endsWith(`/pods/${uid}`))).toBe(true);
    await eventually(() => expect(m.podCount()).toBe(0));
  });

  it("removes a deleted pod's containers while its network is torn down, not one after the other", async () => {
    // Each side waits (up to 2 s) for the other to have begun: one after the other, the first would time out.
    const begun = { remove: false, tearDown: false };
    const waitFor = async (side: keyof typeof begun): Promise<boolean> => {
      for (let i = 0; i < 100 && !begun[side]; i++) await new Promise((r) => setTimeout(r, 20));
      return begun[side];
    };
    const overlapped: boolean[] = [];
    const removeContainer = runtime.removeContainer.bind(runtime);
    runtime.removeContainer = async (id: string): Promise<void> => {
      begun.remove = true;
      overlapped.push(await waitFor('tearDown'));
      return removeContainer(id);
    };
    const tearDown = network.tearDown.bind(network);
    network.tearDown = async (uid: string): Promise<void> => {
      begun.tearDown = true;
      overlapped.push(await waitFor('remove'));
      return tearDown(uid);
    };
    const m = newManager();
    await m.start();
    const created = await createPod('parallel-teardown', {
      terminationGracePeriodSeconds: 2,
      containers: [{ name: 'app', image: 'busybox:1' }],
    });
    m.upsert(created);
    await eventually(async () => expect((await getPod('parallel-teardown')).status?.phase).toBe('Running'));
    await client.delete(podRef, 'default', 'parallel-teardown');
    m.upsert(await getPod('parallel-teardown'));
    await eventually(async () => {
      const res = await server.request('GET', '/api/v1/namespaces/default/pods/parallel-teardown');
      expect(res.status).toBe(404);
    });
    expect(overlapped).toEqual([true, true]);
    await m.stop();
  });

  it('waits for the Service datapath to drain the pod before stopping its containers', async () => {
    const order: string[] = [];
    const asked: Array<{ ips: readonly string[]; timeoutMs: number }> = [];
    const m = new PodManager({
      nodeName,
      hostIP: '192.168.50.10',
      runtime,
      images,
      network,
      client,
      recorder,
      clock: systemClock,
      dataDir: `/nonexistent-${randomBytes(3).toString('hex')}/agent`,
      cgroupRoot: 'flotilla',
      specBuilder: fakeBuilder(),
      pollIntervalMs: 50,
      endpointDrain: {
        timeoutMs: 4000,
        drainer: {
          async drained(ips, timeoutMs) {
            asked.push({ ips, timeoutMs });
            order.push(`drain:${runtime.calls.filter((c) => c.op === 'stop').length}`);
            await new Promise((r) => setTimeout(r, 100));
            return { drained: true, waitedMs: 100, detail: 'local ruleset' };
          },
        },
      },
    });
    managers.push(m);
    await m.start();
    const created = await createPod('drained', { containers: [{ name: 'app', image: 'busybox:1' }] });
    m.upsert(created);
    await eventually(async () => expect((await getPod('drained')).status?.phase).toBe('Running'));
    const podIP = (await getPod('drained')).status?.podIP as string;
    expect(asked).toEqual([]); // a running pod is not drained
    await client.delete(podRef, 'default', 'drained');
    m.upsert(await getPod('drained'));
    await eventually(async () => {
      const res = await server.request('GET', '/api/v1/namespaces/default/pods/drained');
      expect(res.status).toBe(404);
    });
    // Asked once, with the pod's IP and the configured bound, before any container was stopped.
    expect(asked).toEqual([{ ips: [podIP], timeoutMs: 4000 }]);
    expect(order).toEqual(['drain:0']);
    expect(runtime.calls.some((c) => c.op === 'stop')).toBe(true);
  });

  it('OnFailure with exit 0 ends Succeeded', async () => {
    runtime.script({ containerName: 'job' }, { runForMs: 100, exitCode: 0 });
    const m = newManager();
    await m.start();
    m.upsert(
      await createPod('job', {
        restartPolicy: 'OnFailure',
        containers: [{ name: 'job', image: 'busybox:1' }],
      }),
    );
    const p = await eventually(async () => {
      const pod = await getPod('job');
      expect(pod.status?.phase).toBe('Succeeded');
      return pod;
    });
    expect(p.status.containerStatuses[0].state.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    expect(runtime.calls.filter((c) => c.op === 'start')).toHaveLength(1);
  });

  it('adopts running containers after an agent restart without restarting any, and the pod stays Running and Ready', async () => {
    const m1 = newManager();
    await m1.start();
    m1.upsert(
      await createPod('keep', {
        containers: [
          // A readiness probe that runs once at start and not again within this test.
          {
            name: 'a',
            image: 'busybox:1',
            readinessProbe: { exec: { command: ['ok'] }, periodSeconds: 300 },
          },
          { name: 'b', image: 'busybox:1' },
        ],
      }),
    );
    await eventually(async () => expect((await getPod('keep')).status?.phase).toBe('Running'));
    await eventually(async () => {
      const p = await getPod('keep');
      expect(p.status.conditions.find((c: any) => c.type === 'Ready').status).toBe('True');
    });
    await m1.stop();
    const callsBefore = runtime.calls.length;
    // Every status the restarted agent writes: a Service must not lose this pod meanwhile.
    const seen: string[] = [];
    const watch = await client.watch(
      podRef,
      'default',
      {
        fieldSelector: 'metadata.name=keep',
        resourceVersion: (await getPod('keep')).metadata.resourceVersion,
      },
      (e) => {
        const st = (e.object.status ?? {}) as any;
        seen.push(`${st.phase} Ready=${st.conditions?.find((c: any) => c.type === 'Ready')?.status}`);
      },
      () => undefined,
    );
    const m2 = newManager();
    await m2.start();
    const pod = await getPod('keep');
    m2.upsert(pod);
    m2.resync([pod]);
    await new Promise((r) => setTimeout(r, 600));
    watch.close();
    expect(seen.filter((s) => s !== 'Running Ready=True')).toEqual([]);
    const after = runtime.calls.slice(callsBefore).map((c) => c.op);
    expect(after.filter((op) => op !== 'exec')).toEqual([]);
    expect(runtime.running().filter((c) => c.labels.podName === 'keep')).toHaveLength(2);
    expect((await getPod('keep')).status.phase).toBe('Running');
    expect(m2.podCount()).toBe(1);
  });

  it('removes orphans on resync: containers, network and cgroup of pods no longer bound here', async () => {
    const m1 = newManager();
    await m1.start();
    const orphan = await createPod('orphan', { containers: [{ name: 'app', image: 'busybox:1' }] });
    const kept = await createPod('kept', { containers: [{ name: 'app', image: 'busybox:1' }] });
    m1.upsert(orphan);
    m1.upsert(kept);
    await eventually(() => expect(runtime.running()).toHaveLength(2));
    await m1.stop();
    // While the agent was down, the orphan's pod was deleted from the API.
    await client.delete(podRef, 'default', 'orphan', { gracePeriodSeconds: 0 });
    const m2 = newManager();
    await m2.start();
    m2.resync([await getPod('kept')]);
    const orphanUid = orphan.metadata.uid ?? '';
    await eventually(() => {
      expect(runtime.all().filter((c) => c.labels.podUid === orphanUid)).toEqual([]);
      expect(network.tearDowns).toContain(orphanUid);
      expect(runtime.removedCgroups).toContain(`flotilla/pod${orphanUid}`);
    });
    expect(runtime.running().map((c) => c.labels.podName)).toEqual(['kept']);
    await eventually(() => expect(m2.podCount()).toBe(1));
  });

  it('shows ErrImagePull, then ImagePullBackOff, for an image that cannot be pulled', async () => {
    images.failPull('registry.local/missing:1', 'NotFound', 'manifest unknown');
    const m = newManager();
    await m.start();
    const created = await createPod('nopull', {
      containers: [{ name: 'app', image: 'registry.local/missing:1' }],
    });
    // Every status write, in order, through a watch.
    const seen: string[] = [];
    const watch = await client.watch(
      podRef,
      'default',
      { fieldSelector: 'metadata.name=nopull' },
      (ev: any) => {
        const reason = ev.object?.status?.containerStatuses?.[0]?.state?.waiting?.reason;
        if (reason !== undefined && seen.at(-1) !== reason) seen.push(reason);
      },
      () => undefined,
    );
    m.upsert(created);
    try {
      await eventually(() => expect(seen.at(-1)).toBe('ImagePullBackOff'), 15_000);
    } finally {
      watch.close();
    }
    expect(seen.indexOf('ErrImagePull')).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf('ErrImagePull')).toBeLessThan(seen.indexOf('ImagePullBackOff'));
    expect(recorder.events.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        'Pulling image "registry.local/missing:1"',
        'Failed to pull image "registry.local/missing:1": manifest unknown',
        'Error: ErrImagePull',
        'Back-off pulling image "registry.local/missing:1"',
        'Error: ImagePullBackOff',
      ]),
    );
    expect((await getPod('nopull')).status.phase).toBe('Pending');
    expect(images.pulls).toEqual(['registry.local/missing:1']);
  });

  it('counts pod starts, image pulls and running pods for the agent /metrics; adopted pods are not starts', async () => {
    images.failPull('registry.local/missing:1', 'NotFound', 'manifest unknown');
    const registry = newMetricsRegistry({ processMetrics: false });
    const metrics = agentMetrics(registry);
    const m1 = newManager(metrics);
    metrics.runningPods(() => m1.runningPodCount());
    await m1.start();
    m1.upsert(
      await createPod('two', {
        containers: [
          { name: 'a', image: 'busybox:1' },
          { name: 'b', image: 'busybox:2' },
        ],
      }),
    );
    m1.upsert(
      await createPod('nopull', { containers: [{ name: 'app', image: 'registry.local/missing:1' }] }),
    );
    const text = await eventually(async () => {
      const t = await registry.text();
      expect(sampleValue(t, 'flotilla_agent_pods_started_total')).toBe(1);
      expect(sampleValue(t, 'flotilla_agent_running_pods')).toBe(1);
      expect(sampleValue(t, 'flotilla_agent_image_pulls_total', { result: 'failure' })).toBeGreaterThan(0);
      return t;
    });
    expect(sampleValue(text, 'flotilla_agent_image_pulls_total', { result: 'success' })).toBe(2);
    expect(sampleValue(text, 'flotilla_agent_pod_start_duration_seconds_count')).toBe(1);
    expect(sampleValue(text, 'flotilla_agent_image_pull_duration_seconds_count', { result: 'success' })).toBe(
      2,
    );
    // An agent restart adopts the running pod: nothing is pulled or started again.
    await m1.stop();
    const m2 = newManager(metrics);
    metrics.runningPods(() => m2.runningPodCount());
    await m2.start();
    const pod = await getPod('two');
    m2.upsert(pod);
    m2.resync([pod]);
    await eventually(async () =>
      expect(sampleValue(await registry.text(), 'flotilla_agent_running_pods')).toBe(1),
    );
    await new Promise((r) => setTimeout(r, 300));
    const after = await registry.text();
    expect(sampleValue(after, 'flotilla_agent_pods_started_total')).toBe(1);
    expect(sampleValue(after, 'flotilla_agent_image_pulls_total', { result: 'success' })).toBe(2);
  });

  it("replaces a container when the pod's image is updated", async () => {
    const m = newManager();
    await m.start();
    m.upsert(await createPod('upd', { containers: [{ name: 'app', image: 'busybox:1' }] }));
    await eventually(async () => expect((await getPod('upd')).status?.phase).toBe('Running'));
    const pod = await getPod('upd');
    pod.spec.containers[0].image = 'busybox:2';
    m.upsert(await client.update(podRef, 'default', pod));
    const cs = await eventually(async () => {
      const c = (await getPod('upd')).status.containerStatuses[0];
      expect(c.state.running).toBeDefined();
      expect(c.restartCount).toBe(1);
      return c;
    });
    expect(cs.image).toBe('busybox:2');
    expect(runtime.running().map((c) => c.imageRef)).toEqual(['busybox:2']);
    expect(
      recorder.events.some((e) => e.message === 'Container app definition changed, will be restarted'),
    ).toBe(true);
  });
});
