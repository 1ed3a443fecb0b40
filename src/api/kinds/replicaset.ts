// apps/v1 ReplicaSet.

import type { KubeObject } from '../types.js';
import { ensureObj, unset } from '../validation/access.js';
import { defineKind } from './handler.js';
import { defaultTemplate, validateSelectorUpdate, validateWorkloadSpec } from './workload.js';

function defaultReplicaSet(rs: KubeObject): void {
  const spec = ensureObj(rs, 'spec');
  if (unset(spec['replicas'])) spec['replicas'] = 1;
  defaultTemplate(spec);
}

export const replicaSetHandler = defineKind({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  defaults: defaultReplicaSet,
  validate: validateWorkloadSpec,
  validateUpdate: validateSelectorUpdate,
});
