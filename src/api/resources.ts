// The table of every resource the API serves: group/version/kind, REST names, scope, discovery data.
// Everything that needs to map between kinds, paths and store keys reads it from here.

export type Verb = 'create' | 'delete' | 'deletecollection' | 'get' | 'list' | 'patch' | 'update' | 'watch';

export interface SubresourceInfo {
  name: 'status' | 'scale';
  /** The kind served by the subresource: the parent kind for `status`, autoscaling/v1 Scale for `scale`. */
  group: string;
  version: string;
  kind: string;
  verbs: Verb[];
}

export interface ConnectSubresourceInfo {
  name: 'log' | 'exec' | 'proxy';
  group: string;
  version: string;
  kind: string;
  verbs: Verb[];
}

/**
 * Create-only subresources that act on the parent object and answer with a Status: pods/binding (the
 * scheduler's write of spec.nodeName) and pods/eviction (a graceful delete, as `kubectl drain` asks).
 */
export interface ActionSubresourceInfo {
  name: 'binding' | 'eviction';
  /** The kind of the request body: v1 Binding, policy/v1 Eviction. */
  group: string;
  version: string;
  kind: string;
  verbs: Verb[];
}

export interface ResourceInfo {
  group: string;
  version: string;
  kind: string;
  /** Plural lower-case REST name, e.g. `deployments`. */
  resource: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  verbs: Verb[];
  subresources: SubresourceInfo[];
  /**
   * Connect subresources (pods/log, pods/exec, nodes/proxy) as upstream lists them in discovery: served by a
   * node agent through the API server's node proxy; they have no object schema of their own (kept apart
   * from `subresources`, whose entries get OpenAPI read/replace/patch operations).
   */
  connectSubresources: ConnectSubresourceInfo[];
  /** POST-only subresources answered with a Status (pods/binding, pods/eviction). */
  actionSubresources: ActionSubresourceInfo[];
  /** Field selectors beyond metadata.name / metadata.namespace. */
  fieldSelectors: string[];
  /**
   * Why the verbs missing from `verbs` are refused: said in the 405 MethodNotAllowed a client gets for
   * one of them (e.g. what sets the objects instead). Without it the 405 lists the supported verbs.
   */
  refusedVerbsReason?: string;
}

const allVerbs: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
/** Resources clients may only read; the server writes them itself (through its registry). */
const readVerbs: Verb[] = ['get', 'list', 'watch'];
const statusVerbs: Verb[] = ['get', 'patch', 'update'];

function status(group: string, version: string, kind: string): SubresourceInfo {
  return { name: 'status', group, version, kind, verbs: statusVerbs };
}
function scale(): SubresourceInfo {
  return { name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: statusVerbs };
}

function r(
  group: string,
  version: string,
  kind: string,
  resource: string,
  namespaced: boolean,
  extra: Partial<
    Pick<
      ResourceInfo,
      | 'shortNames'
      | 'categories'
      | 'verbs'
      | 'subresources'
      | 'connectSubresources'
      | 'actionSubresources'
      | 'fieldSelectors'
      | 'refusedVerbsReason'
    >
  > = {},
): ResourceInfo {
  return {
    group,
    version,
    kind,
    resource,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames: extra.shortNames ?? [],
    categories: extra.categories ?? [],
    verbs: extra.verbs ?? allVerbs,
    subresources: extra.subresources ?? [],
    connectSubresources: extra.connectSubresources ?? [],
    actionSubresources: extra.actionSubresources ?? [],
    fieldSelectors: extra.fieldSelectors ?? [],
    ...(extra.refusedVerbsReason === undefined ? {} : { refusedVerbsReason: extra.refusedVerbsReason }),
  };
}

export const resources: readonly ResourceInfo[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, {
    shortNames: ['ns'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [status('', 'v1', 'Namespace')],
    fieldSelectors: ['status.phase'],
  }),
  r('', 'v1', 'Pod', 'pods', true, {
    shortNames: ['po'],
    categories: ['all'],
    subresources: [status('', 'v1', 'Pod')],
    connectSubresources: [
      { name: 'exec', group: '', version: 'v1', kind: 'PodExecOptions', verbs: ['create', 'get'] },
      { name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] },
    ],
    actionSubresources: [
      { name: 'binding', group: '', version: 'v1', kind: 'Binding', verbs: ['create'] },
      { name: 'eviction', group: 'policy', version: 'v1', kind: 'Eviction', verbs: ['create'] },
    ],
    fieldSelectors: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
  }),
  r('', 'v1', 'Service', 'services', true, {
    shortNames: ['svc'],
    categories: ['all'],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [status('', 'v1', 'Service')],
    fieldSelectors: ['spec.clusterIP', 'spec.type'],
  }),
  r('', 'v1', 'ConfigMap', 'configmaps', true, { shortNames: ['cm'] }),
  r('', 'v1', 'Secret', 'secrets', true, { fieldSelectors: ['type'] }),
  r('', 'v1', 'Node', 'nodes', false, {
    shortNames: ['no'],
    subresources: [status('', 'v1', 'Node')],
    connectSubresources: [
      {
        name: 'proxy',
        group: '',
        version: 'v1',
        kind: 'NodeProxyOptions',
        verbs: ['create', 'delete', 'get', 'patch', 'update'],
      },
    ],
    fieldSelectors: ['spec.unschedulable'],
  }),
  r('', 'v1', 'Event', 'events', true, {
    shortNames: ['ev'],
    fieldSelectors: [
      'involvedObject.kind',
      'involvedObject.namespace',
      'involvedObject.name',
      'involvedObject.uid',
      'involvedObject.apiVersion',
      'involvedObject.resourceVersion',
      'involvedObject.fieldPath',
      'reason',
      'reportingComponent',
      'source',
      'type',
    ],
  }),
  r('', 'v1', 'Endpoints', 'endpoints', true, { shortNames: ['ep'] }),
  r('apps', 'v1', 'Deployment', 'deployments', true, {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [status('apps', 'v1', 'Deployment'), scale()],
  }),
  r('apps', 'v1', 'ReplicaSet', 'replicasets', true, {
    shortNames: ['rs'],
    categories: ['all'],
    subresources: [status('apps', 'v1', 'ReplicaSet'), scale()],
  }),
  r('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, {
    shortNames: ['hpa'],
    categories: ['all'],
    subresources: [status('autoscaling', 'v2', 'HorizontalPodAutoscaler')],
  }),
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true, {}),
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true, {}),
  r('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, { shortNames: ['pc'] }),
  // One object, `kubernetes`, written by the API server from --service-cluster-ip-range at start.
  r('networking.k8s.io', 'v1', 'ServiceCIDR', 'servicecidrs', false, {
    verbs: readVerbs,
    refusedVerbsReason:
      'servicecidrs are read-only; the Service ClusterIP range is set by the API server flag --service-cluster-ip-range',
  }),
];

/**
 * metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: answered read-only by apiserver/metrics from the
 * agents' stats, never stored, so kept out of `resources`; discovery lists them (not in `all`).
 */
export const metricsResources: readonly ResourceInfo[] = [
  r('metrics.k8s.io', 'v1beta1', 'NodeMetrics', 'nodes', false, { verbs: ['get', 'list'] }),
  r('metrics.k8s.io', 'v1beta1', 'PodMetrics', 'pods', true, { verbs: ['get', 'list'] }),
];

/** Whether `verb` is one of the REST verbs a resource may serve (not `head`, `options`...). */
export function isVerb(verb: string): verb is Verb {
  return (allVerbs as readonly string[]).includes(verb);
}

/**
 * The 405 MethodNotAllowed message for a verb `info` does not serve, e.g. `create is not allowed on
 * servicecidrs.networking.k8s.io: servicecidrs are read-only; ...`.
 */
export function refusedVerbMessage(info: ResourceInfo, verb: string): string {
  const name = info.group === '' ? info.resource : `${info.resource}.${info.group}`;
  const why = info.refusedVerbsReason ?? `the supported verbs are ${info.verbs.join(', ')}`;
  return `${verb} is not allowed on ${name}: ${why}`;
}

export function apiVersionOf(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function findByKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  const { group, version } = splitApiVersion(apiVersion);
  return resources.find((x) => x.group === group && x.version === version && x.kind === kind);
}

export function findByResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return resources.find((x) => x.group === group && x.version === version && x.resource === resource);
}

/** Resolve a name the CLI accepts: plural, singular, short name or kind, optionally `name.group`. */
export function findByAlias(alias: string): ResourceInfo | undefined {
  const lower = alias.toLowerCase();
  const dot = lower.indexOf('.');
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const group = dot < 0 ? undefined : lower.slice(dot + 1);
  return resources.find(
    (x) =>
      (group === undefined || x.group === group) &&
      (x.resource === base ||
        x.singular === base ||
        x.kind.toLowerCase() === base ||
        x.shortNames.includes(base)),
  );
}

/** Store key of an object: `/registry/<group>/<resource>/<namespace>/<name>` (cluster scope omits the namespace). */
export function storeKey(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${storePrefix(info, namespace)}${name}`;
}

/** Prefix for listing: all namespaces when `namespace` is undefined. Ends with `/`. */
export function storePrefix(info: ResourceInfo, namespace: string | undefined): string {
  const g = info.group === '' ? 'core' : info.group;
  const base = `/registry/${g}/${info.resource}/`;
  return info.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}
