// scheduling.k8s.io/v1 PriorityClass: value and preemptionPolicy fixed at creation; names starting with
// `system-` are the built-in classes only; user classes go up to one billion. "Only one globalDefault" needs
// the other classes and is checked by the API server's admission.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asStr } from '../validation/access.js';
import { field } from '../validation/field.js';
import { defineKind } from './handler.js';

/** The highest value a user-defined class may have; above it are the system classes. */
export const highestUserDefinablePriority = 1_000_000_000;
export const systemPriorityClassPrefix = 'system-';

export interface SystemPriorityClass {
  name: string;
  value: number;
  description: string;
}

/** The classes the API server creates at start-up (and the only ones allowed to start with `system-`). */
export const systemPriorityClasses: readonly SystemPriorityClass[] = [
  {
    name: 'system-node-critical',
    value: 2_000_001_000,
    description: 'Used for system critical pods that must not be moved from their current node.',
  },
  {
    name: 'system-cluster-critical',
    value: 2_000_000_000,
    description:
      'Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.',
  },
];

const int32Min = -2_147_483_648;
const int32Max = 2_147_483_647;

/** The built-in class object for `c`. */
export function systemPriorityClassObject(c: SystemPriorityClass): KubeObject {
  return {
    apiVersion: 'scheduling.k8s.io/v1',
    kind: 'PriorityClass',
    metadata: { name: c.name },
    value: c.value,
    description: c.description,
    preemptionPolicy: 'PreemptLowerPriority',
  };
}

function defaultPriorityClass(pc: KubeObject): void {
  if (asStr(pc['preemptionPolicy']) === undefined || pc['preemptionPolicy'] === '')
    pc['preemptionPolicy'] = 'PreemptLowerPriority';
}

function validatePriorityClass(pc: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const value = pc['value'];
  const isInt32 =
    typeof value === 'number' && Number.isInteger(value) && value >= int32Min && value <= int32Max;
  if (value === undefined || value === null) causes.push(field.required('value'));
  else if (!isInt32) causes.push(field.invalid('value', value, 'must be a 32-bit integer'));
  const name = pc.metadata.name ?? '';
  if (name.startsWith(systemPriorityClassPrefix)) {
    const known = systemPriorityClasses.find((c) => c.name === name);
    const why =
      known === undefined
        ? `${name} is not a known system priority class`
        : value !== known.value
          ? `value of system priority class ${name} must be ${known.value}`
          : pc['globalDefault'] === true
            ? `system priority class ${name} may not be the global default`
            : undefined;
    if (why !== undefined) {
      causes.push(
        field.forbidden(
          'metadata.name',
          `priority class names with '${systemPriorityClassPrefix}' prefix are reserved for system use only. error: ${why}`,
        ),
      );
    }
  } else if (isInt32 && value > highestUserDefinablePriority) {
    causes.push(
      field.forbidden(
        'value',
        `maximum allowed value of a user defined priority is ${highestUserDefinablePriority}`,
      ),
    );
  }
  return causes;
}

function validatePriorityClassUpdate(n: KubeObject, o: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  if (n['value'] !== o['value']) causes.push(field.forbidden('value', 'may not be changed in an update.'));
  if (n['preemptionPolicy'] !== o['preemptionPolicy'])
    causes.push(field.immutable('preemptionPolicy', n['preemptionPolicy']));
  return causes;
}

export const priorityClassHandler = defineKind({
  apiVersion: 'scheduling.k8s.io/v1',
  kind: 'PriorityClass',
  namespaced: false,
  defaults: defaultPriorityClass,
  validate: validatePriorityClass,
  validateUpdate: validatePriorityClassUpdate,
});
