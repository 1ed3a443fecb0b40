// Table columns per kind, as kubectl prints them (k8s.io/kubernetes/pkg/printers/internalversion).
// Pure: no node imports, no I/O; `now` is passed in. The API server can reuse these definitions to
// answer `Accept: application/json;as=Table` (priority 1 columns are the `-o wide` ones).
import type { KubeObject } from '../types.js';

export type Cell = string | number;

export interface ColumnDefinition {
  /** As in metav1.TableColumnDefinition: `Name`, `Up-to-date`; printed upper-cased. */
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: '' | 'name';
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority: 0 | 1;
}

export interface TablePrinter {
  columns: ColumnDefinition[];
  /** One cell per column (wide ones included), in column order. `now` is epoch milliseconds. */
  cells(obj: KubeObject, now: number): Cell[];
}

// ---------------------------------------------------------------------------------------------
// Loose field access: kind-specific fields are `unknown` until validated.

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}
function int(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
function path(obj: unknown, ...keys: string[]): unknown {
  let cur: unknown = obj;
  for (const k of keys) cur = rec(cur)[k];
  return cur;
}

// ---------------------------------------------------------------------------------------------
// Ages: apimachinery's duration.HumanDuration.

/** `5s`, `3m20s`, `15m`, `4h2m`, `2d`, `2d3h`, `1y20d`: the way kubectl prints ages. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** Age of an RFC 3339 timestamp at `now`; `<unknown>` when absent or unparsable. */
export function age(timestamp: unknown, now: number): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

function creationAge(obj: KubeObject, now: number): string {
  return age(obj.metadata.creationTimestamp, now);
}

// ---------------------------------------------------------------------------------------------
// Shared formatting.

/** `a=1,b=2` sorted by key; `<none>` when empty (labels.FormatLabels). */
export function formatLabels(labels: unknown): string {
  const entries = Object.entries(rec(labels))
    .map(([k, v]) => [k, str(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return '<none>';
  return entries.map(([k, v]) => `${k}=${v}`).join(',');
}

/** A metav1.LabelSelector as kubectl prints it: `app=web,tier in (a,b),!legacy`. Empty: ''. */
export function formatLabelSelector(selector: unknown): string {
  const sel = rec(selector);
  const parts: { key: string; text: string }[] = [];
  for (const [k, v] of Object.entries(rec(sel['matchLabels'])))
    parts.push({ key: k, text: `${k}=${str(v)}` });
  for (const e of arr(sel['matchExpressions'])) {
    const key = str(rec(e)['key']);
    const op = str(rec(e)['operator']);
    const values = arr(rec(e)['values']).map(str).sort();
    switch (op) {
      case 'In':
        parts.push({ key, text: `${key} in (${values.join(',')})` });
        break;
      case 'NotIn':
        parts.push({ key, text: `${key} notin (${values.join(',')})` });
        break;
      case 'Exists':
        parts.push({ key, text: key });
        break;
      case 'DoesNotExist':
        parts.push({ key, text: `!${key}` });
        break;
      default:
        parts.push({ key, text: `${key} ${op} (${values.join(',')})` });
    }
  }
  parts.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return parts.map((p) => p.text).join(',');
}

/** Service ports: `80/TCP,443:30443/TCP` (makePortString). */
export function formatServicePorts(ports: unknown): string {
  return arr(ports)
    .map((p) => {
      const port = rec(p);
      const protocol = str(port['protocol']) || 'TCP';
      const nodePort = int(port['nodePort']);
      return nodePort > 0
        ? `${int(port['port'])}:${nodePort}/${protocol}`
        : `${int(port['port'])}/${protocol}`;
    })
    .join(',');
}

function containerCells(podSpec: unknown): [string, string] {
  const containers = arr(rec(podSpec)['containers']).map(rec);
  return [containers.map((c) => str(c['name'])).join(','), containers.map((c) => str(c['image'])).join(',')];
}

function listWithMore(list: string[], more: boolean, count: number, max: number, empty: string): string {
  const ret = list.join(',');
  if (more) return `${ret} + ${count - max} more...`;
  return ret === '' ? empty : ret;
}

function col(
  name: string,
  type: ColumnDefinition['type'],
  description: string,
  priority: 0 | 1 = 0,
  format: ColumnDefinition['format'] = '',
): ColumnDefinition {
  return { name, type, format, description, priority };
}

const nameCol = col('Name', 'string', 'Name must be unique within a namespace.', 0, 'name');
// Upstream types most columns `string` whatever the cell holds; AGE is a string like `5m`.
const ageCol = col('Age', 'string', 'The time since the object was created.');

// ---------------------------------------------------------------------------------------------
// Pods.

function conditionTrue(status: Rec, type: string): boolean {
  return arr(status['conditions']).some(
    (c) => str(rec(c)['type']) === type && str(rec(c)['status']) === 'True',
  );
}

/** The READY, STATUS and RESTARTS of a pod, computed like kubectl's printPod. */
export function podSummary(
  pod: KubeObject,
  now: number,
): { ready: string; status: string; restarts: string } {
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  const containers = arr(spec['containers']);
  const initContainers = arr(spec['initContainers']).map(rec);
  const restartableInit = new Set(
    initContainers.filter((c) => str(c['restartPolicy']) === 'Always').map((c) => str(c['name'])),
  );
  const totalContainers = containers.length + restartableInit.size;
  let readyContainers = 0;
  let restarts = 0;
  let restartableInitRestarts = 0;
  let lastRestart = 0;
  let lastRestartableInitRestart = 0;

  const phase = str(status['phase']);
  let reason = str(status['reason']) || phase;
  for (const c of arr(status['conditions']).map(rec)) {
    if (str(c['type']) === 'PodScheduled' && str(c['reason']) === 'SchedulingGated')
      reason = 'SchedulingGated';
  }

  const finishedAt = (cs: Rec): number => {
    const t = Date.parse(str(path(cs, 'lastState', 'terminated', 'finishedAt')));
    return Number.isNaN(t) ? 0 : t;
  };

  let initializing = false;
  const initStatuses = arr(status['initContainerStatuses']).map(rec);
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i] ?? {};
    const name = str(cs['name']);
    restarts += int(cs['restartCount']);
    lastRestart = Math.max(lastRestart, finishedAt(cs));
    const restartable = restartableInit.has(name);
    if (restartable) {
      restartableInitRestarts += int(cs['restartCount']);
      lastRestartableInitRestart = Math.max(lastRestartableInitRestart, finishedAt(cs));
    }
    const state = rec(cs['state']);
    const terminated = state['terminated'] === undefined ? undefined : rec(state['terminated']);
    const waiting = state['waiting'] === undefined ? undefined : rec(state['waiting']);
    if (terminated !== undefined && int(terminated['exitCode']) === 0) continue;
    if (restartable && cs['started'] === true) {
      if (cs['ready'] === true) readyContainers++;
      continue;
    }
    if (terminated !== undefined) {
      const r = str(terminated['reason']);
      if (r === '') {
        reason =
          int(terminated['signal']) !== 0
            ? `Init:Signal:${int(terminated['signal'])}`
            : `Init:ExitCode:${int(terminated['exitCode'])}`;
      } else {
        reason = `Init:${r}`;
      }
    } else if (
      waiting !== undefined &&
      str(waiting['reason']) !== '' &&
      str(waiting['reason']) !== 'PodInitializing'
    ) {
      reason = `Init:${str(waiting['reason'])}`;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status, 'Initialized')) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = arr(status['containerStatuses']).map(rec);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i] ?? {};
      restarts += int(cs['restartCount']);
      lastRestart = Math.max(lastRestart, finishedAt(cs));
      const state = rec(cs['state']);
      const waiting = state['waiting'] === undefined ? undefined : rec(state['waiting']);
      const terminated = state['terminated'] === undefined ? undefined : rec(state['terminated']);
      if (waiting !== undefined && str(waiting['reason']) !== '') {
        reason = str(waiting['reason']);
      } else if (terminated !== undefined && str(terminated['reason']) !== '') {
        reason = str(terminated['reason']);
      } else if (terminated !== undefined) {
        reason =
          int(terminated['signal']) !== 0
            ? `Signal:${int(terminated['signal'])}`
            : `ExitCode:${int(terminated['exitCode'])}`;
      } else if (cs['ready'] === true && state['running'] !== undefined) {
        hasRunning = true;
        readyContainers++;
      }
    }
    if (reason === 'Completed' && hasRunning)
      reason = conditionTrue(status, 'Ready') ? 'Running' : 'NotReady';
  }

  if (pod.metadata.deletionTimestamp !== undefined && str(status['reason']) === 'NodeLost') {
    reason = 'Unknown';
  } else if (pod.metadata.deletionTimestamp !== undefined && phase !== 'Succeeded' && phase !== 'Failed') {
    reason = 'Terminating';
  }
  const restartText =
    restarts !== 0 && lastRestart > 0
      ? `${restarts} (${humanDuration(now - lastRestart)} ago)`
      : String(restarts);
  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts: restartText };
}

const podPrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col(
      'Restarts',
      'string',
      'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    ),
    ageCol,
    col('IP', 'string', 'IP address allocated to the pod.', 1),
    col('Node', 'string', 'Name of the node assigned to the pod.', 1),
    col('Nominated Node', 'string', 'Name of the node nominated for the pod.', 1),
    col('Readiness Gates', 'string', 'Readiness gates of the pod.', 1),
  ],
  cells(pod, now) {
    const spec = rec(pod.spec);
    const status = rec(pod.status);
    const s = podSummary(pod, now);
    const podIP = str(rec(arr(status['podIPs'])[0])['ip']) || str(status['podIP']) || '<none>';
    const gates = arr(spec['readinessGates']).map((g) => str(rec(g)['conditionType']));
    let readinessGates = '<none>';
    if (gates.length > 0) {
      const conditions = arr(status['conditions']).map(rec);
      const trueCount = gates.filter((g) => {
        const c = conditions.find((x) => str(x['type']) === g);
        return c !== undefined && str(c['status']) === 'True';
      }).length;
      readinessGates = `${trueCount}/${gates.length}`;
    }
    return [
      pod.metadata.name ?? '',
      s.ready,
      s.status,
      s.restarts,
      creationAge(pod, now),
      podIP,
      str(spec['nodeName']) || '<none>',
      str(status['nominatedNodeName']) || '<none>',
      readinessGates,
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Workloads.

function replicas(spec: Rec): number {
  return typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
}

const deploymentPrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Ready', 'string', 'Number of the pod with ready state'),
    col(
      'Up-to-date',
      'string',
      'Total number of non-terminated pods targeted by this deployment that have the desired template spec.',
    ),
    col(
      'Available',
      'string',
      'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.',
    ),
    ageCol,
    col('Containers', 'string', 'Names of each container in the template.', 1),
    col('Images', 'string', 'Images referenced by each container in the template.', 1),
    col(
      'Selector',
      'string',
      'Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.',
      1,
    ),
  ],
  cells(obj, now) {
    const spec = rec(obj.spec);
    const status = rec(obj.status);
    const [containers, images] = containerCells(path(spec, 'template', 'spec'));
    return [
      obj.metadata.name ?? '',
      `${int(status['readyReplicas'])}/${replicas(spec)}`,
      int(status['updatedReplicas']),
      int(status['availableReplicas']),
      creationAge(obj, now),
      containers,
      images,
      formatLabelSelector(spec['selector']),
    ];
  },
};

const replicaSetPrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Desired', 'integer', 'Number of desired pods.'),
    col('Current', 'integer', 'Number of actual replicas.'),
    col('Ready', 'integer', 'Number of ready replicas.'),
    ageCol,
    col('Containers', 'string', 'Names of each container in the template.', 1),
    col('Images', 'string', 'Images referenced by each container in the template.', 1),
    col('Selector', 'string', 'Label selector for pods.', 1),
  ],
  cells(obj, now) {
    const spec = rec(obj.spec);
    const status = rec(obj.status);
    const [containers, images] = containerCells(path(spec, 'template', 'spec'));
    return [
      obj.metadata.name ?? '',
      replicas(spec),
      int(status['replicas']),
      int(status['readyReplicas']),
      creationAge(obj, now),
      containers,
      images,
      formatLabelSelector(spec['selector']),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Services and endpoints.

function loadBalancerIngress(status: Rec, wide: boolean): string {
  const ingress = arr(path(status, 'loadBalancer', 'ingress')).map(rec);
  const s = ingress
    .map((i) => str(i['ip']) || str(i['hostname']))
    .filter((x) => x !== '')
    .join(',');
  return !wide && s.length > 16 ? `${s.slice(0, 13)}...` : s;
}

/** EXTERNAL-IP of a Service (getServiceExternalIP). */
export function serviceExternalIP(svc: KubeObject, wide: boolean): string {
  const spec = rec(svc.spec);
  const externalIPs = arr(spec['externalIPs']).map(str);
  const type = str(spec['type']) || 'ClusterIP';
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(rec(svc.status), wide);
      if (externalIPs.length > 0) return [...(lb === '' ? [] : lb.split(',')), ...externalIPs].join(',');
      return lb !== '' ? lb : '<pending>';
    }
    case 'ExternalName':
      return str(spec['externalName']);
    default:
      return '<unknown>';
  }
}

const servicePrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Type', 'string', 'The type of the service.'),
    col('Cluster-IP', 'string', 'The cluster IP of the service.'),
    col('External-IP', 'string', 'The external IP of the service.'),
    col('Port(s)', 'string', 'The ports the service listens on.'),
    ageCol,
    col(
      'Selector',
      'string',
      'Route service traffic to pods with label keys and values matching this selector.',
      1,
    ),
  ],
  cells(obj, now) {
    const spec = rec(obj.spec);
    const clusterIP = str(arr(spec['clusterIPs'])[0]) || str(spec['clusterIP']) || '<none>';
    const ports = formatServicePorts(spec['ports']);
    return [
      obj.metadata.name ?? '',
      str(spec['type']) || 'ClusterIP',
      clusterIP,
      serviceExternalIP(obj, false),
      ports === '' ? '<none>' : ports,
      creationAge(obj, now),
      formatLabels(spec['selector']),
    ];
  },
};

function joinHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** ENDPOINTS of a v1 Endpoints: up to three `ip:port`, then `+ N more...` (formatEndpoints). */
export function formatEndpoints(endpoints: KubeObject): string {
  const subsets = arr(endpoints['subsets']).map(rec);
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addresses = arr(ss['addresses']).map((a) => str(rec(a)['ip']));
    const ports = arr(ss['ports']).map(rec);
    if (ports.length === 0) {
      count += addresses.length;
      for (const ip of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(ip);
      }
      continue;
    }
    for (const port of ports) {
      count += addresses.length;
      for (const ip of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(ip, int(port['port'])));
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

const endpointsPrinter: TablePrinter = {
  columns: [nameCol, col('Endpoints', 'string', 'Endpoints of the service.'), ageCol],
  cells: (obj, now) => [obj.metadata.name ?? '', formatEndpoints(obj), creationAge(obj, now)],
};

const endpointSlicePrinter: TablePrinter = {
  columns: [
    nameCol,
    col('AddressType', 'string', 'The IP protocol for this slice.'),
    col('Ports', 'string', 'The ports of the endpoints.'),
    col('Endpoints', 'string', 'Addresses of the endpoints.'),
    ageCol,
  ],
  cells(obj, now) {
    const max = 3;
    const ports = arr(obj['ports']).map(rec);
    const portList: string[] = [];
    let portsMore = false;
    for (const p of ports) {
      if (portList.length < max) {
        portList.push(
          typeof p['port'] === 'number' ? String(p['port']) : typeof p['name'] === 'string' ? p['name'] : '*',
        );
      } else portsMore = true;
    }
    const addrList: string[] = [];
    let addrMore = false;
    let addrCount = 0;
    for (const e of arr(obj['endpoints']).map(rec)) {
      for (const a of arr(e['addresses'])) {
        if (addrList.length < max) addrList.push(str(a));
        else addrMore = true;
        addrCount++;
      }
    }
    return [
      obj.metadata.name ?? '',
      str(obj['addressType']),
      listWithMore(portList, portsMore, ports.length, max, '<unset>'),
      listWithMore(addrList, addrMore, addrCount, max, '<unset>'),
      creationAge(obj, now),
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Config.

const namespacePrinter: TablePrinter = {
  columns: [nameCol, col('Status', 'string', 'The status of the namespace'), ageCol],
  cells: (obj, now) => [obj.metadata.name ?? '', str(rec(obj.status)['phase']), creationAge(obj, now)],
};

const configMapPrinter: TablePrinter = {
  columns: [nameCol, col('Data', 'string', 'Number of data in the config map.'), ageCol],
  cells: (obj, now) => [
    obj.metadata.name ?? '',
    Object.keys(rec(obj['data'])).length + Object.keys(rec(obj['binaryData'])).length,
    creationAge(obj, now),
  ],
};

const secretPrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Type', 'string', 'The type of the secret'),
    col('Data', 'string', 'The number of data in the secret'),
    ageCol,
  ],
  cells: (obj, now) => [
    obj.metadata.name ?? '',
    str(obj['type']) || 'Opaque',
    Object.keys(rec(obj['data'])).length,
    creationAge(obj, now),
  ],
};

// ---------------------------------------------------------------------------------------------
// Nodes.

/** ROLES of a node: `node-role.kubernetes.io/<role>` labels and `kubernetes.io/role`. */
export function nodeRoles(node: KubeObject): string[] {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
    if (k.startsWith('node-role.kubernetes.io/')) {
      const role = k.slice('node-role.kubernetes.io/'.length);
      if (role !== '') roles.add(role);
    } else if (k === 'kubernetes.io/role' && v !== '') {
      roles.add(v);
    }
  }
  return [...roles].sort();
}

/** STATUS of a node: `Ready`, `NotReady`, `Unknown`, plus `SchedulingDisabled` when cordoned. */
export function nodeStatus(node: KubeObject): string {
  const status: string[] = [];
  const ready = arr(rec(node.status)['conditions'])
    .map(rec)
    .find((c) => str(c['type']) === 'Ready');
  if (ready !== undefined) status.push(str(ready['status']) === 'True' ? 'Ready' : 'NotReady');
  if (status.length === 0) status.push('Unknown');
  if (rec(node.spec)['unschedulable'] === true) status.push('SchedulingDisabled');
  return status.join(',');
}

function nodeAddress(node: KubeObject, type: string): string {
  const a = arr(rec(node.status)['addresses'])
    .map(rec)
    .find((x) => str(x['type']) === type);
  return a === undefined ? '<none>' : str(a['address']);
}

const nodePrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    ageCol,
    col('Version', 'string', 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'string', 'List of internal IPs assigned to the node.', 1),
    col('External-IP', 'string', 'List of external IPs assigned to the node.', 1),
    col('OS-Image', 'string', 'OS image reported by the node.', 1),
    col('Kernel-Version', 'string', 'Kernel version reported by the node.', 1),
    col('Container-Runtime', 'string', 'Container runtime and version reported by the node.', 1),
  ],
  cells(obj, now) {
    const info = rec(path(obj.status, 'nodeInfo'));
    const roles = nodeRoles(obj).join(',');
    return [
      obj.metadata.name ?? '',
      nodeStatus(obj),
      roles === '' ? '<none>' : roles,
      creationAge(obj, now),
      str(info['kubeletVersion']),
      nodeAddress(obj, 'InternalIP'),
      nodeAddress(obj, 'ExternalIP'),
      str(info['osImage']) || '<unknown>',
      str(info['kernelVersion']) || '<unknown>',
      str(info['containerRuntimeVersion']) || '<unknown>',
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Events.

/** First/last seen and count of an Event, across the core/v1 and events.k8s.io field sets. */
export function eventTimes(
  ev: KubeObject,
  now: number,
): { firstSeen: string; lastSeen: string; count: number } {
  let firstSeen = age(ev['firstTimestamp'], now);
  if (typeof ev['firstTimestamp'] !== 'string' || ev['firstTimestamp'] === '')
    firstSeen = age(ev['eventTime'], now);
  let lastSeen = age(ev['lastTimestamp'], now);
  if (typeof ev['lastTimestamp'] !== 'string' || ev['lastTimestamp'] === '') lastSeen = firstSeen;
  let count = int(ev['count']);
  const series = ev['series'];
  if (series !== undefined && series !== null) {
    lastSeen = age(rec(series)['lastObservedTime'], now);
    count = int(rec(series)['count']);
  } else if (count === 0) {
    count = 1;
  }
  return { firstSeen, lastSeen, count };
}

/** `pod/web-1`: the OBJECT column of an event. */
export function eventTarget(ev: KubeObject): string {
  const io = rec(ev['involvedObject']);
  const kind = str(io['kind']).toLowerCase();
  const name = str(io['name']);
  return name !== '' ? `${kind}/${name}` : kind;
}

/** `kubelet, node-1`: where an event came from. */
export function eventSource(ev: KubeObject): string {
  const source = rec(ev['source']);
  const component =
    str(source['component']) || str(ev['reportingComponent']) || str(ev['reportingController']);
  const instance = str(source['host']) || str(ev['reportingInstance']);
  if (component === '') return '<unknown>';
  return instance !== '' ? `${component}, ${instance}` : component;
}

const eventPrinter: TablePrinter = {
  columns: [
    col('Last Seen', 'string', 'Time when last event from this group was observed.'),
    col('Type', 'string', 'Type of this event.'),
    col('Reason', 'string', 'Reason why this event was generated.'),
    col('Object', 'string', 'The object that this event is about.'),
    col('Subobject', 'string', 'The subobject that this event is about.', 1),
    col('Source', 'string', 'The component reporting this event.', 1),
    col('Message', 'string', 'A human-readable description of the status of this operation.'),
    col('First Seen', 'string', 'Time when first event from this group was observed.', 1),
    col('Count', 'string', 'Number of events in this group.', 1),
    col('Name', 'string', 'Name of this event.', 1, 'name'),
  ],
  cells(ev, now) {
    const t = eventTimes(ev, now);
    return [
      t.lastSeen,
      str(ev['type']),
      str(ev['reason']),
      eventTarget(ev),
      str(rec(ev['involvedObject'])['fieldPath']),
      eventSource(ev),
      str(ev['message']).trim(),
      t.firstSeen,
      t.count,
      ev.metadata.name ?? '',
    ];
  },
};

// ---------------------------------------------------------------------------------------------
// Autoscaling and coordination.

function quantity(v: unknown): string {
  return typeof v === 'number' ? String(v) : typeof v === 'string' ? v : '';
}

/** TARGETS of an HPA: `cpu: 40%/80%`, `<unknown>/500m`, up to two then `+ N more...`. */
export function formatHpaMetrics(specs: unknown, statuses: unknown): string {
  const specList = arr(specs).map(rec);
  const statusList = arr(statuses).map(rec);
  if (specList.length === 0) return '<none>';
  const list: string[] = [];
  const max = 2;
  for (let i = 0; i < specList.length; i++) {
    const spec = specList[i] ?? {};
    const st = statusList[i];
    const type = str(spec['type']);
    const source = (key: string): Rec => rec(spec[key]);
    const current = (key: string, field: 'averageValue' | 'value'): string => {
      const q = st === undefined ? undefined : path(st, key, 'current', field);
      return q === undefined || q === null ? '<unknown>' : quantity(q);
    };
    switch (type) {
      case 'External':
      case 'Object': {
        const key = type === 'External' ? 'external' : 'object';
        const target = rec(source(key)['target']);
        if (target['averageValue'] !== undefined) {
          list.push(`${current(key, 'averageValue')}/${quantity(target['averageValue'])} (avg)`);
        } else {
          list.push(`${current(key, 'value')}/${quantity(target['value'])}`);
        }
        break;
      }
      case 'Pods':
        list.push(
          `${current('pods', 'averageValue')}/${quantity(path(spec, 'pods', 'target', 'averageValue'))}`,
        );
        break;
      case 'Resource':
      case 'ContainerResource': {
        const key = type === 'Resource' ? 'resource' : 'containerResource';
        const src = source(key);
        const target = rec(src['target']);
        const name = str(src['name']);
        const prefix = type === 'Resource' ? `${name}: ` : `${name}/${str(src['container'])}: `;
        if (target['averageValue'] !== undefined) {
          list.push(`${prefix}${current(key, 'averageValue')}/${quantity(target['averageValue'])}`);
        } else {
          const util = st === undefined ? undefined : path(st, key, 'current', 'averageUtilization');
          const cur = typeof util === 'number' ? `${util}%` : '<unknown>';
          const tgt =
            typeof target['averageUtilization'] === 'number' ? `${target['averageUtilization']}%` : '<auto>';
          list.push(`${prefix}${cur}/${tgt}`);
        }
        break;
      }
      default:
        list.push('<unknown type>');
    }
  }
  const count = list.length;
  if (count > max) return `${list.slice(0, max).join(', ')} + ${count - max} more...`;
  return list.join(', ');
}

const hpaPrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Reference', 'string', 'Reference to the target object.'),
    col('Targets', 'string', 'The metric values currently observed and the targets.'),
    col(
      'MinPods',
      'string',
      'Lower limit for the number of pods that can be set by the autoscaler, default 1.',
    ),
    col('MaxPods', 'string', 'Upper limit for the number of pods that can be set by the autoscaler.'),
    col('Replicas', 'string', 'Current number of replicas of pods managed by this autoscaler.'),
    ageCol,
  ],
  cells(obj, now) {
    const spec = rec(obj.spec);
    const status = rec(obj.status);
    const ref = rec(spec['scaleTargetRef']);
    return [
      obj.metadata.name ?? '',
      `${str(ref['kind'])}/${str(ref['name'])}`,
      formatHpaMetrics(spec['metrics'], status['currentMetrics']),
      typeof spec['minReplicas'] === 'number' ? String(spec['minReplicas']) : '<unset>',
      int(spec['maxReplicas']),
      int(status['currentReplicas']),
      creationAge(obj, now),
    ];
  },
};

const leasePrinter: TablePrinter = {
  columns: [nameCol, col('Holder', 'string', 'Holder of the lease.'), ageCol],
  cells: (obj, now) => [obj.metadata.name ?? '', str(rec(obj.spec)['holderIdentity']), creationAge(obj, now)],
};

const priorityClassPrinter: TablePrinter = {
  columns: [
    nameCol,
    col('Value', 'integer', 'The integer value of this priority class.'),
    col(
      'Global-Default',
      'boolean',
      'Whether this priority class is the default for pods without a priorityClassName.',
    ),
    ageCol,
    col('PreemptionPolicy', 'string', 'Whether pods of this class may preempt pods of lower priority.', 1),
  ],
  cells: (obj, now) => [
    obj.metadata.name ?? '',
    int(obj['value']),
    obj['globalDefault'] === true ? 'true' : 'false',
    creationAge(obj, now),
    str(obj['preemptionPolicy']) || 'PreemptLowerPriority',
  ],
};

const serviceCIDRPrinter: TablePrinter = {
  columns: [
    nameCol,
    col(
      'CIDRs',
      'string',
      'CIDRs defines the IP blocks in CIDR notation (e.g. "192.168.0.0/24" or "2001:db8::/64") from which to assign service cluster IPs. Max of two CIDRs is allowed, one of each IP family. This field is immutable.',
    ),
    ageCol,
  ],
  cells: (obj, now) => [
    obj.metadata.name ?? '',
    arr(rec(obj.spec)['cidrs']).map(str).join(','),
    creationAge(obj, now),
  ],
};

/** autoscaling/v1 Scale (`kubectl get deploy/x --subresource=scale`); its NAME has no `name` format upstream. */
const scalePrinter: TablePrinter = {
  columns: [
    col('Name', 'string', 'Name must be unique within a namespace.'),
    col('Desired', 'integer', 'desired number of instances for the scaled object.'),
    col('Available', 'integer', 'actual number of observed instances of the scaled object.'),
    ageCol,
  ],
  cells: (obj, now) => [
    obj.metadata.name ?? '',
    int(rec(obj.spec)['replicas']),
    int(rec(obj.status)['replicas']),
    creationAge(obj, now),
  ],
};

const defaultPrinter: TablePrinter = {
  columns: [nameCol, ageCol],
  cells: (obj, now) => [obj.metadata.name ?? '', creationAge(obj, now)],
};

const printers: Record<string, TablePrinter> = {
  '/Pod': podPrinter,
  'apps/Deployment': deploymentPrinter,
  'apps/ReplicaSet': replicaSetPrinter,
  '/Service': servicePrinter,
  '/Namespace': namespacePrinter,
  '/ConfigMap': configMapPrinter,
  '/Secret': secretPrinter,
  '/Node': nodePrinter,
  '/Event': eventPrinter,
  'events.k8s.io/Event': eventPrinter,
  '/Endpoints': endpointsPrinter,
  'autoscaling/HorizontalPodAutoscaler': hpaPrinter,
  'discovery.k8s.io/EndpointSlice': endpointSlicePrinter,
  'coordination.k8s.io/Lease': leasePrinter,
  'scheduling.k8s.io/PriorityClass': priorityClassPrinter,
  'networking.k8s.io/ServiceCIDR': serviceCIDRPrinter,
  'autoscaling/Scale': scalePrinter,
};

/** The table printer of a kind (NAME and AGE for kinds without their own). */
export function tablePrinterFor(group: string, kind: string): TablePrinter {
  return printers[`${group}/${kind}`] ?? defaultPrinter;
}
