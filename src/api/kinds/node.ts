// v1 Node: allocatable defaults to capacity; taints, CIDRs, resource quantities; podCIDR and
// providerID may only go from unset to set.

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asArr, asObj, asStr, objItems, unset } from '../validation/access.js';
import { validateQuantityValue } from '../validation/common.js';
import { child, field, index, key } from '../validation/field.js';
import { isCIDR, isQualifiedName, isValidLabelValue } from '../validation/names.js';
import { defineKind } from './handler.js';

function defaultNode(node: KubeObject): void {
  const status = asObj(node.status);
  if (status !== undefined && unset(status['allocatable']) && asObj(status['capacity']) !== undefined) {
    status['allocatable'] = { ...(asObj(status['capacity']) ?? {}) };
  }
}

export function validateTaints(taints: unknown, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const seen = new Set<string>();
  for (const [t, i] of objItems(taints)) {
    const p = index(path, i);
    const k = asStr(t['key']) ?? '';
    if (k === '') causes.push(field.required(child(p, 'key')));
    else for (const m of isQualifiedName(k)) causes.push(field.invalid(child(p, 'key'), k, m));
    const v = asStr(t['value']) ?? '';
    for (const m of isValidLabelValue(v)) causes.push(field.invalid(child(p, 'value'), v, m));
    const effect = asStr(t['effect']) ?? '';
    if (effect === '') causes.push(field.required(child(p, 'effect')));
    const id = `${k}:${effect}`;
    if (seen.has(id)) causes.push(field.duplicate(p, id));
    seen.add(id);
  }
  return causes;
}

function validateNode(node: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const spec = asObj(node.spec) ?? {};
  causes.push(...validateTaints(spec['taints'], 'spec.taints'));
  const podCIDR = asStr(spec['podCIDR']) ?? '';
  if (podCIDR !== '' && !isCIDR(podCIDR)) {
    causes.push(
      field.invalid(
        'spec.podCIDR',
        podCIDR,
        'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      ),
    );
  }
  const cidrs = asArr(spec['podCIDRs']);
  cidrs.forEach((c, i) => {
    if (typeof c === 'string' && !isCIDR(c)) {
      causes.push(
        field.invalid(
          index('spec.podCIDRs', i),
          c,
          'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        ),
      );
    }
  });
  if (cidrs.length > 2)
    causes.push(
      field.invalid('spec.podCIDRs', cidrs, 'may specify no more than one CIDR for each IP family'),
    );
  if (podCIDR !== '' && cidrs.length > 0 && cidrs[0] !== podCIDR) {
    causes.push(field.invalid('spec.podCIDRs', cidrs, 'the first value must match `spec.podCIDR`'));
  }
  const status = asObj(node.status) ?? {};
  for (const which of ['capacity', 'allocatable'] as const) {
    for (const [name, q] of Object.entries(asObj(status[which]) ?? {})) {
      causes.push(...validateQuantityValue(q, key(child('status', which), name)));
    }
  }
  return causes;
}

function validateNodeUpdate(n: KubeObject, o: KubeObject): StatusCause[] {
  const ns = asObj(n.spec) ?? {};
  const os = asObj(o.spec) ?? {};
  const causes: StatusCause[] = [];
  const oldCIDRs = asArr(os['podCIDRs']);
  if (oldCIDRs.length > 0 && JSON.stringify(asArr(ns['podCIDRs'])) !== JSON.stringify(oldCIDRs)) {
    causes.push(
      field.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'),
    );
  } else if ((asStr(os['podCIDR']) ?? '') !== '' && ns['podCIDR'] !== os['podCIDR']) {
    causes.push(
      field.forbidden('spec.podCIDR', 'node updates may not change podCIDR except from "" to valid'),
    );
  }
  if ((asStr(os['providerID']) ?? '') !== '' && ns['providerID'] !== os['providerID']) {
    causes.push(
      field.forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'),
    );
  }
  return causes;
}

export const nodeHandler = defineKind({
  apiVersion: 'v1',
  kind: 'Node',
  namespaced: false,
  defaults: defaultNode,
  validate: validateNode,
  validateUpdate: validateNodeUpdate,
});
