// networking.k8s.io/v1 ServiceCIDR: one or two CIDRs (one per IP family) Service ClusterIPs come from.
// Clients may only read it (resources.ts); the API server writes the `kubernetes` object from
// --service-cluster-ip-range at start (apiserver/admission-plugins.ts, ensureKubernetesServiceCIDR).

import type { StatusCause } from '../errors.js';
import type { KubeObject } from '../types.js';
import { asArr, asObj } from '../validation/access.js';
import { field, index } from '../validation/field.js';
import { canonicalCIDR, isIPv4 } from '../validation/names.js';
import { defineKind } from './handler.js';

/** The object the API server keeps, as upstream's default ServiceCIDR. */
export const kubernetesServiceCIDRName = 'kubernetes';

const readyReason = 'ServiceClusterIPRange';
const readyMessage = 'The Service ClusterIP range set by the API server flag --service-cluster-ip-range';

/**
 * The `kubernetes` ServiceCIDR for the server's ranges: spec.cidrs and a Ready=True condition that has
 * been true since `readySince`.
 */
export function kubernetesServiceCIDRObject(cidrs: readonly string[], readySince: string): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'ServiceCIDR',
    metadata: { name: kubernetesServiceCIDRName },
    spec: { cidrs: [...cidrs] },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: readyReason,
          message: readyMessage,
          lastTransitionTime: readySince,
        },
      ],
    },
  };
}

const cidrsPath = 'spec.cidrs';

function validateServiceCIDR(sc: KubeObject): StatusCause[] {
  const cidrs = asArr(asObj(sc.spec)?.['cidrs']);
  if (cidrs.length === 0) return [field.required(cidrsPath, 'at least one CIDR required')];
  if (cidrs.length > 2) return [field.invalid(cidrsPath, cidrs, 'may only hold up to 2 values')];
  const causes: StatusCause[] = [];
  const families: string[] = [];
  cidrs.forEach((c, i) => {
    const canonical = typeof c === 'string' ? canonicalCIDR(c) : undefined;
    if (canonical === undefined) {
      causes.push(
        field.invalid(
          index(cidrsPath, i),
          c,
          'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        ),
      );
    } else if (canonical !== c) {
      causes.push(field.invalid(index(cidrsPath, i), c, `must be in canonical form ("${canonical}")`));
    } else {
      families.push(isIPv4(c.slice(0, c.indexOf('/'))) ? 'IPv4' : 'IPv6');
    }
  });
  if (families.length === 2 && families[0] === families[1]) {
    causes.push(
      field.invalid(
        cidrsPath,
        cidrs,
        'may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64',
      ),
    );
  }
  return causes;
}

export const serviceCIDRHandler = defineKind({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'ServiceCIDR',
  namespaced: false,
  validate: validateServiceCIDR,
});
