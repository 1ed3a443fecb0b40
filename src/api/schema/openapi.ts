// OpenAPI v3 renderings of the schemas, with the Kubernetes extensions clients read:
// x-kubernetes-patch-merge-key / -patch-strategy (kubectl apply computes strategic merge patches
// from them), list types, int-or-string, preserve-unknown-fields and group-version-kind.
//
// Shapes shared between kinds (ObjectMeta, PodSpec, Container, LabelSelector...) and each kind's spec
// and status become components under upstream's definition names, referenced as upstream does:
// `{"allOf":[{"$ref":...}]}` with the property's own description and patch extensions beside it
// (kubectl's PatchMetaFromOpenAPIV3 reads the extensions on the property, then resolves allOf[0] and the
// $ref; `kubectl explain` prints `<PodSpec>` for such a field).

import { splitApiVersion } from '../resources.js';
import { deploymentStrategy } from './apps.js';
import { metricSpec, metricTarget, scalingRules } from './autoscaling.js';
import {
  affinity,
  container,
  containerPort,
  containerStatus,
  envVar,
  ephemeralContainer,
  localObjectReference,
  nodeCondition,
  nodeSelector,
  objectReference,
  podCondition,
  podSecurityContext,
  podSpec,
  podStatus,
  podTemplateSpec,
  probe,
  resourceRequirements,
  securityContext,
  servicePort,
  serviceSpec,
  serviceStatus,
  taint,
  toleration,
  volume,
} from './core.js';
import type { ObjectSchema, Schema } from './dsl.js';
import { kindSchemas } from './index.js';
import {
  labelSelector,
  labelSelectorRequirement,
  listMeta,
  objectMeta,
  ownerReference,
  status,
} from './meta.js';

export type OpenApiSchema = Record<string, unknown>;

const metaV1 = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const coreV1 = 'io.k8s.api.core.v1';

/** Upstream's definition name: `io.k8s.api.apps.v1.Deployment`, `io.k8s.api.core.v1.Pod`. */
export function definitionName(apiVersion: string, kind: string): string {
  if (apiVersion === 'v1' && kind === 'Status') return `${metaV1}.Status`;
  const { group, version } = splitApiVersion(apiVersion);
  const pkg = group === '' ? 'core' : group.replace(/\.k8s\.io$/, '').replace(/\./g, '_');
  return `io.k8s.api.${pkg}.${version}.${kind}`;
}

export const intOrStringName = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
export const quantityName = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/** Shared object shapes by their `properties` (withPatch copies keep them), with their names. */
const sharedNames = new Map<object, string>(
  (
    [
      [objectMeta, `${metaV1}.ObjectMeta`],
      [listMeta, `${metaV1}.ListMeta`],
      [labelSelector, `${metaV1}.LabelSelector`],
      [labelSelectorRequirement, `${metaV1}.LabelSelectorRequirement`],
      [ownerReference, `${metaV1}.OwnerReference`],
      [status, `${metaV1}.Status`],
      [podTemplateSpec, `${coreV1}.PodTemplateSpec`],
      [podSpec, `${coreV1}.PodSpec`],
      [podStatus, `${coreV1}.PodStatus`],
      [podCondition, `${coreV1}.PodCondition`],
      [podSecurityContext, `${coreV1}.PodSecurityContext`],
      [container, `${coreV1}.Container`],
      [ephemeralContainer, `${coreV1}.EphemeralContainer`],
      [containerPort, `${coreV1}.ContainerPort`],
      [containerStatus, `${coreV1}.ContainerStatus`],
      [envVar, `${coreV1}.EnvVar`],
      [probe, `${coreV1}.Probe`],
      [resourceRequirements, `${coreV1}.ResourceRequirements`],
      [securityContext, `${coreV1}.SecurityContext`],
      [volume, `${coreV1}.Volume`],
      [affinity, `${coreV1}.Affinity`],
      [nodeSelector, `${coreV1}.NodeSelector`],
      [toleration, `${coreV1}.Toleration`],
      [taint, `${coreV1}.Taint`],
      [nodeCondition, `${coreV1}.NodeCondition`],
      [objectReference, `${coreV1}.ObjectReference`],
      [localObjectReference, `${coreV1}.LocalObjectReference`],
      [serviceSpec, `${coreV1}.ServiceSpec`],
      [serviceStatus, `${coreV1}.ServiceStatus`],
      [servicePort, `${coreV1}.ServicePort`],
      [deploymentStrategy, 'io.k8s.api.apps.v1.DeploymentStrategy'],
      [metricSpec, 'io.k8s.api.autoscaling.v2.MetricSpec'],
      [metricTarget, 'io.k8s.api.autoscaling.v2.MetricTarget'],
      [scalingRules, 'io.k8s.api.autoscaling.v2.HPAScalingRules'],
    ] as [Schema, string][]
  )
    .filter(([s]) => s.type === 'object')
    .map(([s, name]) => [(s as ObjectSchema).properties, name]),
);

const primitiveComponents: Record<string, OpenApiSchema> = {
  [intOrStringName]: {
    description:
      'IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.',
    format: 'int-or-string',
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  },
  [quantityName]: {
    description:
      'Quantity is a fixed-point representation of a number, written as a string such as `100m`, `1Gi` or `2` (or as a number).',
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    pattern:
      '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
  },
};

/** What `kubectl explain <kind>` prints as the kind's DESCRIPTION. */
const kindDescriptions: Record<string, string> = {
  Namespace: 'Namespace provides a scope for Names. Use of multiple namespaces is optional.',
  Pod: 'Pod is a collection of containers that can run on a host. This resource is created by clients and scheduled onto hosts.',
  Service:
    'Service is a named abstraction of software service (for example, mysql) consisting of local port (for example 3306) that the proxy listens on, and the selector that determines which pods will answer requests sent through the proxy.',
  ConfigMap: 'ConfigMap holds configuration data for pods to consume.',
  Secret:
    'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.',
  Node: 'Node is a worker node in the cluster. Each node has a unique identifier in the cache (i.e. in etcd).',
  Event: 'Event is a report of an event somewhere in the cluster.',
  Endpoints: 'Endpoints is a collection of endpoints that implement the actual service.',
  Deployment: 'Deployment enables declarative updates for Pods and ReplicaSets.',
  ReplicaSet: 'ReplicaSet ensures that a specified number of pod replicas are running at any given time.',
  HorizontalPodAutoscaler:
    'HorizontalPodAutoscaler is the configuration for a horizontal pod autoscaler, which automatically manages the replica count of any resource implementing the scale subresource based on the metrics specified.',
  Scale: 'Scale represents a scaling request for a resource.',
  EndpointSlice:
    'EndpointSlice represents a set of service endpoints. Most EndpointSlices are created by the EndpointSlice controller to represent the Pods selected by Service objects.',
  Lease: 'Lease defines a lease concept.',
  PriorityClass: 'PriorityClass maps a priority class name to the integer priority of the pods that name it.',
  ServiceCIDR:
    'ServiceCIDR defines a range of IP addresses using CIDR format (e.g. 192.168.0.0/24 or 2001:db2::/64). This range is used to allocate ClusterIPs to Service objects. In Flotilla it is read-only: the API server keeps one object, `kubernetes`, holding its --service-cluster-ip-range.',
  Binding: 'Binding ties one object to another; for example, a pod is bound to a node by a scheduler.',
  Eviction:
    'Eviction asks for a pod to leave its node: POST it to .../pods/{name}/eviction. Flotilla has no PodDisruptionBudgets, so an eviction is always allowed and deletes the pod gracefully.',
  Status: "Status is a return value for calls that don't return other objects.",
};

function ref(name: string): OpenApiSchema {
  return { $ref: `#/components/schemas/${name}` };
}

/**
 * Renders schemas into one document's `components.schemas`, collecting the shared definitions they
 * reference. Without a renderer (`inline`), everything is written out in place.
 */
export class OpenApiRenderer {
  readonly schemas: Record<string, OpenApiSchema> = {};
  private readonly inline: boolean;

  constructor(opts: { inline?: boolean } = {}) {
    this.inline = opts.inline ?? false;
  }

  /** Add a top-level kind (or any named definition) with its group-version-kinds. */
  addKind(
    name: string,
    schema: Schema,
    gvk: { group: string; version: string; kind: string }[],
    description?: string,
  ): void {
    const kindName = name.slice(name.lastIndexOf('.') + 1);
    const pkg = name.slice(0, name.lastIndexOf('.'));
    const hints =
      schema.type === 'object'
        ? new Map<string, string>(
            ['spec', 'status']
              .filter((k) => schema.properties[k]?.type === 'object')
              .map((k) => [k, `${pkg}.${kindName}${k === 'spec' ? 'Spec' : 'Status'}`]),
          )
        : new Map<string, string>();
    const out = this.body(schema, hints);
    if (description !== undefined && out['description'] === undefined) out['description'] = description;
    out['x-kubernetes-group-version-kind'] = gvk;
    this.schemas[name] = out;
  }

  /** A schema for use at a property, list item or map value. */
  render(s: Schema, nameHint?: string): OpenApiSchema {
    const name = this.inline ? undefined : this.nameOf(s, nameHint);
    if (name === undefined) {
      const out = this.body(s);
      addExtensions(out, s);
      return out;
    }
    this.define(name, s);
    const siblings: OpenApiSchema = {};
    if (s.description !== undefined) siblings['description'] = s.description;
    addExtensions(siblings, s);
    return Object.keys(siblings).length === 0 ? ref(name) : { allOf: [ref(name)], ...siblings };
  }

  private nameOf(s: Schema, hint: string | undefined): string | undefined {
    if (s.type === 'int-or-string') return intOrStringName;
    if (s.type === 'quantity') return quantityName;
    if (s.type !== 'object') return undefined;
    return sharedNames.get(s.properties) ?? hint;
  }

  private define(name: string, s: Schema): void {
    if (name in this.schemas) return;
    const primitive = primitiveComponents[name];
    if (primitive !== undefined) {
      this.schemas[name] = { ...primitive };
      return;
    }
    this.schemas[name] = {}; // placeholder: stops recursion through cycles
    this.schemas[name] = this.body(s);
  }

  /** The schema itself, without the property-level patch extensions. */
  private body(s: Schema, hints?: Map<string, string>): OpenApiSchema {
    const out: OpenApiSchema = {};
    if (s.description !== undefined) out['description'] = s.description;
    switch (s.type) {
      case 'object':
        out['type'] = 'object';
        out['properties'] = Object.fromEntries(
          Object.entries(s.properties).map(([k, v]) => [k, this.render(v, hints?.get(k))]),
        );
        if (s.required !== undefined && s.required.length > 0) out['required'] = [...s.required];
        break;
      case 'string':
        out['type'] = 'string';
        if (s.format !== undefined) out['format'] = s.format;
        break;
      case 'integer':
        out['type'] = 'integer';
        out['format'] = s.format ?? 'int32';
        break;
      case 'number':
        out['type'] = 'number';
        out['format'] = 'double';
        break;
      case 'boolean':
        out['type'] = 'boolean';
        break;
      case 'int-or-string':
      case 'quantity': {
        const p = primitiveComponents[s.type === 'quantity' ? quantityName : intOrStringName] ?? {};
        const { description: _d, format: _f, ...rest } = p;
        Object.assign(out, rest);
        break;
      }
      case 'map':
        out['type'] = 'object';
        out['additionalProperties'] = this.render(s.values);
        break;
      case 'array':
        out['type'] = 'array';
        out['items'] = this.render(s.items);
        if (s.listType !== undefined) out['x-kubernetes-list-type'] = s.listType;
        if (s.listMapKeys !== undefined) out['x-kubernetes-list-map-keys'] = [...s.listMapKeys];
        break;
      case 'enum':
        out['type'] = 'string';
        out['enum'] = [...s.values];
        break;
      case 'date-time':
        out['type'] = 'string';
        out['format'] = 'date-time';
        break;
      case 'any':
        out['x-kubernetes-preserve-unknown-fields'] = true;
        break;
    }
    return out;
  }
}

function addExtensions(out: OpenApiSchema, s: Schema): void {
  if (s.mergeKey !== undefined) out['x-kubernetes-patch-merge-key'] = s.mergeKey;
  if (s.patchStrategy !== undefined) out['x-kubernetes-patch-strategy'] = s.patchStrategy;
}

/** One schema written out in place (no components), with its own patch extensions. */
export function toOpenApiSchema(s: Schema): OpenApiSchema {
  return new OpenApiRenderer({ inline: true }).render(s);
}

/** The kinds of one apiVersion, as `[kind, schema]`. */
export function kindsOf(apiVersion: string): [string, ObjectSchema][] {
  const out: [string, ObjectSchema][] = [];
  for (const [key, schema] of Object.entries(kindSchemas)) {
    const slash = key.lastIndexOf('/');
    if (key.slice(0, slash) === apiVersion) out.push([key.slice(slash + 1), schema]);
  }
  return out;
}

/**
 * An OpenAPI v3 document for one group-version (what `/openapi/v3/api/v1` or
 * `/openapi/v3/apis/apps/v1` serves), with components only; the apiserver adds paths.
 * `extraKinds` (`autoscaling/v1/Scale`) are kinds of other group-versions its operations return.
 */
export function openApiDocument(apiVersion: string, extraKinds: readonly string[] = []): OpenApiSchema {
  const renderer = new OpenApiRenderer();
  const add = (av: string, kind: string, schema: Schema): void => {
    const { group, version } = splitApiVersion(av);
    renderer.addKind(definitionName(av, kind), schema, [{ group, version, kind }], kindDescriptions[kind]);
  };
  for (const [kind, schema] of kindsOf(apiVersion)) add(apiVersion, kind, schema);
  for (const key of extraKinds) {
    const schema = kindSchemas[key];
    if (schema === undefined) continue;
    const slash = key.lastIndexOf('/');
    add(key.slice(0, slash), key.slice(slash + 1), schema);
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Flotilla', version: apiVersion },
    paths: {},
    components: { schemas: renderer.schemas },
  };
}
