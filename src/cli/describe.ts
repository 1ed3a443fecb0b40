// `flotilla describe` output: kubectl's layout (tab-aligned `Key:  value` lines, nested sections,
// an `Events:` table at the end). Describers get the object and may read related objects.
import type { ApiClient } from '../api/client/client.js';
import { findByKind, type ResourceInfo } from '../api/resources.js';
import type { KubeObject } from '../api/types.js';
import { lastAppliedAnnotation } from './apply-patch.js';
import {
  age,
  eventTimes,
  formatEndpoints,
  formatLabelSelector,
  formatLabels,
  nodeRoles,
  podSummary,
} from '../api/table/columns.js';
import { tabwrite } from './printers/tabwriter.js';

type Rec = Record<string, unknown>;

function rec(v: unknown): Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {};
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}
function orNone(v: string): string {
  return v === '' ? '<none>' : v;
}

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 1123 with numeric zone, in UTC: `Mon, 02 Jan 2006 15:04:05 +0000` (kubectl's describe format). */
export function formatTime(ts: unknown): string {
  if (typeof ts !== 'string' || ts === '') return '<unset>';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()] ?? ''}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()] ?? ''} ${d.getUTCFullYear()} ${p(
    d.getUTCHours(),
  )}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Lines with kubectl's PrefixWriter levels (two spaces each); cells separated by tabs. */
export class DescribeWriter {
  private readonly lines: string[] = [];

  line(level: number, text: string): void {
    this.lines.push(`${'  '.repeat(level)}${text}`);
  }

  /** `Labels:  a=1` then further labels aligned under the first. */
  multiline(level: number, title: string, values: string[]): void {
    if (values.length === 0) {
      this.line(level, `${title}:\t<none>`);
      return;
    }
    values.forEach((v, i) => this.line(level, i === 0 ? `${title}:\t${v}` : `\t${v}`));
  }

  labels(level: number, title: string, labels: Record<string, string> | undefined): void {
    this.multiline(
      level,
      title,
      Object.keys(labels ?? {})
        .sort()
        .map((k) => `${k}=${labels?.[k] ?? ''}`),
    );
  }

  annotations(level: number, annotations: Record<string, string> | undefined): void {
    this.multiline(
      level,
      'Annotations',
      Object.keys(annotations ?? {})
        .filter((k) => k !== lastAppliedAnnotation)
        .sort()
        .map((k) => {
          const v = annotations?.[k] ?? '';
          return v.length > 140 || v.includes('\n')
            ? `${k}: ${v.replace(/\n/g, ' ').slice(0, 140)}...`
            : `${k}: ${v}`;
        }),
    );
  }

  toString(): string {
    return this.lines.length === 0 ? '' : tabwrite(`${this.lines.join('\n')}\n`, { minWidth: 0, padding: 2 });
  }
}

export interface DescribeContext {
  client: ApiClient;
  now: number;
}

function meta(w: DescribeWriter, obj: KubeObject, info: ResourceInfo, withCreation = false): void {
  w.line(0, `Name:\t${obj.metadata.name ?? ''}`);
  if (info.namespaced) w.line(0, `Namespace:\t${obj.metadata.namespace ?? ''}`);
  if (withCreation) w.line(0, `CreationTimestamp:\t${formatTime(obj.metadata.creationTimestamp)}`);
  w.labels(0, 'Labels', obj.metadata.labels);
  w.annotations(0, obj.metadata.annotations);
}

function controlledBy(w: DescribeWriter, obj: KubeObject): void {
  const owner = (obj.metadata.ownerReferences ?? []).find((o) => o.controller === true);
  if (owner !== undefined) w.line(0, `Controlled By:\t${owner.kind}/${owner.name}`);
}

async function listQuiet(
  ctx: DescribeContext,
  apiVersion: string,
  kind: string,
  namespace: string | undefined,
  opts: { labelSelector?: string; fieldSelector?: string } = {},
): Promise<KubeObject[]> {
  const info = findByKind(apiVersion, kind);
  if (info === undefined) return [];
  try {
    return (await ctx.client.list(info, namespace, opts)).items;
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Containers (pods and pod templates).

function portText(c: Rec): { port: string; hostPort: string } {
  const ports = arr(c['ports']).map(rec);
  if (ports.length === 0) return { port: '<none>', hostPort: '<none>' };
  const proto = (p: Rec): string => str(p['protocol']) || 'TCP';
  return {
    port: ports.map((p) => `${str(p['containerPort'])}/${proto(p)}`).join(', '),
    hostPort: ports.map((p) => `${str(p['hostPort']) || '0'}/${proto(p)}`).join(', '),
  };
}

function probeText(p: Rec): string {
  const httpGet = rec(p['httpGet']);
  const tcp = rec(p['tcpSocket']);
  const exec = rec(p['exec']);
  let what: string;
  if (Object.keys(httpGet).length > 0) {
    what = `http-get ${str(httpGet['scheme']).toLowerCase() || 'http'}://${str(httpGet['host'])}:${str(httpGet['port'])}${str(httpGet['path'])}`;
  } else if (Object.keys(tcp).length > 0) {
    what = `tcp-socket ${str(tcp['host'])}:${str(tcp['port'])}`;
  } else if (Object.keys(exec).length > 0) {
    what = `exec [${arr(exec['command']).map(str).join(' ')}]`;
  } else {
    what = 'unknown';
  }
  const n = (k: string, d: number): string => (typeof p[k] === 'number' ? String(p[k]) : String(d));
  return `${what} delay=${n('initialDelaySeconds', 0)}s timeout=${n('timeoutSeconds', 1)}s period=${n('periodSeconds', 10)}s #success=${n('successThreshold', 1)} #failure=${n('failureThreshold', 3)}`;
}

function stateText(w: DescribeWriter, level: number, title: string, state: Rec): void {
  if (state['running'] !== undefined) {
    w.line(level, `${title}:\tRunning`);
    w.line(level + 1, `Started:\t${formatTime(rec(state['running'])['startedAt'])}`);
  } else if (state['waiting'] !== undefined) {
    const s = rec(state['waiting']);
    w.line(level, `${title}:\tWaiting`);
    if (str(s['reason']) !== '') w.line(level + 1, `Reason:\t${str(s['reason'])}`);
    if (str(s['message']) !== '') w.line(level + 1, `Message:\t${str(s['message'])}`);
  } else if (state['terminated'] !== undefined) {
    const s = rec(state['terminated']);
    w.line(level, `${title}:\tTerminated`);
    if (str(s['reason']) !== '') w.line(level + 1, `Reason:\t${str(s['reason'])}`);
    if (str(s['message']) !== '') w.line(level + 1, `Message:\t${str(s['message'])}`);
    w.line(level + 1, `Exit Code:\t${str(s['exitCode']) || '0'}`);
    if (str(s['signal']) !== '') w.line(level + 1, `Signal:\t${str(s['signal'])}`);
    w.line(level + 1, `Started:\t${formatTime(s['startedAt'])}`);
    w.line(level + 1, `Finished:\t${formatTime(s['finishedAt'])}`);
  } else {
    w.line(level, `${title}:\tWaiting`);
  }
}

function resourceList(w: DescribeWriter, level: number, title: string, list: Rec): void {
  const keys = Object.keys(list).sort();
  if (keys.length === 0) return;
  w.line(level, `${title}:`);
  for (const k of keys) w.line(level + 1, `${k}:\t${str(list[k])}`);
}

function containers(
  w: DescribeWriter,
  level: number,
  title: string,
  specs: unknown,
  statuses: unknown,
): void {
  const list = arr(specs).map(rec);
  if (list.length === 0) return;
  w.line(level, `${title}:`);
  const byName = new Map(arr(statuses).map((s) => [str(rec(s)['name']), rec(s)] as const));
  // kubectl's layout: pod containers at "  name:", template containers at "   name:" with fields at 4.
  const template = level > 0;
  for (const c of list) {
    const name = str(c['name']);
    const st = byName.get(name);
    w.line(template ? 0 : level + 1, template ? `${'  '.repeat(level)} ${name}:` : `${name}:`);
    const l = template ? level + 1 : level + 2;
    if (st !== undefined) w.line(l, `Container ID:\t${str(st['containerID'])}`);
    w.line(l, `Image:\t${str(c['image'])}`);
    if (st !== undefined) w.line(l, `Image ID:\t${str(st['imageID'])}`);
    const ports = portText(c);
    w.line(l, `Port:\t${ports.port}`);
    w.line(l, `Host Port:\t${ports.hostPort}`);
    const command = arr(c['command']).map(str);
    if (command.length > 0) {
      w.line(l, 'Command:');
      for (const x of command) w.line(l + 1, x);
    }
    const args = arr(c['args']).map(str);
    if (args.length > 0) {
      w.line(l, 'Args:');
      for (const x of args) w.line(l + 1, x);
    }
    if (st !== undefined) {
      stateText(w, l, 'State', rec(st['state']));
      if (Object.keys(rec(st['lastState'])).length > 0) stateText(w, l, 'Last State', rec(st['lastState']));
      w.line(l, `Ready:\t${st['ready'] === true ? 'True' : 'False'}`);
      w.line(l, `Restart Count:\t${str(st['restartCount']) || '0'}`);
    }
    const resources = rec(c['resources']);
    resourceList(w, l, 'Limits', rec(resources['limits']));
    resourceList(w, l, 'Requests', rec(resources['requests']));
    for (const [key, label] of [
      ['livenessProbe', 'Liveness'],
      ['readinessProbe', 'Readiness'],
      ['startupProbe', 'Startup'],
    ] as const) {
      if (c[key] !== undefined) w.line(l, `${label}:\t${probeText(rec(c[key]))}`);
    }
    const env = arr(c['env']).map(rec);
    if (env.length === 0) {
      w.line(l, 'Environment:\t<none>');
    } else {
      w.line(l, 'Environment:');
      for (const e of env) {
        const from = rec(e['valueFrom']);
        let value = str(e['value']);
        if (Object.keys(from).length > 0) {
          const ref = Object.entries(from)[0];
          const r = rec(ref?.[1]);
          value = `<set to the key '${str(r['key']) || str(r['fieldPath'])}' of ${ref?.[0] ?? ''} '${str(r['name'])}'>`;
        }
        w.line(l + 1, `${str(e['name'])}:\t${value}`);
      }
    }
    const mounts = arr(c['volumeMounts']).map(rec);
    if (mounts.length === 0) w.line(l, 'Mounts:\t<none>');
    else {
      w.line(l, 'Mounts:');
      for (const m of mounts) {
        w.line(
          l + 1,
          `${str(m['mountPath'])} from ${str(m['name'])} (${m['readOnly'] === true ? 'ro' : 'rw'})`,
        );
      }
    }
  }
}

function volumes(w: DescribeWriter, level: number, specVolumes: unknown): void {
  const list = arr(specVolumes).map(rec);
  if (list.length === 0) {
    w.line(level, 'Volumes:\t<none>');
    return;
  }
  w.line(level, 'Volumes:');
  for (const v of list) {
    w.line(level + 1, `${str(v['name'])}:`);
    const source = Object.entries(v).find(([k]) => k !== 'name');
    if (source === undefined) continue;
    const [type, body] = source;
    w.line(level + 2, `Type:\t${type}`);
    for (const [k, val] of Object.entries(rec(body))) {
      if (typeof val !== 'object')
        w.line(level + 2, `${k[0]?.toUpperCase() ?? ''}${k.slice(1)}:\t${str(val)}`);
    }
  }
}

function conditionsTable(w: DescribeWriter, conditions: unknown, columns: string[]): void {
  const list = arr(conditions).map(rec);
  if (list.length === 0) return;
  w.line(0, 'Conditions:');
  w.line(1, columns.map((c) => c.charAt(0).toUpperCase() + c.slice(1)).join('\t'));
  w.line(1, columns.map((c) => '-'.repeat(c.length)).join('\t'));
  for (const c of list) {
    w.line(1, columns.map((k) => (k.endsWith('Time') ? formatTime(c[k]) : str(c[k]))).join('\t'));
  }
}

function podTemplate(w: DescribeWriter, template: unknown): void {
  const t = rec(template);
  const tmeta = rec(t['metadata']);
  const spec = rec(t['spec']);
  w.line(0, 'Pod Template:');
  w.labels(1, 'Labels', rec(tmeta['labels']) as Record<string, string>);
  if (Object.keys(rec(tmeta['annotations'])).length > 0)
    w.annotations(1, rec(tmeta['annotations']) as Record<string, string>);
  if (str(spec['serviceAccountName']) !== '')
    w.line(1, `Service Account:\t${str(spec['serviceAccountName'])}`);
  containers(w, 1, 'Init Containers', spec['initContainers'], undefined);
  containers(w, 1, 'Containers', spec['containers'], undefined);
  volumes(w, 1, spec['volumes']);
  w.line(1, `Node-Selectors:\t${formatLabels(spec['nodeSelector'])}`);
  w.line(1, `Tolerations:\t${tolerations(spec['tolerations'])}`);
}

function tolerations(list: unknown): string {
  const items = arr(list).map(rec);
  if (items.length === 0) return '<none>';
  return items
    .map((t) => {
      let s = str(t['key']);
      if (str(t['operator']) === 'Exists') s += s === '' ? '' : ' op=Exists';
      else if (str(t['value']) !== '') s += `=${str(t['value'])}`;
      if (str(t['effect']) !== '') s += `:${str(t['effect'])}`;
      if (str(t['tolerationSeconds']) !== '') s += ` for ${str(t['tolerationSeconds'])}s`;
      return s === '' ? 'op=Exists' : s;
    })
    .join('\n\t');
}

// ---------------------------------------------------------------------------------------------
// Per-kind describers.

type Describer = (
  obj: KubeObject,
  info: ResourceInfo,
  ctx: DescribeContext,
  w: DescribeWriter,
) => Promise<void>;

/** The QoS class the kubelet would give a pod (qos.GetPodQOS), for pods whose status lacks it. */
export function podQos(podSpec: unknown): 'BestEffort' | 'Burstable' | 'Guaranteed' {
  const all = [...arr(rec(podSpec)['containers']), ...arr(rec(podSpec)['initContainers'])].map((c) =>
    rec(rec(c)['resources']),
  );
  let any = false;
  let guaranteed = true;
  for (const r of all) {
    const limits = rec(r['limits']);
    const requests = { ...limits, ...rec(r['requests']) };
    if (Object.keys(limits).length > 0 || Object.keys(requests).length > 0) any = true;
    for (const res of ['cpu', 'memory']) {
      if (limits[res] === undefined || str(requests[res]) !== str(limits[res])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

const describePod: Describer = async (pod, _info, ctx, w) => {
  const spec = rec(pod.spec);
  const status = rec(pod.status);
  w.line(0, `Name:\t${pod.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${pod.metadata.namespace ?? ''}`);
  if (typeof spec['priority'] === 'number') w.line(0, `Priority:\t${spec['priority']}`);
  if (str(spec['serviceAccountName']) !== '')
    w.line(0, `Service Account:\t${str(spec['serviceAccountName'])}`);
  const node = str(spec['nodeName']);
  w.line(0, `Node:\t${node === '' ? '<none>' : `${node}/${str(status['hostIP'])}`}`);
  if (status['startTime'] !== undefined) w.line(0, `Start Time:\t${formatTime(status['startTime'])}`);
  w.labels(0, 'Labels', pod.metadata.labels);
  w.annotations(0, pod.metadata.annotations);
  const s = podSummary(pod, ctx.now);
  w.line(
    0,
    `Status:\t${pod.metadata.deletionTimestamp !== undefined ? `Terminating (lasts ${age(pod.metadata.deletionTimestamp, ctx.now)})` : str(status['phase'])}`,
  );
  if (s.status !== str(status['phase']) && pod.metadata.deletionTimestamp === undefined)
    w.line(0, `Reason:\t${s.status}`);
  if (str(status['message']) !== '') w.line(0, `Message:\t${str(status['message'])}`);
  w.line(0, `IP:\t${str(status['podIP'])}`);
  const ips = arr(status['podIPs']).map((x) => str(rec(x)['ip']));
  if (ips.length === 0) w.line(0, 'IPs:\t<none>');
  else {
    w.line(0, 'IPs:');
    for (const ip of ips) w.line(1, `IP:\t${ip}`);
  }
  controlledBy(w, pod);
  containers(w, 0, 'Init Containers', spec['initContainers'], status['initContainerStatuses']);
  containers(w, 0, 'Containers', spec['containers'], status['containerStatuses']);
  const conds = arr(status['conditions']).map(rec);
  if (conds.length > 0) {
    w.line(0, 'Conditions:');
    w.line(1, 'Type\tStatus');
    for (const c of conds) w.line(1, `${str(c['type'])} \t${str(c['status'])} `);
  }
  volumes(w, 0, spec['volumes']);
  w.line(0, `QoS Class:\t${str(status['qosClass']) || podQos(spec)}`);
  w.line(0, `Node-Selectors:\t${formatLabels(spec['nodeSelector'])}`);
  w.line(0, `Tolerations:\t${tolerations(spec['tolerations'])}`);
};

const describeDeployment: Describer = async (d, info, ctx, w) => {
  const spec = rec(d.spec);
  const status = rec(d.status);
  meta(w, d, info, true);
  w.line(0, `Selector:\t${formatLabelSelector(spec['selector'])}`);
  const desired = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  const n = (k: string): string => str(status[k]) || '0';
  w.line(
    0,
    `Replicas:\t${desired} desired | ${n('updatedReplicas')} updated | ${n('replicas')} total | ${n('availableReplicas')} available | ${n('unavailableReplicas')} unavailable`,
  );
  const strategy = rec(spec['strategy']);
  const type = str(strategy['type']) || 'RollingUpdate';
  w.line(0, `StrategyType:\t${type}`);
  w.line(0, `MinReadySeconds:\t${str(spec['minReadySeconds']) || '0'}`);
  if (type === 'RollingUpdate') {
    const ru = rec(strategy['rollingUpdate']);
    w.line(
      0,
      `RollingUpdateStrategy:\t${str(ru['maxUnavailable']) || '25%'} max unavailable, ${str(ru['maxSurge']) || '25%'} max surge`,
    );
  }
  podTemplate(w, spec['template']);
  conditionsTable(w, status['conditions'], ['type', 'status', 'reason']);
  const owned = (
    await listQuiet(ctx, 'apps/v1', 'ReplicaSet', d.metadata.namespace, {
      labelSelector: formatLabelSelector(spec['selector']),
    })
  ).filter((rs) => (rs.metadata.ownerReferences ?? []).some((o) => o.uid === d.metadata.uid));
  const revision = (rs: KubeObject): number =>
    Number(rs.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '0');
  owned.sort((a, b) => revision(b) - revision(a));
  const rsText = (rs: KubeObject): string =>
    `${rs.metadata.name ?? ''} (${str(rec(rs.status)['replicas']) || '0'}/${str(rec(rs.spec)['replicas']) || '0'} replicas created)`;
  const [newest, ...older] = owned;
  const old = older.filter(
    (rs) => Number(rec(rs.spec)['replicas'] ?? 0) > 0 || Number(rec(rs.status)['replicas'] ?? 0) > 0,
  );
  w.line(0, `OldReplicaSets:\t${old.length === 0 ? '<none>' : old.map(rsText).join(', ')}`);
  w.line(0, `NewReplicaSet:\t${newest === undefined ? '<none>' : rsText(newest)}`);
};

const describeReplicaSet: Describer = async (rs, _info, ctx, w) => {
  const spec = rec(rs.spec);
  const status = rec(rs.status);
  w.line(0, `Name:\t${rs.metadata.name ?? ''}`);
  w.line(0, `Namespace:\t${rs.metadata.namespace ?? ''}`);
  w.line(0, `Selector:\t${formatLabelSelector(spec['selector'])}`);
  w.labels(0, 'Labels', rs.metadata.labels);
  w.annotations(0, rs.metadata.annotations);
  controlledBy(w, rs);
  const desired = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
  w.line(0, `Replicas:\t${str(status['replicas']) || '0'} current / ${desired} desired`);
  const pods = (
    await listQuiet(ctx, 'v1', 'Pod', rs.metadata.namespace, {
      labelSelector: formatLabelSelector(spec['selector']),
    })
  ).filter((p) => (p.metadata.ownerReferences ?? []).some((o) => o.uid === rs.metadata.uid));
  const phase = (ph: string): number => pods.filter((p) => str(rec(p.status)['phase']) === ph).length;
  w.line(
    0,
    `Pods Status:\t${phase('Running')} Running / ${phase('Pending')} Waiting / ${phase('Succeeded')} Succeeded / ${phase('Failed')} Failed`,
  );
  podTemplate(w, spec['template']);
  conditionsTable(w, status['conditions'], ['type', 'status', 'reason']);
};

const describeService: Describer = async (svc, info, ctx, w) => {
  const spec = rec(svc.spec);
  meta(w, svc, info);
  w.line(0, `Selector:\t${formatLabels(spec['selector'])}`);
  w.line(0, `Type:\t${str(spec['type']) || 'ClusterIP'}`);
  const families = arr(spec['ipFamilies']).map(str);
  if (str(spec['ipFamilyPolicy']) !== '') w.line(0, `IP Family Policy:\t${str(spec['ipFamilyPolicy'])}`);
  w.line(0, `IP Families:\t${orNone(families.join(','))}`);
  w.line(0, `IP:\t${str(spec['clusterIP'])}`);
  w.line(0, `IPs:\t${orNone(arr(spec['clusterIPs']).map(str).join(','))}`);
  const externalIPs = arr(spec['externalIPs']).map(str);
  if (externalIPs.length > 0) w.line(0, `External IPs:\t${externalIPs.join(',')}`);
  if (str(spec['type']) === 'ExternalName') w.line(0, `External Name:\t${str(spec['externalName'])}`);
  const slices = await listQuiet(ctx, 'discovery.k8s.io/v1', 'EndpointSlice', svc.metadata.namespace, {
    labelSelector: `kubernetes.io/service-name=${svc.metadata.name ?? ''}`,
  });
  for (const p of arr(spec['ports']).map(rec)) {
    const name = str(p['name']) || '<unset>';
    const proto = str(p['protocol']) || 'TCP';
    w.line(0, `Port:\t${name}\t${str(p['port'])}/${proto}`);
    const target = str(p['targetPort']) || str(p['port']);
    w.line(0, `TargetPort:\t${target}/${proto}`);
    if (str(p['nodePort']) !== '') w.line(0, `NodePort:\t${name}\t${str(p['nodePort'])}/${proto}`);
    const addrs: string[] = [];
    for (const s of slices) {
      const sp = arr(s['ports'])
        .map(rec)
        .find((x) => str(x['name']) === str(p['name']));
      if (sp === undefined) continue;
      for (const e of arr(s['endpoints']).map(rec)) {
        if (rec(e['conditions'])['ready'] === false) continue;
        for (const a of arr(e['addresses']))
          addrs.push(`${str(a).includes(':') ? `[${str(a)}]` : str(a)}:${str(sp['port'])}`);
      }
    }
    w.line(0, `Endpoints:\t${orNone(addrs.join(','))}`);
  }
  if (arr(spec['ports']).length === 0) w.line(0, `Port:\t<none>`);
  w.line(0, `Session Affinity:\t${str(spec['sessionAffinity']) || 'None'}`);
  const lb = arr(rec(rec(svc.status)['loadBalancer'])['ingress']).map(
    (i) => str(rec(i)['ip']) || str(rec(i)['hostname']),
  );
  if (lb.length > 0) w.line(0, `LoadBalancer Ingress:\t${lb.join(', ')}`);
};

const describeNode: Describer = async (node, _info, ctx, w) => {
  const spec = rec(node.spec);
  const status = rec(node.status);
  w.line(0, `Name:\t${node.metadata.name ?? ''}`);
  w.line(0, `Roles:\t${orNone(nodeRoles(node).join(','))}`);
  w.labels(0, 'Labels', node.metadata.labels);
  w.annotations(0, node.metadata.annotations);
  w.line(0, `CreationTimestamp:\t${formatTime(node.metadata.creationTimestamp)}`);
  const taints = arr(spec['taints']).map(rec);
  w.multiline(
    0,
    'Taints',
    taints.map(
      (t) => `${str(t['key'])}${str(t['value']) !== '' ? `=${str(t['value'])}` : ''}:${str(t['effect'])}`,
    ),
  );
  w.line(0, `Unschedulable:\t${spec['unschedulable'] === true ? 'true' : 'false'}`);
  conditionsTable(w, status['conditions'], [
    'type',
    'status',
    'lastHeartbeatTime',
    'lastTransitionTime',
    'reason',
    'message',
  ]);
  const addresses = arr(status['addresses']).map(rec);
  w.line(0, 'Addresses:');
  for (const a of addresses) w.line(1, `${str(a['type'])}:\t${str(a['address'])}`);
  resourceList(w, 0, 'Capacity', rec(status['capacity']));
  resourceList(w, 0, 'Allocatable', rec(status['allocatable']));
  const ni = rec(status['nodeInfo']);
  w.line(0, 'System Info:');
  for (const [k, label] of [
    ['machineID', 'Machine ID'],
    ['systemUUID', 'System UUID'],
    ['bootID', 'Boot ID'],
    ['kernelVersion', 'Kernel Version'],
    ['osImage', 'OS Image'],
    ['operatingSystem', 'Operating System'],
    ['architecture', 'Architecture'],
    ['containerRuntimeVersion', 'Container Runtime Version'],
    ['kubeletVersion', 'Kubelet Version'],
  ] as const) {
    w.line(1, `${label}:\t${str(ni[k])}`);
  }
  if (str(spec['podCIDR']) !== '') w.line(0, `PodCIDR:\t${str(spec['podCIDR'])}`);
  const cidrs = arr(spec['podCIDRs']).map(str);
  if (cidrs.length > 0) w.line(0, `PodCIDRs:\t${cidrs.join(',')}`);
  const pods = (
    await listQuiet(ctx, 'v1', 'Pod', undefined, {
      fieldSelector: `spec.nodeName=${node.metadata.name ?? ''}`,
    })
  ).filter((p) => !['Succeeded', 'Failed'].includes(str(rec(p.status)['phase'])));
  w.line(0, `Non-terminated Pods:\t(${pods.length} in total)`);
  if (pods.length > 0) {
    w.line(1, 'Namespace\tName\tAge');
    w.line(1, '---------\t----\t---');
    for (const p of pods)
      w.line(
        1,
        `${p.metadata.namespace ?? ''}\t${p.metadata.name ?? ''}\t${age(p.metadata.creationTimestamp, ctx.now)}`,
      );
  }
};

const describeNamespace: Describer = async (ns, info, _ctx, w) => {
  meta(w, ns, info);
  w.line(0, `Status:\t${str(rec(ns.status)['phase'])}`);
  w.line(0, '');
  w.line(0, 'No resource quota.');
  w.line(0, '');
  w.line(0, 'No LimitRange resource.');
};

const describeConfigMap: Describer = async (cm, info, _ctx, w) => {
  meta(w, cm, info);
  w.line(0, '');
  w.line(0, 'Data');
  w.line(0, '====');
  for (const [k, v] of Object.entries(rec(cm['data'])).sort(([a], [b]) => (a < b ? -1 : 1))) {
    w.line(0, `${k}:`);
    w.line(0, '----');
    for (const l of str(v).replace(/\n$/, '').split('\n')) w.line(0, l);
    w.line(0, '');
  }
  w.line(0, '');
  w.line(0, 'BinaryData');
  w.line(0, '====');
  for (const [k, v] of Object.entries(rec(cm['binaryData']))) {
    w.line(0, `${k}: ${Buffer.from(str(v), 'base64').length} bytes`);
  }
  w.line(0, '');
};

const describeSecret: Describer = async (secret, info, _ctx, w) => {
  meta(w, secret, info);
  w.line(0, '');
  w.line(0, `Type:\t${str(secret['type']) || 'Opaque'}`);
  w.line(0, '');
  w.line(0, 'Data');
  w.line(0, '====');
  for (const [k, v] of Object.entries(rec(secret['data'])).sort(([a], [b]) => (a < b ? -1 : 1))) {
    w.line(0, `${k}:\t${Buffer.from(str(v), 'base64').length} bytes`);
  }
};

const describeHpa: Describer = async (hpa, info, _ctx, w) => {
  const spec = rec(hpa.spec);
  const status = rec(hpa.status);
  meta(w, hpa, info, true);
  const ref = rec(spec['scaleTargetRef']);
  w.line(0, `Reference:\t${str(ref['kind'])}/${str(ref['name'])}`);
  w.line(0, 'Metrics:\t( current / target )');
  const current = arr(status['currentMetrics']).map(rec);
  arr(spec['metrics'])
    .map(rec)
    .forEach((m, i) => {
      const type = str(m['type']);
      const cur = current[i];
      if (type === 'Resource') {
        const r = rec(m['resource']);
        const t = rec(r['target']);
        const c = rec(rec(cur?.['resource'])['current']);
        if (typeof t['averageUtilization'] === 'number') {
          const cv =
            typeof c['averageUtilization'] === 'number'
              ? `${c['averageUtilization']}% (${str(c['averageValue'])})`
              : '<unknown>';
          w.line(
            1,
            `resource ${str(r['name'])} on pods  (as a percentage of request):\t${cv} / ${t['averageUtilization']}%`,
          );
        } else {
          w.line(
            1,
            `resource ${str(r['name'])} on pods:\t${str(c['averageValue']) || '<unknown>'} / ${str(t['averageValue'])}`,
          );
        }
      } else {
        w.line(1, `${type.toLowerCase()} metric:\t${JSON.stringify(cur ?? {})} / ${JSON.stringify(m)}`);
      }
    });
  w.line(0, `Min replicas:\t${typeof spec['minReplicas'] === 'number' ? spec['minReplicas'] : 1}`);
  w.line(0, `Max replicas:\t${str(spec['maxReplicas'])}`);
  w.line(
    0,
    `${str(ref['kind'])} pods:\t${str(status['currentReplicas']) || '0'} current / ${str(status['desiredReplicas']) || '0'} desired`,
  );
  conditionsTable(w, status['conditions'], ['type', 'status', 'reason', 'message']);
};

const describeEndpoints: Describer = async (ep, info, _ctx, w) => {
  meta(w, ep, info);
  w.line(0, `Endpoints:\t${formatEndpoints(ep)}`);
};

function titleCase(key: string): string {
  const spaced = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2');
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** Any field tree as nested `Key:  value` lines (kubectl's describer for kinds it has no code for). */
function generic(w: DescribeWriter, level: number, key: string, value: unknown): void {
  if (Array.isArray(value)) {
    if (value.length === 0) return;
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      w.line(level, `${titleCase(key)}:`);
      for (const v of value) w.line(level + 1, str(v));
      return;
    }
    w.line(level, `${titleCase(key)}:`);
    for (const v of value) {
      const entries = Object.entries(rec(v));
      for (const [k, x] of entries) generic(w, level + 1, k, x);
    }
    return;
  }
  if (typeof value === 'object' && value !== null) {
    w.line(level, `${titleCase(key)}:`);
    for (const [k, v] of Object.entries(value)) generic(w, level + 1, k, v);
    return;
  }
  w.line(level, `${titleCase(key)}:\t${str(value)}`);
}

const describeGeneric: Describer = async (obj, info, _ctx, w) => {
  meta(w, obj, info);
  w.line(0, `API Version:\t${obj.apiVersion}`);
  w.line(0, `Kind:\t${obj.kind}`);
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'metadata') continue;
    generic(w, 0, k, v);
  }
};

const describers: Record<string, Describer> = {
  '/Pod': describePod,
  'apps/Deployment': describeDeployment,
  'apps/ReplicaSet': describeReplicaSet,
  '/Service': describeService,
  '/Node': describeNode,
  '/Namespace': describeNamespace,
  '/ConfigMap': describeConfigMap,
  '/Secret': describeSecret,
  'autoscaling/HorizontalPodAutoscaler': describeHpa,
  '/Endpoints': describeEndpoints,
};

/** The `Events:` section from a list of events about one object. */
export function describeEvents(events: KubeObject[], now: number): string {
  if (events.length === 0) return 'Events:  <none>\n';
  const sorted = [...events].sort((a, b) => {
    const t = (e: KubeObject): number =>
      Date.parse(str(e['lastTimestamp']) || str(e['eventTime']) || str(e['firstTimestamp'])) || 0;
    return t(a) - t(b);
  });
  const w = new DescribeWriter();
  w.line(0, 'Events:');
  w.line(1, 'Type\tReason\tAge\tFrom\tMessage');
  w.line(1, '----\t------\t----\t----\t-------');
  for (const e of sorted) {
    const t = eventTimes(e, now);
    const first =
      typeof e['eventTime'] === 'string' && e['eventTime'] !== '' ? age(e['eventTime'], now) : t.firstSeen;
    const interval = t.count > 1 ? `${t.lastSeen} (x${t.count} over ${first})` : first;
    const source =
      str(rec(e['source'])['component']) || str(e['reportingController']) || str(e['reportingComponent']);
    w.line(1, `${str(e['type'])}\t${str(e['reason'])}\t${interval}\t${source}\t${str(e['message']).trim()}`);
  }
  return w.toString();
}

/** Events about an object, by involvedObject name, namespace and uid. */
export async function eventsFor(
  ctx: DescribeContext,
  obj: KubeObject,
  info: ResourceInfo,
): Promise<KubeObject[]> {
  const parts = [`involvedObject.name=${obj.metadata.name ?? ''}`];
  if (info.namespaced) parts.push(`involvedObject.namespace=${obj.metadata.namespace ?? ''}`);
  if (obj.metadata.uid !== undefined) parts.push(`involvedObject.uid=${obj.metadata.uid}`);
  return listQuiet(ctx, 'v1', 'Event', info.namespaced ? obj.metadata.namespace : undefined, {
    fieldSelector: parts.join(','),
  });
}

/** The whole description of an object, events included. */
export async function describeObject(
  obj: KubeObject,
  info: ResourceInfo,
  ctx: DescribeContext,
): Promise<string> {
  const w = new DescribeWriter();
  const describer = describers[`${info.group}/${info.kind}`] ?? describeGeneric;
  await describer(obj, info, ctx, w);
  if (info.kind === 'Event') return w.toString();
  const events = await eventsFor(ctx, obj, info);
  if (events.length === 0) {
    // Written before the flush, like kubectl: aligned with the lines above it.
    w.line(0, 'Events:\t<none>');
    return w.toString();
  }
  return w.toString() + describeEvents(events, ctx.now);
}
