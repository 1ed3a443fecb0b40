import { describe, expect, it } from 'vitest';
import { deploymentHandler as h } from './deployment.js';
import { replicaSetHandler } from './replicaset.js';
import { clone, create, obj, update } from './testing.js';

function deploy(spec: Record<string, unknown> = {}) {
  return obj('apps/v1', 'Deployment', {
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
      },
      ...spec,
    },
  });
}

describe('Deployment defaults', () => {
  it('fills in replicas, strategy, history, deadline and the pod template', () => {
    const d = deploy();
    h.defaults(d);
    expect(d.spec).toMatchObject({
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      template: {
        spec: {
          restartPolicy: 'Always',
          dnsPolicy: 'ClusterFirst',
          terminationGracePeriodSeconds: 30,
          schedulerName: 'default-scheduler',
          containers: [{ name: 'web', imagePullPolicy: 'IfNotPresent', terminationMessagePolicy: 'File' }],
        },
      },
    });
    // Pod-only defaults (priority, requests from limits) are not applied to templates.
    expect(
      (d.spec as { template: { spec: Record<string, unknown> } }).template.spec['priority'],
    ).toBeUndefined();
  });

  it('leaves rollingUpdate out for Recreate', () => {
    const d = deploy({ strategy: { type: 'Recreate' } });
    h.defaults(d);
    expect((d.spec as { strategy: unknown }).strategy).toEqual({ type: 'Recreate' });
  });
});

describe('Deployment validation', () => {
  it('accepts a defaulted deployment', () => {
    expect(create(h, deploy())).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['a missing selector', { selector: undefined }, ['spec.selector: Required value']],
    [
      'an empty selector',
      { selector: {} },
      ['spec.selector: Invalid value: {}: empty selector is invalid for deployment'],
    ],
    [
      'a selector that does not match the template',
      { selector: { matchLabels: { app: 'api' } } },
      [
        'spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`',
      ],
    ],
    [
      'negative replicas',
      { replicas: -1 },
      ['spec.replicas: Invalid value: -1: must be greater than or equal to 0'],
    ],
    [
      'rollingUpdate with Recreate',
      { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: 1 } } },
      ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"],
    ],
    [
      'maxSurge and maxUnavailable both 0',
      { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: '0%' } } },
      ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when `maxSurge` is 0'],
    ],
    [
      'bad percentages',
      {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '5 percent', maxUnavailable: '120%' } },
      },
      [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: \"5 percent\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
        'spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be greater than 100%',
      ],
    ],
    [
      'an unknown strategy type',
      { strategy: { type: 'BlueGreen' } },
      ['spec.strategy.type: Unsupported value: "BlueGreen": supported values: "Recreate", "RollingUpdate"'],
    ],
    [
      'progressDeadlineSeconds not above minReadySeconds',
      { minReadySeconds: 600 },
      ['spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds'],
    ],
    [
      'a template that is not restartPolicy Always',
      {
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { restartPolicy: 'Never', containers: [{ name: 'web', image: 'x' }] },
        },
      },
      ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'],
    ],
    [
      'a template with an invalid container',
      { template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web' }] } } },
      ['spec.template.spec.containers[0].image: Required value'],
    ],
  ])('rejects %s', (_n, spec, expected) => {
    expect(create(h, deploy(spec))).toEqual(expected);
  });

  it('keeps the selector immutable but allows template changes', () => {
    expect(
      update(h, deploy(), (d) => {
        const spec = d.spec as {
          selector: unknown;
          template: { metadata: { labels: Record<string, string> } };
        };
        spec.selector = { matchLabels: { app: 'web', v: '2' } };
        spec.template.metadata.labels['v'] = '2';
      }),
    ).toEqual(['spec.selector: Invalid value: {"matchLabels":{"app":"web","v":"2"}}: field is immutable']);
    expect(update(h, deploy(), (d) => ((d.spec as { replicas: number }).replicas = 5))).toEqual([]);
  });
});

describe('ReplicaSet', () => {
  it('defaults replicas and validates like a Deployment', () => {
    const rs = clone(deploy());
    rs.kind = 'ReplicaSet';
    replicaSetHandler.defaults(rs);
    expect((rs.spec as { replicas: number }).replicas).toBe(1);
    expect((rs.spec as Record<string, unknown>)['strategy']).toBeUndefined();
    expect(replicaSetHandler.validate(rs)).toEqual([]);
    const bad = clone(rs);
    (bad.spec as Record<string, unknown>)['selector'] = {
      matchExpressions: [{ key: 'app', operator: 'In', values: ['api'] }],
    };
    expect(replicaSetHandler.validate(bad).map((c) => c.message)).toEqual([
      'Invalid value: {"app":"web"}: `selector` does not match template `labels`',
    ]);
  });
});
