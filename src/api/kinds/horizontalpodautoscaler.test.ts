import { describe, expect, it } from 'vitest';
import { horizontalPodAutoscalerHandler as h } from './horizontalpodautoscaler.js';
import { create, obj } from './testing.js';

const hpa = (spec: Record<string, unknown>) =>
  obj('autoscaling/v2', 'HorizontalPodAutoscaler', {
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' },
      maxReplicas: 5,
      ...spec,
    },
  });

describe('HorizontalPodAutoscaler defaults', () => {
  it('minReplicas 1 and CPU at 80% when no metrics are given', () => {
    const x = hpa({});
    h.defaults(x);
    expect(x.spec).toMatchObject({
      minReplicas: 1,
      metrics: [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } },
        },
      ],
    });
    expect((x.spec as Record<string, unknown>)['behavior']).toBeUndefined();
  });

  it('fills behavior rules only when behavior is given', () => {
    const x = hpa({ behavior: { scaleDown: { stabilizationWindowSeconds: 60 } } });
    h.defaults(x);
    expect((x.spec as { behavior: unknown }).behavior).toEqual({
      scaleUp: {
        stabilizationWindowSeconds: 0,
        selectPolicy: 'Max',
        policies: [
          { type: 'Pods', value: 4, periodSeconds: 15 },
          { type: 'Percent', value: 100, periodSeconds: 15 },
        ],
      },
      scaleDown: {
        stabilizationWindowSeconds: 60,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      },
    });
  });
});

describe('HorizontalPodAutoscaler validation', () => {
  it('accepts typical autoscalers', () => {
    expect(create(h, hpa({}))).toEqual([]);
    expect(
      create(
        h,
        hpa({
          metrics: [
            {
              type: 'Resource',
              resource: { name: 'memory', target: { type: 'AverageValue', averageValue: '500Mi' } },
            },
            {
              type: 'Pods',
              pods: { metric: { name: 'rps' }, target: { type: 'AverageValue', averageValue: '100' } },
            },
          ],
        }),
      ),
    ).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    [
      'minReplicas 0',
      { minReplicas: 0 },
      [
        'spec.minReplicas: Invalid value: 0: must be greater than or equal to 1 (scale to zero is opt-in: set the annotation flotilla.dev/scale-to-zero: "true")',
      ],
    ],
    [
      'maxReplicas below minReplicas',
      { minReplicas: 3, maxReplicas: 2 },
      ['spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`'],
    ],
    ['maxReplicas 0', { maxReplicas: 0 }, ['spec.maxReplicas: Invalid value: 0: must be greater than 0']],
    ['no target', { scaleTargetRef: { name: 'web' } }, ['spec.scaleTargetRef.kind: Required value']],
    [
      'a metric without its source',
      { metrics: [{ type: 'Resource', pods: {} }] },
      [
        'spec.metrics[0].pods: Forbidden: must populate the given metric source only',
        'spec.metrics[0].resource: Required value: must populate information for the given metric source',
      ],
    ],
    [
      'a utilization target without a value',
      { metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization' } } }] },
      [
        'spec.metrics[0].resource.target.averageUtilization: Required value: must set either a target raw value or a target utilization',
      ],
    ],
    [
      'an unknown metric and target type',
      {
        metrics: [
          { type: 'Magic' },
          { type: 'Resource', resource: { name: 'cpu', target: { type: 'Most', averageUtilization: 50 } } },
        ],
      },
      [
        'spec.metrics[0].type: Unsupported value: "Magic": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"',
        'spec.metrics[1].resource.target.type: Unsupported value: "Most": supported values: "AverageValue", "Utilization", "Value"',
      ],
    ],
    [
      'bad behavior policies',
      {
        behavior: {
          scaleUp: {
            stabilizationWindowSeconds: 4000,
            policies: [{ type: 'Pods', value: 0, periodSeconds: 2000 }],
          },
        },
      },
      [
        'spec.behavior.scaleUp.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600',
        'spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero',
        'spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 2000: must be less than or equal to 1800',
      ],
    ],
  ])('rejects %s', (_n, spec, expected) => {
    expect(create(h, hpa(spec))).toEqual(expected);
  });
});

describe('HorizontalPodAutoscaler scale to zero', () => {
  const scaleToZero = { 'flotilla.dev/scale-to-zero': 'true' };
  const serviceMetric = {
    type: 'Object',
    object: {
      describedObject: { apiVersion: 'v1', kind: 'Service', name: 'web' },
      metric: { name: 'requests-per-second' },
      target: { type: 'AverageValue', averageValue: '5' },
    },
  };
  const withMeta = (spec: Record<string, unknown>, annotations: Record<string, string>) => {
    const x = hpa(spec);
    x.metadata.annotations = annotations;
    return x;
  };

  it('accepts minReplicas 0 when opted in with an Object metric on a Service', () => {
    expect(create(h, withMeta({ minReplicas: 0, metrics: [serviceMetric] }, scaleToZero))).toEqual([]);
  });

  it('refuses it without an Object metric on a Service, naming what is missing', () => {
    const cpuOnly = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } },
      },
    ];
    expect(create(h, withMeta({ minReplicas: 0, metrics: cpuOnly }, scaleToZero))).toEqual([
      'spec.minReplicas: Invalid value: 0: scale to zero needs an Object metric describing a v1 Service (for example requests-per-second of the Service in front of the target): its traffic wakes the target up',
    ]);
  });

  it('refuses a negative minReplicas', () => {
    expect(create(h, withMeta({ minReplicas: -1, metrics: [serviceMetric] }, scaleToZero))).toEqual([
      'spec.minReplicas: Invalid value: -1: must be greater than or equal to 0',
    ]);
  });
});
