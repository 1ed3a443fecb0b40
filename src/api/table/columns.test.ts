import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../types.js';
import {
  age,
  formatEndpoints,
  formatHpaMetrics,
  formatLabelSelector,
  formatServicePorts,
  humanDuration,
  podSummary,
  serviceExternalIP,
  tablePrinterFor,
} from './columns.js';
import { formatTable, headerOf, rowOf } from '../../cli/printers/table.js';
import { tabwrite } from '../../cli/printers/tabwriter.js';

const now = Date.parse('2024-05-01T12:00:00Z');
const ago = (s: number): string => new Date(now - s * 1000).toISOString();
const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

function obj(
  apiVersion: string,
  kind: string,
  rest: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion,
    kind,
    metadata: { name: 'x', namespace: 'default', creationTimestamp: ago(300), ...meta },
    ...rest,
  };
}

describe('ages (kubectl HumanDuration)', () => {
  it.each([
    [0, '0s'],
    [5 * S, '5s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 20 * S, '3m20s'],
    [15 * M, '15m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [4 * H + 2 * M, '4h2m'],
    [30 * H, '30h'],
    [2 * D, '2d'],
    [2 * D + 3 * H, '2d3h'],
    [100 * D, '100d'],
    [3 * 365 * D + 20 * D, '3y20d'],
    [10 * 365 * D, '10y'],
    [-1500, '0s'],
    [-5 * S, '<invalid>'],
  ])('%d ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('age of a timestamp, <unknown> without one', () => {
    expect(age(ago(200), now)).toBe('3m20s');
    expect(age(undefined, now)).toBe('<unknown>');
    expect(age('garbage', now)).toBe('<unknown>');
  });
});

describe('formatting helpers', () => {
  it('service ports with node ports and protocols', () => {
    expect(
      formatServicePorts([
        { port: 80 },
        { port: 443, nodePort: 30443, protocol: 'TCP' },
        { port: 53, protocol: 'UDP' },
      ]),
    ).toBe('80/TCP,443:30443/TCP,53/UDP');
    expect(formatServicePorts(undefined)).toBe('');
  });

  it('label selectors sorted by key, with expressions', () => {
    expect(
      formatLabelSelector({
        matchLabels: { tier: 'web', app: 'shop' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['prod', 'canary'] },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'zone', operator: 'NotIn', values: ['b'] },
          { key: 'gpu', operator: 'Exists' },
        ],
      }),
    ).toBe('app=shop,env in (canary,prod),gpu,!legacy,tier=web,zone notin (b)');
  });

  it('endpoints: at most three then "+ N more..."', () => {
    const ep = obj('v1', 'Endpoints', {
      subsets: [
        { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ port: 80 }, { port: 443 }] },
        { addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] },
      ],
    });
    expect(formatEndpoints(ep)).toBe('10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...');
    expect(
      formatEndpoints(
        obj('v1', 'Endpoints', { subsets: [{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] }] }),
      ),
    ).toBe('[fd00::1]:80');
    expect(formatEndpoints(obj('v1', 'Endpoints'))).toBe('<none>');
  });

  it('HPA targets', () => {
    const metrics = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
      },
      {
        type: 'Resource',
        resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } },
      },
      {
        type: 'Pods',
        pods: { metric: { name: 'qps' }, target: { type: 'AverageValue', averageValue: '10' } },
      },
    ];
    expect(formatHpaMetrics(metrics.slice(0, 1), [])).toBe('cpu: <unknown>/80%');
    expect(
      formatHpaMetrics(metrics.slice(0, 1), [
        { type: 'Resource', resource: { name: 'cpu', current: { averageUtilization: 42 } } },
      ]),
    ).toBe('cpu: 42%/80%');
    expect(formatHpaMetrics(metrics, [])).toBe('cpu: <unknown>/80%, memory: <unknown>/500Mi + 1 more...');
    expect(formatHpaMetrics([], [])).toBe('<none>');
  });

  it('external IPs by service type', () => {
    const svc = (spec: Record<string, unknown>, status: Record<string, unknown> = {}): KubeObject =>
      obj('v1', 'Service', { spec, status });
    expect(serviceExternalIP(svc({ type: 'ClusterIP' }), false)).toBe('<none>');
    expect(serviceExternalIP(svc({ type: 'NodePort', externalIPs: ['1.2.3.4'] }), false)).toBe('1.2.3.4');
    expect(serviceExternalIP(svc({ type: 'LoadBalancer' }), false)).toBe('<pending>');
    expect(
      serviceExternalIP(
        svc({ type: 'LoadBalancer' }, { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } }),
        false,
      ),
    ).toBe('5.6.7.8');
    expect(serviceExternalIP(svc({ type: 'ExternalName', externalName: 'db.example.com' }), false)).toBe(
      'db.example.com',
    );
  });
});

describe('pod READY / STATUS / RESTARTS', () => {
  const running = { running: { startedAt: ago(60) } };
  const pod = (
    spec: Record<string, unknown>,
    status: Record<string, unknown>,
    meta: Record<string, unknown> = {},
  ): KubeObject => obj('v1', 'Pod', { spec, status }, meta);
  const two = { containers: [{ name: 'a' }, { name: 'b' }] };

  it('counts ready containers and shows the phase', () => {
    const p = pod(two, {
      phase: 'Running',
      containerStatuses: [
        { name: 'a', ready: true, restartCount: 0, state: running },
        { name: 'b', ready: false, restartCount: 0, state: running },
      ],
    });
    expect(podSummary(p, now)).toEqual({ ready: '1/2', status: 'Running', restarts: '0' });
  });

  it('shows a waiting reason and the restarts with when the last one happened', () => {
    const p = pod(two, {
      phase: 'Running',
      containerStatuses: [
        { name: 'a', ready: true, restartCount: 0, state: running },
        {
          name: 'b',
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 1, finishedAt: ago(75) } },
        },
      ],
    });
    expect(podSummary(p, now)).toEqual({ ready: '1/2', status: 'CrashLoopBackOff', restarts: '4 (75s ago)' });
  });

  it('init containers: Init:N/M, Init:reason, Init:ExitCode', () => {
    const spec = { initContainers: [{ name: 'i1' }, { name: 'i2' }], containers: [{ name: 'a' }] };
    expect(
      podSummary(
        pod(spec, {
          phase: 'Pending',
          initContainerStatuses: [
            { name: 'i1', state: { terminated: { exitCode: 0 } } },
            { name: 'i2', state: { running: {} } },
          ],
        }),
        now,
      ).status,
    ).toBe('Init:1/2');
    expect(
      podSummary(
        pod(spec, {
          phase: 'Pending',
          initContainerStatuses: [{ name: 'i1', state: { waiting: { reason: 'ErrImagePull' } } }],
        }),
        now,
      ).status,
    ).toBe('Init:ErrImagePull');
    expect(
      podSummary(
        pod(spec, {
          phase: 'Pending',
          initContainerStatuses: [{ name: 'i1', state: { terminated: { exitCode: 3 } } }],
        }),
        now,
      ).status,
    ).toBe('Init:ExitCode:3');
  });

  it('terminated containers and deletion', () => {
    expect(
      podSummary(
        pod(
          { containers: [{ name: 'a' }] },
          {
            phase: 'Succeeded',
            containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 0, reason: 'Completed' } } }],
          },
        ),
        now,
      ).status,
    ).toBe('Completed');
    expect(
      podSummary(
        pod(
          { containers: [{ name: 'a' }] },
          {
            phase: 'Running',
            containerStatuses: [{ name: 'a', state: { terminated: { exitCode: 137, signal: 9 } } }],
          },
        ),
        now,
      ).status,
    ).toBe('Signal:9');
    expect(
      podSummary(
        pod({ containers: [{ name: 'a' }] }, { phase: 'Running' }, { deletionTimestamp: ago(1) }),
        now,
      ).status,
    ).toBe('Terminating');
    expect(podSummary(pod({ containers: [{ name: 'a' }] }, { phase: 'Pending' }), now)).toEqual({
      ready: '0/1',
      status: 'Pending',
      restarts: '0',
    });
  });
});

describe('tables', () => {
  it('pods, with -o wide columns and a NAMESPACE column', () => {
    const printer = tablePrinterFor('', 'Pod');
    const p = obj(
      'v1',
      'Pod',
      {
        spec: { containers: [{ name: 'a' }], nodeName: 'n1' },
        status: {
          phase: 'Running',
          podIP: '10.42.0.5',
          containerStatuses: [{ name: 'a', ready: true, state: { running: {} } }],
        },
      },
      { name: 'web-1' },
    );
    const rows = [headerOf(printer, {}), rowOf(printer, p, now, {})];
    expect(formatTable(rows)).toBe(
      'NAME    READY   STATUS    RESTARTS   AGE\nweb-1   1/1     Running   0          5m\n',
    );
    const wide = { wide: true, withNamespace: true };
    expect(headerOf(printer, wide)).toEqual([
      'NAMESPACE',
      'NAME',
      'READY',
      'STATUS',
      'RESTARTS',
      'AGE',
      'IP',
      'NODE',
      'NOMINATED NODE',
      'READINESS GATES',
    ]);
    expect(rowOf(printer, p, now, wide)).toEqual([
      'default',
      'web-1',
      '1/1',
      'Running',
      '0',
      '5m',
      '10.42.0.5',
      'n1',
      '<none>',
      '<none>',
    ]);
  });

  it('deployment, replicaset, service, node, configmap, secret, event, lease, endpointslice, hpa columns', () => {
    const cells = (
      apiVersion: string,
      kind: string,
      rest: Record<string, unknown>,
      meta: Record<string, unknown> = {},
    ): string[] => {
      const group = apiVersion.includes('/') ? apiVersion.split('/')[0]! : '';
      const printer = tablePrinterFor(group, kind);
      return rowOf(printer, obj(apiVersion, kind, rest, meta), now, { wide: true });
    };
    const tmpl = {
      spec: {
        containers: [
          { name: 'a', image: 'nginx' },
          { name: 'b', image: 'redis' },
        ],
      },
    };
    expect(
      cells('apps/v1', 'Deployment', {
        spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: tmpl },
        status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
      }),
    ).toEqual(['x', '2/3', '3', '2', '5m', 'a,b', 'nginx,redis', 'app=web']);
    expect(
      cells('apps/v1', 'ReplicaSet', {
        spec: { replicas: 2, template: tmpl },
        status: { replicas: 2, readyReplicas: 1 },
      }),
    ).toEqual(['x', '2', '2', '1', '5m', 'a,b', 'nginx,redis', '']);
    expect(
      cells('v1', 'Service', {
        spec: {
          type: 'NodePort',
          clusterIP: '10.43.0.9',
          clusterIPs: ['10.43.0.9'],
          ports: [{ port: 80, nodePort: 30080 }],
          selector: { app: 'web' },
        },
      }),
    ).toEqual(['x', 'NodePort', '10.43.0.9', '<none>', '80:30080/TCP', '5m', 'app=web']);
    expect(
      cells(
        'v1',
        'Node',
        {
          spec: { unschedulable: true },
          status: {
            conditions: [{ type: 'Ready', status: 'True' }],
            addresses: [{ type: 'InternalIP', address: '192.168.1.5' }],
            nodeInfo: {
              kubeletVersion: 'v1.34.0-flotilla',
              osImage: 'Debian GNU/Linux 12',
              kernelVersion: '6.1.0',
              containerRuntimeVersion: 'runc://1.1.5',
            },
          },
        },
        { labels: { 'node-role.kubernetes.io/control-plane': '', 'kubernetes.io/role': 'worker' } },
      ),
    ).toEqual([
      'x',
      'Ready,SchedulingDisabled',
      'control-plane,worker',
      '5m',
      'v1.34.0-flotilla',
      '192.168.1.5',
      '<none>',
      'Debian GNU/Linux 12',
      '6.1.0',
      'runc://1.1.5',
    ]);
    expect(cells('v1', 'ConfigMap', { data: { a: '1', b: '2' }, binaryData: { c: 'AA==' } })).toEqual([
      'x',
      '3',
      '5m',
    ]);
    expect(
      cells('v1', 'Secret', { type: 'kubernetes.io/tls', data: { 'tls.crt': 'x', 'tls.key': 'y' } }),
    ).toEqual(['x', 'kubernetes.io/tls', '2', '5m']);
    expect(
      cells('v1', 'Event', {
        type: 'Warning',
        reason: 'BackOff',
        involvedObject: { kind: 'Pod', name: 'web-1', fieldPath: 'spec.containers{a}' },
        source: { component: 'kubelet', host: 'n1' },
        message: ' Back-off restarting failed container \n',
        firstTimestamp: ago(600),
        lastTimestamp: ago(30),
        count: 7,
      }),
    ).toEqual([
      '30s',
      'Warning',
      'BackOff',
      'pod/web-1',
      'spec.containers{a}',
      'kubelet, n1',
      'Back-off restarting failed container',
      '10m',
      '7',
      'x',
    ]);
    expect(cells('coordination.k8s.io/v1', 'Lease', { spec: { holderIdentity: 'n1' } })).toEqual([
      'x',
      'n1',
      '5m',
    ]);
    expect(
      cells('networking.k8s.io/v1', 'ServiceCIDR', { spec: { cidrs: ['10.43.0.0/16', 'fd00:43::/108'] } }),
    ).toEqual(['x', '10.43.0.0/16,fd00:43::/108', '5m']);
    expect(
      tablePrinterFor('networking.k8s.io', 'ServiceCIDR').columns.map((c) => c.name.toUpperCase()),
    ).toEqual(['NAME', 'CIDRS', 'AGE']);
    expect(
      cells('discovery.k8s.io/v1', 'EndpointSlice', {
        addressType: 'IPv4',
        ports: [{ port: 80 }, { name: 'metrics' }],
        endpoints: [
          { addresses: ['10.42.0.1'] },
          { addresses: ['10.42.0.2'] },
          { addresses: ['10.42.0.3'] },
          { addresses: ['10.42.0.4'] },
        ],
      }),
    ).toEqual(['x', 'IPv4', '80,metrics', '10.42.0.1,10.42.0.2,10.42.0.3 + 1 more...', '5m']);
    expect(
      cells('autoscaling/v2', 'HorizontalPodAutoscaler', {
        spec: { scaleTargetRef: { kind: 'Deployment', name: 'web' }, maxReplicas: 10, metrics: [] },
        status: { currentReplicas: 3 },
      }),
    ).toEqual(['x', 'Deployment/web', '<none>', '<unset>', '10', '3', '5m']);
    expect(cells('v1', 'Namespace', { status: { phase: 'Active' } })).toEqual(['x', 'Active', '5m']);
  });

  it('scale subresource: NAME (no name format), DESIRED, AVAILABLE, AGE', () => {
    const printer = tablePrinterFor('autoscaling', 'Scale');
    expect(printer.columns.map((c) => [c.name, c.format])).toEqual([
      ['Name', ''],
      ['Desired', ''],
      ['Available', ''],
      ['Age', ''],
    ]);
    expect(
      printer.cells(obj('autoscaling/v1', 'Scale', { spec: { replicas: 5 }, status: { replicas: 3 } }), now),
    ).toEqual(['x', 5, 3, '5m']);
  });

  it('every column is typed as upstream does (AGE is a string)', () => {
    for (const kind of ['Pod', 'Service', 'ConfigMap', 'Secret', 'Node', 'Namespace', 'Endpoints']) {
      const age = tablePrinterFor('', kind).columns.find((c) => c.name === 'Age');
      expect(age?.type, kind).toBe('string');
    }
  });

  it("event table header is kubectl's", () => {
    expect(headerOf(tablePrinterFor('', 'Event'), {})).toEqual([
      'LAST SEEN',
      'TYPE',
      'REASON',
      'OBJECT',
      'MESSAGE',
    ]);
  });
});

describe('tabwriter', () => {
  it('aligns columns per block of lines, like Go text/tabwriter', () => {
    const text = 'Name:\tweb\nNamespace:\tdefault\nContainers:\n  a:\n    Image:\tnginx\n    Port:\t80/TCP\n';
    expect(tabwrite(text, { minWidth: 0, padding: 2 })).toBe(
      'Name:       web\nNamespace:  default\nContainers:\n  a:\n    Image:  nginx\n    Port:   80/TCP\n',
    );
  });

  it('min width and padding as kubectl get uses them', () => {
    expect(tabwrite('A\tB\tC\nxx\ty\tz\n', { minWidth: 6, padding: 3 })).toBe(
      'A     B     C\nxx    y     z\n',
    );
  });
});
