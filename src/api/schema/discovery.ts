// discovery.k8s.io/v1 EndpointSlice and coordination.k8s.io/v1 Lease.

import { arrayOf, boolean, dateTime, enumOf, int32, mapOf, object, string } from './dsl.js';
import { objectReference, protocol } from './core.js';
import { kind } from './meta.js';

export const addressType = enumOf(['IPv4', 'IPv6', 'FQDN']);

export const endpointSlice = kind({
  addressType,
  endpoints: arrayOf(
    object(
      {
        addresses: arrayOf(string(), { listType: 'set' }),
        conditions: object({ ready: boolean(), serving: boolean(), terminating: boolean() }),
        hostname: string(),
        targetRef: objectReference,
        deprecatedTopology: mapOf(),
        nodeName: string(),
        zone: string(),
        hints: object({
          forZones: arrayOf(object({ name: string() }, { required: ['name'] })),
          forNodes: arrayOf(object({ name: string() }, { required: ['name'] })),
        }),
      },
      { required: ['addresses'] },
    ),
  ),
  ports: arrayOf(object({ name: string(), protocol, port: int32(), appProtocol: string() })),
});

export const lease = kind({
  spec: object({
    holderIdentity: string(),
    leaseDurationSeconds: int32(),
    acquireTime: dateTime(),
    renewTime: dateTime(),
    leaseTransitions: int32(),
    strategy: string(),
    preferredHolder: string(),
  }),
});
