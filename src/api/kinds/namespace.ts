// v1 Namespace: finalizer `kubernetes`, phase Active, DNS-1123 label names.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asArr, asObj, ensureObj, unset, unsetStr } from '../validation/access.js';
import { index } from '../validation/field.js';
import { nameIsDNSLabel, validateFinalizerName } from '../validation/metadata.js';
import { defineKind } from './handler.js';

function defaultNamespace(ns: KubeObject): void {
  const spec = ensureObj(ns, 'spec');
  if (unset(spec['finalizers'])) spec['finalizers'] = ['kubernetes'];
  const status = ensureObj(ns, 'status');
  if (unsetStr(status['phase'])) status['phase'] = 'Active';
}

function validateNamespace(ns: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  asArr(asObj(ns.spec)?.['finalizers']).forEach((f, i) => {
    if (typeof f === 'string') causes.push(...validateFinalizerName(f, index('spec.finalizers', i)));
  });
  return causes;
}

export const namespaceHandler = defineKind({
  apiVersion: 'v1',
  kind: 'Namespace',
  namespaced: false,
  validateName: nameIsDNSLabel,
  defaults: defaultNamespace,
  validate: validateNamespace,
});
