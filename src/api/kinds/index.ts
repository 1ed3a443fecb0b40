// Every kind's defaults and validation, keyed `<apiVersion>/<kind>` (`v1/Pod`, `apps/v1/Deployment`).

import { configMapHandler } from './configmap.js';
import { deploymentHandler } from './deployment.js';
import { endpointsHandler } from './endpoints.js';
import { endpointSliceHandler } from './endpointslice.js';
import { eventHandler } from './event.js';
import type { KindHandler } from './handler.js';
import { horizontalPodAutoscalerHandler } from './horizontalpodautoscaler.js';
import { leaseHandler } from './lease.js';
import { namespaceHandler } from './namespace.js';
import { nodeHandler } from './node.js';
import { podHandler } from './pod.js';
import { priorityClassHandler } from './priorityclass.js';
import { replicaSetHandler } from './replicaset.js';
import { scaleHandler } from './scale.js';
import { secretHandler } from './secret.js';
import { serviceHandler } from './service.js';
import { serviceCIDRHandler } from './servicecidr.js';

export type { KindHandler } from './handler.js';
export { defaultPodSpec, podQosClass, validatePodSpec, validatePodTemplateSpec, imageTag } from './pod.js';
export { encodeBase64, decodeBase64 } from './secret.js';
export {
  highestUserDefinablePriority,
  systemPriorityClasses,
  systemPriorityClassObject,
  systemPriorityClassPrefix,
  type SystemPriorityClass,
} from './priorityclass.js';
export { kubernetesServiceCIDRName, kubernetesServiceCIDRObject } from './servicecidr.js';

export const kindHandlers: Readonly<Record<string, KindHandler>> = {
  'v1/Namespace': namespaceHandler,
  'v1/Pod': podHandler,
  'v1/Service': serviceHandler,
  'v1/ConfigMap': configMapHandler,
  'v1/Secret': secretHandler,
  'v1/Node': nodeHandler,
  'v1/Event': eventHandler,
  'v1/Endpoints': endpointsHandler,
  'apps/v1/Deployment': deploymentHandler,
  'apps/v1/ReplicaSet': replicaSetHandler,
  'autoscaling/v2/HorizontalPodAutoscaler': horizontalPodAutoscalerHandler,
  'autoscaling/v1/Scale': scaleHandler,
  'discovery.k8s.io/v1/EndpointSlice': endpointSliceHandler,
  'coordination.k8s.io/v1/Lease': leaseHandler,
  'scheduling.k8s.io/v1/PriorityClass': priorityClassHandler,
  'networking.k8s.io/v1/ServiceCIDR': serviceCIDRHandler,
};

/** The handler for an apiVersion and kind, or undefined. */
export function kindHandlerFor(apiVersion: string, kind: string): KindHandler | undefined {
  return kindHandlers[`${apiVersion}/${kind}`];
}
