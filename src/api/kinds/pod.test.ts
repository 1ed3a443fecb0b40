import { describe, expect, it } from 'vitest';
import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { imageTag, podHandler, podQosClass, podUpdateForbiddenMessage } from './pod.js';

function pod(spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', ...metadata },
    spec,
  };
}

function defaulted(p: KubeObject): KubeObject {
  podHandler.defaults(p);
  return p;
}

function summary(causes: StatusCause[]): string[] {
  return causes.map((c) => `${c.field}: ${c.message}`);
}

describe('Pod defaults', () => {
  it('fills in what Kubernetes fills in', () => {
    const p = defaulted(
      pod({
        containers: [
          {
            name: 'web',
            image: 'nginx:1.27',
            ports: [{ containerPort: 80 }],
            env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
            livenessProbe: { httpGet: { port: 80 } },
            resources: { limits: { cpu: '500m', memory: '64Mi' } },
          },
        ],
        initContainers: [{ name: 'init', image: 'busybox' }],
        volumes: [{ name: 'cache' }, { name: 'cfg', configMap: { name: 'cfg' } }],
      }),
    );
    expect(p.spec).toEqual({
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          imagePullPolicy: 'IfNotPresent',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          ports: [{ containerPort: 80, protocol: 'TCP' }],
          env: [{ name: 'NODE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } } }],
          livenessProbe: {
            httpGet: { port: 80, path: '/', scheme: 'HTTP' },
            timeoutSeconds: 1,
            periodSeconds: 10,
            successThreshold: 1,
            failureThreshold: 3,
          },
          resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '500m', memory: '64Mi' } },
        },
      ],
      initContainers: [
        {
          name: 'init',
          image: 'busybox',
          imagePullPolicy: 'Always',
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          resources: {},
        },
      ],
      volumes: [
        { name: 'cache', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'cfg', defaultMode: 420 } },
      ],
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      terminationGracePeriodSeconds: 30,
      securityContext: {},
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
    });
  });

  it('is idempotent and keeps what the user set', () => {
    const p = defaulted(
      pod({
        containers: [{ name: 'a', image: 'x:latest', imagePullPolicy: 'Never' }],
        restartPolicy: 'Never',
      }),
    );
    const once = JSON.stringify(p);
    defaulted(p);
    expect(JSON.stringify(p)).toBe(once);
    expect((p.spec as { restartPolicy: string }).restartPolicy).toBe('Never');
  });

  it('sets hostPort from containerPort under hostNetwork and mirrors serviceAccount', () => {
    const p = defaulted(
      pod({
        hostNetwork: true,
        serviceAccount: 'robot',
        containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 53, protocol: 'UDP' }] }],
      }),
    );
    const spec = p.spec as { containers: Array<{ ports: unknown[] }>; serviceAccountName: string };
    expect(spec.containers[0]?.ports).toEqual([{ containerPort: 53, protocol: 'UDP', hostPort: 53 }]);
    expect(spec.serviceAccountName).toBe('robot');
  });

  it.each([
    ['nginx', 'latest'],
    ['nginx:latest', 'latest'],
    ['nginx:1.2', '1.2'],
    ['registry:5000/team/app', 'latest'],
    ['registry:5000/team/app:v2', 'v2'],
    ['nginx@sha256:abc', ''],
  ])('image %s has tag %j', (image, tag) => expect(imageTag(image)).toBe(tag));
});

describe('Pod validation', () => {
  it('accepts a defaulted minimal pod', () => {
    expect(podHandler.validate(defaulted(pod({ containers: [{ name: 'web', image: 'nginx' }] })))).toEqual(
      [],
    );
  });

  it('reports every problem with full field paths', () => {
    const p = defaulted(
      pod(
        {
          restartPolicy: 'Sometimes',
          containers: [
            {
              name: 'Web',
              image: '',
              ports: [
                { containerPort: 0, name: 'http' },
                { containerPort: 81, name: 'http', protocol: 'tcp' },
              ],
            },
            { name: 'side', image: 'x', volumeMounts: [{ name: 'missing', mountPath: '/data' }] },
            {
              name: 'side',
              image: 'y',
              resources: { requests: { cpu: '2' }, limits: { cpu: '1', bogus: '1' } },
            },
          ],
          volumes: [{ name: 'v', emptyDir: {}, hostPath: { path: '/x' } }],
          tolerations: [{ key: 'k', operator: 'Exists', value: 'v' }],
          activeDeadlineSeconds: 0,
        },
        { name: 'Bad_Name', labels: { 'bad key': 'x' } },
      ),
    );
    expect(summary(podHandler.validate(p))).toEqual([
      expect.stringMatching(
        /^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/,
      ),
      expect.stringMatching(/^metadata\.labels: Invalid value: "bad key": name part must consist of/),
      'spec.containers[0].ports[1].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
      'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"',
      'spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type',
      expect.stringMatching(/^spec\.containers\[0\]\.name: Invalid value: "Web": a lowercase RFC 1123 label/),
      'spec.containers[0].image: Required value',
      'spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[1].name: Duplicate value: "http"',
      'spec.containers[1].volumeMounts[0].name: Not found: "missing"',
      'spec.containers[2].name: Duplicate value: "side"',
      'spec.containers[2].resources.limits[bogus]: Invalid value: "bogus": must be a standard resource for containers',
      // requests default to limits on Pods, so the bad name shows up there too
      'spec.containers[2].resources.requests[bogus]: Invalid value: "bogus": must be a standard resource for containers',
      'spec.containers[2].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1',
      'spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive',
      'spec.tolerations[0].operator: Invalid value: "Exists": value must be empty when `operator` is \'Exists\'',
    ]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no containers', { containers: [] }, 'spec.containers: Required value'],
    [
      'a probe with two handlers',
      {
        containers: [
          { name: 'a', image: 'x', livenessProbe: { exec: { command: ['true'] }, tcpSocket: { port: 80 } } },
        ],
      },
      'spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type',
    ],
    [
      'a probe with no handler',
      { containers: [{ name: 'a', image: 'x', readinessProbe: { periodSeconds: 3 } }] },
      'spec.containers[0].readinessProbe: Required value: must specify a handler type',
    ],
    [
      'liveness successThreshold ≠ 1',
      {
        containers: [
          { name: 'a', image: 'x', livenessProbe: { exec: { command: ['true'] }, successThreshold: 2 } },
        ],
      },
      'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
    ],
    [
      'a bad named port in a probe',
      { containers: [{ name: 'a', image: 'x', readinessProbe: { httpGet: { port: 'Http_Port' } } }] },
      'spec.containers[0].readinessProbe.httpGet.port: Invalid value: "Http_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
    ],
    [
      'probes on plain init containers',
      {
        containers: [{ name: 'a', image: 'x' }],
        initContainers: [{ name: 'i', image: 'x', readinessProbe: { exec: { command: ['x'] } } }],
      },
      'spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    ],
    [
      'duplicate names across init and app containers',
      { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'a', image: 'x' }] },
      'spec.containers[0].name: Duplicate value: "a"',
    ],
    [
      'env with value and valueFrom',
      {
        containers: [
          {
            name: 'a',
            image: 'x',
            env: [{ name: 'A', value: '1', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
          },
        ],
      },
      'spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
    ],
    [
      'an env var named with a leading digit',
      { containers: [{ name: 'a', image: 'x', env: [{ name: '1A' }] }] },
      'spec.containers[0].env[0].name: Invalid value: "1A": a valid environment variable name must consist of',
    ],
    [
      'an unsupported fieldRef',
      {
        containers: [
          { name: 'a', image: 'x', env: [{ name: 'A', valueFrom: { fieldRef: { fieldPath: 'spec.foo' } } }] },
        ],
      },
      'spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.foo"',
    ],
    [
      'a bad quantity sign',
      { containers: [{ name: 'a', image: 'x', resources: { requests: { memory: '-1Gi' } } }] },
      'spec.containers[0].resources.requests[memory]: Invalid value: "-1Gi": must be greater than or equal to 0',
    ],
    [
      'dnsPolicy None without dnsConfig',
      { containers: [{ name: 'a', image: 'x' }], dnsPolicy: 'None' },
      'spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None',
    ],
    [
      'empty node selector terms',
      {
        containers: [{ name: 'a', image: 'x' }],
        affinity: {
          nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
        },
      },
      'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term',
    ],
    [
      'a pod anti-affinity term without topologyKey',
      {
        containers: [{ name: 'a', image: 'x' }],
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { a: 'b' } } }],
          },
        },
      },
      'spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty',
    ],
    [
      'tolerationSeconds without NoExecute',
      {
        containers: [{ name: 'a', image: 'x' }],
        tolerations: [{ key: 'k', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 5 }],
      },
      'spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' when `tolerationSeconds` is set',
    ],
    [
      'duplicate topology spread constraints',
      {
        containers: [{ name: 'a', image: 'x' }],
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
          { maxSkew: 0, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
        ],
      },
      'spec.topologySpreadConstraints[1].maxSkew: Invalid value: 0: must be greater than zero',
    ],
    [
      'a hostPort differing from containerPort under hostNetwork',
      {
        hostNetwork: true,
        containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }] }],
      },
      'spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true',
    ],
    [
      'a volume without a name',
      { containers: [{ name: 'a', image: 'x' }], volumes: [{ configMap: {} }] },
      'spec.volumes[0].configMap.name: Required value',
    ],
  ])('rejects %s', (_name, spec, expected) => {
    const causes = summary(podHandler.validate(defaulted(pod(spec))));
    expect(
      causes.some((c) => c.startsWith(expected)),
      causes.join('\n'),
    ).toBe(true);
  });

  it('without defaults, defaulted fields are Required (as upstream: defaults are part of decoding)', () => {
    expect(summary(podHandler.validate(pod({ containers: [{ name: 'a', image: 'x' }] })))).toEqual([
      'spec.containers[0].imagePullPolicy: Required value',
      'spec.containers[0].terminationMessagePolicy: Required value',
      'spec.restartPolicy: Required value',
      'spec.dnsPolicy: Required value',
    ]);
  });
});

describe('Pod update', () => {
  const old = defaulted(
    pod(
      {
        containers: [{ name: 'web', image: 'nginx:1', command: ['nginx'] }],
        tolerations: [{ key: 'a', operator: 'Exists' }],
        activeDeadlineSeconds: 100,
      },
      { uid: 'u1', resourceVersion: '5' },
    ),
  );
  function update(
    mutate: (spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> }) => void,
  ): string[] {
    const next = JSON.parse(JSON.stringify(old)) as KubeObject;
    mutate(next.spec as Record<string, unknown> & { containers: Array<Record<string, unknown>> });
    return summary(podHandler.validateUpdate(next, old));
  }

  it('allows image changes, added tolerations and a shorter deadline', () => {
    expect(
      update((s) => {
        s.containers[0]!['image'] = 'nginx:2';
        (s['tolerations'] as unknown[]).push({ key: 'b', operator: 'Exists' });
        s['activeDeadlineSeconds'] = 50;
      }),
    ).toEqual([]);
  });

  it('forbids other spec changes, naming them', () => {
    expect(update((s) => (s.containers[0]!['command'] = ['sh']))).toEqual([
      `spec: Forbidden: ${podUpdateForbiddenMessage} (changed: spec.containers[0].command[0])`,
    ]);
    expect(update((s) => (s['nodeName'] = 'n1'))[0]).toContain('(changed: spec.nodeName)');
  });

  it('forbids removing tolerations and lengthening the deadline', () => {
    expect(
      update((s) => {
        s['tolerations'] = [];
        s['activeDeadlineSeconds'] = 200;
      }),
    ).toEqual([
      'spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value',
      'spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds',
    ]);
  });

  it('forbids renaming', () => {
    const next = JSON.parse(JSON.stringify(old)) as KubeObject;
    next.metadata.name = 'other';
    expect(summary(podHandler.validateUpdate(next, old))).toEqual([
      'metadata.name: Invalid value: "other": field is immutable',
    ]);
  });
});

describe('podQosClass', () => {
  it.each([
    [[{ resources: {} }], 'BestEffort'],
    [[{ resources: { limits: { cpu: '1', memory: '1Gi' } } }], 'Guaranteed'],
    [
      [{ resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '1000m', memory: '1Gi' } } }],
      'Guaranteed',
    ],
    [[{ resources: { requests: { cpu: '100m' } } }], 'Burstable'],
    [[{ resources: { limits: { cpu: '1', memory: '1Gi' } } }, { resources: {} }], 'Burstable'],
  ])('%j → %s', (containers, qos) => expect(podQosClass({ containers })).toBe(qos));
});
