// autoscaling/v1 Scale, served by the `scale` subresource of Deployments and ReplicaSets.

import type { KubeObject } from '../types.js';
import { asObj } from '../validation/access.js';
import { nonNegative } from '../validation/common.js';
import { defineKind } from './handler.js';

export const scaleHandler = defineKind({
  apiVersion: 'autoscaling/v1',
  kind: 'Scale',
  namespaced: true,
  validate: (s: KubeObject) => nonNegative(asObj(s.spec)?.['replicas'], 'spec.replicas'),
});
