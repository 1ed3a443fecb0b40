// networking.k8s.io/v1 ServiceCIDR: the ranges Service ClusterIPs come from. Flotilla serves it read-only;
// the API server keeps one object, `kubernetes`, that mirrors --service-cluster-ip-range.

import { arrayOf, object, string } from './dsl.js';
import { conditions, kind } from './meta.js';

export const serviceCIDR = kind({
  spec: object({
    cidrs: arrayOf(string(), {
      listType: 'atomic',
      description:
        'CIDRs defines the IP blocks in CIDR notation (e.g. "192.168.0.0/24" or "2001:db8::/64") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.',
    }),
  }),
  status: object({ conditions: conditions() }),
});
