// coordination.k8s.io/v1 Lease (node heartbeats, leader election).

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asObj } from '../validation/access.js';
import { nonNegative, positive } from '../validation/common.js';
import { defineKind } from './handler.js';

function validateLease(lease: KubeObject): StatusCause[] {
  const spec = asObj(lease.spec) ?? {};
  return [
    ...positive(spec['leaseDurationSeconds'], 'spec.leaseDurationSeconds'),
    ...nonNegative(spec['leaseTransitions'], 'spec.leaseTransitions'),
  ];
}

export const leaseHandler = defineKind({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  validate: validateLease,
});
