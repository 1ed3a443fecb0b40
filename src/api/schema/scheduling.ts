// scheduling.k8s.io/v1 PriorityClass: a name for a pod priority (spec.priorityClassName).

import { boolean, enumOf, int32, object, string } from './dsl.js';
import { kind } from './meta.js';

export const preemptionPolicy = enumOf(['PreemptLowerPriority', 'Never']);

export const priorityClass = object(
  {
    ...kind({}).properties,
    value: int32(),
    globalDefault: boolean(),
    description: string(),
    preemptionPolicy,
  },
  { required: ['value'] },
);
