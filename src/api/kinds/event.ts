// v1 Event (core events, as kubectl and controllers write them).

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asNum, asObj, asStr } from '../validation/access.js';
import { field } from '../validation/field.js';
import { defineKind } from './handler.js';

const clusterScopedKinds = new Set(['Node', 'Namespace', 'PersistentVolume', 'ClusterRole', 'StorageClass']);

function validateEvent(ev: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const involved = asObj(ev['involvedObject']) ?? {};
  const ns = ev.metadata.namespace ?? '';
  const ins = asStr(involved['namespace']) ?? '';
  const kind = asStr(involved['kind']) ?? '';
  if (clusterScopedKinds.has(kind)) {
    if (ins !== '')
      causes.push(field.invalid('involvedObject.namespace', ins, 'does not match involvedObject'));
  } else if (ins !== '' && ins !== ns) {
    causes.push(field.invalid('involvedObject.namespace', ins, 'does not match event.namespace'));
  }
  // New-style events (eventTime set) carry the reporting fields and a known type.
  if (ev['eventTime'] !== undefined && ev['eventTime'] !== null) {
    const type = asStr(ev['type']) ?? '';
    if (type !== 'Normal' && type !== 'Warning')
      causes.push(field.notSupported('type', type, ['Normal', 'Warning']));
    if ((asStr(ev['reportingComponent']) ?? '') === '') causes.push(field.required('reportingComponent'));
    if ((asStr(ev['reportingInstance']) ?? '') === '') causes.push(field.required('reportingInstance'));
    if ((asStr(ev['action']) ?? '') === '') causes.push(field.required('action'));
    if ((asStr(ev['reason']) ?? '') === '') causes.push(field.required('reason'));
  }
  const count = asNum(ev['count']);
  if (count !== undefined && count < 0)
    causes.push(field.invalid('count', count, 'must be greater than or equal to 0'));
  const message = asStr(ev['message']) ?? '';
  if (message.length > 4096) causes.push(field.tooLong('message', 4096));
  return causes;
}

export const eventHandler = defineKind({ apiVersion: 'v1', kind: 'Event', validate: validateEvent });
