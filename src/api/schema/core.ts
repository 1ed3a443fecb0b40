// core/v1 kinds: Namespace, Pod, Service, ConfigMap, Secret, Node, Event, Endpoints.
// Field names, types and merge metadata follow k8s.io/api/core/v1/types.go.

import {
  arrayOf,
  boolean,
  bytes,
  dateTime,
  enumOf,
  int32,
  int64,
  intOrString,
  listMap,
  listSet,
  mapOf,
  object,
  preserveUnknown,
  quantity,
  string,
} from './dsl.js';
import {
  conditions,
  conditionStatus,
  kind,
  labelSelector,
  metaCondition,
  objectMeta,
  resourceList,
} from './meta.js';

export const protocol = enumOf(['TCP', 'UDP', 'SCTP']);

export const objectReference = object({
  kind: string(),
  namespace: string(),
  name: string(),
  uid: string(),
  apiVersion: string(),
  resourceVersion: string(),
  fieldPath: string(),
});

export const localObjectReference = object({ name: string() });

// ---------------------------------------------------------------------------------------------
// Containers

const keyToPath = object({ key: string(), path: string(), mode: int32() }, { required: ['key', 'path'] });
const objectFieldSelector = object(
  { apiVersion: string(), fieldPath: string() },
  { required: ['fieldPath'] },
);
const resourceFieldSelector = object(
  { containerName: string(), resource: string(), divisor: quantity() },
  { required: ['resource'] },
);
const keySelector = object({ name: string(), key: string(), optional: boolean() }, { required: ['key'] });

export const envVar = object(
  {
    name: string(),
    value: string(),
    valueFrom: object({
      fieldRef: objectFieldSelector,
      resourceFieldRef: resourceFieldSelector,
      configMapKeyRef: keySelector,
      secretKeyRef: keySelector,
      fileKeyRef: object({ volumeName: string(), path: string(), key: string(), optional: boolean() }),
    }),
  },
  { required: ['name'] },
);

const envFromSource = object({
  prefix: string(),
  configMapRef: object({ name: string(), optional: boolean() }),
  secretRef: object({ name: string(), optional: boolean() }),
});

export const containerPort = object(
  {
    name: string(),
    hostPort: int32(),
    containerPort: int32(),
    protocol,
    hostIP: string(),
  },
  { required: ['containerPort'] },
);

export const resourceRequirements = object({
  limits: resourceList,
  requests: resourceList,
  claims: listMap(object({ name: string(), request: string() }, { required: ['name'] }), 'name'),
});

const volumeMount = object(
  {
    name: string(),
    readOnly: boolean(),
    recursiveReadOnly: enumOf(['Disabled', 'IfPossible', 'Enabled']),
    mountPath: string(),
    subPath: string(),
    mountPropagation: enumOf(['None', 'HostToContainer', 'Bidirectional']),
    subPathExpr: string(),
  },
  { required: ['name', 'mountPath'] },
);

const httpHeader = object({ name: string(), value: string() }, { required: ['name', 'value'] });
const execAction = object({ command: arrayOf(string()) });
const httpGetAction = object(
  {
    path: string(),
    port: intOrString(),
    host: string(),
    scheme: enumOf(['HTTP', 'HTTPS']),
    httpHeaders: arrayOf(httpHeader),
  },
  { required: ['port'] },
);
const tcpSocketAction = object({ port: intOrString(), host: string() }, { required: ['port'] });
const grpcAction = object({ port: int32(), service: string() }, { required: ['port'] });

export const probe = object({
  exec: execAction,
  httpGet: httpGetAction,
  tcpSocket: tcpSocketAction,
  grpc: grpcAction,
  initialDelaySeconds: int32(),
  timeoutSeconds: int32(),
  periodSeconds: int32(),
  successThreshold: int32(),
  failureThreshold: int32(),
  terminationGracePeriodSeconds: int64(),
});

const lifecycleHandler = object({
  exec: execAction,
  httpGet: httpGetAction,
  tcpSocket: tcpSocketAction,
  sleep: object({ seconds: int64() }, { required: ['seconds'] }),
});

const lifecycle = object({ postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: string() });

const seLinuxOptions = object({ user: string(), role: string(), type: string(), level: string() });
const windowsOptions = object({
  gmsaCredentialSpecName: string(),
  gmsaCredentialSpec: string(),
  runAsUserName: string(),
  hostProcess: boolean(),
});
const seccompProfile = object(
  { type: enumOf(['RuntimeDefault', 'Unconfined', 'Localhost']), localhostProfile: string() },
  { required: ['type'] },
);
const appArmorProfile = object(
  { type: enumOf(['RuntimeDefault', 'Unconfined', 'Localhost']), localhostProfile: string() },
  { required: ['type'] },
);

export const securityContext = object({
  capabilities: object({ add: arrayOf(string()), drop: arrayOf(string()) }),
  privileged: boolean(),
  seLinuxOptions,
  windowsOptions,
  runAsUser: int64(),
  runAsGroup: int64(),
  runAsNonRoot: boolean(),
  readOnlyRootFilesystem: boolean(),
  allowPrivilegeEscalation: boolean(),
  procMount: enumOf(['Default', 'Unmasked']),
  seccompProfile,
  appArmorProfile,
});

export const podSecurityContext = object({
  seLinuxOptions,
  windowsOptions,
  runAsUser: int64(),
  runAsGroup: int64(),
  runAsNonRoot: boolean(),
  supplementalGroups: arrayOf(int64()),
  supplementalGroupsPolicy: enumOf(['Merge', 'Strict']),
  fsGroup: int64(),
  sysctls: arrayOf(object({ name: string(), value: string() }, { required: ['name', 'value'] })),
  fsGroupChangePolicy: enumOf(['OnRootMismatch', 'Always']),
  seccompProfile,
  appArmorProfile,
  seLinuxChangePolicy: string(),
});

const containerFields = {
  name: string(),
  image: string(),
  command: arrayOf(string()),
  args: arrayOf(string()),
  workingDir: string(),
  ports: arrayOf(containerPort, {
    mergeKey: 'containerPort',
    patchStrategy: 'merge',
    listType: 'map',
    listMapKeys: ['containerPort', 'protocol'],
  }),
  envFrom: arrayOf(envFromSource),
  env: listMap(envVar, 'name'),
  resources: resourceRequirements,
  resizePolicy: arrayOf(object({ resourceName: string(), restartPolicy: string() })),
  restartPolicy: enumOf(['Always']),
  volumeMounts: listMap(volumeMount, 'mountPath'),
  volumeDevices: listMap(
    object({ name: string(), devicePath: string() }, { required: ['name', 'devicePath'] }),
    'devicePath',
  ),
  livenessProbe: probe,
  readinessProbe: probe,
  startupProbe: probe,
  lifecycle,
  terminationMessagePath: string(),
  terminationMessagePolicy: enumOf(['File', 'FallbackToLogsOnError']),
  imagePullPolicy: enumOf(['Always', 'Never', 'IfNotPresent']),
  securityContext,
  stdin: boolean(),
  stdinOnce: boolean(),
  tty: boolean(),
};

export const container = object(containerFields, { required: ['name'] });
export const ephemeralContainer = object(
  { ...containerFields, targetContainerName: string() },
  { required: ['name'] },
);

// ---------------------------------------------------------------------------------------------
// Volumes

const downwardAPIVolumeFile = object(
  { path: string(), fieldRef: objectFieldSelector, resourceFieldRef: resourceFieldSelector, mode: int32() },
  { required: ['path'] },
);

export const volume = object(
  {
    name: string(),
    hostPath: object(
      {
        path: string(),
        type: enumOf([
          '',
          'DirectoryOrCreate',
          'Directory',
          'FileOrCreate',
          'File',
          'Socket',
          'CharDevice',
          'BlockDevice',
        ]),
      },
      { required: ['path'] },
    ),
    emptyDir: object({ medium: string(), sizeLimit: quantity() }),
    secret: object({
      secretName: string(),
      items: arrayOf(keyToPath),
      defaultMode: int32(),
      optional: boolean(),
    }),
    configMap: object({
      name: string(),
      items: arrayOf(keyToPath),
      defaultMode: int32(),
      optional: boolean(),
    }),
    persistentVolumeClaim: object({ claimName: string(), readOnly: boolean() }, { required: ['claimName'] }),
    downwardAPI: object({ items: arrayOf(downwardAPIVolumeFile), defaultMode: int32() }),
    projected: object({
      sources: arrayOf(
        object({
          secret: object({ name: string(), items: arrayOf(keyToPath), optional: boolean() }),
          configMap: object({ name: string(), items: arrayOf(keyToPath), optional: boolean() }),
          downwardAPI: object({ items: arrayOf(downwardAPIVolumeFile) }),
          serviceAccountToken: object(
            { audience: string(), expirationSeconds: int64(), path: string() },
            { required: ['path'] },
          ),
          clusterTrustBundle: preserveUnknown(),
          podCertificate: preserveUnknown(),
        }),
      ),
      defaultMode: int32(),
    }),
    nfs: object({ server: string(), path: string(), readOnly: boolean() }, { required: ['server', 'path'] }),
    image: object({ reference: string(), pullPolicy: enumOf(['Always', 'Never', 'IfNotPresent']) }),
    // Sources Flotilla does not provide are kept as given so manifests still decode.
    csi: preserveUnknown(),
    ephemeral: preserveUnknown(),
  },
  { required: ['name'] },
);

// ---------------------------------------------------------------------------------------------
// Scheduling

const nodeSelectorRequirement = object(
  {
    key: string(),
    operator: enumOf(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
    values: arrayOf(string()),
  },
  { required: ['key', 'operator'] },
);
const nodeSelectorTerm = object({
  matchExpressions: arrayOf(nodeSelectorRequirement),
  matchFields: arrayOf(nodeSelectorRequirement),
});
export const nodeSelector = object(
  { nodeSelectorTerms: arrayOf(nodeSelectorTerm) },
  { required: ['nodeSelectorTerms'] },
);

const podAffinityTerm = object(
  {
    labelSelector,
    namespaceSelector: labelSelector,
    namespaces: arrayOf(string()),
    topologyKey: string(),
    matchLabelKeys: arrayOf(string()),
    mismatchLabelKeys: arrayOf(string()),
  },
  { required: ['topologyKey'] },
);
const weightedPodAffinityTerm = object(
  { weight: int32(), podAffinityTerm },
  { required: ['weight', 'podAffinityTerm'] },
);
const podAffinity = object({
  requiredDuringSchedulingIgnoredDuringExecution: arrayOf(podAffinityTerm),
  preferredDuringSchedulingIgnoredDuringExecution: arrayOf(weightedPodAffinityTerm),
});

export const affinity = object({
  nodeAffinity: object({
    requiredDuringSchedulingIgnoredDuringExecution: nodeSelector,
    preferredDuringSchedulingIgnoredDuringExecution: arrayOf(
      object({ weight: int32(), preference: nodeSelectorTerm }, { required: ['weight', 'preference'] }),
    ),
  }),
  podAffinity,
  podAntiAffinity: podAffinity,
});

export const taintEffect = enumOf(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);

export const toleration = object({
  key: string(),
  operator: enumOf(['Exists', 'Equal']),
  value: string(),
  // '' tolerates every effect.
  effect: taintEffect,
  tolerationSeconds: int64(),
});

const topologySpreadConstraint = object(
  {
    maxSkew: int32(),
    topologyKey: string(),
    whenUnsatisfiable: enumOf(['DoNotSchedule', 'ScheduleAnyway']),
    labelSelector,
    minDomains: int32(),
    nodeAffinityPolicy: enumOf(['Honor', 'Ignore']),
    nodeTaintsPolicy: enumOf(['Honor', 'Ignore']),
    matchLabelKeys: arrayOf(string()),
  },
  { required: ['maxSkew', 'topologyKey', 'whenUnsatisfiable'] },
);

// ---------------------------------------------------------------------------------------------
// Pod

export const podSpec = object(
  {
    volumes: listMap(volume, 'name', 'merge,retainKeys'),
    initContainers: listMap(container, 'name'),
    containers: listMap(container, 'name'),
    ephemeralContainers: listMap(ephemeralContainer, 'name'),
    restartPolicy: enumOf(['Always', 'OnFailure', 'Never']),
    terminationGracePeriodSeconds: int64(),
    activeDeadlineSeconds: int64(),
    dnsPolicy: enumOf(['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None']),
    nodeSelector: mapOf(),
    serviceAccountName: string(),
    serviceAccount: string(),
    automountServiceAccountToken: boolean(),
    nodeName: string(),
    hostNetwork: boolean(),
    hostPID: boolean(),
    hostIPC: boolean(),
    shareProcessNamespace: boolean(),
    securityContext: podSecurityContext,
    imagePullSecrets: listMap(localObjectReference, 'name'),
    hostname: string(),
    subdomain: string(),
    affinity,
    schedulerName: string(),
    tolerations: arrayOf(toleration),
    hostAliases: listMap(object({ ip: string(), hostnames: arrayOf(string()) }, { required: ['ip'] }), 'ip'),
    priorityClassName: string(),
    priority: int32(),
    dnsConfig: object({
      nameservers: arrayOf(string()),
      searches: arrayOf(string()),
      options: arrayOf(object({ name: string(), value: string() })),
    }),
    readinessGates: arrayOf(object({ conditionType: string() }, { required: ['conditionType'] })),
    runtimeClassName: string(),
    enableServiceLinks: boolean(),
    preemptionPolicy: enumOf(['PreemptLowerPriority', 'Never']),
    overhead: resourceList,
    topologySpreadConstraints: listMap(topologySpreadConstraint, 'topologyKey'),
    setHostnameAsFQDN: boolean(),
    os: object({ name: enumOf(['linux', 'windows']) }, { required: ['name'] }),
    hostUsers: boolean(),
    schedulingGates: listMap(object({ name: string() }, { required: ['name'] }), 'name'),
    resourceClaims: listMap(preserveUnknown(), 'name', 'merge,retainKeys'),
    resources: resourceRequirements,
    hostnameOverride: string(),
  },
  { required: ['containers'] },
);

const containerStateFields = {
  waiting: object({ reason: string(), message: string() }),
  running: object({ startedAt: dateTime() }),
  terminated: object(
    {
      exitCode: int32(),
      signal: int32(),
      reason: string(),
      message: string(),
      startedAt: dateTime(),
      finishedAt: dateTime(),
      containerID: string(),
    },
    { required: ['exitCode'] },
  ),
};
const containerState = object(containerStateFields);

export const containerStatus = object(
  {
    name: string(),
    state: containerState,
    lastState: containerState,
    ready: boolean(),
    restartCount: int32(),
    image: string(),
    imageID: string(),
    containerID: string(),
    started: boolean(),
    allocatedResources: resourceList,
    resources: resourceRequirements,
    volumeMounts: arrayOf(preserveUnknown()),
    user: preserveUnknown(),
    allocatedResourcesStatus: arrayOf(preserveUnknown()),
    stopSignal: string(),
  },
  { required: ['name', 'ready', 'restartCount', 'image', 'imageID'] },
);

const podIP = object({ ip: string() }, { required: ['ip'] });

export const podCondition = object(
  {
    type: string(),
    observedGeneration: int64(),
    status: conditionStatus,
    lastProbeTime: dateTime(),
    lastTransitionTime: dateTime(),
    reason: string(),
    message: string(),
  },
  { required: ['type', 'status'] },
);

export const podStatus = object({
  observedGeneration: int64(),
  phase: enumOf(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']),
  conditions: conditions(podCondition),
  message: string(),
  reason: string(),
  nominatedNodeName: string(),
  hostIP: string(),
  hostIPs: listMap(podIP, 'ip'),
  podIP: string(),
  podIPs: listMap(podIP, 'ip'),
  startTime: dateTime(),
  initContainerStatuses: arrayOf(containerStatus),
  containerStatuses: arrayOf(containerStatus),
  ephemeralContainerStatuses: arrayOf(containerStatus),
  qosClass: enumOf(['Guaranteed', 'Burstable', 'BestEffort']),
  resize: string(),
  resourceClaimStatuses: arrayOf(preserveUnknown()),
});

export const podTemplateSpec = object({ metadata: objectMeta, spec: podSpec });

export const pod = kind({ spec: podSpec, status: podStatus });

/** v1 Binding: the body of POST pods/{name}/binding, naming the node a pod is assigned to. */
export const binding = object({ ...kind({}).properties, target: objectReference }, { required: ['target'] });

// ---------------------------------------------------------------------------------------------
// Service

export const servicePort = object(
  {
    name: string(),
    protocol,
    appProtocol: string(),
    port: int32(),
    targetPort: intOrString(),
    nodePort: int32(),
  },
  { required: ['port'] },
);

export const serviceSpec = object({
  ports: arrayOf(servicePort, {
    mergeKey: 'port',
    patchStrategy: 'merge',
    listType: 'map',
    listMapKeys: ['port', 'protocol'],
  }),
  selector: mapOf(),
  clusterIP: string(),
  clusterIPs: arrayOf(string()),
  type: enumOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
  externalIPs: arrayOf(string()),
  sessionAffinity: enumOf(['None', 'ClientIP']),
  loadBalancerIP: string(),
  loadBalancerSourceRanges: arrayOf(string()),
  externalName: string(),
  externalTrafficPolicy: enumOf(['Cluster', 'Local']),
  healthCheckNodePort: int32(),
  publishNotReadyAddresses: boolean(),
  sessionAffinityConfig: object({ clientIP: object({ timeoutSeconds: int32() }) }),
  ipFamilies: arrayOf(enumOf(['IPv4', 'IPv6'])),
  ipFamilyPolicy: enumOf(['SingleStack', 'PreferDualStack', 'RequireDualStack']),
  allocateLoadBalancerNodePorts: boolean(),
  loadBalancerClass: string(),
  internalTrafficPolicy: enumOf(['Cluster', 'Local']),
  trafficDistribution: string(),
});

export const serviceStatus = object({
  loadBalancer: object({
    ingress: arrayOf(
      object({
        ip: string(),
        hostname: string(),
        ipMode: enumOf(['VIP', 'Proxy']),
        ports: arrayOf(
          object({ port: int32(), protocol, error: string() }, { required: ['port', 'protocol'] }),
        ),
      }),
    ),
  }),
  conditions: conditions(metaCondition),
});

export const service = kind({ spec: serviceSpec, status: serviceStatus });

// ---------------------------------------------------------------------------------------------
// Namespace, ConfigMap, Secret

export const namespace = kind({
  spec: object({ finalizers: arrayOf(string()) }),
  status: object({
    phase: enumOf(['Active', 'Terminating']),
    conditions: conditions(
      object(
        {
          type: string(),
          status: conditionStatus,
          lastTransitionTime: dateTime(),
          reason: string(),
          message: string(),
        },
        { required: ['type', 'status'] },
      ),
    ),
  }),
});

export const configMap = kind({
  immutable: boolean(),
  data: mapOf(),
  binaryData: mapOf(bytes()),
});

export const secret = kind({
  immutable: boolean(),
  data: mapOf(bytes()),
  stringData: mapOf(),
  type: string(),
});

// ---------------------------------------------------------------------------------------------
// Node

export const taint = object(
  { key: string(), value: string(), effect: taintEffect, timeAdded: dateTime() },
  { required: ['key', 'effect'] },
);

export const nodeCondition = object(
  {
    type: string(),
    status: conditionStatus,
    lastHeartbeatTime: dateTime(),
    lastTransitionTime: dateTime(),
    reason: string(),
    message: string(),
  },
  { required: ['type', 'status'] },
);

export const node = kind({
  spec: object({
    podCIDR: string(),
    podCIDRs: listSet(),
    providerID: string(),
    unschedulable: boolean(),
    taints: arrayOf(taint),
    configSource: preserveUnknown(),
    externalID: string(),
  }),
  status: object({
    capacity: resourceList,
    allocatable: resourceList,
    phase: enumOf(['Pending', 'Running', 'Terminated']),
    conditions: conditions(nodeCondition),
    addresses: listMap(
      object(
        {
          type: enumOf(['Hostname', 'InternalIP', 'ExternalIP', 'InternalDNS', 'ExternalDNS']),
          address: string(),
        },
        { required: ['type', 'address'] },
      ),
      'type',
    ),
    daemonEndpoints: object({ kubeletEndpoint: object({ Port: int32() }, { required: ['Port'] }) }),
    nodeInfo: object({
      machineID: string(),
      systemUUID: string(),
      bootID: string(),
      kernelVersion: string(),
      osImage: string(),
      containerRuntimeVersion: string(),
      kubeletVersion: string(),
      kubeProxyVersion: string(),
      operatingSystem: string(),
      architecture: string(),
      swap: preserveUnknown(),
    }),
    images: arrayOf(object({ names: arrayOf(string()), sizeBytes: int64() })),
    volumesInUse: arrayOf(string()),
    volumesAttached: arrayOf(object({ name: string(), devicePath: string() })),
    config: preserveUnknown(),
    runtimeHandlers: arrayOf(preserveUnknown()),
    features: preserveUnknown(),
  }),
});

// ---------------------------------------------------------------------------------------------
// Event, Endpoints

export const event = kind({
  involvedObject: objectReference,
  reason: string(),
  message: string(),
  source: object({ component: string(), host: string() }),
  firstTimestamp: dateTime(),
  lastTimestamp: dateTime(),
  count: int32(),
  type: string(),
  eventTime: dateTime(),
  series: object({ count: int32(), lastObservedTime: dateTime() }),
  action: string(),
  related: objectReference,
  reportingComponent: string(),
  reportingInstance: string(),
});

const endpointAddress = object(
  { ip: string(), hostname: string(), nodeName: string(), targetRef: objectReference },
  { required: ['ip'] },
);

export const endpointPort = object(
  { name: string(), port: int32(), protocol, appProtocol: string() },
  { required: ['port'] },
);

export const endpoints = kind({
  subsets: arrayOf(
    object({
      addresses: arrayOf(endpointAddress),
      notReadyAddresses: arrayOf(endpointAddress),
      ports: arrayOf(endpointPort),
    }),
  ),
});
