// autoscaling/v2 HorizontalPodAutoscaler and autoscaling/v1 Scale.

import { arrayOf, dateTime, enumOf, int32, int64, object, quantity, string } from './dsl.js';
import { conditions, conditionStatus, kind, labelSelector } from './meta.js';

const crossVersionObjectReference = object(
  { kind: string(), name: string(), apiVersion: string() },
  { required: ['kind', 'name'] },
);

const metricIdentifier = object({ name: string(), selector: labelSelector }, { required: ['name'] });

export const metricTarget = object(
  {
    type: enumOf(['Utilization', 'Value', 'AverageValue']),
    value: quantity(),
    averageValue: quantity(),
    averageUtilization: int32(),
  },
  { required: ['type'] },
);

const metricValueStatus = object({
  value: quantity(),
  averageValue: quantity(),
  averageUtilization: int32(),
});

export const metricType = enumOf(['Object', 'Pods', 'Resource', 'ContainerResource', 'External']);

export const metricSpec = object(
  {
    type: metricType,
    object: object(
      { describedObject: crossVersionObjectReference, target: metricTarget, metric: metricIdentifier },
      { required: ['describedObject', 'target', 'metric'] },
    ),
    pods: object({ metric: metricIdentifier, target: metricTarget }, { required: ['metric', 'target'] }),
    resource: object({ name: string(), target: metricTarget }, { required: ['name', 'target'] }),
    containerResource: object(
      { name: string(), target: metricTarget, container: string() },
      { required: ['name', 'target', 'container'] },
    ),
    external: object({ metric: metricIdentifier, target: metricTarget }, { required: ['metric', 'target'] }),
  },
  { required: ['type'] },
);

const metricStatus = object(
  {
    type: metricType,
    object: object({
      metric: metricIdentifier,
      current: metricValueStatus,
      describedObject: crossVersionObjectReference,
    }),
    pods: object({ metric: metricIdentifier, current: metricValueStatus }),
    resource: object({ name: string(), current: metricValueStatus }),
    containerResource: object({ name: string(), current: metricValueStatus, container: string() }),
    external: object({ metric: metricIdentifier, current: metricValueStatus }),
  },
  { required: ['type'] },
);

export const scalingRules = object({
  stabilizationWindowSeconds: int32(),
  selectPolicy: enumOf(['Max', 'Min', 'Disabled']),
  policies: arrayOf(
    object(
      { type: enumOf(['Pods', 'Percent']), value: int32(), periodSeconds: int32() },
      { required: ['type', 'value', 'periodSeconds'] },
    ),
  ),
  tolerance: quantity(),
});

export const horizontalPodAutoscaler = kind({
  spec: object(
    {
      scaleTargetRef: crossVersionObjectReference,
      minReplicas: int32(),
      maxReplicas: int32(),
      metrics: arrayOf(metricSpec),
      behavior: object({ scaleUp: scalingRules, scaleDown: scalingRules }),
    },
    { required: ['scaleTargetRef', 'maxReplicas'] },
  ),
  status: object({
    observedGeneration: int64(),
    lastScaleTime: dateTime(),
    currentReplicas: int32(),
    desiredReplicas: int32(),
    currentMetrics: arrayOf(metricStatus),
    conditions: conditions(
      object(
        {
          type: string(),
          status: conditionStatus,
          lastTransitionTime: dateTime(),
          reason: string(),
          message: string(),
        },
        { required: ['type', 'status'] },
      ),
    ),
  }),
});

export const scale = kind({
  spec: object({ replicas: int32() }),
  status: object({ replicas: int32(), selector: string() }, { required: ['replicas'] }),
});
