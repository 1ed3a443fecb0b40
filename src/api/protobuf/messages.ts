// Message tables for the Kubernetes protobuf encoding of the kinds Flotilla serves, written from the
// public wire format (field numbers and types of the k8s.io/api and apimachinery messages) and the
// JSON shape of the same types. Each table lists a message's fields in the order the JSON object
// has them. One field per line: `<number> <jsonName> <type>`.
//
// Types: string, bytes (base64 in JSON), bool, int32, int64; the well-known Kubernetes wrappers
// Time (RFC 3339, seconds), MicroTime (RFC 3339, microseconds), IntOrString, Quantity (its string),
// FieldsV1 (raw JSON); or another message of this file.
//   `*T`       a pointer/optional field: present on the wire → in the JSON, even when zero.
//   `[]T`      repeated (packed or not, for scalars); `map[T]` a map from string to T.
//   `T!`       the JSON has no `omitempty`: the field is written even when zero / empty (null).
//   `...`      as the JSON name: an embedded struct whose fields appear in the enclosing object.
// Everything else is `omitempty`: a zero scalar or an empty list/map is left out. Plain (non-pointer)
// message fields are always written, as Go's encoding/json writes structs: `status: {}`.

export type ScalarType = 'string' | 'bytes' | 'bool' | 'int32' | 'int64';
export type WrapperType = 'Time' | 'MicroTime' | 'IntOrString' | 'Quantity' | 'FieldsV1';

export interface FieldDef {
  readonly no: number;
  /** JSON name; '' for an inline (embedded) message. */
  readonly json: string;
  readonly inline: boolean;
  /** A scalar, a wrapper or a message name. */
  readonly type: string;
  readonly category: 'scalar' | 'wrapper' | 'message';
  readonly ptr: boolean;
  readonly repeated: boolean;
  readonly map: boolean;
  readonly required: boolean;
}

export interface MessageDef {
  readonly name: string;
  readonly fields: readonly FieldDef[];
  readonly byNumber: ReadonlyMap<number, FieldDef>;
}

const scalars: ReadonlySet<string> = new Set<ScalarType>(['string', 'bytes', 'bool', 'int32', 'int64']);
const wrappers: ReadonlySet<string> = new Set<WrapperType>([
  'Time',
  'MicroTime',
  'IntOrString',
  'Quantity',
  'FieldsV1',
]);

const tables: Record<string, readonly string[]> = {
  // ---- runtime, meta/v1 -------------------------------------------------------------------------
  Unknown: ['1 typeMeta TypeMeta', '2 raw bytes', '3 contentEncoding string', '4 contentType string'],
  TypeMeta: ['1 apiVersion string', '2 kind string'],
  ObjectMeta: [
    '1 name string',
    '2 generateName string',
    '3 namespace string',
    '4 selfLink string',
    '5 uid string',
    '6 resourceVersion string',
    '7 generation int64',
    '8 creationTimestamp Time',
    '9 deletionTimestamp *Time',
    '10 deletionGracePeriodSeconds *int64',
    '11 labels map[string]',
    '12 annotations map[string]',
    '13 ownerReferences []OwnerReference',
    '14 finalizers []string',
    '17 managedFields []ManagedFieldsEntry',
  ],
  OwnerReference: [
    '5 apiVersion string!',
    '1 kind string!',
    '3 name string!',
    '4 uid string!',
    '6 controller *bool',
    '7 blockOwnerDeletion *bool',
  ],
  ManagedFieldsEntry: [
    '1 manager string',
    '2 operation string',
    '3 apiVersion string',
    '4 time *Time',
    '6 fieldsType string',
    '7 fieldsV1 *FieldsV1',
    '8 subresource string',
  ],
  LabelSelector: ['1 matchLabels map[string]', '2 matchExpressions []LabelSelectorRequirement'],
  LabelSelectorRequirement: ['1 key string!', '2 operator string!', '3 values []string'],
  Condition: [
    '1 type string!',
    '2 status string!',
    '3 observedGeneration int64',
    '4 lastTransitionTime Time!',
    '5 reason string!',
    '6 message string!',
  ],

  // ---- core/v1: Namespace, ConfigMap, Secret ----------------------------------------------------
  Namespace: ['1 metadata ObjectMeta', '2 spec NamespaceSpec', '3 status NamespaceStatus'],
  NamespaceSpec: ['1 finalizers []string'],
  NamespaceStatus: ['1 phase string', '2 conditions []NamespaceCondition'],
  NamespaceCondition: [
    '1 type string!',
    '2 status string!',
    '4 lastTransitionTime Time',
    '5 reason string',
    '6 message string',
  ],
  ConfigMap: ['1 metadata ObjectMeta', '4 immutable *bool', '2 data map[string]', '3 binaryData map[bytes]'],
  Secret: [
    '1 metadata ObjectMeta',
    '5 immutable *bool',
    '2 data map[bytes]',
    '4 stringData map[string]',
    '3 type string',
  ],

  // ---- core/v1: Service -------------------------------------------------------------------------
  Service: ['1 metadata ObjectMeta', '2 spec ServiceSpec', '3 status ServiceStatus'],
  ServiceSpec: [
    '1 ports []ServicePort',
    '2 selector map[string]',
    '3 clusterIP string',
    '18 clusterIPs []string',
    '4 type string',
    '5 externalIPs []string',
    '7 sessionAffinity string',
    '8 loadBalancerIP string',
    '9 loadBalancerSourceRanges []string',
    '10 externalName string',
    '11 externalTrafficPolicy string',
    '12 healthCheckNodePort int32',
    '13 publishNotReadyAddresses bool',
    '14 sessionAffinityConfig *SessionAffinityConfig',
    '19 ipFamilies []string',
    '17 ipFamilyPolicy *string',
    '20 allocateLoadBalancerNodePorts *bool',
    '21 loadBalancerClass *string',
    '22 internalTrafficPolicy *string',
    '23 trafficDistribution *string',
  ],
  ServicePort: [
    '1 name string',
    '2 protocol string',
    '6 appProtocol *string',
    '3 port int32!',
    '4 targetPort IntOrString',
    '5 nodePort int32',
  ],
  SessionAffinityConfig: ['1 clientIP *ClientIPConfig'],
  ClientIPConfig: ['1 timeoutSeconds *int32'],
  ServiceStatus: ['1 loadBalancer LoadBalancerStatus', '2 conditions []Condition'],
  LoadBalancerStatus: ['1 ingress []LoadBalancerIngress'],
  LoadBalancerIngress: ['1 ip string', '2 hostname string', '3 ipMode *string', '4 ports []PortStatus'],
  PortStatus: ['1 port int32!', '2 protocol string!', '3 error *string'],

  // ---- core/v1: Pod and its parts ---------------------------------------------------------------
  Pod: ['1 metadata ObjectMeta', '2 spec PodSpec', '3 status PodStatus'],
  PodTemplateSpec: ['1 metadata ObjectMeta', '2 spec PodSpec'],
  PodSpec: [
    '1 volumes []Volume',
    '20 initContainers []Container',
    '2 containers []Container!',
    '34 ephemeralContainers []EphemeralContainer',
    '3 restartPolicy string',
    '4 terminationGracePeriodSeconds *int64',
    '5 activeDeadlineSeconds *int64',
    '6 dnsPolicy string',
    '7 nodeSelector map[string]',
    '8 serviceAccountName string',
    '9 serviceAccount string',
    '21 automountServiceAccountToken *bool',
    '10 nodeName string',
    '11 hostNetwork bool',
    '12 hostPID bool',
    '13 hostIPC bool',
    '27 shareProcessNamespace *bool',
    '14 securityContext *PodSecurityContext',
    '15 imagePullSecrets []LocalObjectReference',
    '16 hostname string',
    '17 subdomain string',
    '18 affinity *Affinity',
    '19 schedulerName string',
    '22 tolerations []Toleration',
    '23 hostAliases []HostAlias',
    '24 priorityClassName string',
    '25 priority *int32',
    '26 dnsConfig *PodDNSConfig',
    '28 readinessGates []PodReadinessGate',
    '29 runtimeClassName *string',
    '30 enableServiceLinks *bool',
    '31 preemptionPolicy *string',
    '32 overhead map[Quantity]',
    '33 topologySpreadConstraints []TopologySpreadConstraint',
    '35 setHostnameAsFQDN *bool',
    '36 os *PodOS',
    '37 hostUsers *bool',
    '38 schedulingGates []PodSchedulingGate',
    '40 resources *ResourceRequirements',
  ],
  Container: [
    '1 name string!',
    '2 image string',
    '3 command []string',
    '4 args []string',
    '5 workingDir string',
    '6 ports []ContainerPort',
    '19 envFrom []EnvFromSource',
    '7 env []EnvVar',
    '8 resources ResourceRequirements',
    '23 resizePolicy []ContainerResizePolicy',
    '24 restartPolicy *string',
    '9 volumeMounts []VolumeMount',
    '21 volumeDevices []VolumeDevice',
    '10 livenessProbe *Probe',
    '11 readinessProbe *Probe',
    '22 startupProbe *Probe',
    '12 lifecycle *Lifecycle',
    '13 terminationMessagePath string',
    '20 terminationMessagePolicy string',
    '14 imagePullPolicy string',
    '15 securityContext *SecurityContext',
    '16 stdin bool',
    '17 stdinOnce bool',
    '18 tty bool',
  ],
  // EphemeralContainerCommon has exactly Container's fields (upstream keeps them in sync).
  EphemeralContainer: ['1 ... Container', '2 targetContainerName string'],
  ContainerPort: [
    '1 name string',
    '2 hostPort int32',
    '3 containerPort int32!',
    '4 protocol string',
    '5 hostIP string',
  ],
  EnvVar: ['1 name string!', '2 value string', '3 valueFrom *EnvVarSource'],
  EnvVarSource: [
    '1 fieldRef *ObjectFieldSelector',
    '2 resourceFieldRef *ResourceFieldSelector',
    '3 configMapKeyRef *ConfigMapKeySelector',
    '4 secretKeyRef *SecretKeySelector',
  ],
  ObjectFieldSelector: ['1 apiVersion string', '2 fieldPath string!'],
  ResourceFieldSelector: ['1 containerName string', '2 resource string!', '3 divisor Quantity'],
  ConfigMapKeySelector: ['1 ... LocalObjectReference', '2 key string!', '3 optional *bool'],
  SecretKeySelector: ['1 ... LocalObjectReference', '2 key string!', '3 optional *bool'],
  LocalObjectReference: ['1 name string'],
  EnvFromSource: ['1 prefix string', '2 configMapRef *ConfigMapEnvSource', '3 secretRef *SecretEnvSource'],
  ConfigMapEnvSource: ['1 ... LocalObjectReference', '2 optional *bool'],
  SecretEnvSource: ['1 ... LocalObjectReference', '2 optional *bool'],
  ResourceRequirements: ['1 limits map[Quantity]', '2 requests map[Quantity]', '3 claims []ResourceClaim'],
  ResourceClaim: ['1 name string!', '2 request string'],
  ContainerResizePolicy: ['1 resourceName string!', '2 restartPolicy string!'],
  VolumeMount: [
    '1 name string!',
    '2 readOnly bool',
    '7 recursiveReadOnly *string',
    '3 mountPath string!',
    '4 subPath string',
    '5 mountPropagation *string',
    '6 subPathExpr string',
  ],
  VolumeDevice: ['1 name string!', '2 devicePath string!'],
  Probe: [
    '1 ... ProbeHandler',
    '2 initialDelaySeconds int32',
    '3 timeoutSeconds int32',
    '4 periodSeconds int32',
    '5 successThreshold int32',
    '6 failureThreshold int32',
    '7 terminationGracePeriodSeconds *int64',
  ],
  ProbeHandler: [
    '1 exec *ExecAction',
    '2 httpGet *HTTPGetAction',
    '3 tcpSocket *TCPSocketAction',
    '4 grpc *GRPCAction',
  ],
  ExecAction: ['1 command []string'],
  HTTPGetAction: [
    '1 path string',
    '2 port IntOrString!',
    '3 host string',
    '4 scheme string',
    '5 httpHeaders []HTTPHeader',
  ],
  HTTPHeader: ['1 name string!', '2 value string!'],
  TCPSocketAction: ['1 port IntOrString!', '2 host string'],
  GRPCAction: ['1 port int32!', '2 service *string!'],
  Lifecycle: ['1 postStart *LifecycleHandler', '2 preStop *LifecycleHandler'],
  LifecycleHandler: [
    '1 exec *ExecAction',
    '2 httpGet *HTTPGetAction',
    '3 tcpSocket *TCPSocketAction',
    '4 sleep *SleepAction',
  ],
  SleepAction: ['1 seconds int64!'],
  SecurityContext: [
    '1 capabilities *Capabilities',
    '2 privileged *bool',
    '3 seLinuxOptions *SELinuxOptions',
    '10 windowsOptions *WindowsSecurityContextOptions',
    '4 runAsUser *int64',
    '8 runAsGroup *int64',
    '5 runAsNonRoot *bool',
    '6 readOnlyRootFilesystem *bool',
    '7 allowPrivilegeEscalation *bool',
    '9 procMount *string',
    '11 seccompProfile *SeccompProfile',
    '12 appArmorProfile *AppArmorProfile',
  ],
  Capabilities: ['1 add []string', '2 drop []string'],
  SELinuxOptions: ['1 user string', '2 role string', '3 type string', '4 level string'],
  WindowsSecurityContextOptions: [
    '1 gmsaCredentialSpecName *string',
    '2 gmsaCredentialSpec *string',
    '3 runAsUserName *string',
    '4 hostProcess *bool',
  ],
  SeccompProfile: ['1 type string!', '2 localhostProfile *string'],
  AppArmorProfile: ['1 type string!', '2 localhostProfile *string'],
  PodSecurityContext: [
    '1 seLinuxOptions *SELinuxOptions',
    '8 windowsOptions *WindowsSecurityContextOptions',
    '2 runAsUser *int64',
    '6 runAsGroup *int64',
    '3 runAsNonRoot *bool',
    '4 supplementalGroups []int64',
    '5 fsGroup *int64',
    '7 sysctls []Sysctl',
    '9 fsGroupChangePolicy *string',
    '10 seccompProfile *SeccompProfile',
    '11 appArmorProfile *AppArmorProfile',
  ],
  Sysctl: ['1 name string!', '2 value string!'],
  Volume: ['1 name string!', '2 ... VolumeSource'],
  VolumeSource: [
    '1 hostPath *HostPathVolumeSource',
    '2 emptyDir *EmptyDirVolumeSource',
    '6 secret *SecretVolumeSource',
    '10 persistentVolumeClaim *PersistentVolumeClaimVolumeSource',
    '16 downwardAPI *DownwardAPIVolumeSource',
    '19 configMap *ConfigMapVolumeSource',
    '26 projected *ProjectedVolumeSource',
  ],
  HostPathVolumeSource: ['1 path string!', '2 type *string'],
  EmptyDirVolumeSource: ['1 medium string', '2 sizeLimit *Quantity'],
  SecretVolumeSource: [
    '1 secretName string',
    '2 items []KeyToPath',
    '3 defaultMode *int32',
    '4 optional *bool',
  ],
  ConfigMapVolumeSource: [
    '1 ... LocalObjectReference',
    '2 items []KeyToPath',
    '3 defaultMode *int32',
    '4 optional *bool',
  ],
  PersistentVolumeClaimVolumeSource: ['1 claimName string!', '2 readOnly bool'],
  KeyToPath: ['1 key string!', '2 path string!', '3 mode *int32'],
  DownwardAPIVolumeSource: ['1 items []DownwardAPIVolumeFile', '2 defaultMode *int32'],
  DownwardAPIVolumeFile: [
    '1 path string!',
    '2 fieldRef *ObjectFieldSelector',
    '3 resourceFieldRef *ResourceFieldSelector',
    '4 mode *int32',
  ],
  ProjectedVolumeSource: ['1 sources []VolumeProjection!', '2 defaultMode *int32'],
  VolumeProjection: [
    '1 secret *SecretProjection',
    '2 downwardAPI *DownwardAPIProjection',
    '3 configMap *ConfigMapProjection',
    '4 serviceAccountToken *ServiceAccountTokenProjection',
  ],
  SecretProjection: ['1 ... LocalObjectReference', '2 items []KeyToPath', '4 optional *bool'],
  ConfigMapProjection: ['1 ... LocalObjectReference', '2 items []KeyToPath', '4 optional *bool'],
  DownwardAPIProjection: ['1 items []DownwardAPIVolumeFile'],
  ServiceAccountTokenProjection: ['1 audience string', '2 expirationSeconds *int64', '3 path string!'],
  Affinity: [
    '1 nodeAffinity *NodeAffinity',
    '2 podAffinity *PodAffinity',
    '3 podAntiAffinity *PodAntiAffinity',
  ],
  NodeAffinity: [
    '1 requiredDuringSchedulingIgnoredDuringExecution *NodeSelector',
    '2 preferredDuringSchedulingIgnoredDuringExecution []PreferredSchedulingTerm',
  ],
  NodeSelector: ['1 nodeSelectorTerms []NodeSelectorTerm!'],
  NodeSelectorTerm: [
    '1 matchExpressions []NodeSelectorRequirement',
    '2 matchFields []NodeSelectorRequirement',
  ],
  NodeSelectorRequirement: ['1 key string!', '2 operator string!', '3 values []string'],
  PreferredSchedulingTerm: ['1 weight int32!', '2 preference NodeSelectorTerm'],
  PodAffinity: [
    '1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm',
    '2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm',
  ],
  PodAntiAffinity: [
    '1 requiredDuringSchedulingIgnoredDuringExecution []PodAffinityTerm',
    '2 preferredDuringSchedulingIgnoredDuringExecution []WeightedPodAffinityTerm',
  ],
  WeightedPodAffinityTerm: ['1 weight int32!', '2 podAffinityTerm PodAffinityTerm'],
  PodAffinityTerm: [
    '1 labelSelector *LabelSelector',
    '2 namespaces []string',
    '3 topologyKey string!',
    '4 namespaceSelector *LabelSelector',
    '5 matchLabelKeys []string',
    '6 mismatchLabelKeys []string',
  ],
  Toleration: [
    '1 key string',
    '2 operator string',
    '3 value string',
    '4 effect string',
    '5 tolerationSeconds *int64',
  ],
  HostAlias: ['1 ip string', '2 hostnames []string'],
  PodDNSConfig: ['1 nameservers []string', '2 searches []string', '3 options []PodDNSConfigOption'],
  PodDNSConfigOption: ['1 name string', '2 value *string'],
  PodReadinessGate: ['1 conditionType string!'],
  TopologySpreadConstraint: [
    '1 maxSkew int32!',
    '2 topologyKey string!',
    '3 whenUnsatisfiable string!',
    '4 labelSelector *LabelSelector',
    '5 minDomains *int32',
    '6 nodeAffinityPolicy *string',
    '7 nodeTaintsPolicy *string',
    '8 matchLabelKeys []string',
  ],
  PodOS: ['1 name string!'],
  PodSchedulingGate: ['1 name string!'],
  PodStatus: [
    '1 phase string',
    '2 conditions []PodCondition',
    '3 message string',
    '4 reason string',
    '11 nominatedNodeName string',
    '5 hostIP string',
    '16 hostIPs []HostIP',
    '6 podIP string',
    '12 podIPs []PodIP',
    '7 startTime *Time',
    '10 initContainerStatuses []ContainerStatus',
    '8 containerStatuses []ContainerStatus',
    '9 qosClass string',
    '13 ephemeralContainerStatuses []ContainerStatus',
  ],
  PodCondition: [
    '1 type string!',
    '2 status string!',
    '3 lastProbeTime Time',
    '4 lastTransitionTime Time',
    '5 reason string',
    '6 message string',
  ],
  HostIP: ['1 ip string'],
  PodIP: ['1 ip string'],
  ContainerStatus: [
    '1 name string!',
    '2 state ContainerState',
    '3 lastState ContainerState',
    '4 ready bool!',
    '5 restartCount int32!',
    '6 image string!',
    '7 imageID string!',
    '8 containerID string',
    '9 started *bool',
  ],
  ContainerState: [
    '1 waiting *ContainerStateWaiting',
    '2 running *ContainerStateRunning',
    '3 terminated *ContainerStateTerminated',
  ],
  ContainerStateWaiting: ['1 reason string', '2 message string'],
  ContainerStateRunning: ['1 startedAt Time'],
  ContainerStateTerminated: [
    '1 exitCode int32!',
    '2 signal int32',
    '3 reason string',
    '4 message string',
    '5 startedAt Time',
    '6 finishedAt Time',
    '7 containerID string',
  ],

  // ---- apps/v1 ----------------------------------------------------------------------------------
  Deployment: ['1 metadata ObjectMeta', '2 spec DeploymentSpec', '3 status DeploymentStatus'],
  DeploymentSpec: [
    '1 replicas *int32',
    '2 selector *LabelSelector!',
    '3 template PodTemplateSpec',
    '4 strategy DeploymentStrategy',
    '5 minReadySeconds int32',
    '6 revisionHistoryLimit *int32',
    '7 paused bool',
    '9 progressDeadlineSeconds *int32',
  ],
  DeploymentStrategy: ['1 type string', '2 rollingUpdate *RollingUpdateDeployment'],
  RollingUpdateDeployment: ['1 maxUnavailable *IntOrString', '2 maxSurge *IntOrString'],
  DeploymentStatus: [
    '1 observedGeneration int64',
    '2 replicas int32',
    '3 updatedReplicas int32',
    '7 readyReplicas int32',
    '4 availableReplicas int32',
    '5 unavailableReplicas int32',
    '9 terminatingReplicas *int32',
    '6 conditions []DeploymentCondition',
    '8 collisionCount *int32',
  ],
  DeploymentCondition: [
    '1 type string!',
    '2 status string!',
    '6 lastUpdateTime Time',
    '7 lastTransitionTime Time',
    '4 reason string',
    '5 message string',
  ],
  ReplicaSet: ['1 metadata ObjectMeta', '2 spec ReplicaSetSpec', '3 status ReplicaSetStatus'],
  ReplicaSetSpec: [
    '1 replicas *int32',
    '4 minReadySeconds int32',
    '2 selector *LabelSelector!',
    '3 template PodTemplateSpec',
  ],
  ReplicaSetStatus: [
    '1 replicas int32!',
    '2 fullyLabeledReplicas int32',
    '4 readyReplicas int32',
    '5 availableReplicas int32',
    '7 terminatingReplicas *int32',
    '3 observedGeneration int64',
    '6 conditions []ReplicaSetCondition',
  ],
  ReplicaSetCondition: [
    '1 type string!',
    '2 status string!',
    '3 lastTransitionTime Time',
    '4 reason string',
    '5 message string',
  ],

  // ---- autoscaling/v2 HorizontalPodAutoscaler (kubectl autoscale) -------------------------------
  HorizontalPodAutoscaler: [
    '1 metadata ObjectMeta',
    '2 spec HorizontalPodAutoscalerSpec',
    '3 status HorizontalPodAutoscalerStatus',
  ],
  HorizontalPodAutoscalerSpec: [
    '1 scaleTargetRef CrossVersionObjectReference',
    '2 minReplicas *int32',
    '3 maxReplicas int32!',
    '4 metrics []MetricSpec',
    '5 behavior *HorizontalPodAutoscalerBehavior',
  ],
  CrossVersionObjectReference: ['1 kind string!', '2 name string!', '3 apiVersion string'],
  MetricSpec: [
    '1 type string!',
    '2 object *ObjectMetricSource',
    '3 pods *PodsMetricSource',
    '4 resource *ResourceMetricSource',
    '7 containerResource *ContainerResourceMetricSource',
    '5 external *ExternalMetricSource',
  ],
  ObjectMetricSource: [
    '1 describedObject CrossVersionObjectReference',
    '2 target MetricTarget',
    '3 metric MetricIdentifier',
  ],
  PodsMetricSource: ['1 metric MetricIdentifier', '2 target MetricTarget'],
  ResourceMetricSource: ['1 name string!', '2 target MetricTarget'],
  ContainerResourceMetricSource: ['1 name string!', '2 target MetricTarget', '3 container string!'],
  ExternalMetricSource: ['1 metric MetricIdentifier', '2 target MetricTarget'],
  MetricIdentifier: ['1 name string!', '2 selector *LabelSelector'],
  MetricTarget: [
    '1 type string!',
    '2 value *Quantity',
    '3 averageValue *Quantity',
    '4 averageUtilization *int32',
  ],
  HorizontalPodAutoscalerBehavior: ['1 scaleUp *HPAScalingRules', '2 scaleDown *HPAScalingRules'],
  HPAScalingRules: [
    '3 stabilizationWindowSeconds *int32',
    '1 selectPolicy *string',
    '2 policies []HPAScalingPolicy',
    '4 tolerance *Quantity',
  ],
  HPAScalingPolicy: ['1 type string!', '2 value int32!', '3 periodSeconds int32!'],
  HorizontalPodAutoscalerStatus: [
    '1 observedGeneration *int64',
    '2 lastScaleTime *Time',
    '3 currentReplicas int32',
    '4 desiredReplicas int32!',
    '5 currentMetrics []MetricStatus!',
    '6 conditions []HorizontalPodAutoscalerCondition',
  ],
  HorizontalPodAutoscalerCondition: [
    '1 type string!',
    '2 status string!',
    '3 lastTransitionTime Time',
    '4 reason string',
    '5 message string',
    '6 observedGeneration *int64',
  ],
  MetricStatus: [
    '1 type string!',
    '2 object *ObjectMetricStatus',
    '3 pods *PodsMetricStatus',
    '4 resource *ResourceMetricStatus',
    '7 containerResource *ContainerResourceMetricStatus',
    '5 external *ExternalMetricStatus',
  ],
  ObjectMetricStatus: [
    '1 metric MetricIdentifier',
    '2 current MetricValueStatus',
    '3 describedObject CrossVersionObjectReference',
  ],
  PodsMetricStatus: ['1 metric MetricIdentifier', '2 current MetricValueStatus'],
  ResourceMetricStatus: ['1 name string!', '2 current MetricValueStatus'],
  ContainerResourceMetricStatus: ['1 name string!', '2 current MetricValueStatus', '3 container string!'],
  ExternalMetricStatus: ['1 metric MetricIdentifier', '2 current MetricValueStatus'],
  MetricValueStatus: ['1 value *Quantity', '2 averageValue *Quantity', '3 averageUtilization *int32'],

  // ---- autoscaling/v1 Scale (PUT deployments/<name>/scale from typed clients) ---------------------
  Scale: ['1 metadata ObjectMeta', '2 spec ScaleSpec', '3 status ScaleStatus'],
  ScaleSpec: ['1 replicas int32'],
  ScaleStatus: ['1 replicas int32!', '2 selector string'],

  // ---- scheduling.k8s.io/v1 PriorityClass (kubectl create priorityclass) --------------------------
  PriorityClass: [
    '1 metadata ObjectMeta',
    '2 value int32!',
    '3 globalDefault bool',
    '4 description string',
    '5 preemptionPolicy *string',
  ],

  // ---- v1 Binding and policy/v1 Eviction (pods/binding, pods/eviction from typed clients) ---------
  Binding: ['1 metadata ObjectMeta', '2 target ObjectReference'],
  ObjectReference: [
    '1 kind string',
    '2 namespace string',
    '3 name string',
    '4 uid string',
    '5 apiVersion string',
    '6 resourceVersion string',
    '7 fieldPath string',
  ],
  Eviction: ['1 metadata ObjectMeta', '2 deleteOptions *DeleteOptions'],
  DeleteOptions: [
    '1 gracePeriodSeconds *int64',
    '2 preconditions *Preconditions',
    '3 orphanDependents *bool',
    '4 propagationPolicy *string',
    '5 dryRun []string',
  ],
  Preconditions: ['1 uid *string', '2 resourceVersion *string'],
};

/**
 * The top-level kinds a protobuf body may carry, by `apiVersion/kind` of the envelope. Anything
 * else is answered 415 with a hint to send JSON.
 */
export const topLevelKinds: ReadonlyMap<string, string> = new Map([
  ['v1/Namespace', 'Namespace'],
  ['v1/ConfigMap', 'ConfigMap'],
  ['v1/Secret', 'Secret'],
  ['v1/Service', 'Service'],
  ['v1/Pod', 'Pod'],
  ['apps/v1/Deployment', 'Deployment'],
  ['apps/v1/ReplicaSet', 'ReplicaSet'],
  ['autoscaling/v2/HorizontalPodAutoscaler', 'HorizontalPodAutoscaler'],
  ['autoscaling/v1/Scale', 'Scale'],
  ['scheduling.k8s.io/v1/PriorityClass', 'PriorityClass'],
  ['v1/Binding', 'Binding'],
  ['policy/v1/Eviction', 'Eviction'],
  ['policy/v1beta1/Eviction', 'Eviction'],
]);

const fieldPattern =
  /^(\d+) (\.\.\.|[A-Za-z][A-Za-z0-9]*) (\*)?(\[\])?(?:map\[([A-Za-z0-9]+)\])?([A-Za-z0-9]*)(!)?$/;

function parseField(message: string, line: string): FieldDef {
  const m = fieldPattern.exec(line);
  if (m === null) throw new Error(`protobuf table ${message}: cannot parse field ${JSON.stringify(line)}`);
  const [, no, json, star, brackets, mapValue, elem, bang] = m;
  const isMap = mapValue !== undefined;
  const type = isMap ? mapValue : (elem ?? '');
  if (isMap && elem !== '') throw new Error(`protobuf table ${message}: bad map field ${line}`);
  const category = scalars.has(type) ? 'scalar' : wrappers.has(type) ? 'wrapper' : 'message';
  const inline = json === '...';
  return {
    no: Number(no),
    json: inline ? '' : (json ?? ''),
    inline,
    type,
    category,
    ptr: star !== undefined,
    repeated: brackets !== undefined,
    map: isMap,
    required: bang !== undefined,
  };
}

function compile(): ReadonlyMap<string, MessageDef> {
  const out = new Map<string, MessageDef>();
  for (const [name, lines] of Object.entries(tables)) {
    const fields = lines.map((l) => parseField(name, l));
    const byNumber = new Map<number, FieldDef>();
    for (const f of fields) {
      if (byNumber.has(f.no)) throw new Error(`protobuf table ${name}: field ${f.no} twice`);
      byNumber.set(f.no, f);
    }
    out.set(name, { name, fields, byNumber });
  }
  for (const m of out.values()) {
    for (const f of m.fields) {
      if (f.category === 'message' && !out.has(f.type)) {
        throw new Error(`protobuf table ${m.name}: field ${f.json || f.no} names unknown message ${f.type}`);
      }
      if (f.inline && (f.category !== 'message' || f.ptr || f.repeated || f.map)) {
        throw new Error(`protobuf table ${m.name}: inline field ${f.no} must be a plain message`);
      }
    }
  }
  return out;
}

export const messages: ReadonlyMap<string, MessageDef> = compile();

export function messageDef(name: string): MessageDef {
  const m = messages.get(name);
  if (m === undefined) throw new Error(`no protobuf table for ${name}`);
  return m;
}
