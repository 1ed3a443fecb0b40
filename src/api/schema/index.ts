// Schemas by apiVersion and kind.

import { deployment, replicaSet } from './apps.js';
import { horizontalPodAutoscaler, scale } from './autoscaling.js';
import { binding, configMap, endpoints, event, namespace, node, pod, secret, service } from './core.js';
import { endpointSlice, lease } from './discovery.js';
import type { ObjectSchema } from './dsl.js';
import { status } from './meta.js';
import { serviceCIDR } from './networking.js';
import { eviction } from './policy.js';
import { priorityClass } from './scheduling.js';

export * from './dsl.js';
export { objectMeta, labelSelector, listMeta, status as statusSchema } from './meta.js';
export { podSpec, podTemplateSpec, container } from './core.js';

/** Every schema, keyed `<apiVersion>/<kind>` (`v1/Pod`, `apps/v1/Deployment`). */
export const kindSchemas: Readonly<Record<string, ObjectSchema>> = {
  'v1/Namespace': namespace,
  'v1/Pod': pod,
  'v1/Service': service,
  'v1/ConfigMap': configMap,
  'v1/Secret': secret,
  'v1/Node': node,
  'v1/Event': event,
  'v1/Endpoints': endpoints,
  'v1/Status': status,
  'v1/Binding': binding,
  'apps/v1/Deployment': deployment,
  'apps/v1/ReplicaSet': replicaSet,
  'autoscaling/v2/HorizontalPodAutoscaler': horizontalPodAutoscaler,
  'autoscaling/v1/Scale': scale,
  'discovery.k8s.io/v1/EndpointSlice': endpointSlice,
  'coordination.k8s.io/v1/Lease': lease,
  'policy/v1/Eviction': eviction,
  'scheduling.k8s.io/v1/PriorityClass': priorityClass,
  'networking.k8s.io/v1/ServiceCIDR': serviceCIDR,
};

/** The schema of a kind, or undefined when Flotilla does not serve it. */
export function schemaFor(apiVersion: string, kind: string): ObjectSchema | undefined {
  return kindSchemas[`${apiVersion}/${kind}`];
}
