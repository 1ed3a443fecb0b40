import { describe, expect, it } from 'vitest';
import { ApiError } from '../../api/errors.js';
import type { KubeObject } from '../../api/types.js';
import { CustomMetricsApi, customMetricOf, parseCustomMetricsPath, sumTraffic } from './custom.js';
import type { SummaryDoc } from './shapes.js';
import { SummarySource } from './source.js';

const base = '/apis/custom.metrics.k8s.io/v1beta2';

function doc(
  node: string,
  time: string,
  pods: [string, number, number][],
  services: [string, number, number][],
): SummaryDoc {
  const rate = ([name, c, r]: [string, number, number]) => ({
    namespace: 'default',
    name,
    connectionsPerSecond: c,
    requestsPerSecond: r,
  });
  return {
    node: { nodeName: node, cpu: { time }, memory: { time, workingSetBytes: 1 } },
    pods: [],
    traffic: { time, windowSeconds: 10, pods: pods.map(rate), services: services.map(rate) },
  };
}

function obj(kind: string, name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind, metadata: { name, namespace: 'default', labels } };
}

const readyNode = (name: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

describe('parseCustomMetricsPath', () => {
  it('reads pods (one or *) and services, with or without the flotilla.dev/ prefix', () => {
    expect(parseCustomMetricsPath(`${base}/namespaces/default/pods/*/requests-per-second`)).toEqual({
      namespace: 'default',
      resource: 'pods',
      name: '*',
      metric: 'requests-per-second',
    });
    expect(
      parseCustomMetricsPath(`${base}/namespaces/shop/services/web/flotilla.dev%2Fconnections-per-second`),
    ).toMatchObject({ resource: 'services', name: 'web', metric: 'connections-per-second' });
    expect(
      parseCustomMetricsPath(`${base}/namespaces/shop/services/web/flotilla.dev/requests-per-second`),
    ).toMatchObject({ metric: 'requests-per-second' });
    expect(parseCustomMetricsPath('/apis/metrics.k8s.io/v1beta1/pods')).toBeUndefined();
  });

  it('answers 404 naming the served metrics for an unknown one, 400 for every Service', () => {
    expect(() => parseCustomMetricsPath(`${base}/namespaces/default/pods/*/queue-depth`)).toThrow(
      /queue-depth.*requests-per-second, connections-per-second/,
    );
    expect(() => parseCustomMetricsPath(`${base}/namespaces/default/services/*/requests-per-second`)).toThrow(
      /name a Service/,
    );
    expect(() => parseCustomMetricsPath(`${base}/namespaces/default/nodes/x/requests-per-second`)).toThrow(
      ApiError,
    );
  });

  it('knows its metric names', () => {
    expect(customMetricOf('flotilla.dev/requests-per-second')).toBe('requests-per-second');
    expect(customMetricOf('requests_per_second')).toBeUndefined();
  });
});

describe('sumTraffic', () => {
  it('adds up what every node counted for one object, and knows when none did', () => {
    const docs = [
      doc('n1', '2026-11-26T12:00:10Z', [['web-a', 2, 10]], [['web', 2, 10]]),
      doc('n2', '2026-11-26T12:00:12Z', [['web-a', 1, 5.5]], [['web', 1, 5.5]]),
    ];
    expect(sumTraffic(docs, 'pods', 'default', 'web-a', 'requests-per-second')).toEqual({
      value: 15.5,
      time: Date.parse('2026-11-26T12:00:12Z'),
      windowSeconds: 10,
    });
    expect(sumTraffic(docs, 'services', 'default', 'web', 'connections-per-second')?.value).toBe(3);
    expect(sumTraffic(docs, 'pods', 'default', 'other', 'requests-per-second')).toBeUndefined();
  });
});

describe('CustomMetricsApi', () => {
  const pods = [obj('Pod', 'web-a', { app: 'web' }), obj('Pod', 'web-b', { app: 'web' }), obj('Pod', 'db')];
  const api = new CustomMetricsApi({
    allNodes: async () => [readyNode('n1'), readyNode('n2')],
    listPods: async (_ns, sel) => (sel === 'app=web' ? pods.slice(0, 2) : pods),
    getPod: async (_ns, name) => {
      const p = pods.find((x) => x.metadata.name === name);
      if (p === undefined) throw new ApiError('NotFound', `pods "${name}" not found`);
      return p;
    },
    getService: async (_ns, name) => obj('Service', name),
    source: new SummarySource({
      fetch: async (n) =>
        n.metadata.name === 'n1'
          ? doc(
              'n1',
              '2026-11-26T12:00:10Z',
              [
                ['web-a', 1, 1.5],
                ['web-b', 0, 0],
              ],
              [['web', 1, 1.5]],
            )
          : doc('n2', '2026-11-26T12:00:10Z', [['web-a', 1, 1]], [['web', 1, 1]]),
      now: () => 0,
    }),
  });

  it('lists the pods of a selector with their summed rate as a MetricValueList (pods no node knows left out)', async () => {
    const out = await api.answer(
      { namespace: 'default', resource: 'pods', name: '*', metric: 'requests-per-second' },
      'GET',
      new URLSearchParams('labelSelector=app%3Dweb'),
    );
    expect(out.kind).toBe('MetricValueList');
    expect(
      out.items.map((i) => [i.describedObject.kind, i.describedObject.name, i.value, i.windowSeconds]),
    ).toEqual([
      ['Pod', 'web-a', '2500m', 10],
      ['Pod', 'web-b', '0', 10],
    ]);
  });

  it('gives one Service figure, 404 for a pod without one, 405 for writes', async () => {
    const svc = await api.answer(
      { namespace: 'default', resource: 'services', name: 'web', metric: 'connections-per-second' },
      'GET',
      new URLSearchParams(),
    );
    expect(svc.items[0]).toMatchObject({
      describedObject: { kind: 'Service', name: 'web', apiVersion: '/v1' },
      metric: { name: 'connections-per-second' },
      value: '2',
    });
    await expect(
      api.answer(
        { namespace: 'default', resource: 'pods', name: 'db', metric: 'requests-per-second' },
        'GET',
        new URLSearchParams(),
      ),
    ).rejects.toMatchObject({ reason: 'NotFound' });
    await expect(
      api.answer(
        { namespace: 'default', resource: 'pods', name: '*', metric: 'requests-per-second' },
        'POST',
        new URLSearchParams(),
      ),
    ).rejects.toMatchObject({ reason: 'MethodNotAllowed' });
  });
});
