// The scheduler shell against a real in-process API server: Node objects created through the API (no
// agent), pods bound through pods/binding, conditions and events as a user sees them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client/client.js';
import { Informer, listerWatcherFor } from '../api/client/informer.js';
import { ApiError } from '../api/errors.js';
import type { KubeObject } from '../api/types.js';
import { startServer, type RunningServer } from '../apiserver/bootstrap.js';
import { installKindHooks } from '../apiserver/hooks.js';
import { MemoryLogger } from '../machinery/logger.js';
import { eventually } from '../testkit/eventually.js';
import { defaultProfile, type SchedulerProfile } from './core.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

const nodeRef = { apiVersion: 'v1', kind: 'Node' };
const podRef = { apiVersion: 'v1', kind: 'Pod' };
const eventRef = { apiVersion: 'v1', kind: 'Event' };
const ns = 'default';

let server: RunningServer;
let dataDir: string;
let client: ApiClient;
const schedulers: Scheduler[] = [];

beforeAll(async () => {
  installKindHooks();
  dataDir = mkdtempSync(join(tmpdir(), 'flotilla-sched-'));
  server = await startServer({
    dataDir,
    listen: '127.0.0.1:0',
    store: 'memory',
    etcdEndpoints: [],
    log: () => undefined,
    disableScheduler: true,
  });
  client = connect();
});

afterAll(async () => {
  await client.close();
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop();
  for (const p of (await client.list(podRef, ns)).items)
    await client.delete(podRef, ns, p.metadata.name ?? '', { gracePeriodSeconds: 0 }).catch(() => undefined);
  for (const n of (await client.list(nodeRef, undefined)).items)
    await client.delete(nodeRef, undefined, n.metadata.name ?? '').catch(() => undefined);
  for (const e of (await client.list(eventRef, ns)).items)
    await client.delete(eventRef, ns, e.metadata.name ?? '').catch(() => undefined);
});

function connect(): ApiClient {
  return new ApiClient({
    server: server.url,
    ...(server.caPem === undefined ? {} : { caPem: server.caPem }),
    token: server.adminToken,
  });
}

async function startScheduler(
  opts: Partial<SchedulerOptions> & { profile?: SchedulerProfile } = {},
): Promise<Scheduler> {
  const s = new Scheduler({ client: opts.client ?? client, profile: defaultProfile, ...opts });
  schedulers.push(s);
  await s.start();
  return s;
}

interface NodeOpts {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
}

async function createNode(name: string, opts: NodeOpts = {}): Promise<void> {
  const allocatable = { cpu: opts.cpu ?? '4', memory: opts.memory ?? '8Gi', pods: opts.pods ?? '110' };
  const status = {
    capacity: allocatable,
    allocatable,
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ready' }],
  };
  const created = await client.create(nodeRef, undefined, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(opts.labels ?? {}) } },
    spec: {},
    status,
  });
  await client.updateStatus(nodeRef, undefined, { ...created, status });
}

interface PodOpts {
  cpu?: string;
  memory?: string;
  priorityClassName?: string;
  schedulerName?: string;
  nodeName?: string;
}

function podObject(name: string, opts: PodOpts = {}): KubeObject {
  const requests: Record<string, string> = {};
  if (opts.cpu !== undefined) requests['cpu'] = opts.cpu;
  if (opts.memory !== undefined) requests['memory'] = opts.memory;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: {
      containers: [{ name: 'c', image: 'busybox', resources: { requests } }],
      ...(opts.priorityClassName === undefined ? {} : { priorityClassName: opts.priorityClassName }),
      ...(opts.schedulerName === undefined ? {} : { schedulerName: opts.schedulerName }),
      ...(opts.nodeName === undefined ? {} : { nodeName: opts.nodeName }),
    },
  };
}

async function createPod(name: string, opts: PodOpts = {}): Promise<KubeObject> {
  return client.create(podRef, ns, podObject(name, opts));
}

async function getPod(name: string): Promise<KubeObject> {
  return client.get(podRef, ns, name);
}

function nodeOf(pod: KubeObject): string | undefined {
  return (pod.spec as { nodeName?: string }).nodeName;
}

function condition(pod: KubeObject, type: string): Record<string, unknown> | undefined {
  const list = (pod.status as { conditions?: Record<string, unknown>[] } | undefined)?.conditions ?? [];
  return list.find((c) => c['type'] === type);
}

async function eventsFor(name: string, reason: string): Promise<KubeObject[]> {
  const list = await client.list(eventRef, ns, {
    fieldSelector: `involvedObject.name=${name},reason=${reason}`,
  });
  return list.items;
}

async function boundTo(name: string): Promise<string> {
  return eventually(async () => {
    const node = nodeOf(await getPod(name));
    expect(node).toBeDefined();
    return node as string;
  });
}

describe('Scheduler', () => {
  it('schedules from informers it shares, and leaves them running when it stops', async () => {
    const inf = (ref: { apiVersion: string; kind: string }): Informer =>
      new Informer(listerWatcherFor(client, ref, undefined));
    const informers = {
      nodes: inf(nodeRef),
      pods: inf(podRef),
      namespaces: inf({ apiVersion: 'v1', kind: 'Namespace' }),
    };
    try {
      await createNode('shared', { cpu: '4' });
      const s = await startScheduler({ informers });
      await createPod('from-shared', { cpu: '1' });
      expect(await boundTo('from-shared')).toBe('shared');
      await s.stop();
      // Still watching for their owner: a pod created after the scheduler stopped reaches the cache.
      await createPod('after-stop');
      await eventually(() => expect(informers.pods.get(ns, 'after-stop')).toBeDefined());
      expect(nodeOf(await getPod('after-stop'))).toBeUndefined();
    } finally {
      for (const i of Object.values(informers)) i.stop();
    }
  });

  it('binds a pod to a node that fits and says so in an event and the PodScheduled condition', async () => {
    await createNode('small', { cpu: '1' });
    await createNode('big', { cpu: '8' });
    await startScheduler();
    await createPod('web', { cpu: '2' });
    expect(await boundTo('web')).toBe('big');
    const pod = await getPod('web');
    expect(condition(pod, 'PodScheduled')?.['status']).toBe('True');
    const events = await eventually(async () => {
      const evs = await eventsFor('web', 'Scheduled');
      expect(evs).toHaveLength(1);
      return evs;
    });
    expect(events[0]?.['message']).toBe('Successfully assigned default/web to big');
    expect(events[0]?.['type']).toBe('Normal');
    expect((events[0]?.['source'] as { component?: string }).component).toBe('default-scheduler');
  });

  it('explains a pod that fits nowhere, then places it when a big enough node joins', async () => {
    await createNode('n1', { cpu: '2' });
    await createNode('n2', { cpu: '2' });
    await startScheduler();
    await createPod('huge', { cpu: '3' });
    const cond = await eventually(async () => {
      const c = condition(await getPod('huge'), 'PodScheduled');
      expect(c?.['status']).toBe('False');
      return c;
    });
    expect(cond?.['reason']).toBe('Unschedulable');
    expect(String(cond?.['message'])).toContain('0/2 nodes are available: 2 Insufficient cpu.');
    const warning = await eventually(async () => {
      const evs = await eventsFor('huge', 'FailedScheduling');
      expect(evs).toHaveLength(1);
      return evs[0] as KubeObject;
    });
    expect(warning['type']).toBe('Warning');
    expect(warning['message']).toBe(cond?.['message']);

    await createNode('n3', { cpu: '4' });
    expect(await boundTo('huge')).toBe('n3');
  });

  it('counts pods already placed, including those it only just assumed, against node capacity', async () => {
    await createNode('a', { pods: '4' });
    await createNode('b', { pods: '4' });
    await startScheduler();
    await Promise.all(Array.from({ length: 10 }, (_, i) => createPod(`p${i}`, { cpu: '100m' })));
    await eventually(async () => {
      const pods = (await client.list(podRef, ns)).items;
      const placed = pods.filter((p) => nodeOf(p) !== undefined);
      const pending = pods.filter((p) => condition(p, 'PodScheduled')?.['status'] === 'False');
      expect(placed).toHaveLength(8);
      expect(pending).toHaveLength(2);
    });
    const pods = (await client.list(podRef, ns)).items;
    const perNode = (n: string): number => pods.filter((p) => nodeOf(p) === n).length;
    expect([perNode('a'), perNode('b')]).toEqual([4, 4]);
    const waiting = pods.find((p) => nodeOf(p) === undefined) as KubeObject;
    expect(String(condition(waiting, 'PodScheduled')?.['message'])).toContain('2 Too many pods');
  });

  it('places a parked pod once a pod on a node finishes and frees its room', async () => {
    await createNode('only', { cpu: '1' });
    await startScheduler();
    await createPod('first', { cpu: '1' });
    expect(await boundTo('first')).toBe('only');
    await createPod('second', { cpu: '1' });
    await eventually(async () =>
      expect(condition(await getPod('second'), 'PodScheduled')?.['reason']).toBe('Unschedulable'),
    );
    const first = await getPod('first');
    await client.updateStatus(podRef, ns, {
      ...first,
      status: { ...(first.status ?? {}), phase: 'Succeeded' },
    });
    expect(await boundTo('second')).toBe('only');
  });

  it('preempts a lower-priority pod: nominates the node, marks and deletes the victim, then binds', async () => {
    await createNode('n1', { cpu: '2' });
    const classRef = { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass' };
    await client.create(classRef, undefined, {
      ...classRef,
      metadata: { name: 'sched-test-urgent' },
      value: 1000,
    });
    const sched = await startScheduler();
    await createPod('low', { cpu: '2' });
    expect(await boundTo('low')).toBe('n1');
    const urgent = await createPod('urgent', { cpu: '1', priorityClassName: 'sched-test-urgent' });
    expect((urgent.spec as { priority?: number }).priority).toBe(1000);

    const victim = await eventually(async () => {
      const low = await getPod('low');
      expect(low.metadata.deletionTimestamp).toBeDefined();
      return low;
    });
    expect(condition(victim, 'DisruptionTarget')).toMatchObject({
      status: 'True',
      reason: 'PreemptionByScheduler',
    });
    const preempted = await eventually(async () => {
      const evs = await eventsFor('low', 'Preempted');
      expect(evs).toHaveLength(1);
      return evs[0] as KubeObject;
    });
    expect(preempted['message']).toBe(`Preempted by pod ${urgent.metadata.uid ?? ''} on node n1`);
    await eventually(async () =>
      expect((await getPod('urgent')).status).toMatchObject({ nominatedNodeName: 'n1' }),
    );
    // The victim still holds its room until it is gone (its agent would finish the delete).
    expect(nodeOf(await getPod('urgent'))).toBeUndefined();
    expect(sched.cache.nodeCount()).toBe(1);
    await client.delete(podRef, ns, 'low', { gracePeriodSeconds: 0 });
    expect(await boundTo('urgent')).toBe('n1');
  });

  it('leaves pods for other schedulers and pods with spec.nodeName alone', async () => {
    await createNode('n1');
    const sched = await startScheduler();
    await createPod('theirs', { schedulerName: 'other-scheduler' });
    await createPod('pinned', { nodeName: 'n1' });
    await createPod('ours');
    expect(await boundTo('ours')).toBe('n1');
    const theirs = await getPod('theirs');
    expect(nodeOf(theirs)).toBeUndefined();
    expect(condition(theirs, 'PodScheduled')).toBeUndefined();
    expect(await eventsFor('theirs', 'FailedScheduling')).toHaveLength(0);
    expect(await eventsFor('pinned', 'Scheduled')).toHaveLength(0);
    expect(sched.attempts.map((a) => a.pod)).toEqual(['default/ours']);
  });

  it('retries after a failed bind with a back-off and reports the failure', async () => {
    await createNode('n1');
    let failures = 1;
    class FlakyClient extends ApiClient {
      override async request(method: string, path: string, body?: unknown): Promise<unknown> {
        if (path.endsWith('/binding') && failures > 0) {
          failures--;
          throw new ApiError('InternalError', 'store unavailable');
        }
        return super.request(method, path, body);
      }
    }
    const flaky = new FlakyClient({
      server: server.url,
      ...(server.caPem === undefined ? {} : { caPem: server.caPem }),
      token: server.adminToken,
    });
    try {
      const logger = new MemoryLogger();
      const sched = await startScheduler({ client: flaky, logger });
      await createPod('web');
      expect(await boundTo('web')).toBe('n1');
      const failed = await eventsFor('web', 'FailedScheduling');
      expect(failed.map((e) => e['message'])).toEqual(['binding rejected: store unavailable']);
      expect(sched.attempts.filter((a) => a.pod === 'default/web')).toHaveLength(2);
      expect(logger.records.some((r) => r.message === 'scheduler: bind failed')).toBe(true);
      await sched.stop();
    } finally {
      await flaky.close();
    }
  });

  it('keeps several binds on the wire at once, never more than the limit', async () => {
    await createNode('n1');
    let inFlight = 0;
    let most = 0;
    class SlowBindClient extends ApiClient {
      override async request(method: string, path: string, body?: unknown): Promise<unknown> {
        if (!path.endsWith('/binding')) return super.request(method, path, body);
        inFlight++;
        most = Math.max(most, inFlight);
        try {
          await new Promise((r) => setTimeout(r, 150));
          return await super.request(method, path, body);
        } finally {
          inFlight--;
        }
      }
    }
    const slow = new SlowBindClient({
      server: server.url,
      ...(server.caPem === undefined ? {} : { caPem: server.caPem }),
      token: server.adminToken,
    });
    try {
      await Promise.all(Array.from({ length: 12 }, (_, i) => createPod(`w${i}`)));
      const sched = await startScheduler({ client: slow, maxBindsInFlight: 4 });
      await eventually(async () => {
        const pods = (await client.list(podRef, ns)).items;
        expect(pods.filter((p) => nodeOf(p) === 'n1')).toHaveLength(12);
      });
      expect(most).toBe(4);
      await sched.stop();
    } finally {
      await slow.close();
    }
  });

  it('stops cleanly: no more binds after stop', async () => {
    await createNode('n1');
    const sched = await startScheduler();
    await sched.stop();
    await createPod('late');
    await new Promise((r) => setTimeout(r, 300));
    expect(nodeOf(await getPod('late'))).toBeUndefined();
  });
});
