// apps/v1 kinds: Deployment, ReplicaSet.

import { boolean, dateTime, enumOf, int32, int64, intOrString, object, string } from './dsl.js';
import { podTemplateSpec } from './core.js';
import { conditions, conditionStatus, kind, labelSelector } from './meta.js';

const appsCondition = (withUpdateTime: boolean) =>
  object(
    {
      type: string(),
      status: conditionStatus,
      ...(withUpdateTime ? { lastUpdateTime: dateTime() } : {}),
      lastTransitionTime: dateTime(),
      reason: string(),
      message: string(),
    },
    { required: ['type', 'status'] },
  );

export const deploymentStrategy = object(
  {
    type: enumOf(['Recreate', 'RollingUpdate']),
    rollingUpdate: object({ maxUnavailable: intOrString(), maxSurge: intOrString() }),
  },
  { patchStrategy: 'retainKeys' },
);

export const deployment = kind({
  spec: object(
    {
      replicas: int32(),
      selector: labelSelector,
      template: podTemplateSpec,
      strategy: deploymentStrategy,
      minReadySeconds: int32(),
      revisionHistoryLimit: int32(),
      paused: boolean(),
      progressDeadlineSeconds: int32(),
    },
    { required: ['selector', 'template'] },
  ),
  status: object({
    observedGeneration: int64(),
    replicas: int32(),
    updatedReplicas: int32(),
    readyReplicas: int32(),
    availableReplicas: int32(),
    unavailableReplicas: int32(),
    terminatingReplicas: int32(),
    conditions: conditions(appsCondition(true)),
    collisionCount: int32(),
  }),
});

export const replicaSet = kind({
  spec: object(
    {
      replicas: int32(),
      minReadySeconds: int32(),
      selector: labelSelector,
      template: podTemplateSpec,
    },
    { required: ['selector'] },
  ),
  status: object({
    replicas: int32(),
    fullyLabeledReplicas: int32(),
    readyReplicas: int32(),
    availableReplicas: int32(),
    terminatingReplicas: int32(),
    observedGeneration: int64(),
    conditions: conditions(appsCondition(false)),
  }),
});
