import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { matchesLabels, parseLabelSelector } from '../../api/selectors.js';
import { MetricsApi, parseMetricsPath } from './api.js';
import { formatCpuNanoCores, formatGoDuration, formatMemoryBytes } from './quantity.js';
import { nodeMetricsOf, podMetricsOf, type SummaryDoc } from './shapes.js';
import { scrapable, SummarySource } from './source.js';

describe('quantities as metrics-server writes them', () => {
  it.each([
    [0, '0'],
    [123_456, '123456n'],
    [123_456_000, '123456u'],
    [250_000_000, '250m'],
    [1_500_000_000, '1500m'],
    [2_000_000_000, '2'],
    [499_612_345, '499612345n'],
  ])('cpu %d nanocores → %s', (n, s) => expect(formatCpuNanoCores(n)).toBe(s));

  it.each([
    [512, '512'],
    [1234 * 1024, '1234Ki'],
    [2 * 1024 * 1024, '2Mi'],
    [1_234_567, '1234567'],
    [3 * 1024 ** 3, '3Gi'],
  ])('memory %d bytes → %s', (n, s) => expect(formatMemoryBytes(n)).toBe(s));

  it.each([
    [0, '0s'],
    [0.5, '500ms'],
    [10, '10s'],
    [10.005, '10.005s'],
    [60.5, '1m0.5s'],
    [3725, '1h2m5s'],
  ])('window %d s → %s', (n, s) => expect(formatGoDuration(n)).toBe(s));
});

const t = '2026-11-26T12:00:10.000Z';
const now = new Date('2026-11-26T12:00:11.000Z');

function usage(nanoCores: number | undefined, ws: number): SummaryDoc['node'] {
  return {
    nodeName: 'n1',
    cpu: { time: t, ...(nanoCores === undefined ? {} : { usageNanoCores: nanoCores }) },
    memory: { time: t, workingSetBytes: ws },
  };
}

function summary(windowSeconds: number | null = 10): SummaryDoc {
  return {
    node: usage(1_250_000_000, 2 * 1024 ** 3),
    pods: [
      {
        podRef: { name: 'web', namespace: 'default', uid: 'u-web' },
        ...usage(350_000_000, 25 * 1024 * 1024),
        containers: [
          { name: 'app', ...usage(250_000_000, 20 * 1024 * 1024) },
          { name: 'side', ...usage(100_000_000, 5 * 1024 * 1024) },
        ],
      },
      {
        podRef: { name: 'new', namespace: 'default', uid: 'u-new' },
        ...usage(undefined, 1024),
        containers: [{ name: 'c', ...usage(undefined, 1024) }],
      },
    ],
    ...(windowSeconds === null ? {} : { windowSeconds }),
  };
}

function node(name: string, extra: Partial<KubeObject> = {}, ready = true): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { zone: 'a' } },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    ...extra,
  };
}

function pod(name: string, nodeName: string | undefined, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', uid: `u-${name}`, labels },
    spec: nodeName === undefined ? {} : { nodeName },
  };
}

describe('NodeMetrics and PodMetrics shapes', () => {
  it('a node: name, labels, timestamp of the sample, window, cpu and working-set memory', () => {
    expect(nodeMetricsOf(node('n1'), summary(), now)).toEqual({
      kind: 'NodeMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: { name: 'n1', creationTimestamp: now.toISOString(), labels: { zone: 'a' } },
      timestamp: t,
      window: '10s',
      usage: { cpu: '1250m', memory: '2Gi' },
    });
  });

  it('a pod: one entry per container, no pod total', () => {
    expect(podMetricsOf(pod('web', 'n1', { app: 'web' }), summary(10.02), now)).toEqual({
      kind: 'PodMetrics',
      apiVersion: 'metrics.k8s.io/v1beta1',
      metadata: {
        name: 'web',
        namespace: 'default',
        creationTimestamp: now.toISOString(),
        labels: { app: 'web' },
      },
      timestamp: t,
      window: '10.02s',
      containers: [
        { name: 'app', usage: { cpu: '250m', memory: '20Mi' } },
        { name: 'side', usage: { cpu: '100m', memory: '5Mi' } },
      ],
    });
  });

  it('leaves out what has no rate yet, an unknown pod, a same-named pod with another uid', () => {
    expect(podMetricsOf(pod('new', 'n1'), summary(), now)).toBeUndefined();
    expect(podMetricsOf(pod('gone', 'n1'), summary(), now)).toBeUndefined();
    const other = pod('web', 'n1');
    other.metadata.uid = 'u-other';
    expect(podMetricsOf(other, summary(), now)).toBeUndefined();
    // A single sample: no window, no rates.
    expect(nodeMetricsOf(node('n1'), summary(null), now)).toBeUndefined();
  });
});

describe('parseMetricsPath', () => {
  it.each([
    ['/apis/metrics.k8s.io/v1beta1/nodes', { resource: 'nodes', namespace: undefined, name: undefined }],
    ['/apis/metrics.k8s.io/v1beta1/nodes/n1', { resource: 'nodes', namespace: undefined, name: 'n1' }],
    ['/apis/metrics.k8s.io/v1beta1/pods', { resource: 'pods', namespace: undefined, name: undefined }],
    [
      '/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods',
      { resource: 'pods', namespace: 'ns', name: undefined },
    ],
    ['/apis/metrics.k8s.io/v1beta1/namespaces/ns/pods/p', { resource: 'pods', namespace: 'ns', name: 'p' }],
    ['/apis/apps/v1/deployments', undefined],
  ])('%s', (path, want) => expect(parseMetricsPath(path)).toEqual(want));

  it('404 for other paths under the group', () => {
    expect(() => parseMetricsPath('/apis/metrics.k8s.io/v1beta1/deployments')).toThrow(ApiError);
    expect(() => parseMetricsPath('/apis/metrics.k8s.io/v1beta1/nodes/n1/extra')).toThrow(ApiError);
  });
});

describe('scrapable', () => {
  it('only Ready, non-simulated nodes are asked for stats', () => {
    expect(scrapable(node('a'))).toBe(true);
    expect(scrapable(node('b', {}, false))).toBe(false);
    expect(scrapable({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'c' } })).toBe(false);
    const sim = node('d');
    sim.metadata.annotations = { 'flotilla.dev/simulated': 'true' };
    expect(scrapable(sim)).toBe(false);
  });
});

describe('SummarySource', () => {
  it('caches a node’s document for cacheMs, shares a fetch in flight, and retries after a failure', async () => {
    let clock = 0;
    const asked: string[] = [];
    let fail = false;
    const logs: string[] = [];
    const src = new SummarySource({
      now: () => clock,
      cacheMs: 5000,
      log: (l) => logs.push(l),
      fetch: async (n) => {
        asked.push(n.metadata.name ?? '');
        if (fail) throw new Error('connection refused');
        return summary();
      },
    });
    await Promise.all([src.summary(node('n1')), src.summary(node('n1'))]);
    expect(asked).toEqual(['n1']);
    clock = 4999;
    await src.summary(node('n1'));
    expect(asked).toEqual(['n1']);
    clock = 5000;
    fail = true;
    expect(await src.summary(node('n1'))).toBeUndefined();
    expect(await src.summary(node('n1'))).toBeUndefined();
    expect(asked).toEqual(['n1', 'n1', 'n1']);
    expect(logs).toEqual(['metrics: node "n1" left out: connection refused']);
    expect(
      await src.summary(
        node('sim', { metadata: { name: 'sim', annotations: { 'flotilla.dev/simulated': 'true' } } }),
      ),
    ).toBeUndefined();
    expect(asked).not.toContain('sim');
  });
});

describe('MetricsApi', () => {
  const nodes = [node('n1'), node('n2'), node('dead')];
  const pods = [pod('web', 'n1', { app: 'web' }), pod('db', 'n2', { app: 'db' }), pod('pending', undefined)];
  const select = <T extends KubeObject>(items: T[], sel: string | undefined): T[] =>
    sel === undefined
      ? items
      : items.filter((o) => matchesLabels(parseLabelSelector(sel), o.metadata.labels));
  const docs: Record<string, SummaryDoc> = {
    n1: summary(),
    n2: {
      ...summary(),
      pods: [
        {
          podRef: { name: 'db', namespace: 'default', uid: 'u-db' },
          ...usage(2e9, 100 * 1024 * 1024),
          containers: [{ name: 'main', ...usage(2e9, 100 * 1024 * 1024) }],
        },
      ],
    },
  };
  const api = new MetricsApi({
    listNodes: async (sel) => select(nodes, sel),
    allNodes: async () => nodes,
    getNode: async (name) => {
      const n = nodes.find((x) => x.metadata.name === name);
      if (n === undefined) throw new ApiError('NotFound', `nodes "${name}" not found`);
      return n;
    },
    listPods: async (_ns, sel) => select(pods, sel),
    getPod: async (_ns, name) => {
      const p = pods.find((x) => x.metadata.name === name);
      if (p === undefined) throw new ApiError('NotFound', `pods "${name}" not found`);
      return p;
    },
    source: new SummarySource({
      now: () => 0,
      fetch: async (n) => {
        const d = docs[n.metadata.name ?? ''];
        if (d === undefined) throw new Error('dial tcp: connection refused');
        return d;
      },
    }),
    now: () => now,
  });
  const q = (s = ''): URLSearchParams => new URLSearchParams(s);

  it('lists node metrics, leaving out a node that does not answer', async () => {
    const list = await api.answer({ resource: 'nodes', namespace: undefined, name: undefined }, 'GET', q());
    expect(list.kind).toBe('NodeMetricsList');
    expect('items' in list ? list.items.map((i) => i.metadata.name) : []).toEqual(['n1', 'n2']);
  });

  it('podMetrics(namespace, selector): the pods an autoscaler would read', async () => {
    expect((await api.podMetrics('default', 'app=web')).map((p) => p.metadata.name)).toEqual(['web']);
    expect((await api.podMetrics('default')).map((p) => p.metadata.name)).toEqual(['db', 'web']);
    expect(await api.podMetrics('default', 'app=none')).toEqual([]);
  });

  it('get: 404 naming podmetrics / nodemetrics when there are no figures', async () => {
    await expect(api.podMetricsByName('default', 'pending')).rejects.toThrow(
      'podmetrics.metrics.k8s.io "pending" not found',
    );
    await expect(api.podMetricsByName('default', 'nope')).rejects.toThrow(
      'podmetrics.metrics.k8s.io "nope" not found',
    );
    await expect(api.nodeMetricsByName('dead')).rejects.toThrow(
      'nodemetrics.metrics.k8s.io "dead" not found',
    );
    await expect(api.nodeMetricsByName('nope')).rejects.toThrow(
      'nodemetrics.metrics.k8s.io "nope" not found',
    );
    expect((await api.nodeMetricsByName('n2')).usage).toEqual({ cpu: '1250m', memory: '2Gi' });
  });

  it('is read-only: other methods and watch are 405', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const err = await api
        .answer({ resource: 'pods', namespace: 'default', name: 'web' }, method, q())
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe(405);
    }
    const watch = await api
      .answer({ resource: 'nodes', namespace: undefined, name: undefined }, 'GET', q('watch=true'))
      .catch((e: unknown) => e);
    expect((watch as ApiError).code).toBe(405);
  });
});
