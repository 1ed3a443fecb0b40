// Strategic merge patch, case by case from the documented semantics (kubectl-compat.md §3.8, the
// Kubernetes task "Update API Objects in Place Using kubectl patch", and the strategic-merge-patch and
// preserve-order design proposals), against the real kind schemas and their merge keys. Every case
// gives the whole expected object; every case also checks that the inputs are left alone and that no
// directive survives into the result.
import { describe, expect, it } from 'vitest';
import { isApiError } from '../errors.js';
import { kindSchemas, type ObjectSchema } from '../schema/index.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic-merge.js';

type Obj = Record<string, unknown>;

function schema(key: string): ObjectSchema {
  const s = kindSchemas[key];
  if (s === undefined) throw new Error(`no schema ${key}`);
  return s;
}
const deploymentSchema = schema('apps/v1/Deployment');
const podSchema = schema('v1/Pod');
const serviceSchema = schema('v1/Service');
const nodeSchema = schema('v1/Node');
const hpaSchema = schema('autoscaling/v2/HorizontalPodAutoscaler');

/** A Deployment whose pod template spec is `podSpec`. */
function deploy(podSpec: Obj, extra: Obj = {}): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: { replicas: 1, template: { metadata: { labels: { app: 'web' } }, spec: podSpec } },
    ...extra,
  };
}
/** The patch that touches only the pod template spec. */
const podPatch = (p: Obj): Obj => ({ spec: { template: { spec: p } } });

/** Paths of every key starting with `$` (a directive) in a value. */
function directivesIn(v: unknown, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => directivesIn(x, `${path}[${i}]`));
  if (v !== null && typeof v === 'object') {
    return Object.entries(v).flatMap(([k, x]) =>
      k.startsWith('$') ? [`${path}.${k}`] : directivesIn(x, `${path}.${k}`),
    );
  }
  return [];
}

interface Case {
  name: string;
  schema: ObjectSchema;
  original: Obj;
  patch: Obj;
  expected: Obj;
  /** A case where RFC 7386 merge patch gives a different (wrong) object: checked to differ. */
  naiveCorrupts?: true;
}

const web = { name: 'web', image: 'nginx:1' };
const side = { name: 'side', image: 'busybox:1' };

const cases: Case[] = [
  // ---------------------------------------------------------------------------------------------
  // Maps
  {
    name: 'maps merge recursively: a new label is added, the others stay',
    schema: deploymentSchema,
    original: { metadata: { name: 'a', labels: { app: 'web', tier: 'fe' } } },
    patch: { metadata: { labels: { team: 'x' } } },
    expected: { metadata: { name: 'a', labels: { app: 'web', tier: 'fe', team: 'x' } } },
  },
  {
    name: 'null deletes a map key',
    schema: deploymentSchema,
    original: { metadata: { name: 'a', labels: { app: 'web', tier: 'fe' } } },
    patch: { metadata: { labels: { tier: null } } },
    expected: { metadata: { name: 'a', labels: { app: 'web' } } },
  },
  {
    name: 'null for an absent key changes nothing and is not stored',
    schema: deploymentSchema,
    original: { metadata: { name: 'a', labels: { app: 'web' } } },
    patch: { metadata: { labels: { gone: null }, annotations: null } },
    expected: { metadata: { name: 'a', labels: { app: 'web' } } },
  },
  {
    name: 'null deletes a whole nested struct',
    schema: deploymentSchema,
    original: deploy({ containers: [web], nodeSelector: { disk: 'ssd' }, affinity: { podAffinity: {} } }),
    patch: podPatch({ nodeSelector: null, affinity: null }),
    expected: deploy({ containers: [web] }),
  },
  {
    name: 'a scalar is replaced',
    schema: deploymentSchema,
    original: deploy({ containers: [web] }),
    patch: { spec: { replicas: 4 } },
    expected: {
      ...deploy({ containers: [web] }),
      spec: {
        ...(deploy({}).spec as Obj),
        replicas: 4,
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [web] } },
      },
    },
  },
  {
    name: 'a value of another JSON type replaces (int-or-string maxSurge)',
    schema: deploymentSchema,
    original: {
      spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } },
    },
    patch: { spec: { strategy: { rollingUpdate: { maxSurge: '25%' } } } },
    expected: {
      spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } } },
    },
  },
  {
    name: 'a new map is taken from the patch without its nulls',
    schema: deploymentSchema,
    original: deploy({ containers: [web] }),
    patch: podPatch({ nodeSelector: { disk: 'ssd', zone: null } }),
    expected: deploy({ containers: [web], nodeSelector: { disk: 'ssd' } }),
  },

  // ---------------------------------------------------------------------------------------------
  // Lists without a merge key: replaced
  {
    name: 'container args (no merge key) are replaced',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, args: ['-a', '-b'] }] }),
    patch: podPatch({ containers: [{ name: 'web', args: ['-c'] }] }),
    expected: deploy({ containers: [{ ...web, args: ['-c'] }] }),
  },
  {
    name: 'tolerations (no merge key upstream) are replaced, not merged',
    schema: deploymentSchema,
    original: deploy({
      containers: [web],
      tolerations: [
        { key: 'a', operator: 'Exists' },
        { key: 'b', operator: 'Equal', value: 'x', effect: 'NoSchedule' },
      ],
    }),
    patch: podPatch({ tolerations: [{ key: 'b', operator: 'Exists' }] }),
    expected: deploy({ containers: [web], tolerations: [{ key: 'b', operator: 'Exists' }] }),
  },
  {
    name: 'envFrom (no merge key) is replaced',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, envFrom: [{ configMapRef: { name: 'a' } }] }] }),
    patch: podPatch({ containers: [{ name: 'web', envFrom: [{ secretRef: { name: 's' } }] }] }),
    expected: deploy({ containers: [{ ...web, envFrom: [{ secretRef: { name: 's' } }] }] }),
  },
  {
    name: 'HPA metrics (no merge key) are replaced',
    schema: hpaSchema,
    original: {
      spec: {
        maxReplicas: 5,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } },
          },
          {
            type: 'Resource',
            resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } },
          },
        ],
      },
    },
    patch: {
      spec: {
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } },
          },
        ],
      },
    },
    expected: {
      spec: {
        maxReplicas: 5,
        metrics: [
          {
            type: 'Resource',
            resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } },
          },
        ],
      },
    },
  },

  // ---------------------------------------------------------------------------------------------
  // Lists merged by key
  {
    name: 'containers merge by name: one image changes, the other container stays',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, ports: [{ containerPort: 80 }] }, side] }),
    patch: podPatch({ containers: [{ name: 'web', image: 'nginx:2' }] }),
    expected: deploy({ containers: [{ ...web, image: 'nginx:2', ports: [{ containerPort: 80 }] }, side] }),
    naiveCorrupts: true,
  },
  {
    name: 'initContainers and imagePullSecrets merge by name',
    schema: deploymentSchema,
    original: deploy({
      initContainers: [
        { name: 'migrate', image: 'm:1' },
        { name: 'warm', image: 'w:1' },
      ],
      containers: [web],
      imagePullSecrets: [{ name: 'registry-a' }],
    }),
    patch: podPatch({
      initContainers: [{ name: 'warm', image: 'w:2' }],
      imagePullSecrets: [{ name: 'registry-b' }],
    }),
    expected: deploy({
      initContainers: [
        { name: 'migrate', image: 'm:1' },
        { name: 'warm', image: 'w:2' },
      ],
      containers: [web],
      imagePullSecrets: [{ name: 'registry-b' }, { name: 'registry-a' }],
    }),
  },
  {
    name: 'container ports merge by containerPort: a new port is added where $setElementOrder says',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, ports: [{ name: 'http', containerPort: 80 }] }] }),
    patch: podPatch({
      containers: [
        {
          name: 'web',
          '$setElementOrder/ports': [{ containerPort: 80 }, { containerPort: 443 }],
          ports: [{ name: 'https', containerPort: 443 }],
        },
      ],
    }),
    expected: deploy({
      containers: [
        {
          ...web,
          ports: [
            { name: 'http', containerPort: 80 },
            { name: 'https', containerPort: 443 },
          ],
        },
      ],
    }),
    naiveCorrupts: true,
  },
  {
    name: 'container ports merge by containerPort: a port is renamed in place',
    schema: deploymentSchema,
    original: deploy({
      containers: [
        {
          ...web,
          ports: [
            { name: 'http', containerPort: 80, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
        },
      ],
    }),
    patch: podPatch({ containers: [{ name: 'web', ports: [{ containerPort: 80, name: 'web' }] }] }),
    expected: deploy({
      containers: [
        {
          ...web,
          ports: [
            { name: 'web', containerPort: 80, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
        },
      ],
    }),
  },
  {
    name: 'service ports merge by port: one targetPort changes, nodePorts stay',
    schema: serviceSchema,
    original: {
      spec: {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, targetPort: 8080, nodePort: 30080 },
          { name: 'https', port: 443, targetPort: 8443, nodePort: 30443 },
        ],
      },
    },
    patch: { spec: { ports: [{ port: 80, targetPort: 'http' }] } },
    expected: {
      spec: {
        type: 'NodePort',
        ports: [
          { name: 'http', port: 80, targetPort: 'http', nodePort: 30080 },
          { name: 'https', port: 443, targetPort: 8443, nodePort: 30443 },
        ],
      },
    },
    naiveCorrupts: true,
  },
  {
    name: 'env merges by name: one value changes, the others keep their place',
    schema: deploymentSchema,
    original: deploy({
      containers: [
        {
          ...web,
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
            { name: 'C', value: '3' },
          ],
        },
      ],
    }),
    patch: podPatch({ containers: [{ name: 'web', env: [{ name: 'B', value: '20' }] }] }),
    expected: deploy({
      containers: [
        {
          ...web,
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '20' },
            { name: 'C', value: '3' },
          ],
        },
      ],
    }),
    naiveCorrupts: true,
  },
  {
    name: 'an env var switches from value to valueFrom (null clears the value)',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, env: [{ name: 'PW', value: 'plain' }] }] }),
    patch: podPatch({
      containers: [
        {
          name: 'web',
          env: [{ name: 'PW', value: null, valueFrom: { secretKeyRef: { name: 's', key: 'pw' } } }],
        },
      ],
    }),
    expected: deploy({
      containers: [{ ...web, env: [{ name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'pw' } } }] }],
    }),
  },
  {
    name: 'volumes merge by name; without $retainKeys the old source stays beside the new one',
    schema: deploymentSchema,
    original: deploy({
      containers: [web],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'c' } },
      ],
    }),
    patch: podPatch({ volumes: [{ name: 'data', secret: { secretName: 's' } }] }),
    expected: deploy({
      containers: [web],
      volumes: [
        { name: 'data', emptyDir: {}, secret: { secretName: 's' } },
        { name: 'cfg', configMap: { name: 'c' } },
      ],
    }),
  },
  {
    name: 'volumes (merge,retainKeys): $retainKeys swaps the volume source',
    schema: deploymentSchema,
    original: deploy({
      containers: [web],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'c' } },
      ],
    }),
    patch: podPatch({
      volumes: [{ name: 'data', $retainKeys: ['name', 'secret'], secret: { secretName: 's' } }],
    }),
    expected: deploy({
      containers: [web],
      volumes: [
        { name: 'data', secret: { secretName: 's' } },
        { name: 'cfg', configMap: { name: 'c' } },
      ],
    }),
  },
  {
    name: 'volumeMounts merge by mountPath: the same volume mounted twice keeps both mounts',
    schema: deploymentSchema,
    original: deploy({
      containers: [
        {
          ...web,
          volumeMounts: [
            { name: 'data', mountPath: '/a' },
            { name: 'data', mountPath: '/b', subPath: 'b' },
          ],
        },
      ],
    }),
    patch: podPatch({ containers: [{ name: 'web', volumeMounts: [{ mountPath: '/b', readOnly: true }] }] }),
    expected: deploy({
      containers: [
        {
          ...web,
          volumeMounts: [
            { name: 'data', mountPath: '/a' },
            { name: 'data', mountPath: '/b', subPath: 'b', readOnly: true },
          ],
        },
      ],
    }),
  },
  {
    name: 'topologySpreadConstraints merge by topologyKey',
    schema: deploymentSchema,
    original: deploy({
      containers: [web],
      topologySpreadConstraints: [
        { maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
        { maxSkew: 1, topologyKey: 'host', whenUnsatisfiable: 'ScheduleAnyway' },
      ],
    }),
    patch: podPatch({ topologySpreadConstraints: [{ topologyKey: 'zone', maxSkew: 2 }] }),
    expected: deploy({
      containers: [web],
      topologySpreadConstraints: [
        { maxSkew: 2, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' },
        { maxSkew: 1, topologyKey: 'host', whenUnsatisfiable: 'ScheduleAnyway' },
      ],
    }),
  },
  {
    name: 'hostAliases merge by ip',
    schema: podSchema,
    original: { spec: { containers: [web], hostAliases: [{ ip: '10.0.0.1', hostnames: ['a'] }] } },
    patch: {
      spec: {
        hostAliases: [
          { ip: '10.0.0.1', hostnames: ['a', 'b'] },
          { ip: '10.0.0.2', hostnames: ['c'] },
        ],
      },
    },
    expected: {
      spec: {
        containers: [web],
        hostAliases: [
          { ip: '10.0.0.1', hostnames: ['a', 'b'] },
          { ip: '10.0.0.2', hostnames: ['c'] },
        ],
      },
    },
  },
  {
    name: 'status conditions merge by type',
    schema: deploymentSchema,
    original: {
      status: {
        conditions: [
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
          { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' },
        ],
      },
    },
    patch: {
      status: { conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }] },
    },
    expected: {
      status: {
        conditions: [
          { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
        ],
      },
    },
    naiveCorrupts: true,
  },
  {
    name: 'Node addresses merge by type',
    schema: nodeSchema,
    original: {
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.0.5' },
          { type: 'Hostname', address: 'n1' },
        ],
      },
    },
    patch: { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.6' }] } },
    expected: {
      status: {
        addresses: [
          { type: 'InternalIP', address: '10.0.0.6' },
          { type: 'Hostname', address: 'n1' },
        ],
      },
    },
  },
  {
    name: 'ownerReferences merge by uid',
    schema: deploymentSchema,
    original: {
      metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'a', uid: 'u1' }] },
    },
    patch: {
      metadata: {
        ownerReferences: [
          { uid: 'u1', blockOwnerDeletion: true },
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'b', uid: 'u2' },
        ],
      },
    },
    expected: {
      metadata: {
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'a', uid: 'u1', blockOwnerDeletion: true },
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'b', uid: 'u2' },
        ],
      },
    },
  },
  {
    name: 'finalizers merge as a set of scalars: new ones appended, no duplicates',
    schema: deploymentSchema,
    original: { metadata: { finalizers: ['a', 'b'] } },
    patch: { metadata: { finalizers: ['b', 'c'] } },
    expected: { metadata: { finalizers: ['a', 'b', 'c'] } },
    naiveCorrupts: true,
  },
  {
    name: 'Node podCIDRs merge as a set of scalars',
    schema: nodeSchema,
    original: { spec: { podCIDRs: ['10.1.0.0/24'] } },
    patch: { spec: { podCIDRs: ['fd00::/64'] } },
    expected: { spec: { podCIDRs: ['fd00::/64', '10.1.0.0/24'] } },
  },
  {
    name: 'the patch list order wins over the live order for the items it names',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({
      containers: [
        { name: 'side', image: 'busybox:2' },
        { name: 'web', image: 'nginx:2' },
      ],
    }),
    expected: deploy({
      containers: [
        { ...side, image: 'busybox:2' },
        { ...web, image: 'nginx:2' },
      ],
    }),
  },
  {
    // Upstream's mergeSortedSlice puts patch items the live list does not know before the server-only
    // ones; kubectl apply always sends $setElementOrder, so this shows only with hand-written patches.
    name: 'without $setElementOrder a new item goes before the live ones',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({ containers: [{ name: 'log', image: 'fluent:1' }] }),
    expected: deploy({ containers: [{ name: 'log', image: 'fluent:1' }, web, side] }),
    naiveCorrupts: true,
  },
  {
    name: 'with $setElementOrder a new item goes where the order puts it (kubectl apply)',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({
      '$setElementOrder/containers': [{ name: 'web' }, { name: 'side' }, { name: 'log' }],
      containers: [{ name: 'log', image: 'fluent:1' }],
    }),
    expected: deploy({ containers: [web, side, { name: 'log', image: 'fluent:1' }] }),
    naiveCorrupts: true,
  },
  {
    name: 'an item not present is added, with its nested lists resolved',
    schema: deploymentSchema,
    original: deploy({ containers: [web] }),
    patch: podPatch({
      containers: [
        {
          name: 'new',
          image: 'i:1',
          env: [
            { name: 'X', value: '1' },
            { name: 'Y', $patch: 'delete' },
          ],
          volumeMounts: [{ name: 'v', mountPath: '/v', readOnly: null }],
        },
      ],
    }),
    expected: deploy({
      containers: [
        {
          name: 'new',
          image: 'i:1',
          env: [{ name: 'X', value: '1' }],
          volumeMounts: [{ name: 'v', mountPath: '/v' }],
        },
        web,
      ],
    }),
  },
  {
    name: 'a merge list that is absent is created from the patch',
    schema: deploymentSchema,
    original: deploy({ containers: [web] }),
    patch: podPatch({ containers: [{ name: 'web', env: [{ name: 'A', value: '1' }] }] }),
    expected: deploy({ containers: [{ ...web, env: [{ name: 'A', value: '1' }] }] }),
  },
  {
    name: 'an empty patch list leaves a merge list as it is',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, env: [{ name: 'A', value: '1' }] }] }),
    patch: podPatch({ containers: [{ name: 'web', env: [] }] }),
    expected: deploy({ containers: [{ ...web, env: [{ name: 'A', value: '1' }] }] }),
    naiveCorrupts: true,
  },

  // ---------------------------------------------------------------------------------------------
  // $patch
  {
    name: '$patch: delete removes a list item by its merge key',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({ containers: [{ name: 'side', $patch: 'delete' }] }),
    expected: deploy({ containers: [web] }),
    naiveCorrupts: true,
  },
  {
    name: '$patch: delete of an item that is not there changes nothing',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({ containers: [{ name: 'ghost', $patch: 'delete' }] }),
    expected: deploy({ containers: [web, side] }),
    naiveCorrupts: true,
  },
  {
    name: '$patch: delete in a nested list (containers[].env[])',
    schema: deploymentSchema,
    original: deploy({
      containers: [
        {
          ...web,
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
          ],
        },
        side,
      ],
    }),
    patch: podPatch({ containers: [{ name: 'web', env: [{ name: 'A', $patch: 'delete' }] }] }),
    expected: deploy({ containers: [{ ...web, env: [{ name: 'B', value: '2' }] }, side] }),
    naiveCorrupts: true,
  },
  {
    name: '$patch: delete on a map empties it',
    schema: deploymentSchema,
    original: deploy({ containers: [web], nodeSelector: { disk: 'ssd', zone: 'a' } }),
    patch: podPatch({ nodeSelector: { $patch: 'delete' } }),
    expected: deploy({ containers: [web], nodeSelector: {} }),
  },
  {
    name: '$patch: replace on a map replaces it instead of merging',
    schema: deploymentSchema,
    original: deploy({ containers: [web], nodeSelector: { disk: 'ssd', zone: 'a' } }),
    patch: podPatch({ nodeSelector: { $patch: 'replace', zone: 'b' } }),
    expected: deploy({ containers: [web], nodeSelector: { zone: 'b' } }),
    naiveCorrupts: true,
  },
  {
    name: '$patch: replace on a list replaces the whole list',
    schema: deploymentSchema,
    original: deploy({
      containers: [
        {
          ...web,
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
          ],
        },
      ],
    }),
    patch: podPatch({
      containers: [{ name: 'web', env: [{ name: 'C', value: '3' }, { $patch: 'replace' }] }],
    }),
    expected: deploy({ containers: [{ ...web, env: [{ name: 'C', value: '3' }] }] }),
    naiveCorrupts: true,
  },
  {
    name: '$patch: replace on the containers list drops fields the patch does not repeat',
    schema: deploymentSchema,
    original: deploy({ containers: [{ ...web, resources: { limits: { cpu: '1' } } }, side] }),
    patch: podPatch({ containers: [{ $patch: 'replace' }, { name: 'web', image: 'nginx:3' }] }),
    expected: deploy({ containers: [{ name: 'web', image: 'nginx:3' }] }),
  },
  {
    name: '$patch: merge on a map is the default merge',
    schema: deploymentSchema,
    original: deploy({ containers: [web], nodeSelector: { disk: 'ssd' } }),
    patch: podPatch({ nodeSelector: { $patch: 'merge', zone: 'b' } }),
    expected: deploy({ containers: [web], nodeSelector: { disk: 'ssd', zone: 'b' } }),
    naiveCorrupts: true,
  },

  // ---------------------------------------------------------------------------------------------
  // $setElementOrder
  {
    name: '$setElementOrder alone reorders a keyed list, contents untouched',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({ '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }] }),
    expected: deploy({ containers: [side, web] }),
    naiveCorrupts: true,
  },
  {
    name: '$setElementOrder places a changed item and a new item',
    schema: deploymentSchema,
    original: deploy({ containers: [web, side] }),
    patch: podPatch({
      '$setElementOrder/containers': [{ name: 'log' }, { name: 'web' }, { name: 'side' }],
      containers: [
        { name: 'log', image: 'fluent:1' },
        { name: 'side', image: 'busybox:2' },
      ],
    }),
    expected: deploy({
      containers: [{ name: 'log', image: 'fluent:1' }, web, { ...side, image: 'busybox:2' }],
    }),
  },
  {
    name: '$setElementOrder keeps server-only items where they were in the live list',
    schema: deploymentSchema,
    // `mesh` was injected by someone else; the applied configuration knows only web and side.
    original: deploy({ containers: [web, side, { name: 'mesh', image: 'envoy:1' }] }),
    patch: podPatch({ '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }] }),
    expected: deploy({ containers: [side, web, { name: 'mesh', image: 'envoy:1' }] }),
  },
  {
    name: '$setElementOrder: a server-only item goes before the first patch item it preceded live',
    schema: deploymentSchema,
    original: deploy({ containers: [web, { name: 'mesh', image: 'envoy:1' }, side] }),
    patch: podPatch({ '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }] }),
    expected: deploy({ containers: [{ name: 'mesh', image: 'envoy:1' }, side, web] }),
  },
  {
    name: '$setElementOrder: a server-only item before the first named one stays first',
    schema: deploymentSchema,
    original: deploy({ containers: [{ name: 'mesh', image: 'envoy:1' }, web, side] }),
    patch: podPatch({ '$setElementOrder/containers': [{ name: 'side' }, { name: 'web' }] }),
    expected: deploy({ containers: [{ name: 'mesh', image: 'envoy:1' }, side, web] }),
  },
  {
    name: '$setElementOrder for a primitive list (finalizers)',
    schema: deploymentSchema,
    original: { metadata: { finalizers: ['a', 'b'] } },
    patch: { metadata: { '$setElementOrder/finalizers': ['c', 'b', 'a'], finalizers: ['c'] } },
    expected: { metadata: { finalizers: ['c', 'b', 'a'] } },
    naiveCorrupts: true,
  },
  {
    name: 'kubectl apply: containers reordered, an image changed and an env var removed (observed body)',
    schema: deploymentSchema,
    original: deploy({
      containers: [
        {
          name: 'a',
          image: 'nginx:1',
          env: [
            { name: 'FOO', value: '1' },
            { name: 'BAR', value: '2' },
          ],
        },
        { name: 'b', image: 'nginx:1' },
      ],
    }),
    patch: podPatch({
      '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
      containers: [
        { image: 'nginx:2', name: 'b' },
        {
          '$setElementOrder/env': [{ name: 'BAR' }],
          env: [
            { name: 'BAR', value: '3' },
            { $patch: 'delete', name: 'FOO' },
          ],
          name: 'a',
        },
      ],
    }),
    expected: deploy({
      containers: [
        { name: 'b', image: 'nginx:2' },
        { name: 'a', image: 'nginx:1', env: [{ name: 'BAR', value: '3' }] },
      ],
    }),
    naiveCorrupts: true,
  },

  // ---------------------------------------------------------------------------------------------
  // $deleteFromPrimitiveList, $retainKeys
  {
    name: '$deleteFromPrimitiveList removes scalars from a merged list',
    schema: deploymentSchema,
    original: { metadata: { finalizers: ['a', 'b', 'c'] } },
    patch: { metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] } },
    expected: { metadata: { finalizers: ['a', 'c'] } },
    naiveCorrupts: true,
  },
  {
    name: '$deleteFromPrimitiveList of an absent value or list changes nothing',
    schema: deploymentSchema,
    original: { metadata: { finalizers: ['a'] } },
    patch: {
      metadata: { '$deleteFromPrimitiveList/finalizers': ['z'], '$deleteFromPrimitiveList/other': ['x'] },
    },
    expected: { metadata: { finalizers: ['a'] } },
  },
  {
    name: '$retainKeys on the Deployment strategy: RollingUpdate to Recreate drops rollingUpdate',
    schema: deploymentSchema,
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } } } },
    patch: { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } },
    expected: { spec: { strategy: { type: 'Recreate' } } },
    naiveCorrupts: true,
  },
  {
    name: 'without $retainKeys, changing the strategy type keeps rollingUpdate (why kubectl sends it)',
    schema: deploymentSchema,
    original: { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } } } },
    patch: { spec: { strategy: { type: 'Recreate' } } },
    expected: { spec: { strategy: { type: 'Recreate', rollingUpdate: { maxSurge: '25%' } } } },
  },
];

describe('strategic merge patch: documented cases', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('$name', ({ schema: s, original, patch, expected, naiveCorrupts }) => {
    const originalText = JSON.stringify(original);
    const patchText = JSON.stringify(patch);
    const result = applyStrategicMergePatch(original, patch, s);
    expect(result).toEqual(expected);
    expect(directivesIn(result)).toEqual([]);
    // Neither input is modified.
    expect(JSON.stringify(original)).toBe(originalText);
    expect(JSON.stringify(patch)).toBe(patchText);
    if (naiveCorrupts === true) expect(applyMergePatch(original, patch)).not.toEqual(expected);
  });
});

describe('strategic merge patch: refused patches', () => {
  it.each([
    [
      'a merge-list item without its merge key',
      podPatch({ containers: [{ image: 'x' }] }),
      'Invalid',
      'does not contain declared merge key: name',
    ],
    [
      'a $patch: delete item without its merge key',
      podPatch({ containers: [{ $patch: 'delete' }] }),
      'Invalid',
      'does not contain declared merge key: name',
    ],
    [
      'an unknown $patch directive',
      { metadata: { labels: { $patch: 'frob' } } },
      'BadRequest',
      'unknown patch type: "frob"',
    ],
    [
      'a field outside the $retainKeys list',
      { spec: { strategy: { $retainKeys: ['type'], rollingUpdate: { maxSurge: 1 } } } },
      'Invalid',
      "patch content doesn't match retainKeys list",
    ],
    [
      '$retainKeys that is not a list of names',
      { spec: { strategy: { $retainKeys: 'type' } } },
      'BadRequest',
      '$retainKeys',
    ],
    [
      '$setElementOrder that is not a list',
      podPatch({ '$setElementOrder/containers': { name: 'web' } }),
      'BadRequest',
      '$setElementOrder/containers must be a list',
    ],
    [
      'a patch list in another order than its $setElementOrder',
      podPatch({
        '$setElementOrder/containers': [{ name: 'web' }, { name: 'side' }],
        containers: [
          { name: 'side', image: 'b:2' },
          { name: 'web', image: 'n:2' },
        ],
      }),
      'BadRequest',
      "doesn't match $setElementOrder/containers",
    ],
    [
      'a patch list item missing from its $setElementOrder',
      podPatch({
        '$setElementOrder/containers': [{ name: 'web' }],
        containers: [{ name: 'log', image: 'l:1' }],
      }),
      'BadRequest',
      "doesn't match $setElementOrder/containers",
    ],
    [
      '$deleteFromPrimitiveList that is not a list',
      { metadata: { '$deleteFromPrimitiveList/finalizers': 'a' } },
      'BadRequest',
      '$deleteFromPrimitiveList/finalizers must be a list',
    ],
    [
      'a merge-list item that is not an object',
      podPatch({ containers: ['web'] }),
      'Invalid',
      'must contain objects',
    ],
  ])('refuses %s', (_name, patch, reason, message) => {
    const original = deploy({ containers: [web, side], nodeSelector: { a: 'b' } });
    try {
      applyStrategicMergePatch(original, patch, deploymentSchema);
      expect.unreachable();
    } catch (err) {
      expect(isApiError(err) && err.reason).toBe(reason);
      expect((err as Error).message).toContain(message);
    }
  });
});
