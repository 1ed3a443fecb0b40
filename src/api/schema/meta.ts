// meta/v1 shapes shared by every kind: ObjectMeta, ListMeta, LabelSelector, Status, Condition.

import {
  arrayOf,
  boolean,
  dateTime,
  enumOf,
  int32,
  int64,
  listMap,
  listSet,
  mapOf,
  object,
  preserveUnknown,
  quantity,
  string,
  type ObjectSchema,
  type Schema,
} from './dsl.js';

export const ownerReference = object(
  {
    apiVersion: string(),
    kind: string(),
    name: string(),
    uid: string(),
    controller: boolean(),
    blockOwnerDeletion: boolean(),
  },
  { required: ['apiVersion', 'kind', 'name', 'uid'] },
);

export const objectMeta = object({
  name: string(),
  generateName: string(),
  namespace: string(),
  selfLink: string(),
  uid: string(),
  resourceVersion: string(),
  generation: int64(),
  creationTimestamp: dateTime(),
  deletionTimestamp: dateTime(),
  deletionGracePeriodSeconds: int64(),
  labels: mapOf(),
  annotations: mapOf(),
  ownerReferences: listMap(ownerReference, 'uid'),
  finalizers: listSet(),
  managedFields: arrayOf(preserveUnknown()),
});

export const listMeta = object({
  selfLink: string(),
  resourceVersion: string(),
  continue: string(),
  remainingItemCount: int64(),
});

export const labelSelectorRequirement = object(
  {
    key: string(),
    // Operator values are checked by validateLabelSelector, with upstream's message.
    operator: string(),
    values: arrayOf(string()),
  },
  { required: ['key', 'operator'] },
);

export const labelSelector = object({
  matchLabels: mapOf(),
  matchExpressions: arrayOf(labelSelectorRequirement),
});

export const conditionStatus = enumOf(['True', 'False', 'Unknown']);

/** metav1.Condition (Service status, newer APIs). */
export const metaCondition = object(
  {
    type: string(),
    status: conditionStatus,
    observedGeneration: int64(),
    lastTransitionTime: dateTime(),
    reason: string(),
    message: string(),
  },
  { required: ['type', 'status'] },
);

/** A `conditions` list merged by type. */
export function conditions(item: Schema = metaCondition): Schema {
  return listMap(item, 'type');
}

/** map[ResourceName]Quantity (requests, limits, capacity...). */
export const resourceList = mapOf(quantity());

export const status = object({
  kind: string(),
  apiVersion: string(),
  metadata: listMeta,
  status: string(),
  message: string(),
  reason: string(),
  details: object({
    name: string(),
    group: string(),
    kind: string(),
    uid: string(),
    causes: arrayOf(object({ reason: string(), message: string(), field: string() })),
    retryAfterSeconds: int32(),
  }),
  code: int32(),
});

/** A top-level kind: apiVersion, kind, metadata plus its own fields. */
export function kind(fields: Record<string, Schema>): ObjectSchema {
  return object({ apiVersion: string(), kind: string(), metadata: objectMeta, ...fields });
}
